"""Labs 32-34's own measuring helpers: each checked on a case whose answer is known."""

from __future__ import annotations

import keras
import numpy as np

from dlcourse import labkit
from dlcourse.models.mlp import deep_mlp


def test_unit_spread_is_zero_for_equal_units_and_sees_one_changed_weight():
    spread = labkit.load_lab("32")._unit_spread
    model = deep_mlp((4,), 3, depth=2, units=5, kernel_initializer=keras.initializers.Constant(0.3))
    assert spread(model) == [0.0, 0.0]
    kernel, bias = model.get_layer("hidden2").get_weights()
    kernel[2, 4] += 0.25  # unit 5 of layer 2 now differs from the others by 0.25
    model.get_layer("hidden2").set_weights([kernel, bias])
    assert spread(model) == [0.0, 0.25]


def test_bowl_path_follows_plain_gradient_descent_exactly():
    lab = labkit.load_lab("33")
    path = lab._bowl_path(keras.optimizers.SGD(0.005), 20)
    # theta_t = (1 - lr * curvature)^t * theta_0 on each axis of the bowl
    want = np.array([10.0, 1.0]) * (1 - 0.005 * lab.BOWL) ** np.arange(21)[:, None]
    np.testing.assert_allclose(path, want, rtol=1e-4)


def test_bowl_summary_counts_steps_to_a_millionth_of_the_start():
    lab = labkit.load_lab("33")
    path = np.array([[10.0, 1.0]]) * 0.5 ** np.arange(30)[:, None]  # J falls by 4 per step
    summary = lab._bowl_summary(path)
    assert summary["steps_to_1e-6"] == 10  # 4**-10 < 1e-6 <= 4**-9
    assert summary["last_step_over_first"] == round(0.5**28, 4)
    assert summary["steep_swing_after_20"] == round(0.5**20, 8)  # |theta2| at step 20
    slow = np.array([[10.0, 1.0]]) * 0.9 ** np.arange(30)[:, None]  # J / J0 = 0.81**29 at the end
    assert lab._bowl_summary(slow)["steps_to_1e-6"] is None
