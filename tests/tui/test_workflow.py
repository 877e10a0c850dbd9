"""The terminal UI driven as a user would: keys and clicks through Textual's Pilot."""

from __future__ import annotations

import time

import pandas as pd
from pilot_support import on_screen, run_async, settle, text, wait_until
from support import SAMPLES
from textual.widgets import Button, Input, Select, SelectionList

import automl
from automl.tui import make_app
from automl.tui.screens.configure import ConfigureScreen
from automl.tui.screens.confirm import ConfirmScreen
from automl.tui.screens.data import DataScreen
from automl.tui.screens.error import ErrorScreen
from automl.tui.screens.explain import ExplainScreen
from automl.tui.screens.export import ExportScreen
from automl.tui.screens.help import HelpScreen
from automl.tui.screens.results import ResultsScreen
from automl.tui.screens.search import SearchScreen
from automl.tui.widgets.bars import Bars
from automl.tui.widgets.column_summary import ColumnSummary
from automl.tui.widgets.leaderboard import Leaderboard


def configure(screen: ConfigureScreen, algorithms: list[str], **fields: str) -> None:
    for name, value in fields.items():
        screen.query_one(f"#{name}", Input).value = value
    chosen = screen.query_one("#algorithms", SelectionList)
    chosen.deselect_all()
    for name in algorithms:
        chosen.select(name)


@run_async
async def test_from_a_table_to_an_exported_model_and_its_explanation(tmp_path, monkeypatch):
    monkeypatch.chdir(SAMPLES)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        # 1 Data: type a path, see what the table holds.
        await pilot.press(*"churn.csv", "enter")
        await wait_until(pilot, lambda: not app.screen.query_one("#next", Button).disabled)
        assert "2,000 rows x 12 columns" in text(app.screen.query_one("#data-status"))
        assert app.screen.query_one("#columns", ColumnSummary).row_count == 12
        await pilot.press("ctrl+n")

        # 2 Configure: choose the target; the task is inferred and shown.
        screen = app.screen
        assert isinstance(screen, ConfigureScreen)
        screen.query_one("#target", Select).value = "churned"
        await pilot.pause()
        info = screen.query_one("#target-info")
        await wait_until(pilot, lambda: "binary (inferred)" in text(info))
        assert screen.query_one("#metric", Select).value == "roc_auc"
        configure(screen, ["linear"], n_trials="3", cv="3", time_budget="60")
        await pilot.pause()
        await pilot.press("ctrl+r")

        # 3 Search, then 4 Results, even with the help left open over the search.
        await on_screen(pilot, SearchScreen)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await on_screen(pilot, ResultsScreen, timeout=90)
        assert len(app.screen_stack) == 4  # default, data, configure, results
        await settle(pilot)
        board = app.screen.query_one(Leaderboard)
        assert board.row_count == app.model.card["trials"]["complete"] >= 1
        assert "roc_auc" in text(app.screen.query_one("#summary"))
        # Any trial of the board shows its parameters.
        app.screen.query_one("#results-tabs").active = "trial-tab"
        await pilot.press("down")
        second = app.model.card["leaderboard"][1]
        trial = app.screen.query_one("#trial")
        # The highlight reaches the Trial tab as a message: wait for it, not for luck.
        await wait_until(pilot, lambda: "rank 2" in text(trial), timeout=10)
        shown = " ".join(text(trial).split())
        assert f"trial {second['trial']} (linear), rank 2" in shown

        # Quitting now would lose the model: the app asks first.
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert isinstance(app.screen, ResultsScreen)

        # 5 Explain: importance per column, and one row's explanation.
        await pilot.press("e")
        assert isinstance(app.screen, ExplainScreen)
        await settle(pilot)
        importance = text(app.screen.query_one("#importance", Bars))
        assert "contract" in importance
        app.screen.query_one("#explain-tabs").active = "rows-tab"
        await pilot.pause()
        app.screen.query_one("#rows").focus()
        await pilot.press("down", "enter")
        await settle(pilot)
        assert "Row 1: predicted" in text(app.screen.query_one("#row-head"))
        await pilot.press("escape")

        # 6 Export: into a new folder; see how to use it.
        await pilot.press("x")
        assert isinstance(app.screen, ExportScreen)
        folder = tmp_path / "churn-model"
        app.screen.query_one("#folder", Input).value = str(folder)
        await pilot.press("enter")
        assert f"automl predict {folder}" in text(app.screen.query_one("#usage"))
        await pilot.press("ctrl+q")  # exported: no question asked
    assert (folder / "model_card.json").exists()
    assert not list(folder.glob("study.journal*"))
    model = automl.load(folder)
    predictions = model.predict(pd.read_csv(SAMPLES / "churn.csv").head(20))
    assert set(predictions) <= {"no", "yes"}

    # The saved model opens again, straight on its results, and explains itself.
    app = make_app(folder)
    async with app.run_test(size=(80, 24)) as pilot:
        results = await on_screen(pilot, ResultsScreen)
        assert results.query_one(Leaderboard).row_count == model.card["trials"]["complete"]
        await pilot.press("e")
        explain = await on_screen(pilot, ExplainScreen)
        assert "contract" in text(explain.query_one("#importance", Bars))
        await pilot.press("ctrl+q")  # a saved model: no question asked


@run_async
async def test_stopping_a_search_keeps_the_best_so_far():
    app = make_app(SAMPLES / "churn.csv")
    async with app.run_test(size=(80, 24)) as pilot:
        await on_screen(pilot, ConfigureScreen)
        configure(app.screen, ["linear"], cv="3", time_budget="120")
        await pilot.pause()
        started = time.monotonic()
        await pilot.press("ctrl+r")
        search = await on_screen(pilot, SearchScreen)
        board = search.query_one(Leaderboard)
        await wait_until(pilot, lambda: board.row_count >= 2)
        # The UI answers keys while the search runs in its thread.
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert app.screen is search and search.phase == "search"
        # Quitting mid-search asks first.
        await pilot.press("ctrl+q")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert app.screen is search
        await pilot.press("c")
        await on_screen(pilot, ResultsScreen)
        assert time.monotonic() - started < 60
        card = app.model.card
        assert card["trials"]["complete"] >= 2
        assert app.screen.query_one(Leaderboard).row_count == card["trials"]["complete"]


@run_async
async def test_stopping_before_any_trial_is_complete_goes_back_with_a_message(slow_plugins):
    app = make_app(SAMPLES / "churn.csv")
    async with app.run_test(size=(80, 24)) as pilot:
        await on_screen(pilot, ConfigureScreen)
        configure(app.screen, ["sleepy"], cv="3", time_budget="60")
        await pilot.pause()
        await pilot.press("ctrl+r")
        search = await on_screen(pilot, SearchScreen)
        await wait_until(pilot, lambda: search.phase == "search")
        await pilot.press("c")
        await on_screen(pilot, ConfigureScreen, timeout=30)
        assert app.model is None
        assert any("no model" in n.message for n in app._notifications)


@run_async
async def test_a_failed_search_shows_the_message_and_hint(slow_plugins):
    app = make_app(SAMPLES / "churn.csv")
    async with app.run_test(size=(80, 24)) as pilot:
        await on_screen(pilot, ConfigureScreen)
        configure(app.screen, ["exploding"], cv="3", time_budget="60")
        await pilot.pause()
        await pilot.press("ctrl+r")
        await on_screen(pilot, ErrorScreen)
        message = text(app.screen.query_one("#error-message"))
        assert "Every trial failed" in message and "boom" in message
        assert "automl plugins" in text(app.screen.query_one("#error-hint"))
        assert "Traceback" not in message
        await pilot.press("enter")
        assert isinstance(app.screen, ConfigureScreen)


@run_async
async def test_an_unreadable_file_is_explained_on_the_data_screen(tmp_path):
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet at all")
    app = make_app(folder=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        for path, expected in (
            (tmp_path / "missing.csv", "no such file"),
            (broken, "Cannot read"),
        ):
            app.screen.query_one("#path", Input).value = str(path)
            await pilot.press("enter")
            await settle(pilot)
            status = app.screen.query_one("#data-status")
            assert expected in text(status) and status.has_class("error")
            assert app.screen.query_one("#next", Button).disabled
        await pilot.press("ctrl+n")
        assert isinstance(app.screen, DataScreen)


@run_async
async def test_bad_choices_are_explained_before_the_search_starts():
    app = make_app(SAMPLES / "churn.csv")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await on_screen(pilot, ConfigureScreen)
        problems = screen.query_one("#problems")
        start = screen.query_one("#start", Button)

        async def shows(expected: str) -> None:
            try:
                await wait_until(pilot, lambda: text(problems) == expected, timeout=30)
            except AssertionError:
                assert text(problems) == expected

        screen.query_one("#target", Select).value = "country"
        await shows(
            "The target column 'country' in " + str(SAMPLES / "churn.csv") + " has fewer than"
            " two distinct values, so there is nothing to learn. Choose another target column."
        )
        assert start.disabled
        screen.query_one("#target", Select).value = "churned"
        screen.query_one("#cv", Input).value = "1"
        await shows("CV folds: Must be between 2 and 50.")
        screen.query_one("#cv", Input).value = "3"
        screen.query_one("#algorithms", SelectionList).deselect_all()
        await shows("Tick at least one algorithm.")
        assert start.disabled
        await pilot.press("ctrl+r")
        assert app.screen is screen
        screen.query_one("#algorithms", SelectionList).select("linear")
        await shows("")
        assert not start.disabled
