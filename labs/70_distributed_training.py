"""
Title: Distributed training: one device, mirrored replicas, and 1 vs N workers
Unit: scale
Notes: 004 (mini-batch training, tf.data shuffle/batch/prefetch); issue 6 (tf.distribute)
Lesson: Data parallelism splits every global batch across the workers and sums their gradients,
so the workers stay in lockstep with identical weights and train the same model one process
would, up to float32 rounding; on one small machine it buys no speed, only the mechanics.
Description: Trains the Unit II MLP on the embedded digits28 images (read by the tf.data
loader) through dlcourse's one fit() under the strategy chosen with --strategy (default: one
device; mirrored: all local GPUs, the CPU without one; multi-worker: the cluster in TF_CONFIG),
then trains the same model with the same global batch on a 1-worker and an N-worker
MultiWorkerMirroredStrategy cluster of local processes on 127.0.0.1 (each worker keeps its
slice of the global batches one process would see). Reports steps per second and final
accuracy of each cluster size, checks that all workers end with identical weights and that
they match the 1-worker run, and plots the learning curves.
Data parallelism splits every global batch across the workers and all-reduces (sums) their
gradients, so N workers take the same steps as one process; on a 2-core laptop they compete for
the same cores, so expect no speed-up here: the point is the mechanics.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

import shutil
from dataclasses import dataclass

from dlcourse import labkit, plots
from dlcourse.data import make_dataset
from dlcourse.labkit import arg
from dlcourse.training import distributed as dist
from dlcourse.training import fit, time_to

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


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)
    epochs = cfg.epochs

    # One job description for the in-process run and the clusters: model, data, batch.
    job = dist.Job(
        epochs=cfg.worker_epochs,
        batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        hidden=tuple(cfg.hidden),
        seed=cfg.seed,
        limit=cfg.n_train,
        sharding="data",  # every worker sees one process's global batches
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
    # Each sees the same global batches (DATA sharding), so they should end with the same
    # weights up to float32 rounding: the all-reduce sums N partial gradients, not one.
    rows = dist.compare_workers(sorted({1, cfg.workers}), job) if cfg.workers else []
    metrics["workers"] = {
        str(r["workers"]): {k: v for k, v in r.items() if k not in ("val_accuracy_curve", "weights")}
        for r in rows
    }  # fmt: skip
    for r in rows:
        curves[f"{r['workers']} worker(s)"] = r["val_accuracy_curve"]
    diff = dist.max_weight_difference(rows[0]["weights"], rows[-1]["weights"]) if rows else None
    shutil.rmtree(out / "clusters", ignore_errors=True)  # weights/logs of the clusters

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

    # The claims: the workers stay in lockstep and match one worker; the MLP learns the digits.
    n = cfg.workers
    skipped = {} if rows else {"skipped": "no clusters (--workers 0, or quick mode)"}
    metrics["claims"] = [
        labkit.claim(
            f"All {n} workers end with bit-identical weights (the all-reduce keeps them in sync)",
            bool(rows) and rows[-1]["identical_weights"], needs_defaults=True, **skipped),
        labkit.within(
            f"{n} workers end with the weights of 1 worker (same global batches) within 1e-4",
            diff if rows else float("inf"), 1e-4, needs_defaults=True, **skipped),
        labkit.at_least(
            f"The in-process MLP reaches {cfg.target:.0%} test accuracy on digits28",
            metrics["test_accuracy"], cfg.target, needs_defaults=True),
    ]  # fmt: skip
    labkit.save_metrics(out, metrics)
    return metrics


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
