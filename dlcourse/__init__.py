"""dlcourse: course labs for a four-unit deep-learning course on TensorFlow/Keras 3.

Subpackages load lazily, so ``import dlcourse`` stays cheap until TensorFlow is needed:

    import dlcourse
    splits = dlcourse.data.load("digits28")          # embedded, offline data
    model = dlcourse.models.create_model("lenet5")   # classic architectures
    dlcourse.labkit.run_lab("01", quick=True)         # a lab, from Python or Jupyter

Importing dlcourse before TensorFlow also sets TensorFlow's environment for this machine (see
:func:`tf_environment`); every ``python -m dlcourse ...`` command and every lab started by
``make``/``dlcourse labs run`` gets it, and so do the processes they start.
"""

import glob
import importlib
import os
import sys

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
# Device nodes of a GPU that TensorFlow could use on Linux: NVIDIA, WSL2's GPU, AMD ROCm.
_GPU_DEVICE_NODES = ("/dev/nvidia[0-9]*", "/dev/dxg", "/dev/kfd")


def gpu_possible(environ=os.environ) -> bool:
    """Whether TensorFlow could find a GPU here, decided without loading it.

    False on Linux when there is no GPU device node, or when ``CUDA_VISIBLE_DEVICES`` hides
    every GPU (``""`` or ``-1``); True elsewhere (macOS's Metal plugin has no device node).
    """
    if environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return sys.platform != "linux" or any(glob.glob(p) for p in _GPU_DEVICE_NODES)


def tf_environment(environ=os.environ) -> dict[str, str]:
    """The variables TensorFlow reads once, when it loads, that dlcourse sets by default.

    * ``TF_CPP_MIN_LOG_LEVEL=2``: TensorFlow's C++ INFO and WARNING lines are hidden, its
      ERROR lines still show; Python warnings (retracing, AutoGraph, Keras) are not affected.
    * ``TF_ENABLED_DEVICE_TYPES=CPU`` where :func:`gpu_possible` is False: TensorFlow then
      does not initialise CUDA at all, instead of failing to and printing
      ``E0000 ... cuda_platform.cc ... failed call to cuInit`` (XLA still compiles for the CPU).

    A variable already set in ``environ`` is left as it is.
    """
    wanted = {"TF_CPP_MIN_LOG_LEVEL": "2"}
    if not gpu_possible(environ):
        wanted["TF_ENABLED_DEVICE_TYPES"] = "CPU"
    return {k: v for k, v in wanted.items() if k not in environ}


# Before any TensorFlow import: TensorFlow reads these once, as it loads. When it is already
# loaded (a script that imported keras first) they still reach the processes started from here.
os.environ.update(tf_environment())


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'dlcourse' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
