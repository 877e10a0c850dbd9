"""Retraining: `automl run NEW_DATA --like MODEL_DIR` repeats the old run's settings, starts
from the old model's configurations and says which of the two is better on the same
held-out rows of the new data."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from support import SAMPLES, assert_clean_failure, run_cli

import automl
from automl import data, evaluate, retrain
from automl.errors import AutoMLWarning
from automl.evaluate import Evaluation


@pytest.fixture(scope="module")
def champion(tmp_path_factory) -> Path:
    """The old model: log loss (not the binary default), three folds, two algorithms."""
    output = tmp_path_factory.mktemp("retrain") / "old"
    model = automl.AutoML(
        time_budget=30, metric="log_loss", n_trials=3, cv=3, algorithms=["lightgbm", "linear"]
    )
    model.fit(SAMPLES / "churn.csv", "churned", output=output)
    return output


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_run_like_repeats_the_settings_and_compares_the_two_models(champion, tmp_path):
    before = _digests(champion)
    old_card = json.loads((champion / "model_card.json").read_text())
    new = tmp_path / "new"
    ran = run_cli(
        "run", str(SAMPLES / "churn_new.csv"), "--like", str(champion), "--n-trials", "3",
        "--no-explain", "--output", str(new), "--json",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)
    # The old run's target, metric, folds and algorithms, without naming them again.
    assert (summary["target"], summary["metric"], summary["cv"]["folds"]) == (
        "churned",
        "log_loss",
        3,
    )
    card = json.loads((new / "model_card.json").read_text())
    assert card["algorithms"] == ["lightgbm", "linear"]
    # As asked: the repetitions of the folds were left to automl, and are again.
    assert old_card["options"] == {"algorithms": ["lightgbm", "linear"], "cv_repeats": None}
    assert card["options"] == old_card["options"]
    # A fifth of the new rows held out, both models scored on them.
    assert card["test"]["rows"] == 100 and card["data"]["rows"] == 400
    parent = card["parent"]
    assert parent["model_sha256"] == old_card["model"]["sha256"]
    assert parent["data_fingerprint"] == old_card["data"]["fingerprint"]
    assert parent["challenger"] == pytest.approx(card["test"]["score"])
    assert parent["better"] in ("challenger", "champion", "neither")
    assert parent["low"] <= parent["difference"] <= parent["high"]
    assert parent["text"] in (new / "model_card.md").read_text()
    # The old model's configuration was the first trial of the new search.
    first = automl.load(new).leaderboard().sort_values("trial").iloc[0]
    configuration = retrain.configurations(old_card)[0]
    assert (first["algorithm"], first["params"]) == configuration
    # Nothing of the old bundle changed.
    assert _digests(champion) == before


def test_options_given_override_the_old_settings(champion, tmp_path):
    ran = run_cli(
        "run", str(SAMPLES / "churn_new.csv"), "--like", str(champion), "--n-trials", "2",
        "--cv", "2", "--metric", "roc_auc", "--algorithms", "linear", "--no-explain",
        "--no-learning-curve", "--output", str(tmp_path / "new"), "--json",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    summary = json.loads(ran.stdout)
    assert (summary["metric"], summary["cv"]["folds"], summary["algorithm"]) == (
        "roc_auc",
        2,
        "linear",
    )
    assert "Retrained" not in ran.stdout  # --json prints the document only
    parent = summary["parent"]
    assert parent["metric"] == "roc_auc"
    # The old model (searched for log loss) is scored on the new run's metric.
    card = json.loads((tmp_path / "new" / "model_card.json").read_text())
    split = card["test"]["split"]
    frame = data.read_table(SAMPLES / "churn_new.csv")
    _, held = evaluate.split(frame, "churned", split["fraction"], split["seed"], True)
    old = automl.load(champion)
    positive = old.schema_.classes[1]
    expected = roc_auc_score(held["churned"] == positive, old.predict_proba(held)[positive])
    assert parent["champion"] == pytest.approx(expected)


def test_the_settings_are_those_asked_for_and_only_of_installed_algorithms():
    card = {
        "task": "binary",
        "metric": {"name": "roc_auc"},
        "cv": {"folds": 3, "repeats": 2},
        "seed": 1,
        "time_budget": 30,
        "algorithms": ["linear", "lightgbm", "gone"],
        "options": {"algorithms": ["linear", "gone"], "cv_repeats": None},
    }
    with pytest.warns(AutoMLWarning, match="with gone, which is not installed"):
        asked = retrain.settings(card)
    assert (asked["algorithms"], asked["cv_repeats"], asked["cv"]) == (["linear"], None, 3)
    chosen = retrain.settings({**card, "options": {"algorithms": None, "cv_repeats": None}})
    assert chosen["algorithms"] is None  # automl chose: it chooses again, among those installed
    older = {k: v for k, v in card.items() if k != "options"}  # an older card: as resolved
    with pytest.warns(AutoMLWarning):
        resolved = retrain.settings(older)
    assert (resolved["algorithms"], resolved["cv_repeats"]) == (["linear", "lightgbm"], 2)


def test_the_old_bundle_is_never_overwritten_and_the_target_kept(champion):
    same = run_cli("run", str(SAMPLES / "churn_new.csv"), "--like", str(champion),
                   "--output", str(champion))  # fmt: skip
    assert_clean_failure(same, 2, "both are kept")
    other = run_cli("run", str(SAMPLES / "churn_new.csv"), "--like", str(champion),
                    "--target", "contract")  # fmt: skip
    assert_clean_failure(other, 2, "is not the target of")
    no_target = run_cli("run", str(SAMPLES / "churn_new.csv"))
    assert_clean_failure(no_target, 2, "--target COL")


def test_the_paired_difference_and_its_interval():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    good = np.clip(0.2 + 0.6 * y + rng.normal(0, 0.1, 400), 0.01, 0.99)
    weak = np.clip(0.4 + 0.2 * y + rng.normal(0, 0.1, 400), 0.01, 0.99)

    def evaluation(p: np.ndarray) -> Evaluation:
        proba = np.column_stack([1 - p, p])
        return Evaluation(
            "rows", automl.contract.Task.BINARY, "log_loss", "minimize", ["n", "y"], y,
            proba, proba.argmax(axis=1), None, np.arange(400), np.zeros(400), 3,
        )  # fmt: skip

    a, b = evaluation(good), evaluation(weak)
    from sklearn.metrics import log_loss

    difference, low, high = retrain.paired(a, b, resamples=300)
    assert difference == pytest.approx(log_loss(y, good) - log_loss(y, weak))
    assert low < difference < high < 0  # the first is clearly better: lower log loss
    assert retrain._better(low, high, "minimize") == "challenger"
    assert retrain._better(-0.1, 0.2, "minimize") == "neither"
