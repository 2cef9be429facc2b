"""``python -m dlcourse.tuning --tuner coarse-to-fine``: a search on an embedded dataset.

Trials train on the loader's pipelines (cv-grid: k folds cut from them). Prints a results
table and writes results.json and figures into runs/tuning/<tuner>/. Rerunning without
--overwrite resumes an interrupted search (completed trials are kept). A flag that the chosen
tuner does not take (--rounds on random, --folds on anything but cv-grid, --max-trials on
hyperband, ...) is refused with exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from dlcourse import errors, launch
from dlcourse.tuning.factory import DEFAULT_DIRECTORY, TUNERS
from dlcourse.tuning.search import DATASETS
from dlcourse.utils import arg, config_parser, validate_config

# Flags that only some tuners take, as run_search's keywords: passed on only when given.
TUNER_FLAGS = ("max_trials", "rounds", "shrink", "folds", "max_epochs")
_NOT_GIVEN = object()


@dataclass(frozen=True)
class SearchConfig:
    tuner: str = arg("coarse-to-fine", "search algorithm", choices=TUNERS)
    dataset: str = arg("digits", "embedded dataset (loader pipelines)", choices=DATASETS)
    max_trials: int = arg(
        20, "trial budget (grid tuners: the full grid unless given; hyperband takes none)"
    )
    epochs: int = arg(10, "training epochs per trial", check="positive")
    seed: int = arg(0, "search seed (and the seed of every trial's training)", check="non_negative")
    deterministic: bool = arg(True, "deterministic trials: same seed, same search")
    directory: str = arg(str(DEFAULT_DIRECTORY), "tuning projects folder")
    project_name: str = arg("", "project folder (default: the tuner)")
    overwrite: bool = arg(False, "start afresh instead of resuming")
    rounds: int = arg(0, "coarse-to-fine rounds (unset: 3, or one per 10 trials up to 5)")
    shrink: float = arg(0.5, "coarse-to-fine range shrink factor", check=(0.0, 1.0, "()"))
    folds: int = arg(3, "cv-grid folds", check=(2, 1000, "[]"))
    max_epochs: int = arg(9, "hyperband: the most epochs a trial trains", check=(2, 10_000, "[]"))
    quick: bool = arg(False, "tiny search (smoke test): 3 trials of 1 epoch")


def parser() -> argparse.ArgumentParser:
    return config_parser(SearchConfig, __doc__, prog="python -m dlcourse.tuning")


def parse(argv: Sequence[str] | None) -> tuple[SearchConfig, set[str]]:
    """The config, and the names of the flags given on the command line."""
    p = parser()
    values = vars(p.parse_args(argv))
    # Parse again into a namespace that already holds a marker for every flag: argparse fills
    # in no default there, so a flag still marked was not given on the command line.
    names = [f.name for f in dataclasses.fields(SearchConfig)]
    marked = p.parse_args(argv, namespace=argparse.Namespace(**dict.fromkeys(names, _NOT_GIVEN)))
    given = {name for name in names if getattr(marked, name) is not _NOT_GIVEN}
    cfg = SearchConfig(**values)
    try:
        validate_config(cfg)
    except (TypeError, ValueError) as err:
        raise errors.UsageError(f"{err} (flag --{err.field.replace('_', '-')})") from err
    return cfg, given


def search_kwargs(cfg: SearchConfig, given: set[str]) -> dict:
    """run_search's keywords: every general flag, and the tuner-specific ones that were given."""
    kwargs = {
        f.name: getattr(cfg, f.name)
        for f in dataclasses.fields(cfg)
        if f.name not in TUNER_FLAGS and f.name != "quick"
    }
    kwargs["project_name"] = cfg.project_name or None
    # Only the given ones: a tuner-specific flag left out means that tuner's own default.
    kwargs.update({name: getattr(cfg, name) for name in TUNER_FLAGS if name in given})
    if cfg.quick:
        kwargs["epochs"] = 1
        if cfg.tuner == "hyperband":
            kwargs["max_epochs"] = 2
        else:
            kwargs["max_trials"] = kwargs.get("max_trials", 3)
        if cfg.tuner == "coarse-to-fine":
            kwargs["rounds"] = min(kwargs.get("rounds", 3), kwargs["max_trials"])
    return kwargs


def main(argv: Sequence[str] | None = None) -> dict | None:
    cfg, given = parse(argv)
    from dlcourse.tuning.search import run_search, validate_search

    kwargs = search_kwargs(cfg, given)
    tuner = kwargs.pop("tuner")
    try:  # a flag the tuner does not take, or a bad combination: a usage error naming it
        validate_search(tuner, **{k: v for k, v in kwargs.items() if k in _VALIDATED})
    except ValueError as err:
        flag = getattr(err, "field", None)
        where = f" (flag --{flag.replace('_', '-')})" if flag else ""
        raise errors.UsageError(f"{err}{where}") from err
    worker = launch.role(of="keras_tuner") == "worker"
    return run_search(tuner, report=not worker, **kwargs)


_VALIDATED = ("dataset", "max_trials", "epochs", "seed", *TUNER_FLAGS)


if __name__ == "__main__":
    sys.exit(errors.run_main(main))
