"""Compare automl with FLAML and default LightGBM at equal wall-clock budget and cores.

    python benchmarks/compare.py --budgets 30 60 --datasets all
    python benchmarks/compare.py --budgets 5 --datasets wine churn --systems flaml,lgbm

Every (system, dataset, budget) run happens in its own subprocess (this script
re-invoked with ``--one SYSTEM DATASET BUDGET``), which prints one JSON line back.
All runs of a dataset use the same seeded 75/25 train/test split (stratified for
classification) and are scored on the test split with the task's default metric.
LightGBM has no budget, so it runs once per dataset and that result is repeated
in every budget row. The table goes to stdout (markdown) and, with the raw runs,
to ``benchmarks/results/compare-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from samples import make_churn, make_houses
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine
from sklearn.metrics import log_loss, roc_auc_score, root_mean_squared_error
from sklearn.model_selection import train_test_split

SYSTEMS = ("automl", "flaml", "lgbm")
PEERS = ("flaml", "lgbm")
RESULT_PREFIX = "COMPARE_RESULT "
RESULTS_DIR = Path(__file__).resolve().parent / "results"
BENCH_ROWS = 10_000
TEST_SIZE = 0.25


@dataclass(frozen=True)
class Metric:
    """A task's default metric and its direction."""

    name: str
    higher_is_better: bool


METRICS = {
    "binary": Metric("roc_auc", higher_is_better=True),
    "multiclass": Metric("log_loss", higher_is_better=False),
    "regression": Metric("rmse", higher_is_better=False),
}


@dataclass(frozen=True)
class Dataset:
    """A benchmark data set: a frame loader plus what the peers must not see raw."""

    name: str
    task: str
    target: str
    load: Callable[[], pd.DataFrame]
    drop_for_peers: tuple[str, ...] = ()
    date_columns: tuple[str, ...] = ()


def _sklearn_frame(loader: Callable[..., Any]) -> Callable[[], pd.DataFrame]:
    return lambda: loader(as_frame=True).frame


DATASETS = {
    d.name: d
    for d in (
        Dataset("breast_cancer", "binary", "target", _sklearn_frame(load_breast_cancer)),
        Dataset("wine", "multiclass", "target", _sklearn_frame(load_wine)),
        Dataset("digits", "multiclass", "target", _sklearn_frame(load_digits)),
        Dataset("diabetes", "regression", "target", _sklearn_frame(load_diabetes)),
        Dataset(
            "churn",
            "binary",
            "churned",
            lambda: make_churn(BENCH_ROWS),
            drop_for_peers=("customer_id",),
            date_columns=("signup_date",),
        ),
        Dataset("houses", "regression", "price", lambda: make_houses(BENCH_ROWS)),
    )
}


# --------------------------------------------------------------------------- one run


def split(dataset: Dataset, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The seeded 75/25 train/test split of a data set, stratified for classification."""
    frame = dataset.load()
    stratify = None if dataset.task == "regression" else frame[dataset.target]
    train, test = train_test_split(frame, test_size=TEST_SIZE, random_state=seed, stratify=stratify)
    return train, test


def peer_features(
    train: pd.DataFrame, test: pd.DataFrame, dataset: Dataset
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Feature frames for FLAML and LightGBM.

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
            categories = x_train[column].dropna().unique()
            x_train[column] = pd.Categorical(x_train[column], categories=sorted(categories))
            x_test[column] = pd.Categorical(x_test[column], categories=sorted(categories))
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
    classes: list[Any],
) -> tuple[np.ndarray, float]:
    """Fit automl on the raw training frame; metric None is the task default."""
    from automl import AutoML

    model = AutoML(time_budget=budget, seed=seed, n_jobs=n_jobs, metric=None)
    start = time.perf_counter()
    model.fit(train, target=dataset.target)
    fit_seconds = time.perf_counter() - start
    x_test = test.drop(columns=[dataset.target])
    if dataset.task == "regression":
        return np.asarray(model.predict(x_test), dtype=float), fit_seconds
    proba = model.predict_proba(x_test)
    missing = [c for c in classes if c not in proba.columns]
    if missing:
        raise ValueError(f"predict_proba columns {list(proba.columns)} lack class labels {missing}")
    return proba[classes].to_numpy(dtype=float), fit_seconds


def run_flaml(
    train: pd.DataFrame,
    test: pd.DataFrame,
    dataset: Dataset,
    budget: int,
    seed: int,
    n_jobs: int,
    classes: list[Any],
) -> tuple[np.ndarray, float]:
    """Fit FLAML with the same metric, budget, seed and cores."""
    from flaml import AutoML as FlamlAutoML

    x_train, x_test = peer_features(train, test, dataset)
    model = FlamlAutoML()
    start = time.perf_counter()
    model.fit(
        x_train,
        train[dataset.target],
        task="regression" if dataset.task == "regression" else "classification",
        time_budget=budget,
        n_jobs=n_jobs,
        metric=METRICS[dataset.task].name,
        seed=seed,
        verbose=0,
    )
    fit_seconds = time.perf_counter() - start
    if dataset.task == "regression":
        return np.asarray(model.predict(x_test), dtype=float), fit_seconds
    return _aligned_proba(model.predict_proba(x_test), model.classes_, classes), fit_seconds


def run_lgbm(
    train: pd.DataFrame,
    test: pd.DataFrame,
    dataset: Dataset,
    budget: int,
    seed: int,
    n_jobs: int,
    classes: list[Any],
) -> tuple[np.ndarray, float]:
    """Fit LightGBM with default parameters; budget and seed are not used."""
    import lightgbm

    x_train, x_test = peer_features(train, test, dataset)
    if dataset.task == "regression":
        model = lightgbm.LGBMRegressor(n_jobs=n_jobs, verbose=-1)
    else:
        model = lightgbm.LGBMClassifier(n_jobs=n_jobs, verbose=-1)
    start = time.perf_counter()
    model.fit(x_train, train[dataset.target])
    fit_seconds = time.perf_counter() - start
    if dataset.task == "regression":
        return np.asarray(model.predict(x_test), dtype=float), fit_seconds
    return _aligned_proba(model.predict_proba(x_test), model.classes_, classes), fit_seconds


RUNNERS = {"automl": run_automl, "flaml": run_flaml, "lgbm": run_lgbm}


def score(task: str, y_true: pd.Series, prediction: np.ndarray, classes: list[Any]) -> float:
    """Test score with the task's default metric; ``classes`` orders the proba columns."""
    if task == "binary":
        return float(roc_auc_score(y_true == classes[-1], prediction[:, -1]))
    if task == "multiclass":
        return float(log_loss(y_true, prediction, labels=classes))
    return float(root_mean_squared_error(y_true, prediction))


def new_record(
    system: str, dataset_name: str, budget: int, error: str | None = None
) -> dict[str, Any]:
    """A result record without a score yet (lgbm runs have no budget)."""
    task = DATASETS[dataset_name].task
    return {
        "system": system,
        "dataset": dataset_name,
        "task": task,
        "metric": METRICS[task].name,
        "budget": None if system == "lgbm" else budget,
        "score": None,
        "fit_seconds": None,
        "error": error,
    }


def run_one(system: str, dataset_name: str, budget: int, seed: int, n_jobs: int) -> dict[str, Any]:
    """Run one system on one data set in this process and return its result record.

    Failures are recorded in the ``error`` field instead of raised.
    """
    dataset = DATASETS[dataset_name]
    record = new_record(system, dataset_name, budget)
    try:
        train, test = split(dataset, seed)
        classes = None if dataset.task == "regression" else sorted(train[dataset.target].unique())
        record.update(n_train=len(train), n_test=len(test))
        if dataset.task == "binary":
            record["positive_label"] = _jsonable(classes[-1])
        elif dataset.task == "multiclass":
            record["classes"] = _jsonable(classes)
        prediction, fit_seconds = RUNNERS[system](
            train, test, dataset, budget, seed, n_jobs, classes
        )
        record["fit_seconds"] = round(fit_seconds, 2)
        record["score"] = score(dataset.task, test[dataset.target], prediction, classes)
    except Exception as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    return record


def _jsonable(value: Any) -> Any:
    """numpy scalars (and lists of them) as plain Python values."""
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


# ------------------------------------------------------------------- orchestration


def run_in_subprocess(
    system: str, dataset_name: str, budget: int, seed: int, n_jobs: int
) -> dict[str, Any]:
    """Run one ``--one`` worker in a fresh process (own session, killed on timeout)."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--one",
        system,
        dataset_name,
        str(budget),
        "--seed",
        str(seed),
        "--n-jobs",
        str(n_jobs),
    ]
    threads = str(n_jobs)
    env = os.environ | {
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
    }
    timeout = 3 * budget + 300
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return new_record(system, dataset_name, budget, f"timed out after {timeout} s")
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    tail = " | ".join(stderr.strip().splitlines()[-3:])
    return new_record(system, dataset_name, budget, f"exit code {process.returncode}: {tail}")


def pin_to_cores(n_jobs: int) -> list[int] | None:
    """Restrict this process (and so every worker it starts) to ``n_jobs`` CPUs, on Linux."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))[:n_jobs]
    os.sched_setaffinity(0, cpus)
    return cpus


def compare_cell(automl: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any] | None:
    """Ratio automl score / peer score, and which is better given the metric direction."""
    a, b = automl.get("score"), peer.get("score")
    if a is None or b is None or b == 0:
        return None
    if a == b:
        verdict = "tie"
    elif (a > b) == METRICS[automl["task"]].higher_is_better:
        verdict = "automl better"
    else:
        verdict = "automl worse"
    return {"ratio": a / b, "verdict": verdict}


def build_rows(
    runs: dict[tuple[str, str, int | None], dict[str, Any]],
    datasets: list[str],
    budgets: list[int],
    systems: list[str],
) -> list[dict[str, Any]]:
    """One row per data set and budget, holding each system's run and the comparisons."""
    rows = []
    for name in datasets:
        for budget in budgets:
            results = {s: runs[(s, name, None if s == "lgbm" else budget)] for s in systems}
            row: dict[str, Any] = {
                "dataset": name,
                "task": DATASETS[name].task,
                "metric": METRICS[DATASETS[name].task].name,
                "budget": budget,
                "results": results,
            }
            if "automl" in results:
                for peer in PEERS:
                    if peer in results:
                        row[f"automl_vs_{peer}"] = compare_cell(results["automl"], results[peer])
            rows.append(row)
    return rows


def markdown_table(rows: list[dict[str, Any]], systems: list[str]) -> str:
    """The comparison as a markdown table, with any errors listed below it."""
    peers = [p for p in PEERS if "automl" in systems and p in systems]
    header = ["dataset", "metric", "budget (s)"]
    for system in systems:
        header += [f"{system} score", f"{system} fit (s)"]
    header += [f"automl / {peer}" for peer in peers]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    errors: dict[str, str] = {}
    for row in rows:
        direction = "↑" if METRICS[row["task"]].higher_is_better else "↓"
        cells = [row["dataset"], f"{row['metric']} {direction}", str(row["budget"])]
        for system in systems:
            result = row["results"][system]
            if result["error"]:
                cells += ["error", "-"]
                key = f"{system} on {row['dataset']}"
                if result["budget"] is not None:
                    key += f" at {result['budget']} s"
                errors[key] = result["error"]
            else:
                cells += [f"{result['score']:.4f}", f"{result['fit_seconds']:.1f}"]
        for peer in peers:
            cell = row[f"automl_vs_{peer}"]
            cells.append("-" if cell is None else f"{cell['ratio']:.3f} ({cell['verdict']})")
        lines.append("| " + " | ".join(cells) + " |")
    if errors:
        lines += ["", "Errors:", ""]
        lines += [f"- {key}: {message}" for key, message in errors.items()]
    return "\n".join(lines)


def environment() -> dict[str, Any]:
    """Python, platform and library versions, for the JSON record."""
    versions = {}
    for package in ("automl", "flaml", "lightgbm", "scikit-learn", "pandas", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--budgets",
        type=int,
        nargs="+",
        default=[30, 60],
        help="time budgets in seconds (default: 30 60)",
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=["all"],
        choices=["all", *DATASETS],
        help="data sets (default: all)",
    )
    parser.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help="comma-separated subset of automl,flaml,lgbm (default: all)",
    )
    parser.add_argument("--seed", type=int, default=0, help="split and search seed (default: 0)")
    parser.add_argument("--n-jobs", type=int, default=2, help="cores per system (default: 2)")
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=RESULTS_DIR,
        help="where the JSON goes (default: benchmarks/results)",
    )
    parser.add_argument(
        "--one", nargs=3, metavar=("SYSTEM", "DATASET", "BUDGET"), help=argparse.SUPPRESS
    )  # internal: worker mode
    args = parser.parse_args(argv)
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(args.systems) - set(SYSTEMS))
    if unknown or not args.systems:
        parser.error(f"--systems must be a subset of {','.join(SYSTEMS)}, got {unknown}")
    args.systems = [s for s in SYSTEMS if s in args.systems]
    args.datasets = list(DATASETS) if "all" in args.datasets else list(dict.fromkeys(args.datasets))
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the comparison (or, with ``--one``, a single worker run)."""
    args = parse_args(argv)
    if args.one:
        system, dataset_name, budget = args.one
        record = run_one(system, dataset_name, int(budget), args.seed, args.n_jobs)
        print(RESULT_PREFIX + json.dumps(record), flush=True)
        return 0 if record["error"] is None else 1

    cpus = pin_to_cores(args.n_jobs)
    runs: dict[tuple[str, str, int | None], dict[str, Any]] = {}
    for name in args.datasets:
        for system in args.systems:
            for budget in [0] if system == "lgbm" else args.budgets:
                label = f"{system} on {name}" + ("" if system == "lgbm" else f" at {budget} s")
                print(f"running {label} ...", file=sys.stderr, flush=True)
                record = run_in_subprocess(system, name, budget, args.seed, args.n_jobs)
                runs[(system, name, record["budget"])] = record

    rows = build_rows(runs, args.datasets, args.budgets, args.systems)
    print(markdown_table(rows, args.systems))

    created = datetime.now().astimezone()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    path = args.output_dir / f"compare-{created:%Y%m%d-%H%M%S}.json"
    report = {
        "created": created.isoformat(timespec="seconds"),
        "seed": args.seed,
        "n_jobs": args.n_jobs,
        "pinned_cpus": cpus,
        "test_size": TEST_SIZE,
        "budgets": args.budgets,
        "systems": args.systems,
        "datasets": args.datasets,
        "environment": environment(),
        "rows": rows,
    }
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
