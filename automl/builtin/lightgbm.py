"""LightGBM gradient boosting with native categorical support."""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from typing import Any

from automl.contract import (
    ALL_TASKS,
    Algorithm,
    EarlyStopping,
    InputNeeds,
    SearchContext,
    Suggester,
    Task,
    class_weights,
)
from automl.hookspecs import hookimpl

# On folds big enough to stop early, n_estimators is the most rounds a model may use; it
# stops once this many rounds (scaled by the learning rate: 50 at 0.1) bring no gain.
STOPPING_ROUNDS_AT_0_1 = 50
MIN_STOPPING_ROUNDS = 10
MAX_STOPPING_ROUNDS = 200


def search_space(trial: Suggester, context: SearchContext) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 2000, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 256, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 2, 100, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-8, 10.0, log=True),
        **class_weights(trial, context),
    }


def build(params: Mapping[str, Any], task: Task, seed: int, n_jobs: int) -> Any:
    from lightgbm import LGBMClassifier, LGBMRegressor

    cls = LGBMClassifier if task.is_classification else LGBMRegressor
    # subsample only takes effect with a bagging frequency.
    return cls(**params, subsample_freq=1, n_jobs=n_jobs, random_state=seed, verbose=-1)


def stopping_fit_params(
    estimator: Any, X_valid: Any, y_valid: Any, stop_at: float | None = None
) -> dict[str, Any]:
    from lightgbm import early_stopping

    rounds = round(STOPPING_ROUNDS_AT_0_1 * 0.1 / estimator.learning_rate)
    rounds = min(max(rounds, MIN_STOPPING_ROUNDS), MAX_STOPPING_ROUNDS)
    callbacks: list[Any] = [early_stopping(rounds, verbose=False)]
    if stop_at is not None:
        callbacks.append(StopAt(stop_at))
    if "eval_X" in inspect.signature(estimator.fit).parameters:  # LightGBM 4.7 and later
        return {"eval_X": X_valid, "eval_y": y_valid, "callbacks": callbacks}
    return {"eval_set": [(X_valid, y_valid)], "callbacks": callbacks}


class StopAt:
    """A LightGBM callback that stops adding rounds at a `time.monotonic()` time and keeps
    the best round so far on the first held-out score (the one early stopping watches
    first), as early stopping would have; with no held-out rows, every round built."""

    order = 40  # after the evaluation is recorded (20) and early stopping has looked (30)
    before_iteration = False

    def __init__(self, stop_at: float) -> None:
        self.stop_at = stop_at
        self.best: tuple[int, float, list[Any]] | None = None

    def __call__(self, env: Any) -> None:
        from lightgbm.callback import EarlyStopException

        held_out = [e for e in env.evaluation_result_list if e[0] != "training"]
        if held_out:
            _, _, score, higher_better, *_ = held_out[0]
            best = self.best
            if best is None or (score > best[1] if higher_better else score < best[1]):
                self.best = (env.iteration, score, list(env.evaluation_result_list))
        if time.monotonic() >= self.stop_at:
            best = self.best or (env.iteration, 0.0, list(env.evaluation_result_list))
            raise EarlyStopException(best[0], best[2])


def refit_stop_params(estimator: Any, stop_at: float) -> dict[str, Any]:
    # With no held-out rows, StopAt keeps every round built.
    return {"callbacks": [StopAt(stop_at)]}


def best_rounds(estimator: Any) -> int:
    return int(estimator.best_iteration_ or estimator.n_estimators)


def built_rounds(estimator: Any) -> int:
    # The booster keeps only the best rounds; the held-out rows' scores were recorded
    # for every round built.
    scores = [len(v) for valid in estimator.evals_result_.values() for v in valid.values()]
    return max(scores, default=best_rounds(estimator))


_DEFAULTS = (
    # LightGBM's own defaults.
    {
        "n_estimators": 100,
        "learning_rate": 0.1,
        "num_leaves": 31,
        "min_child_samples": 20,
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "reg_alpha": 1e-8,
        "reg_lambda": 1e-8,
    },
    # Slower learning, more trees, feature subsampling: robust on small and mid tables.
    {
        "n_estimators": 400,
        "learning_rate": 0.03,
        "num_leaves": 24,
        "min_child_samples": 10,
        "subsample": 0.8,
        "colsample_bytree": 0.7,
        "reg_alpha": 1e-8,
        "reg_lambda": 1.0,
    },
    # Small leaves for tiny data sets where the default min_child_samples is too coarse.
    {
        "n_estimators": 200,
        "learning_rate": 0.05,
        "num_leaves": 8,
        "min_child_samples": 5,
        "subsample": 0.9,
        "colsample_bytree": 0.8,
        "reg_alpha": 1e-8,
        "reg_lambda": 0.1,
    },
)


@hookimpl
def automl_register_algorithms(register: Callable[[Algorithm], None]) -> None:
    register(
        Algorithm(
            name="lightgbm",
            tasks=ALL_TASKS,
            search_space=search_space,
            build=build,
            defaults=_DEFAULTS,
            needs=InputNeeds(
                categorical="native", categorical_param="categorical_feature", missing="native"
            ),
            trusted_types=(
                "lightgbm.basic.Booster",
                "lightgbm.sklearn.LGBMClassifier",
                "lightgbm.sklearn.LGBMRegressor",
            ),
            description="LightGBM gradient-boosted trees, native categoricals.",
            early_stopping=EarlyStopping(
                "n_estimators",
                stopping_fit_params,
                best_rounds,
                built_rounds,
                refit_stop_params,
                rate="learning_rate",
            ),
        )
    )
