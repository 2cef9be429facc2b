"""Weight-penalty helpers: the notes' ``functools.partial`` pattern for l1, l2 and l1_l2.

Many layers share one regularizer, activation and initializer; instead of repeating them
(notes 000 Unit III: "use functools.partial()") build the layer factory once::

    RegularizedDense = regularized_dense("l2", 0.01)
    model = keras.Sequential([RegularizedDense(300), RegularizedDense(100),
                              RegularizedDense(10, activation="softmax")])
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import keras

from dlcourse.utils import check_choice, check_positive

PENALTIES = ("l1", "l2", "l1_l2")


def penalty(kind: str = "l2", factor: float = 0.01) -> keras.regularizers.Regularizer:
    """``keras.regularizers.L1/L2/L1L2`` by name (l1_l2 uses ``factor`` for both)."""
    check_choice("kind", kind, PENALTIES)
    check_positive("factor", factor, strict=False)
    if kind == "l1":
        return keras.regularizers.L1(factor)
    if kind == "l2":
        return keras.regularizers.L2(factor)
    return keras.regularizers.L1L2(l1=factor, l2=factor)


def regularized_dense(
    kind: str = "l2",
    factor: float = 0.01,
    activation: str = "elu",
    kernel_initializer: str = "he_normal",
    **kwargs,
) -> Callable[..., keras.layers.Dense]:
    """A ``functools.partial`` of ``keras.layers.Dense`` with the shared settings baked in."""
    return functools.partial(
        keras.layers.Dense,
        activation=activation,
        kernel_initializer=kernel_initializer,
        kernel_regularizer=penalty(kind, factor),
        **kwargs,
    )
