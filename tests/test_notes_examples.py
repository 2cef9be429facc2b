"""Every small numeric example of the notes, computed by library code and asserted against the
notes' number (or the paper's, where the notes are wrong: see docs/notes-errata.md)."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import precision_recall_fscore_support

from dlcourse import notes_examples as ne
from dlcourse.models import create_model
from dlcourse.models.summary import dense_vs_conv_weights, paper_depth, shapes_only
from dlcourse.scratch import dropout as sd
from dlcourse.scratch import ewma as se
from dlcourse.scratch import optimizers as so
from dlcourse.training import diagnostics as diag
from dlcourse.training import schedules as sch

# --------------------------------------------------------------------------- notes 003: decay


def test_notes_decay_rules_per_epoch():
    ex = sch.notes_decay_examples(eta0=0.2, epochs=4, steps_per_epoch=3)["per_epoch"]
    # 1/(1 + epoch) * 0.2 gives Ng's 0.1, 0.067, 0.05, 0.04 (epoch_num from 1)
    assert ex["1/(1 + epoch) eta0"] == pytest.approx([0.1, 0.2 / 3, 0.05, 0.04], abs=1e-6)
    assert ex["0.95^epoch eta0"] == pytest.approx([0.2 * 0.95**e for e in (1, 2, 3, 4)], abs=1e-6)
    assert ex["1/sqrt(epoch) eta0"] == pytest.approx(
        [0.2 / np.sqrt(e) for e in (1, 2, 3, 4)], abs=1e-6
    )


def test_notes_piecewise_example_drops_after_50_epochs():
    ex = sch.notes_decay_examples(steps_per_epoch=7)
    assert (ex["piecewise_epoch_50"], ex["piecewise_epoch_51"]) == (0.1, 0.001)
    rates = sch.schedule_values(sch.notes_piecewise(steps_per_epoch=7), 51 * 7)
    assert rates[: 50 * 7] == pytest.approx([0.1] * 350) and rates[350] == pytest.approx(0.001)


@pytest.mark.parametrize("name", ["inverse_time", "epoch_exponential", "inverse_sqrt"])
def test_notes_decay_schedules_round_trip_through_keras_files(name, tmp_path):
    schedule = sch.create_schedule(name, 0.2, steps_per_epoch=5, decay_rate=0.5, base=0.9, k=2)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="mse")
    model.save(tmp_path / "m.keras")
    optimizer = keras.saving.load_model(tmp_path / "m.keras").optimizer
    loaded = keras.optimizers.schedules.deserialize(optimizer.get_config()["learning_rate"])
    assert type(loaded) is type(schedule) and loaded.get_config() == schedule.get_config()
    assert sch.schedule_values(loaded, 20) == pytest.approx(sch.schedule_values(schedule, 20))
    steps = sch.schedule_values(schedule, 10)
    assert steps[0] == steps[4] > steps[5]  # constant within an epoch, lower the next


def test_decay_schedules_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"Received: steps_per_epoch=0"):
        sch.EpochInverseTimeDecay(0.1, steps_per_epoch=0)
    with pytest.raises(ValueError, match=r"`base` must be in \(0.0, 1.0\]. Received: base=1.5"):
        sch.EpochExponentialDecay(0.1, base=1.5)


# --------------------------------------------------------------------------- notes 003: metrics


def test_precision_recall_f1_match_sklearn(rng):
    y_true, y_pred = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    y_pred[:150] = y_true[:150]
    for average in ("macro", "micro", None):
        ours = diag.precision_recall_f1(y_true, y_pred, average=average)
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=average)
        np.testing.assert_allclose([ours["precision"], ours["recall"], ours["f1"]], [p, r, f])
    per_class = diag.precision_recall_f1(y_true, y_pred, average=None)
    p, r = np.array(per_class["precision"]), np.array(per_class["recall"])
    np.testing.assert_allclose(per_class["f1"], 2 / (1 / p + 1 / r))  # the notes' formula
    with pytest.raises(ValueError, match=r"Received: average='weighted'"):
        diag.precision_recall_f1(y_true, y_pred, average="weighted")
    with pytest.raises(ValueError, match=r"`y_pred` must have as many labels"):
        diag.precision_recall_f1(y_true, y_pred[:-1])


# --------------------------------------------------------------------------- notes 003: EWMA


@pytest.mark.parametrize("beta, window", [(0.9, 10), (0.98, 50)])
def test_ewma_averages_about_the_last_one_over_one_minus_beta_values(beta, window):
    w = se.ewma_window(beta)
    assert w["notes_window"] == window
    assert abs(w["e_folding_steps"] - window) < 1  # the weight falls to 1/e after ~window steps
    assert 0.6 < w["weight_of_last_window"] < 0.67  # ~ 1 - 1/e of the weight sits in the window
    assert w["weight_n_steps_back_over_newest"] == pytest.approx(np.exp(-1), abs=0.02)
    with pytest.raises(ValueError, match=r"Received: beta=1.0"):
        se.ewma_window(1.0)


def test_ewma_matches_pandas_with_and_without_bias_correction():
    x = ne.demo_series(60, seed=3)
    s = pd.Series(x)
    corrected = s.ewm(alpha=1 - 0.9, adjust=True).mean().to_numpy()
    plain = np.concatenate([[0.0], x]).copy()  # v_0 = 0, then pandas' recursive form
    plain = pd.Series(plain).ewm(alpha=0.1, adjust=False).mean().to_numpy()[1:]
    np.testing.assert_allclose(diag.ewma(x, 0.9), corrected)
    np.testing.assert_allclose(diag.ewma(x, 0.9, bias_correction=False), plain)


@pytest.mark.parametrize("beta", [0.5, 0.9, 0.98])
def test_the_unrolled_ewma_twin_equals_the_library_recursion(beta, rng):
    x = rng.normal(size=40)
    np.testing.assert_allclose(se.ewma_unrolled(x, beta), diag.ewma(x, beta), rtol=1e-10)
    plain = se.ewma_unrolled(x, beta, bias_correction=False)
    np.testing.assert_allclose(plain, diag.ewma(x, beta, bias_correction=False), rtol=1e-10)


def test_ewma_formula_as_printed_overshoots():
    printed = se.ewma_as_printed(np.ones(5), 0.9)  # a constant series should average to 1
    assert printed[0] == pytest.approx(1.0) and printed[1] > 5  # (0.9 + 0.1) / 0.19 = 5.26
    np.testing.assert_allclose(diag.ewma(np.ones(5), 0.9), 1.0)


# --------------------------------------------------------------------------- notes 000: momentum


def test_momentum_terminal_velocity_is_ten_times_the_plain_step():
    momentum, plain = so.terminal_velocity(beta=0.9, lr=0.01, g=1.0, steps=200)
    assert momentum[-1] / plain[-1] == pytest.approx(10.0, rel=1e-6)
    # Keras' SGD(momentum=0.9) on the same constant gradient takes the same steps.
    w = keras.Variable([0.0])
    opt = keras.optimizers.SGD(0.01, momentum=0.9)
    steps = []
    for _ in range(50):
        before = float(w.numpy()[0])
        opt.apply_gradients([(keras.ops.ones(1), w)])
        steps.append(before - float(w.numpy()[0]))
    np.testing.assert_allclose(steps, momentum[:50], rtol=1e-5)


# --------------------------------------------------------------------------- notes 004: dropout


def test_dropout_samples_one_of_two_to_the_n_subnetworks():
    masks = sd.subnetwork_masks(4)
    assert masks.shape == (16, 4) and len({tuple(m) for m in masks.tolist()}) == 16
    assert sd.mask_probabilities(masks, 0.3).sum() == pytest.approx(1.0)
    x, w = np.array([1.0, -2.0, 0.5, 3.0]), np.arange(8.0).reshape(4, 2)
    np.testing.assert_allclose(sd.expected_output(x, w, 0.3), x @ w)
    ex = ne.dropout_examples()
    assert ex["subnetworks"] == 16 == ex["keras_distinct_masks_in_4000_draws"]
    assert ex["keras_masks_all_enumerated"] and ex["mask_average_equals_full_network"]
    with pytest.raises(ValueError, match=r"Received: n=0"):
        sd.subnetwork_masks(0)


# --------------------------------------------------------------------------- notes 000/002: CNNs


def test_why_convolution_weight_counts():
    mnist, big = dense_vs_conv_weights((28, 28)), dense_vs_conv_weights((256, 256))
    assert mnist["dense_weights"] == 784 * 128 == 100_352  # the notes' "~100K"
    assert big["pixels"] == 65_536  # the notes print "56,000 pixels" (errata)
    assert big["dense_weights"] == 8_388_608  # the notes' "8M"
    assert mnist["conv_weights"] == big["conv_weights"] == 5 * 5 * 128  # independent of size
    with pytest.raises(ValueError, match=r"Received: image_shape=\(28,\)"):
        dense_vs_conv_weights((28,))


@pytest.mark.parametrize(
    "name, depth",
    [("vgg16", 16), ("resnet152", 152), ("alexnet", 8), ("googlenet", 22), ("lenet5", 7)],
)
def test_layer_counts_by_the_papers_rule(name, depth):
    # Notes 002 print LeNet(8), AlexNet(7), GoogLeNet(19); the papers say 7, 8 and 22 (errata).
    assert paper_depth(shapes_only(create_model, name)) == depth


def test_alexnet_c1_under_same_padding_is_56_not_55():
    trunk = create_model("alexnet", include_top=False)  # 224x224 input, 11x11/4, SAME
    assert trunk.get_layer("block1_conv").output.shape[1:3] == (56, 56)  # ceil(224 / 4)
    assert trunk.get_layer("block1_pool").output.shape[1:3] == (27, 27)  # the table's S2


def test_googlenet_is_not_12_times_smaller_than_alexnet():
    g = shapes_only(create_model, "googlenet").count_params()
    a = shapes_only(create_model, "alexnet").count_params()  # the paper's AlexNet
    assert g == 6_998_552  # the paper's ~7M, not the notes' "4 million"
    assert 8 < a / g < 10  # ~8.9x fewer (the paper: 12x fewer than Krizhevsky's two-GPU net)
