"""Fine-tuning one trajectory: K fusion members and an SWA average, cached by content.

``request`` (what a trajectory is: ``TrainConfig``, ``TrajectoryRequest``, its key and member
schedule), ``build`` (the starting model and the evaluators of its splits), ``trajectory`` (the
training loop and the cache), ``checkpoint`` (safetensors writes and validated loads).

Example:
    >>> from bomf.training import TrainConfig, member_steps
    >>> member_steps(10, 2, 0.5), TrainConfig().num_members
    ([5, 10], 10)
"""

from .build import build_evaluator, build_model
from .checkpoint import load_state, save_state
from .request import TRAINER_VERSION, TrainConfig, TrajectoryRequest, lora_rank, member_steps, with_config
from .trajectory import Trajectory, evaluate_trajectory, load_trajectory, train_trajectory, trajectory_folder

__all__ = ["TRAINER_VERSION", "TrainConfig", "Trajectory", "TrajectoryRequest", "build_evaluator", "build_model",
           "evaluate_trajectory", "load_state", "load_trajectory", "lora_rank", "member_steps", "save_state",
           "train_trajectory", "trajectory_folder", "with_config"]
