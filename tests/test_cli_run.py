"""`automl run` then `automl predict` on each sample table, as a user runs them."""

from __future__ import annotations

import json
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from support import SAMPLES, quick, run_cli

CASES = [
    # table, target, task, default metric, a sanity bound on the CV score
    ("churn.csv", "churned", "binary", "roc_auc", lambda s: s > 0.75),
    ("wine.csv", "cultivar", "multiclass", "log_loss", lambda s: s < 0.5),
    ("houses.csv", "price", "regression", "rmse", None),
]


@pytest.mark.parametrize(("table", "target", "task", "metric", "good"), CASES)
def test_run_then_predict(tmp_path, table, target, task, metric, good):
    out = tmp_path / "model"
    result = run_cli(
        "run",
        str(SAMPLES / table),
        "--target",
        target,
        # The six trials take about ten seconds; the budget leaves room for a busy machine.
        # Not repeated: from 60 s on, the folds would be repeated two or three times.
        "--time-budget",
        "90",
        "--n-trials",
        "6",
        "--cv",
        "3",
        "--cv-repeats",
        "1",
        # Nor a learning curve, which nothing here looks at (5 s of the churn run's 28).
        "--no-learning-curve",
        "--output",
        str(out),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["task"], summary["metric"], summary["target"]) == (task, metric, target)
    assert summary["cv"]["folds"] == 3
    assert len(summary["fold_scores"]) == 3 * summary["cv"]["repeats"]
    assert np.isclose(summary["score"], np.mean(summary["fold_scores"]))
    assert sum(summary["trials"].values()) >= 6
    assert summary["leaderboard"][0]["algorithm"] == summary["algorithm"]
    data = pd.read_csv(SAMPLES / table)
    if good is not None:
        assert good(summary["score"]), summary
    else:  # regression: must beat predicting the mean
        assert summary["score"] < data[target].std()
    card = json.loads((out / "model_card.json").read_text())
    assert card["cv"]["score"] == summary["score"]
    assert (out / "model_card.md").read_text().startswith(f"# Model card: {target}")

    proba = task != "regression"
    args = ["predict", str(out), str(SAMPLES / table)] + (["--proba"] if proba else [])
    predicted = run_cli(*args)
    assert predicted.returncode == 0, predicted.stderr
    frame = pd.read_csv(StringIO(predicted.stdout))
    assert len(frame) == len(data)
    if proba:
        classes = sorted(data[target].dropna().astype(str).unique())
        assert list(frame.columns) == ["prediction", *classes]
        assert np.allclose(frame[classes].sum(axis=1), 1.0)
        # the predicted label is the most probable class, and mostly right on training rows
        assert (frame[classes].idxmax(axis=1) == frame["prediction"].astype(str)).all()
        assert (frame["prediction"].astype(str) == data[target].astype(str)).mean() > 0.7
    else:
        assert list(frame.columns) == ["prediction"]
        assert np.corrcoef(frame["prediction"], data[target])[0, 1] > 0.8


def test_predict_writes_file_and_info_reads_card(tmp_path, mixed_csv):
    out = tmp_path / "model"
    ran = run_cli(
        "run",
        str(mixed_csv),
        "--target",
        "bought",
        *quick(n_trials=3),
        "--output",
        str(out),
        "--quiet",
    )
    assert ran.returncode == 0, ran.stderr
    assert "Best: linear" in ran.stdout
    preds = tmp_path / "preds.csv"
    predicted = run_cli("predict", str(out), str(mixed_csv), "--output", str(preds))
    assert predicted.returncode == 0, predicted.stderr
    assert pd.read_csv(preds)["prediction"].isin(["yes", "no"]).all()
    info = run_cli("info", str(out), "--json")
    assert info.returncode == 0
    card = json.loads(info.stdout)
    assert card["best"]["algorithm"] == "linear"
    assert {c["name"] for c in card["schema"]["columns"]} == {
        "age",
        "income",
        "city",
        "member",
        "joined",
    }
    assert card["data"]["rows"] == 300 and len(card["data"]["fingerprint"]) == 64


def test_progress_lines_on_stderr_results_on_stdout(tmp_path, mixed_csv):
    out = tmp_path / "model"
    ran = run_cli(
        "run",
        str(mixed_csv),
        "--target",
        "bought",
        *quick("linear,lightgbm", n_trials=3),
        "--output",
        str(out),
    )
    assert ran.returncode == 0, ran.stderr
    assert "best so far" in ran.stderr and "search done" in ran.stderr
    assert "best so far" not in ran.stdout
    assert "Leaderboard" in ran.stdout
