"""Turn core events into progress on stderr: a rich bar on a terminal, plain lines
otherwise, nothing with --quiet or --json."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn
from rich.text import Text

from automl.events import (
    BestImproved,
    Event,
    PhaseChanged,
    SearchFinished,
    SearchStarted,
    TrialFinished,
    trials_words,
)


class _ClockColumn(ProgressColumn):
    """Elapsed wall time against the budget, read from the clock at every refresh."""

    def __init__(self, started: float, budget: float) -> None:
        super().__init__()
        self.started = started
        self.budget = budget

    def render(self, task: Any) -> Text:
        return Text(f"{time.monotonic() - self.started:5.1f}s / {self.budget:g}s", style="cyan")


class Reporter:
    """Shows a run's progress. Use as a context manager around the run."""

    def __init__(self, started: float, budget: float, mode: str) -> None:
        self.started = started
        self.budget = budget
        self.mode = mode  # "bar", "lines" or "silent"
        self.console = Console(stderr=True, soft_wrap=True)
        self.trials = {"complete": 0, "pruned": 0, "stopped": 0, "failed": 0}
        self.best = "-"
        self.metric = ""
        self._progress: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> Reporter:
        if self.mode == "bar":
            self._progress = Progress(
                TextColumn("[bold]{task.description:<8}"),
                BarColumn(bar_width=30),
                _ClockColumn(self.started, self.budget),
                TextColumn("{task.fields[trials]}  best: {task.fields[best]}"),
                console=self.console,
                refresh_per_second=8,
            )
            self._progress.start()
            self._task = self._progress.add_task("loading", total=self.budget, trials="", best="-")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._update()
            self._progress.stop()

    def warn(self, message: str) -> None:
        self.console.print(f"[yellow]Warning:[/] {message}", highlight=False)

    def handle(self, event: Event) -> None:
        if isinstance(event, SearchStarted):
            self.metric = event.metric
            if event.resumed_trials:
                self._line(f"Resuming: {event.resumed_trials} trials were already done.")
            self._line(
                f"Searching {', '.join(event.algorithms)} on {event.n_rows} rows x"
                f" {event.n_columns} columns for the best {event.metric} ({event.direction})."
            )
        elif isinstance(event, TrialFinished):
            self.trials[event.state] += 1
        elif isinstance(event, BestImproved):
            self.best = f"{event.algorithm} {event.value:.5g}"
            self._line(
                f"{time.monotonic() - self.started:6.1f}s  best so far: {self.best}"
                f" {self.metric} (trial {event.number})"
            )
        elif isinstance(event, PhaseChanged):
            if self._progress is not None:
                self._progress.update(self._task, description=event.phase)
            if event.phase in ("refit", "curve", "test", "explain", "export"):
                self._line(f"{event.elapsed:6.1f}s  {event.phase}")
        elif isinstance(event, SearchFinished):
            self._line(
                f"{event.elapsed:6.1f}s  search done: "
                + trials_words(
                    {
                        "complete": event.n_complete,
                        "pruned": event.n_pruned,
                        "stopped": event.n_stopped,
                        "failed": event.n_failed,
                    }
                )
            )
        self._update()

    def _line(self, text: str) -> None:
        if self.mode == "lines":
            self.console.print(text, highlight=False)

    def _update(self) -> None:
        if self._progress is None:
            return
        t = self.trials
        self._progress.update(
            self._task,
            completed=min(time.monotonic() - self.started, self.budget),
            trials=f"trials {t['complete']}✓ {t['pruned']}✂ {t['stopped']}⏱ {t['failed']}✗",
            best=self.best,
        )
