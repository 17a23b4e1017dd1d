"""BOMF's search against known optima: the regret tables of every search method and baseline.

The quality check for every change to the BO: a change (a speed lever included) must not raise
regret beyond the seed noise. Budget 16 is the quick run (about 10 minutes on 2 idle cores with
2 workers); budget 50 is marked ``slow`` and run separately. Both merge their rows into
``results/benchmarks/search_quality.{json,md}``:

    python -m pytest benchmarks/test_bench_search_quality.py --benchmark-only -s -m "not slow"   # budget 16
    python -m pytest benchmarks/test_bench_search_quality.py --benchmark-only -s -m slow         # budget 50

The same from the command line, with more options (methods, kinds, K, workers):
``python benchmarks/search_bench.py --budgets 16 --out results/benchmarks/search_quality``.
"""

import os

import pytest

import search_bench
from sidebyside import RESULTS

WORKERS = int(os.environ.get("BOMF_BENCH_WORKERS", "2"))


def _run(benchmark, budget: int) -> dict:
    out = {}

    def go():
        out["result"] = search_bench.main(["--budgets", str(budget), "--seeds", "5", "--workers", str(WORKERS),
                                           "--out", str(RESULTS / "search_quality"), "--quiet"])

    benchmark.pedantic(go, rounds=1, iterations=1)
    result = out["result"]
    rows = [r for r in result["rows"] if r["budget"] == budget]
    pooled = result["summary"][str(budget)]["pooled"]
    print("\n" + search_bench.markdown({str(budget): result["summary"][str(budget)]}, result["config"]))
    benchmark.extra_info.update({m: p["regret_mean"] for m, p in pooled.items()})
    # Every method ran on every landscape and seed; every search spent its budget without an error.
    assert not [r for r in rows if r["error"]], [r["error"] for r in rows if r["error"]][:3]
    for r in rows:
        if r["method"] in search_bench.SEARCH_METHODS:
            assert r["evaluations"] == budget, r
    return result


def test_search_quality_budget_16(benchmark):
    _run(benchmark, 16)


@pytest.mark.slow
def test_search_quality_budget_50(benchmark):
    _run(benchmark, 50)
