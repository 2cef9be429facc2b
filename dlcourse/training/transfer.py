"""Transfer learning: reuse the lower layers of a trained model, freeze, then unfreeze the top k.

Notes 000 Unit III ("Reusing pretrained layers"), 003 (transfer learning). Reused layers are
always *cloned* first (``keras.models.clone_model`` + ``set_weights``), so training the new
model never changes the old one by accident. Each step is one line::

    base = reuse_layers(model_a, n_layers=2)             # clone its 2 lower weight layers
    model_b = add_head(base, n_classes=5)                 # new output layer
    freeze(base)                                          # train only the head ...
    unfreeze_top(base, k=1)                               # ... then fine-tune the top layer
"""

from __future__ import annotations

import keras

from dlcourse.utils import check_positive


def clone(model: keras.Model) -> keras.Model:
    """A copy with the same architecture and *copied* (never shared) weights.

    The copy is made in the scope of the strategy ``model`` was made in (and keeps its layers'
    dtype policies), so a model that came out of :func:`dlcourse.training.fit` under
    ``--strategy mirrored`` or ``--precision mixed_bfloat16`` can be reused by the next ``fit``.
    """
    with model.distribute_strategy.scope():
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
    return copy


def weight_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers of ``model`` that hold weights, bottom to top."""
    return [layer for layer in model.layers if layer.weights]


def reuse_layers(model: keras.Model, n_layers: int | str = -1, name: str = "reused") -> keras.Model:
    """A clone of ``model`` keeping its first ``n_layers`` layers *with weights*.

    Layers without weights (activations, pooling, flatten, dropout) follow the weight layer
    they belong to: the clone ends just before the next weight layer. So ``n_layers=2`` of a
    two-conv CNN is its whole convolutional stack (pooling and flatten included), and of an
    MLP with separate activation layers its first two hidden layers with their activations.
    ``n_layers=-1`` (like a slice) drops only the output layer. A layer name keeps every layer
    up to and including that one (e.g. ``"flatten"``: the conv stack). Works for Sequential
    and functional models whose layers form a chain.
    """
    copy = clone(model)
    layers = [layer for layer in copy.layers if not isinstance(layer, keras.layers.InputLayer)]
    if isinstance(n_layers, str):
        names = [layer.name for layer in layers]
        if n_layers not in names:
            raise ValueError(f"Unknown layer. Received: n_layers={n_layers!r}; layers: {names}")
        return keras.Model(copy.inputs, layers[names.index(n_layers)].output, name=name)
    weighted = [i for i, layer in enumerate(layers) if layer.weights]
    n = len(weighted) + n_layers if n_layers < 0 else n_layers
    if int(n_layers) != n_layers or not 1 <= n <= len(weighted):
        raise ValueError(
            f"`n_layers` must select between 1 and {len(weighted)} layers with weights. "
            f"Received: n_layers={n_layers}"
        )
    end = weighted[n] if n < len(weighted) else len(layers)  # the next weight layer, excluded
    return keras.Model(copy.inputs, layers[end - 1].output, name=name)


def add_head(
    base: keras.Model, n_classes: int, activation: str = "softmax", name: str = "new_task"
) -> keras.Model:
    """``base`` followed by a fresh ``Dense(n_classes)`` output layer."""
    check_positive("n_classes", n_classes)
    x = base.output
    if len(x.shape) > 2:
        x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(
        n_classes, activation=activation, name=f"{name}_output", dtype="float32"
    )(x)  # float32 softmax under mixed precision
    return keras.Model(base.inputs, out, name=name)


def freeze(model: keras.Model) -> keras.Model:
    """Make every layer of ``model`` non-trainable (recompile afterwards)."""
    for layer in model.layers:
        layer.trainable = False
    return model


def unfreeze_top(model: keras.Model, k: int) -> keras.Model:
    """Make the top ``k`` weight-holding layers trainable again (recompile afterwards)."""
    layers = weight_layers(model)
    if int(k) != k or not 0 <= k <= len(layers):
        raise ValueError(
            f"`k` must be an integer in [0, {len(layers)}] (the number of layers "
            f"with weights). Received: k={k!r}"
        )
    for layer in layers[len(layers) - k :]:
        layer.trainable = True
    return model


def n_trainable(model: keras.Model) -> int:
    """Number of trainable parameters."""
    return int(sum(keras.ops.size(w) for w in model.trainable_weights))
