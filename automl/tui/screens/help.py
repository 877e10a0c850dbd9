"""The keys of every screen, in a modal."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

KEYS = (
    ("everywhere", "F1, ?", "this help"),
    ("", "F2", "the plugins: what each adds; the broken ones and why"),
    ("", "Tab, Shift+Tab", "next, previous field"),
    ("", "Esc", "back one step"),
    ("", "Ctrl+P", "command palette: keys, plugins, theme, screenshot"),
    ("", "Ctrl+Q", "quit (asks first if the model is not exported)"),
    ("1 Data", "type a path, Enter", "open a .csv, .tsv or .parquet file"),
    ("", "arrows, Enter", "browse the folders, open a file"),
    ("", "Ctrl+N", "next: configure the search"),
    ("2 Configure", "Enter", "open a list; arrows and Enter choose"),
    ("", "Space", "tick or untick an algorithm"),
    ("", "Ctrl+R", "start the search (or Enter in a field)"),
    ("3 Search", "C, Esc", "stop, refit and keep the best so far; again: stop at once"),
    ("4 Results", "arrows", "a trial's parameters (Trial tab)"),
    ("", "E", "explain the model"),
    ("", "X", "export the model bundle"),
    ("", "D", "check a new table for drift against the training data"),
    ("", "N", "a new search with other settings"),
    ("5 Explain", "arrows, Enter", "explain the prediction for the chosen row"),
    ("6 Export", "Enter, Ctrl+S", "save the bundle in the folder typed"),
)


class HelpScreen(ModalScreen[None]):
    """Closed with Escape, F1, ? or q."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,question_mark,q", "dismiss", "Close")
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Label("Keys", id="dialog-title")
            yield Static(keys_table())
            yield Static(
                Text(
                    "The footer shows the keys of the screen you are on. The mouse works too."
                    " Esc, F1 or Q closes this help.",
                    style="dim",
                )
            )


def keys_table() -> Table:
    table = Table(box=None, padding=(0, 1), show_header=False, expand=True)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(ratio=1)
    for where, keys, does in KEYS:
        table.add_row(where, keys, does)
    return table
