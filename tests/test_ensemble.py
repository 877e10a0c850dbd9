"""Greedy ensemble selection over out-of-fold predictions, and the ensemble it exports."""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time

import numpy as np
import optuna
import pandas as pd
import pytest
from support import SAMPLES, make_mixed, run_cli

import automl
from automl import AutoML, ensemble
from automl.contract import Task
from automl.data import encode_target, infer_schema, prepare
from automl.events import ignore
from automl.plugins import get_registry
from automl.search import (
    EXPORT_SECONDS,
    Budget,
    Search,
    Settings,
    enqueue_first_trials,
    make_sampler,
)
from automl.worker import TimeUp, TrialFailed, Worker

ROC_AUC = get_registry().metric("roc_auc")
LOG_LOSS = get_registry().metric("log_loss")
RMSE = get_registry().metric("rmse")


def _folds(n: int, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rows = np.arange(n)
    return [(rows[rows % k != f], rows[rows % k == f]) for f in range(k)]


def _complementary(seed: int = 0):
    """Three regressors: two whose errors cancel out, and a better one whose do not.

    The first two err by +/-1 on each row, in opposite directions, so their average is
    exact; the third errs less (0.8 on average) but alone.
    """
    rng = np.random.default_rng(seed)
    y = rng.normal(0, 1, 120)
    error = rng.choice([-1.0, 1.0], 120)
    predictions = {0: y + error, 1: y - error, 2: y + rng.normal(0, 0.8, 120)}
    return y, predictions


def test_selection_picks_the_complementary_models():
    y, predictions = _complementary()
    folds = _folds(len(y), 3)
    chosen = ensemble.select(predictions, y, folds, RMSE)
    # It starts from the best single model (2), which stays in the bag, then adds the two
    # that cancel out, in turns, until they hold nearly all the weight.
    assert chosen.weights[0] == chosen.weights[1] >= 0.45
    assert chosen.weights.get(2, 0.0) <= 0.1
    assert np.isclose(sum(chosen.weights.values()), 1.0)
    single = min(np.mean(ensemble.fold_scores(p, y, folds, RMSE)) for p in predictions.values())
    assert chosen.score < single / 10


@pytest.mark.parametrize("seed", range(5))
def test_selection_is_never_worse_than_the_best_single_model(seed):
    """Random probability matrices: whatever the mix, the result keeps up with the best."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 90)
    predictions = {n: rng.dirichlet(np.ones(3), 90) for n in range(6)}
    folds = _folds(90, 3)
    chosen = ensemble.select(predictions, y, folds, LOG_LOSS)
    singles = [np.mean(ensemble.fold_scores(p, y, folds, LOG_LOSS)) for p in predictions.values()]
    assert chosen.score <= min(singles)
    assert np.isclose(sum(chosen.weights.values()), 1.0)
    blended = ensemble.blend(predictions, chosen.weights)
    assert chosen.fold_scores == ensemble.fold_scores(blended, y, folds, LOG_LOSS)


def test_selection_follows_the_metric_direction_and_stops_at_the_deadline():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 100)
    good = np.column_stack([1 - y * 0.8 - 0.1, y * 0.8 + 0.1])
    noise = rng.dirichlet(np.ones(2), 100)
    predictions = {3: noise, 7: good}
    folds = _folds(100, 4)
    chosen = ensemble.select(predictions, y, folds, ROC_AUC)
    assert chosen.weights == {7: 1.0} and chosen.score == 1.0
    # With the deadline already passed, no round runs: the best single model is returned.
    late = ensemble.select(predictions, y, folds, ROC_AUC, deadline=time.monotonic() - 1)
    assert late.weights == {7: 1.0}


def test_the_pool_keeps_the_best_trials_within_its_capacity():
    pool = ensemble.Pool(ROC_AUC, capacity=2)
    for number, value in [(0, 0.7), (1, 0.9), (2, 0.8), (3, 0.6)]:
        pool.offer(number, "linear" if number % 2 else "lightgbm", value, 0.1, np.zeros(4))
    assert pool.ranked() == [1, 2] and set(pool.predictions) == {1, 2}
    assert pool.mixes_algorithms()
    huge = ensemble.Pool.for_table(ROC_AUC, n_rows=10_000_000, width=10, enabled=True)
    assert huge.capacity == 0  # one trial's predictions alone would pass the memory cap
    assert ensemble.Pool.for_table(ROC_AUC, 300, 2, enabled=False).capacity == 0


def test_the_pool_keeps_each_algorithms_best_before_near_copies_of_the_leader():
    pool = ensemble.Pool(ROC_AUC, capacity=3)
    offers = [(0, "knn", 0.70), (1, "lightgbm", 0.90), (2, "lightgbm", 0.89)]
    offers += [(3, "lightgbm", 0.88), (4, "linear", 0.80), (5, "lightgbm", 0.91)]
    for number, algorithm, value in offers:
        pool.offer(number, algorithm, value, 0.1, np.zeros(4))
    # Three algorithms' bests fill the pool: LightGBM's fourth-best near-copies are not
    # kept over the k-NN and linear models, worse alone but different.
    assert pool.ranked() == [5, 4, 0]
    pool.offer(6, "linear", 0.85, 0.1, np.zeros(4))  # linear's new best replaces its old
    assert pool.ranked() == [5, 6, 0] and set(pool.predictions) == {5, 6, 0}


def _search(table, target: str, n_trials: int, algorithms: list[str], repeats: int = 1):
    schema = infer_schema(table, target, None, "test")
    registry = get_registry()
    settings = Settings(
        metric=registry.metric("roc_auc"),
        algorithms=[registry.algorithm(a) for a in algorithms],
        task=Task.BINARY,
        cv=3,
        seed=0,
        n_jobs=1,
        n_trials=n_trials,
        repeats=repeats,
    )
    X, y = prepare(table, schema, "test"), encode_target(table[target], schema)
    with Worker() as worker:
        runner = Search(X, y, schema, settings, Budget(time.monotonic(), 120), ignore, worker)
        study = optuna.create_study(direction="maximize", sampler=make_sampler(0))
        enqueue_first_trials(study, settings.algorithms, runner.context)
        runner.run(study)
    return runner, study


@pytest.mark.parametrize("repeats", [1, 2])
def test_out_of_fold_predictions_reproduce_each_trials_fold_scores(repeats):
    """Each kept array puts every fold's predictions back on that fold's rows (with
    repeats, on that repeat's copy of the rows)."""
    runner, study = _search(make_mixed(), "bought", 4, ["linear", "lightgbm"], repeats)
    trials = {t.number: t for t in study.trials if t.value is not None}
    assert len(trials) == 4 and set(runner.pool.predictions) == set(trials)
    assert len(runner.oof_folds) == 3 * repeats and len(runner.oof_y) == repeats * len(runner.y)
    for number, oof in runner.pool.predictions.items():
        assert not np.isnan(oof).any()
        scores = ensemble.fold_scores(oof, runner.oof_y, runner.oof_folds, runner.settings.metric)
        assert scores == trials[number].user_attrs["fold_scores"]
    # The reserve covers the refits of the next two best trials, not only the best's.
    ranked = runner.pool.ranked()
    pool = runner.pool
    others = sum(
        runner.refit_estimate(pool.fold_seconds(n), pool.algorithm(n)) for n in ranked[1:3]
    )
    best = runner.refit_estimate(runner.best_fold_seconds, runner.best_algorithm)
    assert runner.refit_reserve - EXPORT_SECONDS - best >= others > 0


# One shuffle of the folds, no explanation nor learning curve: at 60 s a 400-row table
# would have its folds repeated three times, and neither the repeats nor what follows the
# refit bears on the ensemble (this file took three times as long with them).
QUICK = {
    "time_budget": 60, "n_trials": 8, "cv": 3, "cv_repeats": 1, "n_jobs": 1,
    "explanations": False, "learning_curve": False,
}  # fmt: skip
ALGORITHMS = ["linear", "lightgbm", "knn", "random_forest"]


def _fit(**options):
    model = AutoML(**QUICK, algorithms=ALGORITHMS, **options)
    # (This table's ensemble has three members or more, of unequal weights; see
    # test_a_member_that_cannot_be_refitted_is_dropped_and_the_card_rescored.)
    return model.fit(make_mixed(400, seed=2), target="bought")


def _failing_refits(monkeypatch, failing: set[int]) -> None:
    """Make the refit calls numbered in `failing` (1 = the first) fail in the worker."""
    original = Worker.refit
    calls = itertools.count(1)

    def refit(self, candidate, rows, deadline, cancel=None, threads=None, stop=None, **kw):
        if next(calls) in failing:
            raise TrialFailed("ValueError: failed on purpose")
        return original(self, candidate, rows, deadline, cancel, threads, stop, **kw)

    monkeypatch.setattr(Worker, "refit", refit)


@pytest.fixture(scope="module")
def fitted_ensemble():
    return _fit()


def test_an_ensemble_is_exported_when_it_scores_better(fitted_ensemble):
    card = fitted_ensemble.card
    best = card["best"]
    assert best["algorithm"] == "ensemble", best
    members = best["ensemble"]
    assert len(members) >= 2
    assert np.isclose(sum(m["weight"] for m in members), 1.0)
    board = {row["trial"]: row for row in card["leaderboard"]}
    assert all(board[m["trial"]]["algorithm"] == m["algorithm"] for m in members)
    assert best["best_single"]["trial"] == card["leaderboard"][0]["trial"]
    assert card["cv"]["score"] > card["leaderboard"][0]["roc_auc"]
    assert card["cv"]["score"] == pytest.approx(np.mean(card["cv"]["fold_scores"]))
    assert len(card["cv"]["fold_scores"]) == 3 * card["cv"]["repeats"]
    assert card["refit"]["rows"] == card["data"]["rows"]


def test_the_saved_ensemble_loads_and_predicts_the_weighted_average(fitted_ensemble, tmp_path):
    fitted_ensemble.save(tmp_path / "bundle")
    again = automl.load(tmp_path / "bundle")
    members = again.card["best"]["ensemble"]
    voting = again.pipeline_
    assert [name for name, _ in voting.estimators] == [f"trial_{m['trial']}" for m in members]

    table = make_mixed(50, seed=11).drop(columns="bought")
    X = prepare(table, again.schema_, "test")
    expected = sum(
        m["weight"] * member.predict_proba(X)
        for m, member in zip(members, voting.estimators_, strict=True)
    )
    proba = again.predict_proba(table)
    assert np.allclose(proba.to_numpy(), expected)
    assert np.allclose(proba.to_numpy(), fitted_ensemble.predict_proba(table).to_numpy())
    assert (again.predict(table) == proba.idxmax(axis=1).to_numpy()).all()
    markdown = (tmp_path / "bundle" / "model_card.md").read_text()
    assert "## Ensemble" in markdown
    assert all(f"| {m['trial']} | {m['algorithm']} |" in markdown for m in members)


def test_ensemble_false_exports_the_best_trial():
    model = _fit(ensemble=False)
    card = model.card
    assert card["best"]["algorithm"] != "ensemble" and card["best"]["ensemble"] == []
    assert card["best"]["trial"] == card["leaderboard"][0]["trial"]
    assert card["cv"]["score"] == card["leaderboard"][0]["roc_auc"]
    assert not hasattr(model.pipeline_, "estimators_")


def test_a_single_complete_trial_is_exported_alone():
    model = AutoML(time_budget=60, n_trials=1, cv=3, n_jobs=1, algorithms=["lightgbm", "linear"])
    card = model.fit(make_mixed(), target="bought").card
    assert card["trials"]["complete"] == 1
    assert card["best"]["ensemble"] == [] and card["best"]["algorithm"] in ("lightgbm", "linear")
    assert card["cv"]["score"] == card["leaderboard"][0]["roc_auc"]


def test_the_summary_names_the_members_and_keeps_the_best_trial(fitted_ensemble, tmp_path):
    from automl.cli.summary import summary

    result = summary(fitted_ensemble.card, tmp_path, wall_seconds=12.5)
    members = fitted_ensemble.card["best"]["ensemble"]
    assert result["ensemble"] == members and len(members) >= 2
    assert result["algorithm"] == result["leaderboard"][0]["algorithm"]
    assert result["score"] == fitted_ensemble.card["cv"]["score"]


def test_no_ensemble_on_the_command_line(tmp_path):
    csv = tmp_path / "mixed.csv"
    make_mixed(400, seed=5).to_csv(csv, index=False)
    out = tmp_path / "model"
    algorithms = ",".join(ALGORITHMS)
    options = ["--algorithms", algorithms, "--n-trials", "8", "--cv", "3", "--n-jobs", "1"]
    # Not repeated, nor explained: neither bears on the ensemble (30 s of the suite with).
    options += ["--cv-repeats", "1", "--no-explain", "--no-learning-curve"]
    ran = run_cli(
        "run",
        str(csv),
        "--target",
        "bought",
        *options,
        "--no-ensemble",
        "--output",
        str(out),
        "--json",
    )
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["ensemble"] == []
    assert result["score"] == result["leaderboard"][0]["roc_auc"]


def test_a_member_that_cannot_be_refitted_is_dropped_and_the_card_rescored(
    fitted_ensemble, monkeypatch
):
    selected = fitted_ensemble.card
    full = selected["best"]["ensemble"]
    assert len(full) >= 3, full
    # The members are refitted one at a time (one worker), most weight first: the last
    # refit is the member with the least weight.
    _failing_refits(monkeypatch, {len(full)})
    model = _fit()
    card = model.card
    kept = card["best"]["ensemble"]
    assert [m["trial"] for m in kept] == [m["trial"] for m in full[:-1]]
    total = sum(m["weight"] for m in full[:-1])
    assert [m["weight"] for m in kept] == pytest.approx([m["weight"] / total for m in full[:-1]])
    assert model.pipeline_.weights == [m["weight"] for m in kept]
    # The scores are those of the members exported, not of all those selected.
    assert card["cv"]["fold_scores"] != selected["cv"]["fold_scores"]
    assert card["cv"]["score"] == pytest.approx(np.mean(card["cv"]["fold_scores"]))
    assert card["cv"]["score"] > card["leaderboard"][0]["roc_auc"]


def test_with_one_member_left_the_best_trial_is_exported_alone(fitted_ensemble, monkeypatch):
    _failing_refits(monkeypatch, set(range(2, len(fitted_ensemble.card["best"]["ensemble"]) + 1)))
    card = _fit().card
    best = card["leaderboard"][0]
    assert card["best"]["ensemble"] == [] and card["best"]["trial"] == best["trial"]
    assert fitted_ensemble.card["best"]["ensemble"][0]["trial"] == best["trial"]
    assert card["cv"]["score"] == best["roc_auc"]


def test_the_members_are_refitted_in_both_workers_at_once(monkeypatch):
    """With two workers, the ensemble's members are refitted two at a time: the first
    two refits meet before either starts, which one worker alone could not do."""
    original, calls, used = Worker.refit, itertools.count(1), set()
    met = threading.Barrier(2, timeout=30)

    def refit(self, candidate, rows, deadline, cancel=None, threads=None, stop=None, **kw):
        if next(calls) <= 2:
            met.wait()
        used.add(id(self))
        return original(self, candidate, rows, deadline, cancel, threads, stop, **kw)

    monkeypatch.setattr(Worker, "refit", refit)
    model = AutoML(**{**QUICK, "n_jobs": 2}, algorithms=ALGORITHMS)
    model.fit(make_mixed(400, seed=5), target="bought")
    assert len(model.card["best"]["ensemble"]) >= 2
    assert len(used) == 2 and model.card["refit"]["rows"] == 400


def test_a_regression_ensemble_predicts_the_weighted_average_of_its_members(tmp_path):
    table = pd.read_csv(SAMPLES / "houses.csv").head(400)
    model = AutoML(**QUICK, algorithms=["linear", "knn", "extra_trees"])
    model.fit(table, target="price", output=tmp_path / "bundle")
    members = model.card["best"]["ensemble"]
    assert len(members) >= 2, model.card["best"]
    again = automl.load(tmp_path / "bundle")
    X = prepare(table.head(30), again.schema_, "test")
    expected = sum(
        m["weight"] * member.predict(X)
        for m, member in zip(members, again.pipeline_.estimators_, strict=True)
    )
    assert np.allclose(again.predict(table.head(30)), expected)


def test_a_label_metric_scores_the_blend_by_its_most_probable_class():
    y = np.array([0, 1, 1, 0, 1, 0])
    # Alone each model gets two rows wrong, narrowly, where the other is sure and right;
    # averaged, every row's most probable class is right.
    first = np.array([[0.8, 0.2], [0.2, 0.8], [0.55, 0.45], [0.8, 0.2], [0.2, 0.8], [0.45, 0.55]])
    second = np.array([[0.8, 0.2], [0.55, 0.45], [0.2, 0.8], [0.45, 0.55], [0.2, 0.8], [0.8, 0.2]])
    accuracy = get_registry().metric("accuracy")
    folds = _folds(6, 2)
    assert ensemble.fold_scores(first, y, folds, accuracy) == [2 / 3, 2 / 3]
    chosen = ensemble.select({0: first, 1: second}, y, folds, accuracy)
    assert chosen.weights == {0: 0.5, 1: 0.5} and chosen.score == 1.0


def test_bagging_exports_the_average_of_the_fold_models(tmp_path, mixed):
    """With bagging, nothing is refitted: the exported model averages the models of the
    search's folds, whose out-of-fold predictions the CV score was measured on."""
    from sklearn.ensemble import VotingClassifier

    model = AutoML(time_budget=30, n_trials=2, cv=3, algorithms=["linear"], bagging=True, n_jobs=1)
    model.fit(mixed, target="bought", output=tmp_path / "bagged")
    assert model.card["refit"]["bagged_folds"] == 3
    bag = model.pipeline_
    assert isinstance(bag, VotingClassifier) and len(bag.estimators_) == 3
    assert [name for name, _ in bag.estimators] == ["fold_0", "fold_1", "fold_2"]
    X = automl.data.prepare(mixed, model.schema_)
    averaged = np.mean([fold.predict_proba(X) for fold in bag.estimators_], axis=0)
    np.testing.assert_allclose(bag.predict_proba(X), averaged)
    loaded = automl.load(tmp_path / "bagged")
    pd.testing.assert_frame_equal(loaded.predict_proba(mixed), model.predict_proba(mixed))
    assert (
        "Bagged: the average of the models of the search's 3 folds"
        in (tmp_path / "bagged" / "model_card.md").read_text()
    )


def _refit_estimated(monkeypatch, late):
    """From the refit on (the search is over), `Search.refit_estimate` returns
    `late(search, left)`, `left` the seconds the refit has before the time kept for
    what follows it; before, the real estimate."""
    from automl import refit
    from automl.search import Search

    refitting = []
    sample_model, estimate = refit._sample_model, Search.refit_estimate

    def sample_model_noted(*args, **kwargs):
        refitting.append(True)
        return sample_model(*args, **kwargs)

    def estimated(self, fold_seconds, algorithm, rows=None, measured_rows=None):
        if not refitting:
            return estimate(self, fold_seconds, algorithm, rows, measured_rows)
        left = self.budget.hard_end - self.budget.finish - time.monotonic()
        return late(self, left)

    monkeypatch.setattr(refit, "_sample_model", sample_model_noted)
    monkeypatch.setattr(Search, "refit_estimate", estimated)
    return refitting


def test_a_short_refit_keeps_at_least_the_rows_of_a_fold(monkeypatch):
    """When the refit on all rows is estimated not to fit, the exported model still learns
    from as many rows as each fold's model did: the model the CV estimate is of (a model
    of 5% of the rows once scored far worse than its estimate)."""
    refitting = _refit_estimated(monkeypatch, lambda search, left: 1e6)
    model = AutoML(
        time_budget=20, n_trials=2, cv=4, algorithms=["linear"], ensemble=False,
        explanations=False, learning_curve=False, n_jobs=1,
    )  # fmt: skip
    model.fit(make_mixed(400, seed=3), target="bought")
    assert refitting and model.card["data"]["rows"] == 400
    assert model.card["refit"]["rows"] == 300  # 3 of 4 folds, not 5% of the rows


def test_a_refit_that_fits_only_without_the_explanation_takes_its_time(monkeypatch):
    """A refit on all rows estimated to overrun the time kept for it, but not that plus the
    explanation's and the learning curve's, learns from every row: they come after."""
    borrowed = []

    def needs_the_extras(search, left):
        borrowed.append(search.budget.extras)
        return left + search.budget.extras / 2

    _refit_estimated(monkeypatch, needs_the_extras)
    model = AutoML(
        time_budget=20, n_trials=2, cv=4, algorithms=["linear"], ensemble=False, n_jobs=1
    )
    model.fit(make_mixed(400, seed=3), target="bought")
    assert borrowed and borrowed[0] > 0  # the explanation's and the curve's seconds
    assert model.card["refit"]["rows"] == 400


def test_a_refit_too_long_even_with_the_explanation_takes_its_time_for_more_rows(monkeypatch):
    """A refit on all rows estimated to overrun even the time kept for the explanation and
    the learning curve still takes that time, for as many rows as fit in it: a model
    that learnt from more rows comes before them."""
    _refit_estimated(monkeypatch, lambda search, left: (left + search.budget.extras) / 0.9)
    model = AutoML(
        time_budget=20, n_trials=2, cv=4, algorithms=["linear"], ensemble=False, n_jobs=1
    )
    model.fit(make_mixed(400, seed=3), target="bought")
    # 9/10 of the rows (less the moment between the estimate and the plan), where without
    # the extras the refit would have kept to a fold's 300.
    assert 350 <= model.card["refit"]["rows"] <= 360


@pytest.mark.parametrize(("short", "rows"), [(0.97, (400, 400)), (0.94, (370, 380))])
def test_a_refit_a_little_short_of_every_row_takes_every_row(monkeypatch, short, rows):
    """A refit whose time covers all but a few percent of the rows learns from every row:
    the estimate is rougher than that. Beyond `refit.ALL_ROWS_SLACK`, the rows that fit."""
    _refit_estimated(monkeypatch, lambda search, left: (left + search.budget.extras) / short)
    model = AutoML(
        time_budget=20, n_trials=2, cv=4, algorithms=["linear"], ensemble=False, n_jobs=1
    )
    model.fit(make_mixed(400, seed=3), target="bought")
    assert rows[0] <= model.card["refit"]["rows"] <= rows[1]


def _forest_or_linear_on_xor(monkeypatch) -> AutoML:
    """A forest and a linear model searched on an XOR of two columns (400 rows, one worker,
    6 s, two trials), fitted: the forest is the best, and far slower a fold. Its trial has
    30 trees, not the portfolio's 300, so that it finishes its folds in the search's time
    on a loaded machine too: in CI, beside another test process, the 300 trees finished
    none, the linear model was the only trial ranked, and its refit the one stopped."""
    from automl import portfolio

    forest = {"n_estimators": 30, "max_features": 0.5, "min_samples_leaf": 1}
    first = (("linear", {"C": 10.0, "alpha": 10.0}), ("random_forest", forest))
    monkeypatch.setitem(portfolio.PORTFOLIO, "small", first)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 2))
    table = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] * x[:, 1] > 0).astype(int)})
    model = AutoML(
        time_budget=6, n_trials=2, cv=3, algorithms=["random_forest", "linear"], ensemble=False,
        explanations=False, learning_curve=False, n_jobs=1,
    )  # fmt: skip
    model.fit(table, target="y")
    return model


def test_a_best_refit_that_runs_out_of_time_leaves_the_fastest_time_to_refit(monkeypatch):
    """When the best trial's refit runs on to its hard end (longer than estimated), the
    fastest trial is refitted instead: the best's refits are stopped in time for it. At 10 s on
    segments the MLP's refit ran out of time at the budget's hard end, the linear model
    had none left, and the run failed."""
    from automl import refit

    fit, hung = refit._fit, []

    def out_of_time(runner, trial, rows, deadline, cancel, *args):
        if not hung or hung[0] is trial:  # the first refit tried: the best trial's
            hung.append(trial)
            time.sleep(max(deadline - time.monotonic(), 0.0))
            raise TimeUp
        return fit(runner, trial, rows, deadline, cancel, *args)

    monkeypatch.setattr(refit, "_fit", out_of_time)
    model = _forest_or_linear_on_xor(monkeypatch)
    # The forest is the best on this XOR, and far slower a fold than the linear model.
    assert hung and hung[0].params["algorithm"] == "random_forest"
    assert model.card["best"]["algorithm"] == "linear"
    assert model.card["refit"]["rows"] >= 266  # at least a fold's rows


def test_a_best_refit_estimated_not_to_fit_is_not_started_before_the_fallback(monkeypatch):
    """When the best trial's refit would not be done even on a fold's rows by the time kept
    for the fastest trial's, it is not started: stopped at its deadline, it would take
    its worker down with it, and the fastest would wait for another. At 10 s on segments,
    on a slower machine, an MLP (3.6 s a fold) was given 1.3 s, and the linear model then
    ran out of time in a new worker: the run failed."""
    from automl import refit

    estimate, fit, fitted = refit._estimate, refit._fit, []

    def forest_never_fits(runner, trial, rows=None):
        if trial.params["algorithm"] == "random_forest":
            return 1e6
        return estimate(runner, trial, rows)

    def noted(runner, trial, rows, deadline, cancel, *args):
        fitted.append(trial.params["algorithm"])
        return fit(runner, trial, rows, deadline, cancel, *args)

    monkeypatch.setattr(refit, "_estimate", forest_never_fits)
    monkeypatch.setattr(refit, "_fit", noted)
    model = _forest_or_linear_on_xor(monkeypatch)
    assert model.card["best"]["algorithm"] == "linear"
    assert fitted == ["linear"]


def _sampled_and_short(monkeypatch, budget=20):
    """A table of 400 rows searched on a sample of 150, whose refit on all rows is
    estimated (from the refit on) never to fit: planned, it takes a fold's rows."""
    from automl import search

    monkeypatch.setattr(search, "SEARCH_ROWS", 150)
    _refit_estimated(monkeypatch, lambda search, left: 1e6)
    return AutoML(
        time_budget=budget, n_trials=2, cv=3, algorithms=["linear"], ensemble=False,
        explanations=False, learning_curve=False, n_jobs=2,
    )  # fmt: skip


def test_the_idle_worker_refits_every_row_beside_the_planned_refit(monkeypatch):
    """With two workers, the second refits the best trial on all rows while the first
    makes the refit the estimate plans; the model of every row is exported when it is
    done in the planned refit's time, however short the estimate said it would fall."""
    refits = []
    refit = Worker.refit

    def noted(self, candidate, rows, deadline, cancel=None, threads=None, stop=None, **kwargs):
        refits.append((len(rows), stop is not None))
        return refit(self, candidate, rows, deadline, cancel, threads, stop, **kwargs)

    monkeypatch.setattr(Worker, "refit", noted)
    model = _sampled_and_short(monkeypatch)
    model.fit(make_mixed(400, seed=3), target="bought")
    assert model.card["data"]["search_rows"] == 150
    assert sorted(refits) == [(100, False), (400, True)]  # a fold's rows, and every row
    assert model.card["refit"]["rows"] == 400


def test_a_refit_beside_that_is_not_done_in_time_is_stopped_and_the_plan_exported(
    monkeypatch,
):
    refit, stopped = Worker.refit, []

    def never_done(self, candidate, rows, deadline, cancel=None, threads=None, stop=None, **kw):
        if stop is None:
            return refit(self, candidate, rows, deadline, cancel, threads, **kw)
        stopped.append(stop.wait(60))
        raise TimeUp()

    monkeypatch.setattr(Worker, "refit", never_done)
    model = _sampled_and_short(monkeypatch, budget=6)
    model.fit(make_mixed(400, seed=3), target="bought")
    assert stopped == [True]  # stopped once the planned refit was in hand
    assert model.card["refit"]["rows"] == 100
    assert model.card["timing"]["wall_seconds"] <= 6 * 1.1 + 5


def _idle_search(parallel: int) -> Search:
    """A search over lightgbm, linear and k-NN that has run no trial, for its reserve."""
    table = make_mixed(300, seed=1)
    schema = infer_schema(table, "bought", None, "test")
    registry = get_registry()
    settings = Settings(
        metric=registry.metric("roc_auc"),
        algorithms=[registry.algorithm(a) for a in ("lightgbm", "linear", "knn")],
        task=Task.BINARY, cv=3, seed=0, n_jobs=1, n_trials=1, parallel=parallel, repeats=1,
    )  # fmt: skip
    X, y = prepare(table, schema, "test"), encode_target(table["bought"], schema)
    with Worker() as worker:
        return Search(X, y, schema, settings, Budget(time.monotonic(), 600), ignore, worker)


def test_long_member_refits_are_kept_time_for_only_if_the_ensemble_takes_them():
    """Where the other members' refits are long, the search keeps time only for those the
    ensemble selection over the pool takes now: not for a member that adds nothing."""
    runner = _idle_search(parallel=1)
    rng = np.random.default_rng(0)
    truth = runner.oof_y.astype(float)

    def probabilities(noise: float) -> np.ndarray:
        p = np.clip(0.5 + (truth - 0.5) * 0.6 + rng.normal(0, noise, len(truth)), 0.01, 0.99)
        return np.column_stack([1 - p, p])

    runner.score_seconds = 0.01
    runner.best, runner.best_fold_seconds, runner.best_algorithm = 0.9, 1.0, "lightgbm"
    runner.pool.offer(0, "lightgbm", 0.9, 1.0, probabilities(0.3))
    # A coin toss: no blend with it scores better, and its refit would take long.
    runner.pool.offer(1, "linear", 0.5, 10.0, np.column_stack([np.full(len(truth), 0.5)] * 2))
    runner._update_reserve()
    alone = runner.refit_reserve
    best_refit = runner.refit_estimate(1.0, "lightgbm")
    assert runner._selected_others() == []
    assert alone == pytest.approx(best_refit + runner.selection_estimate() + runner.budget.finish)
    # A second model as good, erring elsewhere: the blend beats both, so its refit is kept.
    runner.pool.offer(2, "knn", 0.9, 10.0, probabilities(0.3))
    runner._update_reserve()
    assert runner._selected_others() == [2]
    assert runner.refit_reserve == pytest.approx(
        best_refit
        + runner.refit_estimate(10.0, "knn")
        + runner.selection_estimate()
        + runner.budget.finish
    )


def test_members_refitted_at_once_are_kept_the_time_the_last_ends():
    """With two workers the members' refits run two at a time (`refit._refit_members`):
    the search keeps back when the last should end, not the sum of their refits."""
    from automl.search import _refits_end

    assert _refits_end([3.0, 1.0, 1.0, 1.0], 2) == 3.0
    assert _refits_end([1.0, 1.0, 1.0], 2) == 2.0
    assert _refits_end([1.0, 1.0, 1.0], 1) == 3.0
    runner = _idle_search(parallel=2)
    runner.score_seconds = 0.01
    runner.best, runner.best_fold_seconds, runner.best_algorithm = 0.9, 1.0, "lightgbm"
    truth = runner.oof_y.astype(float)
    for number, (name, seconds) in enumerate([("lightgbm", 1.0), ("linear", 0.3), ("knn", 0.4)]):
        p = np.clip(0.2 + 0.6 * truth, 0, 1)
        runner.pool.offer(number, name, 0.9 - number / 100, seconds, np.column_stack([1 - p, p]))
    assert runner.refit_workers(["lightgbm", "linear", "knn"]) == 2
    runner._update_reserve()
    best, linear, knn = (
        runner.refit_estimate(s, a) for a, s in [("lightgbm", 1.0), ("linear", 0.3), ("knn", 0.4)]
    )
    assert best > linear + knn  # so the others end, one after the other, beside the best
    assert runner.refit_reserve == pytest.approx(
        best + runner.selection_estimate() + runner.budget.finish
    )
    # One worker refits them one after the other: the sum.
    runner.settings = dataclasses.replace(runner.settings, parallel=1)
    runner._update_reserve()
    assert runner.refit_reserve == pytest.approx(
        best + linear + knn + runner.selection_estimate() + runner.budget.finish
    )


def test_a_big_refit_has_every_core_and_is_planned_with_what_threads_gain(monkeypatch):
    """The search's workers each fit with one thread; a big refit of an algorithm that
    gains from threads, alone then, fits with all of them, and its estimate divides by the
    measured gain. A small one, or an algorithm not measured (a third party's), keeps a
    trial's threads: with sleeping OpenMP threads, two were slower on 20,000 rows."""
    from automl import search
    from automl.search import Search

    table = make_mixed(300, seed=1)
    schema = infer_schema(table, "bought", None, "test")
    registry = get_registry()
    settings = Settings(
        metric=registry.metric("roc_auc"), algorithms=[registry.algorithm("lightgbm")],
        task=Task.BINARY, cv=3, seed=0, n_jobs=1, n_trials=1, parallel=2,
    )  # fmt: skip
    X, y = prepare(table, schema, "test"), encode_target(table["bought"], schema)
    with Worker() as worker:
        runner = Search(X, y, schema, settings, Budget(time.monotonic(), 60), ignore, worker)
    one_core = search.scaled_seconds(1.0, 200, 300)
    assert runner.refit_threads("lightgbm", 300) == 1
    assert runner.refit_estimate(1.0, "lightgbm") == pytest.approx(one_core)
    # Measured sizes scaled down to this table: two threads from 250 rows, planned to
    # gain more from 290 rows.
    monkeypatch.setitem(search.THREAD_EXPONENTS, "lightgbm", ((250, 0.5), (290, 0.7)))
    assert runner.refit_threads("lightgbm", 300) == 2 and runner.refit_threads("lightgbm", 200) == 1
    assert runner.refit_estimate(1.0, "lightgbm") == pytest.approx(one_core / 2**0.7)
    at_260 = search.scaled_seconds(1.0, 200, 260) / 2**0.5
    assert runner.refit_estimate(1.0, "lightgbm", rows=260) == pytest.approx(at_260)
    assert runner.refit_threads("third_party", 300) == 1
    assert runner.refit_estimate(1.0, "third_party") == pytest.approx(one_core)

    model = AutoML(
        time_budget=30, n_trials=2, cv=3, algorithms=["lightgbm"], n_jobs=2,
        parallel_trials=True, explanations=False, learning_curve=False,
    )  # fmt: skip
    model.fit(make_mixed(400, seed=2), target="bought")
    fitted = [e for e in _estimators(model.pipeline_) if type(e).__name__ == "LGBMClassifier"]
    assert fitted and all(e.get_params()["n_jobs"] == 2 for e in fitted)


def _estimators(pipeline):
    """The estimators inside a fitted pipeline (its wrappers' and ensembles' too)."""
    return [v for v in pipeline.get_params(deep=True).values() if hasattr(v, "fit")]


def _two_members(monkeypatch, seconds: dict[str, float]):
    """An ensemble of two trials, the first of `seconds`' algorithms with most weight,
    whose refits are estimated at `seconds` and whose members' refits are only recorded:
    (the refit module, the two trials, the list refitted members go to, the ensemble)."""
    from types import SimpleNamespace

    from automl import refit

    best, other = (
        SimpleNamespace(number=n, params={"algorithm": name}) for n, name in enumerate(seconds)
    )
    monkeypatch.setattr(refit, "_estimate", lambda _, trial: seconds[trial.params["algorithm"]])
    members: list = []
    monkeypatch.setattr(refit, "_refit_members", lambda runner, trials, *a: members.extend(trials))
    return refit, best, other, members, ensemble.Ensemble({0: 0.7, 1: 0.3}, [0.9, 0.9])


def test_an_ensemble_whose_main_member_cannot_be_refitted_in_time_is_not_refitted(monkeypatch):
    """Refitting the other members of an ensemble whose main member does not fit in the
    time left would export a lesser model alone: the best trial is refitted by itself
    instead (on fewer rows, or in the explanation's time, if need be)."""
    seconds = {"lightgbm": 50.0, "xgboost": 5.0}
    refit, best, other, members, chosen = _two_members(monkeypatch, seconds)
    budget = Budget(time.monotonic(), 60.0, finish=20.0)
    assert refit._refit_ensemble(None, [best, other], chosen, budget, None) is None
    assert members == []  # XGBoost was not refitted for nothing
    seconds["lightgbm"] = 10.0  # now it fits: the members are refitted, most weight first
    refit._refit_ensemble(None, [best, other], chosen, budget, None)
    assert members == [best, other]


def test_an_ensembles_members_may_take_the_explanations_time(monkeypatch):
    """As the best trial's refit may (a model first): a main member whose refit ends after
    the time kept for the explanation and the learning curve began, but before the
    budget's end less the rest, is refitted. At 30 s on houses the MLP members were
    judged not to fit, and the ensemble lost them or was given up."""
    seconds = {"mlp": 50.0, "lightgbm": 5.0}
    refit, best, other, members, chosen = _two_members(monkeypatch, seconds)
    # 20 s follow the refit, 15 of them the explanation's and the curve's: 55 s for it.
    budget = Budget(time.monotonic(), 60.0, finish=20.0, extras=15.0)
    refit._refit_ensemble(None, [best, other], chosen, budget, None)
    assert members == [best, other]
    seconds["mlp"] = 58.0  # beyond the explanation's time too
    members.clear()
    assert refit._refit_ensemble(None, [best, other], chosen, budget, None) is None
    assert members == []


def test_the_selection_may_take_the_explanations_time(monkeypatch):
    """As the members' refits may: a selection that would have to end before the
    explanation's time began, with the best's refit still to run, is held to the budget's
    end less the rest of the finish instead. At 10 s on friedman and houses the search
    ended where the selection's time began, the selection had none, and one model was
    exported alone where an ensemble scored better on the folds."""
    from types import SimpleNamespace

    from automl import refit

    y, predictions = _complementary()
    pool = SimpleNamespace(predictions=predictions, mixes_algorithms=lambda: True)
    settings = SimpleNamespace(metric=RMSE)
    runner = SimpleNamespace(pool=pool, oof_y=y, oof_folds=_folds(len(y), 3), settings=settings)
    best = SimpleNamespace(
        number=2,
        value=float(np.mean(ensemble.fold_scores(predictions[2], y, runner.oof_folds, RMSE))),
    )
    monkeypatch.setattr(refit, "_estimate", lambda _, trial: 5.0)
    # 20 s follow the refit, 15 of them the explanation's: the refit must start by 35 s.
    start = time.monotonic() - 38.0
    chosen = refit._choose_ensemble(runner, best, Budget(start, 60.0, finish=20.0, extras=15.0))
    assert chosen is not None and set(chosen.weights) >= {0, 1}
    # Past the explanation's time too: the best is refitted alone.
    late = Budget(start - 20.0, 60.0, finish=20.0, extras=15.0)
    assert refit._choose_ensemble(runner, best, late) is None


def _one_lightgbm_trial(budget: float, n_jobs: int = 1) -> AutoML:
    """One LightGBM trial on 3 folds, nothing after the refit but the export: the refit's
    own tests."""
    return AutoML(
        time_budget=budget, n_trials=1, cv=3, algorithms=["lightgbm"], ensemble=False,
        explanations=False, learning_curve=False, n_jobs=n_jobs,
    )  # fmt: skip


# The budget of the runs whose refit on every row has no end. Beside another test process
# on two cores, their one trial's search took 3.3-3.6 s instead of 0.9-1.3 s, and at 6 s
# the sample's model was not refitted in the time left: the refit on every row, cut, was
# exported where `test_a_refit_cut_to_few_of_its_rounds_...` expects the sample's (3 runs
# of 4 beside another; none of 4 at 9 s).
ENDLESS_BUDGET = 9


def _rounds_without_end(monkeypatch, rows: int) -> None:
    """The refits on `rows` rows ask LightGBM for a million rounds, estimated (from the
    refit on) to take 0.5 s: a refit far longer than its estimate. (On a table of a
    few thousand rows a round takes about a millisecond, and the thousands of trees it
    builds take longer to send back than `refit.CUT_MARGIN_SECONDS`: rounds on big tables
    are slower, their trees no bigger. The tables here have 40,000 rows, searched whole.
    Even so, beside another test process the 1,000 to 3,000 trees built in 9 s took more
    than the 0.5 s margin to come back (a LightGBM of 3,000 trees pickles in 0.63 s alone),
    and the cut refit was lost on 3 runs of 4: the margin here is 2 s.)"""
    from automl import refit, search

    monkeypatch.setattr(search, "MIN_SEARCH_ROWS", 40_000)
    monkeypatch.setattr(refit, "CUT_MARGIN_SECONDS", 2.0)
    _refit_estimated(monkeypatch, lambda search, left: 0.5)
    refit_as_run = Worker.refit

    def endless(self, candidate, fit_rows, *args, **kwargs):
        if len(fit_rows) == rows:
            candidate.pipeline.set_params(model__n_estimators=10**6)
        return refit_as_run(self, candidate, fit_rows, *args, **kwargs)

    monkeypatch.setattr(Worker, "refit", endless)


def test_a_refit_longer_than_its_time_stops_adding_rounds_and_is_exported(monkeypatch):
    """A LightGBM refit that would overrun stops adding rounds before what follows it must
    start, and is exported with the rounds it built: it was lost at its hard end before,
    and the run failed or exported a smaller model. Here it is the only model there is."""
    from automl import calibrate
    from automl.bundle import refit_line

    _rounds_without_end(monkeypatch, 40000)
    model = _one_lightgbm_trial(ENDLESS_BUDGET)
    table = make_mixed(40000, seed=3)
    model.fit(table, target="bought")
    cut = model.card["refit"]["rounds_cut"]
    assert model.card["refit"]["rows"] == 40000
    assert cut["of"] == 10**6 and 1 <= cut["kept"] < 10**6
    pipeline = model.pipeline_
    if calibrate.beta_of(pipeline) is not None:  # a temperature, if kept, wraps it
        pipeline = calibrate.inner_model(pipeline)
    assert pipeline[-1].booster_.current_iteration() == cut["kept"]
    assert model.predict_proba(table).shape == (40000, 2)
    assert model.card["timing"]["wall_seconds"] <= ENDLESS_BUDGET * 1.1 + 5
    assert refit_line(model.card) == (
        f"- Refitted on 40000 of 40000 rows, with {cut['kept']} of its 1000000 boosting"
        " rounds, cut to keep the time budget"
    )


@pytest.mark.parametrize(("share", "rows"), [(0.5, 10_000), (0.0, 40000)])
def test_a_refit_cut_to_few_of_its_rounds_gives_way_to_the_sample_model(monkeypatch, share, rows):
    """A refit cut in time with fewer than `refit.MIN_CUT_ROUNDS_SHARE` of its rounds is
    not exported when the model of the search's sample is in hand: a model of half the
    rows of the 1,000,000-row table with a third of its rounds scored as the sample's."""
    from automl import refit, search

    monkeypatch.setattr(search, "SEARCH_ROWS", 10_000)
    monkeypatch.setattr(refit, "MIN_CUT_ROUNDS_SHARE", share)
    _rounds_without_end(monkeypatch, 40000)
    model = _one_lightgbm_trial(ENDLESS_BUDGET)
    model.fit(make_mixed(40000, seed=3), target="bought")
    assert model.card["data"]["search_rows"] == 10_000
    assert model.card["refit"]["rows"] == rows
    assert (model.card["refit"]["rounds_cut"] is None) == (rows == 10_000)


def test_a_refit_beside_cut_in_time_with_enough_rounds_is_kept_over_the_sample_model(
    monkeypatch,
):
    """With two workers, the second refits the best on all rows beside the plan. One that
    can stops adding rounds in time, and is exported over the search's sample's model if
    it kept `refit.MIN_CUT_ROUNDS_SHARE` of its rounds: at 30 s on segments the MLP's
    refit on all 22,500 rows ran out of time beside the plan and the 7,500-row sample's
    model was exported (test log loss 0.395); cut, it kept 22 of its 44 epochs (0.356)."""
    from automl import refit, search

    monkeypatch.setattr(search, "SEARCH_ROWS", 10_000)
    # Any share of its rounds will do here (with half, a model cut to a few of its
    # million is not kept, as `test_a_refit_cut_to_few_of_its_rounds_...` checks).
    monkeypatch.setattr(refit, "MIN_CUT_ROUNDS_SHARE", 0.0)
    _rounds_without_end(monkeypatch, 40000)
    model = _one_lightgbm_trial(ENDLESS_BUDGET, n_jobs=2)
    model.fit(make_mixed(40000, seed=3), target="bought")
    assert model.card["data"]["search_rows"] == 10_000
    assert model.card["refit"]["rows"] == 40000
    cut = model.card["refit"]["rounds_cut"]
    assert cut["of"] == 10**6 and 1 <= cut["kept"] < 10**6
    assert model.card["timing"]["wall_seconds"] <= ENDLESS_BUDGET * 1.1 + 5


def test_a_refit_short_of_time_learns_from_every_row_with_fewer_rounds_at_a_higher_rate(
    monkeypatch,
):
    """A LightGBM refit on every row estimated at 1.6 times the time it has is planned on
    every row with about half its rounds at a learning rate as much higher (rounds times
    rate kept; a fifth of the time taken as fixed), not on 60% of the rows: on segments,
    churn_200k, houses, friedman and the 1,000,000-row table that scored better in less
    time. The card and its refit line say so."""
    from automl import calibrate, refit
    from automl.bundle import refit_line

    _refit_estimated(monkeypatch, lambda search, left: 1.6 * left)
    model = _one_lightgbm_trial(8)
    table = make_mixed(3000, seed=3)
    model.fit(table, target="bought")
    card, best = model.card, model.card["best"]["params"]
    scaled = card["refit"]["rounds_scaled"]
    assert card["refit"]["rows"] == 3000 and card["refit"]["rounds_cut"] is None
    assert scaled["of"] == best["n_estimators"] and scaled["rate_was"] == best["learning_rate"]
    assert 1 <= scaled["rounds"] < scaled["of"]
    assert scaled["rounds"] * scaled["rate"] == pytest.approx(scaled["of"] * scaled["rate_was"])
    assert scaled["rate"] <= max(refit.MAX_SCALED_RATE, scaled["rate_was"])
    assert scaled["rate"] <= refit.MAX_RATE_FACTOR * scaled["rate_was"] * (1 + 1e-9)
    pipeline = model.pipeline_
    if calibrate.beta_of(pipeline) is not None:  # a temperature, if kept, wraps it
        pipeline = calibrate.inner_model(pipeline)
    lightgbm = pipeline[-1]
    assert lightgbm.get_params()["learning_rate"] == pytest.approx(scaled["rate"])
    assert lightgbm.booster_.current_iteration() == scaled["rounds"]
    assert refit_line(card) == (
        f"- Refitted on 3000 of 3000 rows, with {scaled['rounds']} of its {scaled['of']}"
        f" boosting rounds at a learning rate of {scaled['rate']:.3g} for"
        f" {scaled['rate_was']:.3g}, to keep the time budget"
    )
    assert model.predict_proba(table).shape == (3000, 2)


@pytest.mark.parametrize(
    ("algorithm", "rate", "share", "expected"),
    [
        ("lightgbm", 0.1, 0.6, (150, 0.2)),  # (0.6 - 0.2 fixed) / 0.8: half the rounds
        ("lightgbm", 0.1, 0.1, (100, 0.3)),  # at most three times the rate
        ("lightgbm", 0.2, 0.1, (200, 0.3)),  # and never above 0.3
        ("lightgbm", 0.3, 0.5, None),  # already there: fewer rows only
        ("random_forest", None, 0.5, None),  # no rate to raise
    ],
)
def test_the_rounds_a_refit_short_of_time_is_planned_with(algorithm, rate, share, expected):
    """`refit._scaled_rounds`: the rounds that fit in `share` of the time every round
    takes (a fifth of it fixed), the rate raised as much, within the caps."""
    from types import SimpleNamespace

    from automl import refit

    registry = get_registry()
    runner = SimpleNamespace(
        algorithms={algorithm: registry.algorithm(algorithm)}, bags=lambda: False
    )
    params = {"n_estimators": 300} | ({"learning_rate": rate} if rate else {})
    trial = SimpleNamespace(params={"algorithm": algorithm}, user_attrs={"params": params})
    scaled = refit._scaled_rounds(runner, trial, share)
    if expected is None:
        assert scaled is None
        return
    assert (scaled.rounds, scaled.of, scaled.rate_was) == (expected[0], 300, rate)
    assert scaled.rate == pytest.approx(expected[1])
    assert scaled.params == {"n_estimators": expected[0], "learning_rate": scaled.rate}
    assert scaled.share == pytest.approx(0.2 + 0.8 * expected[0] / 300)


def test_a_refit_is_cut_where_what_follows_must_start_but_never_before_its_expected_end():
    """`refit._cut_time`: before what follows the refit (the finish but for the explanation
    and the curve) must start, less a margin and a round; not before the refit's expected
    end, which a fallback's refit, started late, is past; never past its deadline."""
    from types import SimpleNamespace

    from automl import refit
    from automl.search import Budget

    lightgbm = get_registry().algorithm("lightgbm")
    runner = SimpleNamespace(
        algorithms={"lightgbm": lightgbm, "linear": get_registry().algorithm("linear")},
        bags=lambda: False,
        y=np.zeros(1000),
        refit_estimate=lambda seconds, algorithm, rows=None: 10.0,
    )
    trial = SimpleNamespace(
        params={"algorithm": "lightgbm"},
        user_attrs={"fold_seconds": 1.0, "params": {"n_estimators": 100}},
    )
    # The hard end: 60 + 5% + 1 = 64 s; what follows takes 8 - 2 = 6 s of it, from 58 s;
    # the margin: 0.5 s and a round of the 10 s refit's 100 (0.1 s).
    budget = Budget(start=0.0, seconds=60.0, finish=8.0, export=1.0, extras=2.0)
    assert refit._cut_time(runner, trial, 1000, budget, 63.0, 40.0) == pytest.approx(57.4)
    assert refit._cut_time(runner, trial, 1000, budget, 63.0, 60.0) == pytest.approx(60.0)
    assert refit._cut_time(runner, trial, 1000, budget, 63.0, 70.0) == pytest.approx(62.4)
    linear = SimpleNamespace(params={"algorithm": "linear"}, user_attrs=trial.user_attrs)
    assert refit._cut_time(runner, linear, 1000, budget, 63.0, 40.0) is None
    runner.bags = lambda: True  # the folds' models, averaged: nothing is refitted
    assert refit._cut_time(runner, trial, 1000, budget, 63.0, 40.0) is None
