"""Data augmentation for the loader's ``augment`` hook (the one augmentation path).

Notes 000 Unit III and 004 ("Data augmentation"): generate new, realistic training instances
on the fly by shifting, rotating, resizing, flipping and changing brightness, contrast,
saturation and hue. Apply to *training data only*: pass the augmenter to the loader, e.g.::

    augment = keras_augmenter(rotate=10, shift=0.1, zoom=0.1, seed=42)
    train_ds = data.make_dataset("mnist5k", "train", batch_size=64, augment=augment)

:func:`keras_augmenter` builds Keras preprocessing layers (``RandomRotation``,
``RandomTranslation``, ``RandomZoom``, ``RandomBrightness``, ``RandomContrast``,
``RandomFlip``); :class:`LayersAugmenter` takes any others (``RandomSaturation``,
``RandomHue`` for RGB images ...). Both apply the layers to whole batches: seeded layers in a
sequential map are reproducible run to run and draw fresh transforms every epoch (and for
every example of a batch), so the loader runs a per-batch augmenter (``per_batch = True``)
after ``batch`` without parallelism (a batched call is vectorized, so that costs little).
uint8 images are scaled to float32 in [0, 1]; float images are assumed to be in [0, 1] already.
"""

from __future__ import annotations

import tensorflow as tf

from dlcourse.utils import check_in_range


def _to_unit_float(image: tf.Tensor) -> tf.Tensor:
    if image.dtype == tf.uint8:
        return tf.cast(image, tf.float32) / 255.0
    return tf.cast(image, tf.float32)


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
    brightness: float = 0.0,
    contrast: float = 0.0,
    flip: bool = False,
    seed: int = 42,
) -> LayersAugmenter:
    """The augmenter: Keras ``RandomRotation``/``RandomTranslation``/``RandomZoom`` (+
    ``RandomBrightness``, ``RandomContrast``, ``RandomFlip``), each seeded from ``seed``.

    Args:
        rotate: max rotation in degrees (uniform in [-rotate, rotate]).
        shift: max translation as a fraction of height/width, in [0, 1).
        zoom: max zoom in or out as a fraction, in [0, 1) (random resize and crop).
        brightness: max brightness delta, in [0, 1] (images in [0, 1]).
        contrast: contrast factor drawn from [1 - contrast, 1 + contrast], contrast in [0, 1).
        flip: random left-right flip (off by default: a mirrored digit is not a digit).
        seed: seed of the first layer; the others take ``seed + 1``, ``seed + 2`` ...

    A 0 (or False) leaves that layer out. For other layers (saturation, hue ...), build
    ``LayersAugmenter([keras.layers.RandomSaturation(0.3, seed=1), ...])``.
    """
    import keras
    from keras import layers

    check_in_range("rotate", rotate, 0.0, 180.0, closed="[]")
    check_in_range("shift", shift, 0.0, 1.0, closed="[)")
    check_in_range("zoom", zoom, 0.0, 1.0, closed="[)")
    check_in_range("brightness", brightness, 0.0, 1.0, closed="[]")
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
    if brightness:
        unit = {"value_range": (0.0, 1.0)}
        chosen.append(layers.RandomBrightness(brightness, seed=seed + 5, **unit))
    if contrast:
        chosen.append(layers.RandomContrast(contrast, seed=seed + 4))
    if not chosen:
        chosen.append(layers.Identity())
    return LayersAugmenter(chosen)
