"""The distributed training loop: ``strategy.run`` per batch, for any ``tf.distribute`` strategy.

``fit`` runs it where Keras ``model.fit`` cannot (several workers, keras#20585; see
:mod:`dlcourse.upstream`) and on request (``loop="custom"``, which the tests compare with
``model.fit``). It returns ``model.fit``'s history, kept across a kill and a resume by
:mod:`dlcourse.training.history`, and writes ``tf.train.CheckpointManager`` backups from the
chief only.

Sharding. The loop sets ``AutoShardPolicy.DATA`` on a dataset whose policy is still ``AUTO``:
in-memory tensors have no files to split, and DATA makes every worker read the same global
batches and keep its own slice, so N workers see exactly the global batches a single process
sees. A file-based loader with at least as many files as workers should set ``FILE`` itself
(each worker then reads only its files); the loop keeps a policy set explicitly. Under DATA
every worker must produce the same order: seed any ``shuffle``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import tensorflow as tf

from dlcourse.training import history as history_mod
from dlcourse.training import strategy as strat


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
        start = backup.restore()
        if start and chief:
            history_mod.announce(start, epochs, backup.folder)
        recorder = history_mod.HistoryRecorder(
            history_mod.restore(backup.folder, start),
            path=backup.folder / history_mod.HISTORY_FILE if chief and backup.folder else None,
        )
        # The recorder runs first: it writes the history before the epoch's checkpoint.
        cbs = [recorder, *callbacks]
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
                backup.save(epoch + 1)
                if model.stop_training:
                    break
            cbs.on_train_end()
        backup.finish()
        return recorder.history


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
    """Per-epoch checkpoints of model and optimizer for the distributed loop.

    Every worker calls ``save`` (saving variables is a collective operation under a
    multi-worker strategy), but only the chief writes into ``folder/backup``; the others write
    into their own temporary folders, deleted right away. ``CheckpointManager`` writes the data
    files first and the ``checkpoint`` index last, atomically, so a worker killed mid-save
    leaves the previous checkpoint as the latest one. Training resumes from the last completed
    epoch; the history beside it is :mod:`dlcourse.training.history`'s. On several machines ``folder`` must be on a shared file system.
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

    def restore(self) -> int:
        """The number of completed epochs in the latest checkpoint (0 if there is none)."""
        latest = None if self.folder is None else tf.train.latest_checkpoint(str(self.folder))
        if latest is None:
            return 0
        self.ckpt.restore(latest).expect_partial()
        return int(self.epoch.numpy())

    def save(self, epoch: int) -> None:
        if self.folder is None:
            return
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
