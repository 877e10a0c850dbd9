"""The estimators of the built-in MLP (`automl.builtin.neural`): scikit-learn's networks
with a `fit` that stops on the search's held-out rows and at a time. A module of its own so
that registering the algorithm imports no scikit-learn (`automl --help` stays light)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils import _safe_indexing, check_random_state


class _Epochs:
    """`fit` that can also stop on held-out rows the caller gives (`X_valid`, `y_valid`)
    and at a time (`stop_at`, a `time.monotonic()` value).

    scikit-learn's own early stopping holds out its own share of the rows it is given and
    cannot stop at a time; the search has already held rows out (`automl.worker.fit_fold`)
    and gives each fold its share of the trial's time. Given either, the network learns
    one epoch at a time (`partial_fit`, on the rows in a fresh order each epoch) up to
    `max_iter` epochs; with held-out rows it stops once their score has not improved by
    `tol` for `n_iter_no_change` epochs, as scikit-learn's early stopping does, and keeps
    the weights of the best epoch; without, once the training loss has not, as `fit`
    does. `n_iter_` is then the epochs kept and `loss_curve_` holds one loss per epoch
    built. Given neither, it is scikit-learn's `fit`.
    """

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        X_valid: Any = None,
        y_valid: Any = None,
        stop_at: float | None = None,
    ) -> Any:
        target = self._learnt_target(np.asarray(y))
        if X_valid is None and stop_at is None:
            return super().fit(X, target, sample_weight=sample_weight)
        # partial_fit goes on from the weights and optimiser a fit left behind.
        for name in ("coefs_", "intercepts_", "_optimizer"):
            self.__dict__.pop(name, None)
        rng = check_random_state(self.random_state)
        kept: tuple[int, list, list] | None = None
        best, since_best = -np.inf, 0
        lowest, since_lowest = np.inf, 0
        for epoch in range(1, self.max_iter + 1):
            order = rng.permutation(len(target))
            weights = None if sample_weight is None else np.asarray(sample_weight)[order]
            self._one_epoch(_safe_indexing(X, order), target[order], weights)
            if X_valid is not None:
                score = self.score(X_valid, y_valid)
                since_best = 0 if score > best + self.tol else since_best + 1
                if score > best:
                    best = score
                    weights_now = [c.copy() for c in self.coefs_]
                    kept = (epoch, weights_now, [i.copy() for i in self.intercepts_])
                if since_best > self.n_iter_no_change:
                    break
            else:  # stop once the training loss no longer improves, as `fit` does
                loss = self.loss_curve_[-1]
                since_lowest = since_lowest + 1 if loss > lowest - self.tol else 0
                lowest = min(lowest, loss)
                if since_lowest > self.n_iter_no_change:
                    break
            if stop_at is not None and time.monotonic() >= stop_at:
                break
        if kept is not None:
            self.n_iter_, self.coefs_, self.intercepts_ = kept
        else:
            self.n_iter_ = len(self.loss_curve_)
        return self

    def _learnt_target(self, y: np.ndarray) -> np.ndarray:
        return y

    def _one_epoch(self, X: Any, y: np.ndarray, sample_weight: Any) -> None:
        self.partial_fit(X, y, sample_weight=sample_weight)


class TimedMLPClassifier(_Epochs, MLPClassifier):
    """scikit-learn's MLPClassifier whose fit can stop on given held-out rows and at a
    time (see `_Epochs`)."""

    def _one_epoch(self, X: Any, y: np.ndarray, sample_weight: Any) -> None:
        if not hasattr(self, "coefs_"):  # the first epoch learns every class there is
            self._classes = np.unique(y)
        self.partial_fit(X, y, sample_weight=sample_weight, classes=self._classes)


class TimedMLPRegressor(_Epochs, MLPRegressor):
    """scikit-learn's MLPRegressor on a standardised target, whose fit can stop on given
    held-out rows and at a time (see `_Epochs`). Gradient descent needs a target of unit
    scale as much as inputs of unit scale; `predict` gives the target's own scale."""

    def _learnt_target(self, y: np.ndarray) -> np.ndarray:
        y = y.astype(float)
        self.target_mean_ = float(np.mean(y))
        self.target_scale_ = float(np.std(y)) or 1.0
        return (y - self.target_mean_) / self.target_scale_

    def predict(self, X: Any) -> np.ndarray:
        return super().predict(X) * self.target_scale_ + self.target_mean_
