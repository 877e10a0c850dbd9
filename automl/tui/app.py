"""The automl terminal UI: the whole workflow, from a table to an exported model.

The app holds what the steps share (the table, the plan, the fitted model) and moves
between screens when they post messages; the screens talk to the core, never to each
other.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd
from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen

from automl.bundle import CARD_JSON
from automl.errors import AutoMLWarning, Cancelled
from automl.plugins import Registry, get_registry
from automl.tui.plan import SearchPlan
from automl.tui.quiet import is_quiet
from automl.tui.screens.configure import ConfigureScreen
from automl.tui.screens.confirm import ConfirmScreen
from automl.tui.screens.data import DataScreen
from automl.tui.screens.error import ErrorScreen
from automl.tui.screens.explain import ExplainScreen
from automl.tui.screens.export import ExportScreen
from automl.tui.screens.help import HelpScreen
from automl.tui.screens.plugins import PluginsScreen
from automl.tui.screens.results import ResultsScreen
from automl.tui.screens.search import SearchScreen

if TYPE_CHECKING:
    from automl.api import AutoML


class AutomlApp(App[None]):
    """Data -> Configure -> Search -> Results -> Explain / Export; Plugins and Help aside."""

    CSS_PATH = "app.tcss"
    TITLE = "automl"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),
        Binding("f2", "plugins", "Plugins"),
        Binding("escape", "back", "Back"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    @dataclass
    class Warned(Message):
        text: str

    def __init__(self, data: Path | None = None, folder: Path | None = None) -> None:
        super().__init__()
        self.data = data
        self.folder = folder or Path.cwd()
        self.registry: Registry | None = None
        self.frame: pd.DataFrame | None = None
        self.plan: SearchPlan | None = None
        self.model: AutoML | None = None
        self.bundle: Path | None = None
        self.exported: Path | None = None
        # Where searches write their bundles until one is exported; removed on exit.
        self.scratch: Path | None = None
        self._warnings = warnings.catch_warnings()

    # Start and stop ------------------------------------------------------------------

    def on_mount(self) -> None:
        self.scratch = Path(tempfile.mkdtemp(prefix="automl-tui-"))
        self._warnings.__enter__()
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", AutoMLWarning)
        warnings.showwarning = self._show_warning
        self.registry = get_registry()
        self._warm_up()
        if self.data is not None and (self.data / CARD_JSON).is_file():
            self.push_screen(DataScreen(self.folder))
            self._open_model(self.data)
        elif self.data is not None and self.data.is_dir():
            self.push_screen(DataScreen(self.data))  # a folder of tables: browse it
        else:
            self.push_screen(DataScreen(self.folder, self.data, advance=self.data is not None))

    def on_unmount(self) -> None:
        self._warnings.__exit__(None, None, None)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def _show_warning(self, message: Any, *args: Any, **kwargs: Any) -> None:
        # May be called from the search's thread: post_message is thread-safe.
        if not is_quiet():
            self.post_message(self.Warned(str(message)))

    @on(Warned)
    def _warned(self, message: Warned) -> None:
        if isinstance(self.screen, SearchScreen):
            self.screen.note(f"Note: {message.text}")
        else:
            self.notify(message.text, severity="warning", timeout=8)

    @work(thread=True, exit_on_error=False, group="warm-up")
    def _warm_up(self) -> None:
        """Import the search machinery while the user picks a table."""
        import automl.api  # noqa: F401

    @work(thread=True, exclusive=True, exit_on_error=False, group="load")
    def _open_model(self, folder: Path) -> None:
        from automl.api import load
        from automl.data import read_table

        try:
            model = load(folder)
        except Exception as exc:
            self.call_from_thread(self.push_screen, ErrorScreen("Cannot open the model", exc))
            return
        try:
            frame = read_table(model.card["data"]["source"])
        except Exception:
            frame = None
        self.call_from_thread(self._show_model, model, folder, frame)

    def _show_model(self, model: AutoML, folder: Path, frame: pd.DataFrame | None) -> None:
        self.model, self.bundle, self.exported, self.frame = model, folder, folder, frame
        source = Path(model.card["data"]["source"])
        self.data = source if frame is not None else None
        self.push_screen(ResultsScreen(self.model, frame))

    # The workflow ----------------------------------------------------------------------

    @on(DataScreen.Chosen)
    def _table_chosen(self, message: DataScreen.Chosen) -> None:
        self.data, self.frame = message.path, message.frame
        self.push_screen(ConfigureScreen(message.path, message.frame, self.registry, self.plan))

    @on(ConfigureScreen.Start)
    def _start(self, message: ConfigureScreen.Start) -> None:
        self.plan = message.plan
        output = Path(tempfile.mkdtemp(dir=self.scratch, prefix="run-"))
        self.push_screen(SearchScreen(message.plan, output))

    @on(SearchScreen.Finished)
    async def _finished(self, message: SearchScreen.Finished) -> None:
        self.model, self.bundle, self.exported = message.model, message.output, None
        card = message.model.card
        await self._close_above(SearchScreen)
        await self.switch_screen(ResultsScreen(message.model, self.frame))
        self.notify(
            f"Best {card['metric']['name']}: {card['cv']['score']:.4g}."
            " Press E to explain the model, X to export it.",
            title="Search finished",
        )

    @on(SearchScreen.Failed)
    async def _failed(self, message: SearchScreen.Failed) -> None:
        await self._close_above(SearchScreen)
        await self.pop_screen()
        if isinstance(message.error, Cancelled):
            self.notify(
                "Stopped before any trial was complete, so there is no model.",
                title="Search stopped",
                severity="warning",
            )
        else:
            self.push_screen(ErrorScreen("The search failed", message.error))

    async def _close_above(self, screen_type: type) -> None:
        """Close what the user opened over a screen (help, plugins) before replacing it."""
        while not isinstance(self.screen, screen_type) and len(self.screen_stack) > 2:
            await self.pop_screen()

    @on(ResultsScreen.Go)
    def _go(self, message: ResultsScreen.Go) -> None:
        if message.where == "export" and self.bundle is not None:
            rerun = self.plan.command("NEW_FOLDER") if self.plan else None
            self.push_screen(
                ExportScreen(
                    self.bundle,
                    self.suggested_folder(),
                    self.data,
                    self.model.card["classes"] is not None,
                    rerun,
                )
            )
        elif message.where == "explain":
            self.push_screen(ExplainScreen(self.model, self.frame))
        elif message.where == "new":
            self.action_back()
        elif message.where == "drift":
            from automl.tui.screens.drift import DriftScreen
            from automl.tui.screens.table_path import TablePathScreen

            model = self.model
            source = Path(model.card["data"]["source"]).parent
            self.push_screen(
                TablePathScreen(
                    "Check new data for drift",
                    "A table with the model's columns (the request log of automl serve,"
                    " say), to compare with the data the model was trained on.",
                    f"{source}/" if source != Path() and source.is_dir() else "",
                    ok="Check",
                ),
                lambda path: self.push_screen(DriftScreen(model, path)) if path else None,
            )

    @on(ExportScreen.Exported)
    def _exported(self, message: ExportScreen.Exported) -> None:
        self.exported = message.path

    def suggested_folder(self) -> Path:
        stem = self.data.stem if self.data else "model"
        return Path("runs") / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"

    # Keys ------------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Keys", "Every key of every screen (F1)", self.action_help)
        yield SystemCommand(
            "Plugins", "What each plugin adds; broken ones (F2)", self.action_plugins
        )

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_plugins(self) -> None:
        if not isinstance(self.screen, PluginsScreen) and self.registry is not None:
            self.push_screen(PluginsScreen(self.registry))

    def action_back(self) -> None:
        screen = self.screen
        if isinstance(screen, DataScreen) or len(self.screen_stack) <= 2:
            return
        if isinstance(screen, ResultsScreen) and self._unsaved():
            self.push_screen(
                ConfirmScreen(
                    "Leave this model without exporting it?",
                    "A new search replaces it. Press X on the results to export it.",
                    yes="Leave it",
                    no="Stay",
                ),
                lambda leave: self.pop_screen() if leave else None,
            )
            return
        self.pop_screen()

    def action_quit(self) -> None:
        if any(isinstance(s, SearchScreen) and s.phase != "done" for s in self.screen_stack):
            question = ConfirmScreen(
                "Stop the search and quit?",
                "Nothing of this search is kept.",
                yes="Stop and quit",
                no="Go on",
            )
        elif self._unsaved():
            question = ConfirmScreen(
                "Quit without exporting the model?",
                "The model of this search is not saved anywhere yet.",
                yes="Quit",
                no="Stay",
            )
        else:
            self.exit()
            return
        if not isinstance(self.screen, ConfirmScreen):
            self.push_screen(question, lambda leave: self.exit() if leave else None)

    def _unsaved(self) -> bool:
        return self.model is not None and self.exported is None
