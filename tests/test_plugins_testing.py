"""automl.testing: each contract check passes a sound algorithm or metric and fails, with
a message that says what to fix, on one that breaks that part of the contract."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from plugin_fixtures import BROKEN, GOOD, install

from automl.builtin.linear import build as linear_build
from automl.builtin.linear import search_space as linear_space
from automl.contract import ALL_TASKS, CLASSIFICATION, Algorithm, InputNeeds, Metric, Task
from automl.errors import PluginError
from automl.plugins import get_registry
from automl.testing import (
    check_defaults,
    check_early_stopping,
    check_fit_predict,
    check_id,
    check_metric_direction,
    check_persistence,
    check_reproducible,
    check_search_space,
    checks,
    registered,
    registered_commands,
    run_checks,
)

BINARY = frozenset({Task.BINARY})


def _tree_space(trial, context):
    return {"max_depth": trial.suggest_int("max_depth", 2, 8)}


def _tree(params, task, seed, n_jobs):
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    cls = DecisionTreeClassifier if task.is_classification else DecisionTreeRegressor
    return cls(**params, random_state=seed)


TREE = Algorithm(
    "tree",
    ALL_TASKS,
    _tree_space,
    _tree,
    defaults=({"max_depth": 4},),
    needs=InputNeeds(categorical="ordinal", missing="native"),
    trusted_types=("sklearn.tree._tree.Tree",),
)


def _replace(algorithm: Algorithm, **changes) -> Algorithm:
    fields = {f: getattr(algorithm, f) for f in algorithm.__dataclass_fields__}
    return Algorithm(**{**fields, **changes})


def test_a_sound_algorithm_passes_every_check():
    run_checks(TREE)
    assert [check_id(c) for c in checks(TREE)][:3] == [
        "check_defaults",
        "check_search_space-binary",
        "check_search_space-multiclass",
    ]
    assert len(checks(TREE)) == 1 + 4 * 3


def _space_by_size(trial, context):
    # Fine on big tables; on 20 rows the upper bound drops below the lower one.
    return {"max_depth": trial.suggest_int("max_depth", 2, context.n_rows // 20)}


@pytest.mark.parametrize(
    ("changes", "check", "message"),
    [
        (
            {"search_space": _space_by_size},
            check_search_space,
            "search_space raised ValueError: .* for binary on 20 rows x 1 columns, 2 classes",
        ),
        (
            {"search_space": lambda trial, context: [("max_depth", 3)]},
            check_search_space,
            "not a dict of parameter names to values",
        ),
        (
            {"search_space": lambda trial, context: {"max_depth": np.array([3])}},
            check_search_space,
            "which is not JSON",
        ),
        (
            {"search_space": lambda trial, context: {"depth": trial.suggest_int("depth", 1, 3)}},
            check_search_space,
            "build raised TypeError: .*unexpected keyword argument 'depth'",
        ),
        ({"defaults": ({"max_depth": 40},)}, check_defaults, "outside the binary search space"),
        ({"defaults": ({},)}, check_defaults, "default #1 {} does not fit"),
        (
            {"defaults": ({"max_depth": 4, "max_leaf_nodes": 8},)},
            check_defaults,
            "default #1 sets max_leaf_nodes, which the search space never asks for",
        ),
        ({"trusted_types": ()}, check_persistence, r"\['sklearn.tree._tree.Tree'\]"),
        (
            {"needs": InputNeeds(categorical="ordinal", missing="impute", scale=True)},
            None,
            None,
        ),
    ],
)
def test_a_check_catches_what_it_is_for(changes, check, message):
    algorithm = _replace(TREE, **changes)
    if check is None:  # a variation that must still pass: other input needs are fine
        run_checks(algorithm)
        return
    with pytest.raises(AssertionError, match=message):
        check(algorithm, **({} if check is check_defaults else {"task": Task.BINARY}))


def _forest_unseeded(params, task, seed, n_jobs):
    from sklearn.ensemble import ExtraTreesClassifier

    return ExtraTreesClassifier(n_estimators=5, random_state=None)


def _with_lambda(params, task, seed, n_jobs):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    return make_pipeline(FunctionTransformer(lambda X: X), LogisticRegression())


def _no_proba(params, task, seed, n_jobs):
    from sklearn.svm import LinearSVC

    return LinearSVC(random_state=seed)


def test_an_unpicklable_estimator_is_caught():
    algorithm = Algorithm(
        "lambdas", CLASSIFICATION, linear_space, _with_lambda, needs=InputNeeds(scale=True)
    )
    with pytest.raises(AssertionError, match="cannot be pickled, so it cannot reach the worker"):
        check_persistence(algorithm, Task.BINARY)


def test_a_classifier_without_probabilities_is_caught():
    algorithm = Algorithm(
        "svm", CLASSIFICATION, linear_space, _no_proba, needs=InputNeeds(scale=True)
    )
    with pytest.raises(
        AssertionError, match="returned LinearSVC for binary, which has no predict_proba"
    ):
        check_fit_predict(algorithm, Task.BINARY)


def test_an_estimator_that_cannot_take_missing_values_is_caught():
    # Logistic regression cannot fit NaN: it must ask automl to impute.
    algorithm = Algorithm(
        "nan_logistic",
        CLASSIFICATION,
        linear_space,
        linear_build,
        needs=InputNeeds(categorical="ordinal", missing="native"),
    )
    with pytest.raises(AssertionError, match=r"fitting binary data with .* raised ValueError"):
        check_fit_predict(algorithm, Task.BINARY)


def test_an_unseeded_estimator_is_caught():
    algorithm = Algorithm(
        "unseeded",
        CLASSIFICATION,
        lambda trial, context: {},
        _forest_unseeded,
        needs=InputNeeds(categorical="ordinal"),
    )
    with pytest.raises(AssertionError, match="predict differently"):
        check_reproducible(algorithm, Task.MULTICLASS)


def _accuracy(y_true, y_pred):
    return float(np.mean(y_true == y_pred))


def test_a_sound_metric_passes_and_a_wrong_direction_is_caught():
    run_checks(Metric("hits", CLASSIFICATION, "maximize", _accuracy))
    upside_down = Metric("hits", CLASSIFICATION, "minimize", _accuracy)
    with pytest.raises(AssertionError, match="Is the direction right"):
        check_metric_direction(upside_down, Task.BINARY)


@pytest.mark.parametrize(
    ("score", "needs_proba", "message"),
    [
        (lambda y, p: float("nan"), False, "gave nan, not a finite number"),
        (lambda y, p: "0.5", False, "gave '0.5', not a finite number"),
        # Written for labels but declared as wanting probabilities: it gets an (n, 2) matrix.
        (lambda y, p: float(np.mean(y == p)), True, "raised ValueError: operands could not be"),
        (lambda y, p: float(p[:, 1].mean()), False, "raised IndexError"),
    ],
)
def test_a_metric_that_misreads_its_inputs_is_caught(score, needs_proba, message):
    metric = Metric("odd", BINARY, "maximize", score, needs_proba=needs_proba)
    with pytest.raises(AssertionError, match=message):
        check_metric_direction(metric, Task.BINARY)


def test_parametrize_with_checks_names_each_case():
    from automl.testing import parametrize_with_checks

    mark = parametrize_with_checks([TREE, Metric("hits", BINARY, "maximize", _accuracy)])
    ids = mark.kwargs["ids"]
    assert ids[0] == "tree-check_defaults"
    assert "tree-check_persistence-regression" in ids
    assert ids[-1] == "hits-check_metric_direction-binary"
    assert len(mark.args[1]) == len(ids) == 14
    with pytest.raises(ValueError, match="no algorithm or metric"):
        parametrize_with_checks([])


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("fixture_")]:
        del sys.modules[name]


def test_registered_loads_a_plugin_module_through_its_hooks(site: Path):
    module = install(site, "good", GOOD)
    (algorithm,) = registered(module)
    assert algorithm.name == "good_logistic"
    run_checks(algorithm)


def test_registered_refuses_a_plugin_automl_would_mark_broken(site: Path):
    module = install(site, "duplicate", BROKEN["duplicate"][0])
    with pytest.raises(PluginError, match=re.escape(BROKEN["duplicate"][1])):
        registered(module)


def test_registered_commands_refuses_an_automl_command_name(site: Path):
    from plugin_fixtures import COMMAND_CLASH

    module = install(site, "clash", COMMAND_CLASH)
    with pytest.raises(AssertionError, match="automl already has the command"):
        registered_commands(module)


def _none_built(estimator):
    return 0


def test_check_early_stopping_catches_built_rounds_fewer_than_the_kept_ones():
    lightgbm = get_registry().algorithm("lightgbm")
    check_early_stopping(lightgbm, Task.BINARY)
    stopping = dataclasses.replace(lightgbm.early_stopping, built_rounds=_none_built)
    with pytest.raises(AssertionError, match="lightgbm: built_rounds gave 0, not a number of"):
        check_early_stopping(_replace(lightgbm, early_stopping=stopping), Task.BINARY)


def _never_stops(estimator, stop_at):
    return {}


def test_check_early_stopping_catches_a_refit_that_does_not_stop_in_time():
    lightgbm = get_registry().algorithm("lightgbm")
    stopping = dataclasses.replace(lightgbm.early_stopping, stop_params=_never_stops)
    with pytest.raises(AssertionError, match="lightgbm: given a stop_at already passed, the refit"):
        check_early_stopping(_replace(lightgbm, early_stopping=stopping), Task.BINARY)


def _always_stops(estimator, stop_at):
    from automl.builtin.lightgbm import StopAt

    return {"callbacks": [StopAt(0.0)]}  # whatever time it is given


def test_check_early_stopping_catches_a_refit_that_stops_before_its_time():
    lightgbm = get_registry().algorithm("lightgbm")
    stopping = dataclasses.replace(lightgbm.early_stopping, stop_params=_always_stops)
    with pytest.raises(AssertionError, match="lightgbm: given a stop_at an hour away, the refit"):
        check_early_stopping(_replace(lightgbm, early_stopping=stopping), Task.BINARY)


@pytest.mark.parametrize("rate", ["num_leaves", "learning_rates"])
def test_check_early_stopping_catches_a_rate_that_is_not_a_learning_rate(rate):
    """`EarlyStopping.rate` must name a float parameter the refit can raise (an integer or
    a misspelt one would be planned with nonsense)."""
    lightgbm = get_registry().algorithm("lightgbm")
    stopping = dataclasses.replace(lightgbm.early_stopping, rate=rate)
    with pytest.raises(AssertionError, match=f"rate '{rate}' is not a positive float parameter"):
        check_early_stopping(_replace(lightgbm, early_stopping=stopping), Task.BINARY)
