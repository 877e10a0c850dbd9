"""Step 4: the search's outcome: the leaderboard, the winner's fold scores and
parameters, and a confusion matrix or residual summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd
from rich.table import Table
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static, TabbedContent, TabPane

from automl.tui.widgets.check_table import CheckTable
from automl.tui.widgets.leaderboard import Leaderboard
from automl.tui.widgets.steps import Steps

if TYPE_CHECKING:
    from automl.api import AutoML


class ResultsScreen(Screen):
    """Posts `Go` with "explain", "export" or "new"."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "go('explain')", "Explain"),
        Binding("x", "go('export')", "Export"),
        Binding("n", "go('new')", "New"),
    ]

    @dataclass
    class Go(Message):
        where: str

    def __init__(self, model: AutoML, frame: pd.DataFrame | None) -> None:
        super().__init__()
        self.model = model
        self.frame = frame

    def compose(self) -> ComposeResult:
        card = self.model.card
        yield Steps("results")
        yield Static(_summary(card), id="summary")
        with Horizontal(id="results-body"):
            with Vertical(classes="panel", id="results-board"):
                yield Label("Leaderboard", classes="box-title")
                yield Leaderboard(id="leaderboard")
            with TabbedContent(id="results-tabs"):
                with TabPane("Winner", id="winner-tab"), VerticalScroll():
                    yield Static(_winner(card), id="winner")
                with TabPane("Check", id="check-tab"), VerticalScroll():
                    yield CheckTable("Computing ...", id="check")
                with TabPane("Trial", id="trial-tab"), VerticalScroll():
                    yield Static("", id="trial")
        yield Footer()

    def on_mount(self) -> None:
        card = self.model.card
        rows = [{**row, "seconds": row.get("fold_seconds")} for row in card["leaderboard"]]
        self.query_one("#leaderboard", Leaderboard).show(
            rows, card["metric"]["name"], card["metric"]["direction"]
        )
        self.query_one("#leaderboard", Leaderboard).focus()
        if self.frame is None:
            self.query_one("#check", CheckTable).update(
                "The training table is not at hand, so there is nothing to check against."
            )
        else:
            self._check()

    @on(DataTable.RowHighlighted, "#leaderboard")
    def _trial_highlighted(self, event: DataTable.RowHighlighted) -> None:
        card = self.model.card
        by_number = {str(row["trial"]): row for row in card["leaderboard"]}
        row = by_number.get(event.row_key.value)
        if row is not None:
            self.query_one("#trial", Static).update(_trial(row, card["metric"]["name"]))

    @work(thread=True, exclusive=True, exit_on_error=False, group="check")
    def _check(self) -> None:
        card = self.model.card
        target = card["target"]
        frame = self.frame.loc[self.frame[target].notna()]
        try:
            predicted = self.model.predict(frame)
        except Exception as exc:
            self.app.call_from_thread(
                self.query_one("#check", CheckTable).update, f"Could not predict: {exc}"
            )
            return
        check = self.query_one("#check", CheckTable)
        if card["classes"] is None:
            self.app.call_from_thread(check.show_residuals, frame[target], predicted)
        else:
            self.app.call_from_thread(check.show_classes, frame[target], predicted, card["classes"])

    def action_go(self, where: str) -> None:
        self.post_message(self.Go(where))


def _summary(card: dict[str, Any]) -> Content:
    metric = card["metric"]["name"]
    cv = card["cv"]
    trials = card["trials"]
    timing = card.get("timing", {})
    parts: list[str | tuple[str, str]] = [
        ("Best ", "bold"),
        (_model_name(card), "bold $success"),
        "\n",
        (f"{metric} {cv['score']:.4g}", "bold"),
        f" ± {cv['std']:.2g} in {cv['folds']}-fold CV"
        + (f" x {cv['repeats']}" if cv.get("repeats", 1) > 1 else ""),
        f" · trials: {trials['complete']} complete, {trials['pruned']} pruned,"
        f" {trials['failed']} failed",
    ]
    refit, rows = card["refit"]["rows"], card["data"]["rows"]
    if timing:
        parts.append(
            f"\nSearched {timing['search_seconds']:.1f} s, refitted"
            f" {timing['refit_seconds']:.1f} s on "
        )
    else:
        parts.append("\nRefitted on ")
    if refit < rows:
        parts.append((f"{refit:,} of {rows:,} rows, to keep the time budget", "$text-warning"))
    else:
        parts.append(f"all {rows:,} rows")
    return Content.assemble(*parts)


def _model_name(card: dict[str, Any]) -> str:
    best = card["best"]
    if not best.get("ensemble"):
        return f"{best['algorithm']} (trial {best['trial']})"
    return "ensemble of " + " + ".join(m["algorithm"] for m in best["ensemble"])


def _trial(row: dict[str, Any], metric: str) -> Table:
    """One trial of the leaderboard: its score, spread, time and parameters."""
    table = Table(box=None, show_header=False, padding=(0, 1))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("trial", f"{row['trial']} ({row['algorithm']}), rank {row['rank']}")
    table.add_row(metric, f"{row[metric]:.4g} ± {row['std']:.2g}")
    if row.get("fold_seconds") is not None:
        table.add_row("seconds per fold", f"{row['fold_seconds']:.2f}")
    for name, value in sorted(row.get("params", {}).items()):
        table.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
    return table


def _winner(card: dict[str, Any]) -> Table:
    best = card["best"]
    table = Table(box=None, show_header=False, padding=(0, 1))
    table.add_column(style="bold")
    table.add_column()
    folds = ", ".join(f"{s:.4g}" for s in card["cv"]["fold_scores"])
    table.add_row("fold scores", folds)
    for member in best.get("ensemble", []):
        table.add_row(
            "member",
            f"{member['algorithm']} (trial {member['trial']}) weight {member['weight']:.2f}",
        )
    single = best.get("best_single", best)
    label = "best single" if "best_single" in best else "algorithm"
    table.add_row(label, f"{single['algorithm']} (trial {single['trial']})")
    for name, value in sorted(single["params"].items()):
        table.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
    table.add_row("task", f"{card['task']}, target {card['target']}")
    return table
