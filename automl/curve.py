"""The learning curve of the exported model's configuration, and what it says.

The configuration (the best trial's algorithm and parameters, or every member of the
ensemble with its weight) is cross-validated again on growing shares of each fold's
training rows; at each size it is scored on the fold's held-out rows (validation) and
on rows it was fitted on (training). One sentence reads the curve: whether more rows
would likely help, whether the model learns the training rows far better than it
generalises (overfitting), or whether both scores are low (underfitting).

Fits run in worker processes (`automl.worker`), one size at a time, largest first, and
stop at a deadline: a curve cut short still has its most telling points.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from automl import calibrate
from automl.bundle import ensemble_words
from automl.contract import Metric, Task
from automl.data import Schema
from automl.preprocess import Candidate, build_candidate
from automl.worker import TimeUp, TrialFailed, Worker, run_jobs

# Shares of a fold's training rows, in the order they are measured: the full size and
# half of it first, as they tell most (the gap between training and validation, and
# whether the validation score still rises).
SHARES = (1.0, 0.5, 0.25, 0.1, 0.75)
# The training score is taken on at most this many of the rows a model was fitted on.
TRAIN_SCORE_ROWS = 2_000
# A size is measured only if each fold has at least this many rows to fit on.
MIN_FIT_ROWS = 10
# The readings: the validation score rises when its gain per doubling of the rows (see
# `_slope`) beats both this share of its gain over the null model and twice its standard
# error; the training score is far above
# it when their gap is over OVERFIT_SHARE of the training score's gain; both are low when
# the training score has under UNDERFIT_SHARE of the way from the null model to a perfect
# score (1 for scores to maximise, 0 for errors).
RISE_SHARE = 0.02
OVERFIT_SHARE = 0.25
# Under this share, the training score is close to the validation score.
NEAR_SHARE = 0.1
UNDERFIT_SHARE = 0.2


@dataclass(frozen=True)
class Member:
    """One model of the exported configuration."""

    algorithm: str
    params: Mapping[str, Any]
    weight: float = 1.0


@dataclass
class Point:
    """The mean and standard deviation over folds of the training and validation
    scores of models fitted on `rows` rows (`share` of a fold's training rows)."""

    share: float
    rows: int
    train: float
    train_std: float
    valid: float
    valid_std: float
    valid_folds: list[float] = field(default_factory=list)


@dataclass
class LearningCurve:
    metric: str
    direction: str
    model: str
    folds: int
    null: float
    points: list[Point] = field(default_factory=list)
    reading: str = ""
    verdict: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "direction": self.direction,
            "model": self.model,
            "folds": self.folds,
            "null": self.null,
            "points": [vars(p) for p in self.points],
            "reading": self.reading,
            "verdict": self.verdict,
            "seconds": round(self.seconds, 3),
        }


def configuration(card: Mapping[str, Any]) -> list[Member]:
    """The exported model as the card describes it: its members, or the one trial (as
    searched: a refit short of time may have had fewer rounds at a higher learning rate,
    the card's `refit.rounds_scaled`; the curve is of the trial's own)."""
    best = card["best"]
    if best.get("ensemble"):
        return [Member(m["algorithm"], m["params"], m["weight"]) for m in best["ensemble"]]
    return [Member(best["algorithm"], best["params"])]


def describe(members: Sequence[Member]) -> str:
    """The configuration in words: "lightgbm", or "an ensemble of 4: 3 lightgbm, 1 mlp"."""
    if len(members) == 1:
        return members[0].algorithm
    return ensemble_words([m.algorithm for m in members])


def learning_curve(
    members: Sequence[Member],
    schema: Schema,
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    metric: Metric,
    workers: Sequence[Worker],
    *,
    threshold: float | None = None,
    beta: float | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    deadline: float | None = None,
    cancel: Any = None,
) -> LearningCurve | None:
    """Measure the curve of `members` over `folds` (indices into the table the
    `workers` hold, whose encoded target is `y`); None if not even the first size could
    be measured before `deadline` (a `time.monotonic()` value).

    threshold: the decision threshold of a binary model, for metrics scored on labels.
    beta: the temperature of a calibrated classifier (see `automl.calibrate`): the
        probabilities are scaled by it before they are scored, as the exported model's.
    cancel: stops the fits when its `is_set()` says so (`automl.errors.Cancelled`).
    """
    from automl.plugins import get_registry

    started = time.monotonic()
    registry = get_registry()
    candidates = [
        build_candidate(
            registry.algorithm(m.algorithm), schema, dict(m.params), schema.task, seed, n_jobs
        )
        for m in members
    ]
    weights = np.asarray([m.weight for m in members], dtype=float)
    weights /= weights.sum()
    rng = np.random.default_rng(seed)
    classification = schema.task.is_classification
    orders = [_order(train, y, rng, classification) for train, _ in folds]
    curve = LearningCurve(
        metric=metric.name,
        direction=metric.direction,
        model=describe(members),
        folds=len(folds),
        null=_null(metric, y, folds, schema.task),
    )
    for share in SHARES:
        subsets = [_subset(order, share, y, classification) for order in orders]
        if min(len(s) for s in subsets) < MIN_FIT_ROWS:
            continue
        measured = _measure(
            candidates, subsets, folds, workers, deadline, cancel, rng, classification
        )
        if measured is None:
            break
        curve.points.append(
            _point(share, subsets, measured, weights, y, folds, metric, threshold, beta)
        )
    curve.seconds = time.monotonic() - started
    if not curve.points:
        return None
    curve.points.sort(key=lambda p: p.rows)
    curve.reading, curve.verdict = read(curve)
    return curve


def _order(
    train: np.ndarray, y: np.ndarray, rng: np.random.Generator, classification: bool
) -> list[np.ndarray]:
    """A seeded shuffle of a fold's training rows, one per class for classification, so
    a share of them keeps every class."""
    if not classification:
        return [rng.permutation(train)]
    return [rng.permutation(train[y[train] == c]) for c in np.unique(y[train])]


def _subset(order: list[np.ndarray], share: float, y: np.ndarray, classification: bool):
    """The first `share` of each shuffled group (at least one row of each class)."""
    taken = [group[: max(1 if classification else 0, round(share * len(group)))] for group in order]
    return np.sort(np.concatenate(taken))


def _measure(
    candidates: Sequence[Candidate],
    subsets: Sequence[np.ndarray],
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    workers: Sequence[Worker],
    deadline: float | None,
    cancel: Any,
    rng: np.random.Generator,
    classification: bool,
) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
    """(fold, member) -> (training rows scored, their predictions, validation predictions)
    for one size, fitted on the workers at once; None if the deadline or a failure came
    first."""
    jobs = []
    for f, fit_rows in enumerate(subsets):
        scored = fit_rows
        if len(scored) > TRAIN_SCORE_ROWS:
            scored = np.sort(rng.choice(fit_rows, TRAIN_SCORE_ROWS, replace=False))
        jobs.extend((f, m, scored) for m in range(len(candidates)))
    end = math.inf if deadline is None else deadline

    def fit(worker: Worker, job: tuple[int, int, np.ndarray]):
        f, m, scored = job
        (train_pred, valid_pred), _ = worker.fit_predict(
            candidates[m], subsets[f], [scored, folds[f][1]], end, cancel
        )
        return scored, train_pred, valid_pred

    try:
        measured = run_jobs(workers, jobs, fit)
    except (TimeUp, TrialFailed):
        return None
    return {(f, m): result for (f, m, _), result in zip(jobs, measured, strict=True)}


def _point(
    share: float,
    subsets: Sequence[np.ndarray],
    measured: Mapping[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]],
    weights: np.ndarray,
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    metric: Metric,
    threshold: float | None,
    beta: float | None,
) -> Point:
    train_scores, valid_scores = [], []
    for f, (_, valid) in enumerate(folds):
        members = [measured[(f, m)] for m in range(len(weights))]
        scored = members[0][0]
        train = np.average([p[1] for p in members], axis=0, weights=weights)
        held_out = np.average([p[2] for p in members], axis=0, weights=weights)
        if beta is not None:
            train, held_out = calibrate.scale(train, beta), calibrate.scale(held_out, beta)
        train_scores.append(_score(metric, y[scored], train, threshold))
        valid_scores.append(_score(metric, y[valid], held_out, threshold))
    return Point(
        share=share,
        rows=int(np.mean([len(s) for s in subsets])),
        train=float(np.mean(train_scores)),
        train_std=float(np.std(train_scores)),
        valid=float(np.mean(valid_scores)),
        valid_std=float(np.std(valid_scores)),
        valid_folds=valid_scores,
    )


def _score(metric: Metric, y: np.ndarray, predictions: np.ndarray, threshold: float | None):
    if predictions.ndim == 2 and not metric.needs_proba:
        if threshold is not None:
            predictions = (predictions[:, 1] >= threshold).astype(np.int64)
        else:
            predictions = predictions.argmax(axis=1)
    return float(metric.score(y, predictions))


def _null(
    metric: Metric, y: np.ndarray, folds: Sequence[tuple[np.ndarray, np.ndarray]], task: Task
) -> float:
    """The mean fold score of a model that knows only the training rows' target: the
    class shares (the most common class as the label), or the mean."""
    scores = []
    for train, valid in folds:
        if task.is_classification:
            k = int(y.max()) + 1
            shares = np.bincount(y[train], minlength=k) / len(train)
            predictions = np.tile(shares, (len(valid), 1))
        else:
            predictions = np.full(len(valid), float(np.mean(y[train])))
        try:
            scores.append(_score(metric, y[valid], predictions, None))
        except Exception:
            continue
    return float(np.mean(scores)) if scores else float("nan")


def _slope(points: Sequence[Point], sign: float) -> tuple[float, float]:
    """How much the validation score gains each time the rows double, over the larger
    half of the curve (least squares on log2 of the rows, for each fold, the folds being
    the same at every size), and its standard error over the folds; (0, 0) with fewer
    than two sizes there."""
    upper = [p for p in points if p.rows >= points[-1].rows / 2]
    if len(upper) < 2 or any(len(p.valid_folds) != len(upper[0].valid_folds) for p in upper):
        return 0.0, 0.0
    x = np.log2([p.rows for p in upper])
    scores = sign * np.array([p.valid_folds for p in upper])  # (sizes, folds)
    slopes = np.polyfit(x, scores, 1)[0]  # one per fold
    return float(np.mean(slopes)), float(np.std(slopes)) / math.sqrt(max(len(slopes) - 1, 1))


def read(curve: LearningCurve) -> tuple[str, str]:
    """(reading, one sentence): "more rows", "overfitting", "more rows, overfitting",
    "underfitting", "levelled off" or "one size"."""
    sign = 1.0 if curve.direction == "maximize" else -1.0
    null = curve.null if math.isfinite(curve.null) else None

    def gain(score: float) -> float:
        return sign * (score - null) if null is not None else sign * score

    last = curve.points[-1]
    train, valid = gain(last.train), gain(last.valid)
    overfit = train - valid > OVERFIT_SHARE * abs(train)
    per_doubling, noise = _slope(curve.points, sign)
    rising = per_doubling > max(2 * noise, RISE_SHARE * abs(valid))
    room = None
    if null is not None:
        room = (1.0 - null) if curve.direction == "maximize" else null
    underfit = not overfit and room is not None and room > 0 and train < UNDERFIT_SHARE * room
    scores = (
        f"{curve.metric} {last.valid:.4g} on held-out rows and {last.train:.4g} on the rows"
        f" it was fitted on, with {last.rows} rows"
    )
    moved = "rose" if curve.direction == "maximize" else "fell"
    rise = (
        f"over the larger half of the curve, {curve.metric} {moved} by about"
        f" {abs(per_doubling):.3g} each time the rows doubled"
    )
    if rising and overfit:
        return "more rows, overfitting", (
            f"The validation score still rises with more rows ({rise}) and the training score"
            f" is far above it ({scores}): more rows would likely help most; the model also"
            " learns its training rows more closely than it generalises (overfitting)."
        )
    if rising:
        return "more rows", (
            f"The validation score still rises with more rows ({rise}; {scores}): more rows"
            " would likely help."
        )
    if overfit:
        return "overfitting", (
            f"The training score is far above the validation score, which has levelled off"
            f" ({scores}): the model learns its training rows more closely than it"
            " generalises (overfitting); stronger regularisation or more informative columns"
            " would help more than more rows of the same kind."
        )
    if underfit:
        return "underfitting", (
            f"Both scores are low and close ({scores}; predicting without the columns"
            f" scores {curve.null:.4g}): the model is too simple for the signal, or the"
            " columns say little about the target (underfitting)."
        )
    size = "small" if train - valid <= NEAR_SHARE * abs(train) else "moderate"
    gap = (
        f"the gap between them, {abs(last.train - last.valid):.3g}, is {size} beside what"
        f" the model gains over predicting without the columns, {abs(train):.3g}"
    )
    if len(curve.points) == 1:
        return "one size", (
            f"Only the full size could be measured in the time there was ({scores}); {gap}."
        )
    return "levelled off", (
        f"The validation score has levelled off ({scores}), and {gap}: the model fits about"
        " as well as rows like these allow; more of them would add little."
    )
