"""Diagnostics: bias/variance from train and dev error, EWMA, per-layer gradient norms, sparsity.

Notes 003 (bias and variance; exponentially weighted averages), 000 Unit III (vanishing and
exploding gradients; sparse models).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from dlcourse.utils import check_in_range, check_positive


def bias_variance(
    train_error: float, dev_error: float, base_error: float = 0.0, tolerance: float = 0.02
) -> dict:
    """The notes' table: compare train error with the base (Bayes/human) error and dev error
    with train error.

    ==========  =========  ===============================
    train       dev        diagnosis
    ==========  =========  ===============================
    1 %         11 %       high variance
    15 %        16 %       high bias
    15 %        30 %       high bias and high variance
    0.5 %       1 %        low bias and low variance
    ==========  =========  ===============================

    Returns:
        dict with ``avoidable_bias``, ``variance``, booleans ``high_bias``/``high_variance``,
        ``diagnosis`` and the notes' ``remedy``.
    """
    for name, v in (
        ("train_error", train_error),
        ("dev_error", dev_error),
        ("base_error", base_error),
    ):
        check_in_range(name, v, 0.0, 1.0, closed="[]")
    check_positive("tolerance", tolerance)
    bias, variance = train_error - base_error, dev_error - train_error
    high_bias, high_var = bias > tolerance, variance > tolerance
    diagnosis = {
        (False, False): "low bias and low variance",
        (True, False): "high bias",
        (False, True): "high variance",
        (True, True): "high bias and high variance",
    }[(high_bias, high_var)]
    remedy = []
    if high_bias:
        remedy.append("bigger network, train longer, better optimizer or architecture")
    if high_var:
        remedy.append("more data, regularization (l2, dropout, augmentation), early stopping")
    return {
        "avoidable_bias": bias,
        "variance": variance,
        "high_bias": high_bias,
        "high_variance": high_var,
        "diagnosis": diagnosis,
        "remedy": "; ".join(remedy) or "done: deploy",
    }


def ewma(values: Sequence[float], beta: float = 0.9, bias_correction: bool = True) -> np.ndarray:
    """``v_t = beta v_{t-1} + (1 - beta) theta_t`` from ``v_0 = 0``; divided by
    ``1 - beta^t`` when ``bias_correction`` (so early values are not pulled toward 0)."""
    check_in_range("beta", beta, 0.0, 1.0, closed="[)")
    values = np.asarray(values, np.float64)
    out, v = np.empty_like(values), np.zeros(values.shape[1:])
    for t, theta in enumerate(values, 1):
        v = beta * v + (1 - beta) * theta
        out[t - 1] = v / (1 - beta**t) if bias_correction else v
    return out


def gradient_norms(model: keras.Model, x, y, loss=None) -> dict[str, float]:
    """l2 norm of the loss gradient w.r.t. each layer's kernel, bottom to top (one batch)."""
    loss_fn = loss or model.loss
    if isinstance(loss_fn, str):
        loss_fn = keras.losses.get(loss_fn)
    with tf.GradientTape() as tape:
        value = tf.reduce_mean(loss_fn(y, model(x, training=True)))  # mean over the batch
    kernels = [(layer.name, layer.kernel) for layer in model.layers if hasattr(layer, "kernel")]
    grads = tape.gradient(value, [k for _, k in kernels])
    return {name: float(tf.norm(g)) for (name, _), g in zip(kernels, grads)}


def prune_small_weights(model: keras.Model, threshold: float) -> float:
    """Zero every kernel entry with ``|w| < threshold`` in place; return the fraction of zeros
    over all kernels (the notes' first recipe for sparse models)."""
    check_positive("threshold", threshold, strict=False)
    zeros = total = 0
    for layer in model.layers:
        if hasattr(layer, "kernel"):
            w = keras.ops.convert_to_numpy(layer.kernel)
            w = np.where(np.abs(w) < threshold, 0.0, w).astype(w.dtype)
            layer.kernel.assign(w)
            zeros, total = zeros + int((w == 0).sum()), total + w.size
    return zeros / max(1, total)


def sparsity(model: keras.Model) -> float:
    """Fraction of kernel entries that are exactly zero."""
    ws = [
        keras.ops.convert_to_numpy(layer.kernel).ravel()
        for layer in model.layers
        if hasattr(layer, "kernel")
    ]
    w = np.concatenate(ws) if ws else np.zeros(1)
    return float((w == 0).mean())


def precision_recall_f1(y_true, y_pred, *, average: str | None = "macro") -> dict:
    """Precision, recall and F1 = 2 / (1/P + 1/R) per class (notes 003, "Single number
    evaluation metric"), from the confusion counts; checked against scikit-learn's
    ``precision_recall_fscore_support`` (``zero_division=0``) in the tests.

    Args:
        y_true, y_pred: integer labels.
        average: ``"macro"`` (unweighted mean over classes), ``"micro"`` (pooled counts) or
            ``None`` (one value per class, classes sorted).

    Returns:
        dict with ``precision``, ``recall``, ``f1`` (floats, or lists when ``average=None``).
    """
    if average not in ("macro", "micro", None):
        raise ValueError(
            f"`average` must be one of 'macro', 'micro', None. Received: average={average!r}"
        )
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "`y_pred` must have as many labels as `y_true`. "
            f"Received: y_pred of length {len(y_pred)}, y_true of length {len(y_true)}"
        )
    classes = np.union1d(y_true, y_pred)
    tp = np.array([np.sum((y_pred == c) & (y_true == c)) for c in classes], np.float64)
    predicted = np.array([np.sum(y_pred == c) for c in classes], np.float64)
    actual = np.array([np.sum(y_true == c) for c in classes], np.float64)
    if average == "micro":
        tp, predicted, actual = (a.sum(keepdims=True) for a in (tp, predicted, actual))
    p = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    r = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    both = (p > 0) & (r > 0)
    f1 = np.zeros_like(p)
    f1[both] = 2 / (1 / p[both] + 1 / r[both])  # the harmonic mean of P and R
    if average is None:
        return {"precision": p.tolist(), "recall": r.tolist(), "f1": f1.tolist()}
    return {"precision": float(p.mean()), "recall": float(r.mean()), "f1": float(f1.mean())}


def scrambled_images(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Out-of-distribution inputs with in-distribution pixel values: each image's pixels
    shuffled across positions (same intensities, no digit shape)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x)
    flat = x.reshape(len(x), -1).copy()
    for row in flat:
        rng.shuffle(row)
    return flat.reshape(x.shape)


def mc_spread_in_vs_out(model: keras.Model, x, n_samples: int = 30, seed: int = 0) -> dict:
    """MC dropout's predictive spread on test inputs and on :func:`scrambled_images` of them.

    The spread of an input is the standard deviation, over ``n_samples`` stochastic passes, of
    the probability of the class the averaged prediction picks; a model that knows what it
    does not know spreads more on the scrambled inputs.
    """
    from dlcourse.layers.mc_dropout import mc_predict

    def spread(inputs):
        mean, std = mc_predict(model, inputs, n_samples=n_samples)
        return float(std[np.arange(len(mean)), mean.argmax(1)].mean())

    inside, outside = spread(x), spread(scrambled_images(x, seed))
    return {"mean_std_test": round(inside, 4), "mean_std_ood": round(outside, 4),
            "ood_over_test": round(outside / max(inside, 1e-12), 3)}  # fmt: skip
