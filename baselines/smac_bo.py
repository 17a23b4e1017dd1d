"""Baseline ``smac_bo``: single-objective BO on the primary val metric, driven by SMAC3.

SMAC's ``BlackBoxFacade`` (a GP surrogate, Sobol initial design) over the same space as BOMF
(x in [0,1]^K, w = x / sum(x)), through its ask/tell interface with cost = -metric. The
members are SMAC's additional initial configurations (their evaluations are known, so free),
the run is seeded, and SMAC writes its run history under the fusion cell's folder.
"""

import logging
import tempfile
from pathlib import Path
from typing import Annotated

from bomf.core.options import Range
from bomf.fusion import FusionResult, register_method
from bomf.fusion.search import pick, simplex_weights


@register_method("smac_bo")
def smac_bo(objective, pool, budget, seed, *, n_init: Annotated[int, Range(1)] | None = None):
    """SMAC3 BlackBoxFacade (GP-BO) on the primary val metric, ask/tell, same space and budget as BOMF."""
    from ConfigSpace import Configuration, ConfigurationSpace, Float
    from smac import BlackBoxFacade, Scenario
    from smac.runhistory.dataclasses import TrialValue

    k = pool.size
    names = [f"x{i:02d}" for i in range(k)]
    space = ConfigurationSpace(seed=seed)
    space.add([Float(n, (0.0, 1.0), default=0.5) for n in names])
    folder = Path(objective.journal.parent if objective.journal else tempfile.mkdtemp()) / "smac"
    members = [Configuration(space, values={n: float(i == j) for j, n in enumerate(names)}) for i in range(k)]
    scenario = Scenario(space, deterministic=True, n_trials=budget + k, seed=seed, output_directory=folder,
                        name="smac_bo")
    design = BlackBoxFacade.get_initial_design(scenario, n_configs=n_init if n_init is not None else k,
                                               additional_configs=members)
    smac = BlackBoxFacade(scenario, target_function=lambda config, seed=0: 0.0, initial_design=design,
                          intensifier=BlackBoxFacade.get_intensifier(scenario, max_config_calls=1),
                          overwrite=True, logging_level=logging.ERROR)
    metric = objective.primary_metric
    evaluations, start, asked = [], objective.n_evaluations, 0
    while objective.n_evaluations - start < budget and asked < 4 * (budget + k):
        info = smac.ask()
        asked += 1
        x = [float(info.config[n]) for n in names]
        ev = objective(simplex_weights(x), x=x)
        evaluations.append(ev)
        smac.tell(info, TrialValue(cost=-ev.metrics[metric]))
    chosen = pick(evaluations, metric, "best_metric")
    return FusionResult(weights=chosen.weights, evaluation=chosen,
                        info={"smac_trials": len(smac.runhistory), "smac_output": str(folder), "asked": asked})
