"""Small shared builders for tests: a tiny trajectory on real rt-polarity text."""

from bomf.tasks import SplitLimits
from bomf.training.request import TrainConfig, TrajectoryRequest

TINY_LIMITS = SplitLimits(train=96, val=48, test=48)


def tiny_request(seed: int = 0, **config) -> TrajectoryRequest:
    cfg = dict(epochs=1, batch_size=16, num_members=3, lr=1e-3, eval_batch_size=32)
    cfg.update(config)
    return TrajectoryRequest(task="rt-polarity", model="tiny-bert", seed=seed, config=TrainConfig(**cfg), limits=TINY_LIMITS)
