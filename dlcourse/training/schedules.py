"""Learning-rate schedules of the notes, as serializable ``LearningRateSchedule``s.

Notes 000 Unit III ("Learning rate scheduling"), 003 (learning-rate decay). ``t`` is the
optimizer's step (iteration) counter.

* piecewise constant: ``keras.optimizers.schedules.PiecewiseConstantDecay`` (Keras has it).
* performance scheduling: ``keras.callbacks.ReduceLROnPlateau`` (a callback: it needs the
  validation loss), see :func:`performance_scheduling`.
* exponential ``eta0 10^(-t/r)``: :class:`ExponentialSchedule`; equals
  ``ExponentialDecay(eta0, decay_steps=r, decay_rate=0.1)``.
* power ``eta0 (1 + t/r)^(-c)``: :class:`PowerSchedule`; with c = 1 equals
  ``InverseTimeDecay(eta0, decay_steps=r, decay_rate=1)`` (Keras has only c = 1).
* 1cycle (Smith, "A disciplined approach to neural network hyper-parameters", 2018):
  :class:`OneCycle`.

Notes 003's three decay rules count epochs, not steps (``epoch_num`` from 1, as in Ng's course,
where ``1 / (1 + 1 * epoch_num) * 0.2`` gives 0.1, 0.067, 0.05, 0.04):
:class:`EpochInverseTimeDecay` ``eta0 / (1 + rate * epoch_num)`` (unlike Keras'
``InverseTimeDecay``, constant within an epoch and already divided at the first one),
:class:`EpochExponentialDecay` ``base**epoch_num * eta0`` (the notes' base 0.95) and
:class:`EpochInverseSqrtDecay` ``k / sqrt(epoch_num) * eta0``. Each takes ``steps_per_epoch`` so
an optimizer can use it (``epoch_num = 1 + step // steps_per_epoch``).
:func:`notes_piecewise` is notes 000's piecewise example: 0.1, then 0.001 after 50 epochs.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from dlcourse.utils import check_choice, check_in_range, check_positive

SCHEDULES = (
    "constant", "piecewise", "exponential", "power", "1cycle", "inverse_time", "epoch_exponential",
    "inverse_sqrt",
)  # fmt: skip


@keras.saving.register_keras_serializable(package="dlcourse")
class ExponentialSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``eta(t) = eta0 * 10**(-t / r)``: divided by 10 every ``r`` steps."""

    def __init__(self, eta0: float, r: float):
        check_positive("eta0", eta0)
        check_positive("r", r)
        self.eta0 = eta0
        self.r = r

    def __call__(self, step):
        t = ops.cast(step, "float32")
        return self.eta0 * ops.power(10.0, -t / self.r)

    def get_config(self) -> dict:
        return {"eta0": self.eta0, "r": self.r}


@keras.saving.register_keras_serializable(package="dlcourse")
class PowerSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``eta(t) = eta0 * (1 + t / r)**(-c)``, any ``c`` > 0 (the notes: c is typically 1)."""

    def __init__(self, eta0: float, r: float, c: float = 1.0):
        check_positive("eta0", eta0)
        check_positive("r", r)
        check_positive("c", c)
        self.eta0 = eta0
        self.r = r
        self.c = c

    def __call__(self, step):
        t = ops.cast(step, "float32")
        return self.eta0 * ops.power(1.0 + t / self.r, -self.c)

    def get_config(self) -> dict:
        return {"eta0": self.eta0, "r": self.r, "c": self.c}


@keras.saving.register_keras_serializable(package="dlcourse")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """1cycle: linear ramp ``max_rate / div`` -> ``max_rate`` over the first half of
    ``total_steps`` (minus the tail), back down over the second half, then a final
    ``tail_fraction`` of the steps annealing linearly to ``max_rate / div / 1000``.
    """

    def __init__(
        self, max_rate: float, total_steps: int, div: float = 10.0, tail_fraction: float = 0.1
    ):
        check_positive("max_rate", max_rate)
        check_positive("total_steps", total_steps)
        check_positive("div", div)
        check_in_range("tail_fraction", tail_fraction, 0.0, 1.0, closed="[)")
        self.max_rate = max_rate
        self.total_steps = total_steps
        self.div = div
        self.tail_fraction = tail_fraction

    def __call__(self, step):
        t = ops.cast(step, "float32")
        start = self.max_rate / self.div
        half = max(1.0, self.total_steps * (1 - self.tail_fraction) / 2)
        end = start / 1000.0
        up = start + (self.max_rate - start) * t / half
        down = self.max_rate - (self.max_rate - start) * (t - half) / half
        tail_len = max(1.0, self.total_steps - 1 - 2 * half)  # reach `end` at the last step
        tail = start - (start - end) * ops.minimum(1.0, (t - 2 * half) / tail_len)
        return ops.where(t < half, up, ops.where(t < 2 * half, down, tail))

    def get_config(self) -> dict:
        return {
            "max_rate": self.max_rate,
            "total_steps": self.total_steps,
            "div": self.div,
            "tail_fraction": self.tail_fraction,
        }


class _EpochDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Base of the notes 003 rules: ``eta0 * factor(epoch_num)``, ``epoch_num`` from 1."""

    def __init__(self, eta0: float, steps_per_epoch: int = 1):
        check_positive("eta0", eta0)
        check_positive("steps_per_epoch", steps_per_epoch)
        self.eta0 = eta0
        self.steps_per_epoch = steps_per_epoch

    def __call__(self, step):
        epoch = 1.0 + ops.floor(ops.cast(step, "float32") / self.steps_per_epoch)
        return self.eta0 * self.factor(epoch)

    def get_config(self) -> dict:
        return {"eta0": self.eta0, "steps_per_epoch": self.steps_per_epoch}


@keras.saving.register_keras_serializable(package="dlcourse")
class EpochInverseTimeDecay(_EpochDecay):
    """Notes 003: ``eta = 1 / (1 + decay_rate * epoch_num) * eta0``."""

    def __init__(self, eta0: float, decay_rate: float = 1.0, steps_per_epoch: int = 1):
        super().__init__(eta0, steps_per_epoch)
        check_positive("decay_rate", decay_rate, strict=False)
        self.decay_rate = decay_rate

    def factor(self, epoch):
        return 1.0 / (1.0 + self.decay_rate * epoch)

    def get_config(self) -> dict:
        return {**super().get_config(), "decay_rate": self.decay_rate}


@keras.saving.register_keras_serializable(package="dlcourse")
class EpochExponentialDecay(_EpochDecay):
    """Notes 003: ``eta = base**epoch_num * eta0`` (the notes: base 0.95)."""

    def __init__(self, eta0: float, base: float = 0.95, steps_per_epoch: int = 1):
        super().__init__(eta0, steps_per_epoch)
        check_in_range("base", base, 0.0, 1.0, closed="(]")
        self.base = base

    def factor(self, epoch):
        return ops.power(self.base, epoch)

    def get_config(self) -> dict:
        return {**super().get_config(), "base": self.base}


@keras.saving.register_keras_serializable(package="dlcourse")
class EpochInverseSqrtDecay(_EpochDecay):
    """Notes 003: ``eta = k / sqrt(epoch_num) * eta0``."""

    def __init__(self, eta0: float, k: float = 1.0, steps_per_epoch: int = 1):
        super().__init__(eta0, steps_per_epoch)
        check_positive("k", k)
        self.k = k

    def factor(self, epoch):
        return self.k / ops.sqrt(epoch)

    def get_config(self) -> dict:
        return {**super().get_config(), "k": self.k}


def notes_piecewise(steps_per_epoch: int = 1, epochs: int = 50):
    """Notes 000: ``eta0 = 0.1`` at first, ``eta1 = 0.001`` after ``epochs`` (50) epochs."""
    check_positive("steps_per_epoch", steps_per_epoch)
    check_positive("epochs", epochs)
    boundary = epochs * steps_per_epoch - 1  # PiecewiseConstantDecay: step <= boundary -> 0.1
    return keras.optimizers.schedules.PiecewiseConstantDecay([boundary], [0.1, 0.001])


def create_schedule(
    name: str,
    eta0: float = 0.01,
    *,
    steps_per_epoch: int = 1,
    epochs: int = 10,
    r: float | None = None,
    c: float = 1.0,
    decay_rate: float = 1.0,
    base: float = 0.95,
    k: float = 1.0,
    boundaries: Sequence[int] | None = None,
    values: Sequence[float] | None = None,
):
    """A schedule (or a constant float) by name, sized to a run of ``epochs`` epochs.

    Defaults: exponential and power decay ``r`` = a third of the run (in steps); piecewise
    constant drops ``eta0`` by 10 at half and three quarters of the run; 1cycle peaks at
    ``eta0``; the notes 003 epoch rules take ``decay_rate``, ``base`` and ``k``.
    """
    check_choice("name", name, SCHEDULES)
    check_positive("eta0", eta0)
    check_positive("steps_per_epoch", steps_per_epoch)
    check_positive("epochs", epochs)
    total = steps_per_epoch * epochs
    r = max(1.0, total / 3) if r is None else r
    if name == "constant":
        return eta0
    if name == "exponential":
        return ExponentialSchedule(eta0, r)
    if name == "power":
        return PowerSchedule(eta0, r, c)
    if name == "1cycle":
        return OneCycle(eta0, total)
    if name == "inverse_time":
        return EpochInverseTimeDecay(eta0, decay_rate, steps_per_epoch)
    if name == "epoch_exponential":
        return EpochExponentialDecay(eta0, base, steps_per_epoch)
    if name == "inverse_sqrt":
        return EpochInverseSqrtDecay(eta0, k, steps_per_epoch)
    boundaries = list(boundaries or [total // 2, 3 * total // 4])
    values = list(values or [eta0 * 10.0**-i for i in range(len(boundaries) + 1)])
    if len(values) != len(boundaries) + 1:
        raise ValueError(
            f"`values` must have len(boundaries) + 1 = {len(boundaries) + 1} "
            f"entries. Received: values={values!r}"
        )
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def performance_scheduling(
    factor: float = 0.5, patience: int = 3, monitor: str = "val_loss", **kwargs
):
    """Performance scheduling (notes): multiply eta by ``factor`` when ``monitor`` stalls."""
    check_in_range("factor", factor, 0.0, 1.0, closed="()")
    check_positive("patience", patience, strict=False)
    return keras.callbacks.ReduceLROnPlateau(
        monitor=monitor, factor=factor, patience=patience, **kwargs
    )


def schedule_values(schedule, steps: int) -> list[float]:
    """``eta(t)`` for t = 0 .. steps-1 (plots and tests)."""
    if isinstance(schedule, (int, float)):
        return [float(schedule)] * steps
    t = ops.arange(steps)
    return [float(v) for v in ops.convert_to_numpy(schedule(t))]


def notes_decay_examples(eta0: float = 0.2, epochs: int = 10, steps_per_epoch: int = 1) -> dict:
    """The learning rate per epoch (epoch_num 1 .. epochs) of notes 003's three decay rules
    (decay_rate 1, base 0.95, k 1) and notes 000's piecewise example (0.1, then 0.001 from
    epoch 51), each read off its schedule object at the epoch's first step."""
    rules = {
        "1/(1 + epoch) eta0": EpochInverseTimeDecay(eta0, 1.0, steps_per_epoch),
        "0.95^epoch eta0": EpochExponentialDecay(eta0, 0.95, steps_per_epoch),
        "1/sqrt(epoch) eta0": EpochInverseSqrtDecay(eta0, 1.0, steps_per_epoch),
    }
    first_steps = [e * steps_per_epoch for e in range(epochs)]
    per_epoch = {
        name: [round(schedule_values(s, first_steps[-1] + 1)[t], 6) for t in first_steps]
        for name, s in rules.items()
    }
    piecewise = schedule_values(notes_piecewise(steps_per_epoch), 51 * steps_per_epoch)
    return {
        "eta0": eta0,
        "per_epoch": per_epoch,
        "piecewise_epoch_50": round(piecewise[49 * steps_per_epoch], 6),  # 0.1
        "piecewise_epoch_51": round(piecewise[50 * steps_per_epoch], 6),  # 0.001
    }
