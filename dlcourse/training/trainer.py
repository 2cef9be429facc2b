"""``fit``: one function that trains a Keras model under the lab's execution switches.

Contract (every training lab uses it):

    model, history = fit(build, train_ds, validation=val_ds, epochs=10, cfg=cfg,
                         folder=run_dir)

* ``build()`` returns a *compiled* ``keras.Model``; ``fit`` calls it inside the strategy's
  scope after setting the dtype policy, so variables land on the right devices and dtypes.
  A model whose weights were made outside that scope (or whose layers all ignore a mixed
  policy) is refused with a ``ValueError``: build, clone or reuse it inside ``build`` (the
  helpers of :mod:`dlcourse.training.transfer` clone in the source model's strategy and
  policy, so a model that came out of ``fit`` can be reused).
* ``train_ds``/``validation`` are batched ``tf.data.Dataset``s (or NumPy ``(x, y)`` tuples,
  batched with ``batch_size``). Under a strategy the batch is the *global* batch: each of the
  ``num_replicas_in_sync`` replicas gets a slice of it.
* ``cfg`` is a :class:`dlcourse.training.TrainConfig` (strategy, precision, jit_compile,
  steps_per_execution; see :mod:`dlcourse.training.strategy` and
  :mod:`dlcourse.training.precision`).
* With ``folder``, training writes TensorBoard logs to ``folder/tb`` (chief only) and keeps a
  backup in ``folder/backup``, so a killed run resumes at its last completed epoch (and says
  "resuming from epoch N of M"); the backup is deleted when training finishes.
* Returns the trained model and ``history`` as a plain dict of per-epoch lists (``loss``, the
  compiled metrics, ``val_*``), including ``time_s``: wall seconds since training started, at
  the end of each epoch (time-to-accuracy is ``time_s`` at the first epoch whose
  ``val_accuracy`` reaches the target; see :func:`time_to`). After a resume it holds every
  epoch of the run, and ``time_s`` counts on from the interrupted run's last epoch.

Two loops, one contract. ``model.fit`` trains under the default and mirrored strategies and
under a one-worker ``MultiWorkerMirroredStrategy``. With several workers Keras 3 ``model.fit``
fails (keras#20585, :mod:`dlcourse.upstream`), so ``fit`` runs
:class:`dlcourse.training.loop.DistributedLoop` instead. Both return the same history
(:mod:`dlcourse.training.history`). NumPy inputs are shuffled with ``cfg.seed``.

Sharding. The loader (:mod:`dlcourse.data.loader`) sets ``AutoShardPolicy.FILE`` when there are
at least as many shard files as workers (each worker then reads only its files), else ``DATA``;
``fit`` keeps a policy set explicitly and gives in-memory data ``DATA``
(:func:`dlcourse.training.loop.shard_by_data`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import tensorflow as tf

from dlcourse import launch, upstream
from dlcourse.data import loader
from dlcourse.training import history as history_mod
from dlcourse.training import precision as prec
from dlcourse.training import strategy as strat
from dlcourse.training.checks import check_fit_inputs
from dlcourse.training.config import TrainConfig
from dlcourse.training.loop import DistributedLoop
from dlcourse.utils import check_choice, check_positive

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
    batch_size: int | None = None,
    verbose: str | int = "auto",
    loop: str = "auto",
    prefetch_to_device: str | bool = "auto",
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Build under the configured strategy and precision, then train; see module docstring.

    Args:
        batch_size: the mini-batch size for NumPy ``(x, y)`` inputs (default 32). A
            ``tf.data.Dataset`` is batched already (the loader's ``batch_size``), so passing
            one with it is refused rather than ignored.
        loop: ``"auto"`` (``model.fit`` unless several workers), ``"keras"`` or ``"custom"``
            (the distributed loop, under any strategy: the tests compare the two).
        prefetch_to_device: ``"auto"`` (on with a GPU), ``"on"``/``"off"`` or a bool: copy
            batches to the device ahead of time under the default strategy.
    """
    cfg = cfg or TrainConfig()
    check_positive("epochs", epochs)
    batch_size = _batch_size(train, batch_size)
    check_choice("loop", loop, LOOPS)
    callbacks = check_fit_inputs(train, validation, callbacks)  # bad data: one clear error
    dtype = prec.resolve_precision(cfg.precision)
    jit = prec.resolve_jit(cfg.jit_compile)
    steps_per_execution = prec.check_steps_per_execution(cfg.steps_per_execution)
    device = loader.prefetch_device(prefetch_to_device)
    # The strategy comes first: a multi-worker strategy must exist before TF starts its runtime.
    strategy = strat.get_strategy(cfg.strategy)
    workers = launch.worker_count(strategy)
    custom = loop == "custom" or (loop == "auto" and not upstream.keras_fit_supports(workers))

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
    check_built_in_scope(model, strategy, dtype)
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


def check_built_in_scope(model: keras.Model, strategy: tf.distribute.Strategy, dtype: str) -> None:
    """Refuse a model made outside ``fit``'s strategy scope or dtype policy (one clear error)."""
    outside = [v.path for v in model.weights if not _in_scope(strategy, v)]
    if outside:
        raise ValueError(
            "`build` must create the model's weights inside fit (it runs build under the "
            f"{type(strategy).__name__} scope); create, clone or reuse models inside build. "
            f"Received: a model with {len(outside)} weight(s) made outside it, e.g. {outside[0]!r}"
        )
    policy = keras.DTypePolicy(dtype)
    if policy.compute_dtype != policy.variable_dtype:
        # Every weight layer in float32: made outside fit (one layer may be a float32 head).
        layers = [layer for layer in _layers(model) if layer.weights]
        if len(layers) > 1 and all(layer.compute_dtype == "float32" for layer in layers):
            raise ValueError(
                f"`build` must create the model under fit's dtype policy {dtype!r}; every layer "
                "computes in float32, so it was made outside fit. Create, clone or reuse models "
                f"inside build. Received: a model {model.name!r} with float32 layers only"
            )


def _layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every layer of ``model``, nested models opened."""
    return [
        x
        for layer in model.layers
        for x in (_layers(layer) if hasattr(layer, "layers") else [layer])
    ]


def _in_scope(strategy: tf.distribute.Strategy, variable) -> bool:
    value = getattr(variable, "value", variable)  # the tf.Variable behind a Keras variable
    return strategy.extended.variable_created_in_scope(value)


def _keras_fit(model, train, validation, epochs, folder, callbacks, verbose) -> dict:
    backup = None if folder is None else folder / "backup"
    done = 0 if backup is None else upstream.keras_backup_epoch(backup)
    if done:
        history_mod.announce(done, epochs, backup)
    # The recorder runs before BackupAndRestore: it writes the history before the weights.
    recorder = history_mod.HistoryRecorder(
        history_mod.restore(backup, done),
        path=None if backup is None else backup / history_mod.HISTORY_FILE,
    )
    cbs = [recorder, *callbacks]
    if folder is not None:
        cbs.append(keras.callbacks.BackupAndRestore(str(backup)))
        cbs.append(keras.callbacks.TensorBoard(str(folder / "tb"), write_graph=False))
    with warnings.catch_warnings():
        # prefetch_to_device hides the dataset's length, so Keras counts the batches of the
        # first epoch and warns that the input "ran out of data": expected, not a problem.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        # `train` is always a tf.data.Dataset here, shuffled (or not) by its own pipeline.
        model.fit(
            train,
            validation_data=validation,
            epochs=epochs,
            callbacks=cbs,
            verbose=verbose,
            shuffle=False,
        )
    return recorder.history


def _batch_size(train, batch_size: int | None) -> int:
    """The batch size for NumPy inputs; refused next to an already batched dataset."""
    if batch_size is None:
        return 32
    if isinstance(train, tf.data.Dataset):
        raise ValueError(  # noqa: TRY004 (a bad argument value, as everywhere)
            "`batch_size` applies to NumPy (x, y) inputs only: a tf.data.Dataset is batched "
            f"already (set the loader's batch_size). Received: batch_size={batch_size!r} "
            "with a dataset"
        )
    check_positive("batch_size", batch_size)
    return batch_size


def _as_dataset(data, batch_size: int, shuffle_seed: int | None = None) -> tf.data.Dataset:
    if isinstance(data, tf.data.Dataset):
        return data
    ds = tf.data.Dataset.from_tensor_slices(tuple(data))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(data[0]), seed=shuffle_seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
