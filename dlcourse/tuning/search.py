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

import keras
import numpy as np

from dlcourse import data, launch, plots, upstream
from dlcourse.tuning.coarse_to_fine import check_count, check_max_trials
from dlcourse.tuning.cv import check_folds
from dlcourse.tuning.factory import (
    DEFAULT_DIRECTORY,
    DEFAULT_TRIALS,
    check_applies,
    check_tuner,
    make_tuner,
)
from dlcourse.tuning.hypermodels import DEFAULT_SPACE, GRID_SPACE, MLPHyperModel, validate_space
from dlcourse.tuning.oracles import raise_if_all_failed
from dlcourse.utils import check_in_range, write_json

DATASETS = ("digits", "digits28", "mnist5k")


def check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise ValueError(
            f"Unknown dataset. Received: dataset={dataset!r}; expected one of {DATASETS}"
        )


def loader_splits(dataset: str = "digits", seed: int = 0) -> dict:
    """The loader's train and validation pipelines of ``dataset``, plus its class count.

    ``{"train": tf.data.Dataset, "val": tf.data.Dataset, "classes": int}``; the training
    pipeline shuffles with ``seed`` (every epoch, reproducibly), batches of 32 (a hypermodel
    with ``batch_size`` in its space rebatches).
    """
    from dlcourse.data import files

    check_dataset(dataset)
    train = data.make_dataset(dataset, "train", batch_size=32, seed=seed, device=None)
    val = data.make_dataset(dataset, "val", batch_size=256, shuffle=False, device=None)
    classes = len(data.Features.from_manifest(files.ensure(dataset)).classes)  # no NumPy load
    return {"train": train, "val": val, "classes": classes}


def cv_pool(dataset: str = "digits") -> dict:
    """Every non-test example of ``dataset`` as one unbatched loader pipeline, for k folds.

    ``{"pool": tf.data.Dataset, "labels": np.ndarray, "classes": int}``: the train and val
    splits in file order (:class:`~dlcourse.tuning.cv.CVTuner` cuts its folds by index);
    ``labels`` is read once from the pipeline, to stratify the folds.
    """
    from dlcourse.data import files

    check_dataset(dataset)
    pool = data.make_dataset(dataset, "train", batch_size=None, shuffle=False, device=None)
    pool = pool.concatenate(
        data.make_dataset(dataset, "val", batch_size=None, shuffle=False, device=None)
    )
    labels = np.fromiter(pool.map(lambda x, y: y).as_numpy_iterator(), dtype=np.int64)
    classes = len(data.Features.from_manifest(files.ensure(dataset)).classes)
    return {"pool": pool, "labels": labels, "classes": classes}


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
    deterministic: bool = True,
    directory: str | Path = DEFAULT_DIRECTORY,
    project_name: str | None = None,
    overwrite: bool = False,
    report: bool = True,
    verbose: int = 1,
    splits: dict | None = None,
    **tuner_kwargs: Any,
) -> dict:
    """Search, report, and return ``{"best": {...}, "trials": [...], "project_dir": ...}``.

    Trials train on the loader's pipelines of ``dataset`` (:func:`loader_splits`; cv-grid
    cuts k folds from :func:`cv_pool`); ``splits`` passes those dicts in instead.
    ``max_trials`` defaults to 20, or the full grid for grid tuners; Hyperband refuses it.
    ``deterministic`` (default) trains every trial deterministically: Keras is seeded with
    ``seed`` before each model is built and TensorFlow's op determinism is on during the
    search, so the same seed picks the same trials. On CPU its cost was within run-to-run
    noise (3 alternating repeats of a 3-trial, 3-epoch search on digits); on a GPU, op
    determinism swaps some kernels for slower deterministic ones.
    ``report=False`` skips the table and figures (workers).
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
    if tuner == "coarse-to-fine" and tuner_kwargs.get("rounds") is not None:
        budget = max_trials or DEFAULT_TRIALS
        if tuner_kwargs["rounds"] > budget:
            raise ValueError(
                f"`rounds` must be <= max_trials ({budget}). "
                f"Received: rounds={tuner_kwargs['rounds']}"
            )
    if deterministic:  # the pipelines' shuffles too: their seeds pair with the global seed
        keras.utils.set_random_seed(seed)
    splits = splits or (cv_pool(dataset) if tuner == "cv-grid" else loader_splits(dataset, seed))
    if tuner == "cv-grid":  # reject folds the data cannot fill before any folder is made
        check_folds(tuner_kwargs.get("folds") or 3, splits["labels"])
        shape = splits["pool"].element_spec[0].shape
    else:
        shape = splits["train"].element_spec[0].shape[1:]
    hypermodel = MLPHyperModel(
        tuple(shape),
        splits["classes"],
        space=default_space(tuner) if space is None else space,
        seed=seed if deterministic else None,
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
    with upstream.op_determinism(deterministic):
        if tuner == "cv-grid":  # the folds validate: cross-validate over all non-test data
            search_in_role(tuner_obj, splits["pool"], epochs=epochs, verbose=0)
        else:
            search_in_role(
                tuner_obj, splits["train"], validation_data=splits["val"], epochs=epochs, verbose=0
            )
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
    check_applies(tuner, max_trials=max_trials, **tuner_kwargs)
    check_dataset(dataset)
    if max_trials is not None:
        check_max_trials(max_trials)
    check_count("epochs", epochs)
    check_count("seed", seed, minimum=0)
    if space is not None:
        validate_space(space)
    for name in ("rounds", "keep", "max_epochs"):
        if tuner_kwargs.get(name) is not None:
            check_count(name, tuner_kwargs[name], minimum=2 if name == "max_epochs" else 1)
    if tuner_kwargs.get("folds") is not None:
        check_count("folds", tuner_kwargs["folds"], minimum=2)
    if tuner_kwargs.get("shrink") is not None:
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
