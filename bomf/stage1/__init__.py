"""Stage 1: choosing the fine-tuning hyperparameters of a trajectory.

``strategies`` (the registry: ``default``, ``bomf`` = GP-BO on the frozen proxy, ``hpbo_full``,
``grid``), ``search`` (search space, journaled trials, GP-BO and grid searches) and
``alignment`` (do proxy and full model rank hyperparameters alike?).

Example:
    >>> from bomf.stage1 import STAGE1
    >>> "bomf" in STAGE1.names()
    True
"""

from .strategies import STAGE1, Stage1Result, get_stage1

__all__ = ["STAGE1", "Stage1Result", "get_stage1"]
