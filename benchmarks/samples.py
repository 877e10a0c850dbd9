"""The synthetic data generators of ``sample_data/make_samples.py``, for the benchmarks.

``sample_data`` is a directory of scripts, not an installed package, so the module
is loaded from its file path here once and its generators are re-exported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

MAKE_SAMPLES = Path(__file__).resolve().parent.parent / "sample_data" / "make_samples.py"


def _load_make_samples() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_samples", MAKE_SAMPLES)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {MAKE_SAMPLES}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_make_samples = _load_make_samples()
make_churn = _make_samples.make_churn
make_houses = _make_samples.make_houses
