"""Training: the one ``fit`` every lab trains through, plus optimizers, schedules, callbacks."""

from dlcourse.training.trainer import fit, time_to

__all__ = ["fit", "time_to"]
