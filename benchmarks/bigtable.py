"""Run automl on a 1,000,000-row x 50-column numeric table: wall time and peak memory.

    python benchmarks/bigtable.py                          # 1,000,000 x 50, budget 120 s
    python benchmarks/bigtable.py --rows 200000 --budget 30

Generates (seeded, in a temporary directory, never committed) a numeric CSV with a binary
target: 40 float columns written with 6 significant digits, as measurements usually are,
and 10 small-range integer columns. Then runs

    automl run <csv> --target target --time-budget B --output <tmp>/out --json

as a subprocess and, every 0.2 s, sums the resident memory (VmRSS) of that process and
all its descendants (the worker processes that fit the models), from /proc. The sum counts
pages shared between processes (libraries) once per process, so it over-states the real
peak a little; the largest single process is recorded too. Wall time runs from the start
of the subprocess to its exit and is compared with the bound 1.1 * B + 5 s; the memory
target is 8 GB (DESIGN.md). Writes benchmarks/results/bigtable-<YYYYMMDD-HHMMSS>.json and
exits 1 if the run fails or breaks either bound. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
MEMORY_LIMIT = 8 * 1024**3
SAMPLE_SECONDS = 0.2
FLOAT_COLUMNS_SHARE = 0.8


def bound(budget: float) -> float:
    """The allowed wall time in seconds for a time budget of ``budget`` seconds."""
    return 1.1 * budget + 5


def make_table(path: Path, rows: int, columns: int, seed: int) -> None:
    """A numeric CSV: ``columns`` features and a binary ``target`` that depends on six."""
    rng = np.random.default_rng(seed)
    n_float = round(columns * FLOAT_COLUMNS_SHARE)
    data = {f"x{i:02d}": rng.normal(0, 1, rows).astype(np.float32) for i in range(n_float)}
    for i in range(n_float, columns):
        data[f"n{i:02d}"] = rng.integers(0, 1000, rows, dtype=np.int32)
    frame = pd.DataFrame(data)
    signal_ = (
        frame["x00"]
        - 0.8 * frame["x01"]
        + 0.5 * frame["x02"] * frame["x03"]
        + np.sin(frame["x04"] * 2)
        + (frame[f"n{n_float:02d}"] > 500) * 0.7
    )
    frame["target"] = (signal_ + rng.normal(0, 1, rows) > 0).astype(np.int8)
    frame.to_csv(path, index=False, float_format="%.6g", chunksize=100_000)


def tree_rss(root: int) -> tuple[int, int, int]:
    """Bytes resident in `root` and its descendants: the sum, the largest one, the count."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    total = largest = count = 0
    stack = [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, ()))
        rss = _rss(pid)
        total += rss
        largest = max(largest, rss)
        count += 1
    return total, largest, count


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Sampler(threading.Thread):
    """Samples the memory of a process tree until stopped; keeps the peaks and a timeline."""

    def __init__(self, pid: int, started: float) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.started = started
        self.peak_total = self.peak_single = self.peak_processes = 0
        self.timeline: list[tuple[float, float]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            total, largest, count = tree_rss(self.pid)
            self.peak_total = max(self.peak_total, total)
            self.peak_single = max(self.peak_single, largest)
            self.peak_processes = max(self.peak_processes, count)
            elapsed = time.perf_counter() - self.started
            if not self.timeline or elapsed - self.timeline[-1][0] >= 1.0:
                self.timeline.append((round(elapsed, 1), round(total / 1024**2)))
            self.stopped.wait(SAMPLE_SECONDS)


def run_automl(csv: Path, output: Path, budget: float) -> dict:
    """One `automl run` with the process tree's memory sampled; its record."""
    command = [
        str(Path(sys.executable).parent / "automl"),
        "run",
        str(csv),
        "--target",
        "target",
        "--time-budget",
        f"{budget:g}",
        "--output",
        str(output),
        "--json",
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    sampler = Sampler(process.pid, started)
    sampler.start()
    try:
        stdout, stderr = process.communicate(timeout=3 * bound(budget))
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    sampler.stopped.set()
    sampler.join()
    summary = json.loads(stdout) if process.returncode == 0 and stdout.strip() else None
    card = output / "model_card.json"
    # Where the time went: the search, the refit, what follows it, the whole run.
    timing = json.loads(card.read_text())["timing"] if card.exists() else None
    return {
        "command": " ".join(command),
        "exit_code": process.returncode,
        "wall_seconds": round(wall, 1),
        "bound_seconds": bound(budget),
        "peak_rss_tree_mb": round(sampler.peak_total / 1024**2),
        "peak_rss_largest_process_mb": round(sampler.peak_single / 1024**2),
        "max_processes": sampler.peak_processes,
        "rss_timeline_mb": sampler.timeline,
        "summary": _short(summary),
        "timing": timing,
        "stderr_tail": stderr.strip().splitlines()[-15:],
    }


def _short(summary: dict | None) -> dict | None:
    if summary is None:
        return None
    keys = ("score", "metric", "algorithm", "trials", "rows", "refit_rows", "refit_rounds_cut",
            "refit_rounds_scaled", "wall_seconds", "explanation")  # fmt: skip
    return {k: summary.get(k) for k in keys} | {"leaderboard": summary.get("leaderboard", [])[:5]}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=50, help="features, besides the target")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds (default: 120)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="write the CSV here and keep it (reused)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Generate the table, run automl on it, write the JSON record; 0 if both bounds hold."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="automl-bigtable-") as tmp:
        csv = args.keep or Path(tmp) / "big.csv"
        if not csv.exists():
            started = time.perf_counter()
            make_table(csv, args.rows, args.columns, args.seed)
            print(f"wrote {csv} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        load_before = os.getloadavg()
        record = run_automl(csv, Path(tmp) / "out", args.budget)
        load_after = os.getloadavg()
        size_mb = csv.stat().st_size / 1e6
    record = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": args.rows,
        "columns": args.columns,
        "csv_mb": round(size_mb),
        "budget_seconds": args.budget,
        "memory_limit_mb": MEMORY_LIMIT // 1024**2,
        "budget_kept": record["exit_code"] == 0 and record["wall_seconds"] <= bound(args.budget),
        "memory_kept": record["peak_rss_tree_mb"] * 1024**2 <= MEMORY_LIMIT,
        **record,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e9),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in load_after],
        },
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"bigtable-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(
        f"{args.rows} x {args.columns}, budget {args.budget:g} s: wall {record['wall_seconds']} s"
        f" (bound {bound(args.budget):g} s), peak RSS {record['peak_rss_tree_mb']} MB"
        f" (largest process {record['peak_rss_largest_process_mb']} MB),"
        f" exit {record['exit_code']}; {path}"
    )
    return 0 if record["budget_kept"] and record["memory_kept"] else 1


if __name__ == "__main__":
    sys.exit(main())
