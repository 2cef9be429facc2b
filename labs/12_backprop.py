"""
Title: Backpropagation from scratch, checked against TensorFlow
Unit: II
Notes: 003 (forward and backward propagation: Z = W.A + b, dZ, dW = (1/m) dZ A^T, db; mini-batch
gradient descent), 000 (Unit II: error backpropagation), 004 (training feedforward networks)
Description: Runs the NumPy L-layer MLP forward and backward on the 8x8 digits (read by the
loader, as the NumPy arrays the twin needs), compares every gradient with tf.GradientTape on a
Keras model holding the same float64 weights, checks them against central-difference numerical
gradients, shows that full-batch gradient descent steps of the twin and of Keras SGD stay
together (to float64 rounding after 20 steps: Keras trains on the loader's batch cast to
float64, the twin on that very batch), then trains the twin with mini-batch gradient descent.
Lesson: Backpropagation is the chain rule written layer by layer: the hand-written NumPy backward
pass gives TensorFlow's autodiff gradients and the numerical ones, so its gradient-descent steps
are Keras SGD's, and it trains an MLP that reads handwritten digits.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from dlcourse import data, labkit, plots
from dlcourse.labkit import arg
from dlcourse.scratch import activations
from dlcourse.scratch import backprop as bp

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.LabConfig):
    hidden: tuple = arg((64, 32), "hidden layer sizes of the from-scratch MLP", check="positive")
    activation: str = arg("relu", "hidden activation", choices=("relu", "tanh", "sigmoid"))
    learning_rate: float = arg(
        0.25, "gradient-descent learning rate (exact in float32)", check="positive"
    )
    batch_size: int = arg(32, "mini-batch size", check="positive")
    epochs: int = arg(60, "training epochs of the from-scratch MLP", check="positive")
    lockstep_steps: int = arg(20, "full-batch steps compared against Keras SGD", check="positive")
    lockstep_examples: int = arg(
        256, "training examples in the full batch of the lockstep check", check="positive"
    )

    QUICK = labkit.quick(epochs=3, lockstep_examples=64)  # a smoke test


def digit_sets() -> dict:
    """The loader's digits, unshuffled (file order): ``{"train", "test"}`` batched datasets of
    x (batch, 8, 8, 1) float32 in [0, 1] and y int64."""
    return {
        split: data.make_dataset("digits", split, batch_size=256, shuffle=False, cycle_length=1)
        for split in ("train", "test")
    }


def twin_inputs(ds) -> tuple[np.ndarray, np.ndarray]:
    """A dataset's examples as the twin wants them: x (64, m) float64 and the labels (m,)."""
    x, labels = data.arrays(ds)
    return x.reshape(len(x), -1).T.astype(np.float64), labels


def keras_twin(params: bp.Params, activation: str):
    """A float64 Keras Sequential holding exactly the twin's weights (kernels are W^T)."""
    n = len(params) // 2
    layers = [keras.Input((params["W1"].shape[1],), dtype="float64")]
    for l in range(1, n + 1):
        act = "softmax" if l == n else activation
        layers.append(keras.layers.Dense(params[f"W{l}"].shape[0], activation=act, dtype="float64"))
    model = keras.Sequential(layers)
    model.set_weights(
        [p for l in range(1, n + 1) for p in (params[f"W{l}"].T, params[f"b{l}"][:, 0])]
    )
    return model


def tape_gradients(model, x: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
    """The Keras model's cross-entropy on (x, y) and its gradients, by tf.GradientTape."""
    with tf.GradientTape() as tape:
        loss = keras.losses.CategoricalCrossentropy(dtype="float64")(y, model(x))
    return float(loss), [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]


def backward(
    a_last: np.ndarray, y: np.ndarray, params: bp.Params, caches: list, activation: str
) -> bp.Params:
    """The gradients ``dW1, db1, ..., dWL, dbL`` of the mean cross-entropy of a softmax MLP.

    ``a_last`` (10, m) is the softmax output and ``y`` (10, m) the one-hot labels; ``caches[l-1]``
    holds layer l's input A[l-1] and its pre-activation Z[l]; ``params`` holds W[l] (n_l, n_l-1)
    and b[l] (n_l, 1).
    """
    dg = activations.get(activation)[1]  # the hidden activation's derivative g'(Z)
    m = y.shape[1]
    grads = {}
    # From dZ[L] = A[L] - Y down to layer 1: dW[l] = dZ[l] A[l-1]^T / m, db[l] = the row sums
    # of dZ[l] / m, and dZ[l-1] = (W[l]^T dZ[l]) * g'(Z[l-1]).
    ### BEGIN SOLUTION
    dz = a_last - y
    for l in range(len(caches), 0, -1):
        a_prev, _ = caches[l - 1]
        grads[f"dW{l}"] = dz @ a_prev.T / m
        grads[f"db{l}"] = dz.sum(axis=1, keepdims=True) / m
        if l > 1:
            dz = (params[f"W{l}"].T @ dz) * dg(caches[l - 2][1])
    ### END SOLUTION
    return grads


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # The data: the loader's digits as the twin's (64, m) arrays, one example per column.
    sets = digit_sets()
    (x, labels), (xt, lt) = twin_inputs(sets["train"]), twin_inputs(sets["test"])
    y = bp.one_hot(labels, 10)
    dims = [x.shape[0], *cfg.hidden, 10]

    # 1. Same weights, same batch: twin gradients vs GradientTape.
    params = bp.init_params(dims, seed=cfg.seed)
    a_last, caches = bp.forward(x, params, cfg.activation)
    grads = backward(a_last, y, params, caches, cfg.activation)
    model = keras_twin(params, cfg.activation)
    tf_loss, tf_grads = tape_gradients(model, x.T, y.T)
    tf_grads = iter(tf_grads)
    grad_diff = max(
        max(
            np.abs(grads[f"dW{l}"].T - next(tf_grads)).max(),
            np.abs(grads[f"db{l}"][:, 0] - next(tf_grads)).max(),
        )
        for l in range(1, len(dims))
    )

    # 2. Numerical gradient check on a small network and batch (cost is O(params)).
    small = bp.init_params([x.shape[0], 8, 10], seed=cfg.seed)
    check = bp.gradient_check(x[:, :20], y[:, :20], small, cfg.activation)

    # 3. Full-batch gradient descent in lockstep with Keras SGD: one batch of the first m
    # training digits from the loader, in float64 with one-hot labels; one step per epoch.
    m = cfg.lockstep_examples

    def float64_one_hot(xb, yb):  # (m, 64) pixels and (m, 10) one-hot labels, float64
        xb = tf.cast(tf.reshape(xb, [-1, dims[0]]), tf.float64)
        return xb, tf.one_hot(yb, 10, dtype=tf.float64)

    batch = sets["train"].unbatch().take(m).batch(m).map(float64_one_hot).cache()
    model.compile(
        optimizer=keras.optimizers.SGD(cfg.learning_rate),
        loss=keras.losses.CategoricalCrossentropy(dtype="float64"),
    )
    model.fit(
        batch.repeat(), steps_per_epoch=1, epochs=cfg.lockstep_steps, shuffle=False, verbose=0
    )
    xb, yb = (a.T for a in data.arrays(batch))  # the very batch Keras trained on, (64, m)
    twin = dict(params)
    for _ in range(cfg.lockstep_steps):
        a_last, caches = bp.forward(xb, twin, cfg.activation)
        twin = bp.update(
            twin, backward(a_last, yb, twin, caches, cfg.activation), cfg.learning_rate
        )
    lockstep = max(
        float(np.abs(keras_twin(twin, cfg.activation).get_weights()[i] - w).max())
        for i, w in enumerate(model.get_weights())
    )

    # 4. Train the twin with mini-batch gradient descent.
    trained, costs = bp.train(
        x,
        y,
        dims,
        hidden=cfg.activation,
        learning_rate=cfg.learning_rate,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
    )
    metrics = {
        "layer_dims": dims,
        "cost_twin": bp.cost(bp.forward(x, params, cfg.activation)[0], y),
        "cost_tensorflow": tf_loss,
        "max_abs_grad_diff_vs_gradient_tape": float(grad_diff),
        "gradient_check_relative_diff": check,
        "lockstep_max_abs_weight_diff_vs_keras_sgd": lockstep,
        "train_accuracy": float((bp.predict(x, trained, cfg.activation) == labels).mean()),
        "test_accuracy": float((bp.predict(xt, trained, cfg.activation) == lt).mean()),
        "final_cost": costs[-1],
    }
    plots.save(
        plots.curves(
            {"from-scratch MLP": costs},
            title="Mini-batch GD with backprop",
            ylabel="cross-entropy",
            logy=True,
        ),
        out,
        "cost",
    )

    # The claims: three matches with references (GradientTape, numerical gradients, Keras SGD)
    # and a network that learned the digits.
    metrics["claims"] = [
        labkit.within(
            "The NumPy backward pass gives GradientTape's gradients on the same float64 weights "
            "(max |difference|)",
            metrics["max_abs_grad_diff_vs_gradient_tape"],
            1e-12,
        ),
        labkit.within(
            "The backprop gradients match central-difference numerical gradients (relative "
            "difference)",
            check,
            1e-7,
        ),
        labkit.within(
            f"{cfg.lockstep_steps} full-batch steps of the twin and of Keras SGD end on the same "
            "weights (max |difference|)",
            lockstep,
            1e-9,
        ),
        labkit.at_least(
            "The twin trained by mini-batch gradient descent reads the 8x8 test digits with at "
            "least 95 % accuracy",
            metrics["test_accuracy"],
            0.95,
            needs_defaults=True,
        ),
    ]
    labkit.save_metrics(out, metrics)
    return metrics


### BEGIN HIDDEN TESTS
def check_backward(ns: dict) -> dict:
    """backward gives GradientTape's gradients on a fresh random network and batch."""
    rng = np.random.default_rng()
    activation = str(rng.choice(["relu", "tanh", "sigmoid"]))
    dims = [int(rng.integers(3, 9)), int(rng.integers(2, 7)), int(rng.integers(2, 6)), 10]
    m = int(rng.integers(5, 30))
    x = rng.random((dims[0], m))  # (features, m), in [0, 1) like the digits' pixels
    y = bp.one_hot(rng.integers(0, 10, m), 10)
    params = bp.init_params(dims, seed=int(rng.integers(1 << 30)))
    # Nonzero biases: no pre-activation exactly 0, where ReLU's derivative is a convention.
    params = {
        k: v + 0.1 * rng.normal(size=v.shape) if k[0] == "b" else v for k, v in params.items()
    }
    a_last, caches = bp.forward(x, params, activation)
    grads = ns["backward"](a_last, y, params, caches, activation)
    model = keras_twin(params, activation)
    with tf.GradientTape() as tape:  # the mean cross-entropy, unclipped, as the twin's cost
        loss = -tf.reduce_mean(tf.reduce_sum(y.T * tf.math.log(model(x.T)), axis=1))
    tape = [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]
    want = [g for l in range(1, len(dims)) for g in (tape[2 * l - 2].T, tape[2 * l - 1][:, None])]
    got = [grads[f"{k}{l}"] for l in range(1, len(dims)) for k in ("dW", "db")]
    error = max(
        float(np.abs(g - w).max()) if np.shape(g) == w.shape else float("inf")
        for g, w in zip(got, want)
    )
    return labkit.within(
        f"backward gives GradientTape's gradients on a fresh {dims} {activation} network "
        f"and batch of {m} (max |difference|)",
        error, 1e-10,
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
