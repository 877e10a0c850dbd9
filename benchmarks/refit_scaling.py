"""How a model's fit time grows with its rows and threads: the evidence for
`search.REFIT_EXPONENT` and `search.THREAD_EXPONENTS`.

    python benchmarks/refit_scaling.py
    python benchmarks/refit_scaling.py --algorithms lightgbm --rows 48000 200000 1000000
    python benchmarks/refit_scaling.py --algorithms lightgbm --rows 20000 200000 --threads 1 2

The search estimates the refit of its winner on all rows from the time a fold took, as
that time times (the refit's rows over a fold's training rows) to the power
`REFIT_EXPONENT`. This fits each algorithm's first default (behind automl's
preprocessing, one thread) in a worker process, as a run refits, on growing numbers of
rows of the generated table of `bigtable.py` (50 numeric columns, a binary target), times
each fit, and fits seconds = a * rows ** p by least squares on the logarithms. Writes
benchmarks/results/refit-scaling-<YYYYMMDD-HHMMSS>.json.

A fold fits with one thread, while the refit runs alone and could have every core. With
`--threads 1 2`, each fit is also timed with two threads and the file gives e in
seconds(2) = seconds(1) / 2 ** e for each algorithm and row count: whether, and from how
many rows, the threads pay in a worker process, whose OpenMP threads sleep while waiting.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from bigtable import make_table

RESULTS = Path(__file__).resolve().parent / "results"
# Rows for each algorithm: a forest on a million rows with one thread takes minutes.
ROWS = {
    "lightgbm": (48_000, 200_000, 1_000_000),
    "random_forest": (12_000, 48_000, 200_000),
}


def measure(algorithm: str, rows: list[int], worker, schema, threads: int = 1) -> dict:
    """The seconds of one refit in `worker` with `threads` threads on each number of
    rows, and the power fitted to them."""
    from automl.contract import Task
    from automl.plugins import get_registry
    from automl.preprocess import build_candidate

    found = get_registry().algorithm(algorithm)
    params = dict(found.defaults[0]) if found.defaults else {}
    seconds = []
    for n in rows:
        candidate = build_candidate(found, schema, params, Task.BINARY, 0, threads)
        # The worker's own clock: the fit alone, not the pipe.
        _, took = worker.refit(candidate, np.arange(n), time.monotonic() + 3600, None, threads)
        seconds.append(round(took, 3))
        print(f"{algorithm} on {n} rows, {threads} threads: {took:.2f} s", file=sys.stderr)
    result = {
        "algorithm": algorithm,
        "threads": threads,
        "params": params,
        "rows": rows,
        "seconds": seconds,
    }
    if len(rows) > 1:
        power, log_a = np.polyfit(np.log(rows), np.log(seconds), 1)
        result["power"] = round(float(power), 3)
        result["seconds_at_1m"] = round(float(np.exp(log_a) * 1e6**power), 2)
    return result


def thread_exponents(results: list[dict]) -> list[dict]:
    """For each algorithm and row count measured with more than one thread: e in
    seconds(threads) = seconds(1) / threads ** e (1: the threads divide the time, 0: they
    do not help)."""
    one = {
        (r["algorithm"], n): s
        for r in results
        if r["threads"] == 1
        for n, s in zip(r["rows"], r["seconds"], strict=True)
    }
    found = []
    for r in results:
        for n, s in zip(r["rows"], r["seconds"], strict=True):
            if r["threads"] > 1 and (r["algorithm"], n) in one:
                e = np.log(one[r["algorithm"], n] / s) / np.log(r["threads"])
                found.append(
                    {
                        "algorithm": r["algorithm"],
                        "rows": n,
                        "threads": r["threads"],
                        "exponent": round(float(e), 3),
                    }
                )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--algorithms", nargs="+", default=list(ROWS))
    parser.add_argument("--rows", type=int, nargs="+", help="the same rows for each algorithm")
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1],
        help="thread counts to fit with (default: 1); with 1 and more, how the threads divide"
        " the time (the evidence for automl.search.THREAD_EXPONENTS)",
    )
    args = parser.parse_args(argv)
    from automl import data

    largest = max([*(args.rows or ()), *(max(ROWS.get(a, (0,))) for a in args.algorithms)])
    with tempfile.TemporaryDirectory(prefix="automl-scaling-") as tmp:
        csv = Path(tmp) / "table.csv"
        make_table(csv, largest, 50, 0)
        frame = data.read_table(csv)
    schema = data.infer_schema(frame, "target", None, "table")
    X = data.prepare(frame, schema, "table")
    y = data.encode_target(frame["target"], schema)
    from automl.worker import Worker

    with Worker() as worker:
        worker.set_data(X, y, [], True, 1)
        results = [
            measure(a, list(args.rows or ROWS[a]), worker, schema, threads)
            for a in args.algorithms
            for threads in args.threads
        ]
    record = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "columns": 50,
        "results": results,
        "thread_exponents": thread_exponents(results),
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
        },
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"refit-scaling-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    for found in results:
        print(
            f"{found['algorithm']} ({found['threads']} threads): {found['seconds']} s on"
            f" {found['rows']} rows, power {found.get('power')}"
        )
    for found in record["thread_exponents"]:
        print(
            f"{found['algorithm']} on {found['rows']} rows: {found['threads']} threads,"
            f" time / threads ** {found['exponent']}"
        )
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
