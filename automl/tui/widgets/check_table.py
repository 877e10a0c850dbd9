"""How the model does on rows it did not see: a confusion matrix for classes, a summary
of the residuals for numbers, from the out-of-fold predictions; the score on the training
rows, which the model has seen, beside them as such."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

MAX_CLASSES = 12
OUT_OF_FOLD = (
    "Out-of-fold: each of the {rows:,} rows predicted by a model fitted without it, as in"
    " cross-validation."
)
TRAINING = "On the training rows, which the model has seen (optimistic): {score}."


class CheckTable(Static):
    """Call `show_classes` or `show_residuals` with the actual and out-of-fold predicted
    values and, optionally, those of the training rows as the exported model predicts
    them."""

    def show_classes(
        self,
        actual: pd.Series,
        predicted: np.ndarray,
        classes: list,
        training: tuple[pd.Series, np.ndarray] | None = None,
    ) -> None:
        shown = [str(c) for c in classes[:MAX_CLASSES]]
        matrix = pd.crosstab(
            actual.astype(str).to_numpy(), np.asarray(predicted).astype(str)
        ).reindex(index=shown, columns=shown, fill_value=0)
        table = Table(box=None, padding=(0, 1))
        table.add_column(Text("actual \\ predicted"), style="bold")
        for label in shown:
            table.add_column(Text(_short(label)), justify="right")
        for label in shown:
            row = matrix.loc[label]
            table.add_row(
                Text(_short(label)),
                *(
                    Text(f"{row[col]:,}", style="bold green" if col == label else "")
                    for col in shown
                ),
            )
        notes = [Text(f"accuracy {_accuracy(actual, predicted):.1%}")]
        if len(classes) > MAX_CLASSES:
            notes.append(Text(f"(the first {MAX_CLASSES} of {len(classes)} classes)"))
        notes.append(Text(OUT_OF_FOLD.format(rows=len(actual)), style="dim"))
        if training is not None:
            score = f"accuracy {_accuracy(*training):.1%}"
            notes.append(Text(TRAINING.format(score=score), style="dim"))
        self.update(Group(table, *notes))

    def show_residuals(
        self,
        actual: pd.Series,
        predicted: np.ndarray,
        training: tuple[pd.Series, np.ndarray] | None = None,
    ) -> None:
        table = Table(
            title="residuals: actual - predicted", title_style="bold", box=None, padding=(0, 1)
        )
        table.add_column("", style="bold")
        table.add_column("value", justify="right")
        y = actual.to_numpy(dtype=float)
        residuals = y - np.asarray(predicted, dtype=float)
        rows = [
            ("MAE", np.mean(np.abs(residuals))),
            ("RMSE", np.sqrt(np.mean(residuals**2))),
            ("R²", _r2(y, residuals)),
        ]
        for q in (5, 25, 50, 75, 95):
            rows.append((f"{q}th percentile", np.percentile(residuals, q)))
        for name, value in rows:
            table.add_row(name, f"{value:,.4g}")
        notes = [Text(OUT_OF_FOLD.format(rows=len(actual)), style="dim")]
        if training is not None:
            y_train = training[0].to_numpy(dtype=float)
            score = f"R² {_r2(y_train, y_train - np.asarray(training[1], dtype=float)):.4g}"
            notes.append(Text(TRAINING.format(score=score), style="dim"))
        self.update(Group(table, *notes))


def _accuracy(actual: pd.Series, predicted: np.ndarray) -> float:
    return float(np.mean(actual.astype(str).to_numpy() == np.asarray(predicted).astype(str)))


def _r2(y: np.ndarray, residuals: np.ndarray) -> float:
    total = float(np.sum((y - y.mean()) ** 2)) or 1.0
    return 1.0 - float(np.sum(residuals**2)) / total


def _short(label: str, width: int = 12) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"
