"""Calibrated probabilities: temperature scaling fitted on the out-of-fold predictions.

Models come out of the search over- or under-confident: an average of models is too
cautious (its probabilities are pulled towards the middle), a lone boosted model often too
sure. Temperature scaling (Guo et al., 2017; AutoGluon does it for log loss) raises every
probability to one power and normalises again, p_k ∝ p_k ** β: one parameter, fitted by
log loss on the out-of-fold predictions, which the search already has, so nothing is
refitted. It keeps the order of each row's classes (the predicted class does not change)
and, for two classes, the order of the rows (ROC AUC does not change).

It is kept only where it pays: fitted on four fifths of the out-of-fold rows and scored on
the fifth left out, five times over, it must lower their log loss by more than twice the
standard error of the per-row difference, and by at least `MIN_GAIN`. The exported model
is then scikit-learn's own `CalibratedClassifierCV` around the fitted model (frozen), so
`predict_proba`, `automl predict --proba`, the server and the explanations all see it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

# Folds of the out-of-fold rows on which the temperature is fitted and checked.
FOLDS = 5
# The cross-validated log loss must fall by at least this share, and by more than this many
# standard errors of the per-row differences, for the calibration to be kept.
MIN_GAIN = 0.01
MIN_Z = 2.0
# What scikit-learn adds to a probability before taking its log.
EPSILON = 1e-12
# The temperature is fitted on the predictions of the folds' models, so it is applied only
# to an exported model that learnt from at most this many times the rows one of them did
# (five folds of the whole table: 1.25). A model refitted on every row of a table searched
# on a sample is surer than the folds' models were: at 30 s on the 22,500-row segments
# table, searched on 7,500 rows (3.75 times a fold's 6,000), the temperature they asked for
# (1.17) raised the refitted model's test log loss from 0.444 to 0.465; in the ablation of
# 2026-12-05 at 60 s, searched on 15,000 rows (1.9 times), it lowered it from 0.354 to 0.337.
MAX_ROWS_RATIO = 2.0


@dataclass(frozen=True)
class Calibration:
    """A temperature fitted on `rows` out-of-fold rows: β (1/temperature), and their log
    loss before and after, the latter cross-validated as described in the module."""

    beta: float
    rows: int
    before: float
    after: float
    kept: bool
    why: str

    def unfit_for(self, rows: int, fold_rows: int) -> Calibration:
        """This calibration not kept for a model that learnt from `rows` rows, over
        MAX_ROWS_RATIO times the `fold_rows` a fold's model did."""
        reason = (
            f"the model learnt from {rows} rows, {rows / fold_rows:.2f} times the"
            f" {fold_rows} of a fold's model, and is surer than they were"
        )
        return replace(self, kept=False, why=self.why.replace("kept", f"not kept: {reason}", 1))

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": "temperature",
            "beta": self.beta,
            "temperature": 1.0 / self.beta,
            "rows": self.rows,
            "log_loss_before": self.before,
            "log_loss_after": self.after,
            "kept": self.kept,
            "why": self.why,
        }


def fit(y: np.ndarray, proba: np.ndarray, seed: int = 0) -> tuple[Calibration, np.ndarray]:
    """The temperature for out-of-fold probabilities `proba` of classes `y` (encoded), and
    the cross-validated calibrated probabilities of those rows (each from a temperature
    fitted without it), for honest diagnostics."""
    from sklearn.calibration import _TemperatureScaling
    from sklearn.model_selection import StratifiedKFold

    proba = _clean(proba)
    crossed = np.empty_like(proba)
    folds = min(FOLDS, int(np.bincount(y).min()))
    if folds >= 2:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
        for fitted_on, scored_on in splitter.split(proba, y):
            scaling = _TemperatureScaling().fit(proba[fitted_on], y[fitted_on])
            crossed[scored_on] = scale(proba[scored_on], float(scaling.beta_))
    else:
        crossed[:] = proba
    beta = float(_TemperatureScaling().fit(proba, y).beta_)
    rows = np.arange(len(y))
    before = -np.log(np.clip(proba[rows, y], 1e-15, 1.0))
    after = -np.log(np.clip(crossed[rows, y], 1e-15, 1.0))
    gain = before - after
    error = float(np.std(gain)) / np.sqrt(max(len(gain) - 1, 1))
    mean_before, mean_after = float(before.mean()), float(after.mean())
    kept = bool(gain.mean() > MIN_Z * error and gain.mean() > MIN_GAIN * mean_before)
    why = (
        f"log loss {mean_before:.4g} before, {mean_after:.4g} after (each out-of-fold row"
        f" calibrated by a temperature fitted without it, {folds}-fold): "
        + ("kept" if kept else "not kept, the gain is within chance or under 1%")
    )
    calibration = Calibration(beta, len(y), mean_before, mean_after, kept, why)
    return calibration, crossed if kept else proba


def scale(proba: np.ndarray, beta: float) -> np.ndarray:
    """Probabilities raised to `beta` and normalised: softmax(β log p), as scikit-learn's
    temperature scaling computes it from probabilities."""
    logits = beta * np.log(_clean(proba) + EPSILON)
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def wrap(model: Any, beta: float, n_classes: int) -> Any:
    """`model` (fitted) with its probabilities scaled by `beta`, as a fitted scikit-learn
    `CalibratedClassifierCV` around it, nothing refitted.

    scikit-learn takes a model's decision function rather than its probabilities where it
    has one (a linear model's logits): for those, the same β is expressed on that scale."""
    from sklearn.calibration import (
        CalibratedClassifierCV,
        _CalibratedClassifier,
        _TemperatureScaling,
    )
    from sklearn.frozen import FrozenEstimator

    frozen = FrozenEstimator(model)
    scaling = _TemperatureScaling()
    # Two classes given as one decision value x become the logits (-x, x): twice the
    # log-odds, so the same calibration needs half the β.
    binary_decision = n_classes == 2 and hasattr(model, "decision_function")
    scaling.beta_ = np.float64(beta / 2 if binary_decision else beta)
    classes = np.arange(n_classes)
    calibrated = CalibratedClassifierCV(frozen, method="temperature")
    calibrated.calibrated_classifiers_ = [
        _CalibratedClassifier(frozen, [scaling], classes=classes, method="temperature")
    ]
    calibrated.classes_ = classes
    for attribute in ("n_features_in_", "feature_names_in_"):
        if hasattr(model, attribute):
            setattr(calibrated, attribute, getattr(model, attribute))
    return calibrated


def beta_of(model: Any) -> float | None:
    """The β of a model `wrap` made, on the scale of its probabilities; None otherwise."""
    from sklearn.calibration import CalibratedClassifierCV

    if not isinstance(model, CalibratedClassifierCV) or model.method != "temperature":
        return None
    calibrated = model.calibrated_classifiers_[0]
    beta = float(calibrated.calibrators[0].beta_)
    inner = inner_model(model)
    if len(calibrated.classes) == 2 and hasattr(inner, "decision_function"):
        return 2 * beta
    return beta


def inner_model(model: Any) -> Any:
    """The fitted model a calibration wraps."""
    frozen = model.calibrated_classifiers_[0].estimator
    return getattr(frozen, "estimator", frozen)


def _clean(proba: np.ndarray) -> np.ndarray:
    values = np.asarray(proba, dtype=float)
    return values / values.sum(axis=1, keepdims=True)
