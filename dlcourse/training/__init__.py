"""Training: the one ``fit`` every lab trains through, plus optimizers, schedules, callbacks.

``fit`` and ``time_to`` are imported here; the other modules load on first use
(``dlcourse.training.schedules``, ``dlcourse.training.strategy`` ...), so importing this
package does not import them all.
"""

import importlib
import importlib.util

from dlcourse.training.trainer import DistributedLoop, fit, time_to

_LAZY = (
    "callbacks",
    "distributed",
    "optimizers",
    "precision",
    "schedules",
    "strategy",
    "trainer",
)


def __getattr__(name: str):
    if name in _LAZY or importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = ["DistributedLoop", "fit", "time_to"]
