"""A modal that asks for the path of a table (.csv, .tsv or .parquet), completing what is
typed from the files on disk; dismissed with the path, or None."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Button, Input, Label, Static

from automl.data import READERS


class TablePathScreen(ModalScreen[Path | None]):
    """Enter or the first button gives the path typed, once it names a table file; Escape
    gives None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, detail: str, value: str = "", ok: str = "OK") -> None:
        super().__init__()
        self.title_text = title
        self.detail = detail
        self.value = value
        self.ok = ok

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, id="dialog-title")
            yield Static(self.detail, markup=False)
            yield Input(
                self.value,
                placeholder="path of a .csv, .tsv or .parquet file",
                suggester=PathSuggester(),
                select_on_focus=False,  # the folder given is to be added to, not replaced
                id="table-path",
            )
            yield Static("", id="table-path-problem", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.ok, variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#table-path", Input).focus()

    @on(Input.Submitted, "#table-path")
    @on(Button.Pressed, "#ok")
    def _submit(self) -> None:
        text = self.query_one("#table-path", Input).value.strip()
        path = Path(text).expanduser()
        if not text:
            problem = "Type the path of a table."
        elif not path.is_file():
            problem = f"There is no file {text}."
        elif path.suffix.lower() not in READERS:
            problem = f"{path.name} is not a .csv, .tsv or .parquet file."
        else:
            self.dismiss(path)
            return
        self.query_one("#table-path-problem", Static).update(problem)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class PathSuggester(Suggester):
    """Completes the last part of a path with the first folder or table file that starts
    with it (hidden ones left out)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        head, separator, start = value.rpartition("/")
        folder = head + separator
        try:
            entries = sorted(Path(folder or ".").expanduser().iterdir())
        except OSError:
            return None
        for entry in entries:
            if not entry.name.startswith(start) or entry.name.startswith("."):
                continue
            if entry.is_dir():
                return f"{folder}{entry.name}/"
            if entry.suffix.lower() in READERS:
                return f"{folder}{entry.name}"
        return None
