"""One row per column of a table: what automl will make of it, gaps, distinct values."""

from __future__ import annotations

import numpy as np
import pandas as pd
from rich.text import Text
from textual.widgets import DataTable

from automl import data
from automl.errors import DataError
from automl.tui.quiet import quiet


class ColumnSummary(DataTable):
    """The columns of a table as automl sees them before a target is chosen."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True

    def show(self, rows: list[tuple[Text, ...]]) -> None:
        """Show the rows `summarize` made (in a thread: it reads every value)."""
        self.clear(columns=True)
        self.add_columns("column", "kind", "missing", "unique", "dtype")
        for row in rows:
            self.add_row(*row, key=row[0].plain)


def summarize(frame: pd.DataFrame) -> list[tuple[Text, ...]]:
    """One row per column: name, kind (or why it is dropped), missing share, distinct
    values, dtype."""
    kinds, dropped = infer_kinds(frame)
    rows = []
    for name in frame.columns:
        series = frame[name]
        if name in kinds:
            kind = Text(kinds[name])
        else:
            kind = Text(f"dropped: {dropped.get(name, 'unusable')}", style="dim")
        missing = series.isna().mean()
        rows.append(
            (
                Text(name),
                kind,
                Text(f"{missing:.0%}" if missing else "-"),
                Text(f"{series.nunique():,}"),
                Text(str(series.dtype)),
            )
        )
    return rows


def infer_kinds(frame: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """Each usable column's kind, and why the others would be dropped, as a fit infers
    them (automl infers kinds next to a target: a two-valued stand-in takes its place)."""
    stand_in = "__target__"
    while stand_in in frame.columns:
        stand_in += "_"
    with_target = frame.assign(**{stand_in: np.arange(len(frame)) % 2})
    try:
        with quiet():  # the dropped columns are shown, not warned about
            schema = data.infer_schema(with_target, stand_in)
    except DataError:
        return {}, {}  # no usable column at all: every one shows as unusable
    return {c.name: c.kind for c in schema.columns}, dict(schema.dropped)
