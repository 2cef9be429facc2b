"""dlcourse.tuning: every tuner through the factory (fast: run_trial is overridden), the
coarse-to-fine oracle's rounds and resume after kill -9, the cross-validated grid, bad input."""

from __future__ import annotations

import json
import math
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from dlcourse.tuning import (
    TUNERS,
    CoarseToFineOracle,
    MLPHyperModel,
    make_tuner,
    summarize,
    table,
    validate_space,
)

SPACE = {
    "num_layers": (1, 3),
    "units": (8, 256, "log"),
    "activation": ["relu", "tanh", "elu"],
    "learning_rate": (1e-4, 1e-1, "log"),
}


def objective(values: dict) -> float:
    """A cheap stand-in score, best at lr = 10^-2.5, 64 units, relu (tests only)."""
    score = 1.0 - (math.log10(values["learning_rate"]) + 2.5) ** 2 / 10
    score -= abs(math.log2(values.get("units", 64) / 64)) / 20
    return score - (0.0 if values.get("activation", "relu") == "relu" else 0.05)


def _fast(tuner):
    def run_trial(self, trial, *args, **kwargs):
        return {"val_accuracy": objective(trial.hyperparameters.values)}

    tuner.run_trial = types.MethodType(run_trial, tuner)
    return tuner


def _hypermodel(space=SPACE):
    return MLPHyperModel((4,), 3, space=space)


@pytest.mark.parametrize("name", [t for t in TUNERS if t != "cv-grid"])
def test_every_tuner_runs_through_the_factory(name, tmp_path):
    space = SPACE if name not in ("grid",) else {"units": [8, 64], "learning_rate": [1e-3, 1e-2]}
    budget = {"max_epochs": 3} if name == "hyperband" else {"max_trials": 6}
    tuner = _fast(make_tuner(name, _hypermodel(space), directory=tmp_path, **budget))
    tuner.search(verbose=0)
    result = summarize(tuner)
    scores = [t["score"] for t in result["trials"] if t["status"] == "COMPLETED"]
    # grid: the 2x2 grid; hyperband (max_epochs=3, factor 3): brackets of 3+1 and 2 trials = 6
    assert len(scores) == (4 if name == "grid" else 6)
    assert len(scores) >= 4
    assert result["best"]["score"] == max(scores)
    assert result["best"]["score"] == pytest.approx(objective(result["best"]["values"]))
    assert Path(result["project_dir"]) == tmp_path / name
    assert "val_accuracy" in table(result).splitlines()[0]


def test_coarse_to_fine_narrows_around_the_best_respecting_log_sampling(tmp_path):
    tuner = _fast(
        make_tuner(
            "coarse-to-fine",
            _hypermodel(),
            max_trials=24,
            rounds=3,
            shrink=0.4,
            keep=1,
            seed=3,
            directory=tmp_path,
        )
    )
    tuner.search(verbose=0)
    oracle = tuner.oracle
    log = oracle.round_log
    assert [r["round"] for r in log] == [0, 1, 2] and [r["first_trial"] for r in log] == [0, 8, 16]
    assert log[0]["width"] == 1.0 and log[1]["width"] == pytest.approx(0.4)
    assert log[2]["width"] in (pytest.approx(0.4), pytest.approx(0.16))  # kept only if moved
    hp = {h.name: h for h in oracle.hyperparameters.space}
    trials = sorted(oracle.trials.values(), key=lambda t: int(t.trial_id))
    n_global = oracle._n_global()
    for r in log[1:]:  # the local samples of a round lie in the boxes around its centres
        lo, hi = r["ranges"]["learning_rate"]
        width = hp["learning_rate"].value_to_prob(hi) - hp["learning_rate"].value_to_prob(lo)
        assert width < 1.0
        first = r["first_trial"]
        inside = [
            lo <= t.hyperparameters.values["learning_rate"] <= hi * (1 + 1e-9)
            for t in trials[first : first + 8]
        ]
        assert sum(inside) >= 8 - n_global
        assert len(r["choices"]["activation"]) == 1  # keep=1
    best_by_round = [max(t.score for t in trials[i : i + 8]) for i in (0, 8, 16)]
    assert max(best_by_round[1:]) >= best_by_round[0]
    assert len({json.dumps(t.hyperparameters.values, sort_keys=True) for t in trials}) == 24


def test_coarse_to_fine_state_round_trips():
    oracle = CoarseToFineOracle(objective="val_accuracy", max_trials=6, rounds=2, seed=1)
    oracle.round, oracle.width, oracle.best_id = 1, 0.25, "03"
    oracle.centers, oracle.choices = [{"units": 32}], {"activation": ["elu"]}
    oracle.round_log = [{"round": 0}]
    state = json.loads(json.dumps(oracle.get_state()))
    other = CoarseToFineOracle(objective="val_accuracy", max_trials=6, rounds=2, seed=1)
    other.set_state(state)
    got = (other.round, other.width, other.best_id, other.centers, other.choices, other.round_log)
    assert got == (1, 0.25, "03", [{"units": 32}], {"activation": ["elu"]}, [{"round": 0}])


def test_cv_grid_scores_the_mean_over_folds_and_reports_the_spread(tmp_path):
    hm = _hypermodel({"units": [8, 64], "learning_rate": [1e-3, 1e-2]})
    seen = []

    def fit(self, hp, model, x, y, validation_data=None, **kwargs):
        seen.append((len(x), len(validation_data[0]), np.bincount(validation_data[1])))
        acc = objective(hp.values) - 0.01 * len(seen) % 3  # differs per fold
        return types.SimpleNamespace(history={"val_accuracy": [acc - 0.1, acc]})

    hm.fit = types.MethodType(fit, hm)
    tuner = make_tuner("cv-grid", hm, max_trials=None, folds=3, directory=tmp_path)
    x, y = np.zeros((30, 4), "float32"), np.repeat([0, 1, 2], 10)
    tuner.search(x, y, epochs=1, verbose=0)
    result = summarize(tuner)
    assert result["completed"] == 4 and len(seen) == 12
    assert all(
        n_tr == 20 and n_va == 10 and list(c) in ([3, 4, 3], [4, 3, 3], [3, 3, 4])
        for n_tr, n_va, c in seen
    )  # stratified folds
    for t in result["trials"]:
        folds = [t["metrics"][f"fold{k}_val_accuracy"] for k in range(3)]
        assert t["score"] == pytest.approx(np.mean(folds))
        assert t["metrics"]["val_accuracy_std"] == pytest.approx(np.std(folds))
    assert "val_accuracy_std" in table(result).splitlines()[0]


def test_bad_input_is_one_clear_value_error(tmp_path):
    hm = _hypermodel()
    with pytest.raises(ValueError, match=r"Received: tuner='annealing'; known tuners: grid, "):
        make_tuner("annealing", hm, directory=tmp_path)
    for bad in (0, -3):
        with pytest.raises(ValueError, match=rf"Received: max_trials={bad}"):
            make_tuner("random", hm, max_trials=bad, directory=tmp_path)
    for shrink in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match=r"`shrink` must be in \(0.0, 1.0\)\. Received"):
            make_tuner("coarse-to-fine", hm, shrink=shrink, directory=tmp_path)
    with pytest.raises(ValueError, match=r"Received: space=\{\}"):
        validate_space({})
    with pytest.raises(ValueError, match=r"min < max.*Received: space\['units'\]=\(64, 8\)"):
        validate_space({"units": (64, 8)})
    with pytest.raises(ValueError, match=r"log sampling needs min > 0"):
        validate_space({"learning_rate": (0.0, 0.1, "log")})
    with pytest.raises(ValueError, match=r"Received: 'momentum'"):
        validate_space({"momentum": [0.9]})
    with pytest.raises(ValueError, match=r"distinct values"):
        validate_space({"activation": []})
    with pytest.raises(ValueError, match=r"Received: rounds=5"):
        CoarseToFineOracle(max_trials=4, rounds=5)


def test_grid_over_a_log_stepped_int_builds_real_models(tmp_path, rng):
    # Real trials (no run_trial override): GridSearch hands back the floats keras-tuner lists
    # for a log-stepped Int (16.0, 32.0, 64.0); the hypermodel must still build Dense(int).
    x, y = rng.random((48, 4), dtype=np.float32), rng.integers(0, 3, 48)
    hm = MLPHyperModel((4,), 3, space={"units": (16, 64, "log", 2)})
    tuner = make_tuner("grid", hm, directory=str(tmp_path), overwrite=True)
    tuner.search(x, y, validation_data=(x, y), epochs=1, verbose=0)
    result = summarize(tuner)
    assert result["completed"] == 3
    assert sorted(int(t["values"]["units"]) for t in result["trials"]) == [16, 32, 64]
    # keras-tuner reloads the best checkpoint into a model whose optimizer is not built yet;
    # Keras then warns that it skips the optimizer's state, which this check does not need.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        units = tuner.get_best_models(1)[0].get_layer("hidden1").units
    assert isinstance(units, int) and units in (16, 32, 64)
