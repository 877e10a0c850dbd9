"""CatBoost's scikit-learn estimators, taking categorical columns as float codes.

automl's preprocessing gives categorical columns as ordinal codes in a float matrix, with
NaN for a missing or unseen category. CatBoost refuses floats and NaN in categorical
columns, so before every fit and prediction these estimators give it a frame whose
categorical columns hold the codes as integers, -1 for NaN (one category more), and the
other columns as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier, CatBoostRegressor

MISSING_CODE = -1


def coded(X: Any, categorical: Any) -> Any:
    """`X` with its `categorical` columns (indices) as integers, NaN as `MISSING_CODE`."""
    if not categorical:
        return X
    frame = pd.DataFrame(np.asarray(X, dtype=float))
    for index in categorical:
        frame[index] = frame[index].fillna(MISSING_CODE).astype(np.int64)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _eval_set(eval_set: Any, categorical: Any) -> Any:
    if eval_set is None:
        return None
    X, y = eval_set
    return coded(X, categorical), y


def _categorical(model: Any, kwargs: dict[str, Any]) -> Any:
    """The categorical column indices a fit is given: as a fit parameter (as automl passes
    them) or as the estimator's own."""
    given = kwargs.get("cat_features")
    return given if given is not None else model.get_param("cat_features")


class _Coded:
    """What both estimators change: categorical columns taken as float codes."""

    def fit(self, X: Any, y: Any = None, eval_set: Any = None, **kwargs: Any) -> Any:
        categorical = _categorical(self, kwargs)
        return super().fit(  # type: ignore[misc]
            coded(X, categorical), y, eval_set=_eval_set(eval_set, categorical), **kwargs
        )

    def predict(self, X: Any, *args: Any, **kwargs: Any) -> Any:
        categorical = self.get_cat_feature_indices()  # type: ignore[attr-defined]
        return super().predict(coded(X, categorical), *args, **kwargs)  # type: ignore[misc]


class CodedCatBoostClassifier(_Coded, CatBoostClassifier):
    """`CatBoostClassifier` taking categorical columns as float codes (see the module)."""

    def predict_proba(self, X: Any, *args: Any, **kwargs: Any) -> Any:
        return super().predict_proba(coded(X, self.get_cat_feature_indices()), *args, **kwargs)


class CodedCatBoostRegressor(_Coded, CatBoostRegressor):
    """`CatBoostRegressor` taking categorical columns as float codes (see the module)."""
