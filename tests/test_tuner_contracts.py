"""keras-tuner's own oracle and grid-search contracts, ported to dlcourse's tuners.

Written after keras-tuner's ``tuners/gridsearch_test.py`` and ``engine/oracle_test.py``
(exhaustive grid, new and conditional hyperparameters, grid order with trials in flight,
retries of invalid trials, no retry of failed ones, NaN scores, consecutive failures) and run
against dlcourse's oracles and tuners, plus what dlcourse adds: the walk survives a reload,
coarse-to-fine fills its budget in a small discrete space, the same seed trains the same
trials, and the command line refuses a flag the chosen tuner does not take. Tuner tests stay
fast by overriding ``run_trial``.
"""

from __future__ import annotations

import random
import types

import keras_tuner
import numpy as np
import pytest
import tensorflow as tf
from keras_tuner.engine import trial as trial_module

from dlcourse import errors
from dlcourse.tuning import TUNERS, make_tuner, oracles, run_search
from dlcourse.tuning.coarse_to_fine import CoarseToFineOracle

RUNNING, IDLE, STOPPED = "RUNNING", "IDLE", "STOPPED"


class Conditional(keras_tuner.HyperModel):
    """keras-tuner's ``test_new_hp`` space: a Boolean switches between two 3-value Choices."""

    def build(self, hp):
        if hp.Boolean("b"):
            hp.Choice("c1", [0, 1, 2])
        else:
            hp.Choice("c2", [3, 4, 5])


class Booleans(keras_tuner.HyperModel):
    def build(self, hp):
        for i in range(4):
            hp.Boolean(f"b{i}")


def _registering(tuner, score=None):
    """run_trial builds the hypermodel (so it registers what it uses) and scores at random."""

    def run_trial(self, trial, *args, **kwargs):
        self.hypermodel.build(trial.hyperparameters)
        values = trial.hyperparameters.values
        return {"val_accuracy": score(values) if score else random.random()}

    tuner.run_trial = types.MethodType(run_trial, tuner)
    return tuner


def _points(tuner) -> list[dict]:
    trials = tuner.oracle.trials
    return [trials[t].hyperparameters.values for t in sorted(trials, key=int)]


def _search(tuner, name: str) -> None:
    if name == "cv-grid":
        tuner.search(np.zeros((8, 2)), np.array([0, 1] * 4), verbose=0)
    else:
        tuner.search(verbose=0)


# ----------------------------------------------------------------------------- grid search


@pytest.mark.parametrize("name", ["grid", "cv-grid"])
def test_grid_enumerates_only_active_values_as_keras_tuner_does(name, tmp_path):
    reference = _registering(
        keras_tuner.GridSearch(Conditional(), objective="val_accuracy", directory=tmp_path)
    )
    reference.search(verbose=0)
    kw = {"folds": 2} if name == "cv-grid" else {}
    tuner = _registering(make_tuner(name, Conditional(), directory=tmp_path, **kw))
    _search(tuner, name)
    ours = _points(tuner)
    assert len(ours) == len(reference.oracle.trials) == 3 + 3 * 3  # keras-tuner's count
    assert sorted(map(repr, ours)) == sorted(map(repr, _points(reference)))
    assert len({repr(sorted(p.items())) for p in ours}) == len(ours)  # nothing trained twice


def test_grid_explores_every_combination_of_choices(tmp_path):
    class Space(keras_tuner.HyperModel):
        def build(self, hp):
            hp.Choice("units_1", [2, 4])
            hp.Boolean("dropout")
            hp.Choice("units_2", [1, 3])
            hp.Choice("optimizer", ["adam", "sgd", "rmsprop"])
            hp.Fixed("loss", "binary_crossentropy")

    tuner = _registering(make_tuner("grid", Space(), directory=tmp_path))
    tuner.search(verbose=0)
    points = {repr(sorted(p.items())) for p in _points(tuner)}
    assert len(points) == len(tuner.oracle.trials) == 2 * 2 * 2 * 3


def test_grid_steps_hyperparameters_declared_in_fit_and_conditional_scopes(tmp_path):
    class Space(keras_tuner.HyperModel):
        def build(self, hp):
            a = hp.Boolean("bool")
            with hp.conditional_scope("bool", [True]):
                if a:
                    hp.Choice("choice1", [1, 2])
            with hp.conditional_scope("bool", [False]):
                if not a:
                    hp.Choice("choice2", [3, 4])

        def fit(self, hp, model, *args, **kwargs):
            a = hp.Boolean("bool2")
            with hp.conditional_scope("bool2", [True]):
                if a:
                    hp.Choice("choice3", [1, 2])
            with hp.conditional_scope("bool2", [False]):
                if not a:
                    hp.Choice("choice4", [3, 4])
            return random.random()

    tuner = make_tuner("grid", Space(), objective="val_loss", directory=tmp_path)

    def run_trial(self, trial, *args, **kwargs):
        hp = trial.hyperparameters
        return {"val_loss": self.hypermodel.fit(hp, self.hypermodel.build(hp))}

    tuner.run_trial = types.MethodType(run_trial, tuner)
    tuner.search(verbose=0)
    assert len(tuner.oracle.trials) == 4 * 4


def test_grid_waits_idle_for_trials_in_flight_then_stops(tmp_path):
    """Two tuners share the grid: a point after a running trial is not known until it ends."""

    class Space(keras_tuner.HyperModel):
        def build(self, hp):
            hp.Boolean("bool")

        def fit(self, hp, model, *args, **kwargs):
            hp.Boolean("bool2")

    oracle = oracles.GridSearchOracle(objective="val_loss")
    oracle._set_project_dir(str(tmp_path), "grid")
    Space().build(oracle.hyperparameters)

    def end(trial):
        hm = Space()
        hm.fit(trial.hyperparameters, hm.build(trial.hyperparameters))
        oracle.update_space(trial.hyperparameters)
        oracle.update_trial(trial.trial_id, {"val_loss": random.random()})
        trial.status = trial_module.TrialStatus.COMPLETED
        oracle.end_trial(trial)

    t1, t2 = oracle.create_trial("1"), oracle.create_trial("2")
    assert (t1.status, t2.status) == (RUNNING, RUNNING)
    assert oracle.create_trial("3").status == IDLE  # bool2 not discovered yet
    end(t1)
    t3 = oracle.create_trial("3")
    assert t3.status == RUNNING  # bool2's other value after trial 1
    assert oracle.create_trial("4").status == IDLE
    end(t2)
    t4 = oracle.create_trial("4")
    assert t4.status == RUNNING
    end(t3)
    end(t4)
    assert oracle.create_trial("5").status == STOPPED
    assert len(oracle.trials) == 4


@pytest.mark.parametrize("name", ["grid", "cv-grid"])
def test_grid_reloaded_midway_finishes_the_same_walk(name, tmp_path):
    kw = {"folds": 2} if name == "cv-grid" else {}
    full = _registering(make_tuner(name, Conditional(), directory=tmp_path, **kw))
    _search(full, name)
    first = _registering(
        make_tuner(
            name, Conditional(), max_trials=5, project_name="resumed", directory=tmp_path, **kw
        )
    )
    _search(first, name)
    assert len(first.oracle.trials) == 5
    again = _registering(
        make_tuner(
            name, Conditional(), max_trials=20, project_name="resumed", directory=tmp_path, **kw
        )
    )
    assert len(again.oracle.trials) == 5  # reloaded, not restarted
    _search(again, name)
    assert _points(again) == _points(full)


# ----------------------------------------------------------------------------- coarse-to-fine


@pytest.mark.parametrize("budget", [15, 16])
def test_coarse_to_fine_fills_its_budget_while_points_are_untried(budget, tmp_path):
    for seed in range(8):
        tuner = _registering(
            make_tuner(
                "coarse-to-fine",
                Booleans(),
                max_trials=budget,
                seed=seed,
                directory=tmp_path,
                project_name=f"s{seed}",
            ),
            score=lambda v: sum(v.values()) + random.random(),
        )
        tuner.search(verbose=0)
        points = {repr(sorted(p.items())) for p in _points(tuner)}
        assert len(points) == len(tuner.oracle.trials) == budget, f"seed {seed}"


def test_coarse_to_fine_stops_when_a_small_space_is_exhausted(tmp_path):
    tuner = _registering(
        make_tuner("coarse-to-fine", Booleans(), max_trials=30, directory=tmp_path)
    )
    tuner.search(verbose=0)
    assert len(tuner.oracle.trials) == 16


# ----------------------------------------------------------------------------- failed trials

ORACLES = {
    "random": lambda **kw: oracles.RandomSearchOracle(max_trials=20, **kw),
    "grid": lambda **kw: oracles.GridSearchOracle(max_trials=20, **kw),
    "coarse-to-fine": lambda **kw: CoarseToFineOracle(max_trials=20, **kw),
    "bayesian": lambda **kw: oracles.BayesianOptimizationOracle(max_trials=20, **kw),
    "hyperband": lambda **kw: oracles.HyperbandOracle(max_epochs=9, **kw),
}


def _oracle(name: str, tmp_path, **kw):
    hp = keras_tuner.HyperParameters()
    hp.Int("units", 1, 30)
    hp.Choice("act", ["relu", "tanh", "elu"])
    oracle = ORACLES[name](objective="val_loss", hyperparameters=hp, seed=1, **kw)
    oracle._set_project_dir(str(tmp_path), name)
    return oracle


def _end(oracle, trial, status: str, loss: float | None = None) -> None:
    if loss is not None:
        oracle.update_trial(trial.trial_id, {"val_loss": loss})
    trial.status = status
    trial.message = "error1"
    oracle.end_trial(trial)


@pytest.mark.parametrize("name", list(ORACLES))
def test_an_invalid_trial_is_not_retried_by_default(name, tmp_path):
    oracle = _oracle(name, tmp_path)
    first = oracle.create_trial("a")
    _end(oracle, first, "INVALID")
    assert oracle.create_trial("a").trial_id != first.trial_id


@pytest.mark.parametrize("name", list(ORACLES))
def test_an_invalid_trial_is_retried_max_retries_per_trial_times(name, tmp_path):
    oracle = _oracle(name, tmp_path, max_retries_per_trial=1)
    first = oracle.create_trial("a")
    _end(oracle, first, "INVALID")
    retry = oracle.create_trial("a")
    assert retry.trial_id == first.trial_id  # the retry
    _end(oracle, retry, "INVALID")
    assert oracle.create_trial("b").trial_id != first.trial_id
    assert oracle.trials[first.trial_id].status == "FAILED"


@pytest.mark.parametrize("name", list(ORACLES))
def test_a_failed_trial_is_skipped_and_a_nan_score_is_invalid(name, tmp_path):
    oracle = _oracle(name, tmp_path, max_retries_per_trial=1)
    failed = oracle.create_trial("a")
    _end(oracle, failed, "FAILED")
    nan = oracle.create_trial("a")
    assert nan.trial_id != failed.trial_id  # failed: no retry
    _end(oracle, nan, "COMPLETED", loss=float("nan"))
    assert oracle.trials[nan.trial_id].status == "INVALID"
    retry = oracle.create_trial("a")
    assert retry.trial_id == nan.trial_id  # NaN is invalid, so it is retried
    _end(oracle, retry, "INVALID")
    assert oracle.trials[nan.trial_id].status == "FAILED"  # retries used up
    ok = oracle.create_trial("a")
    _end(oracle, ok, "COMPLETED", loss=0.5)
    assert oracle.get_best_trials(1)[0].trial_id == ok.trial_id  # the failed ones are skipped


@pytest.mark.parametrize("name", list(ORACLES))
def test_consecutive_failures_within_the_limit_keep_searching(name, tmp_path):
    oracle = _oracle(name, tmp_path, max_retries_per_trial=2)
    for _ in range(6):  # (1 run + 2 retries) x 2 trials
        _end(oracle, oracle.create_trial("a"), "INVALID")
    for _ in range(3):
        _end(oracle, oracle.create_trial("a"), "COMPLETED", loss=0.5)
    assert sum(t.status == "COMPLETED" for t in oracle.trials.values()) == 3


@pytest.mark.parametrize("name", list(ORACLES))
def test_too_many_consecutive_failures_stop_the_search(name, tmp_path):
    oracle = _oracle(name, tmp_path, max_retries_per_trial=2)
    with pytest.raises(RuntimeError, match="Number of consecutive failures"):
        for _ in range(3):
            _end(oracle, oracle.create_trial("a"), "FAILED")


@pytest.mark.parametrize("name", TUNERS)
def test_a_search_of_only_failures_raises_naming_the_first_error(name, tmp_path):
    budget = {"hyperband": {"max_epochs": 3}, "cv-grid": {"folds": 2}}
    tuner = make_tuner(name, Conditional(), directory=tmp_path, **budget.get(name, {}))

    def run_trial(self, trial, *args, **kwargs):
        raise ValueError(f"broken trial {trial.trial_id}")

    tuner.run_trial = types.MethodType(run_trial, tuner)
    with pytest.raises(oracles.SearchFailedError, match=r"\(trial 0+\) raised: .*broken trial 0+"):
        _search(tuner, name)


# ----------------------------------------------------------------------------- same seed


def _tiny_splits(tuner: str) -> dict:
    rng = np.random.default_rng(0)
    x = rng.random((90, 6), dtype=np.float32)
    y = (x[:, 0] + x[:, 1] > 1).astype("int64") + (x[:, 2] > 0.5)
    if tuner == "cv-grid":
        return {"pool": tf.data.Dataset.from_tensor_slices((x, y)), "labels": y, "classes": 3}
    train = tf.data.Dataset.from_tensor_slices((x[:60], y[:60])).batch(16)
    val = tf.data.Dataset.from_tensor_slices((x[60:], y[60:])).batch(30)
    return {"train": train, "val": val, "classes": 3}


@pytest.mark.parametrize("name", TUNERS)
def test_same_seed_trains_the_same_trials(name, tmp_path):
    """Real (tiny) trials: same seed, same scores, so coarse-to-fine narrows the same way."""
    space = {"units": (4, 32, "log"), "learning_rate": (1e-3, 1e-1, "log"), "dropout": (0.0, 0.5)}
    if name in ("grid", "cv-grid"):
        space = {"units": [4, 16], "learning_rate": [1e-2, 1e-1]}
    budget = {"max_epochs": 2} if name == "hyperband" else {"max_trials": 2}
    budget |= {"coarse-to-fine": {"rounds": 2}, "cv-grid": {"folds": 2}}.get(name, {})
    runs = []
    for i in range(2):
        result = run_search(
            name,
            space=space,
            epochs=1,
            seed=3,
            directory=tmp_path,
            project_name=f"{name}{i}",
            report=False,
            splits=_tiny_splits(name),
            **budget,
        )
        runs.append([(t["values"], t["score"]) for t in result["trials"]])
    assert len(runs[0]) >= 2 and runs[0] == runs[1]


# ----------------------------------------------------------------------------- command line


def _cli(argv, capsys) -> tuple[int, str]:
    from dlcourse.tuning.__main__ import main

    code = errors.run_main(main, argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--tuner", "random", "--rounds", "3"], "--rounds"),
        (["--tuner", "random", "--shrink", "0.5"], "--shrink"),
        (["--tuner", "grid", "--folds", "3"], "--folds"),
        (["--tuner", "coarse-to-fine", "--folds", "2"], "--folds"),
        (["--tuner", "hyperband", "--max-trials", "5"], "--max-trials"),
        (["--tuner", "bayesian", "--max-epochs", "3"], "--max-epochs"),
    ],
)
def test_a_flag_the_tuner_does_not_take_exits_2_naming_it(argv, flag, capsys, tmp_path):
    code, err = _cli([*argv, "--directory", str(tmp_path / "runs")], capsys)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and f"(flag {flag})" in err
    assert not (tmp_path / "runs").exists()  # refused before any work


def test_the_cli_is_the_dataclass_parser_of_the_labs():
    from dlcourse.tuning.__main__ import SearchConfig, parser
    from dlcourse.utils import config_parser

    assert (
        parser().format_usage().split(None, 1)[1]
        == config_parser(SearchConfig, prog="python -m dlcourse.tuning")
        .format_usage()
        .split(None, 1)[1]
    )


def test_hyperband_refuses_max_trials_in_python_too(tmp_path):
    with pytest.raises(ValueError, match=r"`max_trials` does not apply to the hyperband tuner"):
        make_tuner("hyperband", Conditional(), max_trials=10, directory=tmp_path)
    with pytest.raises(ValueError, match=r"`folds` does not apply to the random tuner"):
        run_search("random", folds=3, directory=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
