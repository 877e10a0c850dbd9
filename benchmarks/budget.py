"""Check that the automl CLI keeps to its time budget on a large data set.

    python benchmarks/budget.py                  # 200,000-row churn, budgets 30 and 60 s
    python benchmarks/budget.py --budgets 10 --rows 50000
    python benchmarks/budget.py --budgets 10 20 --rows 4000 --metric f1   # a threshold too

Writes a large version of the synthetic churn data to a temporary directory, runs
``automl run <csv> --target churned --time-budget B --output <tmp> --json`` as a
subprocess for each budget B, and compares the whole command's wall time (process
start to exit, so including CSV loading and writing the output) with the bound
``1.1 * B + 5`` seconds. Exits with status 1 if any run breaks the bound or fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from samples import make_churn


def bound(budget: float) -> float:
    """The allowed wall time in seconds for a time budget of ``budget`` seconds."""
    return 1.1 * budget + 5


def find_cli() -> str:
    """The ``automl`` executable, preferring the one installed next to this Python."""
    beside_python = Path(sys.executable).parent / "automl"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("automl")
    if found is None:
        raise FileNotFoundError("automl CLI not found; install the package (pip install -e .)")
    return found


def run_cli(
    cli: str, csv: Path, budget: int, output: Path, metric: str | None = None
) -> tuple[float, int | None, str]:
    """Run one ``automl run``; return wall seconds, exit code (None if killed) and stderr.

    A run that takes more than twice its bound is killed with its process group.
    """
    command = [
        cli,
        "run",
        str(csv),
        "--target",
        "churned",
        "--time-budget",
        str(budget),
        "--output",
        str(output),
        "--json",
        *(["--metric", metric] if metric else []),
    ]
    start = time.perf_counter()
    with subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            _, stderr = process.communicate(timeout=2 * bound(budget))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            _, stderr = process.communicate()
            return time.perf_counter() - start, None, stderr
    return time.perf_counter() - start, process.returncode, stderr


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--budgets", type=int, nargs="+", default=[30, 60], help="seconds (default: 30 60)"
    )
    parser.add_argument(
        "--rows", type=int, default=200_000, help="rows of churn data (default: 200000)"
    )
    parser.add_argument(
        "--metric",
        help="the run's --metric (default: the task's); a metric of labels, such as f1, makes"
        " the run choose and cross-validate a decision threshold too",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the budget check; 0 if every run finished within its bound, else 1."""
    args = parse_args(argv)
    try:
        cli = find_cli()
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1

    failed = False
    with tempfile.TemporaryDirectory(prefix="automl-budget-") as tmp:
        csv = Path(tmp) / "churn.csv"
        make_churn(args.rows).to_csv(csv, index=False)
        size_mb = csv.stat().st_size / 1e6
        metric = args.metric or "the default metric"
        print(f"data: {args.rows} rows of churn, {size_mb:.1f} MB; {metric}; cli: {cli}\n")
        print("| budget (s) | wall (s) | bound 1.1*B+5 (s) | exit code | result |")
        print("|---|---|---|---|---|")
        for budget in args.budgets:
            output = Path(tmp) / f"out-{budget}"
            wall, code, stderr = run_cli(cli, csv, budget, output, args.metric)
            if code is None:
                result = "KILLED (over 2x bound)"
            elif code != 0:
                result = "CLI FAILED"
            elif wall > bound(budget):
                result = "BOUND BROKEN"
            else:
                result = "ok"
            failed |= result != "ok"
            exit_code = "-" if code is None else str(code)
            print(f"| {budget} | {wall:.1f} | {bound(budget):.1f} | {exit_code} | {result} |")
            if code != 0 and stderr.strip():
                tail = "\n".join(stderr.strip().splitlines()[-5:])
                print(f"\nstderr of the {budget} s run (last lines):\n{tail}\n", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
