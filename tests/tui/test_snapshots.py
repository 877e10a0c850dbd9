"""What each main screen looks like, at 80x24 and at 120x40 (pytest-textual-snapshot).

The pictures hold no timings, temporary paths or random scores: the search screen is fed
fixed events with a frozen clock, and the fitted model's timings are fixed, so the
snapshots are the same on every machine. Update them with `pytest --snapshot-update`
only after looking at the report of what changed.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest
from pilot_support import on_screen, settle, text, wait_until
from support import ROOT
from textual.widgets import Input

from automl import AutoML, evaluate
from automl.errors import Cancelled, DataError
from automl.events import BestImproved, PhaseChanged, SearchStarted, TrialFinished
from automl.plugins import PluginInfo, load_registry
from automl.tui import make_app
from automl.tui.plan import SearchJob, SearchPlan
from automl.tui.screens.configure import ConfigureScreen
from automl.tui.screens.error import ErrorScreen
from automl.tui.screens.explain import ExplainScreen
from automl.tui.screens.export import ExportScreen
from automl.tui.screens.plugins import PluginsScreen
from automl.tui.screens.results import ResultsScreen
from automl.tui.screens.search import SearchScreen

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
CHURN = Path("sample_data/churn.csv")


@pytest.fixture(autouse=True)
def in_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # paths on screen are relative to it


@pytest.fixture
def snap_compare(snap_compare):
    """`snap_compare` with the text cursors held still: a focused Input blinks every half
    second, so a picture taken later than usual on a busy machine would miss its cursor."""

    def compare(app, run_before=None, **kwargs):
        async def steady(pilot):
            if run_before is not None:
                await run_before(pilot)
            for screen in pilot.app.screen_stack:
                for field in screen.query(Input):
                    field.cursor_blink = False  # shown, and left shown
            await pilot.pause()

        return snap_compare(app, run_before=steady, **kwargs)

    return compare


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[AutoML, pd.DataFrame, Path]:
    """A small model of the churn table, its timings fixed so the screens are stable."""
    output = tmp_path_factory.mktemp("snapshots") / "churn-model"
    # One trial at a time: trials run at once would make the sampler, and so the screens,
    # depend on which finished first.
    model = AutoML(time_budget=60, n_trials=3, cv=3, algorithms=["linear"], seed=0, n_jobs=1)
    model.fit(ROOT / CHURN, "churned", test_size=0.2, output=output)
    model.card_["timing"] = {"search_seconds": 4.2, "refit_seconds": 0.3, "wall_seconds": 6.0}
    # The test's bootstrap draws as many resamples as fit in its time: draw a fixed number.
    held = evaluate.split(pd.read_csv(ROOT / CHURN), "churned", 0.2, 0, True)[1]
    found = evaluate.evaluate(model, held, "churn.csv", resamples=200)
    model.card_["test"] = evaluate.section(found, model.card_, split=model.card_["test"]["split"])
    for row in model.card_["leaderboard"]:
        row["fold_seconds"] = 0.1
    return model, pd.read_csv(ROOT / CHURN), output


@SIZES
def test_data_screen(snap_compare, size):
    async def open_table(pilot):
        pilot.app.screen.query_one("#path").value = str(CHURN)
        await pilot.press("enter")
        await wait_until(pilot, lambda: pilot.app.screen.frame is not None)
        await tree_loaded(pilot)

    assert snap_compare(make_app(folder="sample_data"), terminal_size=size, run_before=open_table)


@SIZES
def test_configure_screen(snap_compare, size):
    async def configured(pilot):
        await on_screen(pilot, ConfigureScreen)

    assert snap_compare(make_app(CHURN), terminal_size=size, run_before=configured)


EVENTS = (
    PhaseChanged("load", 0.0),
    PhaseChanged("search", 0.3),
    SearchStarted(
        60.0, None, ("lightgbm", "random_forest", "linear", "knn"), "roc_auc", "maximize", 2000, 11
    ),
    TrialFinished(0, "lightgbm", "complete", 0.8048, 2.9, 3.2),
    BestImproved(0, "lightgbm", 0.8048),
    TrialFinished(1, "random_forest", "complete", 0.8126, 5.4, 8.6),
    BestImproved(1, "random_forest", 0.8126),
    TrialFinished(2, "linear", "complete", 0.8477, 1.2, 9.9),
    BestImproved(2, "linear", 0.8477),
    TrialFinished(3, "knn", "pruned", None, 0.8, 10.8, "worse than the median at this fold"),
    TrialFinished(4, "lightgbm", "complete", 0.8391, 2.1, 13.0),
    TrialFinished(
        5,
        "random_forest",
        "stopped",
        None,
        4.0,
        17.1,
        "it would not finish within the time budget",
    ),
    TrialFinished(6, "linear", "complete", 0.8474, 1.1, 18.4),
)


@SIZES
def test_search_screen(snap_compare, size, monkeypatch):
    now = [100.0]
    sent = threading.Event()

    def replay(job: SearchJob):
        for event in EVENTS:
            job.on_event(event)
        sent.set()
        job.cancel.wait(60)
        raise Cancelled("The run was cancelled.")

    monkeypatch.setattr(SearchJob, "run", replay)
    monkeypatch.setattr(SearchScreen, "clock", staticmethod(lambda: now[0]))
    app = make_app(CHURN)

    async def searching(pilot):
        await on_screen(pilot, ConfigureScreen)
        await pilot.press("ctrl+r")
        screen = await on_screen(pilot, SearchScreen)
        await wait_until(pilot, sent.is_set)
        await wait_until(pilot, lambda: screen.counts["complete"] == 5)
        now[0] = 121.5
        screen._tick()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=searching)


@SIZES
def test_results_screen(snap_compare, size, fitted):
    model, frame, _ = fitted

    async def results(pilot):
        await pilot.app.push_screen(ResultsScreen(model, frame))
        await on_screen(pilot, ResultsScreen)

    assert snap_compare(make_app(), terminal_size=size, run_before=results)


def test_results_check_tab(snap_compare, fitted):
    model, frame, _ = fitted

    async def check(pilot):
        await pilot.app.push_screen(ResultsScreen(model, frame))
        screen = await on_screen(pilot, ResultsScreen)
        screen.query_one("#results-tabs").active = "check-tab"
        check = screen.query_one("#check")
        await wait_until(pilot, lambda: "accuracy" in text(check))
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=check)


@pytest.mark.parametrize("tab", ["test", "curve"])
def test_results_test_and_curve_tabs(snap_compare, fitted, tab):
    model, frame, _ = fitted

    async def shown(pilot):
        await pilot.app.push_screen(ResultsScreen(model, frame))
        screen = await on_screen(pilot, ResultsScreen)
        screen.query_one("#results-tabs").active = f"{tab}-tab"
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(100, 30), run_before=shown)


@SIZES
def test_explain_screen(snap_compare, size, fitted):
    model, frame, _ = fitted

    async def explained(pilot):
        await pilot.app.push_screen(ExplainScreen(model, frame))
        await on_screen(pilot, ExplainScreen)

    assert snap_compare(make_app(), terminal_size=size, run_before=explained)


def test_explain_screen_row(snap_compare, fitted):
    model, frame, _ = fitted

    async def explained(pilot):
        await pilot.app.push_screen(ExplainScreen(model, frame))
        screen = await on_screen(pilot, ExplainScreen)
        screen.query_one("#explain-tabs").active = "rows-tab"
        await pilot.pause()
        screen.query_one("#rows").focus()
        await pilot.press("down", "down", "enter")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=explained)


@SIZES
def test_export_screen(snap_compare, size, fitted, tmp_path, monkeypatch):
    _, _, bundle = fitted
    plan = SearchPlan(CHURN, "churned", algorithms=("linear",), n_trials=3, cv=3)
    screen = ExportScreen(bundle, Path("runs/churn-model"), CHURN, True, plan.command("NEW_FOLDER"))

    async def exported(pilot):
        monkeypatch.chdir(tmp_path)  # where runs/churn-model is written
        await pilot.app.push_screen(screen)
        await on_screen(pilot, ExportScreen)
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=exported)
    assert (tmp_path / "runs/churn-model/model_card.json").exists()


@SIZES
def test_plugins_screen(snap_compare, size):
    registry = load_registry(only=[])
    registry.plugins.append(
        PluginInfo(
            name="catboost",
            version="0.3.1",
            builtin=False,
            distribution="automl-catboost",
            error="failed to load: ModuleNotFoundError: No module named 'catboost'",
        )
    )

    async def plugins(pilot):
        await pilot.app.push_screen(PluginsScreen(registry))
        await on_screen(pilot, PluginsScreen)
        await pilot.press(*["down"] * 5)

    assert snap_compare(make_app(), terminal_size=size, run_before=plugins)


async def tree_loaded(pilot) -> None:
    await wait_until(pilot, lambda: bool(pilot.app.screen.query_one("#tree").root.children))
    await settle(pilot)


@SIZES
def test_help_screen(snap_compare, size):
    async def helped(pilot):
        await tree_loaded(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(make_app(folder="sample_data"), terminal_size=size, run_before=helped)


def test_error_dialog(snap_compare):
    error = DataError(
        "The target column 'country' in sample_data/churn.csv has fewer than two distinct"
        " values, so there is nothing to learn.",
        hint="Choose another target column.",
    )

    async def failed(pilot):
        await tree_loaded(pilot)
        await pilot.app.push_screen(ErrorScreen("The search failed", error))
        await pilot.pause()

    assert snap_compare(make_app(folder="sample_data"), terminal_size=(80, 24), run_before=failed)


@pytest.mark.parametrize(
    ("step", "size"),
    [("ask", (80, 24)), ("shown", (80, 24)), ("shown", (120, 40))],
    ids=["ask", "shown-80x24", "shown-120x40"],
)
def test_drift_screen(snap_compare, fitted, step, size):
    """D on the results asks for a table, then sets it beside the training data."""
    from automl.tui.screens.drift import DriftScreen
    from automl.tui.screens.table_path import TablePathScreen

    model, frame, _ = fitted

    async def checked(pilot):
        pilot.app.model = model
        await pilot.app.push_screen(ResultsScreen(model, frame))
        await on_screen(pilot, ResultsScreen)
        await pilot.press("d")
        asked = await on_screen(pilot, TablePathScreen)
        field = asked.query_one("#table-path", Input)
        field.value = "sample_data/churn_new.csv"
        field.cursor_position = len(field.value)  # not where the folder it offered ended
        if step == "shown":
            await pilot.press("enter")
            screen = await on_screen(pilot, DriftScreen)
            await wait_until(pilot, lambda: screen.found is not None)
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=checked)
