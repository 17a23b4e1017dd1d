"""Stage 2: fusing the K members of one trajectory, and the pipeline of one fusion cell.

- ``pool.CheckpointPool``: the members loaded once; ``fuse(w)`` writes sum_k w_k theta_k in place.
- ``objective.FusionObjective``: weights -> val metrics and loss, counted, timed, cached, journaled.
- ``methods``: the one protocol and registry shared by BOMF, its ablations and every baseline.
- ``search``: the search loop shared by the BO methods and random search; ``builtin``: BOMF.
- ``pipeline``: trajectory -> pool + val objective -> method -> test, once -> record.

Example:
    >>> from bomf.fusion import get_method
    >>> get_method("uniform_soup").search
    False
"""

from .methods import METHODS, FusionResult, MethodSpec, get_method, register_method
from .objective import Evaluation, FusionObjective
from .pipeline import FusionRequest, prepare_context, run_fusion
from .pool import CheckpointPool

__all__ = ["METHODS", "FusionResult", "MethodSpec", "get_method", "register_method", "Evaluation",
           "FusionObjective", "CheckpointPool", "FusionRequest", "prepare_context", "run_fusion"]
