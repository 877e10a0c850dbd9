"""Step 2: the target, task, metric, algorithms, budget, folds and seed of a search.

Every choice is checked as it is made, with the same core functions a fit uses, so a
bad target or too many folds for a rare class is explained here, not after a failed run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pandas as pd
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.validation import Integer, Number
from textual.widgets import Button, Footer, Input, Label, Select, SelectionList, Static
from textual.widgets.selection_list import Selection
from textual.worker import Worker, get_current_worker

from automl import data, decision
from automl.contract import Task
from automl.errors import AutoMLError
from automl.plugins import Registry
from automl.tui.plan import SearchPlan
from automl.tui.quiet import quiet
from automl.tui.widgets.steps import Steps

TASKS = ("auto", "binary", "multiclass", "regression")
MAX_CLASSES_LISTED = 6


class ConfigureScreen(Screen):
    """Posts `ConfigureScreen.Start` with the plan when the user starts a valid search."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "start", "Start search")]

    @dataclass
    class Start(Message):
        plan: SearchPlan

    def __init__(
        self,
        path: Path,
        frame: pd.DataFrame,
        registry: Registry,
        previous: SearchPlan | None = None,
    ) -> None:
        super().__init__()
        self.path = path
        self.frame = frame
        self.registry = registry
        self.previous = previous if previous and previous.data == path else None
        self.problems: dict[str, str] = {}
        self.checking = False
        self.start_when_checked = False
        self.target_task: Task | None = None
        self._checker: Worker | None = None  # the latest check; older ones are stale

    # Layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        previous = self.previous or SearchPlan(self.path, self.frame.columns[-1])
        columns = [(Content(str(c)), str(c)) for c in self.frame.columns]
        yield Steps("configure")
        with Horizontal(id="configure-body"):
            with VerticalScroll(id="form"):
                yield _field(
                    "Target",
                    Select(
                        columns, value=previous.target, allow_blank=False, compact=True, id="target"
                    ),
                )
                yield _field(
                    "Task",
                    Select(
                        [(t, t) for t in TASKS],
                        value=previous.task,
                        allow_blank=False,
                        compact=True,
                        id="task",
                    ),
                )
                yield _field("Metric", Select([], compact=True, id="metric"))
                yield _field(
                    "Time budget (s)",
                    Input(
                        f"{previous.time_budget:g}",
                        type="number",
                        validators=[Number(minimum=1)],
                        compact=True,
                        id="time_budget",
                    ),
                )
                yield _field(
                    "Max trials",
                    Input(
                        str(previous.n_trials or ""),
                        type="integer",
                        placeholder="no limit",
                        valid_empty=True,
                        validators=[Integer(minimum=1)],
                        compact=True,
                        id="n_trials",
                    ),
                )
                yield _field(
                    "CV folds",
                    Input(
                        str(previous.cv),
                        type="integer",
                        validators=[Integer(minimum=2, maximum=50)],
                        compact=True,
                        id="cv",
                    ),
                )
                yield _field(
                    "Test rows (%)",
                    Input(
                        f"{previous.test_size * 100:g}" if previous.test_size else "",
                        type="integer",
                        placeholder="none held out",
                        valid_empty=True,
                        validators=[Integer(minimum=1, maximum=50)],
                        compact=True,
                        id="test_size",
                    ),
                )
                yield _field(
                    "Seed",
                    Input(
                        str(previous.seed),
                        type="integer",
                        validators=[Integer()],
                        compact=True,
                        id="seed",
                    ),
                )
                yield Static("", id="target-info")
            with Vertical(id="algorithms-box"):
                yield Label("Algorithms", classes="box-title")
                yield SelectionList[str](id="algorithms")
        with Horizontal(classes="actions"):
            yield Static("", id="problems")
            yield Button("Start search ▶", id="start", variant="success")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#target", Select).focus()
        self._recheck()

    # Reacting to choices -----------------------------------------------------------

    @on(Select.Changed, "#target, #task")
    def _recheck(self) -> None:
        """Check the target again, in a thread as it reads the whole table."""
        self._check_inputs()
        cv = self._value("cv") if "cv" not in self.problems else ""
        self.checking = True
        self._checker = self._check_target(
            str(self.query_one("#target", Select).value),
            str(self.query_one("#task", Select).value),
            int(cv) if cv else None,
        )
        self._show_problems()

    @on(Select.Changed, "#metric")
    @on(SelectionList.SelectedChanged)
    def _choice_changed(self) -> None:
        self._check_algorithms()
        self._show_problems()

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "cv":
            self._recheck()
        self._check_inputs()
        self._show_problems()

    @on(Input.Submitted)
    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        if self.checking:
            self.start_when_checked = True
            return
        if self.problems:
            self.app.bell()
            self.notify(
                next(iter(self.problems.values())), title="Cannot start yet", severity="error"
            )
            return
        self.post_message(self.Start(self.plan()))

    def plan(self) -> SearchPlan:
        """The search as currently configured (assumes no problems)."""
        chosen = tuple(self.query_one("#algorithms", SelectionList).selected)
        every = tuple(a.name for a in self.registry.algorithms_for(self.target_task))
        n_trials = self._value("n_trials")
        test_size = self._value("test_size")
        return SearchPlan(
            data=self.path,
            target=str(self.query_one("#target", Select).value),
            task=str(self.query_one("#task", Select).value),
            metric=str(self.query_one("#metric", Select).value),
            algorithms=None if chosen == every else chosen,
            time_budget=float(self._value("time_budget")),
            n_trials=int(n_trials) if n_trials else None,
            cv=int(self._value("cv")),
            seed=int(self._value("seed")),
            test_size=int(test_size) / 100 if test_size else None,
        )

    # Checks ------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="check")
    def _check_target(self, target: str, chosen: str, cv: int | None) -> None:
        try:
            task, info = check_target(self.frame, str(self.path), target, chosen, cv)
            problem = None
        except AutoMLError as exc:
            task, info, problem = None, Content(""), f"{exc.message} {exc.hint or ''}".strip()
        worker = get_current_worker()
        if not worker.is_cancelled:
            self.app.call_from_thread(self._target_checked, worker, task, info, problem)

    def _target_checked(
        self, worker: Worker, task: Task | None, info: Content, problem: str | None
    ) -> None:
        if worker is not self._checker:
            return  # a newer check is running: it alone says when the checking is done
        self.checking = False
        self.target_task = task
        self.problems.pop("target", None)
        if problem:
            self.problems["target"] = problem
        self.query_one("#target-info", Static).update(info)
        self._offer_metrics()
        self._offer_algorithms()
        self._show_problems()
        if self.start_when_checked:
            self.start_when_checked = False
            self.action_start()

    def _offer_metrics(self) -> None:
        from automl.api import DEFAULT_METRICS

        select = self.query_one("#metric", Select)
        if self.target_task is None:
            with self.prevent(Select.Changed):
                select.set_options([])
            return
        metrics = self.registry.metrics_for(self.target_task)
        keep = select.value
        previous = self.previous.metric if self.previous else None
        names = [m.name for m in metrics]
        value = next(
            (v for v in (keep, previous, DEFAULT_METRICS[self.target_task]) if v in names), names[0]
        )
        options = [
            (f"{m.name} ({'higher' if m.direction == 'maximize' else 'lower'} is better)", m.name)
            for m in metrics
        ]
        with self.prevent(Select.Changed):
            select.set_options(options)
            select.value = value

    def _offer_algorithms(self) -> None:
        selection = self.query_one("#algorithms", SelectionList)
        if self.target_task is None:
            selection.clear_options()
            self._check_algorithms()
            return
        offered = [a.name for a in self.registry.algorithms_for(self.target_task)]
        current = [str(o.value) for o in selection.options] if selection.option_count else []
        if current == offered:
            return
        if self.previous and self.previous.algorithms and not current:
            ticked = set(self.previous.algorithms)
        elif current:
            ticked = set(selection.selected) | (set(offered) - set(current))
        else:
            ticked = set(offered)
        origin = self._origins()
        with self.prevent(SelectionList.SelectedChanged):
            selection.clear_options()
            selection.add_options(
                [Selection(_algorithm_label(n, origin.get(n)), n, n in ticked) for n in offered]
            )
        self._check_algorithms()

    def _origins(self) -> dict[str, str]:
        return {
            name: plugin.name
            for plugin in self.registry.plugins
            if not plugin.builtin
            for name in plugin.algorithms
        }

    def _check_algorithms(self) -> None:
        self.problems.pop("algorithms", None)
        if (
            self.target_task is not None
            and not self.query_one("#algorithms", SelectionList).selected
        ):
            self.problems["algorithms"] = "Tick at least one algorithm."

    def _check_inputs(self) -> None:
        for name, label in (
            ("time_budget", "The time budget"),
            ("n_trials", "Max trials"),
            ("cv", "CV folds"),
            ("test_size", "Test rows"),
            ("seed", "The seed"),
        ):
            field = self.query_one(f"#{name}", Input)
            result = field.validate(field.value)
            self.problems.pop(name, None)
            if not field.value.strip() and name not in ("n_trials", "test_size"):
                self.problems[name] = f"{label} is needed."
            elif result is not None and not result.is_valid:
                reasons = "; ".join(d.rstrip(".") for d in result.failure_descriptions)
                self.problems[name] = f"{label}: {reasons}."

    def _show_problems(self) -> None:
        text = "\n".join(self.problems.values())
        self.query_one("#problems", Static).update(Content(text))
        self.query_one("#start", Button).disabled = bool(self.problems)

    def _value(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value.strip()


def check_target(
    frame: pd.DataFrame, source: str, target: str, chosen: str, cv: int | None
) -> tuple[Task, Content]:
    """Infer the task and check the target (and, given `cv`, the folds) exactly as a fit
    would; raise the fit's `AutoMLError` or return the task and a description of it."""
    from automl.search import make_folds

    with quiet():  # the description says what the warnings would
        usable = data.drop_missing_target(frame, target)
        task = None if chosen == "auto" else Task(chosen)
        schema = data.infer_schema(usable, target, task, source)
    if cv is not None:
        y = data.encode_target(usable[target], schema)
        make_folds(y, schema.task, cv, 0, schema.classes)
    missing = len(frame) - len(usable)
    return schema.task, _describe_target(schema, usable[target], missing, chosen == "auto")


def _field(label: str, widget) -> Horizontal:
    return Horizontal(Label(label, classes="field-label"), widget, classes="field")


def _algorithm_label(name: str, plugin: str | None) -> Content:
    if plugin is None:
        return Content(name)
    return Content.assemble(name, (f" · {plugin}", "dim"))


def _describe_target(schema: data.Schema, y: pd.Series, missing: int, inferred: bool) -> Content:
    parts: list[str | tuple[str, str]] = [("Task: ", "bold"), str(schema.task)]
    if inferred:
        parts.append(" (inferred)")
    if schema.classes is not None:
        counts = y.value_counts()
        listed = [f"{c} ({counts.get(c, 0):,})" for c in schema.classes[:MAX_CLASSES_LISTED]]
        more = len(schema.classes) - MAX_CLASSES_LISTED
        parts.append(f", {len(schema.classes)} classes: " + ", ".join(listed))
        if more > 0:
            parts.append(f" and {more} more")
    else:
        parts.append(f", values {y.min():.4g} to {y.max():.4g} (median {y.median():.4g})")
    parts.append(f"\n{len(schema.columns)} input columns")
    if schema.dropped:
        dropped = "; ".join(f"{name} ({why})" for name, why in schema.dropped.items())
        parts += [", not used: ", (dropped, "dim")]
    if missing:
        parts.append(f"\n{missing:,} rows without a target are left out.")
    if schema.classes is not None:
        counts = y.value_counts()
        found = decision.imbalance([counts.get(c, 0) for c in schema.classes], schema.classes)
        if found is not None:
            parts.append(
                (
                    f"\nImbalanced: {found['minority']} is {found['share']:.1%} of the rows;"
                    " class weights are searched, and a threshold is tuned for label metrics.",
                    "$text-warning",
                )
            )
    return Content.assemble(*parts)
