"""LeNet-5, classic and modern.

LeCun, Bottou, Bengio and Haffner, "Gradient-Based Learning Applied to Document Recognition",
Proc. IEEE 1998 (notes 000 Unit IV, Table 13-1): a 32x32 input, C1 6@5x5, S2 2x2 subsampling,
C3 16@5x5, S4, C5 120@5x5, F6 84, output 10; tanh everywhere, no padding after the input.

* ``lenet5``: the classic form. S2/S4 are *trainable* subsampling (the 2x2 mean times a learnable
  coefficient plus a learnable bias, one of each per map, then tanh), C3 optionally uses the
  paper's partial connection table (Table I: 60 of the 96 map pairs) and the output optionally is
  the paper's Euclidean RBF layer. Defaults are the paper's: 60,840 parameters with 10 classes
  (156 + 12 + 1,516 + 32 + 48,120 + 10,164 + 840), the "60 thousand" of notes 002.
* ``lenet5_modern``: ReLU, 2x2 max pooling, full C3 and a softmax output: the widely quoted
  61,706 parameters.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from dlcourse.models import _common
from dlcourse.models.registry import register_model

# 1. Spec: maps of C1, C3, C5; units of F6; LeCun's Table I (which S2 maps feed each C3 map).
SPEC = {"c1": 6, "c3": 16, "c5": 120, "f6": 84}
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2),
    (1, 2, 3),
    (2, 3, 4),
    (3, 4, 5),
    (4, 5, 0),
    (5, 0, 1),
    (0, 1, 2, 3),
    (1, 2, 3, 4),
    (2, 3, 4, 5),
    (3, 4, 5, 0),
    (4, 5, 0, 1),
    (5, 0, 1, 2),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)
SIZE_OPS = [
    ("c1", 5, 1, "valid"),
    ("s2", 2, 2, "valid"),
    ("c3", 5, 1, "valid"),
    ("s4", 2, 2, "valid"),
    ("c5", 5, 1, "valid"),
]


# 2. Layers of the classic form (serializable) and block helpers.
@keras.saving.register_keras_serializable(package="dlcourse")
class TrainableSubsampling(keras.layers.Layer):
    """LeNet-5's S layers: ``coefficient[k] * mean_2x2(x[..., k]) + bias[k]`` per map k.

    Args:
        pool_size: side of the non-overlapping averaging window (and its stride).
    """

    def __init__(self, pool_size: int = 2, **kwargs):
        super().__init__(**kwargs)
        _common.check_positive("pool_size", pool_size)
        self.pool_size = pool_size

    def build(self, input_shape):
        maps = input_shape[-1]
        self.coefficient = self.add_weight(shape=(maps,), initializer="ones", name="coefficient")
        self.bias = self.add_weight(shape=(maps,), initializer="zeros", name="bias")

    def call(self, inputs):
        mean = ops.average_pool(inputs, self.pool_size, self.pool_size, padding="valid")
        return mean * self.coefficient + self.bias

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        p = self.pool_size
        return (b, None if h is None else h // p, None if w is None else w // p, c)

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": self.pool_size}


@keras.saving.register_keras_serializable(package="dlcourse")
class PartialConv2D(keras.layers.Layer):
    """A VALID conv where output map k sees only the input maps in ``table[k]``.

    Only the connected filter slices are parameters: the kernel is stored as one
    ``(f, f, connections)`` tensor and scattered into the full ``(f, f, in, out)`` kernel with a
    fixed 0/1 matrix, so ``count_params`` is ``f * f * connections + out``.

    Args:
        table: for each output map, the indices of the input maps it reads.
        kernel_size: side of the square filters.
    """

    def __init__(self, table, kernel_size: int = 5, **kwargs):
        super().__init__(**kwargs)
        _common.check_positive("kernel_size", kernel_size)
        if not table or any(len(row) == 0 for row in table):
            raise ValueError(f"`table` must list at least one input per map. Received: {table!r}")
        self.table = [list(map(int, row)) for row in table]
        self.kernel_size = kernel_size

    def build(self, input_shape):
        n_in, n_out = input_shape[-1], len(self.table)
        if max(max(row) for row in self.table) >= n_in:
            raise ValueError(f"`table` names an input map >= {n_in}. Received: {self.table}")
        pairs = [(i, k) for k, row in enumerate(self.table) for i in row]
        scatter = np.zeros((len(pairs), n_in * n_out), np.float32)
        for c, (i, k) in enumerate(pairs):
            scatter[c, i * n_out + k] = 1.0
        self._scatter, self._shape = scatter, (self.kernel_size, self.kernel_size, n_in, n_out)
        f = self.kernel_size
        self.kernel = self.add_weight(
            shape=(f, f, len(pairs)), name="kernel", initializer="glorot_uniform"
        )
        self.bias = self.add_weight(shape=(n_out,), initializer="zeros", name="bias")

    def call(self, inputs):
        full = ops.reshape(
            ops.matmul(self.kernel, ops.cast(self._scatter, self.kernel.dtype)), self._shape
        )  # (f, f, in, out), zero where not connected
        return ops.conv(inputs, ops.cast(full, inputs.dtype), padding="valid") + ops.cast(
            self.bias, inputs.dtype
        )

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        f = self.kernel_size - 1
        return (b, None if h is None else h - f, None if w is None else w - f, len(self.table))

    def get_config(self) -> dict:
        return {**super().get_config(), "table": self.table, "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="dlcourse")
class EuclideanRBF(keras.layers.Layer):
    """LeNet-5's output: unit i outputs ``sum_j (x_j - w_ij)^2``, small for a good match.

    Args:
        units: number of classes.
    """

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        _common.check_positive("units", units)
        self.units = units

    def build(self, input_shape):
        self.centers = self.add_weight(
            shape=(input_shape[-1], self.units),
            name="centers",
            # Near zero, so every class starts at a similar distance and softmax(-distance)
            # is not saturated (U(-1, 1) centres, like the paper's +-1 bitmaps, trained to
            # 0.93 test accuracy on digits32 vs 0.97 for this; seed 42, lab 51 settings).
            initializer=keras.initializers.RandomNormal(stddev=0.1),
        )

    def call(self, inputs):
        # ||x - w||^2 = ||x||^2 - 2 x.w + ||w||^2, for every (instance, class) at once.
        x2 = ops.sum(ops.square(inputs), axis=-1, keepdims=True)
        w2 = ops.sum(ops.square(self.centers), axis=0)
        return x2 - 2 * ops.matmul(inputs, self.centers) + w2

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


# 3. The builder.
def _build_lenet(
    *,
    include_top: bool = True,
    input_shape=(32, 32, 1),
    pooling: str | None = None,
    classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "lenet5",
    width: float = 1.0,
    modern: bool = False,
    connection_table: bool = True,
    rbf_output: bool = True,
) -> keras.Model:
    """LeNet-5. ``modern=True``: ReLU, max pooling, full C3, dense softmax output.

    Classic form: ``connection_table`` (C3 per Table I; needs ``width=1``), ``rbf_output``
    (the model outputs ``classifier_activation(-distance)``, so softmax gives class
    probabilities that grow as the RBF distance shrinks). Shared arguments: see
    :mod:`dlcourse.models._common`.
    """
    input_shape = _common.check_args(
        include_top=include_top,
        input_shape=input_shape,
        pooling=pooling,
        classes=classes,
        width=width,
    )
    _common.check_input_size(name, input_shape, SIZE_OPS)
    act = "relu" if modern else "tanh"
    s = lambda c: _common.scaled(c, width)
    table = connection_table and not modern and width == 1.0  # Table I is for 6 -> 16 maps

    def subsample(x, label):
        if modern:
            return layers.MaxPooling2D(2, name=label)(x)
        x = TrainableSubsampling(2, name=label)(x)
        return layers.Activation("tanh", name=f"{label}_tanh")(x)

    inputs = keras.Input(input_shape)
    # Block 1: C1 and S2.
    x = layers.Conv2D(s(SPEC["c1"]), 5, activation=act, name="c1")(inputs)
    x = subsample(x, "s2")
    # Block 2: C3 (full or partial connections) and S4.
    if table:
        x = PartialConv2D(C3_TABLE, 5, name="c3")(x)
        x = layers.Activation(act, name="c3_tanh")(x)
    else:
        x = layers.Conv2D(s(SPEC["c3"]), 5, activation=act, name="c3")(x)
    x = subsample(x, "s4")
    # Block 3: C5 (a 5x5 conv that sees the whole 5x5 map at 32x32 input).
    x = layers.Conv2D(s(SPEC["c5"]), 5, activation=act, name="c5")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(s(SPEC["f6"]), activation=act, name="f6")(x)
        if rbf_output and not modern:
            x = EuclideanRBF(classes, name="rbf")(x)
            x = layers.Rescaling(-1.0, name="negative_distance")(x)
            x = layers.Activation(classifier_activation, dtype="float32", name="predictions")(x)
        else:
            x = _common.classifier(x, classes, classifier_activation)
    else:
        x = _common.feature_pooling(x, pooling)
    return _common.model(inputs, x, name)


# 4. Entrypoints.
@register_model
def lenet5(**kwargs) -> keras.Model:
    """Classic LeNet-5 (tanh, trainable subsampling, C3 table, RBF output): 60,840 params."""
    return _build_lenet(**{"name": "lenet5", **kwargs})


@register_model
def lenet5_modern(**kwargs) -> keras.Model:
    """Modern LeNet-5 (ReLU, max pooling, softmax): 61,706 parameters."""
    return _build_lenet(**{"name": "lenet5_modern", **kwargs, "modern": True})
