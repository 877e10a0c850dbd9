#!/usr/bin/env bash
# Create the benchmark's own virtual environment for AutoGluon-Tabular.
#
#   bash benchmarks/setup_peers.sh            # -> benchmarks/.venv-autogluon
#
# AutoGluon pins older pandas, numpy and scikit-learn than automl needs, so it cannot
# share the project's environment; compare.py runs its `autogluon` worker with this
# environment's python. Only the tree-model extras are installed (LightGBM, CatBoost,
# XGBoost): no torch, so medium_quality skips its neural networks (see README.md).
# Re-running the script upgrades nothing that is already satisfied.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
venv=${AUTOGLUON_VENV:-$here/.venv-autogluon}
python=${PYTHON:-python3}
version=${AUTOGLUON_VERSION:-1.6.3}

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# pyarrow: the worker reads the train/test split from the Parquet files compare.py writes.
"$venv/bin/python" -m pip install --quiet \
    "autogluon.tabular[lightgbm,catboost,xgboost]==$version" pyarrow
"$venv/bin/python" - <<'PY'
import importlib.util
from importlib import metadata

# The xgboost extra may resolve to the CPU-only wheel, xgboost-cpu.
names = ("autogluon.tabular", "lightgbm", "catboost", "xgboost", "xgboost-cpu", "pandas")
for name in (*names, "numpy", "scikit-learn", "pyarrow"):
    try:
        print(f"{name} {metadata.version(name)}")
    except metadata.PackageNotFoundError:
        pass
print("torch installed:", importlib.util.find_spec("torch") is not None)
PY
echo "ready: $venv/bin/python"
