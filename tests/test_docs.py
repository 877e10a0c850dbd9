"""The examples in the manual are run, so the docs cannot drift from the program.

Every ```console block in README.md and docs/*.md is a script: lines starting with "$ "
are commands, run in order with bash in one scratch directory per document (holding a
copy of sample_data/ and plugins/); the lines after a command are its expected output. An
expected line is checked (it must appear in what the command printed) unless it contains
"...". A block opened with ```console exit=N expects its commands to exit with N instead
of 0. Every ```python block runs, in document order, as a script in the same directory.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support import ROOT, SAMPLES

BLOCK = re.compile(
    r"^```(?P<kind>console|python)(?P<info>[^\n]*)\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL
)
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


@dataclass
class Command:
    line: str
    exit_code: int
    expected: list[str] = field(default_factory=list)
    script: str | None = None  # Python source, for a ```python block


def commands(text: str) -> list[Command]:
    found: list[Command] = []
    for block in BLOCK.finditer(text):
        if block["kind"] == "python":
            found.append(Command("python", 0, script=block["body"]))
            continue
        code = re.search(r"exit=(\d+)", block["info"])
        for line in block["body"].splitlines():
            if line.startswith("$ "):
                found.append(Command(line[2:], int(code[1]) if code else 0))
            elif found and line.strip() and "..." not in line:
                found[-1].expected.append(line.strip())
    return found


def documented(path: Path) -> bool:
    return path.exists() and bool(commands(path.read_text()))


@pytest.mark.parametrize("document", [d for d in DOCUMENTS if documented(d)], ids=lambda p: p.name)
def test_documented_commands_work(document, tmp_path):
    shutil.copytree(SAMPLES, tmp_path / "sample_data")
    shutil.copytree(
        ROOT / "plugins",
        tmp_path / "plugins",
        ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "build"),
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    # Each command runs in a session of its own: whatever it left running in the
    # background (a server) is stopped at the end, even when a later command fails.
    sessions: list[int] = []
    try:
        for command in commands(document.read_text()):
            argv = (
                [sys.executable, "-c", command.script]
                if command.script
                else ["bash", "-c", command.line]
            )
            with subprocess.Popen(
                argv,
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            ) as process:
                sessions.append(process.pid)
                stdout, stderr = process.communicate(timeout=300)
            printed = stdout + stderr
            assert process.returncode == command.exit_code, (command.line, printed)
            for line in command.expected:
                assert line in printed, (command.line, line, printed)
    finally:
        for session in sessions:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(session, signal.SIGKILL)


def test_the_runner_checks_output_and_exit_codes():
    text = "```console exit=2\n$ false\nshown\nvaries ...\n```\n```python\nx = 1\n```\n"
    shell, python = commands(text)
    assert (shell.line, shell.exit_code, shell.expected) == ("false", 2, ["shown"])
    assert python.script == "x = 1\n"
