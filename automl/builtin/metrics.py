"""The shipped metrics, on scikit-learn's implementations."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from automl.contract import CLASSIFICATION, Metric, Task
from automl.hookspecs import hookimpl


def roc_auc(y_true: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if proba.shape[1] == 2:
        return float(roc_auc_score(y_true, proba[:, 1]))
    return float(roc_auc_score(y_true, proba, multi_class="ovr", labels=np.arange(proba.shape[1])))


def log_loss(y_true: np.ndarray, proba: np.ndarray) -> float:
    from sklearn.metrics import log_loss as sk_log_loss

    return float(sk_log_loss(y_true, proba, labels=np.arange(proba.shape[1])))


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y_true, y_pred))


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y_true, y_pred))


def _averaged(name: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """f1, precision or recall: of the positive class for binary, macro-averaged otherwise."""

    def score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        import sklearn.metrics

        function = getattr(sklearn.metrics, f"{name}_score")
        binary = max(int(np.max(y_true)), int(np.max(y_pred))) <= 1
        average = "binary" if binary else "macro"
        return float(function(y_true, y_pred, average=average, zero_division=0))

    score.__name__ = name
    score.__qualname__ = name
    return score


f1 = _averaged("f1")
precision = _averaged("precision")
recall = _averaged("recall")


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn.metrics import root_mean_squared_error

    return float(root_mean_squared_error(y_true, y_pred))


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
