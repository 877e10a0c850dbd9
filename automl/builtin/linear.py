"""Regularised linear models: logistic regression and ridge regression."""

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


def search_space(trial: Suggester, context: SearchContext) -> dict[str, Any]:
    if context.task.is_classification:
        return {"C": trial.suggest_float("C", 1e-4, 1e3, log=True), **class_weights(trial, context)}
    return {"alpha": trial.suggest_float("alpha", 1e-4, 1e3, log=True)}


def build(params: Mapping[str, Any], task: Task, seed: int, n_jobs: int) -> Any:
    if task.is_classification:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=params.get("C", 1.0),
            class_weight=params.get("class_weight"),
            max_iter=2000,
            random_state=seed,
        )
    from sklearn.linear_model import Ridge

    return Ridge(alpha=params.get("alpha", 1.0), random_state=seed)


@hookimpl
def automl_register_algorithms(register: Callable[[Algorithm], None]) -> None:
    register(
        Algorithm(
            name="linear",
            tasks=ALL_TASKS,
            search_space=search_space,
            build=build,
            defaults=({"C": 1.0, "alpha": 1.0},),
            needs=InputNeeds(categorical="onehot", scale=True, missing="impute"),
            description="Logistic regression (classification) or ridge regression, L2-regularised.",
        )
    )
