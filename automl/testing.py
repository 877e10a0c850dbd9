"""Ready-made contract tests for plugin authors: check an algorithm or a metric the way
automl will use it, on small data, in seconds.

In a plugin's test suite (pytest)::

    from automl.testing import parametrize_with_checks, registered

    @parametrize_with_checks(registered("automl_myplugin"))
    def test_contract(item, check):
        check(item)

`registered` loads the plugin module through its hooks, with the same checks as
`automl plugins`; each check is a function of the algorithm or metric that raises
`AssertionError` saying what is wrong and what to do. `run_checks(item)` runs them all
outside pytest. `registered_commands` gives the subcommands a plugin adds, to invoke with
click's `CliRunner`.
"""

from __future__ import annotations

import functools
import json
import math
import pickle
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from automl import data
from automl.contract import Algorithm, Metric, SearchContext, Task
from automl.errors import describe
from automl.plugins import DEFAULT_PLUGINS, load_registry
from automl.preprocess import build_candidate, rounds_cut

if TYPE_CHECKING:
    import click

Item = Algorithm | Metric
Check = Callable[[Any], None]

N_ROWS = 150
# Random draws from the search space per context: enough to reach the edges of most
# ranges and every branch of small conditional spaces, yet quick.
N_SAMPLES = 8
_N_CLASSES = {Task.BINARY: 2, Task.MULTICLASS: 3, Task.REGRESSION: None}
_TARGET = "target"


def registered(plugin: str) -> list[Item]:
    """The algorithms and metrics the module `plugin` registers through its hooks.

    Raises `automl.errors.PluginError` if automl would mark the plugin broken, for
    instance because a name is taken by a built-in or something breaks the contract.
    """
    builtins = DEFAULT_PLUGINS if plugin in DEFAULT_PLUGINS else (*DEFAULT_PLUGINS, plugin)
    registry = load_registry(only=(), strict=True, builtins=builtins)
    info = next(p for p in registry.plugins if p.name == plugin)
    return [registry.algorithms[n] for n in info.algorithms] + [
        registry.metrics[n] for n in info.metrics
    ]


def registered_commands(plugin: str) -> dict[str, click.Command]:
    """The subcommands the module `plugin` adds to `automl`, by name.

    Raises `automl.errors.PluginError` if automl would mark the plugin broken, and
    `AssertionError` if a name is one of automl's own commands.
    """
    from automl.cli import OWN_COMMANDS

    registry = load_registry(only=(), strict=True, builtins=(*DEFAULT_PLUGINS, plugin))
    info = next(p for p in registry.plugins if p.name == plugin)
    taken = sorted(set(info.commands) & OWN_COMMANDS)
    assert not taken, f"{plugin}: automl already has the command(s) {', '.join(taken)}"
    return {name: registry.commands[name] for name in info.commands}


def checks(item: Item) -> list[Check]:
    """The checks that apply to `item`, each bound to one task it claims where that matters."""
    tasks = sorted(item.tasks)
    if isinstance(item, Metric):
        return [_bound(check_metric_direction, task) for task in tasks]
    if not isinstance(item, Algorithm):
        raise TypeError(f"expected an Algorithm or a Metric, not {type(item).__name__}")
    per_task: tuple[Callable[..., None], ...] = (
        check_search_space,
        check_fit_predict,
        check_reproducible,
        check_persistence,
    )
    if item.early_stopping is not None:
        per_task += (check_early_stopping,)
    return [check_defaults] + [_bound(check, task) for check in per_task for task in tasks]


def run_checks(item: Item) -> None:
    """Run every check for `item`; raise `AssertionError` at the first that fails."""
    for check in checks(item):
        check(item)


def parametrize_with_checks(items: Iterable[Item]) -> Any:
    """A `pytest.mark.parametrize` over (item, check) for every check of every item.

    The test receives `item` and `check` and calls `check(item)`.
    """
    import pytest

    cases = [(item, check) for item in items for check in checks(item)]
    if not cases:
        raise ValueError("parametrize_with_checks got no algorithm or metric to check")
    return pytest.mark.parametrize(
        ("item", "check"), cases, ids=[f"{item.name}-{check_id(c)}" for item, c in cases]
    )


def check_id(check: Check) -> str:
    """A readable name for a check, such as `check_fit_predict-binary`."""
    if isinstance(check, functools.partial):
        return "-".join([check.func.__name__, *map(str, check.keywords.values())])
    return getattr(check, "__name__", repr(check))


def sample_table(task: Task, n_rows: int = N_ROWS, seed: int = 0) -> pd.DataFrame:
    """A small table for `task`: numeric, boolean and categorical columns, with gaps,
    and a column `target` that depends on them."""
    task = Task(task)
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=n_rows),
            "x2": rng.uniform(0, 10, size=n_rows),
            "colour": rng.choice(["red", "green", "blue", "grey"], size=n_rows),
            "flag": rng.choice([True, False], size=n_rows),
        }
    )
    signal = frame["x1"] + (frame["colour"] == "red") - frame["flag"] * 0.5
    signal = signal + rng.normal(scale=0.3, size=n_rows)
    frame.loc[rng.random(n_rows) < 0.1, "x2"] = np.nan
    frame.loc[rng.random(n_rows) < 0.05, "colour"] = None
    if task is Task.REGRESSION:
        frame[_TARGET] = 3.0 * signal + 10.0
    elif task is Task.BINARY:
        frame[_TARGET] = np.where(signal > signal.median(), "yes", "no")
    else:
        frame[_TARGET] = pd.qcut(signal, 3, labels=["low", "mid", "high"]).astype(str)
    return frame


# Algorithm checks ----------------------------------------------------------------------


def check_defaults(algorithm: Algorithm) -> None:
    """Each default sets every parameter the search space asks for, within its range,
    and nothing the space never asks for."""
    asked: set[str] = set()
    for task in sorted(algorithm.tasks):
        for number, default in enumerate(algorithm.defaults, start=1):
            asked |= _sample_fixed(algorithm, task, number, default)
    for number, default in enumerate(algorithm.defaults, start=1):
        unused = sorted(set(default) - asked)
        assert not unused, (
            f"{algorithm.name}: default #{number} sets {', '.join(unused)}, which the search"
            " space never asks for; the search would ignore it."
        )


def check_search_space(algorithm: Algorithm, task: Task) -> None:
    """Sampling the space gives parameters that survive a JSON round trip (the trial
    store keeps them as JSON) and build a clonable estimator, on tiny and huge data."""
    from sklearn.base import clone

    for context in _contexts(task):
        study = _study(seed=context.n_rows)
        for _ in range(N_SAMPLES):
            params = _sample(algorithm, context, study.ask())
            estimator = _build(algorithm, params, task, f"parameters {params}")
            try:
                clone(estimator)
            except Exception as exc:
                raise AssertionError(
                    f"{algorithm.name}: scikit-learn cannot clone the estimator built from"
                    f" {params}: {describe(exc)}. Its __init__ must store its arguments"
                    " unchanged."
                ) from exc


def check_fit_predict(algorithm: Algorithm, task: Task) -> None:
    """The estimator, behind the preprocessing it asks for, fits a small table with each
    default and with sampled parameters, and predicts rows with missing values and a
    category it never saw."""
    for label, params in _parameter_sets(algorithm, task):
        fitted, X_new = _fit(algorithm, task, params, label)
        _check_predictions(algorithm, fitted, X_new, task, label)


def check_reproducible(algorithm: Algorithm, task: Task) -> None:
    """Two fits with the same seed predict the same."""
    label, params = _parameter_sets(algorithm, task)[0]
    first, X_new = _fit(algorithm, task, params, label)
    second, _ = _fit(algorithm, task, params, label)
    assert np.allclose(_outputs(first, X_new, task), _outputs(second, X_new, task)), (
        f"{algorithm.name}: two fits with {label} and the same seed predict differently;"
        " pass build's `seed` to the estimator's random_state."
    )


def check_early_stopping(algorithm: Algorithm, task: Task) -> None:
    """On a fold big enough to stop early, the model stops within its most rounds, says
    how many it kept, and predicts; its stopping functions pickle (they are sent to the
    worker process). If its `fit_params` takes `stop_at`, a time already passed makes it
    stop adding rounds (`EarlyStopping.stops_in_time`); with `stop_params`, a refit too
    (see `_check_refit_cut`); with `rate`, a refit with fewer rounds at a higher rate fits
    (`_check_rate`)."""
    from automl.worker import fit_fold

    stopping = algorithm.early_stopping
    assert stopping is not None
    label, params = _parameter_sets(algorithm, task)[0]
    most = params.get(stopping.param)
    assert isinstance(most, int) and most >= 1, (
        f"{algorithm.name}: early_stopping.param {stopping.param!r} is not an integer"
        f" parameter of {label}"
    )
    frame = sample_table(task, n_rows=stopping.min_rows + 100, seed=2)
    schema, _, _ = _prepared(task)
    X, y = data.prepare(frame, schema), data.encode_target(frame[_TARGET], schema)
    candidate = build_candidate(algorithm, schema, params, task, 0, 1)
    try:
        pickle.dumps(candidate)
    except Exception as exc:
        raise AssertionError(
            f"{algorithm.name}: the early stopping functions do not pickle ({describe(exc)});"
            " define them at module level"
        ) from exc
    try:
        fitted, rounds = fit_fold(candidate, X, y, np.arange(len(y)), task.is_classification)
    except Exception as exc:
        raise AssertionError(
            f"{algorithm.name}: fitting {task} data with early stopping and {label} raised"
            f" {describe(exc)}"
        ) from exc
    assert isinstance(rounds, int) and 1 <= rounds <= most, (
        f"{algorithm.name}: best_rounds gave {rounds!r}, not a number of rounds from 1 to {most}"
    )
    if stopping.built_rounds is not None:
        built = stopping.built_rounds(fitted[-1])
        assert isinstance(built, int) and rounds <= built <= most, (
            f"{algorithm.name}: built_rounds gave {built!r}, not a number of rounds from the"
            f" {rounds} kept to {most}"
        )
    _check_predictions(algorithm, fitted, _new_rows(task), task, f"{label}, stopped early")
    if stopping.stops_in_time and most > 1:
        rows, now = np.arange(len(y)), time.monotonic()
        try:
            fitted, rounds = fit_fold(candidate, X, y, rows, task.is_classification, now)
        except Exception as exc:
            raise AssertionError(
                f"{algorithm.name}: fitting with early_stopping.fit_params(..., stop_at=...)"
                f" raised {describe(exc)}"
            ) from exc
        assert isinstance(rounds, int) and 1 <= rounds < most, (
            f"{algorithm.name}: given a stop_at already passed, it kept {rounds!r} of its"
            f" {most} rounds: fit_params takes stop_at, so the fit must stop adding rounds"
            " by then"
        )
        _check_predictions(algorithm, fitted, _new_rows(task), task, f"{label}, stopped in time")
    if stopping.stop_params is not None and most > 1:
        _check_refit_cut(algorithm, candidate, X, y, most, task, label)
    if stopping.rate is not None:
        _check_rate(algorithm, schema, params, X, y, task, label)


def _check_rate(
    algorithm: Algorithm,
    schema: data.Schema,
    params: dict[str, Any],
    X: pd.DataFrame,
    y: np.ndarray,
    task: Task,
    label: str,
) -> None:
    """`EarlyStopping.rate` names a positive float parameter, and a refit with a third of
    the rounds at three times that rate (as `automl.refit` may plan one) fits and predicts."""
    stopping = algorithm.early_stopping
    assert stopping is not None and stopping.rate is not None
    rate = params.get(stopping.rate)
    assert isinstance(rate, float) and rate > 0, (
        f"{algorithm.name}: early_stopping.rate {stopping.rate!r} is not a positive float"
        f" parameter of {label}"
    )
    rounds = max(params[stopping.param] // 3, 1)
    scaled = {**params, stopping.param: rounds, stopping.rate: 3 * rate}
    candidate = build_candidate(algorithm, schema, scaled, task, 0, 1)
    built = candidate.pipeline[-1].get_params()
    assert built.get(stopping.rate) == 3 * rate and built.get(stopping.param) == rounds, (
        f"{algorithm.name}: built with {stopping.param}={rounds} and {stopping.rate}="
        f"{3 * rate:g}, the estimator has {stopping.param}={built.get(stopping.param)!r} and"
        f" {stopping.rate}={built.get(stopping.rate)!r}: build must pass both on"
    )
    try:
        fitted = candidate.fit(X, y)
    except Exception as exc:
        raise AssertionError(
            f"{algorithm.name}: fitting with {stopping.param}={rounds} and"
            f" {stopping.rate}={3 * rate:g} raised {describe(exc)}"
        ) from exc
    _check_predictions(algorithm, fitted, _new_rows(task), task, f"{label}, rounds scaled")


def _check_refit_cut(
    algorithm: Algorithm,
    candidate: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    most: int,
    task: Task,
    label: str,
) -> None:
    """`EarlyStopping.stop_params`: a refit given a time already passed keeps the rounds it
    built, fewer than asked for, and says so (`automl.preprocess.rounds_cut`); one given a time
    far away keeps more."""
    stop_at = time.monotonic()
    try:
        fitted = candidate.fit(X, y, stop_at=stop_at)
    except Exception as exc:
        raise AssertionError(
            f"{algorithm.name}: fitting with early_stopping.stop_params(..., stop_at) raised"
            f" {describe(exc)}"
        ) from exc
    cut = rounds_cut(candidate.early_stopping, fitted, stop_at, time.monotonic())
    assert cut is not None and 1 <= cut[0] < most and cut[1] == most, (
        f"{algorithm.name}: given a stop_at already passed, the refit kept {cut!r} (rounds"
        f" kept, asked for) of its {most} rounds: stop_params must make fit stop adding"
        " rounds by then, and best_rounds give the rounds built"
    )
    _check_predictions(algorithm, fitted, _new_rows(task), task, f"{label}, refit cut in time")
    whole = candidate.fit(X, y, stop_at=time.monotonic() + 3600)
    kept = int(candidate.early_stopping.best_rounds(whole[-1]))
    assert kept > cut[0], (
        f"{algorithm.name}: given a stop_at an hour away, the refit kept {kept} of its {most}"
        f" rounds, and {cut[0]} given one already passed: it must build every round it is"
        " asked for until then (or until it stops of its own accord), and best_rounds give"
        " them all"
    )


def check_persistence(algorithm: Algorithm, task: Task) -> None:
    """The unfitted pipeline pickles (it is sent to the worker process); the fitted one
    saves with skops using only the types in `trusted_types`, and loads back the same."""
    import skops.io as sio

    from automl.bundle import BASE_TRUSTED_TYPES

    label, params = _parameter_sets(algorithm, task)[0]
    candidate = build_candidate(algorithm, _prepared(task)[0], params, task, 0, 1)
    try:
        pickle.loads(pickle.dumps(candidate))
    except Exception as exc:
        raise AssertionError(
            f"{algorithm.name}: the pipeline built from {label} cannot be pickled, so it"
            f" cannot reach the worker process: {describe(exc)}. Keep lambdas and open"
            " resources out of the estimator."
        ) from exc
    fitted, X_new = _fit(algorithm, task, params, label)
    expected = _outputs(fitted, X_new, task)
    dumped = sio.dumps(fitted)
    found = set(sio.get_untrusted_types(data=dumped))
    undeclared = sorted(found - BASE_TRUSTED_TYPES - set(algorithm.trusted_types))
    assert not undeclared, (
        f"{algorithm.name}: a fitted model holds types skops does not trust by default;"
        f" add them to Algorithm.trusted_types or its models cannot be saved: {undeclared}"
    )
    loaded = sio.loads(dumped, trusted=sorted(found))
    assert np.allclose(_outputs(loaded, X_new, task), expected), (
        f"{algorithm.name}: the model loaded from a skops file predicts differently."
    )


# Metric checks -----------------------------------------------------------------------


def check_metric_direction(metric: Metric, task: Task) -> None:
    """The metric gives a finite number, and scores near-perfect predictions better than
    wrong ones according to its direction; it gets the inputs the search gives it."""
    y_true, good, bad = _metric_inputs(metric, task)
    scores = []
    for name, y_pred in (("near-perfect", good), ("wrong", bad)):
        try:
            score = metric.score(y_true, y_pred)
        except Exception as exc:
            raise AssertionError(
                f"{metric.name}: scoring {name} {task} predictions raised {describe(exc)}"
            ) from exc
        assert isinstance(score, int | float | np.number) and math.isfinite(score), (
            f"{metric.name}: scoring {name} {task} predictions gave {score!r}, not a finite number."
        )
        scores.append(float(score))
    good_score, bad_score = scores
    assert metric.better(good_score, bad_score), (
        f"{metric.name}: near-perfect {task} predictions score {good_score:g} and wrong ones"
        f" {bad_score:g}, so with direction {metric.direction!r} the wrong ones are not"
        " worse. Is the direction right?"
    )


# Helpers -------------------------------------------------------------------------------


def _bound(check: Callable[..., None], task: Task) -> Check:
    return functools.partial(check, task=task)


def _contexts(task: Task) -> list[SearchContext]:
    n_classes = _N_CLASSES[task]
    return [
        SearchContext(task=task, n_rows=20, n_columns=1, n_classes=n_classes),
        SearchContext(task=task, n_rows=N_ROWS, n_columns=4, n_classes=n_classes),
        SearchContext(task=task, n_rows=1_000_000, n_columns=500, n_classes=n_classes),
    ]


def _study(seed: int) -> Any:
    import optuna

    from automl.search import quiet_optuna

    with quiet_optuna(optuna.logging.WARNING):
        return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))


def _sample(algorithm: Algorithm, context: SearchContext, trial: Any) -> dict[str, Any]:
    """The parameters the space gives `trial`, as the search stores and reuses them."""
    try:
        params = algorithm.search_space(trial, context)
    except Exception as exc:
        raise AssertionError(
            f"{algorithm.name}: search_space raised {describe(exc)} for {_show(context)}"
        ) from exc
    assert isinstance(params, Mapping) and all(isinstance(k, str) for k in params), (
        f"{algorithm.name}: search_space returned {params!r} for {_show(context)},"
        " not a dict of parameter names to values."
    )
    plain = {k: data.plain(v) for k, v in params.items()}
    try:
        return json.loads(json.dumps(plain))
    except (TypeError, ValueError) as exc:
        raise AssertionError(
            f"{algorithm.name}: search_space returned {params!r}, which is not JSON:"
            f" {exc}. Return numbers, strings, booleans, None or lists of them."
        ) from exc


def _sample_fixed(
    algorithm: Algorithm, task: Task, number: int, default: Mapping[str, Any]
) -> set[str]:
    """Sample the space with default #number fixed; return the names it asked for."""
    from optuna.trial import FixedTrial

    trial = FixedTrial(dict(default))
    context = _contexts(task)[1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            algorithm.search_space(trial, context)
        except ValueError as exc:
            raise AssertionError(
                f"{algorithm.name}: default #{number} {dict(default)} does not fit the {task}"
                f" search space: {exc}"
            ) from exc
    out_of_range = [str(w.message) for w in caught if "out of the range" in str(w.message)]
    assert not out_of_range, (
        f"{algorithm.name}: default #{number} is outside the {task} search space: {out_of_range[0]}"
    )
    return set(trial.params)


def _build(algorithm: Algorithm, params: Mapping[str, Any], task: Task, label: str) -> Any:
    try:
        estimator = algorithm.build(dict(params), task, 0, 1)
    except Exception as exc:
        raise AssertionError(
            f"{algorithm.name}: build raised {describe(exc)} for {task} with {label}"
        ) from exc
    needed = ("fit", "predict_proba") if task.is_classification else ("fit", "predict")
    missing = [m for m in needed if not callable(getattr(estimator, m, None))]
    assert not missing, (
        f"{algorithm.name}: build returned {type(estimator).__name__} for {task}, which has"
        f" no {', '.join(missing)}."
    )
    return estimator


def _parameter_sets(algorithm: Algorithm, task: Task) -> list[tuple[str, dict[str, Any]]]:
    """Each default, then one sampled set sized to the sample table."""
    sets = [(f"default #{i} {dict(d)}", dict(d)) for i, d in enumerate(algorithm.defaults, 1)]
    schema, X, _ = _prepared(task)
    context = SearchContext(
        task=task,
        n_rows=len(X),
        n_columns=X.shape[1],
        n_classes=len(schema.classes) if schema.classes else None,
    )
    params = _sample(algorithm, context, _study(seed=0).ask())
    return [*sets, (f"sampled parameters {params}", params)]


@functools.cache
def _prepared(task: Task) -> tuple[data.Schema, pd.DataFrame, np.ndarray]:
    frame = sample_table(task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = data.infer_schema(frame, _TARGET, task)
    return schema, data.prepare(frame, schema), data.encode_target(frame[_TARGET], schema)


def _new_rows(task: Task) -> pd.DataFrame:
    """Rows to predict: fresh ones, with gaps and a category the training never saw."""
    schema, _, _ = _prepared(task)
    frame = sample_table(task, n_rows=20, seed=1)
    frame.loc[:4, "colour"] = "ultraviolet"
    frame.loc[5:9, "x1"] = np.nan
    return data.prepare(frame, schema)


def _fit(
    algorithm: Algorithm, task: Task, params: Mapping[str, Any], label: str
) -> tuple[Any, pd.DataFrame]:
    from sklearn.base import clone

    _build(algorithm, params, task, label)
    schema, X, y = _prepared(task)
    candidate = build_candidate(algorithm, schema, params, task, 0, 1)
    # As the worker does: a clone of the pipeline, fitted with the candidate's fit params.
    pipeline = clone(candidate.pipeline)
    try:
        fitted = pipeline.fit(X, y, **candidate.fit_params)
    except Exception as exc:
        raise AssertionError(
            f"{algorithm.name}: fitting {task} data with {label} raised {describe(exc)}"
        ) from exc
    return fitted, _new_rows(task)


def _outputs(fitted: Any, X: pd.DataFrame, task: Task) -> np.ndarray:
    if task.is_classification:
        return np.asarray(fitted.predict_proba(X), dtype=float)
    return np.asarray(fitted.predict(X), dtype=float)


def _check_predictions(
    algorithm: Algorithm, fitted: Any, X_new: pd.DataFrame, task: Task, label: str
) -> None:
    where = (
        f"{algorithm.name}: with {label}, predicting {task} rows with gaps and unseen categories"
    )
    try:
        out = _outputs(fitted, X_new, task)
    except Exception as exc:
        raise AssertionError(f"{where} raised {describe(exc)}") from exc
    n_classes = _N_CLASSES[task]
    expected = (len(X_new), n_classes) if n_classes else (len(X_new),)
    assert out.shape == expected, f"{where} gave shape {out.shape}, not {expected}."
    assert np.all(np.isfinite(out)), f"{where} gave non-finite values."
    if n_classes:
        assert np.all((out >= 0) & (out <= 1)) and np.allclose(out.sum(axis=1), 1.0), (
            f"{where}: predict_proba rows are not probabilities summing to 1."
        )


def _metric_inputs(metric: Metric, task: Task) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encoded targets, near-perfect and wrong predictions, shaped as the search gives them."""
    rng = np.random.default_rng(0)
    n_rows = 60
    if task is Task.REGRESSION:
        y_true = rng.normal(10.0, 3.0, size=n_rows)
        return y_true, y_true + rng.normal(0, 0.1, size=n_rows), y_true[::-1] * -1.0
    n_classes = _N_CLASSES[task]
    y_true = np.arange(n_rows, dtype=np.int64) % n_classes
    wrong = (y_true + 1) % n_classes
    if not metric.needs_proba:
        return y_true, y_true.copy(), wrong
    return y_true, _confident(y_true, n_classes), _confident(wrong, n_classes)


def _confident(labels: np.ndarray, n_classes: int) -> np.ndarray:
    proba = np.full((len(labels), n_classes), 0.2 / (n_classes - 1))
    proba[np.arange(len(labels)), labels] = 0.8
    return proba


def _show(context: SearchContext) -> str:
    return f"{context.task} on {context.n_rows} rows x {context.n_columns} columns" + (
        f", {context.n_classes} classes" if context.n_classes else ""
    )
