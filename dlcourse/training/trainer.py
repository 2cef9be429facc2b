"""``fit``: one function that trains a Keras model under the lab's execution switches.

Contract (every training lab uses it):

    model, history = fit(build, train_ds, validation=val_ds, epochs=10, cfg=cfg,
                         folder=run_dir)

* ``build()`` returns a *compiled* ``keras.Model``; ``fit`` calls it inside the strategy's
  scope after setting the dtype policy, so variables land on the right devices and dtypes.
* ``train_ds``/``validation`` are batched ``tf.data.Dataset``s (or NumPy ``(x, y)`` tuples,
  batched with ``batch_size``). Under a strategy the batch is the *global* batch: each of the
  ``num_replicas_in_sync`` replicas gets a slice of it.
* ``cfg`` is a :class:`dlcourse.labkit.TrainConfig` (strategy, precision, jit_compile,
  steps_per_execution; see :mod:`dlcourse.training.strategy` and
  :mod:`dlcourse.training.precision`).
* With ``folder``, training writes TensorBoard logs to ``folder/tb`` (chief only) and keeps a
  backup in ``folder/backup``, so a killed run resumes at its last completed epoch; the backup
  is deleted when training finishes.
* Returns the trained model and ``history`` as a plain dict of per-epoch lists (``loss``, the
  compiled metrics, ``val_*``), including ``time_s``: wall seconds since training started, at
  the end of each epoch (time-to-accuracy is ``time_s`` at the first epoch whose
  ``val_accuracy`` reaches the target; see :func:`time_to`).

Two loops, one contract. ``model.fit`` trains under the default and mirrored strategies and
under a one-worker ``MultiWorkerMirroredStrategy``. With several workers Keras 3 ``model.fit``
fails in TF 2.21 ("Attempt to convert a value (PerReplica...)", keras#20585), so ``fit`` runs
:class:`DistributedLoop` instead: ``strategy.run`` on ``experimental_distribute_dataset``
batches, ``tf.nn.compute_average_loss`` over the global batch, the compiled model's optimizer,
loss and metrics, and ``tf.train.CheckpointManager`` backups written by the chief only.

Sharding. The loop sets ``AutoShardPolicy.DATA`` on a dataset whose policy is still ``AUTO``:
in-memory tensors have no files to split, and DATA makes every worker read the same global
batches and keep its own slice, so N workers see exactly the global batches a single process
sees. The loader (:mod:`dlcourse.data.loader`) sets ``FILE`` itself when there are at least as
many shard files as workers (each worker then reads only its files); ``fit`` keeps it.
Under DATA every worker must produce the same order: seed any ``shuffle`` (NumPy inputs are
shuffled with ``cfg.seed``).
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import tensorflow as tf

from dlcourse.data import loader
from dlcourse.labkit import TrainConfig
from dlcourse.training import precision as prec
from dlcourse.training import strategy as strat
from dlcourse.utils import check_choice, check_positive, write_json

LOOPS = ("auto", "keras", "custom")


def fit(
    build: Callable[[], keras.Model],
    train,
    *,
    validation=None,
    epochs: int = 1,
    cfg: TrainConfig | None = None,
    folder: str | Path | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    batch_size: int = 32,
    verbose: str | int = "auto",
    loop: str = "auto",
    prefetch_to_device: str | bool = "auto",
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Build under the configured strategy and precision, then train; see module docstring.

    Args:
        loop: ``"auto"`` (``model.fit`` unless several workers), ``"keras"`` or ``"custom"``
            (the distributed loop, under any strategy: the tests compare the two).
        prefetch_to_device: ``"auto"`` (on with a GPU), ``"on"``/``"off"`` or a bool: copy
            batches to the device ahead of time under the default strategy.
    """
    cfg = cfg or TrainConfig()
    check_positive("epochs", epochs)
    check_positive("batch_size", batch_size)
    check_choice("loop", loop, LOOPS)
    dtype = prec.resolve_precision(cfg.precision)
    jit = prec.resolve_jit(cfg.jit_compile)
    steps_per_execution = prec.check_steps_per_execution(cfg.steps_per_execution)
    device = loader.prefetch_device(prefetch_to_device)
    # The strategy comes first: a multi-worker strategy must exist before TF starts its runtime.
    strategy = strat.get_strategy(cfg.strategy)
    custom = loop == "custom" or (loop == "auto" and strat.worker_count(strategy) > 1)

    train = _as_dataset(train, batch_size, shuffle_seed=cfg.seed)
    validation = None if validation is None else _as_dataset(validation, batch_size)
    if not custom and strategy is tf.distribute.get_strategy():
        train = loader.to_device(train, device)  # other strategies prefetch per replica already
    with prec.policy(dtype), strategy.scope():
        model = build()
    if not getattr(model, "compiled", False):
        raise ValueError(
            "`build` must return a compiled keras.Model (call model.compile(...) inside it). "
            f"Received: a model with compiled={getattr(model, 'compiled', None)}"
        )
    prec.configure(model, jit_compile=jit, steps_per_execution=steps_per_execution)
    folder = None if folder is None else Path(folder)
    if custom:
        runner = DistributedLoop(
            model, strategy, jit_compile=jit, steps_per_execution=steps_per_execution
        )
        history = runner.fit(train, validation, epochs, folder, callbacks, verbose)
    else:
        history = _keras_fit(model, train, validation, epochs, folder, callbacks, verbose)
    return model, history


def time_to(history: dict[str, list[float]], key: str, target: float) -> float | None:
    """Seconds until ``history[key]`` first reached ``target`` (None if it never did)."""
    for value, t in zip(history.get(key, []), history.get("time_s", [])):
        if value >= target:
            return t
    return None


# --------------------------------------------------------------------------- model.fit


def _keras_fit(model, train, validation, epochs, folder, callbacks, verbose) -> dict:
    clock = _EpochClock()
    cbs = [clock, *callbacks]
    if folder is not None:
        cbs.append(keras.callbacks.BackupAndRestore(str(folder / "backup")))
        cbs.append(keras.callbacks.TensorBoard(str(folder / "tb"), write_graph=False))
    with warnings.catch_warnings():
        # prefetch_to_device hides the dataset's length, so Keras counts the batches of the
        # first epoch and warns that the input "ran out of data": expected, not a problem.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        # `train` is always a tf.data.Dataset here, shuffled (or not) by its own pipeline.
        hist = model.fit(
            train,
            validation_data=validation,
            epochs=epochs,
            callbacks=cbs,
            verbose=verbose,
            shuffle=False,
        )
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    history["time_s"] = clock.times[-len(history.get("loss", [])) :] if clock.times else []
    return history


class _EpochClock(keras.callbacks.Callback):
    """Records cumulative wall time at the end of every epoch."""

    def __init__(self, offset: float = 0.0):
        super().__init__()
        self.offset = offset

    def on_train_begin(self, logs=None):
        self.start, self.times = time.perf_counter(), []

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(round(self.offset + time.perf_counter() - self.start, 3))


# --------------------------------------------------------------------------- the custom loop


class DistributedLoop:
    """A training loop for any ``tf.distribute`` strategy, with ``model.fit``'s history.

    Each step, every replica computes its examples' losses, divides their sum by the *global*
    batch size (``tf.nn.compute_average_loss``) and applies its gradients; the optimizer
    all-reduces (sums) them, so the update equals one step on the whole global batch.
    Predictions are gathered across replicas so the compiled metrics see the global batch.
    """

    def __init__(
        self,
        model: keras.Model,
        strategy: tf.distribute.Strategy,
        *,
        jit_compile: bool = False,
        steps_per_execution: int = 1,
    ):
        self.model, self.strategy = model, strategy
        self.steps_per_execution = steps_per_execution
        self.loss_fn = _per_example_loss(model)
        self._forward = (
            tf.function(self._forward_backward, jit_compile=True)
            if jit_compile
            else self._forward_backward
        )
        self._train_chunk = tf.function(self._train_chunk_fn)
        self._test_chunk = tf.function(self._test_chunk_fn)

    # ---- one replica, one batch (shapes: x (per-replica batch, ...), y (per-replica batch,))
    def _losses(self, y, y_pred, sample_weight, global_n):
        per_example = tf.cast(self.loss_fn(y, y_pred), tf.float32)
        if sample_weight is not None:
            per_example *= tf.cast(tf.reshape(sample_weight, tf.shape(per_example)), tf.float32)
        loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_n)
        if self.model.losses:  # regularization: counted once across replicas
            reg = tf.add_n([tf.cast(r, tf.float32) for r in self.model.losses])
            loss += tf.nn.scale_regularization_loss(reg)
        return loss

    def _forward_backward(self, x, y, sample_weight, global_n):
        model = self.model
        with tf.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = self._losses(y, y_pred, sample_weight, global_n)
            scaled = model.optimizer.scale_loss(loss)  # loss scaling under mixed_float16
        grads = tape.gradient(scaled, model.trainable_variables)
        return loss, grads, y_pred

    def _replica_train(self, batch):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
        global_n = self._global_count(y)
        loss, grads, y_pred = self._forward(x, y, sample_weight, global_n)
        self.model.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        return loss, global_n, y, y_pred

    def _replica_test(self, batch):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
        global_n = self._global_count(y)
        y_pred = self.model(x, training=False)
        return self._losses(y, y_pred, sample_weight, global_n), global_n, y, y_pred

    @staticmethod
    def _global_count(y):
        n = tf.shape(keras.tree.flatten(y)[0], out_type=tf.int64)[0]
        return tf.distribute.get_replica_context().all_reduce("SUM", n)  # global batch size

    # ---- cross-replica: `steps` batches per tf.function call (steps_per_execution)
    def _chunk(self, replica_fn, iterator, steps):
        total, count = tf.constant(0.0), tf.constant(0.0)
        for _ in tf.range(steps):
            loss, global_n, y, y_pred = self.strategy.run(replica_fn, args=(next(iterator),))
            batch_loss = self.strategy.reduce("SUM", loss, axis=None)  # mean over global batch
            n = tf.cast(self.strategy.experimental_local_results(global_n)[0], tf.float32)
            total += batch_loss * n
            count += n
            gather = lambda t: self.strategy.gather(t, axis=0)
            self.model.compute_metrics(
                None, keras.tree.map_structure(gather, y), keras.tree.map_structure(gather, y_pred)
            )
        return total, count

    def _train_chunk_fn(self, iterator, steps):
        return self._chunk(self._replica_train, iterator, steps)

    def _test_chunk_fn(self, iterator, steps):
        return self._chunk(self._replica_test, iterator, steps)

    def _run_epoch(self, chunk_fn, dataset, n_steps, cbs=None) -> dict[str, float]:
        for metric in self.model.metrics:
            metric.reset_state()
        iterator = iter(dataset)
        total = count = 0.0
        done = 0
        while done < n_steps:
            k = min(self.steps_per_execution, n_steps - done)
            if cbs is not None:
                cbs.on_train_batch_begin(done)
            t, c = chunk_fn(iterator, tf.constant(k))
            total, count, done = total + float(t), count + float(c), done + k
            if cbs is not None:
                cbs.on_train_batch_end(done - 1, {"loss": total / max(count, 1.0)})
        logs = {k: float(v) for k, v in self.model.get_metrics_result().items()}
        logs["loss"] = total / max(count, 1.0)
        return logs

    # ---- epochs, callbacks, checkpoints
    def fit(
        self,
        train,
        validation=None,
        epochs: int = 1,
        folder: Path | None = None,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        verbose="auto",
    ) -> dict:
        """Train for ``epochs``; resume from ``folder/backup`` if a backup is there."""
        strategy, model = self.strategy, self.model
        chief = strat.is_chief(strategy)
        train_ds = strategy.experimental_distribute_dataset(shard_by_data(train))
        val_ds = None
        if validation is not None:
            val_ds = strategy.experimental_distribute_dataset(shard_by_data(validation))
        n_train = count_batches(train)
        n_val = count_batches(validation) if validation is not None else 0

        backup = _Backup(model, strategy, folder)
        start, history = backup.restore()
        self.initial_epoch = start
        clock = _EpochClock(offset=history["time_s"][-1] if history.get("time_s") else 0.0)
        cbs = list(callbacks) + [clock]
        if chief and folder is not None:
            cbs.append(keras.callbacks.TensorBoard(str(folder / "tb"), write_graph=False))
        show = chief and verbose not in (0, "0")
        cbs = keras.callbacks.CallbackList(
            cbs,
            add_progbar=show,
            model=model,
            verbose=1 if show else 0,
            epochs=epochs,
            steps=n_train,
        )
        model.stop_training = False
        with strategy.scope():
            cbs.on_train_begin()
            for epoch in range(start, epochs):
                cbs.on_epoch_begin(epoch)
                logs = self._run_epoch(self._train_chunk, train_ds, n_train, cbs)
                if val_ds is not None:
                    val = self._run_epoch(self._test_chunk, val_ds, n_val)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                cbs.on_epoch_end(epoch, logs)
                for key, value in logs.items():
                    history.setdefault(key, []).append(value)
                history.setdefault("time_s", []).append(clock.times[-1])
                backup.save(epoch + 1, history)
                if model.stop_training:
                    break
            cbs.on_train_end()
        backup.finish()
        return history


def _per_example_loss(model: keras.Model) -> Callable:
    """The compiled loss, unreduced: one value per example."""
    loss = model.loss
    if isinstance(loss, (list, tuple, dict)):
        raise ValueError(  # noqa: TRY004 (the project's one error type)
            "The distributed loop supports one compiled loss. Received: "
            f"loss={loss!r} (train multi-output models with the default or mirrored strategy)"
        )
    loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        return loss.call  # the per-example values, before the Loss object's reduction
    return loss


class _Backup:
    """Per-epoch checkpoints of model, optimizer and history for the distributed loop.

    Every worker calls ``save`` (saving variables is a collective operation under a
    multi-worker strategy), but only the chief writes into ``folder/backup``; the others write
    into their own temporary folders, deleted right away. ``CheckpointManager`` writes the data
    files first and the ``checkpoint`` index last, atomically, so a worker killed mid-save
    leaves the previous checkpoint as the latest one. Training resumes from the last completed
    epoch. On several machines ``folder`` must be on a shared file system.
    """

    def __init__(self, model, strategy, folder: Path | None):
        self.folder = None if folder is None else Path(folder) / "backup"
        self.chief = strat.is_chief(strategy)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer, epoch=self.epoch)
        if self.folder is not None:
            self.write_dir = (
                self.folder
                if self.chief
                else self.folder.parent / f".backup-worker{strat.task_index(strategy)}.tmp"
            )
            self.manager = tf.train.CheckpointManager(self.ckpt, str(self.write_dir), max_to_keep=2)

    def restore(self) -> tuple[int, dict[str, list[float]]]:
        """(completed epochs, their history) from the latest checkpoint; (0, {}) if none."""
        latest = None if self.folder is None else tf.train.latest_checkpoint(str(self.folder))
        if latest is None:
            return 0, {}
        self.ckpt.restore(latest).expect_partial()
        epochs = int(self.epoch.numpy())
        saved = json.loads((self.folder / "history.json").read_text())
        return epochs, {k: v[:epochs] for k, v in saved.items()}

    def save(self, epoch: int, history: dict) -> None:
        if self.folder is None:
            return
        if self.chief:  # history first: a kill between the two leaves it one epoch ahead,
            write_json(self.folder / "history.json", history)  # and restore() truncates it
        self.epoch.assign(epoch)
        self.manager.save(checkpoint_number=epoch)
        if not self.chief:
            shutil.rmtree(self.write_dir, ignore_errors=True)

    def finish(self) -> None:
        if self.folder is not None and self.chief:
            shutil.rmtree(self.folder, ignore_errors=True)


def shard_by_data(ds: tf.data.Dataset) -> tf.data.Dataset:
    """Set ``AutoShardPolicy.DATA`` unless a policy was chosen explicitly (module docstring)."""
    policy = tf.data.experimental.AutoShardPolicy
    if ds.options().experimental_distribute.auto_shard_policy != policy.AUTO:
        return ds
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy.DATA
    return ds.with_options(options)


def count_batches(ds: tf.data.Dataset) -> int:
    """Batches in one pass over ``ds`` (counted once when TF cannot tell)."""
    n = int(ds.cardinality())
    if n == tf.data.INFINITE_CARDINALITY:
        raise ValueError(
            "The training loop needs a finite dataset. Received: an infinite one "
            "(drop .repeat() or pass a dataset with a fixed number of batches)"
        )
    if n == tf.data.UNKNOWN_CARDINALITY:
        n = int(ds.reduce(0, lambda count, _: count + 1))
    return n


def _as_dataset(data, batch_size: int, shuffle_seed: int | None = None) -> tf.data.Dataset:
    if isinstance(data, tf.data.Dataset):
        return data
    ds = tf.data.Dataset.from_tensor_slices(tuple(data))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(data[0]), seed=shuffle_seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def has_gpu() -> bool:  # kept for callers of the first version
    return prec.has_gpu()
