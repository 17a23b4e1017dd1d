"""Baseline ``swa``: the trajectory's stochastic-weight-averaging running average.

The trainer keeps ``torch.optim.swa_utils.AveragedModel`` over the member phase (every
optimizer step by default), so SWA averages many more states than the K members.
"""

from bomf.training.checkpoint import load_state
from bomf.models.lora import saved_state
from bomf.fusion import FusionResult, register_method


@register_method("swa", search=False)
def swa(objective, pool, budget, seed):
    """The SWA running average kept by the trainer over the member phase."""
    swa_file = getattr(pool, "swa_file", None)
    if swa_file is None:
        from bomf.core.errors import BomfError

        raise BomfError("this pool has no SWA average; build it from a trajectory (bomf fuse) to use 'swa'")
    state = load_state(swa_file, saved_state(pool.model))
    ev = objective.evaluate_state(state, label="swa")
    return FusionResult(weights=None, evaluation=ev, state_source="swa")
