"""Baseline ``smac_bo``: single-objective BO on the primary val metric, driven by SMAC3.

SMAC's ``BlackBoxFacade`` (a GP surrogate, Sobol initial design) over the same space as BOMF
(x in [0,1]^K, w = x / sum(x)), through its ask/tell interface with cost = -metric. The
members are SMAC's additional initial configurations (their evaluations are known, so free),
the run is seeded, and SMAC writes its run history under the fusion cell's folder.

**Deterministic for a seed, in every process.** SMAC 2.4's local search orders its start points
by iterating a ``set`` of configurations, whose hashes are string hashes (``PYTHONHASHSEED``,
random per process); each start point then draws its neighbourhood seed in that order, so two
processes with the same seed suggested different points. The local search here sorts its start
points by value first (``_ordered_maximizer``), and SMAC's BLAS calls run on one thread (as
BoTorch's do; several threads only slow a 2-core machine and may round differently). A resumed
run re-asks a fresh SMAC (``overwrite=True``), which walks the same path, so the objective's
journal answers every point the killed run evaluated.

Example:
    >>> from bomf.fusion import get_method
    >>> get_method("smac_bo").search
    True
"""

import logging
import tempfile
import time
from pathlib import Path
from typing import Annotated

from threadpoolctl import threadpool_limits

from bomf.core.errors import BomfError
from bomf.core.options import Range
from bomf.fusion import FusionResult, register_method
from bomf.fusion.search import pick, selection_info, simplex_weights, val_examples


def _ordered_maximizer(scenario):
    """BlackBoxFacade's acquisition maximiser, its local search's start points in a fixed order.

    Touches SMAC's private ``_local_search`` and ``_get_init_points_from_previous_configs``
    (present in 2.2 to 2.4; ``pyproject.toml`` pins ``smac<2.5``); a SMAC without them fails
    here in one line rather than silently losing determinism.
    """
    from smac import BlackBoxFacade
    from smac.acquisition.maximizer.local_search import LocalSearch

    if not hasattr(LocalSearch, "_get_init_points_from_previous_configs"):
        raise BomfError("this SMAC version changed its local search; smac_bo needs smac>=2.2,<2.5 to stay deterministic")

    class OrderedLocalSearch(LocalSearch):
        def _get_init_points_from_previous_configs(self, *args, **kwargs):
            points = super()._get_init_points_from_previous_configs(*args, **kwargs)
            return sorted(points, key=lambda c: tuple(c.get_array()))

    maximizer = BlackBoxFacade.get_acquisition_maximizer(scenario)
    if not isinstance(getattr(maximizer, "_local_search", None), LocalSearch):
        raise BomfError("this SMAC version changed its acquisition maximiser; smac_bo needs smac>=2.2,<2.5")
    maximizer._local_search.__class__ = OrderedLocalSearch
    return maximizer


@register_method("smac_bo")
def smac_bo(objective, pool, budget, seed, *, n_init: Annotated[int, Range(1)] | None = None):
    """SMAC3 BlackBoxFacade (GP-BO) on the primary val metric, ask/tell, same space and budget as BOMF."""
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(limits=1):
        folder = Path(objective.journal.parent if objective.journal else tmp) / "smac"
        return _run(objective, pool, budget, seed, n_init, folder)


def _run(objective, pool, budget, seed, n_init, folder):
    from ConfigSpace import Configuration, ConfigurationSpace, Float
    from smac import BlackBoxFacade, Scenario
    from smac.runhistory.dataclasses import TrialValue

    k = pool.size
    names = [f"x{i:02d}" for i in range(k)]
    space = ConfigurationSpace(seed=seed)
    space.add([Float(n, (0.0, 1.0), default=0.5) for n in names])
    members = [Configuration(space, values={n: float(i == j) for j, n in enumerate(names)}) for i in range(k)]
    scenario = Scenario(space, deterministic=True, n_trials=budget + k, seed=seed, output_directory=folder,
                        name="smac_bo")
    design = BlackBoxFacade.get_initial_design(scenario, n_configs=n_init if n_init is not None else k,
                                               additional_configs=members)
    smac = BlackBoxFacade(scenario, target_function=lambda config, seed=0: 0.0, initial_design=design,
                          acquisition_maximizer=_ordered_maximizer(scenario),
                          intensifier=BlackBoxFacade.get_intensifier(scenario, max_config_calls=1),
                          overwrite=True, logging_level=logging.ERROR)
    metric = objective.primary_metric
    evaluations, start, asked, smac_seconds = [], objective.n_evaluations, 0, 0.0
    while objective.n_evaluations - start < budget and asked < 4 * (budget + k):
        t0 = time.perf_counter()
        info = smac.ask()
        smac_seconds += time.perf_counter() - t0
        asked += 1
        x = [float(info.config[n]) for n in names]
        ev = objective(simplex_weights(x), x=x)
        evaluations.append(ev)
        t0 = time.perf_counter()
        smac.tell(info, TrialValue(cost=-ev.metrics[metric]))
        smac_seconds += time.perf_counter() - t0
    chosen = pick(evaluations, metric, "best_metric")
    return FusionResult(weights=chosen.weights, evaluation=chosen,
                        info={"smac_trials": len(smac.runhistory), "smac_output": folder.name, "asked": asked,
                              "bo_seconds": smac_seconds,
                              "selection": selection_info(evaluations, chosen, metric, val_examples(objective))})
