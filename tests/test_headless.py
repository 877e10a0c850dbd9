"""The core never imports the UI libraries; the CLI starts without the heavy ones."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import automl

PACKAGE = Path(automl.__file__).parent
UI_LAYERS = {"cli", "tui"}


def _run(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return {name.split(".")[0] for name in result.stdout.split()}


def test_core_sources_import_neither_textual_nor_rich():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).parts[0].removesuffix(".py") in UI_LAYERS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in {"rich", "textual"}
            ]
    assert offenders == []


def test_a_whole_fit_runs_with_textual_and_rich_unimportable():
    # scikit-learn >= 1.9 imports rich by itself when it is installed (for its optional
    # progress bars), so "rich not in sys.modules" cannot hold for any code that uses
    # scikit-learn. Blocking both libraries instead proves the core does not need them:
    # any import of them from the core would raise.
    code = (
        "import sys\nsys.modules['rich'] = None\nsys.modules['textual'] = None\n"
        "from automl import AutoML\nimport automl.bundle, automl.search, automl.plugins\n"
        "import pandas as pd, tempfile, pathlib\n"
        "df = pd.DataFrame({'x': range(40), 'z': [1.0, 2.0] * 20, 'y': [0, 1] * 20})\n"
        "out = pathlib.Path(tempfile.mkdtemp()) / 'm'\n"
        "AutoML(time_budget=30, n_trials=1, cv=2, algorithms=['linear']).fit(df, target='y',"
        " output=out)\n"
        "assert (out / 'model_card.json').exists()\n"
    )
    loaded = _run(code)
    assert {"automl", "optuna", "skops"} <= loaded


def test_help_and_plugin_listing_stay_light():
    for args in (["--help"], ["plugins", "--json"]):
        code = f"from automl.cli import cli\ncli.main(args={args!r}, standalone_mode=False)"
        loaded = _run(code)
        assert not loaded & {"lightgbm", "optuna", "shap", "textual", "sklearn"}, args
