"""A modal that shows an error as its message and a hint on what to do, never a traceback."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from automl.errors import AutoMLError, Cancelled, describe


def explain_error(exc: BaseException) -> tuple[str, str | None]:
    """The message and hint the CLI would print for `exc`."""
    if isinstance(exc, AutoMLError):
        return exc.message, exc.hint
    return (
        f"automl failed unexpectedly: {describe(exc)}",
        "This is a bug; please report it with the steps that led here"
        " (`automl run` with AUTOML_DEBUG=1 shows the traceback).",
    )


class ErrorScreen(ModalScreen[None]):
    """Dismissed with Enter or Escape."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter", "dismiss", "OK")]

    def __init__(self, title: str, exc: BaseException) -> None:
        super().__init__()
        self.title_text = title
        self.message, self.hint = explain_error(exc)
        self.cancelled = isinstance(exc, Cancelled)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="error"):
            yield Label(self.title_text, id="dialog-title")
            yield Static(self.message, id="error-message", markup=False)
            if self.hint:
                yield Static(self.hint, id="error-hint", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", variant="primary", id="ok")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss()
