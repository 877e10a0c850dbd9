"""A classifier that sleeps in fit: a stand-in for an algorithm too slow for the budget.

Lives outside the automl package; tests put this folder on PYTHONPATH so the worker
process can unpickle it.
"""

from __future__ import annotations

import time

from sklearn.dummy import DummyClassifier


class SleepyClassifier(DummyClassifier):
    def __init__(self, seconds: float = 3600.0, strategy: str = "prior") -> None:
        super().__init__(strategy=strategy)
        self.seconds = seconds

    def fit(self, X, y, sample_weight=None):
        time.sleep(self.seconds)
        return super().fit(X, y, sample_weight)


def build(params, task, seed, n_jobs):
    return SleepyClassifier(**params)


def space(trial, context):
    return {"seconds": trial.suggest_float("seconds", 3600.0, 3601.0)}


class ExplodingClassifier(DummyClassifier):
    def fit(self, X, y, sample_weight=None):
        raise RuntimeError("boom: this estimator always fails")


def build_exploding(params, task, seed, n_jobs):
    return ExplodingClassifier()


def no_params(trial, context):
    return {}


def plodding(trial, context):
    return {"seconds": trial.suggest_float("seconds", 0.5, 10.0)}


def no_sleep(trial, context):
    return {"seconds": trial.suggest_float("seconds", 0.0, 0.001)}


class TellingClassifier(DummyClassifier):
    """Fails, saying in its error where its worker runs: the working directory and the
    AUTOML_TEST_MARK environment variable."""

    def fit(self, X, y, sample_weight=None):
        import os

        mark = os.environ.get("AUTOML_TEST_MARK")
        raise RuntimeError(f"cwd={os.getcwd()} mark={mark}")


class RoundingClassifier(DummyClassifier):
    """Sleeps `seconds` a round for `rounds` rounds, or until `stop_at` (a
    `time.monotonic()` value) given to `fit`: a boosted model that can stop adding rounds
    in time (`EarlyStopping.stops_in_time`)."""

    def __init__(self, rounds: int = 20, seconds: float = 0.25, strategy: str = "prior") -> None:
        super().__init__(strategy=strategy)
        self.rounds = rounds
        self.seconds = seconds

    def fit(self, X, y, sample_weight=None, stop_at=None):
        self.built_ = 0
        while self.built_ < self.rounds:
            time.sleep(self.seconds)
            self.built_ += 1
            if stop_at is not None and time.monotonic() >= stop_at:
                break
        return super().fit(X, y, sample_weight)


def build_rounding(params, task, seed, n_jobs):
    return RoundingClassifier(**params)


def rounding(trial, context):
    return {
        "rounds": trial.suggest_int("rounds", 1, 20),
        "seconds": trial.suggest_float("seconds", 0.0, 1.0),
    }


def rounds_in_time(estimator, X_valid, y_valid, stop_at=None):
    return {} if stop_at is None else {"stop_at": stop_at}


def built(estimator):
    return estimator.built_
