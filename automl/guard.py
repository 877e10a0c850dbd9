"""Rows the training data cannot speak for get the class shares, not a confident guess.

A model knows only the rows it learnt from. Given a row with more of its inputs missing
than all but a handful of training rows had (every measurement missing, say), a network
or a linear model extrapolates from imputed values and may give the true class a
probability of 1e-13; cross-validation never checked it on such rows, so nothing in its
score warns. What the training data does say about such a row is only how often each
class occurs.

So a classifier's probabilities are kept for a row only when at least `min_rows`
training rows (the number of cross-validation folds: fewer such rows than folds, and no
fold could have both learnt from and been checked on them) miss as many of the model's
inputs as it does; otherwise the row gets the class shares of the training rows. Its log
loss is then that of predicting the class shares, never worse, and the evaluation says
how many rows it concerned. The guard is part of the model's metadata (the card), applied
wherever automl predicts: `AutoML.predict_proba`, `automl predict`, `automl evaluate`,
`automl serve`; the pipeline itself, loaded without automl, gives the model's own
probabilities.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from automl.data import Schema


def fit(X: pd.DataFrame, y: np.ndarray, schema: Schema, min_rows: int) -> dict[str, Any]:
    """The guard of a classifier trained on the model input `X` (of `schema`) with encoded
    classes `y`: how many training rows miss at least k of the columns, for each k, and
    the class shares."""
    inputs = [column.feature_names() for column in schema.columns]
    missing = _missing(X, inputs)
    counts = np.bincount(missing, minlength=len(inputs) + 1)
    at_least = counts[::-1].cumsum()[::-1]
    shares = np.bincount(y, minlength=len(schema.classes or ())) / max(len(y), 1)
    return {
        "min_rows": int(min_rows),
        "inputs": len(inputs),
        "features": inputs,
        "rows_missing_at_least": at_least.tolist(),
        "class_shares": shares.tolist(),
    }


def _missing(X: pd.DataFrame, inputs: list[list[str]]) -> np.ndarray:
    """How many of the columns each row misses: a date counts once, missing when every
    part of it is (a date that cannot be read)."""
    missing = np.zeros(len(X), dtype=np.int64)
    for features in inputs:
        missing += X[features].isna().to_numpy().all(axis=1)
    return missing


def unsupported(X: pd.DataFrame, guard: Mapping[str, Any]) -> np.ndarray:
    """Which rows of the model input `X` miss more columns than at least `min_rows`
    training rows did."""
    at_least = np.asarray(guard["rows_missing_at_least"])
    missing = np.minimum(_missing(X, guard["features"]), len(at_least) - 1)
    return at_least[missing] < guard["min_rows"]


def apply(proba: np.ndarray, X: pd.DataFrame, guard: Mapping[str, Any] | None) -> np.ndarray:
    """`proba`, with the class shares for the rows of `X` the guard does not vouch for."""
    if not guard:
        return proba
    rows = unsupported(X, guard)
    if not rows.any():
        return proba
    guarded = np.array(proba, dtype=float)
    guarded[rows] = guard["class_shares"]
    return guarded


def words(guard: Mapping[str, Any]) -> str:
    """The rule in one sentence, for the card and the report."""
    at_least = guard["rows_missing_at_least"]
    enough = max((k for k, n in enumerate(at_least) if n >= guard["min_rows"]), default=0)
    return (
        f"a row missing more than {enough} of the model's {guard['inputs']} columns (fewer"
        f" than {guard['min_rows']} training rows missed as many) gets the class shares of"
        " the training rows instead of the model's probabilities"
    )
