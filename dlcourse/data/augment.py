"""Data augmentation for the loader's ``augment`` hook (the one augmentation path).

Notes 000 Unit III and 004 ("Data augmentation"): generate new, realistic training instances
on the fly by shifting, rotating, resizing, flipping and changing brightness, contrast,
saturation and hue. Apply to *training data only*: pass the augmenter to the loader, e.g.::

    augment = keras_augmenter(rotate=10, shift=0.1, zoom=0.1, seed=42)
    train_ds = data.make_dataset("mnist5k", "train", batch_size=64, augment=augment)

:func:`keras_augmenter` builds Keras preprocessing layers (``RandomRotation``,
``RandomTranslation``, ``RandomZoom``, ``RandomBrightness``, ``RandomContrast``,
``RandomFlip``); :class:`LayersAugmenter` takes any others (``RandomSaturation``,
``RandomHue`` for RGB images ...). Both apply the layers to whole batches (``per_batch =
True``: the loader calls :meth:`LayersAugmenter.map_batches` after ``batch``).

Every batch draws its transforms from its own seed, statelessly: the loader zips the batches
with ``tf.data.Dataset.random(seed, rerandomize_each_iteration=True)``, and each layer draws
from that batch seed (never from the layer's own ``SeedGenerator``, whose state variable is
shared by every iterator of the dataset). So the transforms depend on the seed, the epoch and
the batch's position only: a look at the first batch (fit's input check, a notebook's
``next(iter(ds))``) no longer shifts the later epochs by however many batches its prefetch
thread happened to reach, and the map runs in parallel. A new epoch draws new transforms, and
so does every example of a batch.
uint8 images are scaled to float32 in [0, 1]; float images are assumed to be in [0, 1] already.
"""

from __future__ import annotations

import tensorflow as tf

from dlcourse import upstream
from dlcourse.utils import check_in_range


def _to_unit_float(image: tf.Tensor) -> tf.Tensor:
    if image.dtype == tf.uint8:
        return tf.cast(image, tf.float32) / 255.0
    return tf.cast(image, tf.float32)


class LayersAugmenter:
    """Keras preprocessing layers as a loader augmenter: ``(x, y) -> (layers(x), y)``, per batch.

    ``x`` is a batch ``(n, H, W, C)`` float32 in [0, 1]; the result is clipped to [0, 1].
    ``seed`` seeds the stream of batch seeds (module docstring); None leaves it to TensorFlow's
    global seed.
    """

    per_batch = True  # the loader applies it after ``batch``, through map_batches

    def __init__(self, layers, seed: int | None = None):
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("`layers` must hold at least one layer. Received: layers=[]")
        self.seed = seed

    def map_batches(self, ds: tf.data.Dataset) -> tf.data.Dataset:
        """``ds``'s batches augmented, each from its own seed (new seeds every epoch)."""
        seeds = tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True).batch(2)
        return tf.data.Dataset.zip(ds, seeds).map(
            lambda xy, seed: self(*xy, seed=seed), num_parallel_calls=tf.data.AUTOTUNE
        )

    def __call__(self, x, y, seed: tf.Tensor | None = None):
        """One batch; ``seed`` (shape [2]) picks its transforms (default: ``[self.seed, 0]``)."""
        if seed is None:
            seed = tf.constant([self.seed or 0, 0], tf.int64)
        x = _to_unit_float(x)
        for i, layer in enumerate(self.layers):
            if hasattr(layer, "get_random_transformation"):  # Keras's random image layers
                draws = upstream.batch_seed(tf.random.experimental.stateless_fold_in(seed, i))
                change = layer.get_random_transformation(x, training=True, seed=draws)
                x = layer.transform_images(x, change, training=True)
            else:
                x = layer(x, training=True)
        return tf.clip_by_value(x, 0.0, 1.0), y


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
        seed: the seed of the batch seeds the transforms are drawn from (module docstring);
            each layer is also built with its own ``seed + k`` (so building it consumes no
            draw of Keras's global random state), but draws from the batch seed.

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
    return LayersAugmenter(chosen, seed=seed)
