"""How a classifier's probabilities become labels, and the balance of the classes.

A binary model scored on labels (F1, balanced accuracy, precision, recall, a cost) says
"positive" above a threshold chosen on its out-of-fold probabilities, not above 0.5: on a
table where one row in twenty is positive, the probabilities seldom reach 0.5 and most
positives would be missed. The threshold is stored in the exported estimator itself, a
scikit-learn `FixedThresholdClassifier`, so the pipeline predicts with it wherever it is
loaded; its probabilities are those of the model it wraps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.contract import Metric

# A binary target whose smaller class has under this share of the rows is imbalanced;
# for several classes, one with under this share of the largest class's rows.
MINORITY_SHARE = 0.2
MULTICLASS_RATIO = 0.25
# Thresholds tried: the 0.5 of argmax and up to this many quantiles of the probabilities,
# fewer on big tables (each costs a scoring of all the rows): about CANDIDATE_ROWS rows in
# all (measured: 200 thresholds of F1 on 1,600 rows, 0.2 s).
CANDIDATES = 200
MIN_CANDIDATES = 25
CANDIDATE_ROWS = 10_000_000


@dataclass(frozen=True)
class Threshold:
    """The threshold chosen for the positive class, and the score it gives on the
    out-of-fold probabilities of `rows` rows, pooled, beside the score at 0.5. Chosen and
    scored on the same rows, the score is optimistic: `automl.finish.exported_estimate`
    cross-validates the choice."""

    value: float
    score: float
    score_at_half: float
    rows: int
    metric: str

    def describe(self) -> str:
        return (
            f"chosen to make the {self.metric} of the out-of-fold predictions of {self.rows}"
            f" rows best: {self.score:.4g} at {self.value:.4g} (on the rows it was chosen on),"
            f" against {self.score_at_half:.4g} at 0.5"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.value,
            "metric": self.metric,
            "score": self.score,
            "score_at_half": self.score_at_half,
            "rows": self.rows,
            "how": self.describe(),
        }


def threshold_of(model: Any) -> float | None:
    """The decision threshold a model stores, if it is a `FixedThresholdClassifier`."""
    from sklearn.model_selection import FixedThresholdClassifier

    if isinstance(model, FixedThresholdClassifier):
        return float(model.threshold)
    return None


def codes(model: Any, proba: np.ndarray) -> np.ndarray:
    """The encoded labels `model` predicts from its probabilities `proba`: the positive
    class at or above its threshold, if it has one, else the most probable class (as
    `FixedThresholdClassifier.predict` and the voting estimators decide)."""
    threshold = threshold_of(model)
    if threshold is not None:
        return (np.asarray(proba)[:, 1] >= threshold).astype(np.int64)
    return np.asarray(proba).argmax(axis=1)


def labels(model: Any, probabilities: Any) -> np.ndarray:
    """The class labels `model` predicts from `probabilities`, a DataFrame with one column
    per class label (as `AutoML.predict_proba` gives them), through `codes`."""
    return probabilities.columns.to_numpy(dtype=object)[codes(model, probabilities.to_numpy())]


def unwrap(model: Any) -> Any:
    """The model a threshold wraps (which gives the same probabilities), else `model`."""
    if threshold_of(model) is None:
        return model
    inner = model.estimator_
    return getattr(inner, "estimator", inner)  # inside a FrozenEstimator


def with_threshold(model: Any, threshold: float, X: Any, y: np.ndarray) -> Any:
    """`model` (fitted) deciding at `threshold`, without refitting it; `X` and `y` are a
    few rows of input and encoded labels, which `fit` wants to see (it learns nothing)."""
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import FixedThresholdClassifier

    wrapped = FixedThresholdClassifier(
        FrozenEstimator(model), threshold=threshold, response_method="predict_proba"
    )
    return wrapped.fit(X, y)


def choose(y: np.ndarray, proba: np.ndarray, metric: Metric) -> Threshold | None:
    """The threshold on the positive class's probability that gives the best `metric`
    over the out-of-fold rows (`y` encoded, `proba` their probabilities); None if no
    threshold can be scored.

    Only thresholds at which both classes are predicted are considered: saying "positive"
    for every row makes recall perfect and says nothing. Between equally good thresholds,
    the one nearest 0.5 is kept.
    """
    import sklearn

    positive = np.asarray(proba)[:, 1]
    count = int(np.clip(CANDIDATE_ROWS / max(len(positive), 1), MIN_CANDIDATES, CANDIDATES))
    candidates = np.unique(
        np.concatenate([[0.5], np.quantile(positive, np.linspace(0, 1, count + 1))])
    )
    scores: dict[float, float] = {}
    # Checking the same arrays again for every threshold takes most of scikit-learn's time.
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        for threshold in candidates:
            predicted = (positive >= threshold).astype(np.int64)
            if predicted.min() == predicted.max():
                continue
            try:
                score = float(metric.score(y, predicted))
            except Exception:
                continue
            if np.isfinite(score):
                scores[float(threshold)] = score
    if not scores:
        return None
    best = min(
        scores,
        key=lambda t: (-scores[t] if metric.direction == "maximize" else scores[t], abs(t - 0.5)),
    )
    at_half = scores.get(0.5)
    if at_half is None:  # one class only at 0.5: the most probable class's score
        at_half = float(metric.score(y, proba.argmax(axis=1)))
    return Threshold(best, scores[best], at_half, len(y), metric.name)


def imbalance(counts: Sequence[int], classes: Sequence[Any]) -> dict[str, Any] | None:
    """The smallest class and its share when the classes are imbalanced (see
    `MINORITY_SHARE`), else None."""
    counts = np.asarray(counts, dtype=float)
    if len(counts) < 2 or counts.sum() == 0:
        return None
    smallest = int(counts.argmin())
    share = float(counts[smallest] / counts.sum())
    ratio = float(counts[smallest] / counts.max())
    imbalanced = share < MINORITY_SHARE if len(counts) == 2 else ratio < MULTICLASS_RATIO
    if not imbalanced:
        return None
    return {"minority": classes[smallest], "share": share, "rows": int(counts[smallest])}


def imbalance_note(found: dict[str, Any], target: str) -> str:
    """One sentence for the user about an imbalanced target."""
    return (
        f"The classes of {target!r} are imbalanced: {found['minority']!r} has only"
        f" {found['rows']} rows ({found['share']:.1%}). Accuracy says little here: choose the"
        " metric that matches what mistakes cost (roc_auc, f1, balanced_accuracy or a cost);"
        " class weights are searched, and for label metrics the decision threshold is tuned."
    )
