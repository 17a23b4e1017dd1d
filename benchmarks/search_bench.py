"""BOMF's search against known optima: every method on every landscape, seeds and budgets; regret tables.

Runs each (landscape kind, seed, budget, method) on a fresh objective of ``landscapes.py`` and
records what the method chose, scored on the noise-free truth:

- ``regret``: true primary metric at the landscape's optimum minus at the choice (points, x100);
- ``optimism``: the choice's val metric minus its true metric (points; the winner's curse), beside
  the method's own estimate (``info["selection"]["optimism"]``) where it records one;
- ``evaluations``: fused evaluations spent; ``bo_s``: seconds in BO steps; ``wall_s``: the method's time;
- ``faces``: the share of coordinates of the search's BO suggestions on a face of its domain
  (x_k in {0, 1} in the cube; w_k = 0 on the simplex); ``w_zero``: share of fusion weights exactly 0.

Tables (``--out prefix`` writes ``prefix.json`` and ``prefix.md``): per budget and landscape,
regret mean +- std over seeds; then, pooled over landscapes and seeds, each method's mean regret
and a paired comparison with ``random_search`` and with ``bomf_paper`` (mean difference,
wins/losses over the paired runs, Wilcoxon signed-rank p).

A method is ``name`` or ``name:option=value,option=value`` (a variant with options). Run with:

    python benchmarks/search_bench.py --budgets 16 --seeds 5 --workers 2 --out results/benchmarks/search_quality

Example:
    >>> row = run_one("edge", 5, 0, 4, "uniform_soup")
    >>> row["method"], row["evaluations"], row["regret"] > 0
    ('uniform_soup', 1, True)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from landscapes import KINDS, make_landscape  # noqa: E402

SEARCH_METHODS = ["bomf", "bomf_paper", "bomf_posterior", "bomf_loss_guard", "bomf_soup_start", "bo_loss", "bo_metric",
                  "smac_bo", "random_search"]
BASELINES = ["last", "best", "uniform_soup", "greedy_soup", "learned_soup"]
DEFAULT_METHODS = SEARCH_METHODS + BASELINES
REFERENCES = ("random_search", "bomf_paper")


def parse_method(label: str) -> tuple[str, dict]:
    """``"bomf:space=simplex,num_restarts=4"`` -> ``("bomf", {"space": "simplex", "num_restarts": 4})``."""
    name, _, rest = label.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        options[key] = _value(value)
    return name, options


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


# Registered variants that run bomf's search and differ only in the final pick: the test bed runs
# the search once and replays it from its journal for the others (no refit, BO time accounted).
SAME_SEARCH = {"bomf_posterior": "bomf", "bomf_loss_guard": "bomf"}


def search_key(label: str) -> str:
    """Labels with one key run the same search (the pick rule aside) and can share its journal."""
    name, options = parse_method(label)
    options.pop("pick_rule", None)
    name = SAME_SEARCH.get(name, name)
    return name + ":" + ",".join(f"{k}={v}" for k, v in sorted(options.items()))


def run_one(kind: str, k: int, seed: int, budget: int, label: str, folder: str | None = None) -> dict:
    """One method on one drawn landscape: the row of the tables (``folder``: a journal shared by one search key)."""
    if folder is None:
        with tempfile.TemporaryDirectory() as tmp:
            return run_one(kind, k, seed, budget, label, tmp)
    from bomf.fusion import get_method

    name, options = parse_method(label)
    land = make_landscape(kind, k=k, seed=seed)
    identity = {"kind": kind, "k": k, "seed": seed, "budget": budget, "search": search_key(label)}
    shared = (Path(folder) / "evaluations.jsonl").exists()
    obj, pool = land.objective(journal=Path(folder) / "evaluations.jsonl", identity=identity)
    t0, c0 = time.perf_counter(), time.process_time()
    error = None
    try:
        res = get_method(name).run(obj, pool, budget, seed, **options)
    except Exception as exc:  # noqa: BLE001 - a failing method is a row, not a crash of the table
        error = f"{type(exc).__name__}: {exc}"
        res = None
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    row = {"kind": kind, "k": k, "seed": seed, "budget": budget, "method": label, "evaluations": obj.n_evaluations,
           "wall_s": wall, "cpu_s": cpu, "shared_search": shared, "error": error}
    if res is None:
        return row
    w = res.weights
    truth = land.true_primary(w)
    val = res.evaluation.metrics[land.primary]
    info = res.info or {}
    fused = [e for e in obj.history if e.source == "fused"]
    bo_faces = (info.get("face_share") or {}).get("bo")
    if bo_faces is None and name == "smac_bo":
        xs = [e.x for e in fused if e.x is not None][k:]  # after SMAC's Sobol design of k points
        bo_faces = _mean([sum(v <= 1e-9 or v >= 1 - 1e-9 for v in x) / len(x) for x in xs])
    row.update({
        "weights": [round(v, 6) for v in w],
        "regret": 100 * land.regret(w),
        "optimism": 100 * (val - truth),
        "estimated_optimism": (100 * info["selection"]["optimism"]) if "selection" in info else None,
        "val": val, "truth": truth, "true_loss": float(land.true_loss(w)[0]),
        "bo_s": info.get("bo_seconds"),
        "faces": bo_faces,
        "w_zero": _mean([sum(v == 0.0 for v in e.weights) / len(e.weights) for e in fused]),
        "fallbacks": (info.get("fallbacks") or {}).get("count"),
    })
    return row


def run_group(kind: str, k: int, seed: int, budget: int, labels: list[str]) -> list[dict]:
    """Labels of one search key, in one folder: the first runs the search, the others replay it."""
    with tempfile.TemporaryDirectory() as tmp:
        return [run_one(kind, k, seed, budget, label, tmp) for label in labels]


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _std(values):
    values = [v for v in values if v is not None]
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _wilcoxon(diffs: list[float]) -> float | None:
    nonzero = [d for d in diffs if abs(d) > 1e-12]
    if len(nonzero) < 2:
        return None
    from scipy.stats import wilcoxon

    return float(wilcoxon(nonzero).pvalue)


def paired(rows: list[dict], method: str, reference: str) -> dict | None:
    """Regret of ``method`` minus ``reference`` on the same (kind, seed, budget): mean, wins, losses, p."""
    ref = {(r["kind"], r["seed"], r["budget"]): r["regret"] for r in rows if r["method"] == reference and "regret" in r}
    diffs = [r["regret"] - ref[key] for r in rows if r["method"] == method and "regret" in r
             for key in [(r["kind"], r["seed"], r["budget"])] if key in ref]
    if not diffs or method == reference:
        return None
    return {"mean_diff": sum(diffs) / len(diffs), "wins": sum(d < -1e-9 for d in diffs),
            "losses": sum(d > 1e-9 for d in diffs), "n": len(diffs), "p": _wilcoxon(diffs)}


def summarise(rows: list[dict]) -> dict:
    out = {}
    for budget in sorted({r["budget"] for r in rows}):
        rb = [r for r in rows if r["budget"] == budget]
        methods = list(dict.fromkeys(r["method"] for r in rb))
        kinds = list(dict.fromkeys(r["kind"] for r in rb))
        per_kind = {}
        for kind in kinds:
            per_kind[kind] = {}
            for m in methods:
                rs = [r for r in rb if r["kind"] == kind and r["method"] == m]
                reg = [r.get("regret") for r in rs]
                per_kind[kind][m] = {"regret_mean": _mean(reg), "regret_std": _std(reg), "n": len(rs),
                                     "errors": sum(r["error"] is not None for r in rs),
                                     "optimism_mean": _mean([r.get("optimism") for r in rs]),
                                     "estimated_optimism_mean": _mean([r.get("estimated_optimism") for r in rs])}
        pooled = {}
        for m in methods:
            rs = [r for r in rb if r["method"] == m]
            pooled[m] = {
                "regret_mean": _mean([r.get("regret") for r in rs]),
                "regret_std_over_seeds": _mean([per_kind[kd][m]["regret_std"] for kd in kinds]),
                "optimism_mean": _mean([r.get("optimism") for r in rs]),
                "estimated_optimism_mean": _mean([r.get("estimated_optimism") for r in rs]),
                "evaluations_mean": _mean([r["evaluations"] for r in rs]),
                "bo_s_mean": _mean([r.get("bo_s") for r in rs]),
                "wall_s_mean": _mean([r["wall_s"] for r in rs]),
                "cpu_s_mean": _mean([r["cpu_s"] for r in rs if not r.get("shared_search")]),
                "faces_mean": _mean([r.get("faces") for r in rs]),
                "w_zero_mean": _mean([r.get("w_zero") for r in rs]),
                "fallbacks": sum(r.get("fallbacks") or 0 for r in rs),
                "errors": sum(r["error"] is not None for r in rs),
                **{f"vs_{ref}": paired(rb, m, ref) for ref in REFERENCES},
            }
        out[str(budget)] = {"per_kind": per_kind, "pooled": pooled}
    return out


def _fmt(v, spec=".2f"):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def markdown(summary: dict, config: dict) -> str:
    lines = ["# BOMF's search against known optima (synthetic landscapes)", "",
             f"K = {config['k']}, seeds {config['seeds']}, landscapes: {', '.join(config['kinds'])}. "
             "Regret and optimism in points (x100) of the true primary metric; regret is measured on the "
             "noise-free truth. Generated by `benchmarks/search_bench.py` (see `docs/search.md`).", ""]
    if config.get("resumed"):
        r = config["resumed"]
        lines += [f"Resumed (`--resume`): {r['rows_kept']} rows kept from an earlier invocation, "
                  f"{r['errored_rows_rerun']} rows that had ended in an error computed again.", ""]
    for budget, s in summary.items():
        lines += [f"## Budget {budget}", "", "Pooled over landscapes and seeds. `vs X`: mean regret difference "
                  "(negative = better than X), wins/losses over paired runs, Wilcoxon p. "
                  "`BO s`: seconds in BO steps (replayed steps at their recorded time); `CPU s`: the method's "
                  "process time (a search replayed from a shared journal left out).", ""]
        lines.append("| method | regret | seed std | optimism | est. optimism | evals | BO s | CPU s | faces | "
                     "w=0 | fallbacks | vs random_search | vs bomf_paper |")
        lines.append("|" + "---|" * 13)
        order = sorted(s["pooled"], key=lambda m: s["pooled"][m]["regret_mean"] if s["pooled"][m]["regret_mean"]
                       is not None else 1e9)
        for m in order:
            p = s["pooled"][m]
            cmp = []
            for ref in REFERENCES:
                c = p[f"vs_{ref}"]
                cmp.append("-" if c is None else f"{c['mean_diff']:+.2f} ({c['wins']}/{c['losses']}, p={_fmt(c['p'], '.3f')})")
            err = f" ({p['errors']} errors)" if p["errors"] else ""
            lines.append(f"| {m}{err} | {_fmt(p['regret_mean'])} | {_fmt(p['regret_std_over_seeds'])} | "
                         f"{_fmt(p['optimism_mean'])} | {_fmt(p['estimated_optimism_mean'])} | "
                         f"{_fmt(p['evaluations_mean'], '.1f')} | {_fmt(p['bo_s_mean'], '.1f')} | "
                         f"{_fmt(p['cpu_s_mean'], '.1f')} | {_fmt(p['faces_mean'])} | {_fmt(p['w_zero_mean'])} | "
                         f"{p['fallbacks']} | {cmp[0]} | {cmp[1]} |")
        kinds = list(s["per_kind"])
        lines += ["", f"Regret per landscape (mean +- std over seeds), budget {budget}:", "",
                  "| method | " + " | ".join(kinds) + " |", "|" + "---|" * (len(kinds) + 1)]
        for m in order:
            cells = [f"{_fmt(s['per_kind'][kd][m]['regret_mean'])} +- {_fmt(s['per_kind'][kd][m]['regret_std'])}"
                     for kd in kinds]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def _work(job):
    """One job on one thread; the caller's thread count and warning filters are restored after it,
    so that ``--workers 1`` (run in the calling process, e.g. by a test) leaves no trace behind."""
    import warnings

    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore")
            return run_group(*job)
    finally:
        torch.set_num_threads(threads)


def run(kinds, k, seeds, budgets, methods, workers=1, log=None, done=()) -> list[dict]:
    """Every (kind, seed, budget, method); methods sharing a search key run as one job (see ``search_key``).

    Jobs go seed by seed (every method on every landscape of seed 0 first), so a partial run
    already compares every method; ``done`` rows (from an interrupted run) are kept, not rerun.
    """
    have = {(r["kind"], r["seed"], r["budget"], r["method"]) for r in done}
    groups: dict[str, list[str]] = {}
    for m in methods:
        groups.setdefault(search_key(m), []).append(m)
    jobs = []
    for budget in budgets:
        for seed in seeds:
            for kind in kinds:
                for labels in groups.values():
                    if any((kind, seed, budget, m) not in have for m in labels):
                        jobs.append((kind, k, seed, budget, labels))
    rows = [r for r in done if r["method"] in methods and r["kind"] in kinds and r["seed"] in seeds
            and r["budget"] in budgets]

    def collect(group_rows):
        for row in group_rows:
            rows.append(row)
            if log:
                log(row)

    if workers <= 1:
        for job in jobs:
            collect(_work(job))
    else:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(workers) as pool_:
            for group_rows in pool_.imap_unordered(_work, jobs):
                collect(group_rows)
    order = {(kd, s, b, m): i for i, (b, m, kd, s) in
             enumerate((b, m, kd, s) for b in budgets for m in methods for kd in kinds for s in seeds)}
    rows.sort(key=lambda r: order[(r["kind"], r["seed"], r["budget"], r["method"])])
    return rows


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", nargs="+", default=list(KINDS))
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budgets", type=int, nargs="+", default=[16])
    ap.add_argument("--methods", nargs="+", default=DEFAULT_METHODS)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--out", default=None, help="write <prefix>.json and <prefix>.md")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--replace", action="store_true", help="drop rows of other budgets already in PREFIX.json")
    ap.add_argument("--resume", action="store_true",
                    help="keep the rows an interrupted run left in PREFIX.rows.jsonl and the finished rows of "
                         "PREFIX.json; rows that ended in an error are run again")
    args = ap.parse_args(argv)
    seeds = list(range(args.seeds))
    t0 = time.perf_counter()
    # Rows are appended to PREFIX.rows.jsonl as they finish (deleted at the end); --resume keeps
    # the rows of an interrupted run instead of computing them again.
    partial = Path(args.out).with_suffix(".rows.jsonl") if args.out else None
    done = []
    if partial is not None and partial.exists():
        if args.resume:
            done = [json.loads(line) for line in partial.read_text().splitlines() if line.strip()]
        else:
            partial.unlink()
    finished = Path(args.out).with_suffix(".json") if args.out else None
    if args.resume and finished is not None and finished.exists():
        logged = {(r["kind"], r["seed"], r["budget"], r["method"]) for r in done}
        done += [r for r in json.loads(finished.read_text())["rows"]
                 if r["budget"] in args.budgets and (r["kind"], r["seed"], r["budget"], r["method"]) not in logged]
    # A row that ended in an error (a method that crashed) is computed again, not kept as a result.
    retried = sum(r["error"] is not None for r in done)
    done = [r for r in done if r["error"] is None]

    def log(row):
        if partial is not None:
            partial.parent.mkdir(parents=True, exist_ok=True)
            with open(partial, "a") as fh:
                fh.write(json.dumps(row, sort_keys=True) + "\n")
        if not args.quiet:
            print(f"{row['method']:40s} {row['kind']:17s} s{row['seed']} b{row['budget']} regret "
                  f"{_fmt(row.get('regret'))} bo {_fmt(row.get('bo_s'), '.1f')} s wall {row['wall_s']:.1f} s"
                  + (f" ERROR {row['error']}" if row["error"] else ""), flush=True)

    rows = run(args.kinds, args.k, seeds, args.budgets, args.methods, args.workers, log, done)
    config = {"k": args.k, "seeds": seeds, "budgets": args.budgets, "kinds": args.kinds, "methods": args.methods,
              "workers": args.workers, "wall_s": {str(b): time.perf_counter() - t0 for b in args.budgets},
              "torch": torch.__version__}
    done_ids = {id(d) for d in done}
    kept = sum(id(r) in done_ids for r in rows)  # of this selection (run() drops the others)
    if args.resume and (kept or retried):  # wall_s is this invocation's only: say what an earlier one computed
        config["resumed"] = {"rows_kept": kept, "errored_rows_rerun": retried}
    if args.out and Path(args.out).with_suffix(".json").exists() and not args.replace:
        # Another budget's rows (run separately: --budgets 50) stay in the same tables.
        old = json.loads(Path(args.out).with_suffix(".json").read_text())
        kept = [r for r in old["rows"] if r["budget"] not in args.budgets]
        rows = kept + rows
        config["budgets"] = sorted({r["budget"] for r in rows})
        config["wall_s"] = {**old["config"].get("wall_s", {}), **config["wall_s"]}
    summary = summarise(rows)
    out = {"config": config, "summary": summary, "rows": rows,
           "landscapes": {kd: {s: make_landscape(kd, args.k, s).description for s in seeds} for kd in args.kinds}}
    if args.out:
        prefix = Path(args.out)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        prefix.with_suffix(".json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
        prefix.with_suffix(".md").write_text(markdown(summary, config))
        if partial is not None and partial.exists():
            partial.unlink()
    if not args.quiet:
        print(markdown(summary, config))
        print(f"wall {time.perf_counter() - t0:.0f} s")
    return out


if __name__ == "__main__":
    main()
