"""One factory for the notes' optimizers, with gradient clipping.

Notes 000 Unit III ("Faster optimizers"), 003 (momentum, RMSprop, Adam), 004. Every optimizer
is the Keras one; :mod:`dlcourse.scratch.optimizers` re-derives each update rule in NumPy and
the tests check them step by step. Where the notes' form and Keras' differ (all equivalent):

* momentum: notes ``m <- beta m + eta g; theta <- theta - m``; Keras keeps ``m' = -m``
  (``m' <- beta m' - eta g; theta <- theta + m'``): same theta sequence.
* Nesterov: notes take the gradient at the look-ahead point; Keras stores the look-ahead point
  itself (``phi = theta - beta m``) as the variable, so ``phi <- phi + beta m' - eta g(phi)``.
* AdaGrad: Keras starts the accumulator at ``initial_accumulator_value=0.1`` (notes: 0).
* RMSprop: identical (epsilon inside the square root, accumulator from 0).
* Adam: Keras folds the bias corrections into the step size and adds an "epsilon hat" outside
  the square root: ``theta <- theta - eta sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(s) + eps_hat)``,
  which equals the notes' ``eta m_hat / sqrt(s_hat + eps)`` up to where epsilon sits.

Clipping (notes: gradient clipping): ``clipvalue`` clips each component to [-c, c],
``clipnorm`` rescales each variable's gradient to norm <= c (``g <- c g / ||g||``), and
``global_clipnorm`` rescales all gradients together by their joint norm.
"""

from __future__ import annotations

import keras

from dlcourse.utils import check_choice, check_in_range, check_positive

OPTIMIZERS = (
    "sgd",
    "momentum",
    "nesterov",
    "adagrad",
    "rmsprop",
    "adam",
    "nadam",
    "adamax",
    "adamw",
)
DEFAULT_LR = {
    "sgd": 0.01,
    "momentum": 0.01,
    "nesterov": 0.01,
    "adagrad": 0.01,
    "rmsprop": 0.001,
    "adam": 0.001,
    "nadam": 0.001,
    "adamax": 0.002,
    "adamw": 0.001,
}


def create_optimizer(
    name: str,
    learning_rate=None,
    *,
    momentum: float = 0.9,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    rho: float = 0.9,
    epsilon: float = 1e-7,
    weight_decay: float = 0.004,
    clipvalue: float | None = None,
    clipnorm: float | None = None,
    global_clipnorm: float | None = None,
    **kwargs,
) -> keras.optimizers.Optimizer:
    """Build a Keras optimizer by name.

    Args:
        name: one of :data:`OPTIMIZERS`.
        learning_rate: a float > 0 or a ``LearningRateSchedule``; default per optimizer.
        momentum: beta of ``momentum``/``nesterov``.
        beta_1, beta_2: Adam-family decay rates; ``rho``: RMSprop decay rate.
        epsilon: smoothing term; ``weight_decay``: AdamW's decoupled decay.
        clipvalue, clipnorm, global_clipnorm: gradient clipping (at most one; > 0).
        **kwargs: passed to the Keras optimizer.
    """
    check_choice("name", name, OPTIMIZERS)
    lr = DEFAULT_LR[name] if learning_rate is None else learning_rate
    if not callable(lr):  # a number (a schedule is callable): "0.01" or -1 is refused here
        check_positive("learning_rate", lr)
    check_in_range("momentum", momentum, 0.0, 1.0, closed="[)")
    check_in_range("beta_1", beta_1, 0.0, 1.0, closed="[)")
    check_in_range("beta_2", beta_2, 0.0, 1.0, closed="[)")
    check_in_range("rho", rho, 0.0, 1.0, closed="[)")
    check_positive("epsilon", epsilon, strict=False)
    clip = {
        k: v
        for k, v in (
            ("clipvalue", clipvalue),
            ("clipnorm", clipnorm),
            ("global_clipnorm", global_clipnorm),
        )
        if v is not None
    }
    for key, value in clip.items():
        check_positive(key, value)
    if len(clip) > 1:
        raise ValueError(
            "Pass at most one of clipvalue, clipnorm, global_clipnorm. Received: "
            + ", ".join(f"{k}={v!r}" for k, v in clip.items())
        )
    kw = {"learning_rate": lr, **clip, **kwargs}
    opt = keras.optimizers
    if name == "sgd":
        return opt.SGD(**kw)
    if name in ("momentum", "nesterov"):
        return opt.SGD(momentum=momentum, nesterov=name == "nesterov", **kw)
    if name == "adagrad":
        return opt.Adagrad(epsilon=epsilon, **kw)
    if name == "rmsprop":
        return opt.RMSprop(rho=rho, epsilon=epsilon, **kw)
    adam_kw = {"beta_1": beta_1, "beta_2": beta_2, "epsilon": epsilon, **kw}
    if name == "adamw":
        check_positive("weight_decay", weight_decay, strict=False)
        return opt.AdamW(weight_decay=weight_decay, **adam_kw)
    return {"adam": opt.Adam, "nadam": opt.Nadam, "adamax": opt.Adamax}[name](**adam_kw)
