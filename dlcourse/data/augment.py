"""Data augmentation for the loader's ``augment`` hook (the one augmentation path).

Notes 000 Unit III and 004 ("Data augmentation"): generate new, realistic training instances
on the fly by shifting, rotating, resizing, flipping and changing brightness, contrast,
saturation and hue. Apply to *training data only*: pass the augmenter to the loader, e.g.::

    augment = keras_augmenter(rotate=10, shift=0.1, zoom=0.1, seed=42)
    train_ds = data.make_dataset("mnist5k", "train", batch_size=64, augment=augment)

Two ways to write one, both plugging into that hook:

* :func:`keras_augmenter` (the default): Keras preprocessing layers (``RandomRotation``,
  ``RandomTranslation``, ``RandomZoom``, ``RandomContrast``, ``RandomFlip`` ..., or any
  layers you pass) applied to whole batches. Seeded layers in a sequential map are
  reproducible run to run and draw fresh transforms every epoch; the loader therefore runs a
  per-batch augmenter (``per_batch = True``) after ``batch`` without parallelism (a batched
  call is vectorized, so that costs little).
* :func:`augmenter`: the same transforms written with ``tf.image`` ops, per example (parallel
  map); ``vary_per_epoch=False`` makes it identical under any parallelism.

Geometry (rotate, shift, zoom = resize/crop) is one affine warp
(``ImageProjectiveTransformV3``, the op behind ``keras.layers.RandomRotation``); photometric
changes use ``tf.image.stateless_random_*``. Each example draws its seeds from a
``tf.random.Generator`` seeded with ``seed``, so a run is reproducible.
uint8 images are scaled to float32 in [0, 1]; float images are assumed to be in [0, 1] already.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import tensorflow as tf

from dlcourse.utils import check_in_range, check_positive


def augmenter(
    *,
    flip: bool = False,
    rotate: float = 10.0,
    shift: float = 0.1,
    zoom: float = 0.1,
    brightness: float = 0.1,
    contrast: float = 0.2,
    saturation: float = 0.0,
    hue: float = 0.0,
    seed: int = 42,
    vary_per_epoch: bool = True,
) -> Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """Build the map function.

    Args:
        flip: random left-right flip (off by default: a mirrored digit is not a digit).
        rotate: max rotation in degrees (uniform in [-rotate, rotate]).
        shift: max translation as a fraction of height/width, in [0, 1).
        zoom: max zoom in or out as a fraction, in [0, 1) (random resize and crop).
        brightness: max brightness delta (images in [0, 1]).
        contrast: contrast factor drawn from [1 - contrast, 1 + contrast], contrast in [0, 1).
        saturation, hue: like contrast and brightness, applied to RGB images only
            (saturation in [0, 1), hue in [0, 0.5]).
        seed: seed of the per-example seed generator.
        vary_per_epoch: True (default) draws fresh random transforms every time an example
            passes (new instances each epoch) from a ``tf.random.Generator``: reproducible when
            the map runs sequentially, but a parallel map (the loader's
            ``num_parallel_calls=AUTOTUNE``) may hand the draws to examples in a different
            order from run to run. False derives each example's seeds from a hash of its pixels
            and ``seed``: identical under any parallelism, but the same transform every epoch.
    """
    check_in_range("rotate", rotate, 0.0, 180.0, closed="[]")
    check_in_range("shift", shift, 0.0, 1.0, closed="[)")
    check_in_range("zoom", zoom, 0.0, 1.0, closed="[)")
    check_positive("brightness", brightness, strict=False)
    check_in_range("contrast", contrast, 0.0, 1.0, closed="[)")
    check_in_range("saturation", saturation, 0.0, 1.0, closed="[)")
    check_in_range("hue", hue, 0.0, 0.5, closed="[]")
    gen = tf.random.Generator.from_seed(seed) if vary_per_epoch else None

    def augment(image, label):
        image = _to_unit_float(image)
        seeds = gen.make_seeds(8) if gen is not None else _content_seeds(image, seed)
        # seeds: (2, 8), one stateless seed per random op
        if flip:
            image = tf.image.stateless_random_flip_left_right(image, seeds[:, 0])
        if rotate or shift or zoom:
            image = _affine(image, seeds[:, 1], rotate, shift, zoom)
        if brightness:
            image = tf.image.stateless_random_brightness(image, brightness, seeds[:, 2])
        if contrast:
            image = tf.image.stateless_random_contrast(
                image, 1 - contrast, 1 + contrast, seeds[:, 3]
            )
        if image.shape[-1] == 3 and saturation:
            image = tf.image.stateless_random_saturation(
                image, 1 - saturation, 1 + saturation, seeds[:, 4]
            )
        if image.shape[-1] == 3 and hue:
            image = tf.image.stateless_random_hue(image, hue, seeds[:, 5])
        return tf.clip_by_value(image, 0.0, 1.0), label

    return augment


def _content_seeds(image: tf.Tensor, seed: int) -> tf.Tensor:
    """(2, 8) seeds from a hash of the pixels and ``seed`` (no state: order-independent)."""
    digest = tf.strings.to_hash_bucket_fast(tf.io.serialize_tensor(image), 2**62)
    base = tf.stack([tf.constant(seed, tf.int64), digest])
    return tf.transpose(tf.random.experimental.stateless_split(base, 8))


def _to_unit_float(image: tf.Tensor) -> tf.Tensor:
    if image.dtype == tf.uint8:
        return tf.cast(image, tf.float32) / 255.0
    return tf.cast(image, tf.float32)


def _affine(image, seed, rotate: float, shift: float, zoom: float):
    """Rotate by theta, scale by z and translate by (dx, dy) about the image centre."""
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    hf, wf = tf.cast(h, tf.float32), tf.cast(w, tf.float32)
    u = tf.random.stateless_uniform((4,), seed, -1.0, 1.0)
    theta = u[0] * rotate * math.pi / 180.0
    z = 1.0 + u[1] * zoom
    dx, dy = u[2] * shift * wf, u[3] * shift * hf
    cx, cy = (wf - 1) / 2, (hf - 1) / 2
    c, s = tf.cos(theta) / z, tf.sin(theta) / z
    # output pixel (x, y) samples input (a0 x + a1 y + a2, b0 x + b1 y + b2)
    transform = tf.stack(
        [c, s, cx - dx - c * cx - s * cy, -s, c, cy - dy + s * cx - c * cy, 0.0, 0.0]
    )
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None],
        transforms=transform[None],
        output_shape=tf.stack([h, w]),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
    return out[0]


class LayersAugmenter:
    """Keras preprocessing layers as a loader augmenter: ``(x, y) -> (layers(x), y)``, per batch.

    ``x`` is a batch ``(n, H, W, C)`` float32 in [0, 1]; the result is clipped to [0, 1].
    """

    per_batch = True  # the loader applies it after ``batch``, sequentially (reproducible)

    def __init__(self, layers):
        import keras

        self.layers = list(layers)
        if not self.layers:
            raise ValueError("`layers` must hold at least one layer. Received: layers=[]")
        self.model = keras.Sequential(self.layers, name="augment")

    def __call__(self, x, y):
        return tf.clip_by_value(self.model(_to_unit_float(x), training=True), 0.0, 1.0), y


def keras_augmenter(
    *,
    rotate: float = 10.0,
    shift: float = 0.1,
    zoom: float = 0.1,
    contrast: float = 0.0,
    flip: bool = False,
    seed: int = 42,
) -> LayersAugmenter:
    """The default augmenter: Keras ``RandomRotation``/``RandomTranslation``/``RandomZoom``
    (+ ``RandomContrast``, ``RandomFlip``), each seeded from ``seed``.

    Args mean what they mean in :func:`augmenter` (``rotate`` in degrees; ``shift`` and
    ``zoom`` as fractions); a 0 leaves that layer out. For other layers, build
    ``LayersAugmenter([keras.layers.RandomBrightness(0.2, seed=1), ...])``.
    """
    import keras
    from keras import layers

    check_in_range("rotate", rotate, 0.0, 180.0, closed="[]")
    check_in_range("shift", shift, 0.0, 1.0, closed="[)")
    check_in_range("zoom", zoom, 0.0, 1.0, closed="[)")
    check_in_range("contrast", contrast, 0.0, 1.0, closed="[)")
    fill = {"fill_mode": "constant", "fill_value": 0.0}
    chosen: list[keras.layers.Layer] = []
    if flip:
        chosen.append(layers.RandomFlip("horizontal", seed=seed))
    if rotate:
        chosen.append(layers.RandomRotation(rotate / 360.0, seed=seed + 1, **fill))
    if shift:
        chosen.append(layers.RandomTranslation(shift, shift, seed=seed + 2, **fill))
    if zoom:
        chosen.append(layers.RandomZoom(zoom, seed=seed + 3, **fill))
    if contrast:
        chosen.append(layers.RandomContrast(contrast, seed=seed + 4))
    if not chosen:
        chosen.append(layers.Identity())
    return LayersAugmenter(chosen)
