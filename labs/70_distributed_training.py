"""
Title: Distributed training: one device, mirrored replicas, and 1 vs N workers
Unit: scale
Notes: 004 (mini-batch training, tf.data shuffle/batch/prefetch); issue 6 (tf.distribute)
Description: Trains the Unit II MLP on the embedded digits28 images (read by the tf.data
loader) through dlcourse's one fit() under the strategy chosen with --strategy (default: one
device; mirrored: all local GPUs, the CPU without one; multi-worker: the cluster in TF_CONFIG),
then trains the same model with the same global batch on a 1-worker and an N-worker
MultiWorkerMirroredStrategy cluster of local processes on 127.0.0.1. Reports steps per second and final accuracy of each cluster size,
checks that all workers end with identical weights, and plots the learning curves.
Data parallelism splits every global batch across the workers and all-reduces (sums) their
gradients, so N workers take the same steps as one process; on a 2-core laptop they compete for
the same cores, so expect no speed-up here: the point is the mechanics.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from dlcourse import labkit, plots
from dlcourse.data import make_dataset
from dlcourse.labkit import arg
from dlcourse.training import distributed as dist
from dlcourse.training import fit, time_to
from dlcourse.utils import set_seed

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    epochs: int = arg(10, "epochs of the in-process run", check="positive")
    batch_size: int = arg(
        64, "global batch size (split across replicas and workers)", check="positive"
    )
    learning_rate: float = arg(0.05, "SGD learning rate (momentum 0.9)", check="positive")
    hidden: tuple = arg((128,), "hidden layer sizes of the MLP", check="positive")
    workers: int = arg(
        2, "largest cluster of the 1 vs N workers comparison; 0 = skip it", check="non_negative"
    )
    worker_epochs: int = arg(5, "epochs of each cluster run", check="positive")
    target: float = arg(0.9, "validation accuracy for time-to-accuracy", check=(0, 1))
    n_train: int = arg(0, "first training examples used; 0 = all", check="non_negative")

    # A smoke test: no clusters (real processes), two short in-process epochs on 256 digits.
    QUICK = labkit.quick(epochs=2, worker_epochs=1, n_train=256, workers=0)


def compare_workers(
    counts: Sequence[int] = (1, 2), job: dist.Job | None = None, *, timeout: float = 300.0
) -> list[dict]:
    """Train the same job (same global batch) on 1, 2 ... workers; one row per cluster size.

    Every size runs the distributed loop (``loop="custom"``), so the rows differ only in the
    number of workers. ``steps_per_s`` is global steps per second of epochs 2.. (training and
    validation; TensorFlow start-up and graph tracing excluded); ``wall_s`` includes start-up.
    Each cluster writes into ``<out_dir>/workers<N>``.
    """
    job = (job or dist.Job()).replace(loop="custom")  # one loop for every size
    rows = []
    for n in counts:
        sub = job.replace(out_dir=f"{job.out_dir}/workers{n}")
        start = time.perf_counter()
        results = dist.launch(n, sub, timeout=timeout, quiet=True)
        wall = time.perf_counter() - start
        chief = results[0]
        rows.append(
            {
                "workers": n,
                "steps_per_s": chief["steps_per_s"],
                "train_s": chief["train_s"],
                "wall_s": round(wall, 2),
                "val_accuracy": chief["history"]["val_accuracy"][-1],
                "val_accuracy_curve": chief["history"]["val_accuracy"],
                "iterations": chief["iterations"],
                "identical_weights": same_weights(
                    [Path(sub.out_dir) / f"weights_worker{i}.npz" for i in range(n)]
                ),
            }
        )
    return rows


def same_weights(paths: list[Path]) -> bool:
    """Whether the ``.npz`` weight files of all workers hold bit-identical arrays."""
    arrays = []
    for path in paths:
        with np.load(path) as npz:
            arrays.append([npz[k] for k in npz.files])
    return all(
        all(np.array_equal(a, b) for a, b in zip(arrays[0], other, strict=True))
        for other in arrays[1:]
    )


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)
    set_seed(cfg.seed)
    epochs = cfg.epochs
    # One job description for the in-process run and the clusters: model, data, batch.
    job = dist.Job(
        epochs=cfg.worker_epochs,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        hidden=tuple(cfg.hidden),
        seed=cfg.seed,
        limit=cfg.n_train,
        out_dir=str(out / "clusters"),
    )
    # digits28 from the loader, the same batches the cluster workers read.
    train, val = dist.datasets(job)
    test = make_dataset("digits28", "test", batch_size=cfg.batch_size, shuffle=False, device=None)

    # The in-process run through fit, under --strategy.
    model, history = fit(
        lambda: dist.build_model(job),
        train,
        validation=val,
        epochs=epochs,
        cfg=cfg,
        folder=out,
    )
    _, test_acc = model.evaluate(test, verbose=0)
    metrics: dict = {
        "strategy": cfg.strategy,
        "replicas": model.distribute_strategy.num_replicas_in_sync,
        "epochs": epochs,
        "val_accuracy": history["val_accuracy"][-1],
        "test_accuracy": float(test_acc),
        "time_to_val_accuracy_s": time_to(history, "val_accuracy", cfg.target),
        "train_s": history["time_s"][-1],
    }
    curves = {f"{cfg.strategy}, in-process": history["val_accuracy"]}

    # 1 vs N worker processes: real clusters (quick mode, what the test suite runs, skips them).
    if cfg.workers:
        rows = compare_workers(sorted({1, cfg.workers}), job)
        metrics["workers"] = {
            str(r["workers"]): {k: v for k, v in r.items() if k != "val_accuracy_curve"}
            for r in rows
        }
        for r in rows:
            curves[f"{r['workers']} worker(s)"] = r["val_accuracy_curve"]
        shutil.rmtree(out / "clusters", ignore_errors=True)  # weights/logs of the clusters
    else:
        metrics["workers"] = "skipped (--workers 0, or quick mode)"

    plots.save(
        plots.curves(curves, title="Validation accuracy", ylabel="val_accuracy"),
        out,
        "val_accuracy",
    )
    plots.save(
        plots.curves(
            {"train": history["loss"], "val": history["val_loss"]},
            title="Loss (in-process run)",
            ylabel="loss",
        ),
        out,
        "loss",
    )
    labkit.save_metrics(out, metrics)
    keras.backend.clear_session()
    return metrics


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
