"""What a plugin registers: algorithms and metrics.

Built-in plugins and third-party plugins describe their algorithms and metrics with these
same classes and hand them to the `register` callback of the hooks in `automl.hookspecs`.
"""

from __future__ import annotations

import contextlib
import enum
import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import numpy as np


class Task(enum.StrEnum):
    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"

    @property
    def is_classification(self) -> bool:
        return self is not Task.REGRESSION


CLASSIFICATION = frozenset({Task.BINARY, Task.MULTICLASS})
ALL_TASKS = frozenset(Task)


class Suggester(Protocol):
    """The part of `optuna.Trial` a search space may use."""

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int: ...

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float: ...

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


@dataclass(frozen=True)
class SearchContext:
    """What a search space may know about the data it is searched on.

    imbalanced: for classification, whether the smallest class is rare (under a fifth of
        the rows for two classes, under a quarter of the largest class's rows for more):
        then weighting the classes (`class_weight="balanced"`) is worth searching.
    """

    task: Task
    n_rows: int
    n_columns: int
    n_classes: int | None = None
    imbalanced: bool = False


def class_weights(trial: Suggester, context: SearchContext) -> dict[str, Any]:
    """For imbalanced classes, the searched `class_weight`: None (every row counts the
    same) or "balanced" (rows weighted against their class's share), as scikit-learn's and
    LightGBM's classifiers take it; for balanced classes or regression, nothing."""
    if context.task.is_classification and context.imbalanced:
        return {"class_weight": trial.suggest_categorical("class_weight", [None, "balanced"])}
    return {}


@dataclass(frozen=True)
class InputNeeds:
    """How an algorithm wants its input prepared.

    categorical: "onehot" (one column per category), "ordinal" (one integer code per
        category) or "native" (integer codes, and the estimator is told which columns are
        categorical through `categorical_param`).
    categorical_param: with "native", the name of the estimator's constructor parameter,
        or failing that of its `fit` parameter, that takes the list of categorical column
        indices (e.g. "categorical_feature" for LightGBM).
    scale: standardise numeric columns.
    missing: "impute" (median for numbers, plus missing-indicator columns) or "native"
        (the estimator accepts NaN).
    """

    categorical: Literal["onehot", "ordinal", "native"] = "onehot"
    categorical_param: str | None = None
    scale: bool = False
    missing: Literal["impute", "native"] = "impute"


# `EarlyStopping.min_rows` unless the algorithm sets it: a held-out tenth of a smaller
# fold is under a hundred rows.
EARLY_STOPPING_MIN_ROWS = 1000


@dataclass(frozen=True)
class EarlyStopping:
    """How a boosted model stops adding rounds once held-out rows stop improving.

    During cross-validation a tenth of each fold's training rows (stratified for
    classification) is held out when the fold has enough rows, the model is fitted on the
    rest with `fit_params`, and the rounds it kept become the number the refit on all rows
    uses. The searched value of `param` is then the most it may use.

    param: the parameter that holds the number of rounds (e.g. "n_estimators").
    fit_params: `(estimator, X_valid, y_valid) -> dict`, keyword arguments for the
        estimator's `fit` that make it stop on the preprocessed held-out rows. It may also
        take a keyword `stop_at`, a `time.monotonic()` value: given one, the fit must also
        stop adding rounds by then and keep the best of those it built, as when the
        held-out rows stop improving. The search gives each fold its share of the trial's
        time this way, so a model whose rounds would not all fit is scored on every fold
        with fewer rounds instead of being stopped and lost (see `stops_in_time`).
    best_rounds: `(fitted estimator) -> int`, the rounds it kept.
    built_rounds: `(fitted estimator) -> int`, the rounds it built: the kept ones and
        those past them it built before it stopped. A fold's time is that of the rounds
        built, and the refit builds only those it keeps, so this is what the refit's time
        is estimated from; None takes the kept rounds as built (an estimate the longer).
    min_rows: folds with fewer training rows hold none out and fit the searched number
        of rounds (and do not stop in time): a held-out tenth of too few rows would stop
        on noise. A model that stops badly on a few thousand rows (a network judged on
        its held-out accuracy) sets more than the default.
    stop_params: `(estimator, stop_at) -> dict`, keyword arguments for the estimator's
        `fit` that make it stop adding rounds at `stop_at` (a `time.monotonic()` value)
        and keep every round it built, with no held-out rows; `best_rounds` then gives the
        rounds built. It may still stop sooner of its own accord (a network whose training
        loss no longer improves, as its `fit` does): only a fit that ran to `stop_at` with
        fewer rounds than asked for is cut. The refit of the exported model is given a
        time this way, where what follows it still fits in the budget but never before
        its estimated end: one that runs longer than estimated is exported with the
        rounds it built instead of being lost at its hard stop (see `automl.refit`).
        None: such a refit is lost there, and a smaller model is exported.
    rate: the parameter that holds the learning rate (e.g. "learning_rate"), if the
        model has one that shrinks each round's step. A refit on every row with all its
        rounds that would not fit in the time left is then planned with fewer rounds at a
        learning rate raised as much (rounds times rate kept, at most `automl.refit`'s
        MAX_RATE_FACTOR times and MAX_SCALED_RATE) before it learns from fewer rows
        (not with bagging: the folds' models are exported as they are). None: only the
        rows are cut.
    The functions must be importable by name (module-level), as they are sent to the
    worker process that fits the model.
    """

    param: str
    fit_params: Callable[[Any, Any, Any], Mapping[str, Any]]
    best_rounds: Callable[[Any], int]
    built_rounds: Callable[[Any], int] | None = None
    stop_params: Callable[[Any, float], Mapping[str, Any]] | None = None
    min_rows: int = EARLY_STOPPING_MIN_ROWS
    rate: str | None = None

    @property
    def stops_in_time(self) -> bool:
        """Whether `fit_params` takes a `stop_at` time."""
        try:
            return "stop_at" in inspect.signature(self.fit_params).parameters
        except (TypeError, ValueError):
            return False


SearchSpace = Callable[[Suggester, SearchContext], dict[str, Any]]
Builder = Callable[[Mapping[str, Any], Task, int, int], Any]
ScoreFunction = Callable[["np.ndarray", "np.ndarray"], float]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ContractError(ValueError):
    """A registered algorithm or metric breaks the plugin contract.

    name: the name of the algorithm or metric at fault, when it has a valid one, so that
        asking for it later can say why it is missing.
    """

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


@dataclass(frozen=True)
class Algorithm:
    """A learning algorithm the search can try.

    name: unique, lower-case identifier (`[a-z][a-z0-9_]*`), used on the command line.
    tasks: the tasks it supports.
    search_space: `(trial, context) -> params`; asks the trial for each hyperparameter.
    build: `(params, task, seed, n_jobs) -> estimator`, an unfitted scikit-learn-compatible
        estimator. Classifiers must have `predict_proba`; they are fitted on labels
        encoded as 0..K-1.
    defaults: good parameter sets, tried before the search samples its own.
    needs: how it wants its input (see `InputNeeds`).
    trusted_types: fully qualified names of the non-scikit-learn types a fitted
        estimator contains, which `skops` may load from a model bundle.
    early_stopping: for boosted models, how to stop adding rounds during the search (see
        `EarlyStopping`); None fits the searched parameters as they are.
    """

    name: str
    tasks: frozenset[Task]
    search_space: SearchSpace
    build: Builder
    defaults: tuple[Mapping[str, Any], ...] = ()
    needs: InputNeeds = field(default_factory=InputNeeds)
    trusted_types: tuple[str, ...] = ()
    description: str = ""
    early_stopping: EarlyStopping | None = None

    def __post_init__(self) -> None:
        _check_name(self.name, "algorithm")
        with _blaming(self.name):
            self._check()

    def _check(self) -> None:
        what = f"algorithm {self.name!r}"
        object.__setattr__(self, "tasks", _tasks(self.tasks, what))
        _check_callable(self.search_space, "search_space", ("trial", "context"), what)
        _check_callable(self.build, "build", ("params", "task", "seed", "n_jobs"), what)
        if isinstance(self.defaults, Mapping) or not all(
            isinstance(d, Mapping) for d in self.defaults
        ):
            raise ContractError(
                f"{what}: defaults must be a sequence of mappings (one parameter set each)"
            )
        object.__setattr__(self, "defaults", tuple(self.defaults))
        if not isinstance(self.needs, InputNeeds):
            raise ContractError(f"{what}: needs must be an InputNeeds")
        if isinstance(self.trusted_types, str) or not all(
            isinstance(t, str) for t in self.trusted_types
        ):
            raise ContractError(f"{what}: trusted_types must be a sequence of type names")
        object.__setattr__(self, "trusted_types", tuple(self.trusted_types))
        if self.needs.categorical == "native" and not self.needs.categorical_param:
            raise ContractError(f"{what}: native categoricals need a categorical_param")
        stopping = self.early_stopping
        if stopping is not None:
            if not isinstance(stopping, EarlyStopping):
                raise ContractError(f"{what}: early_stopping must be an EarlyStopping")
            _check_callable(
                stopping.fit_params,
                "early_stopping.fit_params",
                ("estimator", "X_valid", "y_valid"),
                what,
            )
            _check_callable(
                stopping.best_rounds, "early_stopping.best_rounds", ("estimator",), what
            )


@dataclass(frozen=True)
class Metric:
    """A score the search optimises and reports.

    score: `(y_true, y_pred) -> float`. For classification, y_true holds labels encoded
        as 0..K-1 and y_pred is the (n, K) probability matrix when `needs_proba`, else the
        predicted encoded labels. For regression both are float arrays.
    direction: "maximize" or "minimize".
    """

    name: str
    tasks: frozenset[Task]
    direction: Literal["maximize", "minimize"]
    score: ScoreFunction
    needs_proba: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        _check_name(self.name, "metric")
        with _blaming(self.name):
            self._check()

    def _check(self) -> None:
        object.__setattr__(self, "tasks", _tasks(self.tasks, f"metric {self.name!r}"))
        if self.direction not in ("maximize", "minimize"):
            raise ContractError(
                f"metric {self.name!r}: direction must be 'maximize' or 'minimize',"
                f" not {self.direction!r}"
            )
        _check_callable(self.score, "score", ("y_true", "y_pred"), f"metric {self.name!r}")
        if self.needs_proba and Task.REGRESSION in self.tasks:
            raise ContractError(f"metric {self.name!r}: regression has no probabilities")

    def better(self, a: float, b: float) -> bool:
        """Whether score a is strictly better than score b."""
        return a > b if self.direction == "maximize" else a < b


@contextlib.contextmanager
def _blaming(name: str) -> Iterator[None]:
    try:
        yield
    except ContractError as exc:
        exc.name = name
        raise


def _check_name(name: object, what: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ContractError(
            f"{what} name {name!r} is invalid: use lower-case letters, digits and '_',"
            " starting with a letter"
        )


def _tasks(tasks: object, what: str) -> frozenset[Task]:
    if isinstance(tasks, str):  # Task("binary") is a str too: one task, not its letters
        tasks = (tasks,)
    try:
        found = frozenset(Task(t) for t in tasks)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ContractError(
            f"{what}: tasks must be a set of {', '.join(map(repr, map(str, Task)))}, not {tasks!r}"
        ) from None
    if not found:
        raise ContractError(f"{what} supports no task")
    return found


def _check_callable(
    function: object, attribute: str, arguments: tuple[str, ...], what: str
) -> None:
    # Caught here, at registration, this would otherwise fail every trial of the search.
    if not callable(function):
        raise ContractError(f"{what}: {attribute} is not callable")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some built-in callables have no signature to check
        return
    try:
        signature.bind(*arguments)
    except TypeError:
        raise ContractError(
            f"{what}: {attribute} must accept {len(arguments)} positional arguments"
            f" ({', '.join(arguments)}), but its signature is {signature}"
        ) from None
