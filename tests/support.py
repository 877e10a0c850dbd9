"""Helpers shared by the tests (on sys.path through pytest's `pythonpath`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_data"
HELPERS = Path(__file__).resolve().parent / "helpers"


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m automl ARGS` as a user would, capturing stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "automl", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def quick(algorithms: str = "linear", n_trials: int = 2, cv: int = 3) -> list[str]:
    """`automl run` options for a short search, as most tests want."""
    return ["--algorithms", algorithms, "--n-trials", str(n_trials), "--cv", str(cv)]


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int, *needles: str):
    """Exit code as documented, a message on stderr, no traceback."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


def make_mixed(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A small binary table with numeric, categorical, boolean and date columns and gaps."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "income": rng.lognormal(10, 0.5, n),
            "city": rng.choice(["north", "south", "east", "west"], n),
            "member": rng.choice([True, False], n),
            "joined": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
        }
    )
    frame.loc[rng.random(n) < 0.1, "income"] = np.nan
    frame.loc[rng.random(n) < 0.05, "city"] = None
    signal = (frame["age"] - 50) / 15 + (frame["city"] == "north") * 1.5 + rng.normal(0, 0.7, n)
    frame["bought"] = np.where(signal > 0, "yes", "no")
    return frame
