"""Multi-layer perceptrons: scikit-learn's MLPClassifier and MLPRegressor.

A different family from the trees, with smooth decision surfaces: alone it wins where the
signal is a smooth function of the numbers, and its out-of-fold predictions blend well
with boosted trees' in the ensemble.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils import _safe_indexing, check_random_state

from automl.contract import (
    ALL_TASKS,
    Algorithm,
    EarlyStopping,
    InputNeeds,
    SearchContext,
    Suggester,
    Task,
)
from automl.hookspecs import hookimpl

# On folds of this many training rows a tenth is held out and training stops once the
# accuracy (R² for regression) on them stops improving, or at the fold's share of the
# trial's time; below it that tenth is too few rows to judge by (on 1,150 rows of digits
# it stopped after 25 epochs: log loss 0.135 against 0.088 for 220 epochs), and the epochs
# are capped by `max_iter` and the training loss alone.
EARLY_STOPPING_ROWS = 4_000


def search_space(trial: Suggester, context: SearchContext) -> dict[str, Any]:
    return {
        "width": trial.suggest_int("width", 16, 512, log=True),
        "layers": trial.suggest_int("layers", 1, 3),
        "alpha": trial.suggest_float("alpha", 1e-6, 10.0, log=True),
        "learning_rate_init": trial.suggest_float("learning_rate_init", 1e-4, 1e-2, log=True),
        "max_iter": trial.suggest_int("max_iter", 20, 500, log=True),
    }


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


def build(params: Mapping[str, Any], task: Task, seed: int, n_jobs: int) -> Any:
    # "early_stopping", which older runs searched with the table, is no longer a setting:
    # the search holds the rows out (`stopping_fit_params`).
    settings = dict(
        hidden_layer_sizes=(int(params.get("width", 128)),) * int(params.get("layers", 2)),
        alpha=params.get("alpha", 1e-4),
        learning_rate_init=params.get("learning_rate_init", 1e-3),
        max_iter=int(params.get("max_iter", 200)),
        batch_size=256,
        random_state=seed,
    )
    cls = TimedMLPClassifier if task.is_classification else TimedMLPRegressor
    return cls(**settings)


def stopping_fit_params(
    estimator: Any, X_valid: Any, y_valid: Any, stop_at: float | None = None
) -> dict[str, Any]:
    return {"X_valid": X_valid, "y_valid": y_valid, "stop_at": stop_at}


def refit_stop_params(estimator: Any, stop_at: float) -> dict[str, Any]:
    # With no held-out rows, every epoch built is kept.
    return {"stop_at": stop_at}


def best_rounds(estimator: Any) -> int:
    return int(estimator.n_iter_)


def built_rounds(estimator: Any) -> int:
    return len(estimator.loss_curve_)


@hookimpl
def automl_register_algorithms(register: Callable[[Algorithm], None]) -> None:
    register(
        Algorithm(
            name="mlp",
            tasks=ALL_TASKS,
            search_space=search_space,
            build=build,
            defaults=(
                {
                    "width": 128,
                    "layers": 2,
                    "alpha": 1e-2,
                    "learning_rate_init": 1e-3,
                    "max_iter": 200,
                },
            ),
            needs=InputNeeds(categorical="onehot", scale=True, missing="impute"),
            trusted_types=(
                "automl.builtin.neural.TimedMLPClassifier",
                "automl.builtin.neural.TimedMLPRegressor",
                # A fitted network keeps its optimiser's state (scikit-learn's own class).
                "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
            ),
            description="A multi-layer perceptron (Adam) on standardised, one-hot encoded"
            " columns; regression targets are standardised too.",
            early_stopping=EarlyStopping(
                "max_iter",
                stopping_fit_params,
                best_rounds,
                built_rounds,
                refit_stop_params,
                min_rows=EARLY_STOPPING_ROWS,
            ),
        )
    )
