"""The CatBoost plugin: its contract checks, categorical columns given as codes, and a
search that uses it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from automl_catboost.estimators import MISSING_CODE, CodedCatBoostClassifier, coded

import automl
from automl import data, explain
from automl.contract import Task
from automl.plugins import load_registry
from automl.preprocess import build_candidate
from automl.testing import parametrize_with_checks, registered, sample_table


@parametrize_with_checks(registered("automl_catboost"))
def test_contract(item, check):
    check(item)


def test_the_installed_distribution_provides_the_plugin():
    registry = load_registry(only=["catboost"], strict=True)
    (info,) = [p for p in registry.plugins if not p.builtin]
    assert (info.name, info.distribution, info.status) == ("catboost", "automl-catboost", "ok")
    assert info.algorithms == ["catboost"]


def test_listing_plugins_does_not_import_catboost():
    import subprocess
    import sys

    code = "import sys, automl_catboost; print('catboost' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_categorical_codes_reach_catboost_as_integers_with_missing_a_category_of_its_own():
    X = np.array([[0.5, 1.0], [0.2, np.nan], [0.9, 0.0], [0.1, 2.0]] * 10)
    frame = coded(X, [1])
    assert frame["1"].tolist()[:4] == [1, MISSING_CODE, 0, 2] and frame["0"].dtype == float
    y = (X[:, 0] > 0.4).astype(int)
    model = CodedCatBoostClassifier(
        iterations=10, cat_features=[1], verbose=False, allow_writing_files=False
    ).fit(X, y)
    assert model.predict_proba(X).shape == (40, 2)


def test_a_search_with_categoricals_saves_a_model_that_loads_and_predicts(tmp_path: Path):
    table = sample_table(Task.BINARY, n_rows=200)
    model = automl.AutoML(
        time_budget=30, algorithms=["catboost"], n_trials=2, cv=3, n_jobs=1, explanations=False
    ).fit(table, target="target", output=tmp_path / "model")
    assert model.card["best"]["algorithm"] == "catboost"
    new = table.drop(columns="target").head(10).copy()
    new.loc[:4, "colour"] = "a colour never seen"
    loaded = automl.load(tmp_path / "model")
    assert np.allclose(loaded.predict_proba(new), model.predict_proba(new))
    assert not (Path.cwd() / "catboost_info").exists()


def test_a_model_with_categoricals_is_explained_and_its_contributions_add_up():
    # shap's TreeExplainer takes a CatBoost model but feeds it floats, which CatBoost
    # refuses in categorical columns: the model-agnostic explainer takes over.
    table = sample_table(Task.BINARY, n_rows=200)
    schema = data.infer_schema(table, "target", None, "test")
    X = data.prepare(table, schema)
    y = data.encode_target(table["target"], schema)
    algorithm = load_registry(only=["catboost"]).algorithm("catboost")
    params = {**algorithm.defaults[0], "iterations": 50}
    pipeline = build_candidate(algorithm, schema, params, schema.task, 0, 1).fit(X, y)
    rows = table.head(6)
    result = explain.explain(pipeline, schema, rows, explain.background_sample(X))
    assert (result.method, result.space) == ("kernel", "probability")
    np.testing.assert_allclose(
        result.output(), pipeline.predict_proba(X.head(6))[:, 1:], rtol=1e-3, atol=1e-4
    )


def test_the_rounds_built_count_the_patience_past_the_kept_ones():
    """The search estimates the refit per round built (`EarlyStopping.built_rounds`):
    CatBoost keeps only the best rounds, but built the patience's past them."""
    import numpy as np
    from automl_catboost import CATBOOST, best_rounds, built_rounds, stopping_fit_params
    from catboost import CatBoostClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 5))
    y = (X[:, 0] + rng.normal(0, 1, 2000) > 0).astype(int)
    model = CatBoostClassifier(
        iterations=1000, learning_rate=0.3, verbose=0, thread_count=1, allow_writing_files=False
    )
    fit_params = stopping_fit_params(model, X[1500:], y[1500:])
    model.fit(X[:1500], y[:1500], **fit_params)
    kept, built = best_rounds(model), built_rounds(model)
    assert model.tree_count_ == kept < 1000
    assert built == kept + fit_params["early_stopping_rounds"]
    assert CATBOOST.early_stopping.built_rounds is built_rounds
