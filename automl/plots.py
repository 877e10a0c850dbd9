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


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[Any], where: str = "out-of-fold"
) -> bytes:
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
    ax.set_title(f"Confusion matrix ({where})")
    return _png(figure)


def roc(
    y_true: np.ndarray, proba: np.ndarray, classes: Sequence[Any], where: str = "out-of-fold"
) -> bytes:
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
    ax.set_title(f"ROC ({where})")
    return _png(figure)


def predicted_vs_actual(
    y_true: np.ndarray, y_pred: np.ndarray, kind: str, where: str = "out-of-fold"
) -> bytes:
    """kind: "actual_vs_predicted" or "residual_vs_predicted"."""
    from sklearn.metrics import PredictionErrorDisplay

    figure, ax = _figure(height=5.0, width=5.5)
    PredictionErrorDisplay.from_predictions(
        y_true, y_pred, kind=kind, ax=ax, subsample=2000, random_state=0
    )
    title = "Predicted vs actual" if kind == "actual_vs_predicted" else "Residuals"
    ax.set_title(f"{title} ({where})")
    return _png(figure)


def precision_recall(
    y_true: np.ndarray, proba: np.ndarray, classes: Sequence[Any], where: str
) -> bytes:
    """The precision-recall curve of the positive (second) class."""
    from sklearn.metrics import PrecisionRecallDisplay

    figure, ax = _figure(height=5.0, width=5.5)
    PrecisionRecallDisplay.from_predictions(
        y_true == 1, proba[:, 1], name=str(classes[1]), ax=ax, plot_chance_level=True
    )
    ax.set_title(f"Precision and recall ({where})")
    return _png(figure)


def reliability(
    table: pd.DataFrame,
    classes: Sequence[Any],
    where: str,
    before: pd.DataFrame | None = None,
) -> bytes:
    """The reliability diagram of `evaluate.calibration`'s table: observed frequency
    against mean predicted probability per bin, the diagonal being perfect calibration;
    `before`, a table of the same kind, is drawn beside it (before calibration)."""
    figure, ax = _figure(height=5.0, width=5.5)
    ax.plot([0, 1], [0, 1], linestyle=":", color="#888", label="perfectly calibrated")
    if before is not None:
        ax.plot(before["predicted"], before["observed"], "s--", color="#aaa", label="before")
    ax.plot(table["predicted"], table["observed"], "o-", color="#1f77b4", label="model")
    what = f"P({classes[1]})" if len(classes) == 2 else "probability of the predicted class"
    ax.set_xlabel(f"mean predicted {what}")
    ax.set_ylabel("observed frequency")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title(f"Calibration ({where})")
    return _png(figure)


def learning_curve(curve: dict[str, Any]) -> bytes:
    """Training and validation scores against training rows, with a band of one standard
    deviation over folds (the dict of `automl.curve.LearningCurve.as_dict`)."""
    points = curve["points"]
    rows = [p["rows"] for p in points]
    figure, ax = _figure(height=4.5, width=6.0)
    for kind, colour in (("train", "#d62728"), ("valid", "#1f77b4")):
        mean = np.array([p[kind] for p in points])
        std = np.array([p[f"{kind}_std"] for p in points])
        label = "training rows" if kind == "train" else "held-out rows (validation)"
        ax.plot(rows, mean, "o-", color=colour, label=label)
        ax.fill_between(rows, mean - std, mean + std, color=colour, alpha=0.15)
    ax.axhline(curve["null"], linestyle=":", color="#888", label="without the columns")
    ax.set_xlabel("training rows")
    ax.set_ylabel(curve["metric"])
    ax.legend(loc="best", fontsize="small")
    ax.set_title(f"Learning curve: {curve['model']}")
    return _png(figure)


def drift_shares(
    bins: Sequence[str], reference: Sequence[float], new: Sequence[float], title: str
) -> bytes:
    """The share of each bin (or category) in the training data and in the new data, side
    by side, the first bin at the top (`automl.drift`)."""
    figure, ax = _figure(height=1.4 + 0.32 * len(bins))
    rows = np.arange(len(bins))
    ax.barh(rows - 0.2, reference, height=0.4, color="#aaa", label="training data")
    ax.barh(rows + 0.2, new, height=0.4, color="#d62728", label="new data")
    ax.set_yticks(rows, labels=list(bins))
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter("{x:.0%}")
    ax.set_xlabel("share of the rows")
    ax.legend(loc="best", fontsize="small")
    ax.set_title(title)
    return _png(figure)


def _figure(height: float, width: float = 7.5) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return figure, figure.add_subplot()


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
