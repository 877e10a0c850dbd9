"""The shipped metrics, computed here as scikit-learn defines them (a test checks them
against it on random inputs, ties and edge cases included).

The ensemble selection scores thousands of blends, and the decision threshold
(`automl.decision.choose`) hundreds of thresholds on each fold, and scikit-learn's checks
cost more than the sums. A log loss on 140 rows took 1.9 ms there and 0.02 ms here (at 10 s
on anes96, 708 rows and 7 classes, the selection over five trials took 1.25 s of the
budget); an F1 on 4,000 rows took 5.2 ms there, and the threshold of a 20 s run on the
churn sample table, 1,206 of them, 6.9 s past the budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from automl.contract import CLASSIFICATION, Metric, Task
from automl.hookspecs import hookimpl


def _classes(y_true: np.ndarray, proba: np.ndarray, probabilities: bool = True) -> np.ndarray:
    """`y_true` as class indices into the columns of `proba`, checked (and `proba` within
    [0, 1] if `probabilities`: scikit-learn's ROC AUC ranks any scores)."""
    proba = np.asarray(proba)
    codes = np.asarray(y_true)
    if proba.ndim != 2 or proba.shape[1] < 2 or codes.shape != (len(proba),):
        raise ValueError(
            f"expected n labels and an (n, k) matrix, got {codes.shape}, {proba.shape}"
        )
    if not np.isfinite(proba).all():
        raise ValueError("the probabilities must be finite")
    if probabilities and (proba.min() < 0 or proba.max() > 1):
        raise ValueError("the probabilities must be within [0, 1]")
    indices = codes.astype(np.int64)
    if (indices != codes).any() or indices.min() < 0 or indices.max() >= proba.shape[1]:
        raise ValueError(f"the labels must be class indices below {proba.shape[1]}")
    return indices


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """The area under the ROC curve as the Mann-Whitney statistic (tied scores count a
    half, as the ROC curve's trapezoids do); NaN when only one class is present."""
    from scipy.stats import rankdata

    n_positive = int(positive.sum())
    n_negative = len(positive) - n_positive
    if n_positive == 0 or n_negative == 0:
        return math.nan
    ranks = rankdata(score)
    return float(
        (ranks[positive].sum() - n_positive * (n_positive + 1) / 2) / n_positive / n_negative
    )


def roc_auc(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Binary, or one-vs-rest macro-averaged over the classes (NaN when a class is
    missing from `y_true`, as scikit-learn gives)."""
    classes = _classes(y_true, proba, probabilities=False)
    if proba.shape[1] == 2:
        return _binary_auc(classes == 1, proba[:, 1])
    return float(np.mean([_binary_auc(classes == k, proba[:, k]) for k in range(proba.shape[1])]))


def log_loss(y_true: np.ndarray, proba: np.ndarray) -> float:
    """The mean of -log p(true class), the probabilities clipped to [eps, 1 - eps]."""
    classes = _classes(y_true, proba)
    proba = np.asarray(proba)
    dtype = proba.dtype if proba.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    eps = np.finfo(dtype).eps
    chosen = proba.astype(dtype, copy=False)[np.arange(len(classes)), classes]
    return float(-np.mean(np.log(np.clip(chosen, eps, 1 - eps))))


def _confusion(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Counts of rows by (true, predicted) class index, as scikit-learn's confusion matrix
    over the classes up to the largest either names."""
    truth, predicted = np.asarray(y_true), np.asarray(y_pred)
    if truth.shape != predicted.shape or truth.ndim != 1 or not len(truth):
        raise ValueError(f"expected two arrays of n labels, got {truth.shape}, {predicted.shape}")
    truth_codes, predicted_codes = truth.astype(np.int64), predicted.astype(np.int64)
    if (
        (truth_codes != truth).any()
        or (predicted_codes != predicted).any()
        or min(truth_codes.min(), predicted_codes.min()) < 0
    ):
        raise ValueError("the labels must be class indices")
    k = int(max(truth_codes.max(), predicted_codes.max())) + 1
    return np.bincount(truth_codes * k + predicted_codes, minlength=k * k).reshape(k, k)


def _ratio(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole, 0 where whole is 0 (scikit-learn's zero_division=0)."""
    return np.divide(part, whole, out=np.zeros(len(part)), where=whole > 0)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    counts = _confusion(y_true, y_pred)
    return float(np.trace(counts) / counts.sum())


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The mean recall over the classes present in `y_true`."""
    counts = _confusion(y_true, y_pred)
    present = counts.sum(axis=1) > 0
    return float(np.mean(np.diag(counts)[present] / counts.sum(axis=1)[present]))


def _averaged(name: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """f1, precision or recall: of the positive class (1) when no label is above 1, else
    macro-averaged over the classes either array names; 0 where undefined."""

    def score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        counts = _confusion(y_true, y_pred)
        hits = np.diag(counts).astype(float)
        predicted, true = counts.sum(axis=0), counts.sum(axis=1)
        if name == "precision":
            per_class = _ratio(hits, predicted)
        elif name == "recall":
            per_class = _ratio(hits, true)
        else:
            per_class = _ratio(2 * hits, predicted + true)
        if len(counts) <= 2:
            return float(per_class[1]) if len(counts) == 2 else 0.0
        return float(np.mean(per_class[(predicted + true) > 0]))

    score.__name__ = name
    score.__qualname__ = name
    return score


f1 = _averaged("f1")
precision = _averaged("precision")
recall = _averaged("recall")


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    truth = np.asarray(y_true, dtype=np.float64)
    predicted = np.asarray(y_pred, dtype=np.float64)
    if truth.shape != predicted.shape or truth.ndim != 1 or not len(truth):
        raise ValueError(f"expected two arrays of n values, got {truth.shape}, {predicted.shape}")
    return float(np.sqrt(np.mean((truth - predicted) ** 2)))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import mean_absolute_error

    return float(mean_absolute_error(y_true, y_pred))


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(y_true, y_pred))


_REGRESSION = frozenset({Task.REGRESSION})


@hookimpl
def automl_register_metrics(register: Callable[[Metric], None]) -> None:
    for metric in (
        Metric(
            "roc_auc",
            CLASSIFICATION,
            "maximize",
            roc_auc,
            needs_proba=True,
            description="Area under the ROC curve (one-vs-rest, macro, for multiclass).",
        ),
        Metric(
            "log_loss",
            CLASSIFICATION,
            "minimize",
            log_loss,
            needs_proba=True,
            description="Cross-entropy of the predicted probabilities.",
        ),
        Metric(
            "accuracy",
            CLASSIFICATION,
            "maximize",
            accuracy,
            description="Share of rows whose class is predicted right.",
        ),
        Metric(
            "balanced_accuracy",
            CLASSIFICATION,
            "maximize",
            balanced_accuracy,
            description="Mean recall over classes.",
        ),
        Metric(
            "f1",
            CLASSIFICATION,
            "maximize",
            f1,
            description="F1 of the positive class (binary) or macro F1 (multiclass).",
        ),
        Metric(
            "precision",
            CLASSIFICATION,
            "maximize",
            precision,
            description="Precision of the positive class (binary) or macro (multiclass).",
        ),
        Metric(
            "recall",
            CLASSIFICATION,
            "maximize",
            recall,
            description="Recall of the positive class (binary) or macro (multiclass).",
        ),
        Metric("rmse", _REGRESSION, "minimize", rmse, description="Root mean squared error."),
        Metric("mae", _REGRESSION, "minimize", mae, description="Mean absolute error."),
        Metric("r2", _REGRESSION, "maximize", r2, description="Coefficient of determination."),
    ):
        register(metric)
