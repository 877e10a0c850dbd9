"""scikit-learn's tree ensembles: random forest, extra trees, histogram gradient boosting."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from automl.contract import (
    ALL_TASKS,
    Algorithm,
    InputNeeds,
    SearchContext,
    Suggester,
    Task,
    class_weights,
)
from automl.hookspecs import hookimpl


def forest_space(trial: Suggester, context: SearchContext) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 50, 500, log=True),
        "max_features": trial.suggest_float("max_features", 0.1, 1.0),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 32, log=True),
        **class_weights(trial, context),
    }


def build_random_forest(params: Mapping[str, Any], task: Task, seed: int, n_jobs: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestClassifier if task.is_classification else RandomForestRegressor
    return cls(**params, n_jobs=n_jobs, random_state=seed)


def build_extra_trees(params: Mapping[str, Any], task: Task, seed: int, n_jobs: int) -> Any:
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

    cls = ExtraTreesClassifier if task.is_classification else ExtraTreesRegressor
    return cls(**params, n_jobs=n_jobs, random_state=seed)


def hist_gradient_boosting_space(trial: Suggester, context: SearchContext) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_iter": trial.suggest_int("max_iter", 50, 1000, log=True),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 4, 128, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 2, 100, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-8, 10.0, log=True),
        **class_weights(trial, context),
    }


def build_hist_gradient_boosting(
    params: Mapping[str, Any], task: Task, seed: int, n_jobs: int
) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if task.is_classification:
        return HistGradientBoostingClassifier(**params, random_state=seed)
    return HistGradientBoostingRegressor(**params, random_state=seed)


_FOREST_DEFAULTS = ({"n_estimators": 300, "max_features": 0.5, "min_samples_leaf": 1},)
_TREE_INPUT = InputNeeds(categorical="ordinal", missing="native")
_FOREST_TYPES = ("sklearn.tree._tree.Tree",)


@hookimpl
def automl_register_algorithms(register: Callable[[Algorithm], None]) -> None:
    register(
        Algorithm(
            name="hist_gradient_boosting",
            tasks=ALL_TASKS,
            search_space=hist_gradient_boosting_space,
            build=build_hist_gradient_boosting,
            defaults=(
                {
                    "learning_rate": 0.1,
                    "max_iter": 100,
                    "max_leaf_nodes": 31,
                    "min_samples_leaf": 20,
                    "l2_regularization": 1e-8,
                },
            ),
            needs=InputNeeds(
                categorical="native", categorical_param="categorical_features", missing="native"
            ),
            # Its fitted trees and the validation function its predictors keep.
            trusted_types=(
                "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
                "functools.partial",
                "sklearn.utils.validation.check_array",
            ),
            description="Histogram gradient boosting (scikit-learn), native categoricals.",
        )
    )
    register(
        Algorithm(
            name="random_forest",
            tasks=ALL_TASKS,
            search_space=forest_space,
            build=build_random_forest,
            defaults=_FOREST_DEFAULTS,
            needs=_TREE_INPUT,
            trusted_types=_FOREST_TYPES,
            description="Random forest (scikit-learn).",
        )
    )
    register(
        Algorithm(
            name="extra_trees",
            tasks=ALL_TASKS,
            search_space=forest_space,
            build=build_extra_trees,
            defaults=_FOREST_DEFAULTS,
            needs=_TREE_INPUT,
            trusted_types=_FOREST_TYPES,
            description="Extremely randomised trees (scikit-learn).",
        )
    )
