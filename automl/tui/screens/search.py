"""Step 3: the search, live. It runs in a thread worker calling `AutoML.fit`; the core's
events come back as messages, so the UI never waits on the search."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Label, ProgressBar, RichLog, Static
from textual.worker import Worker, WorkerState

from automl.events import (
    BestImproved,
    Event,
    PhaseChanged,
    SearchFinished,
    SearchStarted,
    TrialFinished,
    trials_words,
)
from automl.tui.plan import SearchJob, SearchPlan
from automl.tui.widgets.leaderboard import Leaderboard
from automl.tui.widgets.score_chart import ScoreChart
from automl.tui.widgets.steps import Steps

if TYPE_CHECKING:
    from automl.api import AutoML

PHASES = {
    "load": "reading the table",
    "search": "searching",
    "refit": "refitting the best on all rows",
    "curve": "measuring the learning curve",
    "test": "scoring the held-out test rows",
    "explain": "explaining the model",
    "export": "saving",
    "done": "done",
}


class SearchScreen(Screen):
    """Posts `Finished` with the fitted model, or `Failed` with the error."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("c,escape", "stop", "Stop, keep best")]
    # The clock the elapsed time is read from (tests freeze it).
    clock = staticmethod(time.monotonic)

    @dataclass
    class Progress(Message):
        event: Event

    @dataclass
    class Finished(Message):
        plan: SearchPlan
        model: AutoML
        output: Path

    @dataclass
    class Failed(Message):
        plan: SearchPlan
        error: BaseException

    def __init__(self, plan: SearchPlan, output: Path) -> None:
        super().__init__()
        self.plan = plan
        self.output = output
        self.job = SearchJob(plan, output, self._from_core)
        self.started = 0.0
        self.metric = plan.metric or "score"
        self.direction = "maximize"
        self.counts = {"complete": 0, "pruned": 0, "stopped": 0, "failed": 0}
        self.trials: list[dict[str, Any]] = []
        self.best: BestImproved | None = None
        self.phase = "load"

    def compose(self) -> ComposeResult:
        yield Steps("search")
        yield Static(
            Content(f"Searching {self.plan.data.name} for {self.plan.target} ..."), id="headline"
        )
        with Horizontal(id="clock-row"):
            yield Label("Time ")
            yield ProgressBar(
                total=self.plan.time_budget, show_eta=False, show_percentage=False, id="clock"
            )
            yield Label("", id="elapsed")
        yield Static("", id="counts")
        with Horizontal(id="live"):
            with Vertical(classes="panel", id="live-board"):
                yield Label("Leaderboard", classes="box-title")
                yield Leaderboard(id="leaderboard")
            with Vertical(classes="panel", id="live-chart"):
                yield ScoreChart(self.metric, id="chart")
        yield RichLog(id="notes", markup=False, wrap=True, min_width=20, max_lines=500)
        yield Footer()

    def on_mount(self) -> None:
        self.started = self.clock()
        self._tick()
        self._show_counts()
        self.set_interval(0.25, self._tick)
        self._run()

    def on_unmount(self) -> None:
        # Leaving the screen (or quitting the app) must not leave a search running.
        if self.phase != "done":
            self.job.abort()

    # The worker ----------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="search")
    def _run(self) -> AutoML:
        return self.job.run()

    def _from_core(self, event: Event) -> None:
        """Called in the worker thread for each core event."""
        self.post_message(self.Progress(event))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "search":
            return
        if event.state is WorkerState.SUCCESS:
            self.phase = "done"
            self.post_message(self.Finished(self.plan, event.worker.result, self.output))
        elif event.state is WorkerState.ERROR:
            self.phase = "done"
            self.post_message(self.Failed(self.plan, event.worker.error))

    # Showing progress ------------------------------------------------------------------

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        event = message.event
        if isinstance(event, PhaseChanged):
            self.phase = event.phase
        elif isinstance(event, SearchStarted):
            self._started(event)
        elif isinstance(event, TrialFinished):
            self._trial(event)
        elif isinstance(event, BestImproved):
            self.best = event
            self.query_one("#leaderboard", Leaderboard).move_cursor(row=0)
        elif isinstance(event, SearchFinished):
            counts = {
                "complete": event.n_complete,
                "pruned": event.n_pruned,
                "stopped": event.n_stopped,
                "failed": event.n_failed,
            }
            self.note(f"Search done: {trials_words(counts)}.")
        self._show_counts()

    def _started(self, event: SearchStarted) -> None:
        if event.resumed_trials:
            return  # the refit of the best after a stop: the board already shows it
        self.metric, self.direction = event.metric, event.direction
        better = "higher" if event.direction == "maximize" else "lower"
        self.query_one("#headline", Static).update(
            Content.assemble(
                "Searching ",
                (self.plan.data.name, "bold"),
                " for the best ",
                (event.metric, "bold"),
                f" ({better} is better) predicting ",
                (self.plan.target, "bold"),
                f"\n{event.n_rows:,} rows x {event.n_columns} columns;"
                f" {len(event.algorithms)} algorithms: {', '.join(event.algorithms)}",
            )
        )
        self.query_one("#chart", ScoreChart).configure(event.metric, event.direction)

    def _trial(self, event: TrialFinished) -> None:
        self.counts[event.state] += 1
        if event.state == "complete" and event.value is not None:
            self.trials.append(
                {
                    "trial": event.number,
                    "algorithm": event.algorithm,
                    self.metric: event.value,
                    "seconds": event.duration,
                }
            )
            self.query_one("#leaderboard", Leaderboard).show(
                self.trials, self.metric, self.direction
            )
            self.query_one("#chart", ScoreChart).add(event.elapsed, event.value)
        else:
            self.note(f"trial {event.number} {event.algorithm} {event.state}: {event.reason}")

    def note(self, text: str) -> None:
        self.query_one("#notes", RichLog).write(text)

    def _show_counts(self) -> None:
        done = sum(self.counts.values())
        c = self.counts
        parts: list[str | tuple[str, str]] = [
            ("Trials ", "bold"),
            f"{done}: {trials_words(c)}",
        ]
        if self.best is not None:
            parts += [
                ("   Best ", "bold"),
                (f"{self.best.algorithm} {self.best.value:.4g}", "bold $success"),
                f" (trial {self.best.number})",
            ]
        self.query_one("#counts", Static).update(Content.assemble(*parts))

    def _tick(self) -> None:
        elapsed = max(self.clock() - self.started, 0.0)
        budget = self.plan.time_budget
        self.query_one("#clock", ProgressBar).update(progress=min(elapsed, budget))
        state = PHASES.get(self.phase, self.phase)
        if self.job.stopping and self.phase != "done":
            state = (
                "stopping: keeping the best so far"
                if not self.job.abandon.is_set()
                else ("stopping")
            )
        self.query_one("#elapsed", Label).update(f" {elapsed:5.1f} s of {budget:g} s  {state}")

    # Keys ------------------------------------------------------------------------------

    def action_stop(self) -> None:
        if self.phase == "done":
            return
        first = not self.job.stopping
        self.job.stop()
        if first:
            self.note(
                "Stopping: the best trial so far will be refitted and kept."
                " Press C again to stop at once, without a model."
            )
        else:
            self.note("Stopping at once.")
        self._tick()
