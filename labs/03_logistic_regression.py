"""
Title: Logistic regression by gradient descent: NumPy, one Keras neuron, scikit-learn
Unit: I
Notes: 003 (logistic regression, cost J(w, b), gradient descent w = w - alpha dw, b = b - alpha db,
forward/backward propagation, L2 regularization, normalizing inputs)
Description: Tells two handwritten digits apart (3 vs 8 from the embedded digits by default)
with logistic regression trained three ways: the notes' equations in NumPy, a one-neuron Keras
model (sigmoid unit, binary cross-entropy, plain SGD on the full batch, so it takes the very same
steps), and scikit-learn's LogisticRegression solved to convergence. Inputs are normalized with
the training mean and standard deviation (notes 003). The digits come from the loader stage; the
Keras neuron trains on its datasets, NumPy and scikit-learn on the very same examples as arrays.
Compares accuracy, the cost curve, the learned weights (shown as 8x8 images) and the test
decisions of the three.
Lesson: Logistic regression is one sigmoid neuron: the notes' gradient descent in NumPy and a
one-neuron Keras model trained by full-batch SGD take the very same steps, and both reach the
optimum that scikit-learn solves for.
"""

from __future__ import annotations

import dlcourse  # noqa: F401 (first: without a GPU, TensorFlow then leaves CUDA alone)

# isort: split

import math
from dataclasses import dataclass

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from dlcourse import data, labkit, plots
from dlcourse.data.tasks import binary_digits, float64_arrays
from dlcourse.labkit import arg
from dlcourse.scratch import logistic
from dlcourse.training import fit

LAB = labkit.lab_name(__file__)


@dataclass(frozen=True)
class Config(labkit.TrainConfig):
    positive: int = arg(3, "digit that is class 1", check=(0, 9))
    negative: int = arg(
        8, "digit that is class 0; -1 = every other digit (is it a <positive>?)", check=(-1, 9)
    )
    alpha: float = arg(
        1.0, "learning rate alpha of NumPy GD and of the Keras model's SGD", check="positive"
    )
    n_iterations: int = arg(
        2000, "full-batch gradient-descent updates (NumPy and Keras)", check="positive"
    )
    l2: float = arg(
        1.0,
        "L2 strength lambda of the notes; scikit-learn C = 1/lambda; 0 = none",
        check="non_negative",
    )
    normalize: bool = arg(True, "standardize inputs with the training mean and std (notes 003)")
    keras_epochs: int = arg(
        20, "Keras splits the updates into this many epochs (progress bar)", check="positive"
    )

    QUICK = labkit.quick(n_iterations=200, keras_epochs=2)  # 100 updates per epoch

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.positive == self.negative:
            raise ValueError(
                f"`negative` must differ from `positive`. Received: negative={self.negative}"
            )


def one_neuron(n_features: int, *, alpha: float, l2: float, m: int) -> keras.Model:
    """The notes' model as Keras sees it: Dense(1, sigmoid), zero init, plain SGD.

    Keras adds ``L2(c) = c * sum(w^2)`` to the mean loss; the notes add (lambda / 2m) ||w||^2,
    so c = lambda / (2m) with m the number of training examples.
    """
    # Build it: one Dense unit named "neuron" with a sigmoid, kernel and bias starting at zero,
    # its kernel under Keras's L2(lambda / 2m) (none for lambda = 0); compile it with plain SGD
    # at rate alpha and the binary cross-entropy loss (and an "accuracy" metric).
    ### BEGIN SOLUTION
    reg = keras.regularizers.L2(l2 / (2 * m)) if l2 > 0 else None
    inputs = keras.Input((n_features,), name="pixels")
    outputs = keras.layers.Dense(
        1, activation="sigmoid", kernel_initializer="zeros", kernel_regularizer=reg, name="neuron"
    )(inputs)
    model = keras.Model(inputs, outputs, name="one_neuron")
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=alpha),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    ### END SOLUTION
    return model


class _WeightSnapshots(keras.callbacks.Callback):
    """Keeps (w, b) of the neuron at the end of every epoch, to plot Keras on the NumPy curve."""

    def on_train_begin(self, logs=None):
        self.snapshots = []

    def on_epoch_end(self, epoch, logs=None):
        kernel, bias = self.model.get_layer("neuron").get_weights()
        self.snapshots.append((kernel[:, 0].astype(np.float64), float(bias[0])))


def run(cfg: Config) -> dict:
    out = labkit.start(cfg, LAB)

    # Keras splits the full-batch updates into epochs: the same number of updates for all.
    steps = max(1, cfg.n_iterations // cfg.keras_epochs)  # updates per Keras epoch
    n_iterations = steps * cfg.keras_epochs

    # The data: the loader's digits, two of them kept and flattened to 64 pixels.
    sets = binary_digits(cfg.positive, cfg.negative)
    if cfg.normalize:  # notes 003: subtract the training mean, divide by the training spread
        scaler = StandardScaler().fit(float64_arrays(sets["train"])[0])
        mean, scale = scaler.mean_.astype(np.float32), scaler.scale_.astype(np.float32)
        sets = {k: ds.map(lambda x, y: ((x - mean) / scale, y)) for k, ds in sets.items()}
    sets = {k: ds.cache() for k, ds in sets.items()}

    # NumPy and scikit-learn read the very same float32 examples the Keras neuron trains on.
    (x, y), test = float64_arrays(sets["train"]), data.Split(*float64_arrays(sets["test"]))
    m = len(x)

    # 1. The notes' equations in NumPy.
    np_fit = logistic.fit(x, y, alpha=cfg.alpha, n_iterations=n_iterations, l2=cfg.l2)

    # 2. One Keras neuron: the full batch repeated `steps` times per epoch = the same GD steps.
    def with_column(x, y):  # the neuron's target has shape (batch, 1)
        return x, y[:, None]

    train = sets["train"].batch(m).map(with_column).repeat(steps)
    val = sets["val"].batch(256).map(with_column)
    snaps = _WeightSnapshots()
    model, history = fit(
        lambda: one_neuron(x.shape[1], alpha=cfg.alpha, l2=cfg.l2, m=m),
        train,
        validation=val,
        epochs=cfg.keras_epochs,
        cfg=cfg,
        folder=out,
        callbacks=[snaps],
    )
    kernel, bias = model.get_layer("neuron").get_weights()
    keras_w, keras_b = kernel[:, 0].astype(np.float64), float(bias[0])

    # 3. scikit-learn, solved to convergence: C = 1 / lambda (C = inf: no penalty).
    sk = LogisticRegression(C=1.0 / cfg.l2 if cfg.l2 > 0 else np.inf, max_iter=10_000, tol=1e-10)
    sk.fit(x, y)

    # The three fits side by side: accuracy, cost, and how far each lands from NumPy GD.
    params = {
        "numpy_gd": (np_fit.w, np_fit.b),
        "keras_one_neuron": (keras_w, keras_b),
        "sklearn": (sk.coef_[0].astype(np.float64), float(sk.intercept_[0])),
    }
    ref_pred = logistic.predict(test.x, *params["numpy_gd"])
    metrics: dict = {
        "task": f"{cfg.positive} vs {'rest' if cfg.negative == -1 else cfg.negative}",
        "n_train": m,
        "n_test": len(test.x),
        "n_iterations": n_iterations,
        "keras_val_accuracy": history["val_accuracy"][-1],
    }
    for name, (w, b) in params.items():
        pred = logistic.predict(test.x, w, b)
        metrics[name] = {
            "train_accuracy": float(np.mean(logistic.predict(x, w, b) == y)),
            "test_accuracy": float(np.mean(pred == test.y)),
            "final_cost": logistic.cost(x, y, w, b, l2=cfg.l2),
        }
        if name != "numpy_gd":  # how far each library lands from the notes' NumPy GD
            metrics[name].update(
                max_abs_w_diff_vs_numpy=float(np.max(np.abs(w - np_fit.w))),
                abs_b_diff_vs_numpy=abs(b - np_fit.b),
                test_decisions_agree_with_numpy=float(np.mean(pred == ref_pred)),
            )

    # Figures: the cost per update (Keras at each epoch end) and the weights as 8x8 images.
    optimum = metrics["sklearn"]["final_cost"]
    keras_iters = steps * np.arange(1, len(snaps.snapshots) + 1)
    keras_costs = [logistic.cost(x, y, w, b, l2=cfg.l2) for w, b in snaps.snapshots]
    fig = plots.cost_curves(
        {"NumPy GD (notes 003)": np_fit.costs},
        optimum=optimum,
        points={"Keras one neuron (end of epoch)": (keras_iters, keras_costs)},
        title=f"Logistic regression cost J, {metrics['task']} (optimum: scikit-learn)",
        ylabel="J(w, b)",
    )
    plots.save(fig, out, "cost")
    side = math.isqrt(x.shape[1])  # 64 pixels -> 8 x 8
    fig = plots.weight_images(
        {name: w for name, (w, _) in params.items()},
        (side, side),
        title=f"weights w: red pushes towards '{cfg.positive}', blue away from it",
    )
    plots.save(fig, out, "weights")

    # The claims: Keras takes NumPy's steps, GD reaches scikit-learn's optimum, and the linear
    # boundary tells the two digits apart.
    keras_fit = metrics["keras_one_neuron"]
    metrics["claims"] = [
        labkit.within(
            "One Keras neuron trained by full-batch SGD lands on the weights of the notes' NumPy "
            "gradient descent (max |difference|)",
            max(keras_fit["max_abs_w_diff_vs_numpy"], keras_fit["abs_b_diff_vs_numpy"]),
            1e-4,
        ),
        labkit.within(
            "The notes' gradient descent reaches scikit-learn's optimum cost J (J_GD - J*)",
            metrics["numpy_gd"]["final_cost"] - optimum,
            1e-6,
            needs_defaults=True,
        ),
        labkit.at_least(
            f"Logistic regression tells {metrics['task']} apart with at least 95 % test accuracy",
            metrics["numpy_gd"]["test_accuracy"],
            0.95,
        ),
    ]
    labkit.save_metrics(out, metrics)
    return metrics


### BEGIN HIDDEN TESTS
from dlcourse import checks  # the graders' helpers, beside the checks


def check_one_neuron(ns: dict) -> dict:
    """one_neuron trained by full-batch SGD takes the notes' NumPy gradient-descent steps."""
    rng = np.random.default_rng()
    m, n = int(rng.integers(20, 60)), int(rng.integers(2, 9))
    alpha, l2, steps = float(rng.uniform(0.2, 1.0)), float(rng.uniform(1.0, 3.0)), 8
    x = rng.normal(size=(m, n)).astype(np.float32).astype(np.float64)  # exact in float32
    y = (x @ rng.normal(size=n) + 0.5 * rng.normal(size=m) > 0).astype(np.float64)
    y[:2] = [0.0, 1.0]  # both classes
    model = ns["one_neuron"](n, alpha=alpha, l2=l2, m=m)
    model.run_eagerly = True  # 8 steps: tracing a train function would cost more
    model.fit(x, y[:, None], batch_size=m, epochs=steps, shuffle=False, verbose=0)
    kernel, bias = model.get_layer("neuron").get_weights()
    got = np.r_[kernel[:, 0], bias]
    want = logistic.fit(x, y, alpha=alpha, n_iterations=steps, l2=l2)
    want = np.r_[want.w, want.b]
    error = checks.max_abs_diff(got, want)
    return labkit.within(
        f"one_neuron({n}, alpha={alpha:.2f}, l2={l2:.2f}, m={m}) trained by {steps} full-batch "
        "SGD steps on fresh data lands on the notes' NumPy gradient descent (max |difference|)",
        error, 1e-4, shape=list(got.shape),
    )  # fmt: skip


### END HIDDEN TESTS


def main(argv=None):
    return labkit.cli(run, Config, __doc__, argv)


if __name__ == "__main__":
    main()
