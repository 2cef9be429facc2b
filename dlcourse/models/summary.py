"""A builder's summary table: parameters, output shapes and multiply-adds, layer by layer.

Multiply-adds (MACs) per instance follow the notes' cost count (000 Unit IV, "Memory
Requirements"): a conv layer does ``out_h * out_w * out_maps * (f_h * f_w * in_maps)``
multiplications, a dense layer ``inputs * units``; pooling, activations, normalization and
additions are counted as free (they are a few percent at most).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras

from dlcourse import upstream


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    output_shape: tuple
    params: int
    macs: int


def shapes_only(build: Callable[..., keras.Model], *args, **kwargs) -> keras.Model:
    """``build(*args, **kwargs)`` with every weight's shape recorded but never allocated.

    Enough for parameter counts, output shapes and multiply-adds: AlexNet's 201M parameters
    then cost no memory. The model cannot be run or trained.
    """
    with keras.StatelessScope(initialize_variables=False):
        model = build(*args, **kwargs)
    keras.backend.clear_session()  # drop Keras' list of weights to allocate later
    return model


def layer_macs(layer: keras.layers.Layer) -> int:
    """Multiply-adds of one layer for one instance (0 for layers without a weight product)."""
    kind = type(layer).__name__
    if isinstance(layer, keras.layers.Conv2D):
        fh, fw, cin, cout = layer.kernel.shape  # cin is per group: (in maps) / groups
        _, h, w, _ = layer.output.shape
        return h * w * cout * fh * fw * cin
    if kind == "PartialConv2D":  # LeNet-5's C3: only the connected (map, map) pairs
        fh, fw, links = layer.kernel.shape
        _, h, w, _ = layer.output.shape
        return h * w * fh * fw * links
    if isinstance(layer, keras.layers.Dense) or kind == "EuclideanRBF":
        n_in, n_out = layer.weights[0].shape
        return n_in * n_out
    return 0


def summarize(model: keras.Model) -> list[LayerRow]:
    """One row per layer (the input layer left out)."""
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        shape = layer.output.shape if not isinstance(layer.output, list) else layer.output[0].shape
        rows.append(
            LayerRow(layer.name, type(layer).__name__, tuple(shape[1:]), layer.count_params(),
                     layer_macs(layer))
        )  # fmt: skip
    return rows


def total_macs(model: keras.Model) -> int:
    """Multiply-adds of a whole forward pass, one instance."""
    return sum(row.macs for row in summarize(model))


def summary_table(model: keras.Model) -> str:
    """The summary as a Markdown table with a total row."""
    rows = summarize(model)
    lines = ["| layer | type | output shape | params | MACs |", "|---|---|---|---:|---:|"]
    lines += [f"| {r.name} | {r.kind} | {r.output_shape} | {r.params:,} | {r.macs:,} |"
              for r in rows]  # fmt: skip
    total = sum(r.macs for r in rows)
    lines.append(f"| **total** | | | {model.count_params():,} | {total:,} |")
    return "\n".join(lines) + "\n"


# Layers with weights that the papers do not count as layers (normalization rescales a layer's
# output; LeNet-5's subsampling layers do count: the paper calls all seven layers trainable).
_NOT_COUNTED = (keras.layers.BatchNormalization, keras.layers.LayerNormalization)


def _counts(layer: keras.layers.Layer) -> bool:
    return bool(layer.weights) and not isinstance(layer, _NOT_COUNTED)


def paper_depth(model: keras.Model) -> int:
    """Depth by the papers' rule: weight layers on the longest input-to-output path.

    VGG's "16 weight layers", ResNet's "152 layers" (projection shortcuts and batch norm left
    out: they sit beside or inside a counted layer), AlexNet's "eight layers with weights",
    GoogLeNet's "22 layers deep when counting only layers with parameters", LeNet-5's "seven
    layers, not counting the input, all of which contain trainable parameters".
    """
    depth: dict[int, int] = {}
    nodes = upstream.nodes_by_depth(model)
    for level in sorted(nodes, reverse=True):  # inputs first
        for node in nodes[level]:
            below = max((depth.get(id(p), 0) for p in node.parent_nodes), default=0)
            depth[id(node)] = below + _counts(node.operation)
    return max(depth[id(node)] for node in nodes[0])


def dense_vs_conv_weights(
    image_shape: tuple, *, units: int = 128, filters: int = 128, kernel: int = 5
) -> dict:
    """Notes 000 "Why convolution?": a Dense(units) layer on the flattened image against a
    Conv2D(filters, kernel) layer, weights (biases excluded) counted by Keras.

    The dense layer's count grows with the image (784 x 128 ~ 100K on MNIST, 65,536 x 128 ~
    8.4M on 256 x 256); the conv layer's does not.
    """
    if len(image_shape) not in (2, 3) or min(image_shape) < 1:
        raise ValueError(
            "`image_shape` must be (height, width) or (height, width, channels) of positive "
            f"sizes. Received: image_shape={image_shape!r}"
        )
    image_shape = tuple(image_shape) + ((1,) if len(image_shape) == 2 else ())
    flat = 1
    for side in image_shape:
        flat *= side
    dense = keras.layers.Dense(units)
    dense.build((None, flat))
    conv = keras.layers.Conv2D(filters, kernel)
    conv.build((None, *image_shape))
    return {
        "pixels": flat // image_shape[-1],
        "inputs": flat,
        "dense_weights": int(dense.kernel.shape[0] * dense.kernel.shape[1]),
        "conv_weights": int(keras.ops.size(conv.kernel)),
    }


def bottleneck_savings(input_shape: tuple, *, filters: int, kernel: int, reduce: int) -> dict:
    """Notes 000 (GoogLeNet's bottleneck layers) and 002 (1x1 convolutions): a ``kernel`` x
    ``kernel`` conv to ``filters`` maps on ``input_shape``, directly and after a 1x1 conv to
    ``reduce`` maps, both SAME; multiply-adds and weights (biases excluded) counted by
    :func:`layer_macs` from the built Keras layers (shapes only, no weights allocated).

    GoogLeNet's inception (3a) 5x5 branch, ``(28, 28, 192)``, 32 maps, 1x1 to 16 first: about
    120M multiplications directly, 12.4M with the bottleneck.
    """
    if len(input_shape) != 3 or min(input_shape) < 1 or min(filters, kernel, reduce) < 1:
        raise ValueError(
            "`input_shape` must be (height, width, channels) and `filters`, `kernel`, `reduce` "
            f"positive. Received: input_shape={input_shape!r}, filters={filters!r}, "
            f"kernel={kernel!r}, reduce={reduce!r}"
        )

    def build():
        x = keras.Input(input_shape)
        direct = keras.layers.Conv2D(filters, kernel, padding="same", name="direct")(x)
        y = keras.layers.Conv2D(reduce, 1, name="reduce_1x1")(x)
        y = keras.layers.Conv2D(filters, kernel, padding="same", name="after_1x1")(y)
        return keras.Model(x, [direct, y])

    model = shapes_only(build)
    macs = {layer.name: layer_macs(layer) for layer in model.layers[1:]}
    weights = {layer.name: int(keras.ops.size(layer.kernel)) for layer in model.layers[1:]}
    return {
        "direct_macs": macs["direct"],
        "bottleneck_macs": macs["reduce_1x1"] + macs["after_1x1"],
        "direct_weights": weights["direct"],
        "bottleneck_weights": weights["reduce_1x1"] + weights["after_1x1"],
    }


def head_params(feature_shape: tuple, classes: int) -> dict:
    """Notes 000 (GoogLeNet's global average pooling): parameters of a classifier on a
    ``feature_shape`` map, Flatten -> Dense(classes) against GlobalAveragePooling2D ->
    Dense(classes), counted by Keras on shapes only. Flatten keeps every position's weights,
    so it needs ``height * width`` times as many."""
    if len(feature_shape) != 3 or min(feature_shape) < 1 or classes < 1:
        raise ValueError(
            "`feature_shape` must be (height, width, maps) and `classes` positive. Received: "
            f"feature_shape={feature_shape!r}, classes={classes!r}"
        )

    def build(pool):
        x = keras.Input(feature_shape)
        return keras.Model(x, keras.layers.Dense(classes)(pool()(x)))

    flat = shapes_only(build, keras.layers.Flatten)
    gap = shapes_only(build, keras.layers.GlobalAveragePooling2D)
    return {"flatten_dense": flat.count_params(), "gap_dense": gap.count_params()}
