"""Canaries for dlcourse.upstream: each fails when upstream changes or fixes what we work around.

When one fails, read the entry in ``dlcourse/upstream.py``: the workaround may now go.
"""

from __future__ import annotations

import inspect
import sys

import keras
import numpy as np
import pytest

from dlcourse import launch, upstream

MODEL_FIT_ON_TWO_WORKERS = """
import sys
import numpy as np, tensorflow as tf, keras
strategy = tf.distribute.MultiWorkerMirroredStrategy()
with strategy.scope():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
x = np.zeros((32, 4), "float32")
try:
    model.fit(tf.data.Dataset.from_tensor_slices((x, np.zeros(32, "int64"))).batch(8), verbose=0)
except ValueError as err:
    sys.exit(7 if "PerReplica" in str(err) else 1)  # 7: the bug we work around
"""


class StillBroken(AssertionError):
    """model.fit failed on several workers the way keras#20585 describes."""


@pytest.mark.xfail(raises=StillBroken, strict=True, reason="keras#20585 (PerReplica error)")
def test_keras_model_fit_on_two_workers_still_fails():
    """If this passes (XPASS fails the suite), fit may use model.fit on several workers."""
    assert not upstream.keras_fit_supports(2)
    codes = launch.run_cluster(
        [sys.executable, "-c", MODEL_FIT_ON_TWO_WORKERS], 2, timeout=180, echo=False
    )
    if 7 in codes.values():
        raise StillBroken(f"exit codes {codes}")
    assert codes == {"worker0": 0, "worker1": 0}  # any other failure is a real one


def test_backup_and_restore_still_records_completed_epochs_in_its_metadata(tmp_path):
    class Stop(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("stop")

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    backup = keras.callbacks.BackupAndRestore(str(tmp_path))
    with pytest.raises(RuntimeError, match="stop"):
        model.fit(np.zeros((4, 2)), np.zeros(4), epochs=4, callbacks=[backup, Stop()], verbose=0)
    assert upstream.keras_backup_epoch(tmp_path) == 2
    assert upstream.keras_backup_epoch(tmp_path / "missing") == 0


def test_keras_tuner_chief_still_polls_every_20_s_through_private_api():
    """dlcourse serves the oracle itself (upstream.serve) because of this loop."""
    from keras_tuner.src import protos  # noqa: F401 (the private names serve() uses)
    from keras_tuner.src.distribute import oracle_chief
    from keras_tuner.src.distribute.oracle_chief import OracleServicer, exit_chief  # noqa: F401

    source = inspect.getsource(oracle_chief.start_server)
    assert "time.sleep(20)" in source
    assert list(inspect.signature(oracle_chief.start_server).parameters) == ["oracle"]


# ---------------------------------------------------------------------------- Keras internals


def test_keras_home_is_still_private_and_still_where_get_file_caches():
    """keras.datasets caches in keras_home()/datasets; Keras gives no public accessor for it."""
    from keras.src.backend import config

    assert not hasattr(keras.config, "keras_home")  # a public one would let the canary go
    assert upstream.keras_home() == config.keras_home()
    source = inspect.getsource(keras.utils.get_file)
    assert "config.keras_home()" in source and 'cache_subdir="datasets"' in source


def test_functional_models_still_keep_their_nodes_by_depth():
    """paper_depth walks ``_nodes_by_depth``: depth 0 holds the outputs, nodes know parents."""
    inputs = keras.Input((4,))
    a = keras.layers.Dense(3, name="a")(inputs)
    b = keras.layers.Dense(3, name="b")(keras.layers.Dense(3, name="c")(inputs))
    model = keras.Model(inputs, keras.layers.Add(name="out")([a, b]))
    nodes = upstream.nodes_by_depth(model)
    assert sorted(nodes) == [0, 1, 2, 3]
    assert [n.operation.name for n in nodes[0]] == ["out"]
    parents = {p.operation.name for p in nodes[0][0].parent_nodes}
    assert parents == {"a", "b"}


# --------------------------------------------------------------------------- keras-tuner
# One canary per entry of upstream.KERAS_TUNER_PRIVATE, and one for upstream.op_determinism.


def _kt_oracle(tmp_path, cls_name: str = "RandomSearchOracle", **kw):
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    hp.Choice("a", [1, 2, 3])
    oracle = getattr(keras_tuner.oracles, cls_name)(
        objective="val_loss", hyperparameters=hp, max_trials=10, **kw
    )
    oracle._set_project_dir(str(tmp_path), "canary")
    return oracle


def _end(oracle, trial, loss: float = 1.0) -> None:
    oracle.update_trial(trial.trial_id, {"val_loss": loss})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)


def _canary_seed_state(tmp_path):
    oracle = _kt_oracle(tmp_path, seed=0)
    assert oracle.seed != 0  # still `seed or random.randint(1, 10000)`: the mixin's reason
    oracle.seed = oracle._seed_state = 5
    before = oracle._seed_state
    oracle._random_values()
    assert oracle._seed_state > before  # the counter _random_values draws from


def _canary_random_state(tmp_path):
    oracle = _kt_oracle(tmp_path, "BayesianOptimizationOracle", seed=3)
    assert isinstance(oracle._random_state, np.random.RandomState)


def _canary_reload_queues(tmp_path):
    """An ongoing trial is queued in _retry_queue on reload; ended ones are in end_order."""
    oracle = _kt_oracle(tmp_path, seed=1)
    done = oracle.create_trial("a")
    _end(oracle, done)
    running = oracle.create_trial("a")
    again = _kt_oracle(tmp_path, seed=1)
    again.reload()
    assert again._retry_queue == [running.trial_id]
    assert again.end_order == [done.trial_id]
    assert again._run_times[done.trial_id] == 1 and again._run_times[running.trial_id] == 0


def _canary_duplicate(tmp_path):
    oracle = _kt_oracle(tmp_path, seed=1)
    trial = oracle.create_trial("a")
    _end(oracle, trial)
    assert oracle._duplicate(dict(trial.hyperparameters.values))
    assert isinstance(oracle._max_collisions, int) and oracle._max_collisions > 0


def _canary_random_values(tmp_path):
    values = _kt_oracle(tmp_path, seed=1)._random_values()
    assert set(values) == {"a"} and values["a"] in (1, 2, 3)


def _canary_set_project_dir(tmp_path):
    oracle = _kt_oracle(tmp_path / "x")
    assert oracle._project_dir == str(tmp_path / "x" / "canary")


def _canary_grid_walk(tmp_path):
    oracle = _kt_oracle(tmp_path, "GridSearchOracle")
    assert oracle._get_next_combination({"a": 1}) == {"a": 2}
    assert oracle._get_next_combination({"a": 3}) is None
    assert (oracle._compare({"a": 1}, {"a": 2}), oracle._compare({"a": 3}, {"a": 3})) == (-1, 0)


KERAS_TUNER_CANARIES = {
    "Oracle._seed_state": _canary_seed_state,
    "BayesianOptimizationOracle._random_state": _canary_random_state,
    "Oracle._retry_queue": _canary_reload_queues,
    "Oracle.end_order": _canary_reload_queues,
    "Oracle._run_times": _canary_reload_queues,
    "Oracle._duplicate": _canary_duplicate,
    "Oracle._max_collisions": _canary_duplicate,
    "Oracle._random_values": _canary_random_values,
    "Oracle._set_project_dir": _canary_set_project_dir,
    "GridSearchOracle._get_next_combination": _canary_grid_walk,
    "GridSearchOracle._compare": _canary_grid_walk,
}


def test_every_private_keras_tuner_name_has_a_canary():
    assert set(KERAS_TUNER_CANARIES) == set(upstream.KERAS_TUNER_PRIVATE)


@pytest.mark.parametrize("name", sorted(KERAS_TUNER_CANARIES))
def test_keras_tuner_private_api_still_means_what_dlcourse_assumes(name, tmp_path):
    KERAS_TUNER_CANARIES[name](tmp_path)


def test_op_determinism_is_switched_back_off_through_private_tf_config():
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    assert not hasattr(tf.config.experimental, "disable_op_determinism")  # still no public way
    assert not tf_config.is_op_determinism_enabled()
    with upstream.op_determinism():
        assert tf_config.is_op_determinism_enabled()
    assert not tf_config.is_op_determinism_enabled()
    with upstream.op_determinism(enabled=False):
        assert not tf_config.is_op_determinism_enabled()


def test_keras_random_layers_still_draw_only_through_seed_generator_next():
    """A batch seed alone decides the transform; the layer's own generator is left alone."""
    import tensorflow as tf

    layer = keras.layers.RandomRotation(0.2, seed=1)
    state = layer.generator.state.numpy().copy()
    x = tf.random.stateless_uniform((4, 8, 8, 1), seed=(0, 0))

    def rotated(s):
        seed = upstream.batch_seed(tf.constant([s, 0], tf.int64))
        change = layer.get_random_transformation(x, training=True, seed=seed)
        return layer.transform_images(x, change, training=True).numpy()

    np.testing.assert_array_equal(rotated(3), rotated(3))
    assert not np.allclose(rotated(3), rotated(4))
    np.testing.assert_array_equal(layer.generator.state.numpy(), state)
