"""The code in docs/adding-a-baseline.md really registers and runs, without touching the core."""

import re
from pathlib import Path

import pytest

from bomf.fusion import METHODS
from bomf.fusion.pipeline import FusionRequest, run_fusion

from helpers import tiny_request

DOC = Path(__file__).resolve().parent.parent / "docs" / "adding-a-baseline.md"


@pytest.fixture(scope="module")
def late_soup():
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    namespace = {"__name__": "baselines.late_soup_doc_example"}
    if "late_soup" not in METHODS:
        exec(compile(code, str(DOC), "exec"), namespace)
    return METHODS.get("late_soup")


def test_the_documented_baseline_runs_for_one_task(late_soup):
    assert late_soup.options == {"fraction": 0.5} and late_soup.description.startswith("Uniform average")
    req = tiny_request(seed=0, num_members=4)
    rec = run_fusion(FusionRequest(trajectory=req, method="late_soup"), device="cpu")
    assert rec["weights"] == [0.0, 0.0, 0.5, 0.5] and rec["info"]["members"] == [2, 3]
    rec = run_fusion(FusionRequest(trajectory=req, method="late_soup", options=(("fraction", 0.25),)), device="cpu")
    assert rec["weights"] == [0.0, 0.0, 0.0, 1.0]
