"""The first rows of a table."""

from __future__ import annotations

import pandas as pd
from rich.text import Text
from textual.widgets import DataTable

PREVIEW_ROWS = 100


class TablePreview(DataTable):
    """Shows the first rows of a DataFrame, as text (never as markup), gaps left blank."""

    def on_mount(self) -> None:
        self.zebra_stripes = True

    def show(self, frame: pd.DataFrame, rows: int = PREVIEW_ROWS) -> None:
        self.clear(columns=True)
        self.add_columns(*(Text(str(c)) for c in frame.columns))
        for values in frame.head(rows).itertuples(index=False):
            self.add_row(*(cell(v) for v in values))


def cell(value: object) -> Text:
    """A table value as display text: floats to 6 significant digits, missing as blank."""
    if value is None or (isinstance(value, float) and value != value):
        return Text("")
    if isinstance(value, float):
        return Text(f"{value:.6g}", justify="right")
    return Text(str(value))
