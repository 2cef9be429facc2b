"""Coarse-to-fine search: a keras-tuner ``Oracle`` that narrows the space round by round.

Notes 000 Unit II ("Right setting of hyperparameters: grid search, randomised search, coarse to
fine"); Bergstra & Bengio (2012), "Random search for hyper-parameter optimization", for sampling
instead of gridding. The narrowing borrows from three well-studied ideas: keep the *elite* set of
the best trials rather than the single best (the cross-entropy method; Rubinstein & Kroese 2004,
"The Cross-Entropy Method"), grow or shrink the region by whether it paid off (trust regions as in
TuRBO; Eriksson et al. 2019, "Scalable Global Optimization via Local Bayesian Optimization"), and
interleave global random samples so a wrong early guess cannot trap the search (Ahmed, Shahriari
& Schmidt 2016, "Do we need 'harmless' Bayesian optimization and 'first-order' Bayesian
optimization?").

The algorithm. Every hyperparameter lives on its ``[0, 1)`` probability scale
(``value_to_prob`` / ``prob_to_value``), so log sampling and integer steps are respected.

0. The budget is split into ``rounds`` equal rounds (by default 3, or one per 10 trials up to
   5: narrowing needs a few points per round to see where the good region is).
1. Round 0 samples the whole space with a Latin hypercube (one stratum per trial and dimension).
2. Before each later round, the ``top_k`` best completed trials (at most a third of a round's
   trials) become *centres*. The region
   width ``w`` (1.0 in round 0) becomes ``w * shrink``, unless the best trial moved by more
   than ``w / 2`` on some hyperparameter since the last round: then the region keeps its width
   and only moves (the optimum may lie further that way).
3. A share ``explore`` of each later round samples the whole space; the other trials each pick
   a centre (the best with weight 1, the second with 1/2, ...) and sample a Latin hypercube in
   the box of width ``w`` around it. An integer's box never covers fewer than 2 values.
4. A categorical hyperparameter keeps its ``keep`` best values (ranked by the best trial that
   used each) for local samples: half of them take the centre's value, half a kept one. Global
   samples still see every value, so nothing collapses for good. A conditional hyperparameter
   that the centre does not use is sampled around the best trial that does (or globally).

Rounds, width, centres, kept values and a per-round log live in the oracle state, and sampling is
a pure function of (seed, trial number, state), so an interrupted search reloaded with
``overwrite=False`` continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import math
from typing import Any

import keras_tuner
import numpy as np
from keras_tuner.engine import hyperparameters as hp_module
from keras_tuner.engine import trial as trial_module

from dlcourse.tuning.oracles import ResumableMixin, SearchTuner
from dlcourse.utils import check_in_range

_NUMERIC = (hp_module.Int, hp_module.Float)
_CATEGORICAL = (hp_module.Choice, hp_module.Boolean)
_STATE = ("rounds", "shrink", "keep", "top_k", "explore", "round", "width", "best_id")


def check_count(name: str, value: Any, minimum: int = 1) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"`{name}` must be an integer {'> 0' if minimum == 1 else f'>= {minimum}'}. "
            f"Received: {name}={value!r}"
        )


def check_max_trials(max_trials: Any) -> None:
    check_count("max_trials", max_trials)


def auto_rounds(max_trials: int) -> int:
    """3 rounds, or one per 10 trials up to 5 (never more rounds than trials)."""
    return min(max_trials, max(3, min(5, max_trials // 10)))


class CoarseToFineOracle(ResumableMixin, keras_tuner.Oracle):
    """Coarse-to-fine oracle (the algorithm is in the module docstring).

    Args:
        objective: what to optimize, as for any keras-tuner oracle.
        max_trials: total trials over all rounds.
        rounds: number of rounds; each gets ``ceil(max_trials / rounds)`` trials. Default
            :func:`auto_rounds`: 3, or one per 10 trials up to 5 (measured in BENCHMARKS.md).
        shrink: factor in (0, 1) applied to the region's width per round.
        keep: how many values of each categorical hyperparameter local samples keep.
        top_k: how many of the best trials (at most a third of a round) centre the next
            round's region.
        explore: share in [0, 1) of each later round sampled from the whole space.
        seed: random seed (sampling is a pure function of seed and trial number).
        hyperparameters, allow_new_entries, tune_new_entries, max_retries_per_trial,
            max_consecutive_failed_trials: as for ``keras_tuner.Oracle``.
    """

    def __init__(
        self,
        objective=None,
        max_trials: int = 30,
        rounds: int | None = None,
        shrink: float = 0.5,
        keep: int = 2,
        top_k: int = 3,
        explore: float = 0.25,
        seed: int | None = None,
        hyperparameters=None,
        allow_new_entries: bool = True,
        tune_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
    ):
        check_max_trials(max_trials)
        if rounds is None:
            rounds = auto_rounds(max_trials)
        check_count("rounds", rounds)
        if rounds > max_trials:
            raise ValueError(
                f"`rounds` must be <= max_trials ({max_trials}). Received: rounds={rounds}"
            )
        check_in_range("shrink", shrink, 0.0, 1.0, closed="()")
        check_count("keep", keep)
        check_count("top_k", top_k)
        check_in_range("explore", explore, 0.0, 1.0, closed="[)")
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            hyperparameters=hyperparameters,
            allow_new_entries=allow_new_entries,
            tune_new_entries=tune_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        self.rounds, self.shrink, self.keep = rounds, shrink, keep
        self.top_k, self.explore = top_k, explore
        self.round, self.width, self.best_id = 0, 1.0, None
        self.centers: list[dict] = []  # values of the top_k trials at the round's start
        self.choices: dict[str, list] = {}  # name -> kept values, best first
        self.round_log: list[dict] = []  # per round: first trial, width, ranges, choices

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
        state["coarse_to_fine"] = {k: getattr(self, k) for k in _STATE} | {
            "centers": self.centers,
            "choices": self.choices,
            "round_log": self.round_log,
        }
        return state

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        for key, value in state["coarse_to_fine"].items():
            setattr(self, key, value)

    # ------------------------------------------------------------------ rounds

    def _tunable(self) -> list:
        return [hp for hp in self.hyperparameters.space if isinstance(hp, _NUMERIC + _CATEGORICAL)]

    def _narrow(self) -> None:
        """New centres, width and kept categories from the completed trials."""
        self.round += 1
        done = [
            t
            for t in self.trials.values()
            if t.status == trial_module.TrialStatus.COMPLETED and t.score is not None
        ]
        if not done:
            return
        done.sort(key=lambda t: t.score, reverse=self.objective.direction == "max")
        best = done[0]
        moved = self._moved(best.hyperparameters.values)
        if not (
            self.best_id is not None and best.trial_id != self.best_id and moved > self.width / 2
        ):
            self.width *= self.shrink  # the region paid off near its centre, or not at all
        self.best_id = best.trial_id
        # The elite is at most a third of a round (the cross-entropy method's elite fraction):
        # with 4 trials a round, only the best one centres the next.
        elite = min(self.top_k, max(1, self.trials_per_round // 3))
        self.centers = [dict(t.hyperparameters.values) for t in done[:elite]]
        for hp in self._tunable():
            if isinstance(hp, _CATEGORICAL):
                ranked = [t.hyperparameters.values.get(hp.name) for t in done]
                ranked = list(dict.fromkeys(v for v in ranked if v is not None))
                self.choices[hp.name] = ranked[: self.keep] or list(hp.values)

    def _moved(self, values: dict) -> float:
        """Largest move, in probability, of any numeric hyperparameter from the old best."""
        if not self.centers:
            return 0.0
        moves = [
            abs(hp.value_to_prob(values[hp.name]) - hp.value_to_prob(self.centers[0][hp.name]))
            for hp in self._tunable()
            if isinstance(hp, _NUMERIC) and hp.name in values and hp.name in self.centers[0]
        ]
        return max(moves, default=0.0)

    def _box(self, hp, center: dict | None, widen: int = 0) -> tuple[float, float]:
        """The sampling interval of ``hp`` in probability space around ``center``."""
        width = min(self.width / self.shrink**widen, 1.0)
        if isinstance(hp, hp_module.Int):  # never fewer than 2 integer values
            width = max(width, min(2.0 / (len(list(hp.values)) or 1), 1.0))
        value = _center_value(hp, center, self.centers)
        if value is None or width >= 1.0:
            return 0.0, 1.0
        lo = min(max(hp.value_to_prob(value) - width / 2, 0.0), 1.0 - width)
        return lo, lo + width

    def _log_round(self, first_trial: int) -> None:
        ranges, choices = {}, {}
        for hp in self._tunable():
            if isinstance(hp, _NUMERIC):
                boxes = [self._box(hp, c) for c in self.centers] or [(0.0, 1.0)]
                lo, hi = min(b[0] for b in boxes), max(b[1] for b in boxes)
                ranges[hp.name] = [_value(hp, lo), _value(hp, hi)]
            else:
                choices[hp.name] = list(self.choices.get(hp.name, hp.values))
        self.round_log.append(
            {
                "round": self.round,
                "first_trial": first_trial,
                "width": self.width,
                "ranges": ranges,
                "choices": choices,
            }
        )

    # ------------------------------------------------------------------ sampling

    def _sample(self, n: int) -> dict | None:
        """Values for trial ``n``: stratified in its round, then random on collisions."""
        j = n - self.round * self.trials_per_round  # index within the round
        size = self.trials_per_round
        local = size if self.round == 0 or not self.centers else size - self._n_global()
        center = None
        if self.round > 0 and j < local and self.centers:
            weights = 1.0 / np.arange(1, len(self.centers) + 1)
            pick = np.random.default_rng([self.seed, n, 7]).choice(
                len(self.centers), p=weights / weights.sum()
            )
            center = self.centers[pick]
        for attempt in range(self._max_collisions + 1):
            hps = hp_module.HyperParameters()
            for k, hp in enumerate(self.hyperparameters.space):
                hps.merge([hp])
                if hps.is_active(hp):
                    hps.values[hp.name] = self._value_for(hp, k, n, j, local, center, attempt)
            if not self._duplicate(hps.values):
                return hps.values
        return self._untried(n)  # still nothing new: anywhere in the space

    def _untried(self, n: int) -> dict | None:
        """A point not tried yet, anywhere in the space; ``None`` once a finite space is full.

        A finite space (choices, booleans, integers) is listed and one of its untried points
        drawn, so the budget is filled while untried points remain (keras-tuner's random
        fallback gives up after a few collisions); a continuous one is sampled at random.
        """
        points = _points(self.hyperparameters)
        if points is None:
            return self._random_values()
        fresh = [p for p in points if not self._duplicate(p)]
        if not fresh:
            return None
        return fresh[int(np.random.default_rng([self.seed, n, 99]).integers(len(fresh)))]

    def _n_global(self) -> int:
        share = max(1, round(self.explore * self.trials_per_round)) if self.explore else 0
        return min(share, self.trials_per_round - 1)

    def _value_for(self, hp, k: int, n: int, j: int, local: int, center, attempt: int):
        rng = np.random.default_rng([self.seed, n, attempt, k])
        if attempt == 0 and j < local:  # stratum j of a per-round permutation (Latin hypercube)
            perm = np.random.default_rng([self.seed, self.round, k]).permutation(local)
            u = (perm[j] + rng.random()) / local
        else:
            u = rng.random()
        widen = attempt // 4  # a small discrete space fills up: widen after every 4 collisions
        if isinstance(hp, _NUMERIC):
            lo, hi = self._box(hp, center, widen) if center is not None else (0.0, 1.0)
            return _value(hp, lo + u * (hi - lo))
        if isinstance(hp, _CATEGORICAL):
            kept = self.choices.get(hp.name)
            if center is None or widen or not kept:
                values = list(hp.values)
                return values[min(int(u * len(values)), len(values) - 1)]
            if rng.random() < 0.5 and center.get(hp.name) in kept:
                return center[hp.name]
            return kept[min(int(u * len(kept)), len(kept) - 1)]
        return hp.default


def _points(space, limit: int = 4096) -> list[dict] | None:
    """Every point of a finite space (active values only); ``None``: continuous or too big."""
    points: list[dict] = [{}]
    for hp in space.space:
        if isinstance(hp, hp_module.Fixed):
            values = [hp.value]
        elif isinstance(hp, (*_CATEGORICAL, hp_module.Int)):
            values = list(hp.values)
        else:
            return None
        grown = []
        for p in points:
            active = all(c.is_active(p) for c in hp.conditions)
            grown += [{**p, hp.name: v} for v in values] if active else [p]
        if len(grown) > limit:
            return None
        points = grown
    return points


def _center_value(hp, center: dict | None, centers: list[dict]):
    """``hp``'s value in ``center``, else in the best centre that uses ``hp``."""
    for c in ([center] if center else []) + centers:
        if hp.name in c:
            return c[hp.name]
    return None


def _value(hp, prob: float):
    """``prob_to_value`` as a plain Python number (JSON-safe), with prob kept below 1."""
    value = hp.prob_to_value(min(max(float(prob), 0.0), float(np.nextafter(1.0, 0.0))))
    return int(value) if isinstance(hp, hp_module.Int) else float(value)


class CoarseToFine(SearchTuner):
    """The coarse-to-fine tuner: :class:`CoarseToFineOracle` plus any hypermodel.

    Args:
        hypermodel: a ``keras_tuner.HyperModel`` (or a ``build(hp)`` function).
        **kwargs: :class:`CoarseToFineOracle` arguments (``objective``, ``max_trials``,
            ``rounds``, ``shrink``, ``keep``, ``top_k``, ``explore``, ``seed``, ...) and
            ``keras_tuner.Tuner`` ones (``directory``, ``project_name``, ``overwrite``, ...).
    """

    oracle_class = CoarseToFineOracle
