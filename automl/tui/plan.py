"""What the user asked for on the Configure screen, and the run of it.

A search cancelled by the user keeps the best so far: the trials it finished are stored
in the run's directory, so the same search is resumed with no trial left to run, which
refits and exports the best of them. A second cancel stops that too.
"""

from __future__ import annotations

import shlex
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from automl.errors import Cancelled
from automl.events import Event, EventCallback, TrialFinished

if TYPE_CHECKING:
    from automl.api import AutoML


@dataclass(frozen=True)
class SearchPlan:
    """The options of one search, as `AutoML` takes them."""

    data: Path
    target: str
    task: str = "auto"
    metric: str | None = None
    algorithms: tuple[str, ...] | None = None
    time_budget: float = 60.0
    n_trials: int | None = None
    cv: int = 5
    seed: int = 0
    # A share of the rows held out from the search, to score the model on once.
    test_size: float | None = None

    def automl(self, on_event: EventCallback, cancel: threading.Event) -> AutoML:
        from automl.api import AutoML

        return AutoML(
            time_budget=self.time_budget,
            task=self.task,
            metric=self.metric,
            n_trials=self.n_trials,
            cv=self.cv,
            algorithms=list(self.algorithms) if self.algorithms else None,
            seed=self.seed,
            on_event=on_event,
            cancel=cancel,
        )

    def command(self, output: str = "runs/model") -> str:
        """The `automl run` command line that runs the same search headless."""
        parts = ["automl run", _quote(str(self.data)), "--target", _quote(self.target)]
        if self.task != "auto":
            parts += ["--task", self.task]
        if self.metric:
            parts += ["--metric", self.metric]
        parts += ["--time-budget", f"{self.time_budget:g}"]
        if self.n_trials:
            parts += ["--n-trials", str(self.n_trials)]
        parts += ["--cv", str(self.cv), "--seed", str(self.seed)]
        if self.algorithms:
            parts += ["--algorithms", ",".join(self.algorithms)]
        if self.test_size:
            parts += ["--test-size", f"{self.test_size:g}"]
        return " ".join([*parts, "--output", _quote(output)])


class SearchJob:
    """Runs a plan into `output`; `stop()` keeps the best so far, a second `stop()` all."""

    def __init__(self, plan: SearchPlan, output: Path, on_event: EventCallback) -> None:
        self.plan = plan
        self.output = output
        self.on_event = on_event
        self.cancel = threading.Event()
        self.abandon = threading.Event()
        self.finished_trials = 0
        self.complete_trials = 0

    @property
    def stopping(self) -> bool:
        return self.cancel.is_set()

    def stop(self) -> None:
        """The first call stops the search and keeps the best; the second stops at once."""
        if self.cancel.is_set():
            self.abandon.set()
        self.cancel.set()

    def abort(self) -> None:
        """Stop at once, keeping nothing."""
        self.abandon.set()
        self.cancel.set()

    def run(self) -> AutoML:
        """Fit the plan; raise `Cancelled` if stopped before any trial was complete."""
        model = self.plan.automl(self._count, self.cancel)
        try:
            return model.fit(
                self.plan.data, self.plan.target, test_size=self.plan.test_size, output=self.output
            )
        except Cancelled:
            if self.abandon.is_set() or not self.complete_trials:
                raise
        # Resume with no trial left to run: the best finished trial is refitted and saved.
        # The same object, as it still holds the output directory of the stopped fit.
        model.n_trials, model.cancel = self.finished_trials, self.abandon
        return model.fit(
            self.plan.data,
            self.plan.target,
            test_size=self.plan.test_size,
            output=self.output,
            resume=True,
        )

    def _count(self, event: Event) -> None:
        if isinstance(event, TrialFinished):
            self.finished_trials += 1
            self.complete_trials += event.state == "complete"
        self.on_event(event)


def _quote(text: str) -> str:
    return shlex.quote(text)
