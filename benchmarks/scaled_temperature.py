"""Does the folds' temperature suit a refit with fewer rounds at a higher learning rate?
The evidence for `finish._calibrate` applying it to such a refit (`refit.Scaled`).

    python benchmarks/scaled_temperature.py
    python benchmarks/scaled_temperature.py --tables churn fair --seeds 0 1 2

For each classification table and seed: an 80/20 split; LightGBM's first large-table
trial of the portfolio (`portfolio.PORTFOLIO["large"][0]`: 300 rounds at a learning rate
of 0.1, built as the plugin builds it, two threads) fitted on 5 stratified folds of the
training rows, and the temperature of `calibrate.fit` fitted on their out-of-fold
probabilities, as a run does; then refits on every training row with all the rounds and
with 80%, a half and a third of them at a rate raised as much (rounds times rate kept, as
`refit._scaled_rounds` plans), each scored by its test log loss without and with that
temperature. Writes benchmarks/results/scaled-temperature-<YYYYMMDD-HHMMSS>.json and
prints a table.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from tables import DATASETS

RESULTS = Path(__file__).resolve().parent / "results"
FACTORS = (1.0, 1.25, 2.0, 3.0)  # the rate raised by this, the rounds cut as much
THREADS = 2


def _first_large_trial() -> dict:
    """The parameters of the portfolio's first large-table trial (LightGBM)."""
    from automl.portfolio import PORTFOLIO

    algorithm, params = PORTFOLIO["large"][0]
    assert algorithm == "lightgbm", algorithm
    return dict(params)


def _frame(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    dataset = DATASETS[name]
    frame = dataset.load()
    y = frame[dataset.target].astype(str)
    X = frame.drop(columns=[dataset.target])
    for column in X.columns:
        if not pd.api.types.is_numeric_dtype(X[column]) or X[column].dtype == bool:
            X[column] = X[column].astype("category")
    codes = {label: code for code, label in enumerate(sorted(y.unique()))}
    return X, y.map(codes).to_numpy()


def measure(name: str, seed: int) -> dict:
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold, train_test_split

    from automl import calibrate
    from automl.builtin.lightgbm import build
    from automl.contract import Task

    X, y = _frame(name)
    trial = _first_large_trial()
    task = Task.MULTICLASS if y.max() > 1 else Task.BINARY
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=seed, stratify=y
    )
    oof = np.zeros((len(y_train), int(y.max()) + 1))
    for fit, score in StratifiedKFold(5, shuffle=True, random_state=seed).split(X_train, y_train):
        model = build(trial, task, seed, THREADS)
        oof[score] = model.fit(X_train.iloc[fit], y_train[fit]).predict_proba(X_train.iloc[score])
    found, _ = calibrate.fit(y_train, oof, seed)
    refits = []
    for factor in FACTORS:
        params = {
            **trial,
            "n_estimators": math.ceil(trial["n_estimators"] / factor),
            "learning_rate": trial["learning_rate"] * factor,
        }
        model = build(params, task, seed, THREADS).fit(X_train, y_train)
        proba = model.predict_proba(X_test)
        refits.append(
            {
                "rounds": params["n_estimators"],
                "rate": params["learning_rate"],
                "log_loss": float(log_loss(y_test, proba)),
                "log_loss_with_temperature": float(
                    log_loss(y_test, calibrate.scale(proba, found.beta))
                ),
            }
        )
    return {"table": name, "seed": seed, "calibration": found.as_dict(), "refits": refits}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    classification = [n for n, d in DATASETS.items() if d.task != "regression"]
    parser.add_argument("--tables", nargs="+", default=["segments", "churn", "fair", "anes96"],
                        choices=classification)  # fmt: skip
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    runs = [measure(name, seed) for name in args.tables for seed in args.seeds]
    trial = _first_large_trial()
    print("| table@seed | temperature kept | " + " | ".join(
        f"{r['rounds']} rounds at {r['rate']:.3g}: without / with" for r in runs[0]["refits"]
    ) + " |")  # fmt: skip
    print("|---|---|" + "---|" * len(FACTORS))
    better = scaled = 0
    for run in runs:
        cells = []
        for refit in run["refits"]:
            before, after = refit["log_loss"], refit["log_loss_with_temperature"]
            cells.append(f"{before:.4f} / {after:.4f}")
            if refit["rounds"] < trial["n_estimators"]:
                scaled += 1
                better += after < before
        kept = run["calibration"]["kept"]
        print(f"| {run['table']}@{run['seed']} | {kept} | " + " | ".join(cells) + " |")
    print(f"\nthe temperature bettered the test log loss of {better} of {scaled} scaled refits")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"scaled-temperature-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    meta = {"created_at": datetime.now(UTC).isoformat(), "machine": platform.platform()}
    path.write_text(json.dumps({**meta, "trial": trial, "runs": runs}, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
