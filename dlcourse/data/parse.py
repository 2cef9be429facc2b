"""The parse stage: raw CSV lines, TFRecords or PNG paths -> ``(x, y)`` tensors.

:class:`Features` says what one example holds; :func:`parser` turns it into the parse function
the loader (:mod:`dlcourse.data.loader`) maps over one record or a whole batch, and the check pass
(:mod:`dlcourse.data.check`) runs once over every record.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf


@dataclass(frozen=True)
class Features:
    """What one example holds: ``x`` of ``x_shape``/``x_dtype``, a scalar ``y``.

    ``classes`` names the class ids (PNG folders are named after them).
    """

    x_shape: tuple[int, ...]
    x_dtype: str = "uint8"  # "uint8" images or "float32" features
    y_dtype: str = "int64"  # "int64" class ids or "float32" regression targets
    classes: tuple[str, ...] | None = None

    @classmethod
    def from_manifest(cls, manifest: dict) -> Features:
        feats = manifest["features"]
        classes = manifest.get("classes")
        return cls(
            tuple(feats["x"]["shape"]),
            feats["x"]["dtype"],
            feats["y"]["dtype"],
            tuple(classes) if classes else None,
        )

    @property
    def n_x(self) -> int:
        return int(np.prod(self.x_shape))


def parser(format: str, features: Features, scale: bool = True) -> Callable:
    """Raw record(s) -> ``(x, y)``; works on one record or a batch (leading axis).

    Public for labs that build the stages by hand (lab 06); the loader itself uses it.
    """
    if format == "csv":
        return lambda line: _finish(*_parse_csv(line, features), features, scale)
    if format == "tfrecord":
        return lambda record: _finish(*_parse_tfrecord(record, features), features, scale)
    return lambda path: _finish(*_parse_png(path, features), features, scale)


def _parse_csv(lines, features: Features):
    x_default = [0] if features.x_dtype == "uint8" else [0.0]  # int32 pixels, float32 features
    y_default = [tf.constant(0, tf.int64)] if features.y_dtype == "int64" else [0.0]
    cols = tf.io.decode_csv(lines, record_defaults=[x_default] * features.n_x + [y_default])
    x = tf.stack(cols[:-1], axis=-1)  # (batch, n_x) or (n_x,)
    return _unflatten(tf.cast(x, features.x_dtype), features), cols[-1]


def _parse_tfrecord(records, features: Features):
    if features.x_dtype == "uint8":
        x_spec = tf.io.FixedLenFeature([], tf.string)
    else:
        x_spec = tf.io.FixedLenFeature([features.n_x], tf.float32)
    y_spec = tf.io.FixedLenFeature([], tf.as_dtype(features.y_dtype))
    parsed = tf.io.parse_example(records, {"x": x_spec, "y": y_spec})
    x = parsed["x"]
    if features.x_dtype == "uint8":
        x = tf.io.decode_raw(x, tf.uint8)  # (batch, n_x) or (n_x,)
    return _unflatten(x, features), parsed["y"]


def _parse_png(path, features: Features):
    channels = features.x_shape[-1]
    x = tf.reshape(tf.io.decode_png(tf.io.read_file(path), channels=channels), features.x_shape)
    class_name = tf.strings.split(path, os.sep)[-2]
    classes = features.classes or ()
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(list(classes), tf.range(len(classes), dtype=tf.int64)),
        default_value=-1,
    )
    y = table.lookup(class_name)
    with tf.control_dependencies([tf.debugging.assert_non_negative(y, "unknown class folder")]):
        return x, tf.identity(y)


def _unflatten(x, features: Features):
    """``(..., n_x)`` -> ``(..., *x_shape)``; raises when a record holds the wrong size."""
    return tf.reshape(x, tf.concat([tf.shape(x)[:-1], features.x_shape], 0))


def _finish(x, y, features: Features, scale: bool):
    """Scale uint8 images to float32 in [0, 1]."""
    if scale and features.x_dtype == "uint8":
        x = tf.cast(x, tf.float32) / 255.0
    return x, y
