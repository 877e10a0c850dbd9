"""How a model's fit time grows with its rows: the evidence for `search.REFIT_EXPONENT`.

    python benchmarks/refit_scaling.py
    python benchmarks/refit_scaling.py --algorithms lightgbm --rows 48000 200000 1000000

The search estimates the refit of its winner on all rows from the time a fold took, as
that time times (the refit's rows over a fold's training rows) to the power
`REFIT_EXPONENT`. This fits each algorithm's first default (behind automl's
preprocessing, one thread, as a worker process refits) on growing numbers of rows of the
generated table of `bigtable.py` (50 numeric columns, a binary target), times each fit,
and fits seconds = a * rows ** p by least squares on the logarithms. Writes
benchmarks/results/refit-scaling-<YYYYMMDD-HHMMSS>.json.
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


def measure(algorithm: str, rows: list[int], X, y, schema) -> dict:
    """The seconds of one fit on each number of rows, and the power fitted to them."""
    from automl.contract import Task
    from automl.plugins import get_registry
    from automl.preprocess import build_candidate

    found = get_registry().algorithm(algorithm)
    params = dict(found.defaults[0]) if found.defaults else {}
    seconds = []
    for n in rows:
        candidate = build_candidate(found, schema, params, Task.BINARY, 0, 1)
        started = time.perf_counter()
        candidate.fit(X.iloc[:n], y[:n])
        seconds.append(round(time.perf_counter() - started, 3))
        print(f"{algorithm} on {n} rows: {seconds[-1]:.2f} s", file=sys.stderr)
    power, log_a = np.polyfit(np.log(rows), np.log(seconds), 1)
    return {
        "algorithm": algorithm,
        "params": params,
        "rows": rows,
        "seconds": seconds,
        "power": round(float(power), 3),
        "seconds_at_1m": round(float(np.exp(log_a) * 1e6**power), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--algorithms", nargs="+", default=list(ROWS))
    parser.add_argument("--rows", type=int, nargs="+", help="the same rows for each algorithm")
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
    results = [measure(a, list(args.rows or ROWS[a]), X, y, schema) for a in args.algorithms]
    record = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "columns": 50,
        "results": results,
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
            f"{found['algorithm']}: {found['seconds']} s on {found['rows']} rows,"
            f" power {found['power']}"
        )
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
