"""Big tables: the trials use a seeded sample of the rows, the winner all of them."""

from __future__ import annotations

import json

import numpy as np
import pytest

import automl
from automl import search
from automl.contract import Task


def test_the_sample_is_seeded_sorted_and_keeps_the_class_balance(monkeypatch):
    monkeypatch.setattr(search, "SEARCH_ROWS", 100)
    y = np.array([0] * 300 + [1] * 100)
    rows = search.search_sample(y, Task.BINARY, seed=3)
    assert len(rows) == 100 and len(set(rows)) == 100 and (np.diff(rows) > 0).all()
    assert (y[rows] == 1).sum() == 25  # a quarter, as in the table
    assert (search.search_sample(y, Task.BINARY, seed=3) == rows).all()
    assert not (search.search_sample(y, Task.BINARY, seed=4) == rows).all()
    small = np.arange(50) % 2
    assert (search.search_sample(small, Task.BINARY, seed=0) == np.arange(50)).all()


def test_trials_on_a_sample_and_the_refit_on_every_row(monkeypatch, tmp_path, mixed):
    monkeypatch.setattr(search, "SEARCH_ROWS", 150)
    model = automl.AutoML(time_budget=60, n_trials=2, cv=3, algorithms=["linear"])
    model.fit(mixed, "bought", output=tmp_path / "m")
    card = json.loads((tmp_path / "m" / "model_card.json").read_text())
    assert card["data"]["search_rows"] == 150 and card["data"]["rows"] == 300
    assert card["refit"]["rows"] == 300
    assert (
        "the trials used a seeded sample of 150 rows" in (tmp_path / "m" / "report.md").read_text()
    )
    # The diagnostics are drawn from the out-of-fold predictions of the sampled rows.
    assert "confusion_matrix.png" in card["files"]


def test_short_budgets_search_a_smaller_sample():
    rows = [search.search_rows(b) for b in (1, 10, 30, 60, 100, 3600)]
    assert rows == [5_000, 10_000, 30_000, 60_000, 100_000, 100_000]
    # A multiclass booster grows a tree per class each round: fewer rows per second.
    assert [search.search_rows(b, n_classes=4) for b in (10, 60, 400)] == [5_000, 15_000, 100_000]
    assert search.search_rows(10, n_classes=2) == 10_000


def test_a_resumed_run_keeps_the_sample_of_the_interrupted_one(tmp_path, mixed):
    first = automl.AutoML(time_budget=60, n_trials=1, cv=3, algorithms=["linear"])
    first.fit(mixed, "bought", output=tmp_path / "m")
    # Another budget would size another sample, and under 60 s not repeat the folds;
    # resuming keeps the stored ones, so the trials of both runs were scored on the same
    # rows and folds.
    (tmp_path / "m" / "model_card.json").unlink()
    again = automl.AutoML(
        time_budget=20, n_trials=2, cv=3, algorithms=["linear"], explanations=False
    )
    again.fit(mixed, "bought", output=tmp_path / "m", resume=True)
    assert again.card["study"]["resumed"] and again.card["trials"]["complete"] == 2
    assert again.card["cv"]["repeats"] == first.card["cv"]["repeats"] == 3


def test_a_refit_too_long_by_the_folds_is_planned_from_a_refit_of_the_sample(
    monkeypatch, tmp_path, mixed
):
    """Where the folds' time says the refit on all rows will not fit, the sample is
    refitted first and its time, measured alone, plans the rest: a fold's time, taken
    beside other trials and scaled up from fewer rows, once made the refit on a
    22,500-row table take 4,000 rows where all of them fitted."""
    from automl import refit

    monkeypatch.setattr(search, "SEARCH_ROWS", 150)
    estimate, fit_once = refit._estimate, refit._fit_once
    fitted = []

    def the_folds_say_too_long(runner, trial, rows=None):
        return 1e4 if rows is None else estimate(runner, trial, rows)

    def noted(runner, trial, rows, *args, **kwargs):
        fitted.append(len(rows))
        return fit_once(runner, trial, rows, *args, **kwargs)

    monkeypatch.setattr(refit, "_estimate", the_folds_say_too_long)
    monkeypatch.setattr(refit, "_fit_once", noted)
    model = automl.AutoML(
        time_budget=30, n_trials=2, cv=3, algorithms=["linear"], ensemble=False,
        explanations=False, learning_curve=False, n_jobs=1,
    )  # fmt: skip
    model.fit(mixed, "bought", output=tmp_path / "m")
    assert fitted == [150, 300]  # the sample, then every row
    assert model.card["refit"]["rows"] == 300


def test_the_fixed_part_of_a_fit_does_not_grow_with_the_rows():
    fixed = search.FIT_OVERHEAD_SECONDS
    grown = 4**search.REFIT_EXPONENT
    assert search.scaled_seconds(1.0, 1000, 4000) == pytest.approx(fixed + (1 - fixed) * grown)
    assert search.scaled_seconds(0.2, 1000, 4000) == pytest.approx(0.1 + 0.1 * grown)
    assert search.scaled_seconds(1.0, 1000, 1000) == pytest.approx(1.0)
