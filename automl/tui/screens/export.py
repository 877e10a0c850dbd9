"""Step 6: save the model bundle where the user says, and show how to use it."""

from __future__ import annotations

import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from automl.bundle import CARD_JSON
from automl.errors import UsageError
from automl.study import JOURNAL_FILE
from automl.tui.screens.error import explain_error
from automl.tui.widgets.steps import Steps


class ExportScreen(Screen):
    """Copies the bundle the search wrote (in a scratch folder) to the chosen folder;
    posts `Exported` with the folder."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+s", "save", "Save")]

    @dataclass
    class Exported(Message):
        path: Path

    def __init__(
        self,
        bundle: Path,
        suggested: Path,
        data: Path | None,
        classification: bool,
        rerun: str | None = None,
    ) -> None:
        super().__init__()
        self.bundle = bundle
        self.suggested = suggested
        self.data = data
        self.classification = classification
        self.rerun = rerun

    def compose(self) -> ComposeResult:
        yield Steps("export")
        yield Label("Save the model bundle (the model and its model card) in the folder:")
        with Horizontal(id="export-row"):
            yield Input(str(self.suggested), id="folder")
            yield Button("Save", id="save", variant="success")
        with VerticalScroll(id="export-body"):
            yield Static("", id="export-status")
            yield Static("", id="usage")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#folder", Input).focus()

    @on(Input.Submitted, "#folder")
    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        text = self.query_one("#folder", Input).value.strip()
        status = self.query_one("#export-status", Static)
        try:
            if not text:
                raise UsageError("Type the folder to save the model in.")
            target = copy_bundle(self.bundle, Path(text).expanduser())
        except Exception as exc:
            message, hint = explain_error(exc)
            status.set_class(True, "error")
            status.update(Content(f"{message} {hint or ''}".strip()))
            return
        status.set_class(False, "error")
        status.update(Content.assemble(("Saved: ", "bold $success"), str(target)))
        self.query_one("#usage", Static).update(
            usage(target, self.data, self.classification, self.rerun)
        )
        self.post_message(self.Exported(target))


def copy_bundle(bundle: Path, target: Path) -> Path:
    """Copy the bundle's files (not the search's trial journal) into `target`, which must
    be new or empty; the folder appears complete or not at all."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(
            f"{target} already exists and is not an empty folder; automl will not overwrite it.",
            hint="Type a new folder name.",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        for item in bundle.iterdir():
            if item.name.startswith(JOURNAL_FILE):
                continue
            if item.is_dir():
                shutil.copytree(item, staging / item.name)
            else:
                shutil.copy2(item, staging / item.name)
        if not (staging / CARD_JSON).exists():
            raise UsageError(f"The search left no model in {bundle}; nothing to save.")
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def usage(folder: Path, data: Path | None, classification: bool, rerun: str | None) -> Group:
    """How to use the saved bundle: the CLI commands and the Python lines; with `rerun`,
    the command that repeats the search headless."""
    model = shlex.quote(str(folder))
    table = shlex.quote(str(data)) if data else "new.csv"
    commands = [f"automl predict {model} {table} --output predictions.csv"]
    if classification:
        commands.append(f"automl predict {model} {table} --proba --output probabilities.csv")
    commands += [
        f"automl explain {model} {table} --rows 5",
        f"automl evaluate {model} labelled.csv",
        f"automl info {model}",
    ]
    python = (
        "import automl, pandas as pd\n"
        f"model = automl.load({str(folder)!r})\n"
        f"model.predict(pd.read_csv({str(data or 'new.csv')!r}))"
    )
    parts = [
        Text("\nPredict, explain and score from the command line:", style="bold"),
        Syntax("\n".join(commands), "bash", theme="ansi_dark", word_wrap=True),
        Text("\nServe it over HTTP (docs/deploy.md; http://127.0.0.1:8000/docs):", style="bold"),
        Syntax(f"automl serve {model} --port 8000", "bash", theme="ansi_dark", word_wrap=True),
        Text("\nOr from Python:", style="bold"),
        Syntax(python, "python", theme="ansi_dark", word_wrap=True),
    ]
    report = folder / "report.html"
    if report.exists():
        parts.append(Text.assemble(("\nThe report: ", "bold"), str(report)))
    if rerun:
        parts += [
            Text("\nRun the same search without the UI (in a script, on a server):", style="bold"),
            Syntax(rerun, "bash", theme="ansi_dark", word_wrap=True),
        ]
    return Group(*parts)
