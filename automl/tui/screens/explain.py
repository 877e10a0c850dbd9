"""Step 5: what drives the model: importance per column, and why it predicts what it does
for any row the user picks. Both come from the core's SHAP explanations."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from automl.tui.screens.error import explain_error
from automl.tui.widgets.bars import Bar, Bars
from automl.tui.widgets.steps import Steps
from automl.tui.widgets.table_preview import cell

if TYPE_CHECKING:
    from automl.api import AutoML

ROWS_SHOWN = 200
TOP_COLUMNS = 8


class ExplainScreen(Screen):
    """Tab "Columns": global importance; tab "Rows": pick a row, Enter explains it."""

    def __init__(self, model: AutoML, frame: pd.DataFrame | None) -> None:
        super().__init__()
        self.model = model
        self.frame = frame

    def compose(self) -> ComposeResult:
        target = self.model.card["target"]
        yield Steps("explain")
        yield Static(
            Content.assemble("What drives the predictions of ", (target, "bold")), id="explain-head"
        )
        with TabbedContent(id="explain-tabs"):
            with TabPane("Columns", id="columns-tab"), VerticalScroll():
                yield Static(
                    "Mean |SHAP value| per column of the table: how much it moves"
                    " the prediction on average.",
                    classes="hint",
                )
                yield Bars("Computing ...", id="importance")
            with TabPane("Rows", id="rows-tab"), Vertical():
                yield DataTable(id="rows", cursor_type="row", zebra_stripes=True)
                yield Static(
                    "Choose a row and press Enter to explain its prediction.", id="row-head"
                )
                yield Bars("", id="contributions")
        yield Footer()

    def on_mount(self) -> None:
        self._importance()
        if self.frame is None:
            self.query_one("#row-head", Static).update(
                "The training table is not at hand, so there are no rows to explain."
            )
        else:
            self._predict_rows()

    @work(thread=True, exclusive=True, exit_on_error=False, group="importance")
    def _importance(self) -> None:
        bars = self.query_one("#importance", Bars)
        try:
            frame = self.model.importance()
        except Exception as exc:
            message, hint = explain_error(exc)
            self.app.call_from_thread(bars.update, f"{message} {hint or ''}".strip())
            return
        items = [
            Bar(
                str(r["column"]),
                float(r["importance"]),
                f"{r['importance']:.3g}",
                r["direction"] if isinstance(r.get("direction"), str) else "",
            )
            for r in frame.to_dict(orient="records")
        ]
        self.app.call_from_thread(bars.show, items)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rows")
    def _predict_rows(self) -> None:
        target = self.model.card["target"]
        rows = self.frame.head(ROWS_SHOWN)
        try:
            predicted = self.model.predict(rows)
        except Exception as exc:
            message, _ = explain_error(exc)
            self.app.call_from_thread(self.query_one("#row-head", Static).update, message)
            return
        self.app.call_from_thread(self._show_rows, rows, predicted, target)

    def _show_rows(self, rows: pd.DataFrame, predicted, target: str) -> None:
        table = self.query_one("#rows", DataTable)
        columns = [c for c in rows.columns if c != target]
        table.add_column("row", key="row")
        table.add_column(Text(f"predicted {target}"), key="predicted")
        table.add_column(Text(f"actual {target}"), key="actual")
        for name in columns:
            table.add_column(Text(str(name)))
        for (index, values), prediction in zip(rows.iterrows(), predicted, strict=True):
            table.add_row(
                Text(str(index), justify="right"),
                cell(prediction),
                cell(values.get(target)),
                *(cell(values[c]) for c in columns),
                key=str(index),
            )

    @on(DataTable.RowSelected, "#rows")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        index = self.frame.index[event.cursor_row]
        self.query_one("#row-head", Static).update(f"Explaining row {index} ...")
        self._explain_row(index)

    @work(thread=True, exclusive=True, exit_on_error=False, group="row")
    def _explain_row(self, index) -> None:
        try:
            frame = self.model.explain(self.frame.loc[[index]], top=TOP_COLUMNS)
        except Exception as exc:
            message, hint = explain_error(exc)
            self.app.call_from_thread(
                self.query_one("#row-head", Static).update, f"{message} {hint or ''}".strip()
            )
            return
        self.app.call_from_thread(self._show_row, index, frame)

    def _show_row(self, index, frame: pd.DataFrame) -> None:
        first = frame.iloc[0]
        space = frame.attrs.get("space", "")
        regression = self.model.card["classes"] is None
        what = f"the {space}" if space else "the prediction"
        if not regression:
            what += f" of {first['explained']}"
        contributions = frame["contribution"].astype(float)
        total = float(first["base_value"]) + float(contributions.sum())
        self.query_one("#row-head", Static).update(
            Content.assemble(
                (f"Row {index}: ", "bold"),
                "predicted ",
                (str(first["prediction"]), "bold"),
                f". Each column moves {what} from the average {float(first['base_value']):.3g}"
                f" to {total:.3g}:",
            )
        )
        bars = [
            Bar(
                _label(r["column"], r["value"]),
                float(r["contribution"]),
                f"{float(r['contribution']):+.3g}",
            )
            for r in frame.to_dict(orient="records")
        ]
        self.query_one("#contributions", Bars).show(bars)


def _label(column: str, value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return str(column)
    shown = f"{value:.4g}" if isinstance(value, float) else str(value)
    return f"{column} = {shown}"
