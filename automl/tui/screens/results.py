"""Step 4: the search's outcome: the leaderboard, the winner's fold scores and
parameters, the held-out test score beside the CV estimate, the learning curve, and a
confusion matrix or residual summary from the out-of-fold predictions."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Static, TabbedContent, TabPane

from automl.bundle import model_words, partial_words, rounds_note
from automl.evaluate import estimate, estimate_words
from automl.evaluate import split as split_rows
from automl.events import trials_words
from automl.tui.widgets.check_table import CheckTable
from automl.tui.widgets.curve_chart import CurveChart
from automl.tui.widgets.leaderboard import Leaderboard
from automl.tui.widgets.steps import Steps

if TYPE_CHECKING:
    from automl.api import AutoML


class ResultsScreen(Screen):
    """Posts `Go` with "explain", "export" or "new"."""

    # Under 100 columns the leaderboard and the tabs are stacked, each the full width: side
    # by side, a board of long algorithm names cut its score columns, and the tabs their names.
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (100, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "go('explain')", "Explain"),
        Binding("x", "go('export')", "Export"),
        Binding("n", "go('new')", "New"),
        Binding("d", "go('drift')", "Drift"),
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
                if card.get("test"):
                    with TabPane("Test", id="test-tab"), VerticalScroll():
                        yield Static(_test(card), id="test")
                with TabPane("Check", id="check-tab"), VerticalScroll():
                    yield CheckTable("Computing ...", id="check")
                if card.get("learning_curve"):
                    with TabPane("Curve", id="curve-tab"), Vertical():
                        yield CurveChart(card["learning_curve"], id="curve")
                        yield Static(card["learning_curve"]["verdict"], id="curve-verdict")
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
        """The out-of-fold diagnostics, with the training rows' score beside them when the
        training table is at hand."""
        card = self.model.card
        check = self.query_one("#check", CheckTable)
        try:
            oof = self.model.out_of_fold()
        except Exception as exc:
            self.app.call_from_thread(check.update, str(exc))
            return
        training = None
        if self.frame is not None:
            target = card["target"]
            frame = self.frame.loc[self.frame[target].notna()]
            split = (card.get("test") or {}).get("split")
            with contextlib.suppress(Exception):  # the out-of-fold diagnostics suffice
                if split:  # the rows held out for the test are not training rows
                    frame, _ = split_rows(
                        frame, target, split["fraction"], split["seed"], split["stratified"]
                    )
                training = (frame[target], self.model.predict(frame))
        if card["classes"] is None:
            self.app.call_from_thread(
                check.show_residuals, oof["actual"], oof["prediction"].to_numpy(), training
            )
        else:
            self.app.call_from_thread(
                check.show_classes,
                oof["actual"],
                oof["prediction"].to_numpy(),
                card["classes"],
                training,
            )

    def action_go(self, where: str) -> None:
        self.post_message(self.Go(where))


def _summary(card: dict[str, Any]) -> Content:
    metric = card["metric"]["name"]
    cv = card["cv"]
    timing = card.get("timing", {})
    parts: list[str | tuple[str, str]] = [
        ("Best ", "bold"),
        (model_words(card["best"]), "bold $success"),
        "\n",
        (f"{metric} {cv['score']:.4g}", "bold"),
        f" ± {cv['std']:.2g} in "
        + (f"{partial_words(cv)} of " if cv.get("partial") else "")
        + f"{cv['folds']}-fold CV"
        + (f" x {cv['repeats']}" if cv.get("repeats", 1) > 1 else ""),
        f" · trials: {trials_words(card['trials'])}",
    ]
    test = card.get("test")
    if test and test.get("score") is not None:
        agreement = test.get("agreement") or {}
        parts += [
            "\n",
            (f"Test {metric} {test['score']:.4g}", "bold"),
            f"{_interval(test)} on {test['rows']:,} held-out rows: ",
            (
                ("agrees with the CV estimate", "$success")
                if agreement.get("within")
                else ("differs from the CV estimate (see Test)", "$text-warning")
            ),
        ]
    if card.get("imbalance"):
        found = card["imbalance"]
        note = f"\nImbalanced: {found['minority']!r} is {found['share']:.1%} of rows"
        if card.get("decision"):
            note += f"; labels at threshold {card['decision']['threshold']:.3g}"
        parts.append((note, "$text-warning"))
    refit, rows = card["refit"]["rows"], card["data"]["rows"]
    if timing:
        parts.append(
            f"\nSearched {timing['search_seconds']:.1f} s, refitted"
            f" {timing['refit_seconds']:.1f} s on "
        )
    else:
        parts.append("\nRefitted on ")
    note = rounds_note(card["refit"])
    if note:
        parts.append((f"{refit:,} of {rows:,} rows{note}", "$text-warning"))
    elif refit < rows:
        parts.append((f"{refit:,} of {rows:,} rows, to keep the time budget", "$text-warning"))
    else:
        parts.append(f"all {rows:,} rows")
    return Content.assemble(*parts)


def _interval(score: dict[str, Any]) -> str:
    if score.get("low") is None:
        return ""
    return f" ({score['low']:.4g} to {score['high']:.4g})"


def _test(card: dict[str, Any]) -> Group:
    """The held-out test scores with their intervals, beside the CV estimate."""
    test = card["test"]
    metric = card["metric"]["name"]
    table = Table(box=None, padding=(0, 1))
    table.add_column("metric", style="bold")
    table.add_column("test", justify="right")
    table.add_column(f"{test['confidence']:.0%} interval", no_wrap=True)
    for name, score in test["scores"].items():
        value = "-" if score["score"] is None else f"{score['score']:.4g}"
        table.add_row(name, value, _interval(score).strip(" ()"))
    cv = estimate(card)
    notes = [
        Text(f"cross-validated {metric}: {estimate_words(cv)}"),
        Text(f"{test['rows']:,} rows: {test['source']}", style="dim"),
    ]
    if test.get("agreement"):
        style = "" if test["agreement"]["within"] else "bold yellow"
        notes.append(Text(test["agreement"]["text"], style=style))
    return Group(table, *notes)


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
    scores = card["cv"]["fold_scores"]
    table.add_row("fold scores", f"{len(scores)}, from {min(scores):.4g} to {max(scores):.4g}")
    for member in best.get("ensemble", []):
        table.add_row(f"{member['weight']:.2f}", f"{member['algorithm']} (trial {member['trial']})")
    single = best.get("best_single", best)
    label = "best single" if "best_single" in best else "algorithm"
    table.add_row(label, f"{single['algorithm']} (trial {single['trial']})")
    for name, value in sorted(single["params"].items()):
        table.add_row(name, f"{value:.4g}" if isinstance(value, float) else str(value))
    table.add_row("task", f"{card['task']}, target {card['target']}")
    return table
