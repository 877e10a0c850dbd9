"""The XGBoost plugin: its contract checks, its discovery, and a search that uses it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import automl
from automl.contract import Task
from automl.plugins import load_registry
from automl.testing import parametrize_with_checks, registered, sample_table


@parametrize_with_checks(registered("automl_xgboost"))
def test_contract(item, check):
    check(item)


def test_the_installed_distribution_provides_the_plugin():
    registry = load_registry(only=["xgboost"], strict=True)
    (info,) = [p for p in registry.plugins if not p.builtin]
    assert (info.name, info.distribution, info.status) == ("xgboost", "automl-xgboost", "ok")
    assert info.version and info.algorithms == ["xgboost"]


def test_listing_plugins_does_not_import_xgboost():
    import subprocess
    import sys

    code = "import sys, automl_xgboost; print('xgboost' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_regression_search_saves_a_model_that_loads_and_predicts(tmp_path: Path):
    table = sample_table(Task.REGRESSION, n_rows=200)
    model = automl.AutoML(time_budget=30, algorithms=["xgboost"], n_trials=2, cv=3, n_jobs=1).fit(
        table, target="target", output=tmp_path / "model"
    )
    assert model.card["best"]["algorithm"] == "xgboost"

    new = table.drop(columns="target").head(10).copy()
    new.loc[:4, "colour"] = "a colour never seen"
    loaded = automl.load(tmp_path / "model")
    predictions = loaded.predict(new)
    assert np.all(np.isfinite(predictions))
    assert np.allclose(predictions, model.predict(new))
