"""
Title: Distributed training: one device, mirrored replicas, and 1 vs N workers
Unit: scale
Notes: 004 (mini-batch training, tf.data shuffle/batch/prefetch); issue 6 (tf.distribute)
Description: Trains the Unit II MLP on the embedded digits28 images through dlcourse's one fit()
under the strategy chosen with --strategy (default: one device; mirrored: all local GPUs, the CPU
without one; multi-worker: the cluster in TF_CONFIG), then trains the same model with the same
global batch on a 1-worker and an N-worker MultiWorkerMirroredStrategy cluster of local
processes on 127.0.0.1. Reports steps per second and final accuracy of each cluster size,
checks that all workers end with identical weights, and plots the learning curves.
Data parallelism splits every global batch across the workers and all-reduces (sums) their
gradients, so N workers take the same steps as one process; on a 2-core laptop they compete for
the same cores, so expect no speed-up here: the point is the mechanics.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import keras

from dlcourse import data, labkit, plots
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


def run(cfg: Config, datasets: dict | None = None) -> dict:
    out = labkit.run_dir(cfg, LAB)
    set_seed(cfg.seed)
    splits = (datasets or {}).get("digits28") or data.load("digits28")
    n = 256 if cfg.quick else len(splits["train"].x)
    train = (splits["train"].x[:n] / 255.0, splits["train"].y[:n])
    val = (splits["val"].x / 255.0, splits["val"].y)
    test = splits["test"]
    epochs = 2 if cfg.quick else cfg.epochs
    job = dist.Job(
        epochs=1 if cfg.quick else cfg.worker_epochs,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        hidden=tuple(cfg.hidden),
        seed=cfg.seed,
        out_dir=str(out / "clusters"),
    )

    model, history = fit(
        lambda: dist.build_model(job),
        train,
        validation=val,
        epochs=epochs,
        cfg=cfg,
        folder=out,
        batch_size=cfg.batch_size,
    )
    _, test_acc = model.evaluate(test.x / 255.0, test.y, verbose=0)
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

    # 1 vs N worker processes: real clusters, so quick mode (the test suite) skips them.
    if cfg.workers and not cfg.quick:
        counts = sorted({1, cfg.workers})
        rows = dist.compare_workers(counts, job)
        metrics["workers"] = {
            str(r["workers"]): {k: v for k, v in r.items() if k != "val_accuracy_curve"}
            for r in rows
        }
        for r in rows:
            curves[f"{r['workers']} worker(s)"] = r["val_accuracy_curve"]
        shutil.rmtree(out / "clusters", ignore_errors=True)  # weights/logs of the clusters
    else:
        metrics["workers"] = "skipped (quick mode or --workers 0)"

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
