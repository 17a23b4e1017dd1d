"""BO numerics shared by stage 1 (HPO) and stage 2 (fusion): GPs, search spaces, suggestions, Pareto, hypervolume.

- ``gp``: one GP per objective (model list or one batched model), warm-startable, JSON state;
- ``spaces``: where BO's points live (``cube``, ``cube_w``, ``simplex``) and how they become weights;
- ``acquisition``: one BO step (``suggest``) with a recorded fallback, and the older tensor-returning helpers;
- ``pareto``: Pareto fronts, hypervolume, normalisation and reference points.

Example:
    >>> from bomf.bo import sobol_points
    >>> sobol_points(4, 3, seed=0).shape
    torch.Size([4, 3])
"""

from .acquisition import (NO_SIGNAL, Acquisition, Suggestion, constant_columns, suggest, suggest_multi_objective,
                          suggest_single_objective)
from .gp import fit_gp
from .pareto import apply_normalisation, hypervolume, normalise_objectives, pareto_mask, reference_point
from .spaces import SPACES, SearchSpace, get_space, sobol_points

__all__ = ["NO_SIGNAL", "Acquisition", "Suggestion", "constant_columns", "suggest", "suggest_multi_objective",
           "suggest_single_objective", "fit_gp", "apply_normalisation", "hypervolume", "normalise_objectives",
           "pareto_mask", "reference_point", "SPACES", "SearchSpace", "get_space", "sobol_points"]
