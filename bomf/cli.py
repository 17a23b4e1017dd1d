"""The ``bomf`` command line.

Every command fails in one line with exit status 2 on a problem the user can fix: bad input
(``BomfError``), or a file operation that failed (permission denied, disk full: ``OSError``).
Commands that compute check first that the cache can be written.
Every command takes ``--plugin NAME_OR_FILE`` (repeatable; also ``$BOMF_PLUGINS``) to import
modules that register tasks, models or methods (``bomf.core.plugins``). Results go to stdout;
progress and harness messages to stderr through ``logging`` (``bomf: ...`` lines): progress
bars only when stderr is a terminal, else one plain line per finished cell; ``--quiet`` keeps
warnings and the final summary.

Example:
    $ bomf list tasks
    $ bomf trajectory --task rt-polarity --model minilm --seed 0
    $ bomf run smoke --dry-run
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from .core.errors import BomfError

log = logging.getLogger("bomf")


def version() -> str:
    from importlib import metadata

    try:
        return metadata.version("bomf")
    except metadata.PackageNotFoundError:
        return "unknown (not installed; pip install -e .)"


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars only for a person watching: not with --quiet, not into a file or a pipe."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


class _StderrHandler(logging.Handler):
    """``bomf: message`` on the current stderr, through tqdm so that a live bar is not torn."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:
            self.handleError(record)


def configure_logging(quiet: bool):
    """Route the ``bomf`` loggers to stderr for one command; returns what undoes it."""
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("bomf: %(message)s"))
    before = (log.level, log.propagate)
    log.addHandler(handler)
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False

    def restore() -> None:
        log.removeHandler(handler)
        log.setLevel(before[0])
        log.propagate = before[1]

    return restore


def _cmd_list(args: argparse.Namespace) -> None:
    from tabulate import tabulate

    if args.what == "tasks":
        from .tasks import TASKS

        rows = [(n, t.source, t.kind, ",".join(t.metrics), t.primary_metric, t.description) for n, t in TASKS]
        print(tabulate(rows, headers=["task", "source", "kind", "metrics", "primary", "description"]))
    elif args.what == "models":
        from .models import MODELS

        rows = [(n, s.source, s.params, s.description) for n, s in MODELS]
        print(tabulate(rows, headers=["model", "source", "params", "description"]))
    elif args.what == "stage1":
        from .stage1.strategies import STAGE1

        rows = [(n, s.description, _options_text(s.options)) for n, s in STAGE1]
        print(tabulate(rows, headers=["strategy", "description", "options"]))
    else:
        from .fusion import METHODS

        rows = [(n, "search" if m.search else "fixed", m.description, _options_text(m.options)) for n, m in METHODS]
        print(tabulate(rows, headers=["method", "kind", "description", "options"]))


def _options_text(options: dict) -> str:
    """One line per option: ``name: type and range (default)``, from its declaration."""
    return "\n".join(f"{name}: {opt.describe()}" for name, opt in options.items()) or "-"


def _check_cache_writable() -> None:
    from .core.paths import cache_dir, check_writable

    check_writable(cache_dir(), "cache", "BOMF_CACHE")


def add_trajectory_args(p: argparse.ArgumentParser) -> None:
    from .training.request import TrainConfig

    d = TrainConfig()
    p.add_argument("--task", default="rt-polarity", help="task name (bomf list tasks)")
    p.add_argument("--model", default="minilm", help="model name (bomf list models)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=d.lr, help="learning rate (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--members", type=int, default=d.num_members, help="K fusion members (default %(default)s)")
    p.add_argument("--start-fraction", type=float, default=d.start_fraction)
    p.add_argument("--freeze-layers", type=int, default=0, help="train the frozen-bottom proxy instead")
    p.add_argument("--max-steps", type=int, default=None, help="stop early (smoke runs)")
    p.add_argument("--lora-rank", type=int, default=None,
                   help="generation tasks: LoRA rank (default: the model's; 0 fine-tunes every weight)")
    p.add_argument("--eval-batch-size", type=int, default=d.eval_batch_size)
    p.add_argument("--max-length", type=int, default=None, help="truncate inputs (default: the task's)")
    p.add_argument("--limit-train", type=int, default=None, help="cap the train split (default: the task's)")
    p.add_argument("--limit-val", type=int, default=None)
    p.add_argument("--limit-test", type=int, default=None)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])


def add_precision_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="training precision: auto = bf16 autocast on a GPU with bf16, else float32 "
                        "(fusion scores at the trajectory's precision; weights stay float32)")


def request_from_args(args: argparse.Namespace):
    from .tasks import SplitLimits, get_task
    from .models import get_model
    from .training.request import TrainConfig, TrajectoryRequest

    task = get_task(args.task)
    get_model(args.model)  # reject unknown names before any work
    limits = None
    if any(v is not None for v in (args.limit_train, args.limit_val, args.limit_test)):
        d = task.default_limits
        limits = SplitLimits(
            train=args.limit_train if args.limit_train is not None else d.train,
            val=args.limit_val if args.limit_val is not None else d.val,
            test=args.limit_test if args.limit_test is not None else d.test,
        )
    config = TrainConfig(
        lr=args.lr, batch_size=args.batch_size, epochs=args.epochs, num_members=args.members,
        start_fraction=args.start_fraction, freeze_layers=args.freeze_layers, max_steps=args.max_steps,
        lora_rank=args.lora_rank, eval_batch_size=args.eval_batch_size, max_length=args.max_length,
    )
    return TrajectoryRequest(task=args.task, model=args.model, seed=args.seed, config=config, limits=limits,
                             device=args.device, precision=getattr(args, "precision", "auto"))


def _cmd_trajectory(args: argparse.Namespace) -> None:
    from tabulate import tabulate

    from .core.device import resolve_device
    from .tasks import get_task
    from .training.trajectory import evaluate_trajectory, load_trajectory, train_trajectory

    request = request_from_args(args)
    _check_cache_writable()
    task = get_task(request.task)
    device = resolve_device(args.device)  # --device cuda without a GPU: one line, before any work
    cached = load_trajectory(request) is not None
    t0 = time.perf_counter()
    traj = train_trajectory(request, progress=show_progress(args))
    test = evaluate_trajectory(traj, "test", device=device)
    wall = time.perf_counter() - t0
    m = task.primary_metric
    rows = []
    for member, tres in zip(traj.info["members"], test["members"]):
        v = member["val"]
        rows.append((f"member {member['index']}", member["step"], v["metrics"][m], v["loss"], tres["metrics"][m], tres["loss"]))
    swa = traj.info["swa"]
    rows.append((f"swa ({swa['n_averaged']} states)", f"{swa['start_step']}-{traj.info['total_steps']}",
                 swa["val"]["metrics"][m], swa["val"]["loss"], test["swa"]["metrics"][m], test["swa"]["loss"]))
    print(f"trajectory {traj.info['key']} ({'cached' if cached else 'trained'}) at {traj.folder}")
    print(f"task {request.task} (splits {traj.info['split_sizes']}), model {request.model}, seed {request.seed}")
    print(tabulate(rows, headers=["model", "step", f"val {m}", "val loss", f"test {m}", "test loss"], floatfmt=".4f"))
    c = traj.info["costs"]
    print(f"training: {c['optimizer_steps']} steps, {c['train_seconds']:.1f} s, {c['flops_estimate']:.3g} FLOPs (est.), "
          f"member evals {c['member_eval_seconds']:.1f} s; this command: {wall:.1f} s")


def _parse_option(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise BomfError(f"option {text!r} must look like name=value")
    name, value = text.split("=", 1)
    import json

    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def _cmd_fuse(args: argparse.Namespace) -> None:
    from tabulate import tabulate

    from .core.device import resolve_device
    from .fusion import get_method
    from .fusion.pipeline import FusionRequest, run_fusion
    from .training.trajectory import evaluate_trajectory, train_trajectory

    request = request_from_args(args)
    spec = get_method(args.method)
    given = dict(_parse_option(o) for o in args.option)
    resolved = spec.resolve_options(given, where=f"method {args.method}: --option")
    options = tuple(sorted((k, resolved[k]) for k in given))
    freq = FusionRequest(trajectory=request, method=args.method, budget=args.budget, seed=args.method_seed, options=options)
    _check_cache_writable()
    device = resolve_device(args.device)  # --device cuda without a GPU: one line, before any work
    record = run_fusion(freq, progress=show_progress(args))
    traj = train_trajectory(request)
    test = evaluate_trajectory(traj, "test", device=device)
    m = record["primary_metric"]
    members = traj.info["members"]
    best = max(range(len(members)), key=lambda k: (members[k]["val"]["metrics"][m], -members[k]["val"]["loss"], -k))
    rows = [(f"{args.method}", record["val"]["metrics"][m], record["val"]["loss"], record["test"]["metrics"][m],
             record["test"]["loss"], record["costs"]["fused_evaluations"], record["costs"]["method_seconds"])]
    for label, v, t in (
        (f"best member ({best})", members[best]["val"], test["members"][best]),
        ("last member", members[-1]["val"], test["members"][-1]),
        ("swa", traj.info["swa"]["val"], test["swa"]),
    ):
        rows.append((label, v["metrics"][m], v["loss"], t["metrics"][m], t["loss"], "", ""))
    print(f"fusion {record['key']} of trajectory {traj.info['key']} ({request.task}/{request.model}, seed {request.seed})")
    print(tabulate(rows, headers=["model", f"val {m}", "val loss", f"test {m}", "test loss", "evaluations", "seconds"],
                   floatfmt=".4f"))
    c = record["costs"]
    print(f"cost: {c['fused_evaluations']} fused evaluations ({c['computed_evaluations']} computed now), "
          f"eval {c['eval_seconds']:.1f} s, method overhead {c['overhead_seconds']:.1f} s of {c['method_seconds']:.1f} s")
    front = record["info"].get("pareto_front")
    if front:
        print(f"Pareto front ({len(front)} points, val):")
        print(tabulate([(f["metrics"][m], f["loss"], " ".join(f"{w:.2f}" for w in f["weights"])) for f in front],
                       headers=[m, "loss", "weights"], floatfmt=".4f"))
    if args.weights:
        print("weights:", " ".join(f"{w:.3f}" for w in (record["weights"] or [])))


def regenerate_tables(suite_name: str, store=None, summary: bool = True, skip_bad: bool = False,
                      references: list[str] | None = None) -> list[dict]:
    """Tables and plots of a suite from its records in ``store`` (default: your results).

    Every unusable record (damaged JSON, a record lacking what tables read) is named in one line
    on stderr; then, unless ``skip_bad``, the command fails rather than build tables from part of
    the results. ``references``: the methods every table compares with (the suite's; None: the
    best baseline by val mean)."""
    from .harness.store import ResultStore
    from .reports.plots import write_plots
    from .reports.tables import write_tables

    store = store or ResultStore()
    records, problems = store.scan(suite_name)  # one pass over the records
    if problems and not skip_bad:
        store.records(suite_name)  # raises BadRecordsError, naming each unusable record and the fix
    for line in problems:
        print(f"bomf: {line}; left out of the tables", file=sys.stderr)
    if not records:
        raise BomfError(f"no records for suite '{suite_name}' under {store.suite_folder(suite_name)}; "
                        f"run it first (bomf run {suite_name})")
    tables = write_tables(records, store.suite_folder(suite_name, "tables"), title=f"suite {suite_name}",
                          references=references)
    plots = write_plots(records, store.suite_folder(suite_name, "plots"))
    print(f"{len(records)} records -> {len(tables)} table files in {tables[0].parent}, "
          f"{len(plots)} plots in {plots[0].parent if plots else '-'}")
    if summary:
        print((tables[0].parent / "summary.md").read_text())
    return records


def compare_with_reference(suite_name: str, records: list[dict]) -> None:
    """Print (and write next to your tables) whether your records reproduce the reference's."""
    from .core.atomic import write_text
    from .core.paths import reference_root
    from .harness.store import ResultStore
    from .reports.reproduce import compare_runs, render

    yours, reference = ResultStore(), ResultStore(reference_root())
    if yours.root.resolve() == reference.root.resolve():
        return  # regenerating the reference itself
    ref_records = reference.records(suite_name)
    if not ref_records:
        print(f"No reference results for suite '{suite_name}' under {reference.suite_folder(suite_name)}; "
              f"nothing to compare with (point BOMF_REFERENCE at a clone's results/reference, or make this run "
              f"the reference: bomf promote {suite_name}).")
        return
    text = render(compare_runs(records, ref_records))
    path = yours.suite_folder(suite_name, "tables") / "reproduce.md"
    write_text(path, f"# Your run of suite {suite_name} vs the reference ({reference.suite_folder(suite_name)})\n\n"
                     "yours - reference in the primary test metric over the paired seeds, compared as the tables "
                     "compare methods (test examples resampled by cluster, seed-to-seed variance; docs/statistics.md), "
                     "95% interval; `reproduced within noise` when it contains 0.\n\n" + text)
    print(f"\n## Does your run reproduce the reference? ({len(records)} records vs {len(ref_records)} in "
          f"{reference.suite_folder(suite_name)}; also in {path})\n")
    print(text)


def _print_dry_run(suite, groups, store) -> None:
    from tabulate import tabulate

    from .core.paths import reference_root
    from .fusion.pipeline import cached_record
    from .harness.estimate import CostBook, estimate_cells, format_seconds
    from .harness.run import planned_config
    from .harness.store import ResultStore
    from .training.trajectory import load_trajectory

    book = CostBook.from_stores([store, ResultStore(reference_root())], [suite.name])
    estimates = estimate_cells(
        groups, book, cached_fusion=lambda req: cached_record(req) is not None,
        cached_trajectory=lambda req: load_trajectory(req) is not None,
        stage1_config=planned_config)
    rows = [(e.cell.partition("/")[2].removesuffix(".json"), format_seconds(e.seconds) if e.seconds is not None else "?",
             e.basis) for e in estimates]
    if rows:
        print(tabulate(rows, headers=["cell", "estimate", "from stored records"], disable_numparse=True))
    known = [e.seconds for e in estimates if e.seconds is not None]
    if not estimates:
        print("nothing to run")
    elif known:
        print(f"estimated time: {format_seconds(sum(known))} for {len(known)} of {len(estimates)} cells "
              "(seconds the stored records measured, on the machine that made them)")
    else:
        print(f"no estimate: no stored record of these {len(estimates)} cells (yours or the reference's)")


def _cmd_run(args: argparse.Namespace) -> None:
    from .core.device import resolve_device, torch_threads
    from .harness.executors import get_executor
    from .harness.run import executor_threads, pending_groups, run_suite
    from .harness.store import ResultStore
    from .harness.suite import load_suite

    suite = load_suite(args.suite)  # validated before any compute; run_suite checks the folders
    store = ResultStore()
    if args.tables_only:
        compare_with_reference(suite.name, regenerate_tables(suite.name, store, skip_bad=args.skip_bad_records,
                                                             references=suite.references))
        return
    resolve_device(args.device)  # --device cuda without a GPU: one line, before any work
    kwargs = {"address": args.address} if args.executor == "ray" else {"jobs": args.jobs}
    executor = get_executor(args.executor, **kwargs)
    threads = executor_threads(executor)  # what the cells compute with: CPU keys hold it
    cells = suite.cells()
    groups, skipped = pending_groups(suite, store, args.device, threads=threads)
    print(f"suite {suite.name}: {len(cells)} cells in {len({c.group() for c in cells})} trajectories; "
          f"{skipped} already stored, {sum(len(g) for g in groups)} to run; results in {store.suite_folder(suite.name).parent}")
    if args.dry_run:
        with torch_threads(threads):
            _print_dry_run(suite, groups, store)
        return
    report = run_suite(suite, executor=executor, store=store, device=args.device,
                       progress=show_progress(args))
    others = f", {report.stored_meanwhile} stored meanwhile by another process" if report.stored_meanwhile else ""
    left = f", left {len(report.left)} to another process" if report.left else ""
    cached = f" ({report.from_cache} of them served from the fusion cache)" if report.from_cache else ""
    print(f"computed {report.computed} cells{cached}, skipped {report.skipped}{others}{left}, in {report.seconds:.0f} s")
    if report.left and not store.scan(suite.name)[0]:
        print("no records yet; the process computing them writes the tables when it finishes")
        return
    compare_with_reference(suite.name, regenerate_tables(suite.name, store, skip_bad=args.skip_bad_records,
                                                         references=suite.references))


def _cmd_tables(args: argparse.Namespace) -> None:
    from .core.paths import reference_root
    from .harness.store import ResultStore
    from .harness.suite import load_suite
    from .reports.tables import write_summary_across_suites

    suites = [load_suite(name) for name in args.suite or ["offline"]]
    store = ResultStore(reference_root()) if args.reference else ResultStore()
    records = {}
    for suite in suites:
        records[suite.name] = regenerate_tables(suite.name, store, summary=len(suites) == 1,
                                                skip_bad=args.skip_bad_records, references=suite.references)
        if not args.reference:
            compare_with_reference(suite.name, records[suite.name])
    if len(suites) > 1:  # the summary across suites: every table of every suite named
        written = write_summary_across_suites(records, {s.name: s.references for s in suites}, store.root / "summary")
        print(f"summary across suites {', '.join(s.name for s in suites)} -> {written[0].parent}/summary.md")


def _cmd_promote(args: argparse.Namespace) -> None:
    import shutil

    from .core.paths import reference_root
    from .harness.promote import replace_runs
    from .harness.run import pending_groups
    from .harness.store import ResultStore
    from .harness.suite import load_suite

    suite = load_suite(args.suite)
    yours, reference = ResultStore(), ResultStore(reference_root())
    if yours.root.resolve() == reference.root.resolve():
        raise BomfError(f"your results folder is the reference ({yours.root}); set BOMF_RESULTS to your run's folder")
    why: list[str] = []
    groups, _ = pending_groups(suite, yours, log=why.append, threads="stored")  # complete as it was computed
    missing = sum(len(g) for g in groups)
    if missing:
        first = f" (first reason: {why[0]})" if why else ""
        raise BomfError(f"your run of suite '{suite.name}' is incomplete: {missing} of {len(suite.cells())} cells are "
                        f"not stored under {yours.suite_folder(suite.name)}{first}; finish it (bomf run {args.suite}) "
                        "first, with the cache that run used")
    n = replace_runs(suite.name, yours, reference)
    for part in ("tables", "plots"):  # rebuilt from the new records alone: nothing stale survives
        shutil.rmtree(reference.suite_folder(suite.name, part), ignore_errors=True)
    regenerate_tables(suite.name, reference, summary=False)
    print(f"promoted {n} records of suite '{suite.name}' to the reference {reference.suite_folder(suite.name).parent}; "
          f"review with: git status {reference.suite_folder(suite.name).parent}, then commit")


def _cmd_stage1(args: argparse.Namespace) -> None:
    from tabulate import tabulate

    from .stage1.strategies import get_stage1

    request = request_from_args(args)
    strategy = get_stage1(args.strategy)
    options = dict(_parse_option(o) for o in args.option)
    strategy.resolve_options(options, where=f"stage-1 strategy {args.strategy}: --option")
    _check_cache_writable()
    result = strategy.choose(request.task, request.model, request.seed, request.config, request.limits, **options)
    rows = [(i, f"{t['values']['lr']:.2e}", t["values"]["batch_size"], t["status"], f"{t['score']:.4f}",
             t["optimizer_steps"], f"{t['seconds']:.1f}") for i, t in enumerate(result.info.get("trials", []))]
    if rows:
        print(tabulate(rows, headers=["trial", "lr", "batch", "status", "best val", "steps", "seconds"],
                       disable_numparse=True))
    c = result.costs
    print(f"stage 1 '{args.strategy}' chose lr {result.config.lr:.3g}, batch size {result.config.batch_size} "
          f"(proxy: {result.info.get('freeze_layers', 0)} layers frozen); cost: {c['trials']} trials, "
          f"{c['optimizer_steps']} steps, {c['seconds']:.0f} s, {c['flops_estimate']:.3g} FLOPs (est.)")


def _cmd_align(args: argparse.Namespace) -> None:
    from tabulate import tabulate

    from .stage1.alignment import alignment

    request = request_from_args(args)
    _check_cache_writable()
    res = alignment(request.task, request.model, request.seed, request.config, request.limits, args.lrs,
                    args.batch_sizes, args.proxy_layers)
    rows = [(f"{p['lr']:.1e}", p["batch_size"], f"{a:.4f}", f"{b:.4f}")
            for p, a, b in zip(res["points"], res["proxy_scores"], res["full_scores"])]
    print(tabulate(rows, headers=["lr", "batch", f"proxy ({args.proxy_layers} frozen)", "full"], disable_numparse=True))
    print(f"Spearman(proxy, full) = {res['spearman']:.3f}; proxy cost {res['proxy_seconds']:.0f} s "
          f"({res['proxy_flops']:.3g} FLOPs), full {res['full_seconds']:.0f} s ({res['full_flops']:.3g} FLOPs)")


def add_common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--plugin", action="append", default=[], metavar="NAME_OR_FILE",
                   help="import a module or .py file that registers tasks, models or methods (repeatable; "
                        "also $BOMF_PLUGINS, comma-separated)")


def add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", default="local", choices=["local", "ray"])
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray instance)")
    p.add_argument("--tables-only", action="store_true",
                   help="regenerate your tables and plots from your stored records, and compare with the reference")
    p.add_argument("--skip-bad-records", action="store_true",
                   help="build tables without records that cannot be read or are incomplete (each is still named)")
    p.add_argument("--dry-run", action="store_true",
                   help="validate the suite and list the cells to run with estimated times; run nothing")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--jobs", type=int, default=1,
                   help="local executor: run this many trajectory groups side by side in worker processes, "
                        "sharing the CPU cores and the GPU (default %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress, only warnings and the final summary")


def run_argv(args: argparse.Namespace) -> list[str]:
    """The ``bomf run`` arguments that ``add_run_args`` + ``add_common_args`` parsed (run_all.py forwards them)."""
    argv = ["--executor", args.executor, "--device", args.device, "--jobs", str(args.jobs)]
    argv += [f"--{flag.replace('_', '-')}" for flag in ("tables_only", "skip_bad_records", "dry_run", "quiet")
             if getattr(args, flag)]
    argv += ["--address", args.address] if args.address else []
    for plugin in args.plugin:
        argv += ["--plugin", plugin]
    return argv


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bomf", description="BOMF: Bayesian-optimisation model fusion, and its benchmark")
    parser.add_argument("--version", action="version", version=f"bomf {version()}")
    common = argparse.ArgumentParser(add_help=False)
    add_common_args(common)
    subparsers = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **kwargs) -> argparse.ArgumentParser:  # every command takes the common arguments
        return subparsers.add_parser(name, parents=[common], **kwargs)

    p = command("list", help="list tasks, models, methods (with their options) or stage-1 strategies")
    p.add_argument("what", choices=["tasks", "models", "methods", "stage1"])
    p.set_defaults(func=_cmd_list)
    p = command("trajectory", help="fine-tune one trajectory (cached) and print its members' val/test scores")
    add_trajectory_args(p)
    add_precision_arg(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_trajectory)
    p = command("fuse", help="fuse a (cached) trajectory with a named method; print val/test scores and cost")
    add_trajectory_args(p)
    add_precision_arg(p)
    p.add_argument("--method", default="bomf", help="fusion method (bomf list methods)")
    p.add_argument("--budget", type=int, default=None,
                   help="fused evaluations for search methods, at least 1 (default 5 x K)")
    p.add_argument("--method-seed", type=int, default=None, help="the method's seed (default: --seed)")
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                   help="a method option (repeatable; bomf list methods shows each method's options, types and ranges)")
    p.add_argument("--weights", action="store_true", help="print the chosen weights")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_fuse)
    p = command("stage1", help="run a stage-1 hyperparameter strategy and print its trials and choice")
    add_trajectory_args(p)
    p.add_argument("--strategy", default="bomf", help="default, bomf (proxy BO), hpbo_full, grid")
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                   help="a strategy option (repeatable; bomf list stage1 shows them)")
    p.set_defaults(func=_cmd_stage1)
    p = command("align", help="rank correlation of a (lr, batch) grid's scores on the proxy and the full model")
    add_trajectory_args(p)
    p.add_argument("--lrs", type=float, nargs="+", default=[2e-5, 5e-5, 1e-4, 2e-4])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 32])
    p.add_argument("--proxy-layers", type=int, default=3, help="bottom layers frozen in the proxy")
    p.set_defaults(func=_cmd_align)
    p = command("run", help="run a suite (a name, e.g. smoke or offline, or a .toml path), then write tables and plots")
    p.add_argument("suite", nargs="?", default="offline")
    add_run_args(p)
    p.set_defaults(func=_cmd_run)
    p = command("tables", help="regenerate suites' tables and plots from your stored records and compare them "
                               "with the reference (several suites: also a summary across them)")
    p.add_argument("suite", nargs="*", help="suite names or .toml paths (default: offline)")
    p.add_argument("--reference", action="store_true",
                   help="regenerate the committed reference's tables and plots (results/reference/SUITE) instead")
    p.add_argument("--skip-bad-records", action="store_true",
                   help="build tables without records that cannot be read or are incomplete (each is still named)")
    p.set_defaults(func=_cmd_tables)
    p = command("promote", help="make your complete run of a suite the committed reference "
                                       "(results/reference/SUITE: records, tables, plots)")
    p.add_argument("suite")
    p.set_defaults(func=_cmd_promote)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .core import plugins

    args = build_parser().parse_args(argv)
    restore_logging = configure_logging(getattr(args, "quiet", False))
    try:
        plugins.load(plugins.from_environment() + [plugins.resolve(p) for p in args.plugin])
        args.func(args)
    except BomfError as exc:
        for line in getattr(exc, "problems", ()):
            print(f"bomf: {line}", file=sys.stderr)
        print(f"bomf: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file operation outside the atomic writers (journals, folders): still one line
        from .core.atomic import describe_os_error

        print(f"bomf: error: {describe_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bomf: interrupted; re-run the same command to continue", file=sys.stderr)
        return 130
    finally:
        restore_logging()
    return 0


if __name__ == "__main__":
    sys.exit(main())
