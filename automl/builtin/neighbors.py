"""k-nearest neighbours."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from automl.contract import ALL_TASKS, Algorithm, InputNeeds, SearchContext, Suggester, Task
from automl.hookspecs import hookimpl


def search_space(trial: Suggester, context: SearchContext) -> dict[str, Any]:
    most = max(1, min(100, context.n_rows // 10))
    return {
        "n_neighbors": trial.suggest_int("n_neighbors", 1, most, log=True),
        "weights": trial.suggest_categorical("weights", ["uniform", "distance"]),
        "p": trial.suggest_categorical("p", [1, 2]),
    }


def build(params: Mapping[str, Any], task: Task, seed: int, n_jobs: int) -> Any:
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    cls = KNeighborsClassifier if task.is_classification else KNeighborsRegressor
    return cls(**params, n_jobs=n_jobs)


@hookimpl
def automl_register_algorithms(register: Callable[[Algorithm], None]) -> None:
    register(
        Algorithm(
            name="knn",
            tasks=ALL_TASKS,
            search_space=search_space,
            build=build,
            defaults=({"n_neighbors": 15, "weights": "distance", "p": 2},),
            needs=InputNeeds(categorical="onehot", scale=True, missing="impute"),
            # The neighbour index and the distance it was built with (p=1 or p=2).
            trusted_types=(
                "sklearn.neighbors._kd_tree.KDTree",
                "sklearn.neighbors._ball_tree.BallTree",
                "sklearn.metrics._dist_metrics.EuclideanDistance64",
                "sklearn.metrics._dist_metrics.ManhattanDistance64",
                "sklearn.metrics._dist_metrics.MinkowskiDistance64",
            ),
            description="k-nearest neighbours on standardised, one-hot encoded columns.",
        )
    )
