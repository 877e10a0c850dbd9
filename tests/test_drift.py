"""`automl drift`: new rows set beside the reference statistics a bundle keeps of its
training data, column by column and by the model's predictions (`automl.drift`)."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import SAMPLES, assert_clean_failure, run_cli
from textual.widgets import DataTable, Input, Static

import automl
from automl import drift
from automl.cli import cli
from automl.errors import AutoMLWarning, DataError
from automl.tui import make_app
from automl.tui.screens.drift import DriftScreen
from automl.tui.screens.error import ErrorScreen
from automl.tui.screens.results import ResultsScreen
from automl.tui.screens.table_path import TablePathScreen

CHURN = SAMPLES / "churn.csv"
NEW = SAMPLES / "churn_new.csv"
# The shifted copy: charges half as high again, and the contracts' shares reshuffled by
# giving each contract type another's label.
RELABELLED = {"month-to-month": "two-year", "one-year": "month-to-month", "two-year": "one-year"}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A model of the churn table, as `automl run` saves it."""
    output = tmp_path_factory.mktemp("drift") / "churn"
    ran = run_cli(
        "run", str(CHURN), "--target", "churned", "--time-budget", "15", "--n-trials", "3",
        "--cv", "3", "--algorithms", "lightgbm,linear", "--no-explain", "--no-learning-curve",
        "--output", str(output), "--quiet",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    return output


def test_a_copy_of_the_training_data_has_not_drifted(model, tmp_path):
    copy = tmp_path / "copy.csv"
    pd.read_csv(CHURN).drop(columns="churned").to_csv(copy, index=False)
    ran = run_cli("drift", str(model), str(copy), "--json")
    assert ran.returncode == 0, ran.stderr
    found = json.loads(ran.stdout)
    assert found["major_drift"] is False and found["major"] == found["moderate"] == []
    used = {
        c["name"] for c in json.loads((model / "model_card.json").read_text())["schema"]["columns"]
    }
    assert {c["name"] for c in found["columns"]} == used
    for column in found["columns"] + found["unused"]:
        assert column["level"] == "none" and column["psi"] == pytest.approx(0, abs=1e-12)
        assert column["missing_change"] == 0
    assert {c["name"] for c in found["unused"]} == {"customer_id", "country"}
    assert found["prediction"]["name"] == "probability of yes"
    assert found["prediction"]["level"] == "none"
    assert found["evaluation"] is None and found["new_columns"] == found["ignored"] == []


def test_a_shifted_copy_is_major_drift_in_the_shifted_columns(model, tmp_path):
    shifted = pd.read_csv(CHURN).drop(columns="churned")
    shifted["monthly_charges"] *= 1.5
    shifted["contract"] = shifted["contract"].map(RELABELLED)
    path = tmp_path / "shifted.csv"
    shifted.to_csv(path, index=False)
    where = tmp_path / "report"
    ran = run_cli("drift", str(model), str(path), "--output", str(where))
    assert ran.returncode == 4, ran.stderr
    assert "Traceback" not in ran.stderr
    assert "Major drift in 'monthly_charges', 'contract'." in ran.stdout
    written = {p.name for p in where.iterdir()}
    plots = {"drift-column-monthly_charges.png", "drift-column-contract.png"}
    assert written == {"drift.md", "drift.html", "drift.json", *plots}
    report = json.loads((where / "drift.json").read_text())
    assert report["major"] == ["monthly_charges", "contract"] and report["major_drift"]
    charges, contract = report["columns"][:2]  # most drifted first
    assert (charges["name"], contract["name"]) == ("monthly_charges", "contract")
    assert charges["out_of_range"] > 0.2  # the dearest fifth and more above the old maximum
    assert contract["unseen"] == 0  # the same contract types, in other shares
    assert "| monthly_charges | major |" in (where / "drift.md").read_text()
    html = (where / "drift.html").read_text()
    assert html.count("data:image/png;base64,") == len(plots)
    again = run_cli("drift", str(model), str(path), "--output", str(where))
    assert_clean_failure(again, 2, "will not overwrite")
    assert again.stdout == ""


def test_a_request_log_is_read_as_new_data(model, tmp_path):
    """The columns `automl serve --log-requests` adds are left out quietly; others the
    training table lacked are listed apart."""
    rows = pd.read_csv(NEW).drop(columns=["customer_id", "country", "churned"])
    log = rows.assign(
        prediction="no",
        **{"probability[no]": 0.8, "probability[yes]": 0.2},
        served_at="2026-12-04T10:00:00.000+00:00",
        campaign="spring",
    )
    path = tmp_path / "requests.csv"
    log.to_csv(path, index=False)
    ran = run_cli("drift", str(model), str(path), "--json")
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == ""
    found = json.loads(ran.stdout)
    assert found["ignored"] == ["prediction", "probability[no]", "probability[yes]", "served_at"]
    assert found["new_columns"] == ["campaign"]
    assert found["absent"] == ["customer_id", "country"] and found["unused"] == []
    assert found["rows"] == 500 and not found["major_drift"]


def test_new_rows_with_the_target_are_scored_and_the_thresholds_can_be_set(model):
    ran = run_cli("drift", str(model), str(NEW), "--moderate", "0.01", "--major", "0.04")
    assert ran.returncode == 4, ran.stderr
    assert "The rows hold the target 'churned': roc_auc 0." in ran.stdout
    assert "on 500 rows; cross-validated" in ran.stdout
    # The column PSIs depend on the data only: region's is 0.052 here.
    assert "Major drift in 'region'; moderate in" in ran.stdout
    assert "moderate drift from 0.01, major from 0.04" in ran.stdout


def test_the_command_line_defaults_are_the_usual_thresholds():
    defaults = {p.name: p.default for p in cli.commands["drift"].params}
    assert (defaults["moderate"], defaults["major"]) == (drift.MODERATE, drift.MAJOR) == (0.1, 0.25)


def _without_reference(bundle: Path) -> None:
    card = json.loads((bundle / "model_card.json").read_text())
    del card["files"][drift.REFERENCE_FILE], card["drift"]
    (bundle / "model_card.json").write_text(json.dumps(card))
    (bundle / drift.REFERENCE_FILE).unlink()


def _tampered(bundle: Path) -> None:
    path = bundle / drift.REFERENCE_FILE
    path.write_text(path.read_text().replace('"rows": 2000', '"rows": 2001'))


@pytest.mark.parametrize(
    ("table", "change", "options", "needle"),
    [
        (lambda t: t.drop(columns="contract"), None, [], "lacks 1 column(s) the model"),
        (None, None, [], "Cannot read"),
        (lambda t: t, _without_reference, [], "made by an older automl"),
        (lambda t: t, _tampered, [], "does not match the checksum"),
        (lambda t: t, None, ["--moderate", "0.3"], "moderate below major"),
    ],
    ids=["missing-column", "unreadable", "no-reference", "tampered-reference", "thresholds"],
)
def test_bad_input_is_refused_and_nothing_is_written(
    model, tmp_path, table, change, options, needle
):
    bundle = tmp_path / "model"
    shutil.copytree(model, bundle)
    if change is not None:
        change(bundle)
    path = tmp_path / "new.csv"
    if table is None:
        path.write_bytes(b"\x1f\x8b\x08\x00 not a table")
    else:
        table(pd.read_csv(NEW)).to_csv(path, index=False)
    where = tmp_path / "report"
    ran = run_cli("drift", str(bundle), str(path), "--output", str(where), *options)
    assert_clean_failure(ran, 2, needle)
    assert len(ran.stderr.strip().splitlines()) <= 2  # a message and a hint
    assert ran.stdout == "" and not where.exists()


def test_a_target_the_model_cannot_be_scored_on_leaves_the_drift_to_see(model):
    loaded = automl.load(model)
    rows = pd.read_csv(NEW).assign(churned="maybe")
    with pytest.warns(AutoMLWarning, match="never saw in training.*not scored"):
        found = drift.compare(drift.read_reference(loaded), rows, loaded, "new.csv")
    assert found.evaluation is None and not found.major_found
    with pytest.raises(DataError, match="no rows"):
        drift.compare(drift.read_reference(loaded), rows.iloc[:0], loaded)


def test_the_terminal_ui_checks_new_data_against_an_opened_bundle(model, tmp_path):
    """`automl tui MODEL_DIR`, then D: a table is asked for, compared, and shown; a table
    that cannot be compared is an error dialog, as the app shows others."""
    shifted = tmp_path / "shifted.csv"
    rows = pd.read_csv(NEW).drop(columns="churned")
    rows.assign(monthly_charges=rows["monthly_charges"] * 1.5).to_csv(shifted, index=False)
    lacking = tmp_path / "lacking.csv"
    pd.read_csv(NEW).drop(columns="region").to_csv(lacking, index=False)

    async def drive() -> None:
        app = make_app(model)
        async with app.run_test(size=(120, 40)) as pilot:
            await _until(pilot, lambda: isinstance(app.screen, ResultsScreen))
            await pilot.press("d")
            await _until(pilot, lambda: isinstance(app.screen, TablePathScreen))
            field = app.screen.query_one("#table-path", Input)
            field.value = str(tmp_path / "nothere.csv")
            await pilot.press("enter")
            problem = app.screen.query_one("#table-path-problem", Static)
            assert str(problem.content).startswith("There is no file")
            field.value = str(shifted)
            await pilot.press("enter")
            await _until(pilot, lambda: getattr(app.screen, "found", None) is not None)
            shown = app.screen
            assert isinstance(shown, DriftScreen) and shown.found.at("major") == ["monthly_charges"]
            board = shown.query_one("#drift-columns", DataTable)
            assert board.row_count == 9 + 2  # the columns the model uses, then the others
            assert board.get_row_at(0)[0].plain == "monthly_charges"
            await pilot.press("escape")
            await _until(pilot, lambda: isinstance(app.screen, ResultsScreen))
            await pilot.press("d")
            await _until(pilot, lambda: isinstance(app.screen, TablePathScreen))
            app.screen.query_one("#table-path", Input).value = str(lacking)
            await pilot.press("enter")
            await _until(pilot, lambda: isinstance(app.screen, ErrorScreen))
            assert "lacks 1 column(s) the model was trained on: 'region'" in app.screen.message
            await pilot.press("escape")
            await _until(pilot, lambda: isinstance(app.screen, ResultsScreen))

    asyncio.run(drive())


async def _until(pilot, condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out on {pilot.app.screen!r}"
        await pilot.pause(0.05)


# The comparison of one column ----------------------------------------------------------


def test_the_psi_is_the_smoothed_sum_computed_by_hand():
    """Ten training values 1..10, a bin each (with one for missing values); ten new ones:
    four 1s, two 2s, a 3, 11 and 12 beyond the range, and a missing one."""
    reference = drift.describe(pd.Series(np.arange(1.0, 11.0)), "numeric")
    new = pd.Series([1, 1, 1, 1, 2, 2, 3, 11, 12, None], dtype=float)
    found = drift.compare_column("x", reference, new)
    # Counts per bin: below 2, 2 to 3, ..., 9 to 10, 10 and above, missing.
    training = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
    counted = [4, 2, 1, 0, 0, 0, 0, 0, 0, 2, 1]
    bins = 11  # none empty on both sides
    expected = 0.0
    for before, after in zip(training, counted, strict=True):
        p = (before + 0.5) / (10 + bins / 2)
        q = (after + 0.5) / (10 + bins / 2)
        expected += (q - p) * math.log(q / p)
    assert found.psi == pytest.approx(expected, rel=1e-12)
    assert found.psi == pytest.approx(0.7747, abs=1e-4)  # the same sum, done on paper
    assert found.level == "major"
    assert found.bins[0] == "below 2" and found.bins[-2:] == ["10 and above", drift.MISSING]
    assert found.new == [c / 10 for c in counted]
    assert found.out_of_range == pytest.approx(2 / 9)  # of the values present
    assert (found.missing_reference, found.missing) == (0.0, 0.1)
    assert found.missing_change == pytest.approx(0.1) and found.unseen is None


def test_an_empty_bin_gives_a_finite_psi_and_the_levels_follow_the_thresholds():
    assert math.isfinite(drift.psi([50, 50, 0], [0, 0, 100]))
    # The same shares: nothing but what the smoothing adds, shrinking the smaller sample's
    # a little more.
    assert drift.psi([10, 20, 30], [20, 40, 60]) == pytest.approx(0, abs=1e-4)
    assert drift.psi([10, 20, 30], [10, 20, 30]) == 0
    assert [drift.level(v) for v in (0.0999, 0.1, 0.2499, 0.25)] == [
        "none", "moderate", "moderate", "major"
    ]  # fmt: skip
    assert drift.level(0.3, moderate=0.5, major=1.0) == "none"


def test_categories_never_seen_in_training_are_counted_apart():
    reference = drift.describe(pd.Series(["a"] * 6 + ["b"] * 4), "categorical")
    found = drift.compare_column("city", reference, pd.Series(["a", "c", "d", None, "b"]))
    assert found.unseen == 0.5  # c and d, of the four values present
    assert found.bins == ["a", "b", drift.UNSEEN, drift.MISSING]
    assert found.reference == [0.6, 0.4, 0.0, 0.0]
    assert found.new == [0.2, 0.2, 0.4, 0.2]
    assert found.out_of_range is None and found.level == "major"
    # Beyond MAX_CATEGORIES the rarest are not named, so unseen ones cannot be told apart.
    many = drift.describe(
        pd.Series([f"c{i}" for i in range(drift.MAX_CATEGORIES + 50)]), "categorical"
    )
    assert drift.OTHER in many["shares"]
    assert drift.compare_column("id", many, pd.Series(["new", "c1"])).unseen is None


def test_a_column_of_zeros_and_ones_has_a_bin_for_each():
    reference = drift.describe(pd.Series([0] * 70 + [1] * 30), "numeric")
    assert reference["shares"] == [0.7, 0.3]
    flipped = drift.compare_column("flag", reference, pd.Series([0] * 30 + [1] * 70))
    assert flipped.level == "major" and flipped.out_of_range == 0
