"""dlcourse.training: the one ``fit`` (both loops), the switches, the strategy chooser.

Everything here runs in this process on the CPU with tiny models; the multi-process cluster
tests are in test_distributed.py.
"""

from __future__ import annotations

import json
import socket

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlcourse import launch
from dlcourse.data import loader
from dlcourse.models import create_model, list_models
from dlcourse.models.registry import model_family
from dlcourse.training import TrainConfig, fit, precision, strategy, time_to
from dlcourse.training.loop import count_batches, shard_by_data


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 8)).astype("float32")
    return x, (x.sum(1) > 4).astype("int64")


def _build(seen: dict | None = None, optimizer=None):
    def build():
        if seen is not None:
            seen["policy"] = keras.mixed_precision.global_policy().name
        model = keras.Sequential(
            [
                keras.Input((8,)),
                keras.layers.Dense(16, activation="relu", kernel_regularizer="l2"),
                keras.layers.Dense(2, name="logits"),
                keras.layers.Activation("softmax", dtype="float32", name="probs"),
            ]
        )
        model.compile(
            optimizer=optimizer or keras.optimizers.SGD(0.1, momentum=0.9),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    return build


def _weights(model) -> np.ndarray:
    return np.concatenate([np.ravel(w.numpy()) for w in model.weights])


# --------------------------------------------------------------------------- the two loops


def test_custom_loop_equals_model_fit():
    """Same data order, seed, regularizer, momentum, steps_per_execution: same numbers."""
    x, y = _data()
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(20)  # 5 batches, last one partial
    val = (x[:30], y[:30])
    cfg = TrainConfig(steps_per_execution=2)
    runs = {}
    for loop in ("keras", "custom"):
        keras.utils.set_random_seed(3)
        model, history = fit(
            _build(), train, validation=val, epochs=3, cfg=cfg, loop=loop, verbose=0
        )
        runs[loop] = (history, _weights(model), int(model.optimizer.iterations.numpy()))
    (hk, wk, ik), (hc, wc, ic) = runs["keras"], runs["custom"]
    assert set(hk) == set(hc) == {"loss", "accuracy", "val_loss", "val_accuracy", "time_s"}
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(hc[key], hk[key], rtol=1e-5, err_msg=key)
    np.testing.assert_allclose(wc, wk, atol=1e-6)
    assert ik == ic == 15
    assert len(hc["time_s"]) == 3 and hc["time_s"] == sorted(hc["time_s"])


def test_custom_loop_resumes_from_its_backup(tmp_path):
    """A crash after epoch 2 keeps the checkpoint; the rerun trains epochs 3-4 only."""
    x, y = _data()

    class Crash(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("simulated crash")

    keras.utils.set_random_seed(0)
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(
            _build(),
            (x, y),
            epochs=4,
            folder=tmp_path,
            loop="custom",
            verbose=0,
            callbacks=[Crash()],
        )
    saved = json.loads((tmp_path / "backup" / "history.json").read_text())
    assert len(saved["loss"]) == 2

    started = []
    record = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: started.append(e))
    model, history = fit(
        _build(), (x, y), epochs=4, folder=tmp_path, loop="custom", verbose=0, callbacks=[record]
    )
    assert started == [2, 3]
    assert history["loss"][:2] == saved["loss"]  # no completed epoch lost
    assert len(history["loss"]) == len(history["time_s"]) == 4
    assert int(model.optimizer.iterations.numpy()) == 4 * 3  # 96 examples, batch 32
    assert not (tmp_path / "backup").exists(), "the backup is removed once training finishes"


def test_keras_path_history_backup_and_prefetch(tmp_path):
    x, y = _data()
    _model, history = fit(
        _build(),
        (x, y),
        validation=(x, y),
        epochs=2,
        folder=tmp_path,
        verbose=0,
        prefetch_to_device="on",
    )
    assert len(history["val_accuracy"]) == len(history["time_s"]) == 2
    assert (tmp_path / "tb").is_dir() and not (tmp_path / "backup").exists()
    assert time_to({"acc": [0.5, 0.9, 0.95], "time_s": [1.0, 2.0, 3.0]}, "acc", 0.9) == 2.0
    assert time_to({"acc": [0.5], "time_s": [1.0]}, "acc", 0.9) is None


def test_mirrored_strategy_trains_on_cpu():
    x, y = _data()
    model, history = fit(
        _build(), (x, y), epochs=1, cfg=TrainConfig(strategy="mirrored"), verbose=0
    )
    assert isinstance(model.distribute_strategy, tf.distribute.MirroredStrategy)
    assert np.isfinite(history["loss"][0])


# --------------------------------------------------------------------------- GPU-path switches


@pytest.mark.parametrize(
    "dtype, jit, loop",
    [
        ("mixed_bfloat16", "off", "keras"),
        ("mixed_float16", "on", "keras"),
        ("mixed_float16", "on", "custom"),
    ],
)
def test_precision_and_xla_switches_reach_the_model(dtype, jit, loop):
    x, y = _data(16)
    seen = {}
    cfg = TrainConfig(precision=dtype, jit_compile=jit, steps_per_execution=4)
    model, history = fit(
        _build(seen), (x, y), epochs=2, cfg=cfg, batch_size=4, verbose=0, loop=loop
    )
    assert seen["policy"] == dtype, "the policy is set while the model is built"
    assert keras.mixed_precision.global_policy().name == "float32", "and restored afterwards"
    assert model.layers[0].compute_dtype == dtype.split("_")[1]
    assert model.layers[0].kernel.dtype == "float32"  # float32 master weights
    assert precision.low_precision_outputs(model) == []  # softmax output in float32
    assert model.jit_compile is (jit == "on") and model.steps_per_execution == 4
    scaled = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (dtype == "mixed_float16")
    assert np.all(np.isfinite(history["loss"])) and history["loss"][1] < history["loss"][0]


def test_auto_switches_follow_the_hardware():
    gpu = bool(tf.config.list_physical_devices("GPU"))
    assert precision.resolve_precision("auto") == ("mixed_float16" if gpu else "float32")
    assert precision.resolve_jit("auto") is gpu
    gpu_name = tf.config.list_logical_devices("GPU")[0].name if gpu else None
    assert loader.prefetch_device("auto") == gpu_name  # the loader's one device-prefetch stage
    assert precision.resolve_jit("off") is False


def test_lrn_stays_float32_under_mixed_precision():
    from dlcourse.layers import lrn

    with precision.policy("mixed_float16"):
        layer = lrn.LocalResponseNormalization()
        x = keras.Input((6, 6, 8))
        y = keras.layers.Conv2D(8, 3)(x)
        out = layer(y)
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    assert layer.compute_dtype == "float32"
    assert keras.backend.standardize_dtype(out.dtype) == "float32"


def test_low_precision_outputs_flags_a_float16_softmax():
    with precision.policy("mixed_float16"):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    assert len(precision.low_precision_outputs(model)) == 1


# --------------------------------------------------------------------------- bad input


def _never_built():
    raise AssertionError("build() must not run when the configuration is invalid")


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("strategy", "tpu", r"Received: strategy='tpu'"),
        ("precision", "float8", r"Received: precision='float8'"),
        ("jit_compile", "yes", r"Received: jit_compile='yes'"),
        ("steps_per_execution", 0, r"Received: steps_per_execution=0"),
    ],
)
def test_bad_switches_fail_before_training(field, value, match):
    with pytest.raises(ValueError, match=match):  # the config itself refuses it
        fit(_never_built, _data(), cfg=TrainConfig(**{field: value}))


def test_bad_fit_arguments():
    with pytest.raises(ValueError, match="Received: epochs=0"):
        fit(_never_built, _data(), epochs=0)
    with pytest.raises(ValueError, match="Received: loop='fast'"):
        fit(_never_built, _data(), loop="fast")
    uncompiled = lambda: keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="compiled"):
        fit(uncompiled, _data())
    with pytest.raises(ValueError, match="infinite"):
        count_batches(tf.data.Dataset.range(3).repeat())


def _cfg(task, cluster=None):
    cluster = cluster or {"worker": ["127.0.0.1:2001", "127.0.0.1:2002"]}
    return json.dumps({"cluster": cluster, "task": task})


@pytest.mark.parametrize(
    "text, match",
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"task": {"type": "worker", "index": 0}}), "'cluster'"),
        (json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}}), "'task'"),
        (_cfg({"type": "worker", "index": 2}), r"index must be in \[0, 2\).*index=2"),
        (_cfg({"type": "worker", "index": -1}), "index=-1"),
        (_cfg({"type": "ps", "index": 0}), "Received: task type='ps'"),
        (_cfg({"type": "worker", "index": 0}, {"worker": ["localhost"]}), "'host:port'"),
        (_cfg({"type": "worker", "index": 0}, {"worker": []}), "non-empty list"),
    ],
)
def test_malformed_tf_config_is_one_value_error(text, match):
    with pytest.raises(ValueError, match=match):
        strategy.parse_tf_config(text)


def test_good_tf_config_and_generated_ones_parse():
    ports = launch.free_ports(3)
    assert len(set(ports)) == 3
    config = strategy.parse_tf_config(launch.tf_config(ports, 2))
    assert config["task"] == {"type": "worker", "index": 2}
    assert strategy.own_address(config) == f"127.0.0.1:{ports[2]}"
    assert launch.num_workers(config) == 3 and launch.num_workers(None) == 1
    assert strategy.parse_tf_config("") is None


def test_port_in_use_is_refused_before_the_server_starts(monkeypatch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        free = launch.free_ports(1)[0]
        tf_config = json.dumps(
            {
                "cluster": {"worker": [f"127.0.0.1:{port}", f"127.0.0.1:{free}"]},
                "task": {"type": "worker", "index": 0},
            }
        )
        monkeypatch.setenv("TF_CONFIG", tf_config)
        monkeypatch.setattr(strategy, "_CACHE", {})

        def no_server():
            raise AssertionError("the strategy must not be created")

        monkeypatch.setattr(tf.distribute, "MultiWorkerMirroredStrategy", no_server)
        with pytest.raises(ValueError, match=rf"Port {port} .* in use.*address='127.0.0.1:{port}'"):
            strategy.get_strategy("multi-worker")
        monkeypatch.setenv("TF_CONFIG", "[1, 2]")
        with pytest.raises(ValueError, match="'cluster'"):
            strategy.get_strategy("multi-worker")


def test_shard_policy_is_data_unless_set():
    policy = tf.data.experimental.AutoShardPolicy
    ds = tf.data.Dataset.range(4)
    assert shard_by_data(ds).options().experimental_distribute.auto_shard_policy == policy.DATA
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy.FILE
    kept = shard_by_data(ds.with_options(options))
    assert kept.options().experimental_distribute.auto_shard_policy == policy.FILE


def test_default_strategy_is_one_device():
    assert strategy.get_strategy("default") is tf.distribute.get_strategy()
    assert strategy.is_chief(tf.distribute.get_strategy())
    assert launch.worker_count(tf.distribute.get_strategy()) == 1


# Builders put the last activation in float32 (keras.applications' classifier_activation with
# dtype="float32"); the small families are checked here (the big ones take seconds to build).
_SMALL = [n for n in list_models() if model_family(n) in ("mlp", "lenet", "small_cnn")]


@pytest.mark.parametrize("name", _SMALL)
def test_small_builders_output_float32_under_mixed_precision(name):
    with precision.policy("mixed_float16"):
        model = create_model(name)
    assert precision.low_precision_outputs(model) == []


# --------------------------------------------------------------------------- built outside fit


def test_a_model_built_outside_fit_is_refused_and_a_reused_one_trains():
    from dlcourse.training.transfer import add_head, freeze, reuse_layers

    x, y = _data(64)
    outside = _build()()
    with pytest.raises(ValueError, match="inside fit.*MirroredStrategy.*made outside it"):
        fit(lambda: outside, (x, y), cfg=TrainConfig(strategy="mirrored"), verbose=0)
    with pytest.raises(ValueError, match="policy 'mixed_bfloat16'.*float32 layers only"):
        fit(lambda: outside, (x, y), cfg=TrainConfig(precision="mixed_bfloat16"), verbose=0)

    # Lab 54's path: a model from fit, reused (cloned) outside fit, trains in the next fit.
    cfg = TrainConfig(strategy="mirrored", precision="mixed_bfloat16", jit_compile="off")
    model_a, _ = fit(_build(), (x, y), cfg=cfg, verbose=0)
    base = reuse_layers(model_a, n_layers=1)

    def reused():
        model = add_head(freeze(base), n_classes=2)
        model.compile("adam", "sparse_categorical_crossentropy")
        return model

    model_b, history = fit(reused, (x, y), cfg=cfg, verbose=0)
    mirrored = strategy.get_strategy("mirrored")
    assert all(mirrored.extended.variable_created_in_scope(w.value) for w in model_b.weights)
    assert model_b.layers[1].compute_dtype == "bfloat16"  # the reused layer kept the policy
    assert model_b.output.dtype == "float32" and len(history["loss"]) == 1


def test_every_mlp_path_builds_through_one_builder_with_a_float32_softmax():
    import keras_tuner

    from dlcourse.models.mlp import deep_mlp
    from dlcourse.training import distributed, pretraining
    from dlcourse.tuning.hypermodels import MLPHyperModel

    encoder = keras.layers.Dense(4, activation="selu")
    encoder.build((None, 16))
    with precision.policy("mixed_float16"):
        models = {
            "hypermodel": MLPHyperModel((4, 4, 1), 3).build(keras_tuner.HyperParameters()),
            "deep_mlp": deep_mlp((4, 4, 1), 3, depth=2, units=4),
            "pretraining": pretraining.stacked_classifier((4, 4, 1), [encoder], 3),
            "distributed": distributed.build_model(distributed.Job(hidden=(4,))),
        }
    for name, model in models.items():
        assert model.get_layer("flatten") and model.get_layer("hidden1"), name  # mlp()'s names
        assert model.get_layer("hidden1").compute_dtype == "float16", name
        assert model.get_layer("predictions").compute_dtype == "float32", name
