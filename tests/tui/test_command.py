"""`automl tui` and bare `automl`: the terminal UI only where there is a terminal."""

from __future__ import annotations

from support import assert_clean_failure, run_cli

from automl.errors import ExitCode


def test_bare_automl_without_a_terminal_prints_the_help_instead_of_hanging():
    result = run_cli(timeout=30)  # stdin and stdout are pipes here
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: automl")
    assert "tui" in result.stdout
    assert "`automl tui` opens it" in result.stderr


def test_tui_names_a_missing_file_clearly():
    result = run_cli("tui", "no-such-table.csv", timeout=30)
    assert_clean_failure(result, ExitCode.BAD_INPUT, "There is no file or folder no-such-table.csv")
