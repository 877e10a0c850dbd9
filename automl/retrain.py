"""Retraining a saved model on new data: `automl run NEW_DATA --like MODEL_DIR`.

The new run repeats the old one's settings (`settings`), starts from the old model's
configurations (`configurations`: the trials the search runs first), and ends by scoring
the old model (the champion) and the new one (the challenger) on the same held-out rows
of the new data (`compare`), with a paired bootstrap interval for their difference. The
new card records the comparison and its parent bundle; both bundles are kept.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from automl import curve, evaluate
from automl.errors import AutoMLWarning, UsageError, describe

if TYPE_CHECKING:
    import pandas as pd

    from automl.api import AutoML

# Held out of the new data to compare the two models on, unless --test or --test-size says.
TEST_SIZE = 0.2


def settings(card: Mapping[str, Any]) -> dict[str, Any]:
    """The `AutoML` options of the run that made `card`: its task, metric, algorithms,
    folds, repetitions, seed and budget, as that run was asked for them (None where
    automl chose: every algorithm installed, repetitions by the table's rows). An
    algorithm no longer installed is left out, with a warning."""
    from automl.contract import Task
    from automl.plugins import get_registry

    cv = card["cv"]
    asked = card.get("options")
    if asked is not None:
        algorithms, repeats = asked.get("algorithms"), asked.get("cv_repeats")
    else:  # a card of an older automl records what the run resolved
        algorithms, repeats = card.get("algorithms"), cv.get("repeats")
    if algorithms:
        installed = {a.name for a in get_registry().algorithms_for(Task(card["task"]))}
        missing = [name for name in algorithms if name not in installed]
        if missing:
            warnings.warn(
                f"The model was searched with {', '.join(missing)}, which is not installed"
                " now; the new search goes on without it.",
                AutoMLWarning,
                stacklevel=2,
            )
            algorithms = [name for name in algorithms if name in installed] or None
    return {
        "task": card["task"],
        "metric": card["metric"]["name"],
        "algorithms": algorithms,
        "cv": cv["folds"],
        "cv_repeats": repeats,
        "seed": card["seed"],
        "time_budget": card["time_budget"],
    }


def configurations(card: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The exported model's configurations, (algorithm, parameters): the best trial's, or
    each ensemble member's, heaviest first."""
    members = sorted(curve.configuration(card), key=lambda m: -m.weight)
    return [(m.algorithm, dict(m.params)) for m in members]


def check_output(parent: Any, output: Any) -> None:
    """Refuse to write the new bundle over the old one: both are kept."""
    from pathlib import Path

    if output is not None and Path(output).resolve() == Path(parent).resolve():
        raise UsageError(
            f"--output {output} is the bundle being retrained; both are kept, so the new"
            " one needs a folder of its own.",
            hint="Give another --output (or none, for runs/<data>-<time>).",
        )


def compare(
    champion: AutoML,
    challenger: evaluate.Evaluation,
    rows: pd.DataFrame,
    source: str,
    *,
    seed: int = 0,
    deadline: float | None = None,
) -> dict[str, Any]:
    """The champion scored on the `rows` the challenger was scored on, the difference
    in the run's metric (challenger minus champion) with a paired bootstrap interval, and
    which is better, for the new card's "parent" section."""
    card = champion.card
    parent = {
        "path": str(champion.bundle_path_) if champion.bundle_path_ else None,
        "model_sha256": card.get("model", {}).get("sha256"),
        "data_fingerprint": card["data"]["fingerprint"],
        "created_at": card["created_at"],
        "metric": challenger.metric,
    }
    try:
        old = evaluate.evaluate(champion, rows, source, seed=seed, resamples=0)
    except Exception as exc:  # its columns or classes may no longer fit the new data
        return {
            **parent,
            "champion": None,
            "challenger": challenger.score.value,
            "better": "challenger",
            "text": f"The old model cannot be scored on the new data ({exc}); keep the new one.",
        }
    # The champion may have been run for another metric: it is scored on the challenger's.
    champion_score = old.scores.get(challenger.metric)
    if champion_score is None or champion_score.value is None or challenger.score.value is None:
        return {
            **parent,
            "champion": champion_score.value if champion_score is not None else None,
            "challenger": challenger.score.value,
            "better": "neither",
            "text": f"The two models cannot be compared: {challenger.metric} cannot be computed"
            " on these rows for both of them.",
        }
    try:
        difference, low, high = paired(challenger, old, seed=seed, deadline=deadline)
    except Exception as exc:  # the scores stand; only their interval is missing
        difference, low, high = challenger.score.value - champion_score.value, None, None
        note = f" There is no interval for the difference: {describe(exc)}."
    else:
        note = ""
    better = _better(low, high, challenger.direction)
    return {
        **parent,
        "champion": champion_score.value,
        "challenger": challenger.score.value,
        "difference": difference,
        "low": low,
        "high": high,
        "better": better,
        "text": _words(better, difference, low, high, challenger, champion_score.value) + note,
    }


def paired(
    a: evaluate.Evaluation,
    b: evaluate.Evaluation,
    *,
    seed: int = 0,
    resamples: int = evaluate.RESAMPLES,
    deadline: float | None = None,
) -> tuple[float, float | None, float | None]:
    """The difference a - b of the metric on the same rows, and its 95% percentile
    bootstrap interval from resamples drawn for both at once (None without enough)."""
    from automl.plugins import get_registry

    metric = get_registry().metric(a.metric)
    score_a = evaluate.scorer(metric, a)
    score_b = evaluate.scorer(metric, b)
    difference = score_a(np.arange(a.rows)) - score_b(np.arange(b.rows))
    drawn, _ = evaluate.bootstrap(
        {"difference": lambda r: score_a(r) - score_b(r)}, a.rows, seed, resamples, deadline
    )
    values = drawn["difference"]
    if len(values) < evaluate.MIN_RESAMPLES:
        return difference, None, None
    alpha = (1 - evaluate.CONFIDENCE) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return difference, float(low), float(high)


def _better(low: float | None, high: float | None, direction: str) -> str:
    """ "challenger", "champion", or "neither" when the interval holds zero."""
    if low is None or high is None or low <= 0 <= high:
        return "neither"
    challenger_higher = low > 0
    return "challenger" if challenger_higher == (direction == "maximize") else "champion"


def _words(
    better: str,
    difference: float,
    low: float | None,
    high: float | None,
    new: evaluate.Evaluation,
    old: float,
) -> str:
    scores = (
        f"{new.metric} {new.score.value:.4g} for the new model (challenger) and"
        f" {old:.4g} for the old one (champion) on the same {new.rows} held-out"
        " rows of the new data"
    )
    interval = (
        f" (95% interval {low:.3g} to {high:.3g})" if low is not None and high is not None else ""
    )
    by = f"by {abs(difference):.3g}{interval}"
    if better == "challenger":
        return f"The new model is better {by}: {scores}. Deploy the new one."
    if better == "champion":
        return f"The old model is better {by}: {scores}. Keep the old one."
    if math.isnan(difference):
        return f"The two models could not be told apart: {scores}."
    return (
        f"The two models cannot be told apart on these rows: the difference, {difference:.3g}"
        f"{interval}, is within chance: {scores}. Keep the old one unless the new data"
        " has moved (automl drift)."
    )
