from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from support import HELPERS, make_mixed


@pytest.fixture
def mixed() -> pd.DataFrame:
    return make_mixed()


@pytest.fixture
def mixed_csv(tmp_path: Path, mixed: pd.DataFrame) -> Path:
    path = tmp_path / "mixed.csv"
    mixed.to_csv(path, index=False)
    return path


@pytest.fixture
def slow_plugins(monkeypatch: pytest.MonkeyPatch):
    """Register test-only algorithms (a sleeper, a crasher, a guesser that predicts the
    class shares, weak but cheap, a plodder that sleeps seconds a fold, and a rounder that
    sleeps seconds a round and can stop adding rounds in time) in the process registry."""
    monkeypatch.syspath_prepend(str(HELPERS))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(HELPERS), os.environ.get("PYTHONPATH", "")])
    )
    import slow_estimator

    from automl.contract import CLASSIFICATION, Algorithm, EarlyStopping
    from automl.plugins import get_registry

    registry = get_registry()
    added = {
        "sleepy": Algorithm("sleepy", CLASSIFICATION, slow_estimator.space, slow_estimator.build),
        "exploding": Algorithm(
            "exploding", CLASSIFICATION, slow_estimator.no_params, slow_estimator.build_exploding
        ),
        "guessing": Algorithm(
            "guessing", CLASSIFICATION, slow_estimator.no_sleep, slow_estimator.build
        ),
        "plodding": Algorithm(
            "plodding", CLASSIFICATION, slow_estimator.plodding, slow_estimator.build
        ),
        "rounding": Algorithm(
            "rounding",
            CLASSIFICATION,
            slow_estimator.rounding,
            slow_estimator.build_rounding,
            early_stopping=EarlyStopping(
                "rounds", slow_estimator.rounds_in_time, slow_estimator.built
            ),
        ),
    }
    for name, algorithm in added.items():
        monkeypatch.setitem(registry.algorithms, name, algorithm)
    return added
