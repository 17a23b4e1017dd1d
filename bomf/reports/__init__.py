"""Reports regenerated from stored records alone: tables (``tables``, ``summary``), the
paired comparisons behind their verdicts (``stats``; which records count and which reference
they meet: ``evidence``) and the plots (``plots``). The method is in ``docs/statistics.md``.

Example:
    >>> from bomf.reports import write_tables
    >>> callable(write_tables)
    True
"""

from .plots import write_plots
from .stats import holm, paired_comparison
from .tables import write_tables

__all__ = ["holm", "paired_comparison", "write_plots", "write_tables"]
