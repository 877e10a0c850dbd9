"""The expected-cost metric: its contract checks, its arithmetic, its configuration, and
a search that optimises it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from automl_cost import Costs, expected_cost

from automl.contract import Task
from automl.testing import parametrize_with_checks, registered, sample_table


@parametrize_with_checks(registered("automl_cost"))
def test_contract(item, check):
    check(item)


def test_each_mistake_costs_its_price():
    y_true = np.array([0, 0, 1, 1, 1])
    # One false positive (row 0) and one false negative (row 2).
    y_pred = np.array([1, 0, 0, 1, 1])
    costs = Costs(false_positive=2.0, false_negative=10.0)
    assert expected_cost(y_true, y_pred, costs) == pytest.approx((2.0 + 10.0) / 5)


def test_costs_come_from_the_environment_with_defaults():
    assert Costs.from_environment({}) == Costs(1.0, 1.0)
    environ = {"AUTOML_COST_FP": "0.5", "AUTOML_COST_FN": " 20 "}
    assert Costs.from_environment(environ) == Costs(0.5, 20.0)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AUTOML_COST_FN", "five", "AUTOML_COST_FN='five' is not a number"),
        ("AUTOML_COST_FP", "-1", "AUTOML_COST_FP='-1' must be at least 0"),
    ],
)
def test_a_bad_setting_is_named(name, value, message):
    with pytest.raises(ValueError, match=message):
        Costs.from_environment({name: value})


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "automl", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def binary_csv(tmp_path: Path) -> Path:
    path = tmp_path / "churn.csv"
    sample_table(Task.BINARY, n_rows=200).to_csv(path, index=False)
    return path


def test_a_search_minimises_the_configured_cost(binary_csv: Path, tmp_path: Path):
    result = _run(
        "run",
        str(binary_csv),
        "--target",
        "target",
        "--metric",
        "expected_cost",
        "--algorithms",
        "linear",
        "--time-budget",
        "20",
        "--n-trials",
        "3",
        "--cv",
        "3",
        "--n-jobs",
        "1",
        "--output",
        str(tmp_path / "model"),
        "--json",
        env={"AUTOML_COST_FP": "1", "AUTOML_COST_FN": "5"},
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["metric"], summary["direction"]) == ("expected_cost", "minimize")
    # Every fold's cost lies between no mistake and every row a false negative.
    assert all(0.0 <= score <= 5.0 for score in summary["fold_scores"])
    # A false negative costing five false positives, the model says yes more readily than
    # at 0.5: automl chose the threshold on the out-of-fold probabilities.
    choice = summary["decision"]
    assert choice["metric"] == "expected_cost" and choice["threshold"] < 0.5
    assert choice["score"] <= choice["score_at_half"]


def test_a_bad_setting_fails_a_run_that_asks_for_the_metric_with_its_reason(binary_csv: Path):
    result = _run(
        "run",
        str(binary_csv),
        "--target",
        "target",
        "--metric",
        "expected_cost",
        "--time-budget",
        "10",
        env={"AUTOML_COST_FN": "five"},
    )
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "AUTOML_COST_FN='five' is not a number" in result.stderr
