"""Training: the one ``fit`` every lab trains through, plus optimizers, schedules, callbacks.

``fit``, ``time_to``, ``DistributedLoop`` and ``TrainConfig`` are available here; every module
loads on first use (``dlcourse.training.schedules``, ``dlcourse.training.strategy`` ...), so
importing the package (or its TensorFlow-free ``config``) does not start TensorFlow.
"""

import importlib
import importlib.util

_NAMES = {
    "fit": "trainer",
    "time_to": "trainer",
    "DistributedLoop": "loop",
    "TrainConfig": "config",
}


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_NAMES))


__all__ = ["DistributedLoop", "TrainConfig", "fit", "time_to"]
