"""Unit II: the MLP builders and what the labs claim (quick mode, in-process)."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse import labkit
from dlcourse.models import create_model, list_models
from dlcourse.models import mlp as mlps


def test_mlp_mnist_has_the_notes_parameter_count_and_three_apis_agree(tmp_path):
    import keras

    functional = create_model("mlp_mnist")
    assert functional.count_params() == 266_610 == 784 * 300 + 300 + 300 * 100 + 100 + 1010
    assert {"mlp", "mlp_mnist"} <= set(list_models("mlp"))
    sequential = mlps.mlp_sequential()
    subclassed = mlps.MLP()
    subclassed.build((None, 28, 28, 1))
    assert sequential.count_params() == subclassed.count_params() == 266_610
    sequential.set_weights(functional.get_weights())
    subclassed.set_weights(functional.get_weights())
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype("float32")
    ref = functional(x).numpy()
    np.testing.assert_allclose(sequential(x).numpy(), ref, atol=1e-6)
    np.testing.assert_allclose(subclassed(x).numpy(), ref, atol=1e-6)
    subclassed.save(tmp_path / "m.keras")
    reloaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(reloaded(x).numpy(), ref, atol=1e-6)
    assert reloaded.get_config()["hidden"] == [300, 100]
    assert mlps.MLP.from_config(subclassed.get_config()).get_config() == subclassed.get_config()


def test_mlp_builder_options_and_bad_input():
    m = create_model("mlp", hidden=(8,), input_shape=(64,), classes=3, include_top=False)
    assert m.output_shape == (None, 8)
    logits = create_model("mlp", hidden=(8,), input_shape=(64,), classifier_activation=None)
    assert logits.layers[-1].activation.__name__ == "linear"
    with pytest.raises(ValueError, match="Received: classes=0"):
        create_model("mlp", classes=0)
    with pytest.raises(ValueError, match=r"Received: hidden=\(300, 0\)"):
        create_model("mlp", hidden=(300, 0))


def test_perceptron_lab_reproduces_the_notes(tmp_path):
    m = labkit.run_lab("10", quick=True, out_dir=str(tmp_path))
    gates = m["notes_gates"]
    assert gates["and"]["correct_as_bias"] and gates["or"]["correct_as_bias"]
    assert gates["not_x1"]["correct_as_threshold"]  # the notes' NOT uses theta as a threshold
    ann = m["simplified_two_layer_ann"]
    assert [round(h, 2) for h in ann["h"]] == [0.80, 0.75, 0.69]
    assert ann["z_out_with_rounded_h"] == pytest.approx(1.105)
    assert round(ann["out_with_rounded_h"], 2) == 0.75 == round(ann["keras_out"], 2)
    assert m["snowboarding"]["shredder"]["goes"] == 1
    assert max(m["twin_vs_sklearn_max_abs_diff"].values()) == 0.0
    iris = m["iris_setosa"]  # setosa is linearly separable by its petals: the rule converges
    assert iris["linearly_separable"] and iris["epochs_to_converge"] is not None
    assert iris["test_accuracy"] == 1.0 == iris["sklearn_test_accuracy"]
    assert (tmp_path / "10_perceptron" / "iris_setosa.png").stat().st_size > 0
    xor = m["xor"]
    assert not xor["linearly_separable"] and xor["perceptron_mistakes_last_epoch"] > 0
    assert xor["perceptron_cycle_length_epochs"] is not None
    assert xor["hand_set_two_layer_correct"] and xor["learned_two_layer_correct"]
    assert (tmp_path / "10_perceptron" / "decision_regions.png").stat().st_size > 0


def test_activation_and_backprop_labs_match_tensorflow(tmp_path):
    m = labkit.run_lab("11", quick=True, out_dir=str(tmp_path))
    assert max(m["max_abs_diff_vs_tensorflow"].values()) < 1e-12
    assert max(m["max_abs_diff_derivative_vs_autodiff"].values()) < 1e-12
    assert m["sigmoid_grad_max"] == pytest.approx(0.25)
    m = labkit.run_lab("12", quick=True, out_dir=str(tmp_path))
    assert m["max_abs_grad_diff_vs_gradient_tape"] < 1e-12
    assert m["gradient_check_relative_diff"] < 1e-7
    assert m["lockstep_max_abs_weight_diff_vs_keras_sgd"] < 1e-7  # measured ~6e-9
    assert m["cost_twin"] == pytest.approx(m["cost_tensorflow"], rel=1e-9)


def test_keras_apis_lab_low_level_loop_equals_fit(tmp_path):
    m = labkit.run_lab("13", quick=True, out_dir=str(tmp_path))
    assert set(m["params"].values()) == {266_610}
    assert max(m["max_abs_output_diff"].values()) < 1e-6
    assert m["loop_vs_fit_max_abs_weight_diff"] < 1e-5
    assert m["loop_final_loss"] == pytest.approx(m["fit_final_loss"], rel=1e-4)
