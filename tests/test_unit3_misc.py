"""Batch norm twin, augmentation, transfer learning, pretraining and diagnostics."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlcourse.data.augment import LayersAugmenter, keras_augmenter
from dlcourse.scratch.batchnorm import BatchNorm
from dlcourse.training import diagnostics as diag
from dlcourse.training import pretraining, transfer

# ---------------------------------------------------------------- batch norm twin


def test_numpy_batch_norm_matches_keras_in_training_and_inference(rng):
    keras_bn = keras.layers.BatchNormalization()
    ours = BatchNorm(5)
    for _ in range(4):
        x = (rng.normal(size=(16, 3, 5)) * 3 + 2).astype("float32")
        np.testing.assert_allclose(
            ours(x, training=True), np.asarray(keras_bn(x, training=True)), rtol=1e-4, atol=1e-5
        )
    np.testing.assert_allclose(ours.moving_mean, keras_bn.moving_mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(ours.moving_var, keras_bn.moving_variance.numpy(), rtol=1e-5)
    x = rng.normal(size=(8, 3, 5)).astype("float32")
    np.testing.assert_allclose(
        ours(x), np.asarray(keras_bn(x, training=False)), rtol=1e-4, atol=1e-5
    )
    out = ours(x * 10 + 4, training=True).reshape(-1, 5)
    np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-5)  # batch stats normalize the batch


# ---------------------------------------------------------------- augmentation


def _images(n=16):
    x = np.zeros((n, 12, 12, 1), np.uint8)
    x[:, 4:8, 2:9] = 200  # not left-right symmetric
    return x, np.arange(n)


def _run(aug, x, y):
    """The augmenter on the whole array as one batch, as the loader calls it (per batch)."""
    a, b = aug(tf.constant(x), tf.constant(y))
    return a.numpy(), b.numpy()


def test_augmentation_is_seeded_label_preserving_and_in_range():
    x, y = _images()
    a1, y1 = _run(keras_augmenter(rotate=20, shift=0.1, zoom=0.1, seed=3), x, y)
    a2, _ = _run(keras_augmenter(rotate=20, shift=0.1, zoom=0.1, seed=3), x, y)
    a3, _ = _run(keras_augmenter(rotate=20, shift=0.1, zoom=0.1, seed=4), x, y)
    np.testing.assert_array_equal(y1, y)
    np.testing.assert_array_equal(a1, a2)
    assert not np.allclose(a1, a3)
    assert a1.dtype == np.float32 and a1.shape == (16, 12, 12, 1)
    assert a1.min() >= 0.0 and a1.max() <= 1.0
    assert len({a.tobytes() for a in a1}) == 16  # every example gets its own transform


def test_augmentation_identity_when_everything_is_off_and_flip_flips():
    x, y = _images(4)
    off = keras_augmenter(rotate=0, shift=0, zoom=0, brightness=0, contrast=0)
    a, _ = _run(off, x, y)
    np.testing.assert_allclose(a, x / 255.0, rtol=1e-6)
    flips, _ = _run(
        keras_augmenter(flip=True, rotate=0, shift=0, zoom=0, seed=0),
        np.repeat(x[:1], 32, 0),
        np.arange(32),
    )
    mirrored = (x[0] / 255.0)[:, ::-1]
    n_flipped = sum(np.allclose(f, mirrored) for f in flips)
    assert 4 < n_flipped < 28


def test_brightness_shifts_and_other_layers_plug_in():
    x = np.full((8, 6, 6, 3), [200, 40, 40], np.uint8)
    bright, _ = _run(
        keras_augmenter(rotate=0, shift=0, zoom=0, brightness=0.2, seed=1), x, 0 * x[:, 0, 0, 0]
    )
    shifts = (bright - x / 255.0).mean(axis=(1, 2, 3))
    assert np.abs(shifts).max() <= 0.2 + 1e-6 and np.ptp(shifts) > 0.01  # one delta per image
    colors = LayersAugmenter(
        [keras.layers.RandomSaturation(0.8, seed=1), keras.layers.RandomHue(0.4, seed=2)]
    )
    a, _ = _run(colors, x, np.arange(8))
    assert not np.allclose(a, x / 255.0, atol=0.02)
    with pytest.raises(ValueError, match="layers=\\[\\]"):
        LayersAugmenter([])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rotate": -5}, "rotate=-5"),
        ({"shift": 1.0}, "shift=1.0"),
        ({"zoom": 1.5}, "zoom=1.5"),
        ({"brightness": -0.1}, "brightness=-0.1"),
        ({"contrast": 2}, "contrast=2"),
    ],
)
def test_augmentation_rejects_bad_ranges(kwargs, match):
    with pytest.raises(ValueError, match=match):
        keras_augmenter(**kwargs)


# ---------------------------------------------------------------- transfer learning


def _small_model():
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, "relu", name="h1"),
            keras.layers.Dense(8, "relu", name="h2"),
            keras.layers.Dense(3, "softmax", name="out"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_transfer_clones_so_training_the_new_model_leaves_the_old_one_unchanged(rng):
    old = _small_model()
    before = [w.copy() for w in old.get_weights()]
    base = transfer.reuse_layers(old, -1)
    np.testing.assert_array_equal(base.get_layer("h1").kernel.numpy(), before[0])
    assert [layer.name for layer in transfer.weight_layers(base)] == ["h1", "h2"]
    new = transfer.add_head(base, n_classes=2)
    new.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    new.fit(rng.normal(size=(32, 6)), rng.integers(0, 2, 32), epochs=2, verbose=0)
    assert not np.allclose(new.get_layer("h1").kernel.numpy(), before[0])
    for a, b in zip(before, old.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_freeze_then_unfreeze_top_k(rng):
    base = transfer.reuse_layers(_small_model(), -1)
    new = transfer.add_head(base, 2)
    transfer.freeze(base)
    assert transfer.n_trainable(new) == 8 * 2 + 2  # only the new head
    transfer.unfreeze_top(base, 1)
    assert base.get_layer("h2").trainable and not base.get_layer("h1").trainable
    new.compile("sgd", "sparse_categorical_crossentropy")
    frozen = base.get_layer("h1").kernel.numpy().copy()
    new.fit(rng.normal(size=(16, 6)), rng.integers(0, 2, 16), epochs=1, verbose=0)
    np.testing.assert_array_equal(base.get_layer("h1").kernel.numpy(), frozen)
    with pytest.raises(ValueError, match=r"`k` must be an integer in \[0, 2\].*k=3"):
        transfer.unfreeze_top(base, 3)
    with pytest.raises(ValueError, match="n_layers=9"):
        transfer.reuse_layers(_small_model(), 9)
    by_name = transfer.reuse_layers(_small_model(), "h1")  # up to and including h1
    assert [layer.name for layer in transfer.weight_layers(by_name)] == ["h1"]
    with pytest.raises(ValueError, match=r"Received: n_layers='conv9'; layers: \["):
        transfer.reuse_layers(_small_model(), "conv9")


# ---------------------------------------------------------------- pretraining


def test_greedy_pretraining_learns_and_the_classifier_copies_the_encoders(rng):
    x = (rng.random((96, 4, 4, 1)) > 0.5).astype("float32")
    encoders, losses = pretraining.pretrain_stack(x, hidden=(8, 4), epochs=3, batch_size=16)
    assert [e.units for e in encoders] == [8, 4] and len(losses) == 2
    assert losses[0][-1] < losses[0][0]
    clf = pretraining.stacked_classifier((4, 4, 1), encoders, n_classes=3, freeze_encoders=True)
    np.testing.assert_array_equal(
        clf.get_layer("hidden1").kernel.numpy(), encoders[0].kernel.numpy()
    )
    assert transfer.n_trainable(clf) == 4 * 3 + 3
    clf.fit(x, rng.integers(0, 3, 96), epochs=1, verbose=0)
    np.testing.assert_array_equal(
        clf.get_layer("hidden2").kernel.numpy(), encoders[1].kernel.numpy()
    )
    with pytest.raises(ValueError, match="hidden=()"):
        pretraining.pretrain_stack(x, hidden=())


# ---------------------------------------------------------------- diagnostics


@pytest.mark.parametrize(
    "train, dev, diagnosis",
    [
        (0.01, 0.11, "high variance"),
        (0.15, 0.16, "high bias"),
        (0.15, 0.30, "high bias and high variance"),
        (0.005, 0.01, "low bias and low variance"),
    ],
)
def test_bias_variance_reproduces_the_notes_table(train, dev, diagnosis):
    assert diag.bias_variance(train, dev)["diagnosis"] == diagnosis
    assert diag.bias_variance(train, dev, base_error=0.14)["high_bias"] is (train > 0.16)


def test_bias_variance_rejects_errors_outside_unit_interval():
    with pytest.raises(ValueError, match="train_error=1.5"):
        diag.bias_variance(1.5, 0.1)


def test_ewma_with_bias_correction_equals_adams_corrected_first_moment(rng):
    grads = rng.normal(size=(6, 3))
    opt = keras.optimizers.Adam(beta_1=0.8)
    var = keras.Variable(np.zeros(3))
    corrected = diag.ewma(grads, beta=0.8)
    for t, g in enumerate(grads, 1):
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
        m = next(v for v in opt.variables if v.name.endswith("_momentum")).numpy()
        np.testing.assert_allclose(m / (1 - 0.8**t), corrected[t - 1], rtol=1e-6)
    assert diag.ewma([5.0], 0.9)[0] == pytest.approx(5.0)  # corrected: no pull toward 0
    assert diag.ewma([5.0], 0.9, bias_correction=False)[0] == pytest.approx(0.5)


def test_pruning_small_weights_reports_the_fraction_of_zeros():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.layers[0].kernel.assign(np.array([[0.001, 1.0], [-0.002, 0.5]], "float32"))
    assert diag.prune_small_weights(model, 0.01) == pytest.approx(0.5)
    assert diag.sparsity(model) == pytest.approx(0.5)


def test_gradient_norms_one_per_kernel(rng):
    model = _small_model()
    norms = diag.gradient_norms(
        model, rng.normal(size=(8, 6)).astype("float32"), rng.integers(0, 3, 8)
    )
    assert list(norms) == ["h1", "h2", "out"] and all(v > 0 for v in norms.values())


# ---------------------------------------------------------------- the labs' deep MLP builder


@pytest.mark.parametrize(
    "activation",
    ["sigmoid", "relu", "leaky_relu_0.01", "leaky_relu_0.2", "prelu", "rrelu", "elu", "selu"],
)
def test_deep_mlp_builds_every_activation(activation):
    from dlcourse.models.mlp import deep_mlp

    model = deep_mlp((8, 8, 1), 10, depth=2, units=4, activation=activation, dropout=0.1)
    assert model.output_shape == (None, 10)
    drop = model.get_layer("dropout1")
    assert isinstance(drop, keras.layers.AlphaDropout) == (activation == "selu")


def test_deep_mlp_batch_norm_placement_and_validation():
    from dlcourse.models.mlp import deep_mlp

    def names(bn):
        return [layer.name for layer in deep_mlp((4,), 3, depth=1, units=2, batch_norm=bn).layers]

    assert names("before").index("bn1") < names("before").index("act1")
    assert names("after").index("bn1") > names("after").index("act1")
    assert "bn1" not in names("none")
    before = deep_mlp((4,), 3, depth=1, units=2, batch_norm="before")
    assert before.get_layer("hidden1").bias is None  # BN's beta replaces the bias
    with pytest.raises(ValueError, match="batch_norm='middle'"):
        deep_mlp((4,), 3, batch_norm="middle")
    with pytest.raises(ValueError, match="dropout=1.0"):
        deep_mlp((4,), 3, dropout=1.0)
