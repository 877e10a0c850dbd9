"""How the model does on the rows it was trained on: a confusion matrix for classes, a
summary of the residuals for numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

MAX_CLASSES = 12
CAVEAT = (
    "On the training rows, which the model has seen: optimistic. The CV score is the"
    " honest estimate."
)


class CheckTable(Static):
    """Call `show_classes` or `show_residuals` with the actual and predicted values."""

    def show_classes(self, actual: pd.Series, predicted: np.ndarray, classes: list) -> None:
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
        accuracy = float(np.mean(actual.astype(str).to_numpy() == np.asarray(predicted, str)))
        notes = [Text(f"accuracy {accuracy:.1%}")]
        if len(classes) > MAX_CLASSES:
            notes.append(Text(f"(the first {MAX_CLASSES} of {len(classes)} classes)"))
        self.update(Group(table, *notes, Text(CAVEAT, style="dim")))

    def show_residuals(self, actual: pd.Series, predicted: np.ndarray) -> None:
        y = actual.to_numpy(dtype=float)
        residuals = y - np.asarray(predicted, dtype=float)
        total = float(np.sum((y - y.mean()) ** 2)) or 1.0
        table = Table(
            title="residuals: actual - predicted", title_style="bold", box=None, padding=(0, 1)
        )
        table.add_column("", style="bold")
        table.add_column("value", justify="right")
        rows = [
            ("MAE", np.mean(np.abs(residuals))),
            ("RMSE", np.sqrt(np.mean(residuals**2))),
            ("R²", 1.0 - float(np.sum(residuals**2)) / total),
        ]
        for q in (5, 25, 50, 75, 95):
            rows.append((f"{q}th percentile", np.percentile(residuals, q)))
        for name, value in rows:
            table.add_row(name, f"{value:,.4g}")
        self.update(Group(table, Text(CAVEAT, style="dim")))


def _short(label: str, width: int = 12) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"
