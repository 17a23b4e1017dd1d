"""Reports regenerated from stored records alone: tables (``tables``), the paired bootstrap
behind their verdicts (``stats``) and the plots (``plots``).

Example:
    >>> from bomf.reports import write_tables
    >>> callable(write_tables)
    True
"""

from .plots import write_plots
from .stats import paired_bootstrap
from .tables import write_tables

__all__ = ["paired_bootstrap", "write_plots", "write_tables"]
