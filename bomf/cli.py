"""The ``bomf`` command line.

Example:
    $ bomf list tasks
    $ bomf trajectory --task rt-polarity --model minilm --seed 0
"""

from __future__ import annotations

import argparse
import sys
import time

from .errors import BomfError


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
    else:
        try:
            from .methods import METHODS
        except ImportError:
            raise BomfError("no fusion methods are available in this version; see the README")
        rows = [(n, m.description) for n, m in METHODS]
        print(tabulate(rows, headers=["method", "description"]))


def add_trajectory_args(p: argparse.ArgumentParser) -> None:
    from .trajectory import TrainConfig

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
    p.add_argument("--limit-train", type=int, default=None, help="cap the train split (default: the task's)")
    p.add_argument("--limit-val", type=int, default=None)
    p.add_argument("--limit-test", type=int, default=None)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])


def request_from_args(args: argparse.Namespace):
    from .tasks import SplitLimits, get_task
    from .models import get_model
    from .trajectory import TrainConfig, TrajectoryRequest

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
    )
    return TrajectoryRequest(task=args.task, model=args.model, seed=args.seed, config=config, limits=limits)


def _cmd_trajectory(args: argparse.Namespace) -> None:
    from tabulate import tabulate

    from .tasks import get_task
    from .trajectory import evaluate_trajectory, load_trajectory, train_trajectory

    request = request_from_args(args)
    task = get_task(request.task)
    cached = load_trajectory(request) is not None
    t0 = time.perf_counter()
    traj = train_trajectory(request, device=args.device, progress=not args.quiet)
    test = evaluate_trajectory(traj, "test", device="cpu" if args.device == "auto" else args.device)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bomf", description="BOMF: Bayesian-optimisation model fusion, and its benchmark")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="list tasks, models or methods")
    p.add_argument("what", choices=["tasks", "models", "methods"])
    p.set_defaults(func=_cmd_list)
    p = sub.add_parser("trajectory", help="fine-tune one trajectory (cached) and print its members' val/test scores")
    add_trajectory_args(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_trajectory)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except BomfError as exc:
        print(f"bomf: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bomf: interrupted; re-run the same command to continue", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
