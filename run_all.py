#!/usr/bin/env python
"""Run the benchmark sweep: a suite's cells, then its tables and plots.

    python run_all.py                          # the default suite: offline (real data, MiniLM, CPU)
    python run_all.py --suite smoke            # minutes: the whole pipeline on a few hundred examples
    python run_all.py --suite paper --dry-run  # expand and validate the GPU suite
    python run_all.py --suite my_suite.toml --executor ray --address HEAD:6379
    python run_all.py --tables-only            # regenerate tables and plots from results/runs

Same as ``bomf run SUITE``. Everything is cached and stored per cell: a re-run does only what
is missing.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from bomf.cli import add_run_args
    from bomf.cli import main as bomf_main

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="offline", help="smoke, offline, paper, or a path to a .toml suite")
    add_run_args(parser)
    args, rest = parser.parse_known_args(argv)
    if rest:
        parser.error(f"unrecognised arguments: {' '.join(rest)}")
    forwarded = ["run", args.suite, "--executor", args.executor, "--device", args.device, "--jobs", str(args.jobs)]
    for flag in ("tables_only", "skip_bad_records", "dry_run", "quiet"):
        if getattr(args, flag):
            forwarded.append("--" + flag.replace("_", "-"))
    if args.address:
        forwarded += ["--address", args.address]
    return bomf_main(forwarded)


if __name__ == "__main__":
    sys.exit(main())
