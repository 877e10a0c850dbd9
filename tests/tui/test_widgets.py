"""The widgets and the plan on their own: what they show for metrics of either direction,
regression models, and the command that repeats a search."""

from __future__ import annotations

import shlex
from pathlib import Path

import numpy as np
import pandas as pd
from pilot_support import run_async, text
from textual.app import App, ComposeResult

from automl.cli import run
from automl.tui.plan import SearchPlan
from automl.tui.widgets.check_table import CheckTable
from automl.tui.widgets.leaderboard import Leaderboard
from automl.tui.widgets.score_chart import ScoreChart

TRIALS = [
    {"trial": 0, "algorithm": "lightgbm", "rmse": 3.0, "seconds": 1.0},
    {"trial": 1, "algorithm": "linear", "rmse": 2.0, "seconds": 0.2},
    {"trial": 2, "algorithm": "knn", "rmse": 2.5, "seconds": 0.4},
]


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield Leaderboard()
        yield CheckTable()
        yield ScoreChart()


@run_async
async def test_the_leaderboard_puts_the_best_first_whichever_the_direction():
    app = Host()
    async with app.run_test() as pilot:
        board = app.query_one(Leaderboard)
        board.show(TRIALS, "rmse", "minimize")
        await pilot.pause()
        assert [board.get_row_at(i)[1].plain for i in range(3)] == ["linear", "knn", "lightgbm"]
        board.show(TRIALS, "rmse", "maximize")
        await pilot.pause()
        assert [board.get_row_at(i)[1].plain for i in range(3)] == ["lightgbm", "knn", "linear"]


def test_the_chart_steps_to_each_new_best():
    chart = ScoreChart("rmse", "minimize")
    chart.points = [(1.0, 3.0), (2.0, 2.0), (3.0, 2.5)]
    assert chart.best_line() == ([1.0, 2.0, 2.0, 3.0, 3.0], [3.0, 3.0, 2.0, 2.0, 2.0])


@run_async
async def test_a_regression_check_summarises_the_residuals():
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        check = app.query_one(CheckTable)
        actual = pd.Series([1.0, 2.0, 3.0, 4.0])
        training = (actual, np.array([1.0, 2.0, 3.0, 4.0]))
        check.show_residuals(actual, np.array([1.0, 2.0, 3.0, 6.0]), training)
        await pilot.pause()
        shown = text(check)
        values = {line.split()[0]: line.split()[-1] for line in shown.splitlines() if line.strip()}
        # Residuals 0, 0, 0, -2: MAE 2/4, RMSE sqrt(4/4), R² 1 - 4/5.
        assert (values["MAE"], values["RMSE"], values["R²"]) == ("0.5", "1", "0.2")
        assert "Out-of-fold: each of the 4 rows" in shown
        # The training rows' score is shown as such, beside: here a perfect fit.
        assert "(optimistic): R² 1." in shown


def test_the_rerun_command_is_a_valid_automl_run():
    plan = SearchPlan(
        Path("my data/churn.csv"),
        "churned",
        metric="log_loss",
        algorithms=("linear", "knn"),
        time_budget=30,
        n_trials=5,
        cv=3,
        seed=7,
        test_size=0.2,
    )
    words = shlex.split(plan.command("runs/again"))
    assert words[:2] == ["automl", "run"]
    params = run.make_context("run", words[2:]).params
    assert params["data"] == Path("my data/churn.csv")
    assert (params["target"], params["metric"], params["algorithms"]) == (
        "churned",
        "log_loss",
        "linear,knn",
    )
    assert (params["time_budget"], params["n_trials"], params["cv"], params["seed"]) == (
        30,
        5,
        3,
        7,
    )
    assert params["output"] == Path("runs/again")
    assert params["test_size"] == 0.2
