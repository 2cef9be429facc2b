"""Max-norm regularization, in both forms the notes describe.

Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from Overfitting",
JMLR 2014, section 5.1. For each neuron the incoming weight vector ``w`` is kept inside the
ball ``||w||_2 <= r`` by clipping after every training step: ``w <- w * r / ||w||_2`` when the
norm exceeds ``r`` (notes 000 Unit III, 004). TensorFlow has no off-the-shelf max-norm
*regularizer*, so dlcourse provides

* :class:`MaxNorm`, a Keras weight constraint (Keras applies constraints right after each
  optimizer step), and
* :class:`MaxNormClipper`, a callback that clips the chosen layers' kernels after each training
  batch, the way the notes' TF1 code ran ``clip_weights`` after every ``training_op``.

Both call :func:`clip_by_max_norm`, so they are the same operation; ``keras.constraints.MaxNorm``
differs slightly (it rescales by ``r / (eps + ||w||)``, so norms land just below ``r``).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from dlcourse.utils import check_positive


def clip_by_max_norm(w, max_value: float, axis: int | Sequence[int] = 0):
    """``w`` with every slice along ``axis`` clipped to l2 norm at most ``max_value``.

    ``axis=0`` is right for a ``Dense`` kernel (n_inputs, n_units): one norm per unit. For a
    ``Conv2D`` kernel (h, w, in, out) use ``axis=(0, 1, 2)``.
    """
    if isinstance(max_value, (int, float)):
        check_positive("max_value", max_value)
    norms = ops.sqrt(ops.sum(ops.square(w), axis=axis, keepdims=True))
    scale = ops.minimum(1.0, max_value / ops.maximum(norms, 1e-12))
    return w * ops.cast(scale, w.dtype)


def _check_axis(axis):
    if isinstance(axis, list):
        axis = tuple(axis)
    if not isinstance(axis, (int, tuple)):
        raise ValueError(f"`axis` must be an int or a tuple of ints. Received: axis={axis!r}")  # noqa: TRY004
    return axis


@keras.saving.register_keras_serializable(package="dlcourse")
class MaxNorm(keras.constraints.Constraint):
    """Weight constraint ``||w||_2 <= max_value`` per neuron (slices along ``axis``).

    Args:
        max_value: the max-norm hyperparameter r (> 0); smaller r regularizes more.
        axis: axes that hold one neuron's incoming weights (0 for ``Dense``).
    """

    def __init__(self, max_value: float = 1.0, axis: int | Sequence[int] = 0):
        check_positive("max_value", max_value)
        self.max_value = max_value
        self.axis = _check_axis(axis)

    def __call__(self, w):
        return clip_by_max_norm(w, self.max_value, self.axis)

    def get_config(self) -> dict:
        axis = list(self.axis) if isinstance(self.axis, tuple) else self.axis
        return {"max_value": self.max_value, "axis": axis}


@keras.saving.register_keras_serializable(package="dlcourse")
class MaxNormClipper(keras.callbacks.Callback):
    """Callback form: after every training batch, clip the kernels of ``layers`` to ``max_value``.

    Args:
        max_value: r (> 0).
        layers: names of the layers to clip; ``None`` clips every layer with a ``kernel``.
        axis: as in :class:`MaxNorm`.
    """

    def __init__(
        self,
        max_value: float = 1.0,
        layers: Sequence[str] | None = None,
        axis: int | Sequence[int] = 0,
    ):
        super().__init__()
        check_positive("max_value", max_value)
        self.max_value = max_value
        self.layers = None if layers is None else list(layers)
        self.axis = _check_axis(axis)

    def _kernels(self):
        for layer in self.model.layers:
            if hasattr(layer, "kernel") and (self.layers is None or layer.name in self.layers):
                yield layer.kernel

    def on_train_batch_end(self, batch, logs=None):
        for kernel in self._kernels():
            kernel.assign(clip_by_max_norm(kernel.value, self.max_value, self.axis))

    def get_config(self) -> dict:
        axis = list(self.axis) if isinstance(self.axis, tuple) else self.axis
        return {"max_value": self.max_value, "layers": self.layers, "axis": axis}
