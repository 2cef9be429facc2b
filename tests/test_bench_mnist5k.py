"""The mnist5k accuracy benchmark: its loss matches Keras', and it chooses on validation only."""

from __future__ import annotations

import numpy as np

from dlcourse.bench import mnist5k


def test_smoothed_loss_matches_keras_label_smoothing():
    import keras

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, size=(8, 1))
    probs = rng.dirichlet(np.ones(10), size=8).astype("float32")
    ours = mnist5k._smoothed_loss(0.1)(labels, probs)
    ref = keras.losses.categorical_crossentropy(
        np.eye(10, dtype="float32")[labels[:, 0]], probs, label_smoothing=0.1
    )
    np.testing.assert_allclose(np.asarray(ours), np.asarray(ref), rtol=1e-6)
    plain = mnist5k._smoothed_loss(0.0)(labels, probs)
    assert not np.allclose(np.asarray(plain), np.asarray(ours))  # smoothing changes the loss


def test_settings_are_chosen_on_validation_not_test(monkeypatch):
    good_val = {"model": "mlp_mnist", "epochs": 2}
    good_test = {"model": "mlp_mnist", "epochs": 3, "dropout": 0.2}
    scores = {2: (0.97, 0.95), 3: (0.96, 0.99)}  # epochs -> (val, test)
    calls = []

    def fake_train(setting, seed=42, score_test=True):
        calls.append((setting["epochs"], seed))
        val, test = scores[setting["epochs"]]
        return {"val": val, "test": test, "train_s": 1.0, "time_to_goal_s": None,
                "best_epoch": 1, "epochs_run": 1}  # fmt: skip

    def fake_sklearn(candidates, splits):
        return {"setting": "C=1", "val": 0.9, "test": 0.9, "train_s": 0.1}

    monkeypatch.setattr(mnist5k, "_keras_candidates", lambda quick: [good_val, good_test])
    monkeypatch.setattr(mnist5k, "_train_keras", fake_train)
    monkeypatch.setattr(mnist5k, "_fit_sklearn", fake_sklearn)
    monkeypatch.setattr("dlcourse.data.load", lambda name: None)
    main, seeds = mnist5k.run(quick=False)
    row = main.rows[0]
    assert row[1] == mnist5k._label(good_val) and row[4] == 0.95  # not the test-best setting
    assert calls == [(2, 42), (3, 42), (2, 1), (2, 2)]  # only the chosen one is rerun
    assert seeds.rows[-1][:2] == ["mlp_mnist", "min / mean / max"]
    assert seeds.rows[-1][5] == "0 of 3"  # 0.95 < the MLP goal, every seed
