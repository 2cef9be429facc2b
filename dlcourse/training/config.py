"""The execution switches every training run takes: strategy, precision, XLA, steps per call.

Labs inherit these fields through :class:`dlcourse.labkit.TrainConfig` (which adds the lab's
own ``out_dir`` and ``quick``); library code takes a :class:`TrainConfig` and never the lab
harness. Each field documents itself (its help is also its ``--flag`` help).
"""

from __future__ import annotations

from dataclasses import dataclass

from dlcourse.utils import arg

STRATEGIES = ("default", "mirrored", "multi-worker")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
JIT_FLAGS = ("auto", "on", "off")


@dataclass(frozen=True)
class TrainConfig:
    """How :func:`dlcourse.training.fit` runs (not what it trains)."""

    seed: int = arg(42, "seed for Python, NumPy and TensorFlow", check="non_negative")
    strategy: str = arg("default", "distribution strategy", choices=STRATEGIES)
    precision: str = arg(
        "auto", "dtype policy; auto = mixed_float16 on a GPU, float32 on CPU", choices=PRECISIONS
    )
    jit_compile: str = arg(
        "auto", "XLA compilation; auto = on with a GPU, off on CPU", choices=JIT_FLAGS
    )
    steps_per_execution: int = arg(1, "training steps run per tf.function call", check="positive")
