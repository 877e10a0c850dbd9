"""The built-in multi-layer perceptron ("mlp")."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score

import automl
from automl import AutoML
from automl.builtin.neural import EARLY_STOPPING_ROWS, build
from automl.contract import Task
from automl.data import encode_target, infer_schema, prepare
from automl.plugins import get_registry
from automl.preprocess import build_candidate
from automl.testing import parametrize_with_checks, registered, sample_table
from automl.worker import fit_fold


@parametrize_with_checks(registered("automl.builtin.neural"))
def test_the_mlp_passes_the_plugin_checks(item, check):
    check(item)


@pytest.mark.parametrize(("rows", "stops"), [(EARLY_STOPPING_ROWS - 1, False), (5_000, True)])
def test_only_folds_of_thousands_of_rows_stop_training_on_held_out_rows(rows, stops):
    # On fewer rows a held-out tenth is too few to judge by: the fold learns from them all.
    algorithm = get_registry().algorithm("mlp")
    frame = sample_table(Task.MULTICLASS, n_rows=rows, seed=3)
    schema = infer_schema(frame, "target")
    X, y = prepare(frame, schema), encode_target(frame["target"], schema)
    params = {"width": 16, "layers": 1, "alpha": 1e-3, "learning_rate_init": 1e-3, "max_iter": 30}
    candidate = build_candidate(algorithm, schema, params, Task.MULTICLASS, 0, 1)
    fitted, epochs = fit_fold(candidate, X, y, np.arange(rows), classification=True)
    assert (epochs is not None) is stops
    if stops:
        assert 1 <= epochs <= 30 and epochs <= len(fitted[-1].loss_curve_)


def test_a_network_stopped_on_held_out_rows_keeps_its_best_epoch():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(1200, 6))
    y = (X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(scale=1.0, size=1200) > 0).astype(int)
    held_out = {"X_valid": X[1000:], "y_valid": y[1000:]}
    settings = {"width": 64, "layers": 2, "alpha": 1e-6, "learning_rate_init": 1e-2}
    model = build({**settings, "max_iter": 300}, Task.BINARY, 0, 1)
    model.fit(X[:1000], y[:1000], **held_out)
    built = len(model.loss_curve_)
    # It stopped on the held-out rows, past its best epoch by the patience...
    assert model.n_iter_ < built < 300
    assert built - model.n_iter_ == model.n_iter_no_change + 1
    # ... and kept that epoch's weights: the same network stopped there scores the same.
    again = build({**settings, "max_iter": model.n_iter_}, Task.BINARY, 0, 1)
    again.fit(X[:1000], y[:1000], **held_out)
    assert len(again.loss_curve_) == model.n_iter_
    assert np.allclose(again.predict_proba(X[1000:]), model.predict_proba(X[1000:]))


def test_a_network_given_a_time_stops_adding_epochs_by_then():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3000, 10))
    y = X @ rng.normal(size=10) * 1000 + 50_000
    model = build({"width": 64, "layers": 2, "max_iter": 500}, Task.REGRESSION, 0, 1)
    start = time.monotonic()
    model.fit(X, y, stop_at=start + 0.3)
    # No held-out rows: every epoch built is kept, fewer than asked for.
    assert 1 <= model.n_iter_ == len(model.loss_curve_) < 500
    assert r2_score(y, model.predict(X)) > 0.5


def test_a_regression_target_in_the_hundreds_of_thousands_is_learnt():
    # Unscaled, a target of this size takes Adam hundreds of epochs just to reach its mean.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    frame["price"] = 300_000 + 50_000 * frame["a"] - 20_000 * frame["b"] ** 2
    model = build({"width": 32, "layers": 1, "max_iter": 200}, Task.REGRESSION, 0, 1)
    model.fit(frame[["a", "b", "c"]].head(300), frame["price"].head(300))
    held_out = frame.tail(100)
    assert r2_score(held_out["price"], model.predict(held_out[["a", "b", "c"]])) > 0.9


def test_a_run_of_the_mlp_alone_exports_a_model_that_predicts(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"x": rng.normal(size=300), "colour": rng.choice(["red", "blue", "green"], 300)}
    )
    frame.loc[rng.random(300) < 0.1, "x"] = np.nan
    frame["bought"] = np.where(frame["x"].fillna(0) + (frame["colour"] == "red") > 0.5, "yes", "no")
    # Three folds, not repeated: a test of the export, not of the search (fifteen folds of the
    # network could miss a 20 s budget on a busy machine).
    model = AutoML(
        time_budget=20, algorithms=["mlp"], n_trials=2, cv=3, cv_repeats=1, explanations=False,
        learning_curve=False, seed=0,
    )  # fmt: skip
    model.fit(frame, target="bought")
    assert model.card["best"]["algorithm"] == "mlp"
    model.save(tmp_path / "run")
    loaded = automl.load(tmp_path / "run")
    proba = loaded.predict_proba(frame.head(20))
    assert list(proba.columns) == ["no", "yes"]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(loaded.predict(frame.head(20)), model.predict(frame.head(20)))


def test_a_refit_that_stops_of_its_own_accord_before_its_time_is_not_cut():
    from automl.preprocess import rounds_cut

    algorithm = get_registry().algorithm("mlp")
    frame = sample_table(Task.BINARY, n_rows=300, seed=6)
    schema = infer_schema(frame, "target")
    X, y = prepare(frame, schema), encode_target(frame["target"], schema)
    params = {"width": 16, "layers": 1, "alpha": 1e-3, "learning_rate_init": 1e-2, "max_iter": 500}
    candidate = build_candidate(algorithm, schema, params, Task.BINARY, 0, 1)
    stop_at = time.monotonic() + 3600
    fitted = candidate.fit(X, y, stop_at=stop_at)
    epochs = fitted[-1].n_iter_
    # Its training loss stopped improving long before 500 epochs and an hour.
    assert epochs == len(fitted[-1].loss_curve_) < 500
    stopping = candidate.early_stopping
    assert rounds_cut(stopping, fitted, stop_at, time.monotonic()) is None
    # Had it run to its time with as few, it would have been cut.
    assert rounds_cut(stopping, fitted, stop_at, stop_at) == (epochs, 500)
