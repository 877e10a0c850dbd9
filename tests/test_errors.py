"""Bad options and bundles: one clear paragraph on stderr, exit code 2, no traceback, nothing
written. Bad data files are in the corpus of test_hostile_inputs.py."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from support import assert_clean_failure, run_cli

QUICK = ["--n-trials", "2", "--cv", "3", "--algorithms", "linear", "--time-budget", "20"]


def run_into(tmp_path, data, *args):
    out = tmp_path / "out"
    result = run_cli("run", str(data), "--output", str(out), *args)
    return result, out


def test_missing_file(tmp_path):
    result, out = run_into(tmp_path, tmp_path / "nope.csv", "--target", "y")
    assert_clean_failure(result, 2, "nope.csv", "no such file")
    assert not out.exists()


def test_unsupported_extension(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_text("a,b\n1,2\n")
    result, out = run_into(tmp_path, path, "--target", "b")
    assert_clean_failure(result, 2, "unsupported file type", ".csv, .tsv or .parquet")
    assert not out.exists()


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"this is not parquet")
    result, out = run_into(tmp_path, path, "--target", "y")
    assert_clean_failure(result, 2, "broken.parquet")
    assert not out.exists()


def test_class_too_rare_for_the_folds(tmp_path, mixed):
    mixed.loc[:1, "bought"] = "maybe"  # two rows of a third class, five folds
    path = tmp_path / "rare.csv"
    mixed.to_csv(path, index=False)
    result, out = run_into(tmp_path, path, "--target", "bought", "--cv", "5", "--n-trials", "1")
    assert_clean_failure(result, 2, "'maybe'", "only 2 row(s)", "--cv 2")
    assert not out.exists()


def test_metric_that_does_not_fit_the_task(tmp_path, mixed_csv):
    result, out = run_into(tmp_path, mixed_csv, "--target", "bought", "--metric", "rmse", *QUICK)
    assert_clean_failure(result, 2, "'rmse' does not fit a binary task", "roc_auc")
    assert not out.exists()


def test_unknown_metric_and_algorithm(tmp_path, mixed_csv):
    result, _ = run_into(tmp_path, mixed_csv, "--target", "bought", "--metric", "auc")
    assert_clean_failure(result, 2, "no metric called 'auc'")
    result, out = run_into(tmp_path, mixed_csv, "--target", "bought", "--algorithms", "lightgbn")
    assert_clean_failure(result, 2, "no algorithm called 'lightgbn'", "lightgbm")
    assert not out.exists()


def test_regression_task_on_text_target(tmp_path, mixed_csv):
    result, out = run_into(tmp_path, mixed_csv, "--target", "bought", "--task", "regression")
    assert_clean_failure(result, 2, "not numeric")
    assert not out.exists()


def test_binary_task_on_three_classes(tmp_path, mixed_csv):
    result, _ = run_into(tmp_path, mixed_csv, "--target", "city", "--task", "binary", *QUICK)
    assert_clean_failure(result, 2, "binary classification needs exactly two")


def test_existing_output_is_never_overwritten(tmp_path, mixed_csv):
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    result = run_cli("run", str(mixed_csv), "--target", "bought", "--output", str(out), *QUICK)
    assert_clean_failure(result, 2, "not empty", "--resume")
    assert [p.name for p in out.iterdir()] == ["precious.txt"]
    assert (out / "precious.txt").read_text() == "keep me"


def test_invalid_option_values_are_usage_errors(tmp_path, mixed_csv):
    for args in (["--time-budget", "0"], ["--cv", "1"], ["--n-trials", "0"], ["--task", "x"]):
        result, out = run_into(tmp_path, mixed_csv, "--target", "bought", *args)
        assert_clean_failure(result, 2)
        assert not out.exists()


def test_predict_on_a_directory_that_is_not_a_bundle(tmp_path, mixed_csv):
    result = run_cli("predict", str(tmp_path), str(mixed_csv))
    assert_clean_failure(result, 2, "not a model bundle")


def test_predict_proba_on_regression_and_overwriting_input(tmp_path, mixed):
    path = tmp_path / "train.csv"
    mixed.to_csv(path, index=False)
    out = tmp_path / "m"
    ran = run_cli("run", str(path), "--target", "income", "--output", str(out), *QUICK)
    assert ran.returncode == 0, ran.stderr
    assert json.loads((out / "model_card.json").read_text())["task"] == "regression"
    assert_clean_failure(run_cli("predict", str(out), str(path), "--proba"), 2, "regression")
    before = path.read_bytes()
    result = run_cli("predict", str(out), str(path), "--output", str(path))
    assert_clean_failure(result, 2, "input file")
    assert path.read_bytes() == before


def test_rows_with_missing_target_are_dropped_with_a_warning(tmp_path, mixed):
    mixed.loc[:9, "bought"] = np.nan
    path = tmp_path / "gaps.csv"
    mixed.to_csv(path, index=False)
    out = tmp_path / "m"
    result = run_cli("run", str(path), "--target", "bought", "--output", str(out), *QUICK)
    assert result.returncode == 0, result.stderr
    assert "10 rows with a missing target" in result.stderr
    card = json.loads((out / "model_card.json").read_text())
    assert card["data"]["rows"] == len(mixed) - 10
    assert pd.isna(mixed["bought"]).sum() == 10
