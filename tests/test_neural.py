"""The built-in multi-layer perceptron ("mlp")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score

import automl
from automl import AutoML
from automl.builtin.neural import EARLY_STOPPING_ROWS, build, search_space
from automl.contract import SearchContext, Task
from automl.testing import parametrize_with_checks, registered


@parametrize_with_checks(registered("automl.builtin.neural"))
def test_the_mlp_passes_the_plugin_checks(item, check):
    check(item)


@pytest.mark.parametrize(("rows", "stops"), [(EARLY_STOPPING_ROWS - 1, False), (50_000, True)])
def test_only_large_tables_stop_training_on_held_out_rows(rows, stops):
    from optuna.trial import FixedTrial

    params = {"width": 32, "layers": 1, "alpha": 1e-3, "learning_rate_init": 1e-3, "max_iter": 50}
    context = SearchContext(task=Task.BINARY, n_rows=rows, n_columns=5, n_classes=2)
    chosen = search_space(FixedTrial(params), context)
    assert chosen["early_stopping"] is stops
    assert build(chosen, Task.BINARY, 0, 1).early_stopping is stops


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
