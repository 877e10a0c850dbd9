"""Has the data moved? New rows set beside the model's training data, column by column
(`automl.drift`): the columns most drifted first, and how the highlighted one moved."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static

from automl import drift
from automl.data import read_table
from automl.tui.screens.error import ErrorScreen
from automl.tui.widgets.steps import Steps

if TYPE_CHECKING:
    from automl.api import AutoML

NOT_USED = "not used: "


class DriftScreen(Screen):
    """Compares the table at `path` with the training data of `model` in a worker; shows
    the errors as the app shows others (and closes)."""

    # Side by side, the table of columns needs about 80 cells and the bins 48.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (130, "-wide")]

    def __init__(self, model: AutoML, path: Path) -> None:
        super().__init__()
        self.model = model
        self.path = path
        self.found: drift.Drift | None = None

    def compose(self) -> ComposeResult:
        yield Steps("drift")
        yield Static(f"Comparing {self.path} with the training data ...", id="drift-head")
        with Horizontal(id="drift-body"):
            with Vertical(classes="panel", id="drift-board"):
                yield Label("Columns, most drifted first", classes="box-title")
                yield DataTable(id="drift-columns", cursor_type="row", zebra_stripes=True)
            with Vertical(classes="panel", id="drift-detail-box"):
                yield Label("Training data and new data, by bin", classes="box-title")
                with VerticalScroll():
                    yield Static("", id="drift-detail")
        yield Static("", id="drift-notes")
        yield Footer()

    def on_mount(self) -> None:
        self._compare()

    @work(thread=True, exclusive=True, exit_on_error=False, group="drift")
    def _compare(self) -> None:
        try:
            reference = drift.read_reference(self.model)
            frame = read_table(self.path)
            found = drift.compare(reference, frame, self.model, str(self.path))
        except Exception as exc:
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._show, found)

    def _failed(self, exc: Exception) -> None:
        self.app.switch_screen(ErrorScreen("Cannot check the new data for drift", exc))

    def _show(self, found: drift.Drift) -> None:
        self.found = found
        style = drift.STYLES[found.level]
        self.query_one("#drift-head", Static).update(
            Text.assemble(
                f"{found.rows:,} rows of {found.source} beside the {found.reference_rows:,}"
                f" training rows (PSI: moderate from {found.moderate:g}, major from"
                f" {found.major:g})\n",
                (drift.verdict(found), style),
            )
        )
        table = self.query_one("#drift-columns", DataTable)
        table.add_columns(*drift.COLUMN_HEADER)
        for prefix, columns in (("", found.columns), (NOT_USED, found.unused)):
            for column in columns:
                table.add_row(*_cells(column, prefix), key=prefix + column.name)
        notes = [drift.prediction_words(found)] if found.prediction is not None else []
        notes += drift.apart_words(found)
        if found.evaluation is not None:
            score = found.evaluation.score
            value = "-" if score.value is None else f"{score.value:.4g}"
            notes.append(
                f"The rows hold the target: {found.evaluation.metric} {value} on"
                f" {found.evaluation.rows:,} rows (cross-validated"
                f" {self.model.card['cv']['score']:.4g})."
            )
        self.query_one("#drift-notes", Static).update("\n".join(notes))
        table.focus()

    @on(DataTable.RowHighlighted, "#drift-columns")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.found is None or event.row_key.value is None:
            return
        key = event.row_key.value
        unused = key.startswith(NOT_USED)
        name = key.removeprefix(NOT_USED) if unused else key
        columns = self.found.unused if unused else self.found.columns
        column = next(c for c in columns if c.name == name)
        self.query_one("#drift-detail", Static).update(_bins(column))


def _cells(column: drift.ColumnDrift, prefix: str) -> list[Text]:
    _, level, *numbers = drift.column_cells(column)
    return [
        Text(prefix + column.name, style="dim" if prefix else ""),
        Text(level, style=drift.STYLES[column.level]),
        *(Text(cell, justify="right") for cell in numbers),
    ]


def _bins(column: drift.ColumnDrift) -> Table:
    """Each bin's share of the training values and of the new ones."""
    table = Table(box=None, padding=(0, 1), title=f"{column.name}: PSI {column.psi:.3f}")
    table.add_column("bin", overflow="ellipsis", no_wrap=True, max_width=24)
    table.add_column("training", justify="right")
    table.add_column("new", justify="right")
    table.add_column("change", justify="right")
    for label, before, after in zip(column.bins, column.reference, column.new, strict=True):
        if before or after:
            change = (after - before) * 100
            table.add_row(
                label,
                f"{before:.1%}",
                f"{after:.1%}",
                Text(f"{change:+.1f} pts", style="bold" if abs(change) >= 5 else "dim"),
            )
    return table
