"""keras-tuner's oracles and tuners with dlcourse's contracts, in one place for every tuner:

* **seeds are honoured**, 0 included (keras-tuner 1.4.8 replaces a falsy seed with a random one);
* **an interrupted search resumes** (``overwrite=False``): a trial that completed right before a
  ``kill -9`` is never rerun, and the grid oracle finds its place in the grid again from the
  trials on disk (keras-tuner's ``GridSearchOracle`` keeps it in memory only);
* **every tuner takes keras-tuner's common arguments** (``max_retries_per_trial``,
  ``max_consecutive_failed_trials``, ``tune_new_entries``, ...): :class:`SearchTuner` hands each
  keyword to the oracle when the oracle takes it, else to ``keras_tuner.Tuner``;
* **a search in which every trial failed raises** :class:`SearchFailedError` with the first
  trial's error, instead of keras-tuner's "Objective value missing" or a silent empty result.
"""

from __future__ import annotations

import inspect

import keras_tuner
import numpy as np
from keras_tuner.engine import trial as trial_module

_DONE = trial_module.TrialStatus.COMPLETED


class SearchFailedError(RuntimeError):
    """Every trial of a search failed; the message shows the first trial's error."""


class ResumableMixin:
    """Honour ``seed`` (0 included) and never rerun a completed trial after an interruption."""

    def __init__(self, *args, seed: int | None = None, **kwargs):
        super().__init__(*args, seed=seed, **kwargs)
        if seed is not None:
            # keras-tuner's Oracle sets `self.seed = seed or random.randint(1, 10000)`, so a seed
            # of 0 became a random one. This is the one place that undoes it, for every oracle.
            self.seed = self._seed_state = seed
            if hasattr(self, "_random_state"):  # BayesianOptimizationOracle's sampler
                self._random_state = np.random.RandomState(seed)

    def reload(self) -> None:
        super().reload()
        # A trial killed after its trial.json said COMPLETED but before oracle.json was saved
        # is still "ongoing" in oracle.json, and keras-tuner would queue it for a rerun.
        done = [t for t in self._retry_queue if self.trials[t].status == _DONE]
        self._retry_queue = [t for t in self._retry_queue if t not in done]
        self.end_order += [t for t in done if t not in self.end_order]
        for t in done:
            self._run_times[t] = max(self._run_times[t], 1)
        self._ended_while_saving(done)

    def _ended_while_saving(self, trial_ids: list[str]) -> None:
        """Hook for oracles that queue work when a trial ends (the grid's next point)."""


class RandomSearchOracle(ResumableMixin, keras_tuner.oracles.RandomSearchOracle):
    """keras-tuner's random search with the :class:`ResumableMixin` contracts."""


class BayesianOptimizationOracle(ResumableMixin, keras_tuner.oracles.BayesianOptimizationOracle):
    """keras-tuner's Gaussian-process Bayesian optimization with the contracts."""


class HyperbandOracle(ResumableMixin, keras_tuner.oracles.HyperbandOracle):
    """keras-tuner's Hyperband with the contracts."""


class GridSearchOracle(ResumableMixin, keras_tuner.oracles.GridSearchOracle):
    """keras-tuner's grid walk, with the walk kept in the oracle state so a search resumes.

    keras-tuner orders the trials in an in-memory linked list and, when a trial ends, tries
    the grid point after it (``_get_next_combination`` of the values that trial used, so a
    hyperparameter a trial did not use is never stepped) unless the next trial in the order
    already covers it. This is the same walk, with the order (``order``) and the trials whose
    successor is still to be tried (``pending``) in ``get_state``, so a restart loses nothing
    and a conditional space runs exactly keras-tuner's trials (12, not 21, for a Boolean that
    switches between two 3-value Choices).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.order: list[str] = []  # trial ids in grid order
        self.pending: list[str] = []  # ended trials whose successor is still to be tried

    def populate_space(self, trial_id: str) -> dict:
        values = None
        if not self.order:  # the first point: every active hyperparameter at its default
            space = self.get_space()
            values = {hp.name: hp.default for hp in space.space if space.is_active(hp)}
            self.order.append(trial_id)
            self.pending.append(trial_id)  # its successor is known before it ends
        while self.pending and values is None:
            old = self.pending.pop(0)
            values = self._successor(old)
            if values is not None:
                self.order.insert(self.order.index(old) + 1, trial_id)
        if values is not None:
            return {"status": trial_module.TrialStatus.RUNNING, "values": values}
        status = "IDLE" if self.ongoing_trials else "STOPPED"
        return {"status": getattr(trial_module.TrialStatus, status), "values": None}

    def _successor(self, trial_id: str) -> dict | None:
        """The grid point after ``trial_id``'s, unless the next trial in order has it."""
        values = self._get_next_combination(self.trials[trial_id].hyperparameters.values)
        at = self.order.index(trial_id) + 1
        if values is None or at == len(self.order):
            return values
        following = self.trials[self.order[at]].hyperparameters.values
        return values if self._compare(values, following) < 0 else None

    def end_trial(self, trial) -> None:
        # Queued before keras-tuner saves the oracle, so the state on disk holds it; a trial
        # queued twice is harmless (its successor is found covered the second time).
        self.pending.append(trial.trial_id)
        keras_tuner.Oracle.end_trial(self, trial)

    def _ended_while_saving(self, trial_ids: list[str]) -> None:
        self.pending += [t for t in trial_ids if t not in self.pending]

    def get_state(self) -> dict:
        return super().get_state() | {"grid": {"order": self.order, "pending": self.pending}}

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self.order, self.pending = list(state["grid"]["order"]), list(state["grid"]["pending"])


class FailLoudly:
    """Tuner mixin: ``search`` raises :class:`SearchFailedError` when no trial completed."""

    def search(self, *args, **kwargs):
        try:
            super().search(*args, **kwargs)
        except RuntimeError as e:
            if "consecutive failures" not in str(e):
                raise
            raise_if_all_failed(self.oracle, cause=e)
            raise
        raise_if_all_failed(self.oracle)


def oracle_from(oracle_class: type, kwargs: dict):
    """Build ``oracle_class`` from the keywords of ``kwargs`` it takes (removed from it)."""
    names = _parameters(oracle_class)
    return oracle_class(**{k: kwargs.pop(k) for k in list(kwargs) if k in names})


class SearchTuner(FailLoudly, keras_tuner.Tuner):
    """A tuner built from ``oracle_class`` and keyword arguments shared out by name.

    Every keyword that ``oracle_class`` takes (``objective``, ``max_trials``, ``seed``,
    ``max_retries_per_trial``, ...) goes to the oracle, the rest to ``keras_tuner.Tuner``.
    """

    oracle_class: type = RandomSearchOracle

    def __init__(self, hypermodel=None, **kwargs):
        oracle = oracle_from(self.oracle_class, kwargs)
        keras_tuner.Tuner.__init__(self, oracle, hypermodel, **kwargs)


def raise_if_all_failed(oracle, cause: BaseException | None = None) -> None:
    if not isinstance(getattr(oracle, "trials", None), dict):  # a worker's OracleClient
        return
    trials = [oracle.trials[t] for t in sorted(oracle.trials)]
    if not trials or any(t.status == _DONE for t in trials):
        return
    first = trials[0]
    lines = [line for line in (first.message or "").strip().splitlines() if line.strip()]
    error = lines[-1].strip() if lines else f"status {first.status}"
    raise SearchFailedError(
        f"Every trial of the search failed ({len(trials)} tried); "
        f"the first (trial {first.trial_id}) raised: {error}"
    ) from cause


def _parameters(cls) -> set[str]:
    """Every named argument of ``cls.__init__`` and of its bases' (for ``**kwargs`` chains)."""
    names = set()
    for klass in cls.__mro__:
        if klass is not object and "__init__" in vars(klass):
            params = inspect.signature(klass.__init__).parameters.values()
            names |= {p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return names - {"self"}


class RandomSearch(SearchTuner):
    oracle_class = RandomSearchOracle


class GridSearch(SearchTuner):
    oracle_class = GridSearchOracle


class BayesianOptimization(SearchTuner):
    oracle_class = BayesianOptimizationOracle


class Hyperband(SearchTuner, keras_tuner.Hyperband):
    """Hyperband: keras-tuner's per-trial epoch budget (``run_trial``) on the resumable oracle."""

    oracle_class = HyperbandOracle
