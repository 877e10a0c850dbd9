"""`automl describe`: registered through the command hook, and showing what automl infers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from automl.contract import Task
from automl.testing import registered_commands, sample_table


@pytest.fixture
def table_csv(tmp_path: Path) -> Path:
    frame = sample_table(Task.BINARY, n_rows=120)
    frame.insert(0, "row", np.arange(len(frame)))
    frame["constant"] = 7
    frame.loc[3, "target"] = None
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    return path


def test_the_plugin_adds_the_describe_command():
    assert list(registered_commands("automl_describe")) == ["describe"]


def test_describe_shows_kinds_drops_and_the_task(table_csv: Path):
    describe = registered_commands("automl_describe")["describe"]
    result = CliRunner().invoke(describe, [str(table_csv), "--target", "target", "--json"])
    assert result.exit_code == 0, result.output
    described = json.loads(result.output)
    kinds = {c["name"]: (c["kind"], c["note"]) for c in described["columns"]}
    assert kinds["x1"] == ("numeric", "")
    assert kinds["flag"] == ("boolean", "")
    assert kinds["colour"][0] == "categorical"
    assert set(kinds["colour"][1].split(", ")) == {"red", "green", "blue", "grey"}
    assert kinds["constant"] == ("dropped", "constant")
    assert "target" not in kinds
    assert described["target"] == {
        "name": "target",
        "task": "binary",
        "classes": ["no", "yes"],
        "missing": 1,
    }


def test_without_a_target_every_column_is_described(table_csv: Path):
    describe = registered_commands("automl_describe")["describe"]
    result = CliRunner().invoke(describe, [str(table_csv)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{table_csv}: 120 rows, 7 input columns"
    assert lines[1].split() == ["column", "kind", "dtype", "missing", "distinct", "note"]
    rows = {line.split()[0]: line.split()[1] for line in lines[2:]}
    assert rows["row"] == "dropped"  # a row number: automl would drop it
    assert rows["target"] == "categorical"


def _automl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "automl", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )


def test_automl_describe_runs_as_an_installed_subcommand(table_csv: Path):
    result = _automl("describe", str(table_csv), "--target", "target")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "target 'target': binary, classes no, yes; 1 row(s) without a target would be dropped"
    )
    assert "describe" in _automl("--help").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere.csv"], "Cannot read nowhere.csv: no such file."),
        (["TABLE", "--target", "targte"], "There is no column 'targte'"),
    ],
)
def test_bad_input_is_a_message_not_a_traceback(table_csv: Path, args: list[str], message: str):
    result = _automl("describe", *[str(table_csv) if a == "TABLE" else a for a in args])
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
