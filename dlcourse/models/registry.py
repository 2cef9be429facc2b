"""The model registry: every architecture builder registers itself by name.

    @register_model
    def vgg16(**kwargs) -> keras.Model: ...

    create_model("vgg16", classes=10, input_shape=(64, 64, 3), width=0.25)

Tests are parametrized over :func:`list_models`, so a builder is tested the moment it is
registered.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

_REGISTRY: dict[str, Callable] = {}
_FAMILIES: dict[str, str] = {}
# Family modules imported (and so registered) on first use of the registry.
FAMILY_MODULES = ("mlp", "small_cnn", "lenet", "alexnet", "vgg", "googlenet", "resnet")


def register_model(fn: Callable) -> Callable:
    """Decorator: register ``fn`` under its function name. A duplicate name is an error."""
    name = fn.__name__
    if name in _REGISTRY:
        raise ValueError(f"Model {name!r} is already registered (by {_REGISTRY[name].__module__})")
    _REGISTRY[name] = fn
    _FAMILIES[name] = fn.__module__.rsplit(".", 1)[-1]
    return fn


def _load_families() -> None:
    for family in FAMILY_MODULES:
        try:
            importlib.import_module(f"dlcourse.models.{family}")
        except ModuleNotFoundError as err:
            if err.name != f"dlcourse.models.{family}":
                raise


def list_models(family: str | None = None) -> list[str]:
    """Registered model names, sorted; optionally only one family (module name)."""
    _load_families()
    return sorted(n for n in _REGISTRY if family is None or _FAMILIES[n] == family)


def model_family(name: str) -> str:
    _load_families()
    return _FAMILIES[name]


def create_model(name: str, **kwargs):
    """Build a registered model: ``create_model("resnet50", classes=10)``."""
    _load_families()
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "(none)"
        raise ValueError(f"Unknown model. Received: name={name!r}; known models: {known}")
    return _REGISTRY[name](**kwargs)
