"""The GPU-path switches: dtype policy (mixed precision), XLA, steps per execution.

Micikevicius et al., "Mixed Precision Training", ICLR 2018: keep float32 master weights, compute
in float16 (with loss scaling) or bfloat16, and keep numerically delicate layers in float32.

Every switch defaults to ``"auto"``: on where it helps (a GPU), off where it hurts (a CPU runs
float16/bfloat16 matmuls and XLA-compiled small graphs *slower* than plain float32).

===================  ======================  ==========================================
switch               auto on a GPU           auto on a CPU
===================  ======================  ==========================================
``precision``        ``mixed_float16``       ``float32``
``jit_compile``      on (XLA)                off
prefetch to device   on (``/GPU:0``)         off
===================  ======================  ==========================================

Prefetching to the device lives in the loader (:func:`dlcourse.data.loader.to_device`);
:func:`dlcourse.training.fit` calls it.

Under a mixed policy Keras keeps variables in float32 and the builders put the last activation
in float32 (``classifier_activation`` with ``dtype="float32"``), so the softmax and the loss see
float32. :func:`low_precision_outputs` lists the outputs that miss this.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras
import tensorflow as tf

from dlcourse.training.config import JIT_FLAGS, PRECISIONS
from dlcourse.utils import check_choice, check_positive


def has_gpu() -> bool:
    """Whether TensorFlow sees at least one GPU."""
    return bool(tf.config.list_physical_devices("GPU"))


def resolve_precision(name: str) -> str:
    """The Keras dtype policy name for a ``precision`` switch (``auto`` resolved)."""
    check_choice("precision", name, PRECISIONS)
    if name == "auto":
        return "mixed_float16" if has_gpu() else "float32"
    return name


def resolve_jit(flag: str | bool) -> bool:
    """``jit_compile`` switch -> bool (``auto``: XLA on with a GPU only)."""
    if isinstance(flag, bool):
        return flag
    check_choice("jit_compile", flag, JIT_FLAGS)
    return has_gpu() if flag == "auto" else flag == "on"


def check_steps_per_execution(steps: int) -> int:
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise ValueError(  # noqa: TRY004 (the project's one error type)
            f"`steps_per_execution` must be a positive int. Received: steps_per_execution={steps!r}"
        )
    check_positive("steps_per_execution", steps)
    return steps


@contextlib.contextmanager
def policy(name: str) -> Iterator[keras.DTypePolicy]:
    """Set the global dtype policy (``auto`` resolved) for a block, then restore the old one.

    Layers take the global policy when they are *created*, so models are built inside it::

        with policy("mixed_bfloat16"):
            model = build()
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(resolve_precision(name))
    try:
        yield keras.mixed_precision.global_policy()
    finally:
        keras.mixed_precision.set_global_policy(previous)


def configure(model: keras.Model, *, jit_compile: bool, steps_per_execution: int) -> keras.Model:
    """Apply XLA and steps-per-execution to a compiled model.

    Keras 3 reads both when it builds its train function, and ``compile()`` resets that function;
    so setting the attributes after ``compile()`` and dropping any cached function is enough (no
    recompile, the optimizer state is kept).
    """
    model.jit_compile = jit_compile  # Keras warns and keeps False if a layer cannot be compiled
    model.steps_per_execution = check_steps_per_execution(steps_per_execution)
    model.train_function = model.test_function = model.predict_function = None
    return model


def low_precision_outputs(model: keras.Model) -> list[str]:
    """Names of model outputs that are not float32 (they should be, under mixed precision)."""
    return [
        getattr(t, "name", str(i))
        for i, t in enumerate(keras.tree.flatten(model.outputs))
        if keras.backend.standardize_dtype(t.dtype) != "float32"
    ]
