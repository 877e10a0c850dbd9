"""Winning at equal budgets: the portfolio, early stopping, predicted trial times, trials
run at once and repeated cross-validation."""

from __future__ import annotations

import itertools
import time
import warnings
from functools import partial
from types import SimpleNamespace

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from support import make_mixed

from automl import AutoML, bundle, search
from automl.api import _cores, cv_repeats
from automl.contract import EARLY_STOPPING_MIN_ROWS, SearchContext, Task
from automl.data import encode_target, infer_schema, prepare
from automl.errors import AutoMLWarning
from automl.events import TrialFinished, ignore
from automl.plugins import get_registry
from automl.portfolio import PORTFOLIO, SMALL_ROWS
from automl.preprocess import build_candidate
from automl.search import TrialCosts, first_trials, make_folds
from automl.worker import Worker, built_rounds, fit_fold

# The portfolio ------------------------------------------------------------------------


def _context(rows: int, task: Task = Task.BINARY) -> SearchContext:
    return SearchContext(task=task, n_rows=rows, n_columns=8, n_classes=2)


def test_the_first_trials_are_the_portfolio_of_the_tables_size():
    algorithms = get_registry().algorithms_for(Task.BINARY)
    for rows, bucket in ((SMALL_ROWS - 1, "small"), (SMALL_ROWS, "large")):
        chosen = first_trials(algorithms, _context(rows))
        expected = [(name, params) for name, params in PORTFOLIO[bucket]]
        assert [name for name, _ in chosen[: len(expected)]] == [n for n, _ in expected]
        # Every searched algorithm gets at least one trial; none is queued twice.
        assert {name for name, _ in chosen} == {a.name for a in algorithms}
        assert len({(n, tuple(sorted(p.items()))) for n, p in chosen}) == len(chosen)


def test_only_searched_algorithms_are_queued_and_values_fit_the_table():
    registry = get_registry()
    knn = registry.algorithm("knn")
    chosen = first_trials([knn], _context(60))
    assert chosen and all(name == "knn" for name, _ in chosen)
    # On 60 rows the search space allows at most 6 neighbours: a portfolio or default
    # value above that is moved to 6.
    assert all(1 <= params["n_neighbors"] <= 6 for _, params in chosen)


def test_without_the_portfolio_each_algorithms_defaults_come_first_defaults_first():
    registry = get_registry()
    algorithms = [registry.algorithm("lightgbm"), registry.algorithm("linear")]
    chosen = first_trials(algorithms, _context(5000), portfolio=False)
    lightgbm, linear = algorithms
    assert chosen[:2] == [("lightgbm", dict(lightgbm.defaults[0])), ("linear", linear.defaults[0])]
    assert [name for name, _ in chosen[2:]] == ["lightgbm"] * (len(lightgbm.defaults) - 1)


def test_every_portfolio_entry_builds_and_lies_in_its_search_space():
    registry = get_registry()
    schema = infer_schema(make_mixed(), "bought", None, "test")
    for bucket, entries in PORTFOLIO.items():
        for name, params in entries:
            algorithm = registry.algorithm(name)
            build_candidate(algorithm, schema, params, Task.BINARY, 0, 1)
            # Sampling the space with the entry's values gives them back (FixedTrial
            # raises for a value outside a range, or for a parameter the entry lacks); the
            # linear entries also carry the other task's parameter, and the space may add
            # values it does not search (the MLP's early stopping).
            sampled = algorithm.search_space(optuna.trial.FixedTrial(params), _context(50_000))
            searched = {k: v for k, v in sampled.items() if k in params}
            assert searched.items() <= params.items(), (bucket, name)


# Early stopping -----------------------------------------------------------------------


def _table(rows: int):
    frame = make_mixed(rows, seed=3)
    schema = infer_schema(frame, "bought", None, "test")
    return prepare(frame, schema, "test"), encode_target(frame["bought"], schema), schema


def _lightgbm(schema, **params):
    algorithm = get_registry().algorithm("lightgbm")
    base = dict(algorithm.defaults[0], n_estimators=2000, learning_rate=0.3)
    return build_candidate(algorithm, schema, {**base, **params}, Task.BINARY, 0, 1)


def test_a_boosted_model_stops_early_on_held_out_rows_of_big_folds():
    X, y, schema = _table(EARLY_STOPPING_MIN_ROWS + 200)
    rows = np.arange(len(y))
    fitted, rounds = fit_fold(_lightgbm(schema), X, y, rows, classification=True)
    assert rounds is not None and 1 <= rounds < 2000
    assert fitted[-1].best_iteration_ == rounds
    # It built the early stopping's patience past the rounds it kept, and says so.
    built = built_rounds(_lightgbm(schema), fitted, rounds)
    assert rounds < built <= 2000
    assert built == len(fitted[-1].evals_result_["valid_0"]["binary_logloss"])
    # Small folds fit the searched rounds: a held-out tenth would stop on noise.
    fitted, rounds = fit_fold(_lightgbm(schema), X, y, rows[:500], classification=True)
    assert rounds is None and fitted[-1].booster_.current_iteration() == 2000


def test_a_boosted_model_given_a_time_stops_adding_rounds_then_and_keeps_its_best():
    from lightgbm.callback import CallbackEnv, EarlyStopException

    from automl.builtin.lightgbm import StopAt

    X, y, schema = _table(EARLY_STOPPING_MIN_ROWS + 200)
    rows = np.arange(len(y))
    slow = _lightgbm(schema, learning_rate=0.01)
    assert slow.early_stopping.stops_in_time
    # A time already passed: one round, where without it the model builds hundreds.
    fitted, rounds = fit_fold(slow, X, y, rows, classification=True, stop_at=time.monotonic())
    assert rounds == 1 and fitted[-1].booster_.current_iteration() == 1
    _, unhurried = fit_fold(slow, X, y, rows, classification=True)
    assert unhurried > 100
    # Stopped in time, it keeps the best round on the held-out rows so far, as early
    # stopping would.
    stop = StopAt(time.monotonic() + 3600)
    for iteration, loss in enumerate((0.6, 0.4, 0.5)):
        stop(CallbackEnv(None, {}, iteration, 0, 10, [("valid_0", "binary_logloss", loss, False)]))
    stop.stop_at = time.monotonic()
    with pytest.raises(EarlyStopException) as stopped:
        stop(CallbackEnv(None, {}, 3, 0, 10, [("valid_0", "binary_logloss", 0.45, False)]))
    assert stopped.value.best_iteration == 1
    assert [score[2] for score in stopped.value.best_score] == [0.4]


def test_the_folds_of_a_trial_that_stops_in_time_share_its_deadline(slow_plugins):
    # 3 folds of 20 rounds of 0.25 s: 15 s, with a deadline 6 s away. Every fold ends in
    # time with fewer rounds, instead of the trial being stopped at its deadline.
    X, y, schema = _table(1600)
    params = {"rounds": 20, "seconds": 0.25}
    candidate = build_candidate(slow_plugins["rounding"], schema, params, Task.BINARY, 0, 1)
    folds = make_folds(y, Task.BINARY, 3, 0, schema.classes)
    with Worker() as worker:
        worker.set_data(X, y, folds, True, 1)
        results = list(worker.cross_validate(candidate, time.monotonic() + 6))
    assert [r.fold for r in results] == [0, 1, 2]
    assert all(1 <= r.rounds < 20 for r in results)
    # A later end given after a fold (`until`) is the one the folds left share.
    with Worker() as worker:
        worker.set_data(X, y, folds, True, 1)
        shorter = list(
            worker.cross_validate(
                candidate, time.monotonic() + 60, until=lambda: time.monotonic() + 0.1
            )
        )
    assert shorter[0].rounds == 20 and [r.rounds for r in shorter[1:]] == [1, 1]


def test_the_refit_uses_the_rounds_the_folds_kept():
    frame = make_mixed(3000, seed=4)
    model = AutoML(
        time_budget=120,
        n_trials=1,
        cv=3,
        algorithms=["lightgbm"],
        portfolio=False,
        explanations=False,
        n_jobs=1,
    )
    model.fit(frame, target="bought")
    trial = model.card["leaderboard"][0]
    searched = get_registry().algorithm("lightgbm").defaults[0]["n_estimators"]
    kept = trial["params"]["n_estimators"]
    assert kept <= searched
    assert model.pipeline_[-1].n_estimators == kept

    no_stop = AutoML(**{**_options(model), "early_stopping": False})
    no_stop.fit(frame, target="bought")
    assert no_stop.card["leaderboard"][0]["params"]["n_estimators"] == searched


def test_a_refit_on_many_more_rows_than_the_folds_learnt_from_gets_more_rounds(monkeypatch):
    """Searched on a sample of a quarter of the rows, the refit on all of them keeps
    about 1.8 times the folds' rounds (6,000 rows over the 900 a fold's model learnt
    from, to the power 0.3), where on the whole table it keeps 1.1 times."""
    monkeypatch.setattr(search, "SEARCH_ROWS", 1500)
    noted = []
    record = search.Search._record_folds

    def noting(self, trial, candidate, params, scores, seconds, rounds, built):
        record(self, trial, candidate, params, scores, seconds, rounds, built)
        kept = trial.user_attrs["params"]["n_estimators"]
        noted.append(
            (rounds, built, kept, trial.user_attrs["refit_fold_seconds"], np.mean(seconds))
        )

    monkeypatch.setattr(search.Search, "_record_folds", noting)
    model = AutoML(
        time_budget=120, n_trials=1, cv=3, algorithms=["lightgbm"], portfolio=False,
        explanations=False, learning_curve=False, n_jobs=1,
    )  # fmt: skip
    model.fit(make_mixed(6000, seed=4), target="bought")
    [(rounds, built, kept, refit_seconds, fold_seconds)] = noted
    searched = get_registry().algorithm("lightgbm").defaults[0]["n_estimators"]
    assert rounds and kept == min(int(np.ceil(np.mean(rounds) * (6000 / 900) ** 0.3)), searched)
    assert kept >= min(1.7 * np.mean(rounds), searched)
    assert model.pipeline_[-1].n_estimators == kept
    # The refit is estimated at its own rounds, from the time a fold took per round built:
    # the early stopping's patience built rounds past the kept ones.
    assert all(b > r if r < searched else b == r for b, r in zip(built, rounds, strict=True))
    assert refit_seconds == pytest.approx(fold_seconds * kept / np.mean(built))


def _options(model: AutoML) -> dict:
    names = ("time_budget", "n_trials", "cv", "algorithms", "portfolio", "explanations", "n_jobs")
    return {name: getattr(model, name) for name in names}


# Predicted trial times ------------------------------------------------------------------


def test_trial_times_are_predicted_per_round_from_earlier_trials():
    costs = TrialCosts()
    assert costs.predict("forest", {"n_estimators": 100}, stops_early=False) is None
    costs.note("forest", {"n_estimators": 100}, [], seconds=2.0)
    costs.note("forest", {"n_estimators": 300}, [], seconds=6.6)
    assert costs.predict("forest", {"n_estimators": 500}, stops_early=False) == pytest.approx(10.5)
    # A model that stops early costs what its rounds kept cost, at most the most it kept.
    costs.note("gbm", {"n_estimators": 2000}, [90, 110], seconds=1.0)
    assert costs.predict("gbm", {"n_estimators": 2000}, stops_early=True) == pytest.approx(1.1)
    assert costs.predict("gbm", {"n_estimators": 50}, stops_early=True) == pytest.approx(0.5)
    # Without a round parameter a fold costs what earlier folds cost.
    costs.note("linear", {"C": 1.0}, [], seconds=0.2)
    assert costs.predict("linear", {"C": 10.0}, stops_early=False) == pytest.approx(0.2)


def test_a_trial_predicted_to_overrun_is_not_started(slow_plugins, mixed):
    events: list[TrialFinished] = []
    model = AutoML(
        time_budget=12,
        cv=3,
        algorithms=["sleepy", "linear"],
        portfolio=False,
        explanations=False,
        on_event=lambda e: events.append(e) if isinstance(e, TrialFinished) else None,
    )
    model.fit(mixed, target="bought")
    sleepy = [e for e in events if e.algorithm == "sleepy"]
    skipped = [e for e in sleepy if e.reason and e.reason.startswith("not started")]
    # The first slow trial is stopped at its deadline; later ones are not started at all.
    assert sleepy[0].state == "stopped"
    assert skipped and all(e.duration < 1.0 for e in skipped)


def _queued_run(
    monkeypatch: pytest.MonkeyPatch, queued: list, **options: object
) -> tuple[AutoML, list[TrialFinished]]:
    """An AutoML whose first trials are `queued` (3 folds, not repeated, no explanation
    unless `options` say otherwise), and the list its finished trials' events go to."""
    monkeypatch.setattr(search, "first_trials", lambda *args, **kwargs: queued)
    events: list[TrialFinished] = []
    options = {"cv": 3, "cv_repeats": 1, "explanations": False, **options}
    model = AutoML(
        on_event=lambda e: events.append(e) if isinstance(e, TrialFinished) else None,
        **options,
    )
    return model, events


def _plodder_and_sleeper(
    monkeypatch: pytest.MonkeyPatch, seconds: float, budget: float
) -> tuple[AutoML, list[TrialFinished]]:
    """`_queued_run` of two trials at once, a plodder taking `seconds` a fold and a sleeper,
    and no more (no ensemble, no learning curve)."""
    queued = [("plodding", {"seconds": seconds}), ("sleepy", {"seconds": 3600.0})]
    return _queued_run(
        monkeypatch,
        queued,
        time_budget=budget,
        n_trials=2,
        algorithms=["plodding", "sleepy"],
        n_jobs=2,
        ensemble=False,
        learning_curve=False,
    )


def test_before_any_model_a_trial_that_cannot_finish_gives_its_worker_to_the_next(
    slow_plugins, mixed, monkeypatch
):
    # One worker; the first trial sleeps 4 s a fold, so its three folds cannot be done
    # within the 12 s budget. The next trial is cheap. (At 10 s, once the worker's start-up
    # took 2.3 s, the plodder's first fold ended at 6.3 s, when the time kept back for its
    # refit on a fold's rows, 4 s, left none for another trial: it was then exported.)
    queued = [("plodding", {"seconds": 4.0}), ("linear", {"C": 1.0, "alpha": 1.0})]
    model, events = _queued_run(
        monkeypatch, queued, time_budget=12, algorithms=["plodding", "linear"], n_jobs=1
    )
    model.fit(mixed, target="bought")
    plodding, linear = events[0], next(e for e in events if e.algorithm == "linear")
    # Stopped after its first fold (4 s, plus the worker's start-up: 6.3 s once on loaded
    # cores), not at the deadline (about 11 s) nor after its second fold (8 s).
    assert (plodding.algorithm, plodding.state) == ("plodding", "pruned")
    assert plodding.reason == "too slow for the budget left"
    assert plodding.duration < 7.5
    # So the cheap trial ran, and the run has a model.
    assert linear.state == "complete"
    assert model.card["best"]["algorithm"] == "linear"


# Cores: trials at once, or threads ------------------------------------------------------


def test_each_core_runs_a_trial_unless_the_copies_would_not_fit_in_memory():
    gigabyte = 2**30
    assert _cores(2, 100 * 2**20, None, available=8 * gigabyte) == (2, 1)
    # Three copies (two workers and the run) of 2 GB exceed half of 8 GB: threads.
    assert _cores(2, 2 * gigabyte, None, available=8 * gigabyte) == (1, 2)
    assert _cores(2, 100, False) == (1, 2)
    assert _cores(2, 2 * gigabyte, True, available=gigabyte) == (2, 1)
    assert _cores(1, 100, None) == (1, 1)
    assert _cores(4, 100, None, available=8 * gigabyte) == (4, 1)


def test_trials_run_at_once_overlap_and_all_count(mixed):
    events: list[TrialFinished] = []
    model = AutoML(
        time_budget=120,
        n_trials=6,
        cv=3,
        n_jobs=2,
        algorithms=["linear", "lightgbm"],
        explanations=False,
        ensemble=False,
        on_event=lambda e: events.append(e) if isinstance(e, TrialFinished) else None,
    )
    model.fit(mixed, target="bought")
    assert len(events) == 6 and len({e.number for e in events}) == 6
    spans = sorted((e.elapsed - e.duration, e.elapsed) for e in events)
    # Two worker processes: some trial starts before the one before it has ended.
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


# Repeated cross-validation ------------------------------------------------------------


def test_repeated_folds_hold_out_every_row_once_per_repeat():
    y = np.array([0, 1] * 50)
    folds = make_folds(y, Task.BINARY, 5, 0, [0, 1], repeats=3)
    assert len(folds) == 15
    held_out = np.concatenate([valid for _, valid in folds])
    assert np.array_equal(np.bincount(held_out), np.full(100, 3))
    # One repeat is the plain shuffled k-fold split, as before repeats existed.
    from sklearn.model_selection import StratifiedKFold

    plain = StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(100), y)
    once = make_folds(y, Task.BINARY, 5, 0, [0, 1])
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(once, plain, strict=True))


def test_few_rows_get_more_repeats():
    assert [cv_repeats(n) for n in (150, 999, 1000, 3999, 4000, 10**6)] == [3, 3, 2, 2, 1, 1]
    # Under REPEAT_BUDGET seconds, the trials a repeat costs are worth more.
    assert [AutoML(time_budget=b)._repeats(150) for b in (10, 30, 59.9, 60)] == [1, 1, 1, 3]


def test_a_repeated_search_scores_every_fold_of_every_repeat(mixed):
    model = AutoML(
        time_budget=120, n_trials=3, cv=3, cv_repeats=2, algorithms=["linear"], explanations=False
    )
    model.fit(mixed, target="bought")
    cv = model.card["cv"]
    assert cv["folds"] == 3 and cv["repeats"] == 2 and len(cv["fold_scores"]) == 6
    assert cv["score"] == pytest.approx(np.mean(cv["fold_scores"]))


@pytest.mark.parametrize("ensemble", [True, False])
def test_an_algorithms_first_trial_is_not_pruned_for_its_score_when_it_may_join_the_ensemble(
    slow_plugins, mixed, monkeypatch, ensemble
):
    # Five linear trials, then two of an algorithm far worse alone (it guesses the class
    # shares): the pruner has its five complete trials when the guesser's first comes.
    queued = [("linear", {"C": c, "alpha": c}) for c in (0.1, 0.3, 1.0, 3.0, 10.0)]
    queued += [("guessing", {"seconds": 0.0}), ("guessing", {"seconds": 0.0005})]
    monkeypatch.setattr(search, "first_trials", lambda *args, **kwargs: queued)
    events = []
    model = AutoML(
        time_budget=60,
        n_trials=len(queued),
        cv=3,
        algorithms=["linear", "guessing"],
        ensemble=ensemble,
        n_jobs=1,  # one trial at a time, in the queued order
        on_event=events.append,
    )
    model.fit(mixed, target="bought")
    finished = [e for e in events if isinstance(e, TrialFinished)]
    assert [e.algorithm for e in finished] == [name for name, _ in queued]
    assert all(e.state == "complete" for e in finished[:5])
    first, second = finished[5:]
    median = "worse than the median at this fold"
    if ensemble:
        # Its out-of-fold predictions reach the pool; the next one is pruned as usual.
        assert (first.state, first.reason) == ("complete", None)
        assert (second.state, second.reason) == ("pruned", median)
    else:
        # Without an ensemble, nothing is gained by finishing it.
        assert (first.state, first.reason) == ("pruned", median)


def test_when_no_trial_finishes_its_folds_the_one_that_finished_most_is_exported(
    slow_plugins, mixed, monkeypatch
):
    # One worker and one trial, whose folds take 2.5 s each: after its first fold its pace
    # says the other two will not be done by the search's deadline, so it is stopped. Before,
    # the run ended with "No trial finished"; now it exports that trial, scored on its one
    # fold, and says so.
    queued = [("plodding", {"seconds": 2.5})]
    model, events = _queued_run(
        monkeypatch,
        queued,
        time_budget=8,
        n_trials=1,
        algorithms=["plodding"],
        n_jobs=1,
        learning_curve=False,
    )
    with pytest.warns(AutoMLWarning, match=r"No trial finished its 3 folds.*\(1 of 3\)"):
        model.fit(mixed, target="bought")
    assert [(e.number, e.state, e.reason) for e in events] == [
        (0, "pruned", "too slow for the budget left")
    ]
    card = model.card
    assert card["trials"]["complete"] == 0 and card["trials"]["pruned"] == 1
    assert card["cv"]["partial"] == {"trial": 0, "folds": 1, "of": 3}
    assert len(card["cv"]["fold_scores"]) == 1
    assert card["cv"]["score"] == pytest.approx(card["cv"]["fold_scores"][0])
    assert card["best"]["algorithm"] == "plodding"
    assert bundle.cv_words(card["cv"]) == "1 of its 3 folds (3 folds)"
    assert len(model.predict(mixed.drop(columns="bought"))) == len(mixed)


def test_with_no_trial_finished_the_search_keeps_back_a_fold_refit_of_one_stopped(
    slow_plugins, mixed, monkeypatch
):
    # Two trials at once: a plodder whose folds take 3 s, and a sleeper. Neither finishes
    # its folds. Once the plodder is stopped after one fold, its refit on a fold's rows
    # (about 3 s) is kept back: the sleeper must stop then, not at the budget's end. Before,
    # it ran to the end, the plodder's refit had only the budget's grace, and the run
    # failed: "The winning model could not be refitted: plodding: out of time".
    model, events = _plodder_and_sleeper(monkeypatch, 3.0, 10)
    with pytest.warns(AutoMLWarning, match=r"No trial finished its 3 folds.*\(1 of 3\)"):
        model.fit(mixed, target="bought")
    done = {e.algorithm: e for e in events}
    assert (done["plodding"].state, done["sleepy"].state) == ("pruned", "stopped")
    assert done["sleepy"].elapsed < 10 - 2.5
    assert model.card["best"]["algorithm"] == "plodding"
    assert model.card["cv"]["partial"]["trial"] == done["plodding"].number
    assert model.card["timing"]["wall_seconds"] <= 1.1 * 10 + 5


def test_a_trial_too_slow_for_its_rounds_finishes_its_folds_with_fewer(slow_plugins, monkeypatch):
    # One worker, 10 s, one trial whose 3 folds of 20 rounds would take 15 s. Before, it
    # was stopped after its first fold as too slow, and the run exported that fold's model
    # refitted on a fold's rows ("No trial finished its 3 folds ..."); its folds now stop
    # adding rounds in time, and it is complete, scored on all three.
    queued = [("rounding", {"rounds": 20, "seconds": 0.25})]
    model, events = _queued_run(
        monkeypatch, queued, time_budget=10, n_trials=1, algorithms=["rounding"], n_jobs=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", AutoMLWarning)
        model.fit(make_mixed(1600, seed=5), target="bought")
    (trial,) = events
    assert trial.state == "complete"
    assert len(model.card["cv"]["fold_scores"]) == 3
    assert model.card["cv"].get("partial") is None
    assert model.card["leaderboard"][0]["params"]["rounds"] < 20
    assert model.card["timing"]["wall_seconds"] <= 1.1 * 10 + 5


def test_with_no_trial_finished_the_fastest_stopped_trial_is_the_refits_fallback():
    metric = get_registry().metric("roc_auc")
    study = optuna.create_study(direction="maximize")
    distributions = {"algorithm": optuna.distributions.CategoricalDistribution(["a", "b"])}
    for algorithm, state, attrs in (
        ("a", TrialState.PRUNED, {"fold_scores": [0.8, 0.8], "fold_seconds": 3.0}),
        ("b", TrialState.PRUNED, {"fold_scores": [0.9], "fold_seconds": 0.5}),
        ("b", TrialState.PRUNED, {"fold_scores": [0.7], "fold_seconds": 0.2}),
        ("a", TrialState.FAIL, {"fold_scores": [0.9], "fold_seconds": 0.1, "reason": "boom"}),
        ("b", TrialState.FAIL, {"fold_scores": [0.6], "fold_seconds": 0.3, "stopped": True}),
    ):
        study.add_trial(
            optuna.trial.create_trial(
                state=state,
                params={"algorithm": algorithm},
                distributions=distributions,
                user_attrs=attrs,
                intermediate_values={0: attrs["fold_scores"][0]},
            )
        )
    best, fallback = search.partial_trials(study, metric, 5)
    # The one that finished the most folds, then the fastest a fold of those stopped or
    # pruned (not the one that raised an error), each as a copy scored on its folds.
    assert best.user_attrs["partial"] == {"trial": 0, "folds": 2, "of": 5}
    assert fallback.user_attrs["partial"] == {"trial": 2, "folds": 1, "of": 5}
    assert (best.value, fallback.value) == (pytest.approx(0.8), pytest.approx(0.7))
    # Alone, or the fastest itself: one trial.
    single = optuna.create_study(direction="maximize")
    single.add_trial(study.trials[1])
    assert len(search.partial_trials(single, metric, 5)) == 1


def _linear_search(table, parallel: int) -> tuple:
    """The schema, search settings (ROC AUC, the linear model, 3 folds) and model input of
    `table`, whose target is "bought"."""
    schema = infer_schema(table, "bought", None, "test")
    registry = get_registry()
    settings = search.Settings(
        metric=registry.metric("roc_auc"), algorithms=[registry.algorithm("linear")],
        task=Task.BINARY, cv=3, seed=0, n_jobs=1, n_trials=None, parallel=parallel, repeats=1,
    )  # fmt: skip
    X, y = prepare(table, schema, "test"), encode_target(table["bought"], schema)
    return schema, settings, X, y


def test_a_resumed_search_does_not_take_a_partly_scored_copy_for_the_best_to_beat():
    # A run in which no trial finished its folds stored a copy of the one that finished the
    # most, scored on those folds only (`partial_trials`). Resumed, the search must measure
    # its trials against the trials scored on every fold, not against that rougher value.
    table = make_mixed(200, seed=2)
    schema, settings, X, y = _linear_search(table, parallel=1)
    study = optuna.create_study(direction="maximize")
    distributions = {"algorithm": optuna.distributions.CategoricalDistribution(["linear"])}
    for value, attrs in (
        (0.99, {"fold_seconds": 4.0, "partial": {"trial": 0, "folds": 1, "of": 3}}),
        (0.81, {"fold_seconds": 0.2}),
    ):
        study.add_trial(
            optuna.trial.create_trial(
                value=value,
                params={"algorithm": "linear"},
                distributions=distributions,
                user_attrs={"fold_scores": [value], **attrs},
            )
        )
    with Worker() as worker:
        runner = search.Search(
            X, y, schema, settings, search.Budget(time.monotonic(), 60), ignore, worker
        )
    runner.note_stored(study)
    assert runner.best == 0.81 and runner.best_fold_seconds == 0.2
    # Both stay in the study's ranking, the partly scored one last.
    ranked = search.ranked_trials(study, settings.metric)
    assert [t.value for t in ranked] == [0.81, 0.99]


def test_trials_running_when_the_search_must_end_stop_then_not_at_their_own_deadline(
    slow_plugins, mixed, monkeypatch
):
    # Two trials at once: a plodder whose folds take 3.5 s, and a sleeper. Both start
    # before any model, so only the export is kept back from their deadline (15 s of 16).
    # Once the plodder is complete, its refit (about 5 s) is kept back too: the search's
    # deadline has passed, and the sleeper must stop then. Before, it ran to its own
    # deadline, and the run failed: "The winning model could not be refitted: plodding:
    # out of time".
    model, events = _plodder_and_sleeper(monkeypatch, 3.5, 16)
    model.fit(mixed, target="bought")
    done = {e.algorithm: e for e in events}
    assert done["plodding"].state == "complete" and done["sleepy"].state == "stopped"
    assert done["sleepy"].reason == "it would not finish within the time budget"
    assert done["sleepy"].elapsed - done["plodding"].elapsed < 1.0
    assert model.card["best"]["algorithm"] == "plodding"
    assert model.card["timing"]["wall_seconds"] <= 1.1 * 16 + 5


def test_a_worker_asked_to_quit_exits_without_being_waited_for():
    """`Worker.quit` returns at once and the process exits on its own, cleanly: a run
    asks its workers once the learning curve is done, and closing them after the report
    no longer waits about 0.27 s for each."""
    worker = Worker()
    process = worker._current
    worker.quit()
    assert process.wait(timeout=60) == 0  # it read "quit": not killed
    worker.close()
    assert worker._current is None and not process.alive()


def _study_of(metric_name: str, trials: list[tuple[str, list[float], dict]]) -> optuna.Study:
    """A study holding, in order, (state, fold scores, user attributes) trials."""
    metric = get_registry().metric(metric_name)
    study = optuna.create_study(direction=metric.direction)
    names = ["linear", "mlp", "lightgbm"]
    distributions = {"algorithm": optuna.distributions.CategoricalDistribution(names)}
    for number, (state, scores, attrs) in enumerate(trials):
        complete = state == "complete"
        study.add_trial(
            optuna.trial.create_trial(
                state=optuna.trial.TrialState.COMPLETE
                if complete
                else getattr(optuna.trial.TrialState, state.upper()),
                value=float(np.mean(scores)) if complete else None,
                params={"algorithm": names[number % 3]},
                distributions=distributions,
                user_attrs={"fold_scores": scores, **attrs},
            )
        )
    return study


LINEAR_FOLDS = [1.05, 1.07, 1.06, 1.08, 1.08]  # log loss of the only complete trial


@pytest.mark.parametrize(
    ("stopped", "attrs", "exported"),
    [
        ([0.56], {"reason": search.TOO_SLOW}, True),  # far better on its one fold
        ([0.56, 0.61], {"stopped": True}, True),  # stopped at the deadline after two
        ([0.56], {"reason": "worse than the median at this fold"}, False),  # not for time
        ([0.56, 1.10], {"reason": search.TOO_SLOW}, False),  # worse on one of its folds
        ([0.90], {"reason": search.TOO_SLOW}, False),  # better by 15%: not by a quarter
    ],
)
def test_a_trial_stopped_for_time_far_better_on_its_folds_than_the_best_is_exported(
    stopped, attrs, exported
):
    state = "fail" if attrs.get("stopped") else "pruned"
    study = _study_of("log_loss", [("complete", LINEAR_FOLDS, {}), (state, stopped, attrs)])
    metric = get_registry().metric("log_loss")
    best = search.ranked_trials(study, metric)[0]
    found = search.outscoring_partial(study, metric, 5, best)
    if not exported:
        assert found is None and len(search.ranked_trials(study, metric)) == 1
        return
    assert found.value == pytest.approx(np.mean(stopped))
    assert found.user_attrs["partial"] == {"trial": 1, "folds": len(stopped), "of": 5}
    assert found.params == {"algorithm": "mlp"}
    assert "reason" not in found.user_attrs and "stopped" not in found.user_attrs
    # Stored as complete, after the trials scored on every fold in the ranking.
    assert [t.number for t in search.ranked_trials(study, metric)] == [0, found.number]


def test_of_several_trials_stopped_for_time_the_best_on_its_folds_is_exported():
    study = _study_of(
        "roc_auc",
        [
            ("complete", [0.60, 0.62, 0.61], {}),
            ("pruned", [0.90], {"reason": search.TOO_SLOW}),
            ("pruned", [0.95, 0.93], {"reason": search.TOO_SLOW}),
        ],
    )
    metric = get_registry().metric("roc_auc")
    found = search.outscoring_partial(study, metric, 3, search.ranked_trials(study, metric)[0])
    assert found.user_attrs["partial"]["trial"] == 2 and found.value == pytest.approx(0.94)


def test_a_trial_leading_the_best_runs_past_the_deadline_that_keeps_the_bests_refit():
    """Once a trial is complete, the search's deadline keeps its refit back, and trials
    still running stop then. Not one whose folds stop in time and lead it by more than
    the spread of its fold scores: it would replace that refit with its own, so its folds
    go on to the end that keeps its own refit and the best's fallback. At 30 s on
    segments, an MLP leading LightGBM's complete trial on each of three folds was stopped
    so, and LightGBM exported (test log loss 0.444); let finish, the MLP was (0.395 and
    0.403)."""
    table = make_mixed(300, seed=1)
    schema, settings, X, y = _linear_search(table, parallel=2)
    study = optuna.create_study(direction="maximize")
    distributions = {"algorithm": optuna.distributions.CategoricalDistribution(["linear"])}
    study.add_trial(
        optuna.trial.create_trial(
            value=0.7,
            params={"algorithm": "linear"},
            distributions=distributions,
            user_attrs={"fold_scores": [0.6, 0.7, 0.8], "fold_seconds": 4.0},
        )
    )
    now = time.monotonic()
    with Worker() as worker:
        # 5 s of the budget left: the best's refit (5.6 s from its 4 s folds) no longer fits.
        runner = search.Search(X, y, schema, settings, search.Budget(now - 55, 60), ignore, worker)
    runner.note_stored(study)
    assert runner.over.is_set()
    running = SimpleNamespace(params={"algorithm": "linear"}, study=study)
    # Ahead by more than the spread of the best's fold scores (0.08), or by less.
    ahead, narrowly, behind = [0.9, 0.9], [0.75, 0.75], [0.6, 0.6]

    def folds_end(scores: list[float]) -> float | None:
        return runner._folds_end(running, scores, [1.0, 1.0], now + 5, in_time=True, cut=True)

    end = folds_end(ahead)
    assert end is not None and end > runner.deadline()
    # Its last fold ends leaving time for its own refit, before the best's fallback (a
    # refit on a fold's rows) must start.
    assert end < runner.budget.hard_end - runner.budget.finish - runner.fallback_seconds
    assert runner.fallback_seconds == pytest.approx(
        search.FIT_OVERHEAD_SECONDS + runner.refit_estimate(4.0, "linear", len(runner.folds[0][0]))
    )
    assert folds_end(narrowly) is None and folds_end(behind) is None
    # The trial's stop (`_Unless`): the search's, but not while the trial clearly leads.
    for scores, stopped in ((ahead, False), (narrowly, True), (behind, True)):
        spared = partial(runner._leads, scores, clearly=True)
        assert search._Unless(runner.over, spared).is_set() == stopped
