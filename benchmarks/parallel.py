"""Two cores: two trials at once, one thread each, or one trial with two threads?

For each table size, runs the same search twice with `n_jobs=2` and a fixed number of
trials (the first trials of the search, the same list both ways, with a budget far too
large to cut anything short): once with `parallel_trials=True` (a worker process per
trial, one thread per fit) and once with `parallel_trials=False` (one trial at a time,
two threads per fit). It prints the search's seconds both ways and their ratio, and
writes them to `results/parallel-<YYYYMMDD-HHMMSS>.json`. `automl.api.SMALL_TABLE_ROWS`
is where the ratio crosses 1 on this machine.

    python benchmarks/parallel.py                          # 1,000 to 50,000 rows
    python benchmarks/parallel.py --rows 2000 20000 --trials 6
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).parent / "results"
ALGORITHMS = ["lightgbm", "hist_gradient_boosting", "linear"]


def make_table(rows: int, seed: int = 7) -> pd.DataFrame:
    """A binary table: 12 numeric columns (6 informative) and 2 string categories."""
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=rows, n_features=12, n_informative=6, flip_y=0.05, random_state=seed
    )
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    rng = np.random.default_rng(seed)
    frame["plan"] = rng.choice(["a", "b", "c", "d"], size=rows)
    frame["region"] = rng.choice([f"r{i}" for i in range(20)], size=rows)
    frame["target"] = np.where(y == 1, "yes", "no")
    return frame


def search_seconds(frame: pd.DataFrame, trials: int, parallel: bool) -> dict:
    from automl import AutoML

    model = AutoML(
        time_budget=3600,
        n_trials=trials,
        n_jobs=2,
        parallel_trials=parallel,
        algorithms=ALGORITHMS,
        ensemble=False,
        explanations=False,
        cv_repeats=1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(frame, target="target")
    card = model.card
    return {
        "search_seconds": card["timing"]["search_seconds"],
        "trials": card["trials"],
        "score": card["cv"]["score"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000, 5_000, 20_000, 50_000])
    parser.add_argument("--trials", type=int, default=8, help="trials per search (default: 8)")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.2f}; the timings need an idle machine")
    results = []
    print("| rows | one trial, 2 threads (s) | two trials, 1 thread each (s) | ratio |")
    print("|---:|---:|---:|---:|")
    for rows in args.rows:
        frame = make_table(rows)
        serial = search_seconds(frame, args.trials, parallel=False)
        parallel = search_seconds(frame, args.trials, parallel=True)
        ratio = parallel["search_seconds"] / serial["search_seconds"]
        results.append({"rows": rows, "serial": serial, "parallel": parallel, "ratio": ratio})
        print(
            f"| {rows:,} | {serial['search_seconds']:.1f} | {parallel['search_seconds']:.1f}"
            f" | {ratio:.2f} |",
            flush=True,
        )
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"parallel-{time.strftime('%Y%m%d-%H%M%S')}.json"
    record = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "trials": args.trials,
        "algorithms": ALGORITHMS,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_before": load,
        "load_after": os.getloadavg()[0],
        "results": results,
    }
    path.write_text(json.dumps(record, indent=2))
    print(f"ratio < 1: two trials at once are faster. Written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
