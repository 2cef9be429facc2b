"""Transfer and pretraining helpers of the Unit III labs 36 and 37: layers counted by weights,
disjoint label draws from the loader, and pretraining's batch size."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from dlcourse.models.mlp import deep_mlp
from dlcourse.training import pretraining, transfer
from dlcourse.training.variants import label_draws


def _cnn():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(2, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(2, name="pool1"),
            keras.layers.Conv2D(2, 2, activation="relu", name="conv2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(4, activation="relu", name="dense"),
            keras.layers.Dense(3, activation="softmax", name="output"),
        ]
    )


def test_reuse_layers_counts_hidden_layers_with_weights_not_activation_layers():
    model = deep_mlp((8, 8, 1), 10, depth=4, units=6)  # hidden{i} + act{i} layers
    base = transfer.reuse_layers(model, 2)
    assert [layer.name for layer in transfer.weight_layers(base)] == ["hidden1", "hidden2"]
    assert base.layers[-1].name == "act2"  # the activation goes with its layer
    assert len(transfer.weight_layers(transfer.reuse_layers(model, -1))) == 4


def test_reuse_layers_keeps_a_conv_stack_up_to_the_next_weight_layer():
    base = transfer.reuse_layers(_cnn(), 2)
    assert [layer.name for layer in base.layers[1:]] == ["conv1", "pool1", "conv2", "flatten"]
    assert base.output.shape == (None, 8)
    whole = transfer.reuse_layers(_cnn(), 4)  # every weight layer: the whole model
    assert whole.layers[-1].name == "output"
    with pytest.raises(ValueError, match="between 1 and 4 layers with weights.*n_layers=5"):
        transfer.reuse_layers(_cnn(), 5)
    with pytest.raises(ValueError, match="n_layers=0"):
        transfer.reuse_layers(_cnn(), 0)


def test_label_draws_are_disjoint_balanced_and_repeatable():
    draws = label_draws("digits", classes=(5, 6, 7), per_class=2, draws=3, batch_size=4, seed=1)
    seen = []
    for train in draws:
        x, y = (np.concatenate(t) for t in zip(*((a.numpy(), b.numpy()) for a, b in train())))
        assert np.bincount(y).tolist() == [2, 2, 2]  # relabelled 0..2, 2 of each
        assert int(train().cardinality()) == 2  # 6 examples, batches of 4
        again = np.concatenate([a.numpy() for a, _ in train()])
        np.testing.assert_array_equal(x, again)  # a fresh pipeline: the same batches
        seen.append({tuple(v) for v in x.reshape(len(x), -1).round(4)})
    assert not (seen[0] & seen[1]) and not (seen[1] & seen[2])
    with pytest.raises(ValueError, match="draws"):
        label_draws("digits", classes=(0, 1), per_class=1, draws=0, batch_size=2, seed=0)


def test_pretrain_stack_honours_batch_size_for_arrays_and_refuses_it_for_a_dataset(rng):
    x = (rng.random((40, 4, 4, 1)) > 0.5).astype("float32")
    encoders, losses = pretraining.pretrain_stack(x, hidden=(3,), epochs=1, batch_size=8)
    assert len(losses[0]) == 1 and encoders[0].units == 3
    ds = tf.data.Dataset.from_tensor_slices(x).batch(8)
    with pytest.raises(ValueError, match="batch_size=8 with a dataset"):
        pretraining.pretrain_stack(ds, hidden=(3,), epochs=1, batch_size=8)
    encoders, _ = pretraining.pretrain_stack(ds, hidden=(3,), epochs=1)  # batched by the dataset
    clf = pretraining.stacked_classifier(
        (4, 4, 1), encoders, 2, optimizer=keras.optimizers.SGD(0.5)
    )
    assert isinstance(clf.optimizer, keras.optimizers.SGD)
