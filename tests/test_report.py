"""Explanations and the report in the bundle, `automl explain`, and `automl info`."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import assert_clean_failure, make_mixed, quick, run_cli

import automl
from automl import bundle
from automl.errors import AutoMLError, UsageError

PLOTS = {
    "importance.png",
    "beeswarm.png",
    "confusion_matrix.png",
    "roc.png",
    "calibration.png",
    "learning_curve.png",
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    make_mixed(300).to_csv(folder / "train.csv", index=False)
    output = folder / "model"
    result = run_cli(
        "run", str(folder / "train.csv"), "--target", "bought", "--output", str(output),
        "--time-budget", "60", *quick("lightgbm,linear", n_trials=4), "--no-ensemble",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Report: " in result.stdout and "Columns that matter most:" in result.stdout
    return output


@pytest.fixture
def new_rows(tmp_path) -> Path:
    rows = make_mixed(6, seed=7).drop(columns="bought")
    rows.loc[0, "city"] = "atlantis"  # never seen in training
    rows.loc[1, ["age", "income"]] = np.nan
    path = tmp_path / "new.csv"
    rows.to_csv(path, index=False)
    return path


def test_the_bundle_holds_explanations_and_a_report_with_checksums(run_dir):
    card = json.loads((run_dir / "model_card.json").read_text())
    names = set(card["files"])
    assert PLOTS | {"importance.csv", "report.html", "report.md"} <= names
    assert bundle.verify(run_dir) == []
    importance = pd.read_csv(run_dir / "importance.csv")
    assert list(importance.columns[:3]) == ["column", "importance", "direction"]
    assert set(importance["column"]) == {"age", "income", "city", "member", "joined"}
    assert card["explanation"]["top"][0] == importance["column"].iloc[0]
    assert card["explanation"]["rows"] == card["explanation"]["of_rows"] == 300


def test_the_html_report_embeds_every_plot_and_the_markdown_links_them(run_dir):
    page = (run_dir / "report.html").read_text()
    embedded = dict(
        re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"[^>]*data-file="([^"]+)"',
                   page)[i][::-1]
        for i in range(page.count("<img "))
    )  # fmt: skip
    assert set(embedded) == PLOTS
    for name, encoded in embedded.items():
        assert base64.b64decode(encoded) == (run_dir / name).read_bytes(), name
    markdown = (run_dir / "report.md").read_text()
    assert set(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)) == PLOTS
    for section in ("Result", "How to predict", "Data", "Leaderboard", "Diagnostics",
                    "Which columns matter"):  # fmt: skip
        assert f"<h2>{section}" in page and f"## {section}" in markdown
    assert "rows per class" in markdown and "| yes |" in markdown


def test_explain_prints_the_columns_that_matter(run_dir):
    result = run_cli("explain", str(run_dir))
    assert result.returncode == 0, result.stderr
    top = pd.read_csv(run_dir / "importance.csv")["column"].iloc[0]
    assert "Which columns matter" in result.stdout and top in result.stdout
    assert "over all 300 training rows" in result.stdout


def test_explain_rows_with_unseen_categories_and_gaps(run_dir, new_rows, tmp_path):
    out = tmp_path / "why"
    result = run_cli("explain", str(run_dir), str(new_rows), "--rows", "3", "--top", "2",
                     "--output", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(re.findall(r"^Row \d of ", result.stdout, flags=re.M)) == 3
    assert "(3 other columns)" in result.stdout
    why = pd.read_csv(out / "explanations.csv")
    assert list(why.columns) == [
        "row", "prediction", "explained", "base_value", "column", "value", "contribution",
        "guarded",
    ]  # fmt: skip
    assert sorted(why["row"].unique()) == [0, 1, 2] and len(why) == 9
    assert why["guarded"].dtype == bool
    assert set(why["prediction"]) <= {"yes", "no"} and np.isfinite(why["contribution"]).all()
    assert (out / "importance.csv").read_text() == (run_dir / "importance.csv").read_text()

    again = run_cli("explain", str(run_dir), str(new_rows), "--output", str(out))
    assert_clean_failure(again, 2, "will not overwrite")
    assert pd.read_csv(out / "explanations.csv").equals(why)


def test_explain_names_a_missing_column(run_dir, tmp_path):
    path = tmp_path / "short.csv"
    make_mixed(5).drop(columns=["city"]).to_csv(path, index=False)
    assert_clean_failure(run_cli("explain", str(run_dir), str(path)), 2, "'city'")


def test_the_python_api_explains_loaded_and_fitted_models(run_dir, new_rows):
    model = automl.load(run_dir)
    pd.testing.assert_frame_equal(
        model.importance(), pd.read_csv(run_dir / "importance.csv"), check_dtype=False
    )
    rows = pd.read_csv(new_rows)
    why = model.explain(rows, top=5)
    assert why.attrs["space"] in ("log-odds", "probability")
    # Every row: its lines add up to the model's output in that space.
    proba = model.predict_proba(rows)["yes"].to_numpy()
    totals = why.groupby("row").apply(lambda g: g["base_value"].iloc[0] + g["contribution"].sum())
    expected = np.log(proba / (1 - proba)) if why.attrs["space"] == "log-odds" else proba
    np.testing.assert_allclose(totals.to_numpy(), expected, rtol=1e-3, atol=1e-4)


def test_a_regression_report_draws_predicted_against_actual(tmp_path):
    frame = make_mixed(200).drop(columns="bought")
    frame["spend"] = frame["age"] * 3 + np.random.default_rng(0).normal(0, 5, 200)
    model = automl.AutoML(time_budget=30, n_trials=2, cv=3, algorithms=["linear"])
    model.fit(frame, "spend", output=tmp_path / "m")
    files = json.loads((tmp_path / "m" / "model_card.json").read_text())["files"]
    assert {"predicted_vs_actual.png", "residuals.png", "beeswarm.png"} <= set(files)
    assert "confusion_matrix.png" not in files
    assert model.importance()["column"].iloc[0] == "age"


def test_without_explanations_there_is_no_report_and_asking_says_why(tmp_path, mixed):
    model = automl.AutoML(
        time_budget=30, n_trials=2, cv=3, algorithms=["linear"], explanations=False
    )
    model.fit(mixed, "bought", output=tmp_path / "m")
    assert not (tmp_path / "m" / "report.html").exists()
    with pytest.raises(UsageError, match="no explanations"):
        model.importance()
    with pytest.raises(AutoMLError, match="no explanations"):
        automl.load(tmp_path / "m").explain(mixed.head(2))


def test_info_checks_the_files_and_the_versions(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    result = run_cli("info", str(copy))
    assert result.returncode == 0 and "# Model card: bought (binary)" in result.stdout
    assert "## Explanation" in result.stdout and "Columns that matter most: " in result.stdout
    assert "Warning" not in result.stderr, result.stderr
    assert json.loads(run_cli("info", str(copy), "--json").stdout)["target"] == "bought"

    with (copy / "importance.csv").open("a") as file:
        file.write("planted,1.0,\n")
    warned = run_cli("info", str(copy))
    assert "importance.csv does not match its checksum" in warned.stderr
    assert_clean_failure(run_cli("explain", str(copy)), 2, "importance.csv", "was modified")

    card = json.loads((copy / "model_card.json").read_text())
    card["versions"]["scikit-learn"] = "0.1.0"
    (copy / "model_card.json").write_text(json.dumps(card))
    old = run_cli("info", str(copy))
    assert "scikit-learn 0.1.0 made it" in old.stderr
    with pytest.warns(UserWarning, match="other library versions"):
        automl.load(copy)


def test_class_beeswarms_stop_at_the_reports_deadline_and_the_report_says_so():
    import time

    from automl import explain, report

    rng = np.random.default_rng(0)
    rows = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    explanation = explain.Explanation(
        values=rng.normal(size=(40, 3, 4)), base=np.zeros(4), columns=list(rows),
        outputs=["w", "x", "y", "z"], rows=rows, numeric=rows.to_numpy(), method="tree",
        space="log-odds", n_total=40,
    )  # fmt: skip
    every = report._beeswarms(explanation, None)
    assert sorted(every) == [f"beeswarm-{k}.png" for k in range(4)]
    # Past the deadline, the first class is still drawn, and the report says the rest
    # were not.
    late = report._beeswarms(explanation, time.monotonic() - 1)
    assert list(late) == ["beeswarm-0.png"]
    importance = explain.importance(explanation)
    said = [text for kind, text in report._explanation_blocks(importance, explanation, late)
            if kind == "p"]  # fmt: skip
    assert "drawn for 1 of the 4 classes" in said[-1]
    assert not any("classes: the time" in text
                   for _, text in report._explanation_blocks(importance, explanation, every)
                   if isinstance(text, str))  # fmt: skip
