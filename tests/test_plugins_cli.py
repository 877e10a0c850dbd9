"""Plugins as a user meets them on the command line: `automl plugins`, runs with broken
plugins installed, asking for a broken plugin, the switches, plugin subcommands, and a
search with the XGBoost example plugin. Each runs `python -m automl` in a subprocess with
throw-away distributions on PYTHONPATH, to see the real stderr and exit codes."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from plugin_fixtures import (
    BAD_SPACE,
    BROKEN,
    COMMAND,
    COMMAND_CLASH,
    GOOD,
    automl,
    install,
    plugin_warnings,
)

from automl.contract import Task
from automl.testing import sample_table

QUICK = ("--time-budget", "20", "--n-trials", "3", "--cv", "3", "--n-jobs", "1")
EXAMPLES = {"xgboost": ["xgboost"], "cost": ["expected_cost"], "describe": ["describe"]}


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every kind of broken plugin, next to a good one, a command and a bad search space."""
    site = tmp_path_factory.mktemp("site")
    for mode, (body, _) in BROKEN.items():
        install(site, mode, body)
    install(site, "good", GOOD, distribution="automl-good", version="2.0.1")
    install(site, "greeter", COMMAND)
    install(site, "inverted", BAD_SPACE)
    return site


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "table.csv"
    sample_table(Task.BINARY, n_rows=200).to_csv(path, index=False)
    return path


def _clean(result, code: int = 0) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr


def _flat(text: str) -> str:
    return " ".join(re.sub(r"[\u2500-\u257f]", " ", text).split())


def test_plugins_json_lists_every_plugin_with_its_status(broken_site: Path):
    result = automl("plugins", "--json", site=broken_site)
    _clean(result)
    listed = {p["name"]: p for p in json.loads(result.stdout)}
    for mode, (_, error) in BROKEN.items():
        assert listed[mode]["status"] == "broken" and error in listed[mode]["error"], mode
    assert listed["good"] | {"error": None} == {
        "name": "good",
        "distribution": "automl-good",
        "version": "2.0.1",
        "builtin": False,
        "algorithms": ["good_logistic"],
        "metrics": [],
        "commands": [],
        "status": "ok",
        "error": None,
    }
    assert listed["greeter"]["commands"] == ["hello"]
    assert listed["automl.builtin.linear"]["algorithms"] == ["linear"]
    # Each broken plugin is reported once, in one line.
    reported = plugin_warnings(result.stderr)
    assert len(reported) == len(BROKEN)
    assert {line.split("'")[1] for line in reported} == set(BROKEN)


def test_plugins_table_shows_versions_additions_and_errors(broken_site: Path):
    result = automl("plugins", site=broken_site, env={"COLUMNS": "250"})
    _clean(result)
    table = _flat(result.stdout)
    assert "plugin distribution algorithms metrics commands status" in table
    assert "good automl-good 2.0.1 good_logistic ok" in table
    assert "greeter 1.2.3 hello ok" in table
    assert (
        "raises 1.2.3 broken: automl_register_algorithms raised RuntimeError: the licence"
        " server is down"
    ) in table


def test_the_installed_example_plugins_are_listed():
    result = automl("plugins", "--json")
    _clean(result)
    listed = {p["name"]: p for p in json.loads(result.stdout)}
    for name, adds in EXAMPLES.items():
        plugin = listed[name]
        assert plugin["distribution"] == f"automl-{name}" and plugin["status"] == "ok"
        assert adds == plugin["algorithms"] + plugin["metrics"] + plugin["commands"]


def test_listing_plugins_imports_no_heavy_library(broken_site: Path, tmp_path: Path):
    script = tmp_path / "list.py"
    script.write_text(
        "import sys\n"
        "from automl.cli import main\n"
        "try:\n"
        "    main(['plugins', '--json'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('lightgbm', 'shap', 'optuna', 'textual', 'xgboost', 'sklearn')\n"
        "print('HEAVY', sorted(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, "PYTHONPATH": str(broken_site)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "HEAVY []" in result.stderr.splitlines(), result.stderr


def test_a_run_goes_on_without_the_broken_plugins(broken_site: Path, table: Path, tmp_path):
    result = automl(
        "run",
        str(table),
        "--target",
        "target",
        "--algorithms",
        "good_logistic,linear",
        *QUICK,
        "--output",
        str(tmp_path / "model"),
        "--json",
        site=broken_site,
    )
    _clean(result)
    assert json.loads(result.stdout)["algorithm"] in ("good_logistic", "linear")
    assert len(plugin_warnings(result.stderr)) == len(BROKEN)


@pytest.mark.parametrize(
    ("option", "asked", "mode"),
    [
        ("--algorithms", "raises", "raises"),
        ("--algorithms", "one_argument_space", "bad_arity"),
        ("--algorithms", "import_error", "import_error"),
        ("--metric", "upside_down", "bad_direction"),
        ("--algorithms", "never_seen", "misspelt_hook"),
    ],
)
def test_asking_for_a_broken_plugin_stops_with_its_error(
    broken_site: Path, table: Path, option: str, asked: str, mode: str
):
    result = automl(
        "run", str(table), "--target", "target", option, asked, *QUICK, site=broken_site
    )
    _clean(result, code=3)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert repr(mode) in errors[0] and BROKEN[mode][1] in errors[0]


def test_a_space_that_breaks_when_sampled_fails_its_trials_not_the_run(
    broken_site: Path, table: Path, tmp_path: Path
):
    result = automl(
        "run",
        str(table),
        "--target",
        "target",
        "--algorithms",
        "linear,inverted_space",
        *QUICK,
        "--output",
        str(tmp_path / "model"),
        "--json",
        site=broken_site,
    )
    _clean(result)
    summary = json.loads(result.stdout)
    assert summary["algorithm"] == "linear"
    assert summary["trials"]["failed"] >= 1
    assert {row["algorithm"] for row in summary["leaderboard"]} == {"linear"}


def test_a_space_that_breaks_when_sampled_alone_is_a_clear_failure(broken_site: Path, table: Path):
    result = automl(
        "run",
        str(table),
        "--target",
        "target",
        "--algorithms",
        "inverted_space",
        *QUICK,
        site=broken_site,
    )
    _clean(result, code=1)
    assert "inverted_space could not be built: ValueError" in result.stderr


def test_strict_mode_makes_a_broken_plugin_an_error(broken_site: Path):
    result = automl("plugins", site=broken_site, env={"AUTOML_STRICT_PLUGINS": "1"})
    _clean(result, code=3)
    assert result.stderr.startswith("Error: plugin 'bad_arity' is broken: algorithm")


@pytest.mark.parametrize(
    ("selection", "expected"), [("", set()), ("good, greeter", {"good", "greeter"})]
)
def test_load_plugins_selects_the_installed_plugins(broken_site: Path, selection, expected):
    result = automl("plugins", "--json", site=broken_site, env={"AUTOML_LOAD_PLUGINS": selection})
    _clean(result)
    assert {p["name"] for p in json.loads(result.stdout) if not p["builtin"]} == expected
    assert result.stderr == ""


def test_a_plugin_adds_a_subcommand(broken_site: Path):
    result = automl("hello", "plugin author", site=broken_site)
    _clean(result)
    assert result.stdout == "Hello, plugin author!\n"
    assert re.search(r"^  hello +Greet NAME\.$", automl("--help", site=broken_site).stdout, re.M)


def test_a_plugin_cannot_take_over_an_automl_command(tmp_path: Path):
    install(tmp_path, "clash", COMMAND_CLASH)
    result = automl("--help", site=tmp_path)
    _clean(result)
    assert plugin_warnings(result.stderr) == [
        "Warning: plugin 'clash' is broken and was skipped: the command name 'run' is taken"
        " by automl itself"
    ]
    assert "Search for the best model" in automl("run", "--help", site=tmp_path).stdout


def test_a_search_with_the_xgboost_plugin_saves_a_model_that_predicts(table: Path, tmp_path: Path):
    model = tmp_path / "model"
    result = automl(
        "run",
        str(table),
        "--target",
        "target",
        "--algorithms",
        "xgboost,linear",
        "--time-budget",
        "30",
        "--n-trials",
        "4",
        "--cv",
        "3",
        "--n-jobs",
        "1",
        "--output",
        str(model),
        "--json",
    )
    _clean(result)
    summary = json.loads(result.stdout)
    assert "xgboost" in {row["algorithm"] for row in summary["leaderboard"]}

    new = pd.read_csv(table).drop(columns="target").head(20)
    new.loc[:9, "colour"] = "a colour never seen"
    new.to_csv(tmp_path / "new.csv", index=False)
    predicted = automl("predict", str(model), str(tmp_path / "new.csv"), "--proba")
    _clean(predicted)
    rows = pd.read_csv(io.StringIO(predicted.stdout))
    assert list(rows.columns) == ["prediction", "no", "yes"] and len(rows) == 20
