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
The data-parallel step is also written by hand (the lab's exercises): replica_grads divides each
replica's summed loss by the global batch size, train_by_hand runs it on every replica with
strategy.run under MirroredStrategy and adds the losses up with strategy.reduce; one epoch of it
is compared with Keras's model.fit from the same weights on the same batches (metrics only).
Data parallelism splits every global batch across the workers and all-reduces (sums) their
gradients, so N workers take the same steps as one process; on a 2-core laptop they compete for
the same cores, so expect no speed-up here: the point is the mechanics.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

import shutil
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

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


def replica_grads(model: keras.Model, x, y, global_batch_size):
    """One replica's share of a data-parallel step: its examples' loss and gradients, scaled
    so that the replicas' gradients add up to the mean gradient of the whole global batch."""
    # Sum this replica's per-example losses (keras.losses.sparse_categorical_crossentropy of y
    # and model(x, training=True)) and divide by the GLOBAL batch size with
    # tf.nn.compute_average_loss; take its gradients with respect to model.trainable_variables
    # with tf.GradientTape. Return (loss, gradients).
    ### BEGIN SOLUTION
    with tf.GradientTape() as tape:
        per_example = keras.losses.sparse_categorical_crossentropy(y, model(x, training=True))
        loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
    return loss, tape.gradient(loss, model.trainable_variables)
    ### END SOLUTION


def train_by_hand(strategy: tf.distribute.Strategy, model: keras.Model, dataset) -> list[float]:
    """One epoch of the data-parallel loop by hand: each global batch of ``dataset`` split
    across the replicas of ``strategy`` (``model`` built and compiled in its scope); each
    step's global-batch mean loss."""

    def replica_step(x, y):  # x, y: this replica's slice of the global batch
        n = tf.shape(y, out_type=tf.int64)[0]
        global_n = tf.distribute.get_replica_context().all_reduce("SUM", n)  # short last batch
        loss, grads = replica_grads(model, x, y, global_n)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables))  # sums replicas'
        return loss

    @tf.function
    def step(x, y):  # x, y: the global batch, distributed
        # Run replica_step on every replica's slice with strategy.run, and add the replicas'
        # losses up into the global batch's mean loss with strategy.reduce("SUM", ..., axis=None).
        ### BEGIN SOLUTION
        per_replica = strategy.run(replica_step, args=(x, y))
        return strategy.reduce("SUM", per_replica, axis=None)
        ### END SOLUTION

    return [float(step(x, y)) for x, y in strategy.experimental_distribute_dataset(dataset)]


def by_hand_vs_fit(job: dist.Job) -> dict:
    """The same MLP from the same weights, one epoch on the same batches: by train_by_hand
    under MirroredStrategy (all local GPUs; the CPU without one) and by Keras's model.fit."""
    strategy = tf.distribute.MirroredStrategy()
    keras.utils.set_random_seed(job.seed)
    with strategy.scope():
        model = dist.build_model(job)
    reference = dist.build_model(job)  # one device, Keras's own loop
    reference.set_weights(model.get_weights())
    losses = train_by_hand(strategy, model, dist.datasets(job)[0])
    history = reference.fit(dist.datasets(job)[0], epochs=1, verbose=0).history
    return {
        "replicas": strategy.num_replicas_in_sync,
        "steps": len(losses),
        "mean_loss_by_hand": float(np.mean(losses)),
        "loss_by_fit": float(history["loss"][0]),
        "max_weight_difference_vs_fit": max(float(np.max(np.abs(a - b))) for a, b in
                                            zip(model.get_weights(), reference.get_weights())),
    }  # fmt: skip


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

    # The data-parallel step written by hand (strategy.run, strategy.reduce): one epoch of the
    # same MLP against Keras's model.fit from the same weights on the same batches.
    metrics["by_hand_vs_fit"] = by_hand_vs_fit(job)

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


### BEGIN HIDDEN TESTS
def _fresh_mlp(rng, d: int, classes: int) -> keras.Model:
    """A small fresh softmax MLP on ``d`` inputs (not the lab's)."""
    return keras.Sequential([keras.Input((d,)),
                             keras.layers.Dense(int(rng.integers(3, 17)), activation="tanh"),
                             keras.layers.Dense(classes, activation="softmax")])  # fmt: skip


def check_replica_grads(ns: dict) -> dict:
    """replica_grads on 2-4 uneven slices of a fresh batch sums to the whole batch's gradient."""
    rng = np.random.default_rng()
    d, classes, n, replicas = (int(v) for v in rng.integers((3, 2, 12, 2), (13, 7, 41, 5)))
    model = _fresh_mlp(rng, d, classes)
    x = rng.normal(size=(n, d)).astype("float32")
    y = rng.integers(0, classes, size=n)
    cuts = np.sort(rng.choice(np.arange(1, n), size=replicas - 1, replace=False))
    total_loss, total = 0.0, [np.zeros(v.shape) for v in model.trainable_variables]
    for xs, ys in zip(np.split(x, cuts), np.split(y, cuts)):  # the replicas' slices
        loss, grads = ns["replica_grads"](model, tf.constant(xs), tf.constant(ys), n)
        total_loss += float(loss)
        total = [t + keras.ops.convert_to_numpy(g) for t, g in zip(total, grads)]
    with tf.GradientTape() as tape:  # one device, the whole batch, Keras's mean loss
        ref_loss = keras.losses.SparseCategoricalCrossentropy()(y, model(x, training=True))
    ref = tape.gradient(ref_loss, model.trainable_variables)
    diff = max(float(np.max(np.abs(t - g.numpy()))) for t, g in zip(total, ref))
    diff = max(diff, abs(total_loss - float(ref_loss)))
    return labkit.within(
        f"replica_grads on {replicas} uneven slices of a fresh batch of {n} (a {d}-input, "
        f"{classes}-class MLP): the slices' losses and gradients add up to the whole batch's "
        "mean loss and its GradientTape gradient on one device (max |difference|)",
        diff, 1e-5)  # fmt: skip


def check_train_by_hand(ns: dict) -> dict:
    """train_by_hand under a mirrored strategy takes one device's SGD steps on fresh data."""
    rng = np.random.default_rng()
    d, classes, batch, steps = (int(v) for v in rng.integers((3, 2, 5, 3), (13, 7, 13, 6)))
    x = rng.normal(size=(batch * steps, d)).astype("float32")
    y = rng.integers(0, classes, size=batch * steps)
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])  # the same on every machine
    with strategy.scope():
        model = _fresh_mlp(rng, d, classes)
        model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy")
        model.optimizer.build(model.trainable_variables)  # no variables made while tracing
    start = model.get_weights()
    losses = ns["train_by_hand"](strategy, model, data)

    reference = keras.models.clone_model(model)  # one device: GradientTape and SGD, eagerly
    reference.set_weights(start)
    optimizer, ref_losses = keras.optimizers.SGD(0.1, momentum=0.9), []
    for xb, yb in data:
        with tf.GradientTape() as tape:
            loss = keras.losses.SparseCategoricalCrossentropy()(yb, reference(xb, training=True))
        grads = tape.gradient(loss, reference.trainable_variables)
        optimizer.apply_gradients(zip(grads, reference.trainable_variables))
        ref_losses.append(float(loss))
    diff = max(float(np.max(np.abs(a - b))) for a, b in
               zip(model.get_weights(), reference.get_weights()))  # fmt: skip
    if len(losses) == steps:
        diff = max(diff, float(np.max(np.abs(np.asarray(losses, float) - ref_losses))))
    else:
        diff = float("inf")
    return labkit.within(
        f"train_by_hand under MirroredStrategy, one epoch of {steps} batches of {batch} fresh "
        f"examples ({d} inputs, {classes} classes), takes the steps of GradientTape and SGD on "
        "one device from the same weights: the same losses and final weights (max |difference|)",
        diff, 1e-5, steps=len(losses))  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
