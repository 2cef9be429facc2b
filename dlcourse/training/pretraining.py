"""Unsupervised pretraining: greedy layer-wise stacked autoencoders, then supervised fine-tuning.

Hinton and Salakhutdinov, "Reducing the Dimensionality of Data with Neural Networks", Science
2006; Bengio et al., "Greedy Layer-Wise Training of Deep Networks", NIPS 2006. With plenty of
unlabeled data and few labels (notes 000 Unit III, "Unsupervised pretraining"): train one shallow
autoencoder per hidden layer, each on the codes of the previous one, stack the encoders, put a
softmax on top and fine-tune on the labeled examples.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from dlcourse.models.mlp import mlp
from dlcourse.training.config import TrainConfig
from dlcourse.training.trainer import fit
from dlcourse.utils import check_positive


def _autoencoder(n_in: int, n_hidden: int, activation: str, out_activation: str, lr: float):
    inputs = keras.Input((n_in,))
    code = keras.layers.Dense(n_hidden, activation=activation, name="encoder")(inputs)
    recon = keras.layers.Dense(n_in, activation=out_activation, name="decoder")(code)
    model = keras.Model(inputs, recon)
    model.compile(keras.optimizers.Adam(lr), loss="mse")
    return model


def pretrain_stack(
    x: tf.data.Dataset | np.ndarray,
    hidden: Sequence[int] = (64, 32),
    *,
    activation: str = "selu",
    epochs: int = 10,
    batch_size: int | None = None,
    learning_rate: float = 3e-3,
    cfg: TrainConfig | None = None,
    verbose: int | str = 0,
) -> tuple[list[keras.layers.Dense], list[list[float]]]:
    """Greedy layer-wise pretraining on unlabeled ``x``, pixels in [0, 1].

    ``x`` is a batched tf.data dataset of images or of ``(images, labels)`` (labels ignored),
    e.g. the loader's training split, or an array ``(n, ...)`` (shuffled with ``cfg.seed`` and
    batched here with ``batch_size``, default 32). A dataset is batched already (the loader's
    ``batch_size``), so ``batch_size`` next to one is refused rather than ignored. Stage ``i``
    trains on the dataset mapped through the ``i - 1`` encoders trained before it. Each
    autoencoder uses ``activation`` for its code and Adam with ``learning_rate``.

    Returns:
        ``(encoders, losses)``: one trained ``Dense`` encoder per entry of ``hidden`` and the
        reconstruction-loss curve of each stage.
    """
    if not hidden or any(int(h) != h or h < 1 for h in hidden):
        raise ValueError(
            f"`hidden` must be a non-empty list of positive integers. Received: hidden={hidden!r}"
        )
    check_positive("epochs", epochs)
    if isinstance(x, tf.data.Dataset) and batch_size is not None:
        raise ValueError(
            "`batch_size` applies to array inputs only: a tf.data.Dataset is batched already "
            f"(set the loader's batch_size). Received: batch_size={batch_size!r} with a dataset"
        )
    if not isinstance(x, tf.data.Dataset):
        batch_size = 32 if batch_size is None else batch_size
        check_positive("batch_size", batch_size)
        x = np.asarray(x, np.float32)
        seed = cfg.seed if cfg is not None else 42
        x = tf.data.Dataset.from_tensor_slices(x).shuffle(len(x), seed=seed).batch(batch_size)
    pixels = x.map(_flat_pixels)  # (batch, features)
    n_in = int(pixels.element_spec.shape[-1])
    encoders, losses = [], []
    for i, n_hidden in enumerate(hidden):
        # The first stage reconstructs pixels in [0, 1]; later stages reconstruct codes, which
        # are in [0, 1] too when the code activation is a sigmoid.
        out_act = "sigmoid" if i == 0 or activation == "sigmoid" else "linear"
        codes = pixels.map(_encode(encoders))
        model, hist = fit(
            lambda n_in=n_in, h=n_hidden, o=out_act: _autoencoder(
                n_in, h, activation, o, learning_rate
            ),
            codes.map(lambda c: (c, c)),
            epochs=epochs,
            cfg=cfg,
            verbose=verbose,
        )
        encoders.append(model.get_layer("encoder"))
        losses.append(hist["loss"])
        n_in = n_hidden
    return encoders, losses


def _flat_pixels(x, *labels):
    """A batch of images (or of ``(images, labels)``) -> (batch, features) float32 pixels."""
    return tf.reshape(tf.cast(x, tf.float32), [-1, int(np.prod(x.shape[1:]))])


def _encode(encoders: Sequence[keras.layers.Dense]):
    """``codes = encoders(pixels)`` as a tf.data map, with the trained weights as constants."""
    frozen = [(tf.constant(k), tf.constant(b), e.activation) for e in encoders
              for k, b in [e.get_weights()]]  # fmt: skip

    def encode(x):
        for kernel, bias, act in frozen:
            x = act(tf.matmul(x, kernel) + bias)
        return x

    return encode


def stacked_classifier(
    input_shape: Sequence[int],
    encoders: Sequence[keras.layers.Dense],
    n_classes: int,
    *,
    learning_rate: float = 1e-3,
    optimizer: keras.optimizers.Optimizer | str | None = None,
    freeze_encoders: bool = False,
) -> keras.Model:
    """Flatten -> copies of the pretrained encoders -> softmax, compiled for fine-tuning.

    The network is :func:`dlcourse.models.mlp.mlp` with the encoders' sizes and activation, so
    the same call without pretrained weights is its from-scratch twin. It is compiled with
    ``optimizer`` (default ``Adam(learning_rate)``). The encoder weights are copied, never
    shared, so the pretrained stack stays reusable.
    """
    activations = {enc.activation for enc in encoders}
    if len(activations) != 1:
        raise ValueError(
            "The encoders must share one activation. "
            f"Received: activations={sorted(map(str, activations))}"
        )
    model = mlp(
        hidden=[enc.units for enc in encoders],
        activation=activations.pop(),
        input_shape=input_shape,
        classes=n_classes,
        name="pretrained_classifier",
    )
    for i, enc in enumerate(encoders, 1):  # copies: the pretrained stack stays reusable
        model.get_layer(f"hidden{i}").set_weights(enc.get_weights())
        model.get_layer(f"hidden{i}").trainable = not freeze_encoders
    model.compile(
        optimizer or keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
