"""SHAP explanations in the user's columns: additivity on every explainer path, folding of
derived columns, multiclass, and rows the model has not seen the like of."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, softmax
from support import make_mixed

from automl import data, explain
from automl.plugins import get_registry
from automl.preprocess import build_candidate

COLUMNS = ["age", "income", "city", "member", "joined"]


def fitted(frame: pd.DataFrame, target: str, algorithm: str, params=None, task=None):
    schema = data.infer_schema(frame, target, task, "test")
    X = data.prepare(frame, schema)
    y = data.encode_target(frame[target], schema)
    chosen = get_registry().algorithm(algorithm)
    params = params if params is not None else dict(chosen.defaults[0])
    pipeline = build_candidate(chosen, schema, params, schema.task, 0, 1).fit(X, y)
    return pipeline, schema, X


def model_output(pipeline, schema, rows: pd.DataFrame, space: str) -> np.ndarray:
    """The model's own output for `rows` in `space`, computed without the explainer."""
    X = data.prepare(rows, schema)
    if schema.classes is None:
        return np.asarray(pipeline.predict(X), dtype=float)[:, None]
    proba = pipeline.predict_proba(X)
    if len(schema.classes) == 2:
        p = proba[:, 1:]
        return {"probability": p, "log-odds": np.log(p / (1 - p))}[space]
    if space == "probability":
        return proba
    # Raw scores are defined up to a constant per row; compare their softmax instead.
    return np.log(proba)


@pytest.mark.parametrize(
    ("algorithm", "method", "space"),
    [
        ("lightgbm", "lightgbm", "log-odds"),
        ("random_forest", "tree", "probability"),
        ("linear", "linear", "log-odds"),
        ("knn", "kernel", "probability"),
        ("mlp", "kernel", "probability"),
    ],
)
def test_contributions_plus_base_give_the_model_output(algorithm, method, space):
    frame = make_mixed(240)
    pipeline, schema, X = fitted(frame, "bought", algorithm)
    rows = frame.head(12)
    result = explain.explain(pipeline, schema, rows, explain.background_sample(X))
    assert (result.method, result.space) == (method, space)
    assert result.values.shape == (12, len(COLUMNS), 1)
    assert result.columns == COLUMNS
    np.testing.assert_allclose(
        result.output(), model_output(pipeline, schema, rows, space), rtol=1e-3, atol=1e-4
    )


def test_regression_contributions_are_in_the_target_units():
    frame = make_mixed(240).drop(columns="bought")
    frame["spend"] = frame["income"].fillna(20_000) / 100 + frame["age"] * 3
    for algorithm in ("lightgbm", "linear", "extra_trees"):
        pipeline, schema, X = fitted(frame, "spend", algorithm)
        result = explain.explain(pipeline, schema, frame.head(8), explain.background_sample(X))
        assert result.space == "target", algorithm
        np.testing.assert_allclose(
            result.output()[:, 0], pipeline.predict(X.head(8)), rtol=1e-4, atol=1e-3
        )


def test_multiclass_explains_each_class_and_adds_up():
    frame = make_mixed(300)
    frame["bought"] = np.select([frame["age"] < 35, frame["age"] < 60], ["young", "mid"], "old")
    for algorithm in ("lightgbm", "linear"):
        pipeline, schema, X = fitted(frame, "bought", algorithm)
        result = explain.explain(pipeline, schema, frame.head(10), explain.background_sample(X))
        assert result.outputs == ["mid", "old", "young"]
        assert result.values.shape == (10, len(COLUMNS), 3)
        assert result.space == "raw score"
        np.testing.assert_allclose(
            softmax(result.output(), axis=1),
            pipeline.predict_proba(X.head(10)),
            rtol=1e-3,
            atol=1e-5,
        )
        importance = explain.importance(result)
        assert {"importance[mid]", "importance[old]", "importance[young]"} <= set(importance)
        assert importance["column"].iloc[0] == "age"  # the only column the classes depend on


def test_one_hot_levels_and_date_parts_fold_back_into_their_column():
    frame = make_mixed(240)
    pipeline, schema, X = fitted(frame, "bought", "linear")
    preprocess = pipeline.named_steps["preprocess"]
    owners = explain.transformed_owners(preprocess, schema)
    names = [c.name for c in schema.columns]
    transformed = preprocess.transform(X.head(3))
    assert len(owners) == transformed.shape[1] > len(names)
    # Each one-hot level of "city" (and its pooled/missing columns) belongs to city ...
    city = names.index("city")
    assert (owners == city).sum() == len(
        preprocess.named_transformers_["categorical"].categories_[0]
    )
    # ... and each of the date's parts (year, month, ...) to "joined".
    joined = schema.columns[names.index("joined")]
    assert len(joined.parts) > 1
    assert (owners == names.index("joined")).sum() == len(joined.parts)
    # Folded values are the sums of the transformed columns' values.
    result = explain.explain(pipeline, schema, frame.head(5), explain.background_sample(X))
    import shap

    linear = shap.LinearExplainer(
        pipeline[-1],
        shap.maskers.Independent(preprocess.transform(explain.background_sample(X)), 100),
    )
    raw = linear(transformed[:3]).values
    np.testing.assert_allclose(result.values[:3, city, 0], raw[:, owners == city].sum(axis=1))


def test_a_model_shaps_trees_misread_falls_back_to_the_model_agnostic_explainer():
    # shap's TreeExplainer cannot follow HistGradientBoosting's categorical splits: its
    # values would not add up, so the explainer must notice and switch.
    frame = make_mixed(240)
    pipeline, schema, X = fitted(frame, "bought", "hist_gradient_boosting")
    result = explain.explain(pipeline, schema, frame.head(4), explain.background_sample(X))
    assert result.method == "kernel" and result.space == "probability"
    np.testing.assert_allclose(
        result.output(), pipeline.predict_proba(X.head(4))[:, 1:], rtol=1e-3, atol=1e-4
    )


def test_rows_with_unseen_categories_and_gaps_are_explained():
    frame = make_mixed(240)
    pipeline, schema, X = fitted(frame, "bought", "lightgbm")
    odd = frame.head(4).copy()
    odd.loc[odd.index[0], "city"] = "atlantis"
    odd.loc[odd.index[1], ["age", "income"]] = np.nan
    odd.loc[odd.index[2], "joined"] = None
    result = explain.explain(pipeline, schema, odd, explain.background_sample(X))
    assert np.isfinite(result.values).all()
    np.testing.assert_allclose(
        expit(result.output()[:, 0]), pipeline.predict_proba(data.prepare(odd, schema))[:, 1]
    )
    why = explain.contributions(result, ["yes"] * 4, top=2)
    first = why[why["row"] == odd.index[0]]
    assert len(first) == 3 and first["column"].iloc[-1] == "(3 other columns)"
    assert set(first["column"].iloc[:2]) <= set(COLUMNS)
    # Each row's lines add up to its output: base value plus contributions.
    for row, lines in why.groupby("row"):
        total = lines["base_value"].iloc[0] + lines["contribution"].sum()
        assert total == pytest.approx(result.output()[list(odd.index).index(row), 0])


def test_large_tables_are_explained_on_a_sample_and_say_so():
    frame = make_mixed(400)
    pipeline, schema, X = fitted(frame, "bought", "lightgbm")
    result = explain.explain(pipeline, schema, frame, explain.background_sample(X), max_rows=50)
    assert result.sampled and len(result.rows) == 50 and result.n_total == 400
    everything = explain.explain(pipeline, schema, frame, explain.background_sample(X))
    assert not everything.sampled and len(everything.rows) == 400


def test_a_passed_deadline_still_explains_a_first_chunk():
    frame = make_mixed(200)
    pipeline, schema, X = fitted(frame, "bought", "knn")
    result = explain.explain(
        pipeline, schema, frame, explain.background_sample(X), deadline=0.0, max_rows=None
    )
    assert 1 <= len(result.rows) < 200 and result.sampled


def test_importance_names_the_direction_of_a_clear_effect():
    frame = make_mixed(300)
    pipeline, schema, X = fitted(frame, "bought", "linear")
    result = explain.explain(pipeline, schema, frame, explain.background_sample(X))
    importance = explain.importance(result).set_index("column")
    # "bought" rises with age and is more likely in the north (see make_mixed).
    assert importance.loc["age", "direction"] == "higher values raise it"
    assert importance.loc["city", "direction"].startswith("north raises it most")
    assert importance.index[0] in ("age", "city")
    assert (importance["importance"].diff().dropna() <= 0).all()


def test_a_forest_too_large_for_the_time_left_gets_approximate_attributions():
    frame = make_mixed(240)
    pipeline, schema, X = fitted(frame, "bought", "random_forest")
    result = explain.explain(
        pipeline, schema, frame.head(6), explain.background_sample(X), deadline=0.0
    )
    assert result.method == "tree-approximate" and result.space == "probability"
    np.testing.assert_allclose(
        result.output(), pipeline.predict_proba(X.head(6))[:, 1:], rtol=1e-3, atol=1e-4
    )


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_an_ensemble_is_the_weighted_mean_of_its_members_explanations(task):
    from automl.ensemble import voting_estimator

    frame = make_mixed(240)
    target = "bought"
    if task == "regression":
        frame = frame.drop(columns="bought")
        frame["spend"] = frame["age"] * 3 + frame["income"].fillna(20_000) / 1000
        target = "spend"
    members = [fitted(frame, target, name) for name in ("lightgbm", "random_forest", "linear")]
    schema, X = members[0][1], members[0][2]
    n_classes = len(schema.classes) if schema.classes else None
    voting = voting_estimator(
        [(i, m[0]) for i, m in enumerate(members)], [0.5, 0.3, 0.2], n_classes
    )
    result = explain.explain(voting, schema, frame.head(6), explain.background_sample(X))
    assert result.method.startswith("ensemble of ")
    if task == "regression":
        # Every member has an exact explainer in the target's units.
        assert result.method == "ensemble of lightgbm, linear, tree"
        expected = voting.predict(X.head(6))[:, None]
    else:
        # Forests give probabilities; LightGBM and logistic regression give log-odds,
        # so those two members go through the model-agnostic explainer.
        assert result.method == "ensemble of kernel, tree"
        expected = voting.predict_proba(X.head(6))[:, 1:]
    np.testing.assert_allclose(result.output(), expected, rtol=1e-3, atol=1e-4)
