"""Search spaces written once per model, as ``keras_tuner.HyperModel``s.

The hyperparameters of the notes (000 Unit II, "Fine-tuning neural network hyperparameters"):
number of hidden layers, neurons per layer, activation, learning rate (log-sampled), optimizer,
mini-batch size, dropout. A *space* maps each name to a spec:

* a list -> ``hp.Choice`` (``["relu", "tanh"]``),
* a tuple ``(min, max)``, ``(min, max, sampling)`` or ``(min, max, sampling, step)`` ->
  ``hp.Int`` when both bounds are ints, else ``hp.Float`` (``(1e-4, 1e-1, "log")``;
  with ``"log"`` a step multiplies: ``(16, 128, "log", 2)`` is 16, 32, 64, 128),
* a scalar -> ``hp.Fixed``.

Names left out of a space take their value from :data:`DEFAULTS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import keras_tuner

from dlcourse.models.mlp import mlp
from dlcourse.training.optimizers import OPTIMIZERS, create_optimizer

DEFAULTS: dict[str, Any] = {
    "num_layers": 2,
    "units": 64,
    "activation": "relu",
    "dropout": 0.0,
    "learning_rate": 1e-3,
    "optimizer": "adam",
    "batch_size": 32,
}

# Random search, coarse-to-fine, Hyperband, Bayesian: the notes' whole list, continuous ranges.
DEFAULT_SPACE: dict[str, Any] = {
    "num_layers": (1, 3),
    "units": (16, 256, "log"),
    "activation": ["relu", "tanh", "elu"],
    "dropout": (0.0, 0.5),
    "learning_rate": (1e-4, 1e-1, "log"),
    "optimizer": ["adam", "sgd", "rmsprop"],
    "batch_size": [16, 32, 64],
}

# Grid search (and grid search with cross-validation): every value is tried, so few of them.
GRID_SPACE: dict[str, Any] = {
    "num_layers": [1, 2],
    "units": [32, 128],
    "activation": ["relu", "tanh"],
    "learning_rate": [1e-3, 1e-2],
}


def validate_space(space: Mapping[str, Any]) -> dict[str, Any]:
    """Check a space spec and return it as a dict; raise one ``ValueError`` per problem."""
    if not isinstance(space, Mapping) or not space:
        raise ValueError(
            f"`space` must map at least one hyperparameter to its values. Received: space={space!r}"
        )
    for name, spec in space.items():
        if name not in DEFAULTS:
            raise ValueError(
                f"Unknown hyperparameter in `space`. Received: {name!r}; "
                f"expected one of {', '.join(DEFAULTS)}"
            )
        _check_spec(name, spec)
    return dict(space)


def _check_spec(name: str, spec: Any) -> None:
    bad = f"Received: space[{name!r}]={spec!r}"
    if isinstance(spec, list):
        if not spec or len(set(map(repr, spec))) != len(spec):
            raise ValueError(f"`space[{name!r}]` must list distinct values. {bad}")
        values = spec
    elif isinstance(spec, tuple):
        if not 2 <= len(spec) <= 4 or not all(isinstance(v, (int, float)) for v in spec[:2]):
            raise ValueError(f"`space[{name!r}]` must be (min, max[, sampling[, step]]). {bad}")
        lo, hi = spec[:2]
        sampling = spec[2] if len(spec) > 2 else "linear"
        if lo >= hi:
            raise ValueError(f"`space[{name!r}]` needs min < max. {bad}")
        if sampling not in ("linear", "log", "reverse_log"):
            raise ValueError(f"`space[{name!r}]` sampling must be linear or log. {bad}")
        if sampling != "linear" and lo <= 0:
            raise ValueError(f"`space[{name!r}]` log sampling needs min > 0. {bad}")
        values = [lo, hi]
    else:
        values = [spec]
    if name in ("activation", "optimizer"):
        if not all(isinstance(v, str) for v in values):
            raise ValueError(f"`space[{name!r}]` must hold names. {bad}")
        if name == "optimizer" and not set(values) <= set(OPTIMIZERS):
            raise ValueError(f"`space['optimizer']` values must be in {OPTIMIZERS}. {bad}")
        return
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ValueError(f"`space[{name!r}]` must be numeric. {bad}")
    if name == "dropout" and not all(0 <= v < 1 for v in values):
        raise ValueError(f"`space['dropout']` values must be in [0, 1). {bad}")
    if name != "dropout" and not all(v > 0 for v in values):
        raise ValueError(f"`space[{name!r}]` values must be > 0. {bad}")


def declare(hp: keras_tuner.HyperParameters, name: str, spec: Any) -> Any:
    """Register ``name`` in ``hp`` from its spec and return its current value."""
    if isinstance(spec, list):
        return hp.Choice(name, spec)
    if isinstance(spec, tuple):
        lo, hi = spec[:2]
        sampling = spec[2] if len(spec) > 2 else "linear"
        step = spec[3] if len(spec) > 3 else None
        if isinstance(lo, int) and isinstance(hi, int) and not isinstance(step, float):
            # keras-tuner 1.4.8 lists a log-stepped Int's values as floats (16.0, 32.0, ...)
            # and GridSearch hands those back as the value, so cast here, where it is read.
            return int(hp.Int(name, lo, hi, step=step, sampling=sampling))
        return hp.Float(name, lo, hi, step=step, sampling=sampling)
    return hp.Fixed(name, spec)


class MLPHyperModel(keras_tuner.HyperModel):
    """An MLP classifier over a search space (see the module docstring for the spec format).

    Args:
        input_shape: shape of one example (flattened by the model).
        classes: number of classes (softmax + sparse cross-entropy).
        space: the search space; default :data:`DEFAULT_SPACE`.
        seed: if given, Keras is seeded with it before every build, so one configuration
            always trains the same way (fair comparisons between tuners).
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        classes: int,
        space: Mapping[str, Any] | None = None,
        seed: int | None = None,
        name: str = "mlp",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if classes < 2:
            raise ValueError(f"`classes` must be >= 2. Received: classes={classes!r}")
        self.input_shape = tuple(input_shape)
        self.classes = classes
        self.space = validate_space(DEFAULT_SPACE if space is None else space)
        self.seed = seed

    def value(self, hp: keras_tuner.HyperParameters, name: str) -> Any:
        if name in self.space:
            return declare(hp, name, self.space[name])
        return DEFAULTS[name]

    def build(self, hp: keras_tuner.HyperParameters) -> keras.Model:
        if self.seed is not None:
            keras.utils.set_random_seed(self.seed)
        model = mlp(
            hidden=(self.value(hp, "units"),) * self.value(hp, "num_layers"),
            activation=self.value(hp, "activation"),
            dropout=self.value(hp, "dropout"),
            input_shape=self.input_shape,
            classes=self.classes,
            name=self.name,
        )
        optimizer = create_optimizer(self.value(hp, "optimizer"), self.value(hp, "learning_rate"))
        model.compile(
            optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        return model

    def fit(self, hp: keras_tuner.HyperParameters, model: keras.Model, x=None, *args, **kwargs):
        batch_size = self.value(hp, "batch_size")
        if hasattr(x, "rebatch"):  # a tf.data pipeline (the loader): Keras ignores batch_size
            x = x.rebatch(batch_size) if "batch_size" in self.space else x
            kwargs.setdefault("shuffle", False)  # the loader shuffles; Keras warns otherwise
        else:
            kwargs["batch_size"] = batch_size
        return model.fit(x, *args, **kwargs)
