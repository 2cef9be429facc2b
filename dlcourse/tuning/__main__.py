"""``python -m dlcourse.tuning --tuner coarse-to-fine``: a search on the embedded digits.

Prints a results table and writes results.json and figures into runs/tuning/<tuner>/.
Rerunning without --overwrite resumes an interrupted search (completed trials are kept).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dlcourse import launch
from dlcourse.tuning.factory import DEFAULT_DIRECTORY, TUNERS


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m dlcourse.tuning",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--tuner", default="coarse-to-fine", choices=TUNERS, help="search algorithm")
    p.add_argument("--dataset", default="digits", help="embedded dataset (digits, digits28)")
    p.add_argument(
        "--max-trials",
        type=int,
        default=None,
        help="trial budget (default 20; the full grid for grid tuners)",
    )
    p.add_argument("--epochs", type=int, default=10, help="training epochs per trial")
    p.add_argument("--seed", type=int, default=0, help="search seed")
    p.add_argument("--directory", default=str(DEFAULT_DIRECTORY), help="tuning projects folder")
    p.add_argument("--project-name", default=None, help="project folder (default: the tuner)")
    p.add_argument("--overwrite", action="store_true", help="start afresh instead of resuming")
    p.add_argument("--rounds", type=int, default=None, help="coarse-to-fine rounds (default: auto)")
    p.add_argument("--shrink", type=float, default=0.5, help="coarse-to-fine range shrink factor")
    p.add_argument("--folds", type=int, default=3, help="cv-grid folds")
    p.add_argument("--quick", action="store_true", help="tiny search (smoke test)")
    return p


def main(argv: Sequence[str] | None = None) -> dict | None:
    args = parser().parse_args(argv)
    from dlcourse.tuning.search import run_search

    kwargs = {}
    if args.tuner == "coarse-to-fine":
        kwargs.update(rounds=args.rounds, shrink=args.shrink)
    if args.tuner == "cv-grid":
        kwargs.update(folds=args.folds)
    worker = launch.role(of="keras_tuner") == "worker"
    if args.quick:
        args.max_trials, args.epochs = args.max_trials or 3, 1
        if args.tuner == "coarse-to-fine":
            kwargs["rounds"] = min(args.rounds or 3, args.max_trials)
        if args.tuner == "hyperband":
            kwargs["max_epochs"] = 2
    result = run_search(
        args.tuner,
        dataset=args.dataset,
        max_trials=args.max_trials,
        epochs=args.epochs,
        seed=args.seed,
        directory=args.directory,
        project_name=args.project_name,
        overwrite=args.overwrite,
        report=not worker,
        **kwargs,
    )
    return result


if __name__ == "__main__":
    from dlcourse.errors import run_main

    sys.exit(run_main(main))
