"""Greedy ensemble selection (Caruana et al., 2004) over the search's out-of-fold predictions.

Every complete trial predicted each row once, from the fold that held it out. Averaging
those out-of-fold predictions and scoring the average fold by fold, on exactly the rows
and folds the trials were scored on, tells how a weighted average of the trials' models
would have scored, without fitting anything. The chosen average is exported as a stock
scikit-learn `VotingClassifier` (soft voting) or `VotingRegressor`.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from automl.contract import Metric

# Rounds of greedy selection: each adds one model (with replacement), so a weight is a
# multiple of 1/(rounds + 1) at the finest.
ROUNDS = 25
# Trials whose out-of-fold predictions are kept, best first, and the memory they may take.
CANDIDATES = 12
MEMORY_BYTES = 500_000_000

Folds = Sequence[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Ensemble:
    """Weights (trial number -> weight, summing to 1) and the blend's score in each fold."""

    weights: dict[int, float]
    fold_scores: list[float]

    @property
    def score(self) -> float:
        """The mean over folds, comparable with a trial's cross-validated value."""
        return float(np.mean(self.fold_scores))


def fold_scores(
    prediction: np.ndarray, y: np.ndarray, folds: Folds, metric: Metric
) -> list[float] | None:
    """The metric on each fold's held-out rows; None if it fails or is not finite.

    `prediction` is an (n, K) probability matrix for classification (its argmax is
    scored when the metric wants labels) or an (n,) array of values for regression.
    """
    if prediction.ndim == 2 and not metric.needs_proba:
        prediction = prediction.argmax(axis=1)
    try:
        scores = [float(metric.score(y[valid], prediction[valid])) for _, valid in folds]
    except Exception:  # a blend the metric rejects is simply never chosen
        return None
    return scores if all(math.isfinite(s) for s in scores) else None


def blend(predictions: Mapping[int, np.ndarray], weights: Mapping[int, float]) -> np.ndarray:
    """The weighted average of the predictions, as `np.average` in the voting estimators."""
    numbers = list(weights)
    stacked = np.stack([predictions[n] for n in numbers])
    return np.average(stacked, axis=0, weights=[weights[n] for n in numbers])


def evaluate(
    predictions: Mapping[int, np.ndarray],
    weights: Mapping[int, float],
    y: np.ndarray,
    folds: Folds,
    metric: Metric,
) -> Ensemble | None:
    """The ensemble of `weights` (renormalised to sum to 1), scored fold by fold."""
    total = sum(weights.values())
    normalised = {n: w / total for n, w in weights.items()}
    scores = fold_scores(blend(predictions, normalised), y, folds, metric)
    return None if scores is None else Ensemble(normalised, scores)


def select(
    predictions: Mapping[int, np.ndarray],
    y: np.ndarray,
    folds: Folds,
    metric: Metric,
    *,
    rounds: int = ROUNDS,
    deadline: float | None = None,
) -> Ensemble | None:
    """Caruana's greedy selection with replacement; None if no candidate can be scored.

    Starts from the best single model, then for `rounds` rounds adds the model whose
    addition gives the best mean fold score (ties: the better single model), and keeps
    the best bag seen, so the result is never worse than the best single model on these
    rows. Stops early at `deadline` (a `time.monotonic()` value).
    """
    singles = {n: fold_scores(p, y, folds, metric) for n, p in predictions.items()}
    sign = -1.0 if metric.direction == "maximize" else 1.0
    order = sorted(
        (n for n, s in singles.items() if s is not None),
        key=lambda n: (sign * float(np.mean(singles[n])), n),
    )
    if not order:
        return None
    bag = [order[0]]
    total = np.array(predictions[order[0]], dtype=float)
    best_bag, best_scores = list(bag), singles[order[0]]
    for _ in range(rounds):
        if deadline is not None and time.monotonic() >= deadline:
            break
        step = _best_addition(predictions, order, total, len(bag), y, folds, metric)
        if step is None:
            break
        number, scores = step
        bag.append(number)
        total += predictions[number]
        if metric.better(float(np.mean(scores)), float(np.mean(best_scores))):
            best_bag, best_scores = list(bag), scores
    weights = {n: count / len(best_bag) for n, count in Counter(best_bag).items()}
    return evaluate(predictions, weights, y, folds, metric)


def _best_addition(
    predictions: Mapping[int, np.ndarray],
    order: list[int],
    total: np.ndarray,
    size: int,
    y: np.ndarray,
    folds: Folds,
    metric: Metric,
) -> tuple[int, list[float]] | None:
    best: tuple[int, list[float]] | None = None
    for number in order:
        scores = fold_scores((total + predictions[number]) / (size + 1), y, folds, metric)
        if scores is None:
            continue
        if best is None or metric.better(float(np.mean(scores)), float(np.mean(best[1]))):
            best = (number, scores)
    return best


class _Entry(NamedTuple):
    value: float
    algorithm: str
    fold_seconds: float


@dataclass
class Pool:
    """The out-of-fold predictions of the best complete trials, for `select`.

    Holds at most `capacity` trials: the best of each algorithm, then the best of the
    rest; a better trial pushes out the worst of the rest. Only trials of
    this process are in it; the study's storage keeps no predictions.
    """

    metric: Metric
    capacity: int
    predictions: dict[int, np.ndarray] = field(default_factory=dict)
    entries: dict[int, _Entry] = field(default_factory=dict)

    @classmethod
    def for_table(cls, metric: Metric, n_rows: int, width: int, enabled: bool) -> Pool:
        """A pool sized so its arrays stay under `MEMORY_BYTES` (fewer on huge tables)."""
        per_trial = max(n_rows * width * np.dtype(float).itemsize, 1)
        return cls(metric, min(CANDIDATES, MEMORY_BYTES // per_trial) if enabled else 0)

    def offer(
        self, number: int, algorithm: str, value: float, fold_seconds: float, oof: np.ndarray
    ) -> None:
        """Keep `oof` if the trial is among the `capacity` best so far."""
        if self.capacity < 1:
            return
        self.predictions[number] = oof
        self.entries[number] = _Entry(value, algorithm, fold_seconds)
        for dropped in self._kept_order()[self.capacity :]:
            del self.predictions[dropped], self.entries[dropped]

    def _kept_order(self) -> list[int]:
        """Trials in the order they are kept: each algorithm's best first (best first
        among them), then the rest, best first.

        The selection gains most from models that err differently, and the best trials
        of a long search are often one algorithm's near-copies; so each algorithm's best
        keeps its place while it is among the `capacity` best algorithms.
        """
        ranked = self.ranked()
        leaders: dict[str, int] = {}
        for number in ranked:
            leaders.setdefault(self.entries[number].algorithm, number)
        first = list(leaders.values())
        return first + [n for n in ranked if n not in first]

    def ranked(self) -> list[int]:
        """Trial numbers, best first (ties: the earlier trial)."""
        sign = -1.0 if self.metric.direction == "maximize" else 1.0
        return sorted(self.entries, key=lambda n: (sign * self.entries[n].value, n))

    def fold_seconds(self, number: int) -> float:
        return self.entries[number].fold_seconds

    def algorithm(self, number: int) -> str:
        return self.entries[number].algorithm

    def mixes_algorithms(self) -> bool:
        """Whether the trials come from two algorithms or more.

        Only then is an ensemble tried: a search of one algorithm (`--algorithms xgboost`)
        exports a model of that algorithm, as the user asked.
        """
        return len(self.algorithms()) >= 2

    def algorithms(self) -> set[str]:
        """The algorithms that have a trial in the pool."""
        return {entry.algorithm for entry in self.entries.values()}


def voting_estimator(
    members: Sequence[tuple[int, Any]],
    weights: Sequence[float],
    n_classes: int | None,
    prefix: str = "trial",
) -> Any:
    """A fitted `VotingClassifier` (soft) or `VotingRegressor` over fitted pipelines.

    members: (trial number, fitted pipeline) pairs, named `<prefix>_<number>`. Classifiers
    among them were fitted on labels 0..n_classes-1. The fitted attributes are set as `fit`
    would set them, without refitting anything.
    """
    from sklearn.base import clone
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    from sklearn.preprocessing import LabelEncoder

    named = [(f"{prefix}_{number}", pipeline) for number, pipeline in members]
    # The constructor holds unfitted copies, as after a real `fit`; only `estimators_`
    # holds the fitted pipelines.
    unfitted = [(name, clone(pipeline)) for name, pipeline in named]
    if n_classes is None:
        model: Any = VotingRegressor(unfitted, weights=list(weights))
    else:
        model = VotingClassifier(unfitted, voting="soft", weights=list(weights))
        model.le_ = LabelEncoder().fit(np.arange(n_classes))
        model.classes_ = model.le_.classes_
    model.estimators_ = [pipeline for _, pipeline in named]
    # `fit` makes this a sklearn Bunch, which skops does not trust by default; a dict
    # answers `named_estimators_[name]` the same way and loads without a new trusted type.
    model.named_estimators_ = dict(named)
    if hasattr(named[0][1], "feature_names_in_"):
        model.feature_names_in_ = named[0][1].feature_names_in_
    return model
