"""dlcourse: course labs for a four-unit deep-learning course on TensorFlow/Keras 3.

Subpackages load lazily, so ``import dlcourse`` stays cheap until TensorFlow is needed:

    import dlcourse
    splits = dlcourse.data.load("digits28")          # embedded, offline data
    model = dlcourse.models.create_model("lenet5")   # classic architectures
    dlcourse.labkit.run_lab("01", quick=True)         # a lab, from Python or Jupyter
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "bench",
    "data",
    "labkit",
    "launch",
    "layers",
    "models",
    "plots",
    "scratch",
    "training",
    "tuning",
    "upstream",
    "utils",
)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'dlcourse' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
