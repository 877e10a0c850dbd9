"""Per-algorithm preprocessing, built as a scikit-learn `ColumnTransformer`.

Everything here is fitted inside each cross-validation fold as the first step of the
pipeline, so no statistic of a validation fold leaks into training.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from automl.contract import Algorithm, EarlyStopping, InputNeeds, Task
from automl.data import Schema

# Rare categories are pooled: one-hot columns for them would be noise, and histogram
# boosters cap the number of categories per feature.
ONEHOT_MIN_FREQUENCY = 5
ONEHOT_MAX_CATEGORIES = 32
ORDINAL_MAX_CATEGORIES = 200


@dataclass
class Candidate:
    """An unfitted pipeline and the fit parameters it needs.

    early_stopping and seed: how the worker stops a boosted model early during
    cross-validation (see `automl.worker.fit_fold`); `fit` itself never stops early.
    """

    pipeline: Pipeline
    fit_params: dict[str, Any] = field(default_factory=dict)
    early_stopping: EarlyStopping | None = None
    seed: int = 0

    def fit(self, X: Any, y: Any, stop_at: float | None = None) -> Pipeline:
        """Fit the pipeline; with `stop_at`, a model whose algorithm can
        (`EarlyStopping.stop_params`) stops adding rounds by then (see `rounds_cut`)."""
        params = dict(self.fit_params)
        stopping = self.early_stopping
        if stop_at is not None and stopping is not None and stopping.stop_params is not None:
            in_time = stopping.stop_params(self.pipeline[-1], stop_at)
            params.update({f"model__{name}": value for name, value in in_time.items()})
        return self.pipeline.fit(X, y, **params)


def rounds_cut(
    stopping: EarlyStopping | None, fitted: Pipeline, stop_at: float, ended: float
) -> tuple[int, int] | None:
    """(rounds kept, rounds asked for) when `fitted`, fitted with `stop_at`
    (`Candidate.fit`) and done at `ended` (`time.monotonic()` values), stopped adding
    rounds at its time before it had them all; else None. One done before its time that
    has fewer stopped of its own accord (a network whose training loss no longer improved)."""
    if stopping is None or stopping.stop_params is None or ended < stop_at:
        return None
    model = fitted[-1]
    asked = int(model.get_params()[stopping.param])
    kept = int(stopping.best_rounds(model))
    return (kept, asked) if kept < asked else None


def build_preprocessor(schema: Schema, needs: InputNeeds) -> ColumnTransformer:
    """Categorical columns first (so their indices are 0..c-1), then numeric ones."""
    transformers: list[tuple[str, Any, list[str]]] = []
    if schema.categorical_features:
        transformers.append(("categorical", _categorical(needs), schema.categorical_features))
    if schema.numeric_features:
        transformers.append(("numeric", _numeric(needs), schema.numeric_features))
    return ColumnTransformer(transformers, remainder="drop")


def _categorical(needs: InputNeeds) -> Any:
    if needs.categorical == "onehot":
        # Missing values become a category of their own; unseen ones map to the pooled
        # "infrequent" column (or to all zeros), never to an error.
        return OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            min_frequency=ONEHOT_MIN_FREQUENCY,
            max_categories=ONEHOT_MAX_CATEGORIES,
            sparse_output=False,
        )
    return OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        max_categories=ORDINAL_MAX_CATEGORIES,
    )


def _numeric(needs: InputNeeds) -> Any:
    steps: list[Any] = []
    if needs.missing == "impute":
        steps.append(SimpleImputer(strategy="median", add_indicator=True))
    if needs.scale:
        steps.append(StandardScaler())
    return make_pipeline(*steps) if steps else "passthrough"


def build_candidate(
    algorithm: Algorithm,
    schema: Schema,
    params: Mapping[str, Any],
    task: Task,
    seed: int,
    n_jobs: int,
) -> Candidate:
    """The algorithm's estimator behind the preprocessing it asks for."""
    needs = algorithm.needs
    preprocessor = build_preprocessor(schema, needs)
    estimator = algorithm.build(dict(params), task, seed, n_jobs)
    fit_params: dict[str, Any] = {}
    n_categorical = len(schema.categorical_features)
    if needs.categorical == "native" and needs.categorical_param and n_categorical:
        indices = list(range(n_categorical))
        if needs.categorical_param in estimator.get_params():
            estimator.set_params(**{needs.categorical_param: indices})
        else:
            fit_params[f"model__{needs.categorical_param}"] = indices
    pipeline = Pipeline([("preprocess", preprocessor), ("model", estimator)])
    return Candidate(pipeline, fit_params, algorithm.early_stopping, seed)
