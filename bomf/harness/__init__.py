"""The harness: a suite -> cells -> records, run by an executor, one process per unit of work.

``suite`` (TOML suites, validated and expanded into cells), ``run`` (groups -> jobs, skip
stored cells, write records), ``claims`` (one process per group and per shared cache entry),
``executors`` (local or Ray) and ``store`` (one atomic JSON record per cell).

Example:
    >>> from bomf.harness import load_suite
    >>> load_suite("smoke").name
    'smoke'
"""

from .executors import get_executor
from .run import pending_groups, run_suite
from .store import ResultStore
from .suite import Cell, Suite, load_suite

__all__ = ["Cell", "ResultStore", "Suite", "get_executor", "load_suite", "pending_groups", "run_suite"]
