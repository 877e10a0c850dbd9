"""Step 1: pick the table, by path or from a folder tree, and look at it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import (
    Button,
    DirectoryTree,
    Footer,
    Input,
    Label,
    Static,
    TabbedContent,
    TabPane,
)

from automl import data
from automl.tui.screens.error import explain_error
from automl.tui.widgets.column_summary import ColumnSummary, summarize
from automl.tui.widgets.steps import Steps
from automl.tui.widgets.table_preview import TablePreview
from automl.tui.widgets.table_tree import TableTree


class DataScreen(Screen):
    """Posts `DataScreen.Chosen` when the user goes on with an opened table."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+n", "next", "Next: configure")]

    @dataclass
    class Chosen(Message):
        path: Path
        frame: pd.DataFrame

    def __init__(self, folder: Path, path: Path | None = None, advance: bool = False) -> None:
        super().__init__()
        self.folder = folder
        self.initial = path
        self.advance = advance
        self.path: Path | None = None
        self.frame: pd.DataFrame | None = None

    def compose(self) -> ComposeResult:
        yield Steps("data")
        with Horizontal(id="path-row"):
            yield Input(
                str(self.initial or ""),
                placeholder="Path of a .csv, .tsv or .parquet file - or browse below",
                id="path",
            )
            yield Button("Open", id="open")
        with Horizontal(id="data-body"):
            yield TableTree(self.folder, id="tree")
            with Vertical(id="data-view"):
                yield Static("Open a table to see its columns.", id="data-status")
                with TabbedContent(id="data-tabs"):
                    with TabPane("Columns", id="columns-tab"):
                        yield ColumnSummary(id="columns")
                    with TabPane("Preview", id="preview-tab"):
                        yield TablePreview(id="preview")
        with Horizontal(classes="actions"):
            yield Label("", classes="spacer")
            yield Button("Next: configure →", id="next", variant="primary", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()
        if self.initial is not None:
            self.open(self.initial)

    @on(Input.Submitted, "#path")
    @on(Button.Pressed, "#open")
    def _open_typed(self) -> None:
        text = self.query_one("#path", Input).value.strip()
        if text:
            self.open(Path(text).expanduser())
        else:
            self._status("Type the path of a table, or choose one in the tree.", error=True)

    @on(DirectoryTree.FileSelected)
    def _open_chosen(self, event: DirectoryTree.FileSelected) -> None:
        path = _relative(event.path)
        self.query_one("#path", Input).value = str(path)
        self.open(path)

    @on(Button.Pressed, "#next")
    def action_next(self) -> None:
        if self.frame is None or self.path is None:
            self.app.bell()
            self._status("Open a table first.", error=True)
            return
        self.post_message(self.Chosen(self.path, self.frame))

    def open(self, path: Path) -> None:
        self._status(f"Reading {path} ...")
        self.query_one("#next", Button).disabled = True
        self._read(path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="read")
    def _read(self, path: Path) -> None:
        try:
            frame = data.read_table(path)
            summary = summarize(frame)
        except Exception as exc:
            self.app.call_from_thread(self._failed, exc)
        else:
            self.app.call_from_thread(self._show, path, frame, summary)

    def _failed(self, exc: Exception) -> None:
        message, hint = explain_error(exc)
        self.path = self.frame = None
        self.advance = False  # the user picks another table and looks at it first
        self._status(f"{message}\n{hint or ''}".strip(), error=True)
        self.query_one("#columns", ColumnSummary).clear(columns=True)
        self.query_one("#preview", TablePreview).clear(columns=True)

    def _show(self, path: Path, frame: pd.DataFrame, summary: list) -> None:
        self.path, self.frame = path, frame
        rows, columns = frame.shape
        self._status(Content.assemble((path.name, "bold"), f": {rows:,} rows x {columns} columns."))
        self.query_one("#columns", ColumnSummary).show(summary)
        self.query_one("#preview", TablePreview).show(frame)
        button = self.query_one("#next", Button)
        button.disabled = False
        button.focus()
        if self.advance:
            self.advance = False
            self.action_next()

    def _status(self, text: str | Content, error: bool = False) -> None:
        status = self.query_one("#data-status", Static)
        status.set_class(error, "error")
        status.update(Content(text) if isinstance(text, str) else text)


def _relative(path: Path) -> Path:
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path
