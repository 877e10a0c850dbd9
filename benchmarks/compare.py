"""Compare automl with FLAML, AutoGluon and default LightGBM at equal budget and cores.

    python benchmarks/compare.py --budgets 10 60 300 --datasets all
    python benchmarks/compare.py --budgets 5 --datasets wine churn --systems flaml,lgbm
    python benchmarks/compare.py --budgets 10 60 --systems ablation --merge PEERS.json

For every table, the seeded 75/25 train/test split (stratified for classification) is
made once and written to Parquet in a temporary directory. Every (system, table, budget)
run then happens in its own subprocess (this script re-invoked with ``--one SYSTEM
DATASET BUDGET``) that reads those files, fits, writes its test predictions and prints
one JSON line back; this process scores all predictions with the same metric code.
AutoGluon's worker runs with the python of its own environment (``setup_peers.sh``).
LightGBM has no budget, so it runs once per table and that result is repeated in every
budget row. The report goes to stdout (markdown) and, with the raw runs, to
``benchmarks/results/compare-<timestamp>.json``. ``--merge`` takes the runs of the systems
not run now from such files, once their seed, cores and splits are checked to be this
run's.

With ``--splits N``, each table under 2,000 rows is scored on N seeded splits (split i
made with seed + i; the systems keep ``--seed``), and its score is the mean over them: a
test set of 45 rows (wine) says more about the split than about the systems.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from report import PEERS, markdown, verdict
from systems import ABLATIONS, CEILINGS, METRIC_NAMES, RUNNERS
from tables import DATASETS, Dataset

SYSTEMS = tuple(s for s in RUNNERS if s not in ABLATIONS and s not in CEILINGS)
ORDER = ("automl", *ABLATIONS, *PEERS, *CEILINGS)
SYSTEM_SETS = {"all": SYSTEMS, "ablation": ("automl", *ABLATIONS)}
# The tables under 2,000 rows (the README's table lists every table's size).
DATASET_SETS = {
    "all": tuple(DATASETS),
    "small": ("breast_cancer", "wine", "digits", "diabetes", "anes96"),
}
RESULT_PREFIX = "COMPARE_RESULT "
HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
AUTOGLUON_PYTHON = HERE / ".venv-autogluon" / "bin" / "python"
TEST_SIZE = 0.25
TIE_TOLERANCE = 0.001
# A table's split i > 0 is run under this key, e.g. wine@2; split 0 keeps the table's name,
# so results made with one split merge with runs made with several.
SPLIT_MARK = "@"


def split_key(name: str, index: int) -> str:
    """The key of a table's split ``index``: its name for the first, ``name@index`` after."""
    return name if index == 0 else f"{name}{SPLIT_MARK}{index}"


def table_name(key: str) -> str:
    """The table a split key belongs to."""
    return key.split(SPLIT_MARK, 1)[0]


def split_keys(args: argparse.Namespace) -> dict[str, list[str]]:
    """Each table's split keys: ``--splits`` of them for the small tables, else one; from
    ``--first-split`` on (tables with no split left are left out)."""
    keys = {
        name: [
            split_key(name, i)
            for i in range(args.splits if name in DATASET_SETS["small"] else 1)
            if i >= args.first_split
        ]
        for name in args.datasets
    }
    return {name: found for name, found in keys.items() if found}


# --------------------------------------------------------------------------- one run


def write_split(dataset: Dataset, seed: int, directory: Path) -> dict[str, Any]:
    """Write the seeded train/test split of a table as Parquet; describe the table."""
    from sklearn.model_selection import train_test_split

    frame = dataset.load()
    stratify = None if dataset.task == "regression" else frame[dataset.target]
    train, test = train_test_split(frame, test_size=TEST_SIZE, random_state=seed, stratify=stratify)
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    for name, part in (("train", train), ("test", test)):
        path = directory / f"{name}.parquet"
        part.to_parquet(path)
        digest.update(path.read_bytes())
    features = frame.drop(columns=[dataset.target])
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(features[c])]
    return {
        "source": dataset.source,
        "task": dataset.task,
        "rows": len(frame),
        "columns": features.shape[1],
        "non_numeric_columns": categorical,
        "missing_share": round(float(features.isna().to_numpy().mean()), 4),
        "n_train": len(train),
        "n_test": len(test),
        "split_sha256": digest.hexdigest(),
    }


def _classes(train: pd.DataFrame, dataset: Dataset) -> list[Any] | None:
    if dataset.task == "regression":
        return None
    return [
        v.item() if isinstance(v, np.generic) else v for v in sorted(train[dataset.target].unique())
    ]


def run_one(
    system: str, dataset_name: str, budget: int, seed: int, n_jobs: int, split_dir: Path
) -> dict[str, Any]:
    """Fit one system on a written split (``dataset_name`` is its key) in this process;
    save its test predictions.

    Failures are recorded in the ``error`` field instead of raised.
    """
    dataset = DATASETS[table_name(dataset_name)]
    record = new_record(system, dataset_name, budget)
    try:
        train = pd.read_parquet(split_dir / "train.parquet")
        test = pd.read_parquet(split_dir / "test.parquet")
        classes = _classes(train, dataset)
        record["classes"] = classes
        prediction, fit_seconds, *info = RUNNERS[system](
            train, test, dataset, budget, seed, n_jobs, classes
        )
        record["fit_seconds"] = round(fit_seconds, 2)
        if info:
            record["info"] = info[0]
        path = split_dir / f"prediction-{system}-{record['budget']}.npy"
        np.save(path, prediction)
        record["prediction"] = str(path)
    except Exception as exc:
        record["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    return record


def new_record(
    system: str, dataset_name: str, budget: int, error: str | None = None
) -> dict[str, Any]:
    """A result record without a score yet (lgbm runs have no budget); ``dataset_name``
    is the split's key."""
    task = DATASETS[table_name(dataset_name)].task
    return {
        "system": system,
        "dataset": dataset_name,
        "task": task,
        "metric": METRIC_NAMES[task],
        "budget": None if system == "lgbm" else budget,
        "score": None,
        "fit_seconds": None,
        "process_seconds": None,
        "error": error,
    }


# ------------------------------------------------------------------- orchestration


def python_for(system: str, autogluon_python: Path) -> str:
    """The interpreter a system's worker runs with: AutoGluon's own, or this one."""
    return str(autogluon_python) if system.startswith("autogluon") else sys.executable


def run_in_subprocess(
    system: str, dataset_name: str, budget: int, args: argparse.Namespace, split_dir: Path
) -> dict[str, Any]:
    """Run one ``--one`` worker in a fresh process (own session, killed on timeout)."""
    python = python_for(system, args.autogluon_python)
    if not Path(python).exists():
        return new_record(
            system, dataset_name, budget, f"{python} not found: run benchmarks/setup_peers.sh"
        )
    command = [
        python,
        str(Path(__file__).resolve()),
        "--one",
        system,
        dataset_name,
        str(budget),
        "--seed",
        str(args.seed),
        "--n-jobs",
        str(args.n_jobs),
        "--split-dir",
        str(split_dir),
    ]
    threads = str(args.n_jobs)
    env = os.environ | {
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
    }
    timeout = 3 * budget + 300
    start = time.perf_counter()
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
    process_seconds = round(time.perf_counter() - start, 2)
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            record = json.loads(line[len(RESULT_PREFIX) :])
            record["process_seconds"] = process_seconds
            return record
    tail = " | ".join(stderr.strip().splitlines()[-3:])
    return new_record(system, dataset_name, budget, f"exit code {process.returncode}: {tail}")


def score(task: str, y_true: pd.Series, prediction: np.ndarray, classes: list[Any] | None) -> float:
    """Test score with the task's default metric; ``classes`` orders the proba columns."""
    from sklearn.metrics import log_loss, roc_auc_score, root_mean_squared_error

    if task == "binary":
        return float(roc_auc_score(y_true == classes[-1], prediction[:, -1]))
    if task == "multiclass":
        # AutoGluon's float32 probabilities sum to one only within about 1e-7, which
        # log_loss warns about; dividing by the row sum changes proper rows by nothing.
        proba = prediction / prediction.sum(axis=1, keepdims=True)
        return float(log_loss(y_true, proba, labels=classes))
    return float(root_mean_squared_error(y_true, prediction))


def score_record(record: dict[str, Any], split_dir: Path, dataset: Dataset) -> None:
    """Score a worker's saved test predictions in place (the same code for every system)."""
    path = record.pop("prediction", None)
    if record["error"] or path is None:
        return
    test = pd.read_parquet(split_dir / "test.parquet")
    try:
        prediction = np.load(path)
        record["score"] = score(dataset.task, test[dataset.target], prediction, record["classes"])
    except ValueError as exc:
        record["error"] = f"scoring failed: {exc}"


def pin_to_cores(n_jobs: int) -> list[int] | None:
    """Restrict this process (and so every worker it starts) to ``n_jobs`` CPUs, on Linux."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))[:n_jobs]
    os.sched_setaffinity(0, cpus)
    return cpus


def write_splits(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Write every split under ``workdir``; the facts of each, keyed by split key, with
    its hash."""
    return {
        key: write_split(DATASETS[name], args.seed + index, workdir / key)
        for name, keys in split_keys(args).items()
        for index, key in enumerate(keys, start=args.first_split)
    }


def run_all(args: argparse.Namespace, workdir: Path) -> dict:
    """Every run of the comparison on the written splits, keyed by (system, split key,
    budget)."""
    runs: dict[tuple[str, str, int | None], dict[str, Any]] = {}
    for name, keys in split_keys(args).items():
        for key in keys:
            split_dir = workdir / key
            for system in args.systems:
                for budget in [0] if system == "lgbm" else args.budgets:
                    label = f"{system} on {key}" + ("" if system == "lgbm" else f" at {budget} s")
                    print(f"running {label} ...", file=sys.stderr, flush=True)
                    record = run_in_subprocess(system, key, budget, args, split_dir)
                    score_record(record, split_dir, DATASETS[name])
                    runs[(system, key, record["budget"])] = record
    return runs


# --------------------------------------------------------------------------- merging


class MergeError(Exception):
    """An earlier result file that cannot be merged into this run's report."""


def read_merged(paths: list[Path], args: argparse.Namespace) -> list[tuple[Path, dict[str, Any]]]:
    """Earlier compare JSON files, refused unless made with this run's seed, cores, test size."""
    earlier = []
    for path in paths:
        try:
            result = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise MergeError(f"cannot read {path}: {exc}") from exc
        if "tables" not in result:
            raise MergeError(f"{path} has no split hashes (an older compare.py): cannot check rows")
        for key, ours in (("seed", args.seed), ("n_jobs", args.n_jobs), ("test_size", TEST_SIZE)):
            if result.get(key) != ours:
                raise MergeError(
                    f"{path} was made with {key.replace('_', ' ')} {result.get(key)}, "
                    f"this run uses {ours}: its scores are not comparable"
                )
        earlier.append((path, result))
    return earlier


def merge_runs(
    earlier: list[tuple[Path, dict[str, Any]]], args: argparse.Namespace, tables: dict[str, Any]
) -> tuple[dict, dict[str, list[dict[str, Any]]]]:
    """The runs of the systems this run does not run itself, taken from earlier files, and
    where each such system's runs came from (each file, or the file it was merged from).

    Refused when a split differs from this run's, or one run is in two files (an older
    file repeats lgbm's one run in each budget's row: that is one run). A system may
    come from several files that hold different runs: the splits of the small tables from
    one, the large tables from another.
    """
    runs: dict[tuple[str, str, int | None], dict[str, Any]] = {}
    origin: dict[tuple[str, str, int | None], Path] = {}
    sources: dict[str, list[dict[str, Any]]] = {}
    for path, result in earlier:
        for key, facts in result["tables"].items():
            theirs, ours = facts["split_sha256"], tables.get(key, facts)["split_sha256"]
            if theirs != ours:
                raise MergeError(
                    f"the split of {key} in {path} is not this run's "
                    f"(SHA-256 {theirs[:12]}... against {ours[:12]}...): not the same rows"
                )
        taken = [s for s in result["systems"] if s not in args.systems]
        for system in taken:
            for source in _sources(result, system) or [_source(path, result)]:
                if source not in sources.setdefault(system, []):
                    sources[system].append(source)
        if not taken:
            print(f"note: nothing taken from {path}: its systems all run now", file=sys.stderr)
        for record in _records(result):
            run = (record["system"], record["dataset"], record["budget"])
            if record["system"] not in taken or record["dataset"] not in tables:
                continue
            if run in origin and origin[run] != path:
                raise MergeError(
                    f"{run[0]} on {run[1]}"
                    + (f" at {run[2]} s" if run[2] is not None else "")
                    + f" is in {origin[run]} and in {path}"
                )
            origin[run] = path
            runs[run] = record
    return runs, sources


def _source(path: Path, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "file": str(path.resolve()),
        "created": result["created"],
        "total_seconds": result.get("total_seconds"),
        "load_average": result.get("load_average"),
    }


def _sources(result: dict[str, Any], system: str) -> list[dict[str, Any]]:
    """Where a file says it took a system's runs from (one source per system in older files)."""
    merged = result.get("merged_from", {}).get(system) or []
    return [merged] if isinstance(merged, dict) else merged


def _records(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every single run of a result file: its ``runs``, or in files from before ``--splits``
    (one split per table) the records of its rows."""
    if "runs" in result:
        return result["runs"]
    return [record for row in result["rows"] for record in row["results"].values()]


def combined(records: list[dict[str, Any] | None], system: str, name: str, budget: int) -> dict:
    """One record for a table's splits: the mean score (None unless every split has one),
    the slowest fit and process, the first error, and the scores of the splits."""
    if len(records) == 1:
        return records[0] or new_record(system, name, budget)
    present = [r or new_record(system, name, budget) for r in records]
    scores = [r["score"] for r in present]
    errors = [f"{r['dataset']}: {r['error']}" for r in present if r["error"]]

    def slowest(field: str) -> float | None:
        values = [r[field] for r in present if r.get(field) is not None]
        return max(values) if values else None

    return {
        **new_record(system, name, budget, errors[0] if errors else None),
        "score": None if None in scores else sum(scores) / len(scores),
        "split_scores": scores,
        "split_infos": [r.get("info") for r in present],
        "fit_seconds": slowest("fit_seconds"),
        "process_seconds": slowest("process_seconds"),
    }


def build_rows(
    runs: dict[tuple[str, str, int | None], dict[str, Any]],
    tables: dict[str, Any],
    args: argparse.Namespace,
    systems: list[str],
) -> list[dict[str, Any]]:
    """One row per table and budget, holding each system's run (over several splits, their
    mean) and automl's verdicts against the peers; a run that is missing (from a merged
    file) is a record without a score."""
    rows = []
    for name, keys in split_keys(args).items():
        metric = METRIC_NAMES[DATASETS[name].task]
        for budget in args.budgets:
            results = {}
            for system in systems:
                found = [runs.get((system, k, None if system == "lgbm" else budget)) for k in keys]
                results[system] = combined(found, system, name, budget)
            verdicts = {}
            if "automl" in results:
                automl = results["automl"]["score"]
                for peer in PEERS:
                    if peer in results:
                        verdicts[peer] = verdict(metric, automl, results[peer]["score"], args.tie)
            rows.append(
                {
                    "dataset": name,
                    "task": DATASETS[name].task,
                    "metric": metric,
                    "rows": tables[keys[0]]["rows"],
                    "splits": len(keys),
                    "budget": budget,
                    "results": results,
                    "verdicts": verdicts,
                }
            )
    return rows


PACKAGES = (
    "automl",
    "flaml",
    "autogluon.tabular",
    "lightgbm",
    "catboost",
    "xgboost",
    "xgboost-cpu",
    "scikit-learn",
    "pandas",
    "numpy",
    "statsmodels",
)


def versions() -> dict[str, Any]:
    """This interpreter's Python version and the installed versions of ``PACKAGES``."""
    found = {}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return {"python": platform.python_version(), "versions": found}


def automl_source() -> dict[str, Any] | None:
    """Where automl is imported from, the git commit there, and its files that differ.

    An editable install runs the work tree as it is, edits included, so a result says
    which code it measured.
    """
    spec = importlib.util.find_spec("automl")
    if spec is None or spec.origin is None:
        return None
    package = Path(spec.origin).parent

    def git(*command: str) -> str:
        done = subprocess.run(["git", "-C", str(package), *command], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    return {
        "path": str(package),
        "commit": git("rev-parse", "HEAD") or None,
        "modified": git("status", "--porcelain", "--", ".").splitlines(),
    }


def environment(args: argparse.Namespace) -> dict[str, Any]:
    """Platform and versions, AutoGluon's taken from its own environment."""
    result = {"platform": platform.platform(), "cpu_count": os.cpu_count(), **versions()}
    autogluon = any(s.startswith("autogluon") for s in args.systems)
    if autogluon and args.autogluon_python.exists():
        done = subprocess.run(
            [str(args.autogluon_python), __file__, "--versions"], capture_output=True, text=True
        )
        result["autogluon_environment"] = json.loads(done.stdout) if done.returncode == 0 else None
    return result


def planned(args: argparse.Namespace) -> str:
    """How many runs the comparison makes, and a rough duration (5 s of overhead a run)."""
    budgeted = [s for s in args.systems if s != "lgbm"]
    splits = sum(len(keys) for keys in split_keys(args).values())
    runs = splits * (len(budgeted) * len(args.budgets) + ("lgbm" in args.systems))
    budget = splits * len(budgeted) * sum(args.budgets)
    minutes = (budget + 5 * runs) / 60
    return f"{runs} runs, {budget} s of budget in all: about {minutes:.0f} min"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--budgets",
        type=int,
        nargs="+",
        default=[10, 60, 300],
        help="time budgets in seconds (default: 10 60 300)",
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=["all"],
        choices=[*DATASET_SETS, *DATASETS],
        help="tables, or all, or small: the tables under 2,000 rows (default: all)",
    )
    parser.add_argument(
        "--systems",
        default="all",
        help=f"comma-separated systems out of {','.join(ORDER)}; all is "
        f"{','.join(SYSTEMS)}, ablation is automl and its variants (default: all)",
    )
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        default=[],
        metavar="FILE",
        help="earlier compare JSON files whose runs stand for the systems not run now",
    )
    parser.add_argument("--seed", type=int, default=0, help="split and search seed (default: 0)")
    parser.add_argument(
        "--splits",
        type=int,
        default=1,
        help="splits of each table under 2,000 rows, the i-th made with seed + i; such a "
        "table's score is the mean over them (default: 1)",
    )
    parser.add_argument(
        "--first-split",
        type=int,
        default=0,
        help="run only splits from this one on, to add splits to an earlier run's with "
        "--merge later (default: 0)",
    )
    parser.add_argument("--n-jobs", type=int, default=2, help="cores per system (default: 2)")
    parser.add_argument(
        "--tie",
        type=float,
        default=TIE_TOLERANCE,
        help=f"largest relative score difference that is a tie (default: {TIE_TOLERANCE})",
    )
    parser.add_argument(
        "--autogluon-python",
        type=Path,
        default=Path(os.environ.get("AUTOGLUON_PYTHON", AUTOGLUON_PYTHON)),
        help="python of AutoGluon's environment (default: benchmarks/.venv-autogluon)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=RESULTS_DIR,
        help="where the JSON goes (default: benchmarks/results)",
    )
    parser.add_argument("--label", default="", help="added to the JSON file name, e.g. smoke")
    # Internal: worker mode, reading the split written by the parent.
    parser.add_argument(
        "--one", nargs=3, metavar=("SYSTEM", "DATASET", "BUDGET"), help=argparse.SUPPRESS
    )
    parser.add_argument("--split-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--versions", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.systems.split(",") if s.strip()]
    chosen = {system for name in names for system in SYSTEM_SETS.get(name, (name,))}
    unknown = sorted(chosen - set(ORDER))
    if unknown or not chosen:
        parser.error(f"--systems takes {','.join(ORDER)}, all or ablation; got {unknown}")
    args.systems = [s for s in ORDER if s in chosen]
    tables = [table for name in args.datasets for table in DATASET_SETS.get(name, (name,))]
    args.datasets = list(dict.fromkeys(tables))
    if args.splits < 1:
        parser.error(f"--splits takes a number of splits of at least 1, not {args.splits}")
    if not 0 <= args.first_split < args.splits:
        parser.error(f"--first-split takes 0 to {args.splits - 1} with --splits {args.splits}")
    return args


def in_order(systems: list[str]) -> list[str]:
    """Systems in the report's order: automl, its variants, the peers, then any other."""
    return sorted(systems, key=lambda s: ORDER.index(s) if s in ORDER else len(ORDER))


def main(argv: list[str] | None = None) -> int:
    """Run the comparison (or, with ``--one``, a single worker run)."""
    args = parse_args(argv)
    if args.versions:
        print(json.dumps(versions()))
        return 0
    if args.one:
        system, dataset_name, budget = args.one
        record = run_one(system, dataset_name, int(budget), args.seed, args.n_jobs, args.split_dir)
        print(RESULT_PREFIX + json.dumps(record), flush=True)
        return 0 if record["error"] is None else 1

    try:
        earlier = read_merged(args.merge, args)
    except MergeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cpus = pin_to_cores(args.n_jobs)
    load_before = os.getloadavg()[0]
    if load_before > 0.5:
        print(
            f"warning: load average {load_before:.1f} before the start: other processes "
            "share the cores, so wall times and budgeted scores are not fair",
            file=sys.stderr,
        )
    runs_automl = any(s == "automl" or s in ABLATIONS for s in args.systems)
    source = automl_source() if runs_automl else None
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="automl-compare-") as workdir:
        tables = write_splits(args, Path(workdir))
        try:
            merged_runs, merged = merge_runs(earlier, args, tables)
        except MergeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(planned(args), file=sys.stderr)
        runs = run_all(args, Path(workdir))
    systems = in_order([*args.systems, *merged])
    every_run = {**merged_runs, **runs}
    rows = build_rows(every_run, tables, args, systems)
    print(markdown(rows, systems, args.budgets, args.tie, merged))

    created = datetime.now().astimezone()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    label = f"-{args.label}" if args.label else ""
    path = args.output_dir / f"compare{label}-{created:%Y%m%d-%H%M%S}.json"
    report = {
        "created": created.isoformat(timespec="seconds"),
        "label": args.label or None,
        "total_seconds": round(time.perf_counter() - started, 1),
        "load_average": {"before": load_before, "after": os.getloadavg()[0]},
        "seed": args.seed,
        "n_jobs": args.n_jobs,
        "pinned_cpus": cpus,
        "test_size": TEST_SIZE,
        "splits": args.splits,
        "first_split": args.first_split,
        "tie_tolerance": args.tie,
        "budgets": args.budgets,
        "systems": systems,
        "systems_run": args.systems,
        "merged_from": merged,
        "datasets": args.datasets,
        "tables": tables,
        "environment": environment(args),
        "automl_source_at_start": source,
        "rows": rows,
        "runs": list(every_run.values()),
    }
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
