"""How fast the command line starts: `automl --help` and `automl plugins` (target < 0.5 s).

    python benchmarks/startup.py [--repeat 10]

Runs each command REPEAT times as a fresh process and prints the median and the
slowest wall time, and which heavy libraries the command imported (it should be none).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = (["--help"], ["plugins"], ["plugins", "--json"])
HEAVY = ("lightgbm", "optuna", "shap", "sklearn", "textual", "xgboost")
TARGET_SECONDS = 0.5


def wall_times(args: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "automl", *args], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def heavy_imports(args: list[str]) -> list[str]:
    probe = (
        "import sys\nfrom automl.cli import cli\n"
        f"cli.main(args={args!r}, standalone_mode=False)\n"
        f"print('heavy:', *(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    return result.stderr.strip().splitlines()[-1].split()[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    options = parser.parse_args()
    print("| command | median (s) | slowest (s) | heavy imports | within 0.5 s |")
    print("|---|---|---|---|---|")
    ok = True
    for args in COMMANDS:
        times = wall_times(args, options.repeat)
        median = statistics.median(times)
        heavy = heavy_imports(args)
        within = median < TARGET_SECONDS and not heavy
        ok &= within
        print(
            f"| automl {' '.join(args)} | {median:.3f} | {max(times):.3f} |"
            f" {', '.join(heavy) or 'none'} | {'yes' if within else 'NO'} |"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
