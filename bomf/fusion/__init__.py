"""Stage 2: fusing the K members of one trajectory.

- ``pool.CheckpointPool``: the members loaded once; ``fuse(w)`` writes sum_k w_k theta_k in place.
- ``objective.FusionObjective``: weights -> val metrics and loss, counted, timed, cached, journaled.
- ``methods``: the one protocol and registry shared by BOMF, its ablations and every baseline.
"""

from .methods import METHODS, FusionResult, MethodSpec, get_method, register_method
from .objective import Evaluation, FusionObjective
from .pool import CheckpointPool

__all__ = ["METHODS", "FusionResult", "MethodSpec", "get_method", "register_method", "Evaluation",
           "FusionObjective", "CheckpointPool"]
