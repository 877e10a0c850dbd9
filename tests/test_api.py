"""The Python API: fit, predict, leaderboard, save/load, events, reproducibility."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest
from support import make_mixed

import automl
from automl import AutoML
from automl.errors import AutoMLWarning, Cancelled, UsageError
from automl.events import BestImproved, PhaseChanged, SearchFinished, SearchStarted, TrialFinished
from automl.plugins import get_registry


def test_fit_predict_save_load(tmp_path, mixed):
    events = []
    model = AutoML(
        time_budget=30, n_trials=4, cv=3, algorithms=["lightgbm", "linear"], on_event=events.append
    )
    assert model.fit(mixed, target="bought") is model
    board = model.leaderboard()
    assert list(board.columns[:4]) == ["rank", "trial", "algorithm", "roc_auc"]
    assert board["roc_auc"].is_monotonic_decreasing
    assert set(board["algorithm"]) <= {"lightgbm", "linear"}

    labels = model.predict(mixed)
    assert set(labels) <= {"no", "yes"} and len(labels) == len(mixed)
    proba = model.predict_proba(mixed)
    assert list(proba.columns) == ["no", "yes"]
    assert (proba.idxmax(axis=1).to_numpy() == labels).all()

    model.save(tmp_path / "bundle")
    again = automl.load(tmp_path / "bundle")
    pd.testing.assert_frame_equal(again.predict_proba(mixed), proba)
    pd.testing.assert_frame_equal(again.leaderboard(), board)

    kinds = [type(e) for e in events]
    assert kinds[0] is PhaseChanged and kinds[-1] is PhaseChanged
    assert kinds.index(SearchStarted) < kinds.index(TrialFinished) < kinds.index(SearchFinished)
    assert BestImproved in kinds
    phases = [e.phase for e in events if isinstance(e, PhaseChanged)]
    assert phases == ["load", "search", "refit", "curve", "explain", "done"]


def test_regression_predicts_values(mixed):
    model = AutoML(time_budget=30, n_trials=3, cv=3, algorithms=["linear"])
    model.fit(mixed.drop(columns=["bought"]), target="income")
    assert model.card["task"] == "regression" and model.card["metric"]["name"] == "rmse"
    # rows with a missing target were dropped, the rest predicted as floats
    values = model.predict(mixed)
    assert values.dtype == float and np.isfinite(values).all()
    with pytest.raises(UsageError, match="classification"):
        model.predict_proba(mixed)


def test_unfitted_model_says_so():
    with pytest.raises(UsageError, match="not fitted"):
        AutoML().predict(pd.DataFrame({"a": [1]}))


@pytest.mark.parametrize("name", sorted(get_registry().algorithms))
def test_unseen_and_missing_categories_never_crash_predict(name, mixed):
    model = AutoML(time_budget=60, n_trials=1, cv=2, algorithms=[name], n_jobs=1)
    model.fit(mixed, target="bought")
    new = make_mixed(30, seed=9).drop(columns=["bought"])
    new["city"] = ["atlantis", None, "north"] * 10
    proba = model.predict_proba(new)
    assert proba.shape == (30, 2) and np.allclose(proba.sum(axis=1), 1.0)


def test_same_seed_and_trials_give_the_same_leaderboard(mixed):
    def board(seed):
        model = AutoML(
            time_budget=120,
            n_trials=8,
            cv=3,
            cv_repeats=1,  # (at 120 s a 300-row table's folds would be repeated 3 times)
            seed=seed,
            n_jobs=1,
            algorithms=["lightgbm", "linear", "random_forest"],
            # The leaderboard is the search's: nothing after the refit bears on it.
            explanations=False,
            learning_curve=False,
        )
        return model.fit(mixed, target="bought").leaderboard().drop(columns="fold_seconds")

    first, second = board(0), board(0)
    pd.testing.assert_frame_equal(first, second)
    assert len(first) >= 4
    assert not board(1)[["algorithm", "roc_auc"]].equals(first[["algorithm", "roc_auc"]])


def test_cancel_stops_the_run(mixed):
    cancel = threading.Event()

    def on_event(event):
        if isinstance(event, TrialFinished):
            cancel.set()

    model = AutoML(time_budget=60, cv=3, algorithms=["linear"], on_event=on_event, cancel=cancel)
    with pytest.raises(Cancelled):
        model.fit(mixed, target="bought")


def test_fit_reads_a_file_path(tmp_path, mixed):
    path = tmp_path / "t.parquet"
    mixed.to_parquet(path)
    model = AutoML(time_budget=30, n_trials=2, cv=3, algorithms=["linear"])
    model.fit(path, target="bought")
    assert model.card["data"]["source"] == str(path)


def test_the_exports_second_is_kept_only_when_a_bundle_is_written(monkeypatch, tmp_path, mixed):
    """The search keeps back the time of what follows it; writing the bundle is part of
    that only with an output directory."""
    from automl.search import EXPORT_SECONDS, Search

    kept = []
    init = Search.__init__

    def noted(self, *args, **kwargs):
        init(self, *args, **kwargs)
        kept.append((self.budget.export, self.budget.finish, self.refit_reserve))

    monkeypatch.setattr(Search, "__init__", noted)
    options = dict(time_budget=20, n_trials=1, cv=2, algorithms=["linear"], n_jobs=1)
    AutoML(**options).fit(mixed, "bought")
    saved = AutoML(**options).fit(mixed, "bought", output=tmp_path / "m")
    (export, finish, reserve), (saved_export, saved_finish, saved_reserve) = kept
    assert (export, reserve) == (0.0, 0.0)
    assert (saved_export, saved_reserve) == (EXPORT_SECONDS, EXPORT_SECONDS)
    assert saved_finish - finish == pytest.approx(EXPORT_SECONDS)
    assert (tmp_path / "m" / "model_card.json").exists() and saved.card["timing"]


def test_a_refit_that_ends_past_the_budget_leaves_the_model_unexplained(mixed, monkeypatch):
    """The refit may take the explanation's time (a model first); when it ends past the
    budget, explaining would break the time promise, so the run says why it did not."""
    from automl import api

    real = api.final_model

    def slow_refit(runner, ranked, budget, cancel):
        final = real(runner, ranked, budget, cancel)
        time.sleep(max(budget.end - time.monotonic(), 0.0) + 0.1)
        return final

    monkeypatch.setattr(api, "final_model", slow_refit)
    phases = []
    model = AutoML(
        time_budget=8, n_trials=2, cv=3, algorithms=["linear"],
        on_event=lambda e: phases.append(e.phase) if isinstance(e, PhaseChanged) else None,
    )  # fmt: skip
    with pytest.warns(AutoMLWarning, match="No time was left to explain the model"):
        model.fit(mixed, target="bought")
    assert "explain" not in phases and phases[-1] == "done"
    assert model.insights_ is None
    assert len(model.predict(mixed.drop(columns="bought"))) == len(mixed)
