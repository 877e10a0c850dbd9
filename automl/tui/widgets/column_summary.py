"""One row per column of a table: what automl will make of it, gaps, distinct values."""

from __future__ import annotations

import pandas as pd
from rich.text import Text
from textual.widgets import DataTable

from automl import data


class ColumnSummary(DataTable):
    """The columns of a table as automl sees them before a target is chosen."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True

    def show(self, frame: pd.DataFrame) -> None:
        self.clear(columns=True)
        self.add_columns("column", "kind", "missing", "unique", "dtype")
        for name in frame.columns:
            series = frame[name]
            # The same per-column inference a fit applies; a column it drops says why.
            column, reason = data._infer_column(series)
            kind = Text(column.kind) if column else Text(f"dropped: {reason}", style="dim")
            missing = series.isna().mean()
            self.add_row(
                Text(name),
                kind,
                f"{missing:.0%}" if missing else "-",
                f"{series.nunique():,}",
                str(series.dtype),
                key=name,
            )
