"""Unit II teaching twins against their library counterparts."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from dlcourse.scratch import activations as act
from dlcourse.scratch import backprop as bp
from dlcourse.scratch import perceptron as pc

Z = np.linspace(-3, 3, 61) + 0.013  # avoid the kinks at exactly 0 and +-0.5


@pytest.mark.parametrize(
    "name, keras_fn",
    [
        ("sigmoid", "sigmoid"),
        ("tanh", "tanh"),
        ("relu", "relu"),
        ("softplus", "softplus"),
        ("elu", "elu"),
        ("linear", "linear"),
    ],
)
def test_activation_matches_keras_and_its_derivative_matches_autodiff(name, keras_fn):
    import keras
    import tensorflow as tf

    f, df = act.get(name)
    z = tf.constant(Z, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(z)
        out = getattr(keras.activations, keras_fn)(z)
    np.testing.assert_allclose(f(Z), out.numpy(), atol=1e-12)
    np.testing.assert_allclose(df(Z), tape.gradient(out, z).numpy(), atol=1e-12)


def test_prelu_arctan_piecewise_and_step_match_tensorflow():
    import keras
    import tensorflow as tf

    z = tf.constant(Z, tf.float64)
    np.testing.assert_allclose(act.prelu(Z), keras.activations.leaky_relu(z, 0.25).numpy())
    for name, tf_fn in [
        ("arctan", tf.math.atan),
        ("piecewise_linear", lambda t: tf.clip_by_value(t + 0.5, 0, 1)),
    ]:
        f, df = act.get(name)
        with tf.GradientTape() as tape:
            tape.watch(z)
            out = tf_fn(z)
        np.testing.assert_allclose(f(Z), out.numpy(), atol=1e-12)
        np.testing.assert_allclose(df(Z), tape.gradient(out, z).numpy(), atol=1e-12)
    assert act.step(np.array([-1.0, 0.0, 2.0])).tolist() == [0, 1, 1]
    assert act.step(np.array([0.0]), at_zero=0.5).tolist() == [0.5]
    assert act.sign(np.array([-2.0, 0.0, 3.0])).tolist() == [-1, 0, 1]
    assert np.isfinite(act.sigmoid(np.array([-1000.0, 1000.0]))).all()


def test_unknown_activation_is_a_value_error():
    with pytest.raises(ValueError, match="Received: name='swishy'"):
        act.get("swishy")


@pytest.mark.parametrize("eta, epochs", [(1.0, 1), (0.5, 3), (0.1, 8)])
def test_perceptron_twin_equals_sklearn_weight_for_weight(eta, epochs):
    """Same zero start, same order, same eta: identical weights after each number of epochs."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import Perceptron

    d = load_digits()
    x, y = d.data[:400] / 16.0, (d.target[:400] == 3).astype(int)
    sk = Perceptron(eta0=eta, max_iter=epochs, tol=None, shuffle=False, alpha=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is the point here
        sk.fit(x, y)
    me = pc.Perceptron(eta=eta, epochs=epochs).fit(x, y)
    np.testing.assert_allclose(me.w, sk.coef_[0], atol=1e-12)
    assert me.b == pytest.approx(sk.intercept_[0], abs=1e-12)
    np.testing.assert_array_equal(me.predict(x), sk.predict(x))


def test_perceptron_learns_the_gates_but_never_xor():
    for gate in ("and", "or", "not_x1"):
        p = pc.Perceptron(epochs=20).fit(pc.TRUTH_INPUTS, pc.GATES[gate])
        assert p.mistakes[-1] == 0, gate
        np.testing.assert_array_equal(p.predict(pc.TRUTH_INPUTS), pc.GATES[gate])
        assert pc.separable(pc.TRUTH_INPUTS, pc.GATES[gate])
    p = pc.Perceptron(epochs=50).fit(pc.TRUTH_INPUTS, pc.GATES["xor"])
    assert min(p.mistakes) > 0 and p.cycle_length() is not None
    assert not pc.separable(pc.TRUTH_INPUTS, pc.GATES["xor"])
    np.testing.assert_array_equal(pc.xor_network(pc.TRUTH_INPUTS), pc.GATES["xor"])


def test_perceptron_bad_input():
    with pytest.raises(ValueError, match="Received: eta=0"):
        pc.Perceptron(eta=0)
    with pytest.raises(ValueError, match=r"x.shape=\(4,\)"):
        pc.Perceptron().fit(np.zeros(4), np.zeros(4))


def _tf_grads(params, x, y, hidden, output):
    """The same network in TensorFlow (float64), differentiated by GradientTape."""
    import tensorflow as tf

    tp = {k: tf.Variable(v) for k, v in params.items()}
    n = len(params) // 2
    with tf.GradientTape() as tape:
        a = tf.constant(x)
        for l in range(1, n + 1):
            z = tp[f"W{l}"] @ a + tp[f"b{l}"]
            a = z if l == n else getattr(tf.nn, hidden)(z)
        labels = tf.constant(y)
        if output == "softmax":
            loss = tf.reduce_mean(
                tf.nn.softmax_cross_entropy_with_logits(tf.transpose(labels), tf.transpose(a))
            )
        else:
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, a))
    return loss, tape.gradient(loss, tp)


@pytest.mark.parametrize(
    "hidden, output", [("relu", "softmax"), ("tanh", "sigmoid"), ("sigmoid", "softmax")]
)
def test_backprop_equals_gradient_tape_and_numerical_gradients(hidden, output, rng):
    classes = 3 if output == "softmax" else 1
    x = rng.standard_normal((5, 7))
    labels = rng.integers(0, 3 if classes == 3 else 2, 7)
    y = bp.one_hot(labels, 3) if classes == 3 else labels[None, :].astype(float)
    params = bp.init_params([5, 4, 3, classes], seed=1)
    params = {k: v + 0.1 for k, v in params.items()}  # nonzero biases, no ReLU exactly at 0
    a_last, caches = bp.forward(x, params, hidden, output)
    grads = bp.backward(a_last, y, params, caches, hidden)
    loss, tf_grads = _tf_grads(params, x, y, hidden, output)
    assert bp.cost(a_last, y, output) == pytest.approx(float(loss), rel=1e-9)
    for k in params:
        np.testing.assert_allclose(grads["d" + k], tf_grads[k].numpy(), atol=1e-10)
    assert bp.gradient_check(x, y, params, hidden, output) < 1e-7


def test_backprop_training_learns_xor():
    x = pc.TRUTH_INPUTS.T  # (2, 4)
    y = pc.GATES["xor"][None, :].astype(float)
    params, costs = bp.train(
        x, y, [2, 4, 1], hidden="tanh", output="sigmoid", learning_rate=0.5, epochs=2000, seed=0
    )
    assert costs[-1] < 0.05 < costs[0]
    np.testing.assert_array_equal(bp.predict(x, params, "tanh", "sigmoid"), pc.GATES["xor"])


def test_backprop_bad_layer_dims():
    with pytest.raises(ValueError, match=r"Received: layer_dims=\[3\]"):
        bp.init_params([3])
