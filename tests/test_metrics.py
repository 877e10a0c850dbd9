"""The shipped metrics are computed in automl.builtin.metrics, not by scikit-learn (whose
checks cost more than the sums in the ensemble selection and the decision threshold):
they must give scikit-learn's values, and reject what it rejects."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import sklearn.metrics as sk

from automl.builtin import metrics
from automl.builtin.metrics import log_loss, rmse, roc_auc


def _sk_log_loss(y, p, labels) -> float:
    """scikit-learn's log loss, on 1.8 (y_pred) and on 1.9 (y_proba, y_pred deprecated)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return sk.log_loss(y, p, labels=labels)


def _probabilities(rng: np.random.Generator, n: int, k: int, ties: bool) -> np.ndarray:
    p = rng.dirichlet(np.ones(k), n)
    if ties:  # few distinct values, as trees and k-NN give
        p = np.round(p, 1) + 1e-3
        p /= p.sum(axis=1, keepdims=True)
    return p


@pytest.mark.parametrize("k", [2, 3, 7])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_log_loss_and_auc_are_scikit_learns(k, ties, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(k * 3, 300))
    y = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])  # every class present
    p = _probabilities(rng, n, k, ties)
    labels = np.arange(k)
    assert log_loss(y, p) == pytest.approx(_sk_log_loss(y, p, labels), rel=1e-12)
    expected = (
        sk.roc_auc_score(y, p[:, 1])
        if k == 2
        else sk.roc_auc_score(y, p, multi_class="ovr", labels=labels)
    )
    assert roc_auc(y, p) == pytest.approx(expected, rel=1e-12)
    # float32 probabilities are clipped at float32's epsilon, as scikit-learn does
    sure = np.zeros((k, k), dtype=np.float32)
    sure[np.arange(k), (np.arange(k) + 1) % k] = 1
    assert log_loss(labels, sure) == pytest.approx(_sk_log_loss(labels, sure, labels), rel=1e-6)


def test_certain_and_wrong_is_clipped_not_infinite():
    y = np.array([0, 1])
    p = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert log_loss(y, p) == pytest.approx(_sk_log_loss(y, p, [0, 1]))
    assert math.isfinite(log_loss(y, p))


def test_auc_with_one_class_present_is_nan_as_in_scikit_learn():
    p = np.array([[0.2, 0.8], [0.6, 0.4]])
    assert math.isnan(roc_auc(np.array([1, 1]), p))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert math.isnan(sk.roc_auc_score([1, 1], p[:, 1]))
    # one-vs-rest with a class missing: its area is undefined, so the mean is too
    three = np.array([[0.2, 0.5, 0.3], [0.6, 0.2, 0.2], [0.1, 0.1, 0.8]])
    assert math.isnan(roc_auc(np.array([0, 1, 0]), three))


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1], [[0.5, 0.5]], "expected n labels"),
        ([0, 2], [[0.5, 0.5], [0.5, 0.5]], "class indices below 2"),
        ([0, 0.5], [[0.5, 0.5], [0.5, 0.5]], "class indices"),
        ([0, 1], [[np.nan, 0.5], [0.5, 0.5]], "finite"),
    ],
)
def test_what_scikit_learn_rejects_is_rejected(y, p, message):
    for metric in (log_loss, roc_auc):
        with pytest.raises(ValueError, match=message):
            metric(np.array(y), np.array(p))


def test_log_loss_wants_probabilities_and_auc_ranks_any_scores_as_scikit_learn():
    y, scores = np.array([0, 1, 1]), np.array([[1.5, -0.5], [0.5, 0.5], [-1.0, 2.0]])
    with pytest.raises(ValueError, match="within"):
        log_loss(y, scores)
    assert roc_auc(y, scores) == pytest.approx(sk.roc_auc_score(y, scores[:, 1]))


def test_rmse_is_scikit_learns():
    rng = np.random.default_rng(0)
    y, predicted = rng.normal(size=200), rng.normal(size=200)
    expected = sk.root_mean_squared_error(y, predicted)
    assert rmse(y, predicted) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="two arrays"):
        rmse(y, predicted[:-1])


@pytest.mark.parametrize("k", [1, 2, 3, 7])
@pytest.mark.parametrize("seed", range(5))
def test_the_label_metrics_are_scikit_learns(k, seed):
    """On labels as the decision threshold and the search give them (class indices): any
    class may be missing from either array, and with one class only, or a class never
    predicted, scikit-learn's zero_division=0 holds."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    y, predicted = rng.integers(0, k, n), rng.integers(0, k, n)
    if seed == 0:
        predicted = np.zeros(n, dtype=int)
    average = "binary" if max(y.max(), predicted.max()) <= 1 else "macro"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns of classes missing from y
        expected = {
            "accuracy": sk.accuracy_score(y, predicted),
            "balanced_accuracy": sk.balanced_accuracy_score(y, predicted),
            **{
                name: getattr(sk, f"{name}_score")(y, predicted, average=average, zero_division=0)
                for name in ("f1", "precision", "recall")
            },
        }
    for name, value in expected.items():
        assert getattr(metrics, name)(y, predicted) == pytest.approx(value, rel=1e-12), name
    assert metrics.f1(y.astype(float), predicted) == pytest.approx(expected["f1"], rel=1e-12)


def test_labels_that_are_not_class_indices_are_rejected():
    for y, predicted, message in [
        ([0, 1], [1], "two arrays"),
        ([0, 1.5], [1, 0], "class indices"),
        ([0, -1], [1, 0], "class indices"),
    ]:
        with pytest.raises(ValueError, match=message):
            metrics.f1(np.array(y), np.array(predicted))
