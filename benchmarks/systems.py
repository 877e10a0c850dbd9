"""How each compared system is fitted and asked for test predictions.

Each runner takes the training and test frames of one split and returns the test
predictions (probabilities in the order of ``classes`` for classification, values for
regression), the wall seconds of ``fit`` and, for automl, what its model card says of the
run (``INFO``: its CV estimate, the seconds of the learning curve and of the held-out
test, whether the probabilities were calibrated). Only numpy and pandas are imported here;
a runner imports its own library, so the AutoGluon worker can run in AutoGluon's
environment, where automl and FLAML are not installed. automl's ablation variants
(``ABLATIONS``) are automl's runner with one ``AutoML`` option changed, a ``fit`` option
(``test_size``), another set of plugins (``plugins``: ``AUTOML_LOAD_PLUGINS``), or a
module constant patched (``patch``) to turn one part off.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from tables import Dataset

METRIC_NAMES = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}

Runner = Callable[
    [pd.DataFrame, pd.DataFrame, Dataset, int, int, int, list[Any] | None],
    tuple[np.ndarray, float] | tuple[np.ndarray, float, dict[str, Any]],
]
# automl's plugins in a full run: the built-ins and XGBoost (as the README installs them).
AUTOML_PLUGINS = "xgboost"


def peer_features(
    train: pd.DataFrame, test: pd.DataFrame, dataset: Dataset
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Feature frames for the peers (FLAML, AutoGluon, LightGBM).

    Identifier columns are dropped, ISO date strings become day counts since
    1970-01-01, and string columns become ``category`` with the categories seen
    in training (pandas 3 reads strings as the ``str`` dtype, which LightGBM rejects).
    """
    drop = [dataset.target, *dataset.drop_for_peers]
    x_train, x_test = train.drop(columns=drop), test.drop(columns=drop)
    epoch = pd.Timestamp("1970-01-01")
    for column in dataset.date_columns:
        for x in (x_train, x_test):
            x[column] = (pd.to_datetime(x[column]) - epoch).dt.days
    for column in x_train.columns:
        if pd.api.types.is_string_dtype(x_train[column]):
            categories = sorted(x_train[column].dropna().unique())
            x_train[column] = pd.Categorical(x_train[column], categories=categories)
            x_test[column] = pd.Categorical(x_test[column], categories=categories)
    return x_train, x_test


def _aligned_proba(proba: np.ndarray, model_classes: Any, classes: list[Any]) -> np.ndarray:
    order = list(model_classes)
    return proba[:, [order.index(c) for c in classes]]


def run_automl(
    train: pd.DataFrame,
    test: pd.DataFrame,
    dataset: Dataset,
    budget: int,
    seed: int,
    n_jobs: int,
    classes: list[Any] | None,
    fit: dict[str, Any] | None = None,
    plugins: str = AUTOML_PLUGINS,
    patch: dict[str, Any] | None = None,
    **options: Any,
) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Fit automl on the raw training frame; metric None is the task default.

    ``options`` are further ``AutoML`` keywords, passed only when given (an ablation
    variant's), so full automl runs with the options its API has today; ``fit`` further
    ``fit`` keywords; ``plugins`` the plugins to load; ``patch`` module constants to set
    ("automl.calibrate.MIN_GAIN": inf, say) before fitting.
    """
    import importlib
    import os

    os.environ["AUTOML_LOAD_PLUGINS"] = plugins
    for where, value in (patch or {}).items():
        module, name = where.rsplit(".", 1)
        setattr(importlib.import_module(module), name, value)
    from automl import AutoML

    model = AutoML(time_budget=budget, seed=seed, n_jobs=n_jobs, metric=None, **options)
    start = time.perf_counter()
    model.fit(train, target=dataset.target, **(fit or {}))
    fit_seconds = time.perf_counter() - start
    info = _info(model.card)
    x_test = test.drop(columns=[dataset.target])
    if classes is None:
        return np.asarray(model.predict(x_test), dtype=float), fit_seconds, info
    proba = model.predict_proba(x_test)
    missing = [c for c in classes if c not in proba.columns]
    if missing:
        raise ValueError(f"predict_proba columns {list(proba.columns)} lack class labels {missing}")
    return proba[classes].to_numpy(dtype=float), fit_seconds, info


def _info(card: dict[str, Any]) -> dict[str, Any]:
    """What the model card says of a run that the benchmark reports."""
    curve = card.get("learning_curve") or {}
    test = card.get("test") or {}
    calibration = card.get("calibration") or {}
    # The estimate of the rule exported (calibrated, at its threshold), as the test is.
    cv = card["cv"].get("exported") or card["cv"]
    return {
        "cv_score": cv["score"],
        "cv_std": cv["std"],
        "cv_folds": cv["folds"],
        "cv_search_score": card["cv"]["score"],
        "model": card["best"]["algorithm"],
        "members": [m["algorithm"] for m in card["best"].get("ensemble") or []],
        "wall_seconds": card["timing"]["wall_seconds"],
        "curve_seconds": curve.get("seconds"),
        "curve_reading": curve.get("reading"),
        "test_seconds": test.get("seconds"),
        "calibrated": calibration.get("kept"),
        "refit_rows": card["refit"]["rows"],
        # A refit cut in time, or planned with fewer rounds at a higher rate (None if not).
        "refit_rounds_cut": card["refit"].get("rounds_cut"),
        "refit_rounds_scaled": card["refit"].get("rounds_scaled"),
        "rows": card["data"]["rows"],
    }


def _unguarded(proba: np.ndarray, X: Any, guard: Any) -> np.ndarray:
    """`automl.guard.apply` turned off: the model's own probabilities for every row."""
    return proba


def run_flaml(
    train: pd.DataFrame,
    test: pd.DataFrame,
    dataset: Dataset,
    budget: int,
    seed: int,
    n_jobs: int,
    classes: list[Any] | None,
) -> tuple[np.ndarray, float]:
    """Fit FLAML with the same metric, budget, seed and cores."""
    from flaml import AutoML as FlamlAutoML

    x_train, x_test = peer_features(train, test, dataset)
    model = FlamlAutoML()
    start = time.perf_counter()
    model.fit(
        x_train,
        train[dataset.target],
        task="regression" if classes is None else "classification",
        time_budget=budget,
        n_jobs=n_jobs,
        metric=METRIC_NAMES[dataset.task],
        seed=seed,
        verbose=0,
    )
    fit_seconds = time.perf_counter() - start
    if classes is None:
        return np.asarray(model.predict(x_test), dtype=float), fit_seconds
    return _aligned_proba(model.predict_proba(x_test), model.classes_, classes), fit_seconds


AUTOGLUON_METRICS = {
    "binary": "roc_auc",
    "multiclass": "log_loss",
    "regression": "root_mean_squared_error",
}


def run_autogluon(
    train: pd.DataFrame,
    test: pd.DataFrame,
    dataset: Dataset,
    budget: int,
    seed: int,
    n_jobs: int,
    classes: list[Any] | None,
    presets: str = "medium_quality",
) -> tuple[np.ndarray, float]:
    """Fit AutoGluon-Tabular, ``presets`` (``medium_quality``; ``best_quality`` for the
    ceiling, with bagging and stacking), with the same metric, budget and cores.

    AutoGluon saves its models to disk as it goes; they go to a temporary directory,
    removed afterwards. Its models seed themselves (0), so ``seed`` is not passed.
    """
    from autogluon.tabular import TabularPredictor

    x_train, x_test = peer_features(train, test, dataset)
    frame = x_train.assign(**{dataset.target: train[dataset.target].to_numpy()})
    with tempfile.TemporaryDirectory(prefix="autogluon-") as path:
        predictor = TabularPredictor(
            label=dataset.target,
            problem_type=dataset.task,
            eval_metric=AUTOGLUON_METRICS[dataset.task],
            path=path,
            verbosity=0,
        )
        start = time.perf_counter()
        predictor.fit(frame, time_limit=budget, presets=presets, num_cpus=n_jobs, num_gpus=0)
        fit_seconds = time.perf_counter() - start
        if classes is None:
            return np.asarray(predictor.predict(x_test), dtype=float), fit_seconds
        proba = predictor.predict_proba(x_test)
        return proba[classes].to_numpy(dtype=float), fit_seconds


def run_lgbm(
    train: pd.DataFrame,
    test: pd.DataFrame,
    dataset: Dataset,
    budget: int,
    seed: int,
    n_jobs: int,
    classes: list[Any] | None,
) -> tuple[np.ndarray, float]:
    """Fit LightGBM with default parameters; budget and seed are not used."""
    import lightgbm

    x_train, x_test = peer_features(train, test, dataset)
    if classes is None:
        model = lightgbm.LGBMRegressor(n_jobs=n_jobs, verbose=-1)
    else:
        model = lightgbm.LGBMClassifier(n_jobs=n_jobs, verbose=-1)
    start = time.perf_counter()
    model.fit(x_train, train[dataset.target])
    fit_seconds = time.perf_counter() - start
    if classes is None:
        return np.asarray(model.predict(x_test), dtype=float), fit_seconds
    return _aligned_proba(model.predict_proba(x_test), model.classes_, classes), fit_seconds


ABLATIONS: dict[str, dict[str, Any]] = {
    "automl-noportfolio": {"portfolio": False},
    "automl-noearlystop": {"early_stopping": False},
    "automl-noensemble": {"ensemble": False},
    "automl-serial": {"parallel_trials": False},
    "automl-norepeat": {"cv_repeats": 1},
    # The parts of issue 18, each turned off, or on where it is not the default.
    "automl-nocalibration": {"patch": {"automl.calibrate.MIN_GAIN": float("inf")}},
    "automl-noguard": {"patch": {"automl.guard.apply": _unguarded}},
    "automl-nocurve": {"learning_curve": False},
    "automl-bagged": {"bagging": True},
    "automl-catboost": {"plugins": f"{AUTOML_PLUGINS},catboost"},
    # The cost of holding a fifth of the training rows out and scoring them at the end.
    "automl-heldout": {"fit": {"test_size": 0.2}},
    # Fewer, cheaper folds: more trials at short budgets, noisier estimates.
    "automl-cv3": {"cv": 3},
    # Short budgets: less time kept for the explanation, a slow first fold stopped sooner.
    "automl-explain1": {"patch": {"automl.finish.EXPLAIN_SMALL_SHARE": 0.1}},
    "automl-firstfold05": {"patch": {"automl.search.MIN_FIRST_FOLD_SECONDS": 0.5}},
}
"""automl's ablation variants: each is full automl with these ``AutoML`` options changed."""

CEILINGS = ("autogluon-best",)
"""Systems run only when named, as the ceiling of what a longer budget buys."""

RUNNERS: dict[str, Runner] = {
    "automl": run_automl,
    "flaml": run_flaml,
    "autogluon": run_autogluon,
    "lgbm": run_lgbm,
    "autogluon-best": partial(run_autogluon, presets="best_quality"),
    **{variant: partial(run_automl, **options) for variant, options in ABLATIONS.items()},
}
