"""Optimizers, clipping and schedules: NumPy twins vs Keras step by step, schedules vs Keras."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from dlcourse.scratch import optimizers as so
from dlcourse.training import callbacks as cbs
from dlcourse.training import schedules as sch
from dlcourse.training.optimizers import OPTIMIZERS, create_optimizer

N_STEPS = 5


def _keras_path(opt, grads, theta0):
    """Apply ``grads`` one by one to a variable starting at ``theta0``; return every iterate."""
    var = keras.Variable(theta0.astype("float64"), dtype="float64")
    path = []
    for g in grads:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g, "float64"), var)])
        path.append(np.asarray(var.numpy()))
    return np.array(path)


def _numpy_path(step, grads, theta0, **kw):
    theta, state, path = theta0.copy(), {}, []
    for g in grads:
        theta = step(theta, g, state, **kw)
        path.append(theta.copy())
    return np.array(path)


@pytest.fixture
def grads(rng):
    return rng.normal(size=(N_STEPS, 7))


@pytest.fixture
def theta0(rng):
    return rng.normal(size=7)


CASES = {
    "sgd": ({"learning_rate": 0.1}, so.sgd_step, {"lr": 0.1}),
    "momentum": (
        {"learning_rate": 0.1, "momentum": 0.8},
        so.momentum_step,
        {"lr": 0.1, "beta": 0.8},
    ),
    "nesterov": (
        {"learning_rate": 0.1, "momentum": 0.8},
        so.momentum_step,
        {"lr": 0.1, "beta": 0.8, "nesterov": True},
    ),
    "adagrad": ({"learning_rate": 0.1}, so.adagrad_step, {"lr": 0.1}),
    "rmsprop": ({"learning_rate": 0.01, "rho": 0.8}, so.rmsprop_step, {"lr": 0.01, "rho": 0.8}),
    "adam": ({"learning_rate": 0.01, "beta_1": 0.8}, so.adam_step, {"lr": 0.01, "b1": 0.8}),
    "nadam": ({"learning_rate": 0.01}, so.nadam_step, {"lr": 0.01}),
    "adamax": ({"learning_rate": 0.01}, so.adamax_step, {"lr": 0.01}),
    "adamw": (
        {"learning_rate": 0.01, "weight_decay": 0.1},
        so.adamw_step,
        {"lr": 0.01, "weight_decay": 0.1},
    ),
}


def test_every_factory_name_has_a_numpy_twin():
    assert set(CASES) == set(OPTIMIZERS)


@pytest.mark.parametrize("name", list(CASES))
def test_numpy_update_rule_matches_keras_step_by_step(name, grads, theta0):
    kw, step, np_kw = CASES[name]
    opt = create_optimizer(name, **kw)
    expected = _numpy_path(step, grads, theta0, **np_kw)
    np.testing.assert_allclose(
        _keras_path(opt, grads, theta0), expected, rtol=1e-6, atol=1e-9
    )  # lr is a float32 variable
    assert not np.allclose(expected[0], theta0)


def test_notes_momentum_form_gives_the_same_path(grads, theta0):
    ours = _numpy_path(so.momentum_step_notes, grads, theta0, lr=0.1, beta=0.9)
    keras_form = _numpy_path(so.momentum_step, grads, theta0, lr=0.1, beta=0.9)
    np.testing.assert_allclose(ours, keras_form, rtol=1e-12)


def test_nesterov_keras_variable_is_the_notes_look_ahead_point():
    """On J = 1/2 theta^T A theta, the notes' NAG (gradient at theta - beta m) and Keras' NAG
    (variable phi = theta - beta m) visit the same points."""
    a = np.diag([1.0, 10.0])
    lr, beta = 0.05, 0.9
    theta, m = np.array([1.0, 1.0]), np.zeros(2)
    opt = create_optimizer("nesterov", learning_rate=lr, momentum=beta)
    var = keras.Variable(theta.copy(), dtype="float64")
    for _ in range(N_STEPS):
        m = beta * m + lr * a @ (theta - beta * m)  # notes, with the look-ahead sign fixed
        theta = theta - m
        phi = var.numpy()
        opt.apply_gradients([(keras.ops.convert_to_tensor(a @ phi), var)])
        np.testing.assert_allclose(var.numpy(), theta - beta * m, rtol=1e-6)


def test_adagrad_from_zero_accumulator_is_the_notes_rule(grads, theta0):
    opt = keras.optimizers.Adagrad(0.1, initial_accumulator_value=0.0, epsilon=1e-7)
    notes = _numpy_path(so.adagrad_step, grads, theta0, lr=0.1, s0=0.0)
    np.testing.assert_allclose(_keras_path(opt, grads, theta0), notes, rtol=1e-6)


def test_adam_notes_form_equals_keras_without_epsilon(grads, theta0):
    opt = create_optimizer("adam", learning_rate=0.01, epsilon=0.0)
    notes = _numpy_path(so.adam_step_notes, grads, theta0, lr=0.01, eps=0.0)
    np.testing.assert_allclose(_keras_path(opt, grads, theta0), notes, rtol=1e-6)
    # with the default epsilons the two differ only by where epsilon sits: tiny
    notes_eps = _numpy_path(so.adam_step_notes, grads, theta0, lr=0.01, eps=1e-8)
    np.testing.assert_allclose(notes_eps, notes, atol=1e-6)


@pytest.mark.parametrize("kind", ["clipnorm", "clipvalue", "global_clipnorm"])
def test_clipping_through_the_factory_matches_the_numpy_clip(kind, rng):
    g1, g2 = rng.normal(size=4) * 5, rng.normal(size=3) * 5
    opt = create_optimizer("sgd", learning_rate=1.0, **{kind: 1.0})
    v1, v2 = keras.Variable(np.zeros(4)), keras.Variable(np.zeros(3))
    opt.apply_gradients(
        [(keras.ops.convert_to_tensor(g1), v1), (keras.ops.convert_to_tensor(g2), v2)]
    )
    if kind == "clipnorm":
        expected = [so.clip_by_norm(g1, 1.0), so.clip_by_norm(g2, 1.0)]
        assert np.linalg.norm(expected[0]) == pytest.approx(1.0)
    elif kind == "clipvalue":
        expected = [so.clip_by_value(g1, 1.0), so.clip_by_value(g2, 1.0)]
    else:
        expected = so.clip_by_global_norm([g1, g2], 1.0)
    np.testing.assert_allclose(-v1.numpy(), expected[0], rtol=1e-6)
    np.testing.assert_allclose(-v2.numpy(), expected[1], rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "adadelta"}, "name='adadelta'"),
        ({"name": "sgd", "learning_rate": -0.1}, "learning_rate=-0.1"),
        ({"name": "momentum", "momentum": 1.2}, "momentum=1.2"),
        ({"name": "sgd", "clipnorm": 0.0}, "clipnorm=0.0"),
        ({"name": "sgd", "clipnorm": 1.0, "clipvalue": 1.0}, "at most one"),
    ],
)
def test_factory_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        create_optimizer(**kwargs)


# ---------------------------------------------------------------- schedules


def test_exponential_schedule_equals_keras_exponential_decay():
    ours = sch.ExponentialSchedule(0.1, r=20)
    ref = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=20, decay_rate=0.1)
    steps = np.arange(0, 100, 7)
    np.testing.assert_allclose(
        [float(ours(t)) for t in steps], [float(ref(t)) for t in steps], rtol=1e-6
    )
    assert float(ours(20)) == pytest.approx(0.01)


def test_power_schedule_c1_equals_inverse_time_decay_and_c_changes_it():
    ours, ref = (
        sch.PowerSchedule(0.1, r=10, c=1),
        keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=10, decay_rate=1.0),
    )
    steps = np.arange(0, 100, 9)
    np.testing.assert_allclose(
        [float(ours(t)) for t in steps], [float(ref(t)) for t in steps], rtol=1e-6
    )
    assert float(sch.PowerSchedule(0.1, r=10, c=2)(10)) == pytest.approx(0.1 / 4)


def test_one_cycle_ramps_up_then_down():
    lr = np.array(sch.schedule_values(sch.OneCycle(1.0, total_steps=100), 100))
    peak = int(np.argmax(lr))
    assert lr[peak] == pytest.approx(1.0) and 40 <= peak <= 50
    assert lr[0] == pytest.approx(0.1, rel=1e-6) and lr[-1] == pytest.approx(1e-4, rel=1e-3)
    assert np.all(np.diff(lr[: peak + 1]) > 0) and np.all(np.diff(lr[peak:]) <= 1e-7)


def test_piecewise_schedule_by_name():
    lr = sch.schedule_values(
        sch.create_schedule("piecewise", 0.1, steps_per_epoch=10, epochs=4), 40
    )
    assert lr[0] == pytest.approx(0.1) and lr[25] == pytest.approx(0.01)
    assert lr[35] == pytest.approx(0.001)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"name": "cosine"}, "name='cosine'"),
        ({"name": "power", "eta0": -1.0}, "eta0=-1.0"),
        ({"name": "power", "c": 0}, "c=0"),
        ({"name": "exponential", "r": 0}, "r=0"),
    ],
)
def test_bad_schedules_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sch.create_schedule(**kwargs)


@pytest.mark.parametrize(
    "schedule",
    [
        sch.ExponentialSchedule(0.05, 7.0),
        sch.PowerSchedule(0.05, 5.0, c=0.5),
        sch.OneCycle(0.05, 30),
    ],
)
def test_schedules_round_trip_inside_an_optimizer(schedule, tmp_path, rng):
    x, y = rng.normal(size=(32, 3)).astype("float32"), rng.normal(size=(32, 1))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(schedule), "mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    lr = keras.optimizers.schedules.deserialize(loaded.optimizer.get_config()["learning_rate"])
    assert type(lr) is type(schedule) and lr.get_config() == schedule.get_config()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    loaded.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5)


def test_performance_scheduling_cuts_the_rate_when_loss_stalls(rng):
    x, y = rng.normal(size=(16, 2)).astype("float32"), rng.normal(size=(16, 1))
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    logger = cbs.LearningRateLogger()
    hist = model.fit(
        x,
        y,
        epochs=4,
        verbose=0,
        callbacks=[
            sch.performance_scheduling(0.5, patience=0, monitor="loss", min_delta=1.0),
            logger,
        ],
    )
    # min_delta=1 means "never improves": halved after every epoch but the first
    np.testing.assert_allclose(hist.history["lr"], [0.1, 0.05, 0.025, 0.0125], rtol=1e-6)
    with pytest.raises(ValueError, match="factor=1.5"):
        sch.performance_scheduling(1.5)


def test_learning_rate_finder_sweeps_and_restores_weights(rng):
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0]))[:, None]
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    before = model.get_weights()
    rates, losses, best = cbs.find_learning_rate(model, (x, y), min_lr=1e-4, max_lr=10.0, steps=40)
    assert np.all(np.diff(rates) > 0) and len(rates) == len(losses) >= 10
    assert 1e-5 < best < 1.0 and losses.min() < losses[0]
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)


def test_learning_rate_finder_refuses_a_scheduled_optimizer(rng):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(sch.ExponentialSchedule(0.1, 10.0)), "mse")
    with pytest.raises(ValueError, match="learning_rate=ExponentialSchedule"):
        cbs.find_learning_rate(model, (rng.normal(size=(8, 2)), rng.normal(size=(8, 1))))
