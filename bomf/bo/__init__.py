"""BO numerics shared by stage 1 (HPO) and stage 2 (fusion): suggestions, Pareto, hypervolume.

Example:
    >>> from bomf.bo import sobol_points
    >>> sobol_points(4, 3, seed=0).shape
    torch.Size([4, 3])
"""

from .acquisition import sobol_points, suggest_multi_objective, suggest_single_objective
from .pareto import apply_normalisation, hypervolume, normalise_objectives, pareto_mask, reference_point

__all__ = ["sobol_points", "suggest_multi_objective", "suggest_single_objective", "apply_normalisation",
           "hypervolume", "normalise_objectives", "pareto_mask", "reference_point"]
