"""The model card: the JSON document saved beside the pipeline (and rendered as Markdown
by `automl.bundle`)."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd

from automl import bundle
from automl.data import plain
from automl.refit import Final
from automl.search import Budget, Search, leaderboard

_LIBRARIES = ("scikit-learn", "lightgbm", "optuna", "pandas", "numpy", "skops", "pluggy")


def make_card(
    runner: Search,
    the_study: Any,
    final: Final,
    *,
    source: str,
    frame: pd.DataFrame,
    fingerprint: str,
    resumed: bool,
    budget: Budget,
    time_budget: float,
) -> dict[str, Any]:
    """The model card: what was exported, how it scored, on what data, with what."""
    metric = runner.settings.metric
    schema = runner.schema
    board = leaderboard(the_study, metric)
    return {
        "format_version": bundle.FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
        "task": str(schema.task),
        "target": schema.target,
        "classes": schema.classes,
        "metric": {"name": metric.name, "direction": metric.direction},
        "cv": _cv_section(final, runner.settings.cv, runner.settings.repeats),
        "best": _best_section(final),
        "leaderboard": _records(board.head(50)),
        "best_by_algorithm": _records(board.drop_duplicates("algorithm")),
        "trials": count_states(the_study),
        "schema": schema.to_dict(),
        "data": {
            "source": source,
            "rows": len(frame),
            "search_rows": len(runner.sample),
            "columns": int(frame.shape[1]),
            "fingerprint": fingerprint,
        },
        "refit": {
            "rows": final.refit_rows,
            # With bagging: the exported models are each the average of this many fold models.
            "bagged_folds": runner.settings.cv if runner.bags() else None,
            # When the refit stopped adding rounds to keep the time budget: {"kept", "of"}.
            "rounds_cut": (
                dict(zip(("kept", "of"), final.rounds_cut, strict=True))
                if final.rounds_cut
                else None
            ),
            # When the refit was planned with fewer rounds at a higher learning rate to
            # learn from more rows in its time: {"rounds", "of", "rate", "rate_was"}.
            "rounds_scaled": final.rounds_scaled.as_dict() if final.rounds_scaled else None,
        },
        "seed": runner.settings.seed,
        "algorithms": [a.name for a in runner.settings.algorithms],
        "time_budget": time_budget,
        "n_trials": runner.settings.n_trials,
        "timing": {
            "search_seconds": round(runner.search_seconds, 3),
            "refit_seconds": round(runner.refit_seconds, 3),
            "wall_seconds": round(budget.elapsed(), 3),
        },
        "study": {"name": the_study.study_name, "resumed": resumed},
    }


def _cv_section(final: Final, folds: int, repeats: int) -> dict[str, Any]:
    """The cross-validated score of the exported model: the ensemble's or the trial's."""
    if final.ensemble is not None:
        scores, score = final.ensemble.fold_scores, final.ensemble.score
    else:
        scores, score = final.trial.user_attrs["fold_scores"], final.trial.value
    section = {
        "folds": folds,
        "repeats": repeats,
        "score": score,
        "std": float(np.std(scores)),
        "fold_scores": scores,
    }
    if final.ensemble is None and "partial" in final.trial.user_attrs:
        # No trial finished its folds (`search.partial_trials`): scored on fewer.
        section["partial"] = final.trial.user_attrs["partial"]
    return section


def _best_section(final: Final) -> dict[str, Any]:
    """What was exported: one trial, or an ensemble (then the best trial is `best_single`)."""
    trial = final.trial
    single = {
        "trial": trial.number,
        "algorithm": trial.params["algorithm"],
        "params": trial.user_attrs.get("params", {}),
    }
    if final.ensemble is None:
        return {**single, "ensemble": []}
    members = [
        {
            "trial": t.number,
            "algorithm": t.params["algorithm"],
            "weight": final.ensemble.weights[t.number],
            "params": t.user_attrs.get("params", {}),
        }
        for t in final.members
    ]
    return {
        "trial": None,
        "algorithm": "ensemble",
        "params": {},
        "ensemble": members,
        "best_single": {**single, "score": trial.value},
    }


def count_states(the_study: Any) -> dict[str, int]:
    """Trials by how they ended: complete, pruned (for their score or their pace),
    stopped (at their deadline, or not started, to keep the budget) and failed (an error)."""
    from optuna.trial import TrialState

    trials = the_study.get_trials(deepcopy=False)
    failed = [t for t in trials if t.state is TrialState.FAIL]
    stopped = sum(bool(t.user_attrs.get("stopped")) for t in failed)
    return {
        # A trial scored on part of its folds (`search.partial_trials`) is a copy of a
        # pruned or stopped one, counted there.
        "complete": sum(
            t.state is TrialState.COMPLETE and "partial" not in t.user_attrs for t in trials
        ),
        "pruned": sum(t.state is TrialState.PRUNED for t in trials),
        "stopped": stopped,
        "failed": len(failed) - stopped,
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _versions() -> dict[str, str]:
    found = {"automl": _version("automl"), "python": platform.python_version()}
    found.update({name: _version(name) for name in _LIBRARIES})
    return found


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"
