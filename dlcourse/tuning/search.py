"""Run a search end to end on embedded data: the Python API behind ``make tune``.

    from dlcourse.tuning import run_search
    result = run_search("coarse-to-fine", max_trials=12, epochs=5)

Loads the data, builds the :class:`MLPHyperModel`, makes the tuner, searches, then prints a
results table and writes ``results.json`` and figures into the project folder
``runs/tuning/<tuner>/`` (score per trial; for coarse-to-fine also the ranges per round).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dlcourse import data, launch, plots, upstream
from dlcourse.tuning.coarse_to_fine import check_count, check_max_trials
from dlcourse.tuning.cv import check_folds
from dlcourse.tuning.factory import DEFAULT_DIRECTORY, check_tuner, make_tuner
from dlcourse.tuning.hypermodels import DEFAULT_SPACE, GRID_SPACE, MLPHyperModel, validate_space
from dlcourse.tuning.oracles import raise_if_all_failed
from dlcourse.utils import check_in_range, write_json

DATASETS = ("digits", "digits28")


def check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(
            f"Unknown dataset. Received: dataset={dataset!r}; expected one of {DATASETS}"
        )


def prepare(dataset: str = "digits") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Embedded splits scaled to [0, 1] float32: ``{"train": (x, y), "val": ..., "test": ...}``."""
    check_dataset(dataset)
    splits = data.load(dataset)
    return {k: (s.x.astype("float32") / 255.0, s.y) for k, s in splits.items()}


def default_space(tuner: str) -> dict[str, Any]:
    """Grid tuners get the small discrete :data:`GRID_SPACE`, the others the full space."""
    return GRID_SPACE if tuner in ("grid", "cv-grid") else DEFAULT_SPACE


def run_search(
    tuner: str = "coarse-to-fine",
    *,
    dataset: str = "digits",
    max_trials: int | None = None,
    epochs: int = 10,
    space: Mapping[str, Any] | None = None,
    seed: int = 0,
    directory: str | Path = DEFAULT_DIRECTORY,
    project_name: str | None = None,
    overwrite: bool = False,
    report: bool = True,
    verbose: int = 1,
    splits: dict | None = None,
    **tuner_kwargs: Any,
) -> dict:
    """Search, report, and return ``{"best": {...}, "trials": [...], "project_dir": ...}``.

    ``max_trials`` defaults to 20, or the full grid for grid tuners. ``splits`` (from
    :func:`prepare`) skips loading. ``report=False`` skips the table and figures (workers).
    """
    validate_search(
        tuner,
        dataset=dataset,
        max_trials=max_trials,
        epochs=epochs,
        seed=seed,
        space=space,
        **tuner_kwargs,
    )
    if max_trials is None and tuner not in ("grid", "cv-grid"):
        max_trials = 20
    if tuner_kwargs.get("rounds") is not None and tuner_kwargs["rounds"] > max_trials:
        raise ValueError(
            f"`rounds` must be <= max_trials ({max_trials}). Received: rounds={tuner_kwargs['rounds']}"
        )
    splits = splits or prepare(dataset)
    (x, y), (xv, yv) = splits["train"], splits["val"]
    if tuner == "cv-grid":  # reject folds the data cannot fill before any folder is made
        check_folds(tuner_kwargs.get("folds", 3), np.concatenate([y, yv]))
    classes = int(max(y.max(), yv.max())) + 1
    hypermodel = MLPHyperModel(
        x.shape[1:], classes, space=default_space(tuner) if space is None else space
    )
    tuner_obj = make_tuner(
        tuner,
        hypermodel,
        max_trials=max_trials,
        seed=seed,
        directory=directory,
        project_name=project_name,
        overwrite=overwrite,
        **tuner_kwargs,
    )
    if tuner == "cv-grid":  # the folds validate: cross-validate over all non-test data
        search_in_role(
            tuner_obj, np.concatenate([x, xv]), np.concatenate([y, yv]), epochs=epochs, verbose=0
        )
    else:
        search_in_role(tuner_obj, x, y, validation_data=(xv, yv), epochs=epochs, verbose=0)
    if launch.role(of="keras_tuner") == "worker":  # the chief holds the oracle and reports
        return {"worker": os.environ["KERASTUNER_TUNER_ID"]}
    raise_if_all_failed(tuner_obj.oracle)  # (a distributed chief serves; it did not search)
    result = summarize(tuner_obj)
    if report:
        write_report(tuner_obj, result, verbose=verbose)
    return result


def search_in_role(tuner, *args, **kwargs) -> None:
    """``tuner.search`` in every role; a keras-tuner chief serves the oracle instead."""
    if launch.role(of="keras_tuner") != "chief":
        tuner.search(*args, **kwargs)
        return

    def report(port: int) -> None:  # port 0 asked: tell the launcher which port the OS gave
        if os.environ.get(launch.ORACLE_PORT_FILE_ENV):
            write_json(os.environ[launch.ORACLE_PORT_FILE_ENV], {"port": port})

    tuner.save()
    upstream.serve(
        tuner.oracle, int(os.environ.get(launch.TUNING_WORKERS_ENV, "0")), on_listen=report
    )


def validate_search(
    tuner: str,
    *,
    dataset: str = "digits",
    max_trials: int | None = None,
    epochs: int = 10,
    seed: int = 0,
    space: Mapping[str, Any] | None = None,
    **tuner_kwargs: Any,
) -> None:
    """The checks :func:`run_search` runs before any data is loaded or folder made."""
    check_tuner(tuner)
    check_dataset(dataset)
    if max_trials is not None or tuner not in ("grid", "cv-grid"):
        check_max_trials(20 if max_trials is None else max_trials)
    check_count("epochs", epochs)
    check_count("seed", seed, minimum=0)
    if space is not None:
        validate_space(space)
    for name in ("rounds", "keep", "max_epochs"):
        if tuner_kwargs.get(name) is not None:
            check_count(name, tuner_kwargs[name], minimum=2 if name == "max_epochs" else 1)
    if "folds" in tuner_kwargs:
        check_count("folds", tuner_kwargs["folds"], minimum=2)
    if "shrink" in tuner_kwargs:
        check_in_range("shrink", tuner_kwargs["shrink"], 0.0, 1.0, closed="()")


def summarize(tuner) -> dict:
    """Trials (id, status, score, values, extra metrics) and the best one, JSON-ready."""
    oracle = tuner.oracle
    name = oracle.objective.name
    trials = []
    for tid in sorted(oracle.trials):
        t = oracle.trials[tid]
        extra = {
            m: t.metrics.get_last_value(m)
            for m in t.metrics.metrics
            if m != name and t.metrics.get_last_value(m) is not None
        }
        trials.append(
            {
                "trial_id": tid,
                "status": t.status,
                "score": t.score,
                "values": dict(t.hyperparameters.values),
                "metrics": extra,
            }
        )
    done = [t for t in trials if t["status"] == "COMPLETED" and t["score"] is not None]
    pick = max if oracle.objective.direction == "max" else min
    best = pick(done, key=lambda t: t["score"]) if done else None
    result = {
        "objective": name,
        "direction": oracle.objective.direction,
        "best": best,
        "trials": trials,
        "completed": len(done),
        "project_dir": str(tuner.project_dir),
    }
    if hasattr(oracle, "round_log"):
        result["round_log"] = oracle.round_log
    return result


def table(result: dict) -> str:
    """The results as a fixed-width text table, best first."""
    trials = [t for t in result["trials"] if t["score"] is not None]
    trials.sort(key=lambda t: t["score"], reverse=result.get("direction", "max") == "max")
    names = sorted({k for t in trials for k in t["values"]})
    extra = sorted({k for t in trials for k in t["metrics"] if k.endswith("_std")})
    head = ["trial", result["objective"], *extra, *names]
    rows = [
        [
            t["trial_id"],
            f"{t['score']:.4f}",
            *(f"{t['metrics'][e]:.4f}" for e in extra),
            *(_fmt(t["values"].get(n)) for n in names),
        ]
        for t in trials
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths))
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows)])


def write_report(tuner, result: dict, verbose: int = 1) -> Path:
    folder = Path(result["project_dir"])
    write_json(folder / "results.json", result)
    scores = [t["score"] for t in result["trials"]]
    groups = None
    if "round_log" in result:
        firsts = [r["first_trial"] for r in result["round_log"]]
        groups = [sum(int(t["trial_id"]) >= f for f in firsts) - 1 for t in result["trials"]]
    plots.save(
        plots.tuning_scores(
            scores,
            groups=groups,
            title=folder.name,
            ylabel=result["objective"],
            direction=result["direction"],
        ),
        folder,
        "scores",
    )
    if "round_log" in result:
        values = [t["values"] for t in result["trials"]]
        plots.save(plots.c2f_ranges(result["round_log"], values, groups), folder, "ranges")
    if verbose:
        print(table(result))
        if result["best"]:
            print(
                f"\nbest trial {result['best']['trial_id']}: {result['objective']}="
                f"{result['best']['score']:.4f} {result['best']['values']}"
            )
        print(f"results and figures: {folder}")
    return folder


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)
