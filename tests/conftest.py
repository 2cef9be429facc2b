"""Shared fixtures. Tests train tiny models only; full-size builders are built, never trained."""

from __future__ import annotations

import os

import dlcourse  # noqa: F401 (first: sets TensorFlow's environment before it loads)

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _fresh_keras():
    """Each test starts from the float32 policy and fixed seeds."""
    import keras

    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
