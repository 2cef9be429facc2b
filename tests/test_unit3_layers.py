"""Unit III layers, constraints and initializers: behaviour, validation, .keras round trips."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dlcourse.layers import (
    LocalResponseNormalization,
    MaxNorm,
    MaxNormClipper,
    MCAlphaDropout,
    MCDropout,
    RReLU,
    clip_by_max_norm,
    initializer_for,
    mc_predict,
    penalty,
    regularized_dense,
)
from dlcourse.layers import initializers as inits


def _roundtrip(model, tmp_path):
    path = tmp_path / "m.keras"
    model.save(path)
    return keras.models.load_model(path)


# ---------------------------------------------------------------- RReLU


def test_rrelu_random_slopes_in_range_when_training_and_mean_slope_otherwise():
    x = -np.ones((200, 50), "float32")
    layer = RReLU(lower=0.1, upper=0.3, seed=0)
    slopes = -np.asarray(layer(x, training=True))
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.03
    np.testing.assert_allclose(np.asarray(layer(x)), -0.2 * np.ones_like(x), rtol=1e-6)
    pos = np.abs(np.random.default_rng(0).normal(size=(4, 5))).astype("float32")
    np.testing.assert_array_equal(np.asarray(layer(pos, training=True)), pos)


@pytest.mark.parametrize(
    "kwargs, name", [({"lower": -0.1}, "lower"), ({"lower": 0.3, "upper": 0.2}, "upper")]
)
def test_rrelu_rejects_bad_range(kwargs, name):
    with pytest.raises(ValueError, match=rf"`{name}`.*Received: {name}="):
        RReLU(**kwargs)


# ---------------------------------------------------------------- MC dropout


def test_mc_dropout_stays_on_at_inference_and_mc_predict_gives_mean_and_std():
    model = keras.Sequential(
        [
            keras.Input((20,)),
            MCDropout(0.5, seed=1),
            keras.layers.Dense(3, kernel_initializer="ones"),
        ]
    )
    x = np.ones((6, 20), "float32")
    assert not np.allclose(model.predict(x, verbose=0), model.predict(x, verbose=0))
    mean, std = mc_predict(model, x, n_samples=100)
    assert mean.shape == std.shape == (6, 3)
    np.testing.assert_allclose(mean, 20.0, rtol=0.1)  # inverted dropout keeps E[output]
    assert (std > 1.0).all()


@pytest.mark.parametrize("cls", [MCDropout, MCAlphaDropout])
@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rate_outside_unit_interval_is_rejected(cls, rate):
    with pytest.raises(ValueError, match=rf"`rate` must be in \[0.0, 1.0\). Received: rate={rate}"):
        cls(rate)


def test_mc_predict_validates_n_samples():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="n_samples=0"):
        mc_predict(model, np.ones((1, 2)), n_samples=0)


# ---------------------------------------------------------------- max-norm


def test_clip_by_max_norm_clips_each_neuron_only_if_needed():
    w = np.array([[3.0, 0.3], [4.0, 0.4]], "float32")  # column norms 5 and 0.5
    out = np.asarray(clip_by_max_norm(w, 1.0, axis=0))
    np.testing.assert_allclose(np.linalg.norm(out, axis=0), [1.0, 0.5], rtol=1e-6)
    np.testing.assert_allclose(out[:, 1], w[:, 1])
    np.testing.assert_allclose(out[:, 0], w[:, 0] / 5.0, rtol=1e-6)


def test_max_norm_constraint_matches_keras_maxnorm_and_axis_is_configurable():
    w = np.random.default_rng(0).normal(size=(3, 3, 4, 8)).astype("float32") * 3
    ours = np.asarray(MaxNorm(2.0, axis=(0, 1, 2))(w))
    ref = np.asarray(keras.constraints.MaxNorm(2.0, axis=[0, 1, 2])(w))
    np.testing.assert_allclose(ours, ref, rtol=1e-5)  # Keras divides by eps + norm
    assert np.linalg.norm(ours.reshape(-1, 8), axis=0).max() <= 2.0 + 1e-5


@pytest.mark.parametrize("r", [0, -1.0])
def test_max_norm_rejects_non_positive_r(r):
    with pytest.raises(ValueError, match=rf"`max_value` must be > 0. Received: max_value={r}"):
        MaxNorm(r)
    with pytest.raises(ValueError, match="max_value"):
        MaxNormClipper(r)


def test_max_norm_constraint_and_callback_train_to_identical_weights():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 10)).astype("float32"), rng.integers(0, 3, 64)

    def model(constraint):
        m = keras.Sequential(
            [
                keras.Input((10,)),
                keras.layers.Dense(
                    16,
                    "relu",
                    kernel_constraint=constraint,
                    kernel_initializer=keras.initializers.RandomNormal(0, 2, seed=1),
                    name="h",
                ),
                keras.layers.Dense(3, kernel_initializer="zeros", name="out"),
            ]
        )
        m.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        return m

    a, b = model(MaxNorm(1.0)), model(None)
    a.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    b.fit(
        x,
        y,
        batch_size=16,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[MaxNormClipper(1.0, layers=["h"])],
    )
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)
    assert np.linalg.norm(a.get_layer("h").kernel.numpy(), axis=0).max() <= 1.0 + 1e-5


# ---------------------------------------------------------------- round trips


def test_custom_layers_and_constraint_round_trip_with_identical_outputs(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, kernel_constraint=MaxNorm(1.5, axis=0)),
            RReLU(0.05, 0.25, seed=3),
            MCDropout(0.3, seed=4),
            keras.layers.Dense(4, activation="selu", kernel_initializer="lecun_normal"),
            MCAlphaDropout(0.1, seed=5),
            keras.layers.Dense(2),
        ]
    )
    x = np.random.default_rng(1).normal(size=(5, 6)).astype("float32")
    loaded = _roundtrip(model, tmp_path)
    assert loaded.layers[0].kernel_constraint.get_config() == {"max_value": 1.5, "axis": 0}
    assert isinstance(loaded.layers[1], RReLU) and loaded.layers[1].get_config()["upper"] == 0.25
    for layer in (model, loaded):  # MC layers are random: compare them with the same seeds
        for lyr in layer.layers:
            if hasattr(lyr, "seed_generator"):
                lyr.seed_generator.state.assign([7, 0])
    np.testing.assert_allclose(np.asarray(model(x)), np.asarray(loaded(x)), rtol=1e-6)
    for layer in (model, loaded):
        for lyr in layer.layers:
            if hasattr(lyr, "seed_generator"):
                lyr.seed_generator.state.assign([9, 0])
    train_a, train_b = model(x, training=True), loaded(x, training=True)  # RReLU random too
    np.testing.assert_allclose(np.asarray(train_a), np.asarray(train_b), rtol=1e-6)


def test_max_norm_clipper_config_round_trips():
    cb = MaxNormClipper(2.0, layers=["a"], axis=(0, 1))
    assert MaxNormClipper(**cb.get_config()).get_config() == cb.get_config()


# ---------------------------------------------------------------- initialization


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu", "elu", "selu"])
@pytest.mark.parametrize("dist", ["uniform", "normal"])
def test_initializer_table_matches_the_formulas(act, dist):
    n_in, n_out = 300, 100
    w = np.asarray(initializer_for(act, dist, seed=0)((n_in, n_out)))
    expected = inits.table_value(act, dist, n_in, n_out)
    if dist == "uniform":
        assert np.abs(w).max() <= expected and np.abs(w).max() > 0.99 * expected
    else:
        assert w.std() == pytest.approx(expected, rel=0.03)


def test_table_factors():
    base = inits.table_value("tanh", "uniform", 50, 50)
    assert inits.table_value("sigmoid", "uniform", 50, 50) == pytest.approx(4 * base)
    assert inits.table_value("relu", "uniform", 50, 50) == pytest.approx(np.sqrt(2) * base)
    assert base == pytest.approx(np.sqrt(6 / 100))
    with pytest.raises(ValueError, match="activation='softplus'"):
        initializer_for("softplus")


def test_250_inputs_give_sigma_15_811_and_xavier_he_fix_it():
    assert np.sqrt(250) == pytest.approx(15.811, abs=1e-3)
    assert inits.z_spread(250, init="standard") == pytest.approx(15.811, rel=0.03)
    assert inits.z_spread(250, init="glorot") == pytest.approx(np.sqrt(250 * 2 / 251), rel=0.05)
    assert inits.z_spread(250, init="he") == pytest.approx(np.sqrt(2), rel=0.05)


# ---------------------------------------------------------------- penalties


def test_partial_regularized_dense_shares_settings_and_adds_loss():
    dense = regularized_dense("l2", 0.01)
    layer = dense(4)
    assert isinstance(layer, keras.layers.Dense) and layer.activation.__name__ == "elu"
    model = keras.Sequential([keras.Input((3,)), layer])
    model(np.ones((1, 3), "float32"))
    w = layer.kernel.numpy()
    assert float(model.losses[0]) == pytest.approx(0.01 * np.sum(w**2), rel=1e-5)
    l1l2 = penalty("l1_l2", 0.1)
    assert float(l1l2(w)) == pytest.approx(0.1 * np.abs(w).sum() + 0.1 * (w**2).sum(), rel=1e-5)
    with pytest.raises(ValueError, match="kind='l3'"):
        penalty("l3")
    with pytest.raises(ValueError, match="factor=-1"):
        penalty("l1", -1)


# ---------------------------------------------------------------- LRN


def test_lrn_defaults_are_tf_local_response_normalization_defaults(rng):
    """depth_radius=5, bias=1, alpha=1, beta=0.5, as tf.nn.local_response_normalization."""
    import tensorflow as tf

    x = rng.normal(size=(2, 4, 4, 12)).astype("float32")
    layer = LocalResponseNormalization()
    np.testing.assert_allclose(layer(x), tf.nn.local_response_normalization(x), rtol=1e-6)
    config = layer.get_config()
    got = {k: config[k] for k in ("depth_radius", "bias", "alpha", "beta")}
    assert got == {"depth_radius": 5, "bias": 1.0, "alpha": 1.0, "beta": 0.5}
