"""CatBoost for automl: gradient-boosted oblivious trees with native categorical columns.

CatBoost turns each category into statistics of the target computed in an order of the
rows (ordered target statistics), which suits columns of many categories better than
one-hot or ordinal codes. automl hands categorical columns over as integer codes (see
`InputNeeds`, "native"); CatBoost wants such columns as integers or strings, never floats
or NaN, so the plugin's estimators turn the codes into integers first, a missing or
unseen category becoming a category of its own (-1). `catboost` is imported only when an
estimator is built, so listing plugins does not pay for it.
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
    """CatBoost's hyperparameters over the ranges that matter on tabular data."""
    return {
        "iterations": trial.suggest_int("iterations", 50, 2000, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "depth": trial.suggest_int("depth", 3, 10),
        "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 0.1, 30.0, log=True),
        "random_strength": trial.suggest_float("random_strength", 0.1, 10.0, log=True),
    }


def build(params: Mapping[str, Any], task: Task, seed: int, n_jobs: int) -> Any:
    """An unfitted CatBoost estimator that takes integer codes for categorical columns."""
    from automl_catboost.estimators import CodedCatBoostClassifier, CodedCatBoostRegressor

    cls = CodedCatBoostClassifier if task.is_classification else CodedCatBoostRegressor
    return cls(
        **params,
        random_seed=seed,
        thread_count=n_jobs,
        verbose=False,
        allow_writing_files=False,  # no catboost_info folder left behind
    )


def stopping_fit_params(estimator: Any, X_valid: Any, y_valid: Any) -> dict[str, Any]:
    """Stop once the held-out rows have not improved for 50 rounds at a learning rate of
    0.1 (scaled inversely to it, within 20 to 200)."""
    learning_rate = estimator.get_params().get("learning_rate") or 0.1
    patience = min(max(round(5 / learning_rate), 20), 200)
    return {"eval_set": (X_valid, y_valid), "early_stopping_rounds": patience}


def best_rounds(estimator: Any) -> int:
    """The rounds up to the best one (CatBoost counts them from 0)."""
    best = estimator.get_best_iteration()
    return int(best) + 1 if best is not None else int(estimator.tree_count_)


def built_rounds(estimator: Any) -> int:
    """The rounds built, the patience's past the best included: with an eval set CatBoost
    keeps only the best ones, but records the held-out metric of every round built."""
    history = estimator.get_evals_result().get("validation", {})
    return max((len(values) for values in history.values()), default=int(estimator.tree_count_))


DEFAULTS = (
    # Close to CatBoost's own defaults (depth 6, l2 3), with fewer, faster rounds.
    {
        "iterations": 500,
        "learning_rate": 0.08,
        "depth": 6,
        "l2_leaf_reg": 3.0,
        "random_strength": 1.0,
    },
    # Slower learning, more rounds: what AutoGluon's defaults come to with early stopping.
    {
        "iterations": 1500,
        "learning_rate": 0.03,
        "depth": 6,
        "l2_leaf_reg": 3.0,
        "random_strength": 1.0,
    },
)

CATBOOST = Algorithm(
    name="catboost",
    tasks=ALL_TASKS,
    search_space=search_space,
    build=build,
    defaults=DEFAULTS,
    needs=InputNeeds(categorical="native", categorical_param="cat_features", missing="native"),
    # What skops finds in a saved pipeline with a fitted CatBoost model (found with
    # skops.io.get_untrusted_types); automl.testing's check_persistence keeps it complete.
    trusted_types=(
        "automl_catboost.estimators.CodedCatBoostClassifier",
        "automl_catboost.estimators.CodedCatBoostRegressor",
    ),
    description="CatBoost ordered boosting, native categoricals (ordered target statistics).",
    early_stopping=EarlyStopping(
        "iterations", stopping_fit_params, best_rounds, built_rounds, rate="learning_rate"
    ),
)


@hookimpl
def automl_register_algorithms(register: Callable[[Algorithm], None]) -> None:
    register(CATBOOST)
