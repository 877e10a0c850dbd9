"""XGBoost for automl: gradient-boosted trees for classification and regression.

Categorical columns reach XGBoost as ordinal codes, and missing values as NaN, which
XGBoost routes down a learned default branch; a category never seen in training becomes
NaN too, so prediction never fails on it. `xgboost` is imported only when an estimator is
built, so listing plugins does not pay for it.
"""

from __future__ import annotations

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
)
from automl.hookspecs import hookimpl


def search_space(trial: Suggester, context: SearchContext) -> dict[str, Any]:
    """XGBoost's hyperparameters over the ranges that matter on tabular data."""
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 1000, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 10),
        "min_child_weight": trial.suggest_float("min_child_weight", 0.1, 20.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


def build(params: Mapping[str, Any], task: Task, seed: int, n_jobs: int) -> Any:
    """An unfitted `XGBClassifier` or `XGBRegressor` with `params`."""
    from xgboost import XGBClassifier, XGBRegressor

    cls = XGBClassifier if task.is_classification else XGBRegressor
    return cls(**params, tree_method="hist", n_jobs=n_jobs, random_state=seed, verbosity=0)


def stopping_fit_params(estimator: Any, X_valid: Any, y_valid: Any) -> dict[str, Any]:
    """Stop once the held-out rows have not improved for 50 rounds at a learning rate of
    0.1 (scaled inversely to it, within 10 to 200)."""
    patience = min(max(round(5 / estimator.learning_rate), 10), 200)
    estimator.set_params(early_stopping_rounds=patience)
    return {"eval_set": [(X_valid, y_valid)], "verbose": False}


def best_rounds(estimator: Any) -> int:
    """The rounds up to the best one (XGBoost counts them from 0)."""
    return int(estimator.best_iteration) + 1


def built_rounds(estimator: Any) -> int:
    """The rounds built, the ones past the best included."""
    return int(estimator.get_booster().num_boosted_rounds())


DEFAULTS = (
    # XGBoost's own defaults.
    {
        "n_estimators": 100,
        "learning_rate": 0.3,
        "max_depth": 6,
        "min_child_weight": 1.0,
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "reg_alpha": 1e-8,
        "reg_lambda": 1.0,
    },
    # Slower learning with more, shallower trees and row and column subsampling: usually
    # better than the defaults on small and mid-sized tables.
    {
        "n_estimators": 400,
        "learning_rate": 0.05,
        "max_depth": 4,
        "min_child_weight": 1.0,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "reg_alpha": 1e-8,
        "reg_lambda": 1.0,
    },
)

XGBOOST = Algorithm(
    name="xgboost",
    tasks=ALL_TASKS,
    search_space=search_space,
    build=build,
    defaults=DEFAULTS,
    needs=InputNeeds(categorical="ordinal", missing="native"),
    # What skops finds in a saved pipeline with a fitted XGBoost model (found with
    # skops.io.get_untrusted_types); automl.testing's check_persistence keeps it complete.
    trusted_types=(
        "xgboost.core.Booster",
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
    ),
    description="XGBoost gradient-boosted trees (hist), ordinal-coded categoricals.",
    early_stopping=EarlyStopping(
        "n_estimators", stopping_fit_params, best_rounds, built_rounds, rate="learning_rate"
    ),
)


@hookimpl
def automl_register_algorithms(register: Callable[[Algorithm], None]) -> None:
    register(XGBOOST)
