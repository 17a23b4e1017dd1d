"""Task registry. Every module in this package registers its tasks on import.

Example:
    >>> from bomf.tasks import get_task
    >>> get_task("rt-polarity").primary_metric
    'accuracy'
"""

from .base import TASKS, Split, SplitLimits, Splits, Task, carve_val, get_task, register_task

__all__ = ["TASKS", "Split", "SplitLimits", "Splits", "Task", "carve_val", "get_task", "register_task"]
