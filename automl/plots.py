"""The pictures of a model bundle, as PNG bytes: SHAP importance and beeswarm, and the
diagnostics drawn from out-of-fold predictions.

Figures are made as `matplotlib.figure.Figure` objects, never through pyplot's global
state, so drawing works in any thread and without a display, and leaves the caller's
matplotlib backend alone.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from automl.explain import Explanation

TOP_COLUMNS = 15
DPI = 100


def importance_bar(importance: pd.DataFrame, outputs: Sequence[str], space: str) -> bytes:
    """Mean |SHAP| per column, stacked by class when there are several."""
    shown = importance.head(TOP_COLUMNS).iloc[::-1]
    figure, ax = _figure(height=1.2 + 0.35 * len(shown))
    if len(outputs) > 1:
        left = np.zeros(len(shown))
        for label in outputs:
            # Each class's share of the overall mean, so the bar's length is the mean.
            width = shown[f"importance[{label}]"].to_numpy() / len(outputs)
            ax.barh(shown["column"], width, left=left, label=str(label))
            left += width
        ax.legend(title="class", loc="lower right", fontsize="small")
    else:
        ax.barh(shown["column"], shown["importance"], color="#1f77b4")
    ax.set_xlabel(f"mean |SHAP value| ({space})")
    ax.set_title("Which columns matter")
    return _png(figure)


def beeswarm(explanation: Explanation, output: int = 0) -> bytes:
    """One dot per explained row and column: its contribution, coloured by its value."""
    import shap
    from matplotlib.cm import ScalarMappable

    values = explanation.values[:, :, output]
    shown = min(TOP_COLUMNS, values.shape[1])
    figure, ax = _figure(height=1.5 + 0.4 * shown)
    with warnings.catch_warnings():
        # shap takes quantiles of each column's values for the colours: all NaN for a
        # categorical column, which it then draws in grey, as wanted.
        warnings.simplefilter("ignore", RuntimeWarning)
        shap.plots.beeswarm(
            shap.Explanation(
                values=values,
                base_values=np.full(len(values), explanation.base[output]),
                data=explanation.numeric,
                feature_names=explanation.columns,
            ),
            max_display=shown,
            ax=ax,
            show=False,
            plot_size=None,
            color_bar=False,
        )
    scale = ScalarMappable(cmap=shap.plots.colors.red_blue)
    bar = figure.colorbar(scale, ax=ax, ticks=[], aspect=40, pad=0.02)
    bar.set_label("value: low (blue) to high (red); grey: category or missing")
    ax.set_title(f"Contributions to {explanation.outputs[output]} ({explanation.space})")
    return _png(figure)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[Any]) -> bytes:
    from sklearn.metrics import ConfusionMatrixDisplay

    size = 3.0 + 0.4 * len(classes)
    figure, ax = _figure(height=size, width=size + 1.0)
    ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=list(range(len(classes))),
        display_labels=[str(c) for c in classes],
        ax=ax,
        colorbar=False,
    )
    ax.set_title("Confusion matrix (out-of-fold)")
    return _png(figure)


def roc(y_true: np.ndarray, proba: np.ndarray, classes: Sequence[Any]) -> bytes:
    """ROC curve; one-vs-rest curves for several classes."""
    from sklearn.metrics import RocCurveDisplay

    figure, ax = _figure(height=5.0, width=5.5)
    shown = [1] if len(classes) == 2 else range(len(classes))
    for k in shown:
        RocCurveDisplay.from_predictions(
            y_true == k, proba[:, k], name=str(classes[k]), ax=ax, plot_chance_level=k == shown[0]
        )
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC (out-of-fold)")
    return _png(figure)


def predicted_vs_actual(y_true: np.ndarray, y_pred: np.ndarray, kind: str) -> bytes:
    """kind: "actual_vs_predicted" or "residual_vs_predicted"."""
    from sklearn.metrics import PredictionErrorDisplay

    figure, ax = _figure(height=5.0, width=5.5)
    PredictionErrorDisplay.from_predictions(
        y_true, y_pred, kind=kind, ax=ax, subsample=2000, random_state=0
    )
    title = "Predicted vs actual" if kind == "actual_vs_predicted" else "Residuals"
    ax.set_title(f"{title} (out-of-fold)")
    return _png(figure)


def _figure(height: float, width: float = 7.5) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return figure, figure.add_subplot()


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
