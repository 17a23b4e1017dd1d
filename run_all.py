#!/usr/bin/env python
"""Run the benchmark sweep: compute a suite's cells, write its tables and plots, and say whether
your run reproduces the committed reference.

    python run_all.py                          # the default suite: offline (real data, MiniLM, CPU)
    python run_all.py --suite smoke            # minutes: the whole pipeline on a few hundred examples
    python run_all.py --suite paper --dry-run  # list the GPU suite's cells with estimated times
    python run_all.py --suite my_suite.toml --executor ray --address HEAD:6379
    python run_all.py --tables-only            # rebuild your tables and plots, compare with the reference

Same as ``bomf run SUITE``. Your runs go to ``./bomf-results/<suite>/`` (``$BOMF_RESULTS``);
the reference is ``results/reference/<suite>/``. Everything is cached and stored per cell: a
re-run does only what is missing.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from bomf.cli import add_common_args, add_run_args, run_argv, version
    from bomf.cli import main as bomf_main

    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--suite", default="offline", help="a suite name (smoke, offline, variants, regimes, stage1, generation, search, "
                        "paper: benchmarks/suites/) or a path to a .toml suite")
    parser.add_argument("--version", action="version", version=f"bomf {version()}")
    add_run_args(parser)
    add_common_args(parser)
    args = parser.parse_args(argv)
    return bomf_main(["run", args.suite, *run_argv(args)])


if __name__ == "__main__":
    sys.exit(main())
