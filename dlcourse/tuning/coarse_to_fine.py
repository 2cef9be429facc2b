"""Coarse-to-fine search: a keras-tuner ``Oracle`` that narrows the space round by round.

Notes 000 Unit II ("Right setting of hyperparameters: grid search, randomised search, coarse to
fine"); Bergstra & Bengio (2012), "Random search for hyper-parameter optimization", for sampling
instead of gridding.

Round 0 samples the whole space coarsely (Latin-hypercube strata over each hyperparameter's
``[0, 1)`` probability scale). Before each later round every numeric hyperparameter's range is
shrunk by ``shrink`` around the best trial so far, in probability space (``value_to_prob`` /
``prob_to_value``, so log sampling is respected), and categorical ones keep the values of the
best ``keep`` distinct trials. Rounds, ranges and the per-round log live in the oracle state, so an
interrupted search reloaded with ``overwrite=False`` continues where it stopped.
"""

from __future__ import annotations

import math
from typing import Any

import keras_tuner
import numpy as np
from keras_tuner.engine import hyperparameters as hp_module
from keras_tuner.engine import trial as trial_module

from dlcourse.utils import check_in_range, check_positive

_NUMERIC = (hp_module.Int, hp_module.Float)
_CATEGORICAL = (hp_module.Choice, hp_module.Boolean)


def check_max_trials(max_trials: Any) -> None:
    if isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials <= 0:
        raise ValueError(
            f"`max_trials` must be an integer > 0. Received: max_trials={max_trials!r}"
        )


class CoarseToFineOracle(keras_tuner.Oracle):
    """Coarse-to-fine oracle.

    Args:
        objective: what to optimize, as for any keras-tuner oracle.
        max_trials: total trials over all rounds.
        rounds: number of rounds; each gets ``ceil(max_trials / rounds)`` trials.
        shrink: factor in (0, 1) applied to every numeric range's width per round.
        keep: how many values of each categorical hyperparameter survive a round.
        seed: random seed (sampling is a pure function of seed and trial number).
        **kwargs: passed to ``keras_tuner.Oracle``.
    """

    def __init__(
        self,
        objective=None,
        max_trials: int = 30,
        rounds: int = 3,
        shrink: float = 0.5,
        keep: int = 2,
        seed: int | None = None,
        hyperparameters=None,
        **kwargs,
    ):
        check_max_trials(max_trials)
        check_positive("rounds", rounds)
        if rounds > max_trials:
            raise ValueError(
                f"`rounds` must be <= max_trials ({max_trials}). Received: rounds={rounds}"
            )
        check_in_range("shrink", shrink, 0.0, 1.0, closed="()")
        check_positive("keep", keep)
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            hyperparameters=hyperparameters,
            **kwargs,
        )
        self.rounds, self.shrink, self.keep = rounds, shrink, keep
        self.round = 0
        self.ranges: dict[str, list[float]] = {}  # name -> [lo, hi] in probability space
        self.choices: dict[str, list] = {}  # name -> surviving values
        self.round_log: list[dict] = []  # per round: first trial, ranges as values, choices

    @property
    def trials_per_round(self) -> int:
        return math.ceil(self.max_trials / self.rounds)

    # ------------------------------------------------------------------ keras-tuner hooks

    def populate_space(self, trial_id: str) -> dict:
        n = len(self.trials)  # this trial's number (the id keras-tuner gives it)
        target = min(n // self.trials_per_round, self.rounds - 1)
        if not self.round_log:
            self._log_round(n)
        while self.round < target:
            self._narrow()
            self._log_round(n)
        values = self._sample(n)
        if values is None:
            return {"status": trial_module.TrialStatus.STOPPED, "values": None}
        return {"status": trial_module.TrialStatus.RUNNING, "values": values}

    def get_state(self) -> dict:
        state = super().get_state()
        state["coarse_to_fine"] = {
            "rounds": self.rounds,
            "shrink": self.shrink,
            "keep": self.keep,
            "round": self.round,
            "ranges": self.ranges,
            "choices": self.choices,
            "round_log": self.round_log,
        }
        return state

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        c2f = state["coarse_to_fine"]
        self.rounds, self.shrink, self.keep = c2f["rounds"], c2f["shrink"], c2f["keep"]
        self.round, self.ranges = c2f["round"], c2f["ranges"]
        self.choices, self.round_log = c2f["choices"], c2f["round_log"]

    def reload(self) -> None:
        """Reload, and never rerun a trial that completed right before the interruption."""
        super().reload()
        done = [
            t
            for t in self._retry_queue
            if self.trials[t].status == trial_module.TrialStatus.COMPLETED
        ]
        self._retry_queue = [t for t in self._retry_queue if t not in done]
        self.end_order += [t for t in done if t not in self.end_order]

    # ------------------------------------------------------------------ rounds

    def _tunable(self) -> list:
        return [hp for hp in self.hyperparameters.space if isinstance(hp, _NUMERIC + _CATEGORICAL)]

    def _narrow(self) -> None:
        """Shrink every range around the best completed trial; keep the best categories."""
        self.round += 1
        done = [
            t
            for t in self.trials.values()
            if t.status == trial_module.TrialStatus.COMPLETED and t.score is not None
        ]
        if not done:
            return
        best = sorted(done, key=lambda t: t.score, reverse=self.objective.direction == "max")
        for hp in self._tunable():
            if hp.name not in best[0].hyperparameters.values:
                continue
            if isinstance(hp, _NUMERIC):
                lo, hi = self.ranges.get(hp.name, [0.0, 1.0])
                width = (hi - lo) * self.shrink
                center = hp.value_to_prob(best[0].hyperparameters.values[hp.name])
                lo = min(max(center - width / 2, 0.0), 1.0 - width)
                self.ranges[hp.name] = [lo, lo + width]
            else:
                kept = []
                for t in best:
                    v = t.hyperparameters.values.get(hp.name)
                    if v is not None and v not in kept:
                        kept.append(v)
                self.choices[hp.name] = kept[: self.keep]

    def _log_round(self, first_trial: int) -> None:
        ranges, choices = {}, {}
        for hp in self._tunable():
            if isinstance(hp, _NUMERIC):
                lo, hi = self.ranges.get(hp.name, [0.0, 1.0])
                ranges[hp.name] = [_value(hp, lo), _value(hp, hi)]
            else:
                choices[hp.name] = list(self.choices.get(hp.name, hp.values))
        self.round_log.append(
            {"round": self.round, "first_trial": first_trial, "ranges": ranges, "choices": choices}
        )

    # ------------------------------------------------------------------ sampling

    def _sample(self, n: int) -> dict | None:
        """Values for trial ``n``: stratified in its round, then random on collisions."""
        j = n - self.round * self.trials_per_round  # index within the round
        for attempt in range(self._max_collisions + 1):
            hps = hp_module.HyperParameters()
            for k, hp in enumerate(self.hyperparameters.space):
                hps.merge([hp])
                if hps.is_active(hp):
                    hps.values[hp.name] = self._value_for(hp, k, n, j, attempt)
            if not self._duplicate(hps.values):
                return hps.values
        return self._random_values()  # still nothing new: anywhere in the space

    def _value_for(self, hp, k: int, n: int, j: int, attempt: int):
        rng = np.random.default_rng([self.seed, n, attempt, k])
        if attempt == 0:  # stratum j of a per-round permutation (Latin hypercube)
            perm = np.random.default_rng([self.seed, self.round, k]).permutation(
                self.trials_per_round
            )
            u = (perm[j % self.trials_per_round] + rng.random()) / self.trials_per_round
        else:
            u = rng.random()
        # A small discrete space fills up: after every 4 collisions, widen the ranges back
        # by 1/shrink around their centre (and bring back all categories).
        widen = attempt // 4
        if isinstance(hp, _NUMERIC):
            lo, hi = self.ranges.get(hp.name, [0.0, 1.0])
            if widen:
                width = min((hi - lo) / self.shrink**widen, 1.0)
                lo = min(max((lo + hi - width) / 2, 0.0), 1.0 - width)
                hi = lo + width
            return _value(hp, lo + u * (hi - lo))
        if isinstance(hp, _CATEGORICAL):
            values = (not widen and self.choices.get(hp.name)) or list(hp.values)
            return values[min(int(u * len(values)), len(values) - 1)]
        return hp.default


def _value(hp, prob: float):
    """``prob_to_value`` as a plain Python number (JSON-safe), with prob kept below 1."""
    value = hp.prob_to_value(min(float(prob), float(np.nextafter(1.0, 0.0))))
    return int(value) if isinstance(hp, hp_module.Int) else float(value)


class CoarseToFine(keras_tuner.Tuner):
    """The coarse-to-fine tuner: :class:`CoarseToFineOracle` plus any hypermodel.

    Args:
        hypermodel: a ``keras_tuner.HyperModel`` (or a ``build(hp)`` function).
        objective, max_trials, rounds, shrink, keep, seed, hyperparameters: see
            :class:`CoarseToFineOracle`.
        **kwargs: ``keras_tuner.Tuner`` arguments (``directory``, ``project_name``,
            ``overwrite``, ...).
    """

    def __init__(
        self,
        hypermodel=None,
        objective=None,
        max_trials: int = 30,
        rounds: int = 3,
        shrink: float = 0.5,
        keep: int = 2,
        seed: int | None = None,
        hyperparameters=None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        **kwargs,
    ):
        oracle = CoarseToFineOracle(
            objective=objective,
            max_trials=max_trials,
            rounds=rounds,
            shrink=shrink,
            keep=keep,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        super().__init__(oracle, hypermodel, **kwargs)
