"""Held-out evaluation (`run --test`, `--test-size`, `automl evaluate`), out-of-fold
diagnostics, the learning curve, and the decision threshold of imbalanced binary models."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn.metrics as skm
from support import SAMPLES, assert_clean_failure, run_cli

import automl
from automl import curve, decision, evaluate
from automl.contract import Task
from automl.errors import DataError

WINE = SAMPLES / "wine.csv"


@pytest.fixture(scope="module")
def wine_run(tmp_path_factory) -> tuple[Path, Path, dict]:
    """A model of the real wine table (UCI, via scikit-learn), trained on 130 rows and
    tested on the other 48, which `--test` keeps from the search."""
    folder = tmp_path_factory.mktemp("wine")
    table = pd.read_csv(WINE)
    test = table.sample(48, random_state=1)
    table.drop(index=test.index).to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    output = folder / "model"
    ran = run_cli(
        "run", str(folder / "train.csv"), "--target", "cultivar", "--test",
        str(folder / "test.csv"), "--algorithms", "linear,lightgbm", "--n-trials", "4",
        "--cv", "3", "--output", str(output), "--json",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    return output, folder / "test.csv", json.loads(ran.stdout)


def test_the_test_score_is_what_scikit_learn_computes_from_predict(wine_run, tmp_path):
    output, test_csv, summary = wine_run
    test = pd.read_csv(test_csv)
    predicted = run_cli("predict", str(output), str(test_csv), "--proba")
    assert predicted.returncode == 0, predicted.stderr
    rows = pd.read_csv(StringIO(predicted.stdout))
    classes = [str(c) for c in summary["classes"]]
    proba = rows[classes].to_numpy()
    actual = test["cultivar"].astype(str).to_numpy()
    codes = np.searchsorted(classes, actual)
    labels = rows["prediction"].astype(str).to_numpy()
    expected = {
        "log_loss": skm.log_loss(codes, proba, labels=range(len(classes))),
        "roc_auc": skm.roc_auc_score(codes, proba, multi_class="ovr"),
        "accuracy": skm.accuracy_score(actual, labels),
        "balanced_accuracy": skm.balanced_accuracy_score(actual, labels),
        "f1": skm.f1_score(actual, labels, average="macro"),
        "precision": skm.precision_score(actual, labels, average="macro", zero_division=0),
        "recall": skm.recall_score(actual, labels, average="macro"),
    }
    test_section = summary["test"]
    assert test_section["rows"] == 48 and test_section["metric"] == "log_loss"
    assert test_section["score"] == pytest.approx(expected["log_loss"], abs=1e-9)
    for name, value in expected.items():
        assert test_section["scores"][name]["score"] == pytest.approx(value, abs=1e-9), name
    # `automl evaluate` on the same files prints the same numbers.
    evaluated = run_cli("evaluate", str(output), str(test_csv), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    again = json.loads(evaluated.stdout)
    for name, value in expected.items():
        assert again["scores"][name]["score"] == pytest.approx(value, abs=1e-9), name
    confusion = skm.confusion_matrix(actual, labels, labels=classes)
    assert again["confusion_matrix"]["counts"] == confusion.tolist()
    # Each score has an interval around it, and the verdict compares it with the CV.
    for score in again["scores"].values():
        assert score["low"] <= score["score"] <= score["high"]
    assert again["agreement"]["text"].startswith("The test score")


def test_the_card_report_and_info_show_the_test_score_beside_the_estimate(wine_run):
    output, _, _ = wine_run
    card = json.loads((output / "model_card.json").read_text())
    assert card["data"]["rows"] == 130  # the search and the refit saw the training rows only
    assert card["refit"]["rows"] == 130 and card["out_of_fold"]["rows"] == 130
    assert card["test"]["source"].endswith("test.csv")
    report = (output / "report.md").read_text()
    assert "## Held-out test" in report and card["test"]["agreement"]["text"] in report
    assert "## Learning curve" in report and card["learning_curve"]["verdict"] in report
    assert "(test_calibration.png)" in report and "(learning_curve.png)" in report
    info = run_cli("info", str(output))
    assert "## Held-out test" in info.stdout and "| log_loss (the metric) |" in info.stdout
    printed = run_cli("evaluate", str(output), str(output.parent / "test.csv"))
    assert "cross-validated" in printed.stdout and "Confusion matrix" in printed.stdout


def test_evaluate_output_writes_the_evaluation_section_and_refuses_to_overwrite(wine_run, tmp_path):
    output, test_csv, _ = wine_run
    where = tmp_path / "evaluation"
    ran = run_cli("evaluate", str(output), str(test_csv), "--output", str(where))
    assert ran.returncode == 0, ran.stderr
    names = set(evaluate.document_names(Task.MULTICLASS))
    assert {p.name for p in where.iterdir()} == names
    html = (where / "evaluation.html").read_text()
    assert html.count("data:image/png;base64,") == len([n for n in names if n.endswith(".png")])
    again = run_cli("evaluate", str(output), str(test_csv), "--output", str(where))
    assert_clean_failure(again, 2, "will not overwrite")


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (lambda t: t.assign(cultivar="class_9"), "never saw in training"),
        (lambda t: t.drop(columns="cultivar"), "There is no column 'cultivar'"),
        (None, "Cannot read"),
    ],
    ids=["unseen-class", "no-target", "unreadable"],
)
def test_evaluate_refuses_bad_tables_and_writes_nothing(wine_run, tmp_path, change, needle):
    output, test_csv, _ = wine_run
    bad = tmp_path / "bad.csv"
    if change is None:
        bad.write_bytes(b"\x1f\x8b\x08\x00 not a table")
    else:
        change(pd.read_csv(test_csv)).to_csv(bad, index=False)
    where = tmp_path / "evaluation"
    ran = run_cli("evaluate", str(output), str(bad), "--output", str(where))
    assert_clean_failure(ran, 2, needle)
    assert len(ran.stderr.strip().splitlines()) <= 2  # a message and a hint
    assert not where.exists()


def test_a_test_size_split_is_seeded_stratified_and_unseen_by_the_search(mixed):
    model = automl.AutoML(time_budget=30, n_trials=2, cv=3, algorithms=["linear"])
    model.fit(mixed, target="bought", test_size=0.25)
    card = model.card
    assert card["data"]["rows"] == 225 and card["test"]["rows"] == 75
    train, test = evaluate.split(mixed, "bought", 0.25, 0, True)
    assert card["data"]["fingerprint"] == automl.data.fingerprint(train)
    assert set(model.out_of_fold().index) == set(range(225))
    shares = test["bought"].value_counts(normalize=True)
    assert shares.to_dict() == pytest.approx(
        mixed["bought"].value_counts(normalize=True).to_dict(), abs=0.02
    )
    assert card["test"]["split"] == {"fraction": 0.25, "seed": 0, "stratified": True}
    assert model.evaluation_.rows == 75


def test_the_agreement_says_whether_chance_explains_the_difference():
    cv = {"score": 0.80, "std": 0.02, "folds": 5}
    close = evaluate.agreement(evaluate.Score(0.79, std=0.01), cv, "maximize", 500, 2000)
    assert close["within"] and "within what the fold spread" in close["text"]
    worse = evaluate.agreement(evaluate.Score(0.70, std=0.01), cv, "maximize", 500, 2000)
    assert not worse["within"] and worse["worse"] and "worse" in worse["text"]
    # For an error (lower is better) a higher test score is the worse one.
    loss = evaluate.agreement(evaluate.Score(0.9, std=0.01), cv, "minimize", 500, 2000)
    assert loss["worse"] and "better" not in loss["text"].split(":")[1][:30]


def test_a_row_unlike_any_training_row_shows_among_the_worst(wine_run):
    output, test_csv, _ = wine_run
    model = automl.load(output)
    test = pd.read_csv(test_csv)
    inputs = [c for c in test.columns if c != "cultivar"]
    test.loc[test.index[0], inputs] = np.nan
    found = evaluate.evaluate(model, test, "test", resamples=50)
    worst = evaluate.worst_rows(found, top=len(test))
    blank = worst.loc[worst["row"] == test.index[0]].iloc[0]
    assert blank["missing_inputs"] == f"{len(inputs)} of {len(inputs)}"
    losses = evaluate.row_losses(found)
    assert losses.sum() / len(losses) == pytest.approx(found.scores["log_loss"].value)


def _fraud(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 3))
    positive = x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 0.8, rows) > 2.45  # about 5%
    return pd.DataFrame(x, columns=["a", "b", "c"]).assign(fraud=np.where(positive, "y", "n"))


def test_the_imbalanced_f1_threshold_is_tuned_stored_and_used(tmp_path):
    path = tmp_path / "fraud.csv"
    _fraud(3000, 3).to_csv(path, index=False)
    output = tmp_path / "model"
    ran = run_cli(
        "run", str(path), "--target", "fraud", "--metric", "f1", "--algorithms",
        "linear,lightgbm", "--n-trials", "4", "--cv", "3", "--output", str(output), "--json",
        "--no-explain",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "imbalanced" in ran.stderr
    card = json.loads((output / "model_card.json").read_text())
    assert card["imbalance"]["minority"] == "y" and card["imbalance"]["share"] < 0.07
    threshold = card["decision"]["threshold"]
    assert threshold != 0.5 and "out-of-fold" in card["decision"]["how"]
    # Its estimate is cross-validated: on each fold, the threshold of the other folds.
    exported = card["cv"]["exported"]
    assert "other folds" in exported["how"] and len(exported["fold_scores"]) == 3
    # On rows of the same kind that no part of the run saw, F1 at the threshold beats F1
    # at 0.5 ...
    unseen = _fraud(20_000, 4)
    model = automl.load(output)
    chance = model.predict_proba(unseen)["y"]
    truth = unseen["fraud"] == "y"
    assert skm.f1_score(truth, chance >= threshold) > skm.f1_score(truth, chance >= 0.5)
    # ... and `predict` decides with it, while the probabilities stay the model's.
    predicted = run_cli("predict", str(output), str(path), "--proba")
    rows = pd.read_csv(StringIO(predicted.stdout))
    assert ((rows["y"] >= threshold) == (rows["prediction"] == "y")).all()
    assert ((rows["y"] >= 0.5) != (rows["y"] >= threshold)).any()
    assert decision.threshold_of(model.pipeline_) == threshold


def test_the_exported_rule_is_cross_validated_where_its_threshold_would_flatter_it():
    from types import SimpleNamespace

    from automl.finish import exported_estimate
    from automl.plugins import get_registry
    from automl.search import make_folds

    # Probabilities that know nothing of the target: the threshold that makes F1 best on
    # these rows is chosen on their noise, and its score there flatters it.
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.3).astype(np.int64)
    positive = rng.random(300)
    oof = np.column_stack([1 - positive, positive])
    metric = get_registry().metric("f1")
    folds = make_folds(y, Task.BINARY, 5, 0, ["n", "y"])
    runner = SimpleNamespace(
        y=y, folds=folds, settings=SimpleNamespace(metric=metric, cv=5, task=Task.BINARY)
    )
    pooled = decision.choose(y, oof, metric)
    assert pooled is not None and pooled.value != 0.5
    found = exported_estimate(runner, oof, None, pooled)
    assert found["folds"] == 5 and "other folds" in found["how"]
    # Each fold is scored at the threshold the other four folds chose, by hand here.
    by_hand = []
    for train, valid in folds[:5]:
        cut = decision.choose(y[train], oof[train], metric)
        by_hand.append(skm.f1_score(y[valid], (oof[valid, 1] >= cut.value).astype(np.int64)))
    assert found["fold_scores"] == pytest.approx(by_hand, abs=1e-12)
    assert found["score"] == pytest.approx(np.mean(by_hand), abs=1e-12)
    assert found["score"] < pooled.score  # the pooled score is chosen on its own rows
    # At 0.5 and uncalibrated, the rule is the search's, whose estimate stands.
    at_half = decision.Threshold(0.5, 0.4, 0.4, 300, "f1")
    assert exported_estimate(runner, oof, None, at_half) is None


def test_class_weights_are_searched_only_for_imbalanced_classes():
    from automl.contract import SearchContext
    from automl.plugins import get_registry
    from automl.search import first_trials

    registry = get_registry()
    lightgbm = registry.algorithm("lightgbm")
    balanced = SearchContext(Task.BINARY, 1000, 5, 2)
    rare = SearchContext(Task.BINARY, 1000, 5, 2, imbalanced=True)
    assert "class_weight" not in [name for name, _ in _asked(lightgbm, balanced)]
    assert ("class_weight", [None, "balanced"]) in _asked(lightgbm, rare)
    trials = first_trials(registry.algorithms_for(Task.BINARY), rare)
    weights = [p.get("class_weight") for name, p in trials if name == "lightgbm"]
    assert weights[0] is None and weights[1] == "balanced"  # its first entry, then weighted
    assert all("class_weight" not in p for _, p in first_trials([lightgbm], balanced))


def _asked(algorithm, context) -> list[tuple[str, list]]:
    asked = []

    class Recorder:
        def suggest_int(self, name, low, high, **kwargs):
            return low

        def suggest_float(self, name, low, high, **kwargs):
            return low

        def suggest_categorical(self, name, choices):
            asked.append((name, list(choices)))
            return choices[0]

    algorithm.search_space(Recorder(), context)
    return asked


def _curve(points: list[tuple[int, float, float]], direction="maximize", null=0.5):
    """A curve from (rows, training, validation) points, with three folds each."""
    made = curve.LearningCurve("roc_auc", direction, "lightgbm", 3, null)
    for rows, train, valid in points:
        folds = [valid - 0.002, valid, valid + 0.002]
        made.points.append(curve.Point(rows / 4000, rows, train, 0.002, valid, 0.002, folds))
    return made


@pytest.mark.parametrize(
    ("points", "reading"),
    [
        ([(500, 0.80, 0.70), (1000, 0.80, 0.75), (2000, 0.80, 0.78)], "more rows"),
        ([(500, 0.99, 0.70), (1000, 0.99, 0.72), (2000, 0.99, 0.72)], "overfitting"),
        ([(500, 1.00, 0.70), (1000, 1.00, 0.75), (2000, 1.00, 0.80)], "more rows, overfitting"),
        ([(500, 0.54, 0.52), (1000, 0.54, 0.53), (2000, 0.54, 0.53)], "underfitting"),
        ([(500, 0.84, 0.80), (1000, 0.84, 0.82), (2000, 0.84, 0.82)], "levelled off"),
    ],
)
def test_the_curve_is_read_in_words(points, reading):
    found, sentence = curve.read(_curve(points))
    assert found == reading
    assert sentence.endswith(".") and "roc_auc" in sentence


def test_the_curve_scores_the_calibrated_probabilities_as_the_model_exports_them():
    from automl import calibrate
    from automl.plugins import get_registry

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 60)
    raw = np.clip(0.5 + (y - 0.5) * 0.9 + rng.normal(0, 0.05, 60), 0.01, 0.99)
    proba = np.column_stack([1 - raw, raw])  # overconfident
    train, valid = np.arange(30), np.arange(30, 60)
    measured = {(0, 0): (train, proba[train], proba[valid])}
    metric = get_registry().metric("log_loss")
    args = (1.0, [train], measured, np.array([1.0]), y, [(train, valid)], metric, None)
    as_fitted = curve._point(*args, None)
    calibrated = curve._point(*args, 0.5)
    assert as_fitted.valid == pytest.approx(skm.log_loss(y[valid], proba[valid]))
    expected = skm.log_loss(y[valid], calibrate.scale(proba[valid], 0.5))
    assert calibrated.valid == pytest.approx(expected) and calibrated.valid != as_fitted.valid


def test_jobs_run_on_the_workers_in_order_and_a_cancel_is_raised_first():
    import threading

    from automl.errors import Cancelled
    from automl.worker import TrialFailed, run_jobs

    assert run_jobs(["a", "b"], [3, 1, 2], lambda worker, job: job * 10) == [30, 10, 20]
    both = threading.Barrier(2)
    started = []

    def run(worker, job):
        started.append(job)
        both.wait(timeout=5)  # both jobs are under way before either fails
        raise (TrialFailed("broken") if job == 0 else Cancelled("The run was cancelled."))

    with pytest.raises(Cancelled):
        run_jobs(["a", "b"], list(range(6)), run)
    assert sorted(started) == [0, 1]  # no job starts after one failed


def test_the_learning_curve_runs_on_growing_shares_and_can_be_turned_off(mixed):
    # A budget whose share for the curve is ample even on a busy machine: it stops when
    # its five sizes are measured.
    model = automl.AutoML(
        time_budget=200, n_trials=2, cv=3, algorithms=["linear"], explanations=False
    )
    model.fit(mixed, target="bought")
    found = model.card["learning_curve"]
    rows = [p["rows"] for p in found["points"]]
    assert rows == sorted(rows) and len(rows) == len(curve.SHARES) and rows[-1] == 200
    assert all(len(p["valid_folds"]) == 3 for p in found["points"])
    assert found["reading"] and found["verdict"]
    off = automl.AutoML(time_budget=30, n_trials=2, cv=3, algorithms=["linear"],
                        learning_curve=False)  # fmt: skip
    off.fit(mixed, target="bought")
    assert off.card["learning_curve"] is None


def test_no_time_is_kept_for_a_curve_a_short_budget_cannot_make(mixed, monkeypatch):
    from automl import finish

    # At 10 s the curve would have 0.5 s beside the explanation: nothing is kept for it
    # (the search has that second) and it is not started. At 30 s it has its 2 s.
    assert (finish.curve_seconds(10), finish.curve_seconds(30)) == (0.0, 2.0)
    short = automl.AutoML(time_budget=10, n_trials=2, cv=3, algorithms=["linear"])
    assert finish.extras_seconds(short) == finish.explain_seconds(10)

    def measured(*args, **kwargs):
        raise AssertionError("the curve was started")

    monkeypatch.setattr(finish.curve, "learning_curve", measured)
    short.fit(mixed, target="bought")
    assert short.card["learning_curve"] is None and short.insights_ is not None


def test_an_interrupt_after_the_refit_stops_the_learning_curve(mixed, monkeypatch):
    from automl import finish
    from automl.errors import Cancelled

    started = []

    def start_curve(*args, **kwargs):
        started.append(real_start(*args, **kwargs))
        return started[-1]

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    real_start = finish._start_curve
    monkeypatch.setattr(finish, "_start_curve", start_curve)
    monkeypatch.setattr(finish, "_explain", interrupted)
    model = automl.AutoML(time_budget=200, n_trials=2, cv=3, algorithms=["linear"])
    with pytest.raises(KeyboardInterrupt):
        model.fit(mixed, target="bought")
    # The curve was measuring when the interrupt came; it was stopped, not left running
    # on worker processes about to close, and it was done before `fit` gave up.
    (measuring,) = started
    assert measuring.done() and isinstance(measuring.exception(), Cancelled)


def test_held_out_rows_that_cannot_be_scored_fail_before_the_search(mixed):
    model = automl.AutoML(time_budget=30, n_trials=2, cv=3, algorithms=["linear"])
    unseen = mixed.head(20).assign(bought="maybe")
    with pytest.raises(DataError, match="never saw in training"):
        model.fit(mixed, target="bought", test=unseen)
    with pytest.raises(DataError, match="lacks 1 column"):
        model.fit(mixed, target="bought", test=mixed.head(20).drop(columns="age"))
    with pytest.raises(DataError, match="single row"):
        model.fit(mixed.assign(bought=["odd"] + ["no", "yes"] * 149 + ["no"]), "bought",
                  test_size=0.2)  # fmt: skip


def test_a_distributed_worker_holds_out_the_runs_test_rows(mixed, tmp_path):
    from automl.distributed import _load

    path = tmp_path / "mixed.csv"
    mixed.to_csv(path, index=False)
    frame = automl.data.read_table(path)
    train, _ = evaluate.split(frame, "bought", 0.2, 5, True)
    run = {
        "target": "bought",
        "task": "binary",
        "fingerprint": automl.data.fingerprint(train),
        "test_split": {"fraction": 0.2, "seed": 5, "stratified": True},
    }
    X, y, _ = _load(str(path), run)
    assert len(X) == len(y) == 240
