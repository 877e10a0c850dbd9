"""Probabilities you can trust: temperature scaling on the out-of-fold predictions, part of
the exported estimator, and the guard that gives rows the training data cannot speak for
the class shares."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss

import automl
from automl import bundle, calibrate, data, ensemble, explain, finish, guard
from automl.contract import Task
from automl.plugins import get_registry
from automl.preprocess import build_candidate
from automl.refit import Final, Scaled


def _overconfident(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities whose log-odds are twice what they should be."""
    rng = np.random.default_rng(seed)
    logit = rng.normal(0, 1.5, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    p = 1 / (1 + np.exp(-2 * logit))
    return y, np.column_stack([1 - p, p])


def test_temperature_scaling_is_kept_when_it_pays_and_not_otherwise():
    y, proba = _overconfident()
    found, crossed = calibrate.fit(y, proba)
    assert found.kept and found.beta == pytest.approx(0.5, abs=0.08)
    assert found.after < found.before
    assert log_loss(y, crossed) == pytest.approx(found.after)
    # Already calibrated: nothing to gain, nothing changed.
    honest = calibrate.scale(proba, 0.5)
    again, same = calibrate.fit(y, honest)
    assert not again.kept and "not kept" in again.why
    np.testing.assert_allclose(same, honest)


def _table(task: Task, n: int = 300, seed: int = 1) -> tuple[pd.DataFrame, data.Schema]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    score = frame["a"] + frame["b"] * 0.5
    if task is Task.BINARY:
        frame["y"] = np.where(score + rng.normal(0, 0.5, n) > 0, "yes", "no")
    else:
        frame["y"] = pd.cut(score, [-np.inf, -0.5, 0.5, np.inf], labels=["lo", "mid", "hi"])
        frame["y"] = frame["y"].astype(str)
    return frame, data.infer_schema(frame, "y", task)


def _fitted(name: str, task: Task) -> tuple[object, pd.DataFrame, np.ndarray, data.Schema]:
    frame, schema = _table(task)
    X, y = data.prepare(frame, schema), data.encode_target(frame["y"], schema)
    algorithm = get_registry().algorithm(name)
    params = dict(algorithm.defaults[0]) if algorithm.defaults else {}
    pipeline = build_candidate(algorithm, schema, params, task, 0, 1).fit(X, y)
    return pipeline, X, y, schema


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTICLASS])
@pytest.mark.parametrize("name", ["lightgbm", "linear"])
def test_the_exported_estimator_scales_the_probabilities_as_fitted(name, task):
    """A linear model answers scikit-learn with its decision function, LightGBM with its
    probabilities: either way the wrapped model gives p ** beta, normalised."""
    pipeline, X, y, _ = _fitted(name, task)
    wrapped = calibrate.wrap(pipeline, 0.6, len(np.unique(y)))
    expected = calibrate.scale(pipeline.predict_proba(X), 0.6)
    # (A decision function is used as it is, probabilities plus 1e-12 before their log.)
    np.testing.assert_allclose(wrapped.predict_proba(X), expected, atol=1e-7)
    assert calibrate.beta_of(wrapped) == pytest.approx(0.6)
    assert calibrate.inner_model(wrapped) is pipeline


def test_a_calibrated_ensemble_and_its_bundle_round_trip(tmp_path):
    members = [_fitted(name, Task.MULTICLASS) for name in ("lightgbm", "linear")]
    X = members[0][1]
    voting = ensemble.voting_estimator([(i, m[0]) for i, m in enumerate(members)], [0.7, 0.3], 3)
    wrapped = calibrate.wrap(voting, 1.4, 3)
    card = {"format_version": bundle.FORMAT_VERSION, "target": "y"}
    saved = tmp_path / "bundle"
    bundle.save(saved, wrapped, {**card, **_card_stub()}, get_registry().trusted_types())
    loaded = bundle.load(saved, get_registry().trusted_types()).pipeline
    np.testing.assert_allclose(loaded.predict_proba(X), wrapped.predict_proba(X))


def _card_stub() -> dict:
    return {
        "task": "multiclass",
        "created_at": "now",
        "versions": {"automl": "test"},
        "timing": {"wall_seconds": 0},
        "time_budget": 1,
        "seed": 0,
        "metric": {"name": "log_loss", "direction": "minimize"},
        "cv": {"score": 0, "std": 0, "folds": 2, "fold_scores": [0]},
        "best": {"algorithm": "x", "trial": 0, "params": {}},
        "refit": {"rows": 1},
        "data": {"rows": 1, "columns": 1, "source": "s", "fingerprint": "f"},
        "trials": {"complete": 1, "pruned": 0},
        "classes": None,
        "leaderboard": [],
        "schema": {"columns": [], "dropped": {}},
    }


@pytest.mark.parametrize("task", [Task.BINARY, Task.MULTICLASS])
def test_explanations_see_the_calibration(task):
    pipeline, X, _, schema = _fitted("lightgbm", task)
    wrapped = calibrate.wrap(pipeline, 0.5, len(schema.classes))
    rows = pd.DataFrame(X).assign(y="x")
    found = explain.explain(wrapped, schema, rows, X.head(50), max_rows=40)
    assert found.method == "lightgbm"  # the fast path, scaled, not the sampling one
    total = found.output()
    proba = wrapped.predict_proba(X.loc[found.rows.index])
    if task is Task.BINARY:
        np.testing.assert_allclose(1 / (1 + np.exp(-total[:, 0])), proba[:, 1], atol=1e-6)
    else:
        softmax = np.exp(total) / np.exp(total).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(softmax, proba, atol=1e-6)


def _blank_failure(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The failure of the issue: a small three-class table where one training row has every
    measurement missing, and the test rows with every measurement missing are of another
    class."""
    rng = np.random.default_rng(seed)
    n = 150
    centres = {"A": 0.0, "B": 2.5, "C": 5.0}
    labels = rng.choice(list(centres), n)
    values = np.array([centres[c] for c in labels])[:, None] + rng.normal(0, 1, (n, 6))
    train = pd.DataFrame(values, columns=[f"m{i}" for i in range(6)]).assign(kind=labels)
    blank = train.index[train["kind"] == "A"][0]
    train.loc[blank, [f"m{i}" for i in range(6)]] = np.nan
    test = pd.DataFrame(np.nan, index=range(5), columns=[f"m{i}" for i in range(6)])
    return train, test.assign(kind="B")


def test_rows_the_training_data_cannot_speak_for_get_the_class_shares():
    train, test = _blank_failure()
    model = automl.AutoML(
        time_budget=30, n_trials=2, cv=3, algorithms=["linear"], learning_curve=False,
    )  # fmt: skip
    model.fit(train, target="kind")
    shares = train["kind"].value_counts(normalize=True)
    # The model alone, from imputed values and a missing-value indicator that only one
    # row of class A ever set, is sure these rows are not B.
    raw = model.pipeline_.predict_proba(data.prepare(test, model.schema_))
    assert raw[:, model.schema_.classes.index("B")].max() < 0.05
    proba = model.predict_proba(test)
    np.testing.assert_allclose(proba.to_numpy(), np.tile(shares[proba.columns], (5, 1)))
    codes = [model.schema_.classes.index("B")] * 5
    guarded = log_loss(codes, proba.to_numpy(), labels=range(3))
    assert guarded <= -np.log(shares["B"]) + 1e-9
    # Rows like those it learnt from keep the model's probabilities.
    ordinary = train.dropna().head(20)
    np.testing.assert_allclose(
        model.predict_proba(ordinary).to_numpy(),
        model.pipeline_.predict_proba(data.prepare(ordinary, model.schema_)),
    )
    assert "class shares" in guard.words(model.card["guard"])
    # Explained, the rows the class shares replaced say so.
    why = model.explain(pd.concat([ordinary.head(2), test.head(1)], ignore_index=True))
    assert why.groupby("row")["guarded"].first().tolist() == [False, False, True]


def test_the_guard_counts_rows_by_the_columns_they_miss():
    frame = pd.DataFrame(
        {
            "a": [1, np.nan, np.nan, 4, 5, 6],
            "b": [1, 2, np.nan, 4, np.nan, 6],
            "when": [f"2024-01-0{d}" for d in range(1, 7)],
            "y": ["n", "y"] * 3,
        }
    )
    schema = data.infer_schema(frame, "y")
    X = data.prepare(frame, schema)
    found = guard.fit(X, data.encode_target(frame["y"], schema), schema, min_rows=2)
    assert found["rows_missing_at_least"] == [6, 3, 1, 0]
    new = frame.assign(when=["2024-02-01", "no date", "2024-02-01"] * 2)
    new.loc[:2, ["a", "b"]] = [[np.nan, 2], [1, 1], [np.nan, np.nan]]
    # A date that cannot be read misses all its parts but counts as one column.
    flagged = guard.unsupported(data.prepare(new.head(3), schema), found)
    assert flagged.tolist() == [False, False, True]


FIVE_FOLDS = [(np.arange(1600), np.arange(1600, 2000))]


@pytest.mark.parametrize(
    ("refit_rows", "folds", "scaled", "kept"),
    [
        (2000, FIVE_FOLDS, None, True),  # five folds, all rows
        (
            2001,
            [(np.arange(1000), np.arange(1000, 2001)), (np.arange(1000, 2001), np.arange(1000))],
            None,
            True,
        ),
        (6400, FIVE_FOLDS, None, False),  # a sample, then all rows
        # A third of the rounds at three times the learning rate, to keep the time budget.
        (2000, FIVE_FOLDS, Scaled({}, 100, 300, 0.3, 0.1), True),
    ],
)
def test_the_folds_temperature_is_kept_only_for_a_model_that_learnt_from_as_many_rows(
    refit_rows, folds, scaled, kept
):
    """Fitted on what the folds' models predicted, the temperature describes models that
    learnt from about as many rows: a model refitted on every row of a table searched on a
    sample of it is surer than they were, and is exported as it is. Two folds of an odd
    number of rows are not a sample. A refit with fewer rounds at a higher learning rate
    keeps it: on four tables the temperature bettered those refits as it did the others."""
    y, proba = _overconfident(2001)
    sample = np.arange(min(refit_rows, 2001))
    y, proba = y[sample], proba[sample]
    pipeline, *_ = _fitted("linear", Task.BINARY)
    runner = SimpleNamespace(
        settings=SimpleNamespace(
            task=Task.BINARY, metric=get_registry().metric("log_loss"), seed=0
        ),
        sample=sample,
        y=np.concatenate([y, np.zeros(refit_rows - len(sample), int)]),
        folds=folds,
    )
    final = Final(pipeline, None, refit_rows, rounds_scaled=scaled)
    oof = np.concatenate([proba, np.full((refit_rows - len(sample), 2), 0.5)])
    found, calibrated = finish._calibrate(runner, final, oof)
    assert found.beta == pytest.approx(0.5, abs=0.08)
    assert found.kept is kept
    assert (final.pipeline is not pipeline) is kept
    if kept:
        assert log_loss(y, calibrated[sample]) == pytest.approx(found.after)
    else:
        assert "6400 rows, 4.00 times the 1600 of a fold's model" in found.why
        np.testing.assert_array_equal(calibrated, oof)
