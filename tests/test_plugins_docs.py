"""docs/plugins.md is run, so the plugin tutorial cannot drift from the program.

Its ```shell-session blocks are the commands, run in order by bash in one scratch folder
(a `cd` carries over to the next command), inside a scratch virtual environment layered
on the one running the tests: `pip install -e .` installs there and nowhere else. Blocks
with `title="PATH"` in their info string are files, written to PATH in the current folder
when the tutorial reaches them. The lines after a `$ ` command are its expected output,
compared with box-drawing characters and runs of spaces ignored; a line holding "..." is
not compared. ```shell-session exit=N expects the block's commands to exit with N.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
TITLE = re.compile(r'title="(?P<path>[^"]+)"')
RUN = "shell-session"
_BOX = re.compile(r"[\u2500-\u257f]+")


@dataclass
class Command:
    line: str
    exit_code: int = 0
    expected: list[str] = field(default_factory=list)


@dataclass
class File:
    path: str
    text: str


def steps(markdown: str) -> list[Command | File]:
    """The files and commands of a document, in order."""
    found: list[Command | File] = []
    for block in FENCE.finditer(markdown):
        info, body = block["info"].strip(), block["body"]
        title = TITLE.search(info)
        if title:
            found.append(File(title["path"], body))
        elif info.split()[:1] == [RUN]:
            code = re.search(r"\bexit=(\d+)", info)
            current = None
            for line in body.splitlines():
                if line.startswith("$ "):
                    current = Command(line[2:], int(code[1]) if code else 0)
                    found.append(current)
                elif current is not None and line.strip() and "..." not in line:
                    current.expected.append(line)
    return found


def normalise(text: str) -> str:
    return " ".join(_BOX.sub(" ", text).split())


def layered_environment(root: Path) -> dict[str, str]:
    """A virtual environment in `root` that sees every package of the running one, with
    `pip`, `automl` and `pytest` on its PATH; return the environment variables to use it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # A .pth line that starts with "import" is executed: addsitedir also processes the
    # parent's own .pth files, which is how its editable installs (automl's) are found.
    parent = sysconfig.get_paths()["purelib"]
    (Path(site) / "_parent_environment.pth").write_text(
        f"import site; site.addsitedir({parent!r})\n"
    )
    for tool in ("pip", "automl", "pytest"):
        script = root / "bin" / tool
        script.write_text(f'#!/bin/sh\nexec "{python}" -m {tool} "$@"\n')
        script.chmod(0o755)
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("AUTOML_", "PYTEST_", "PYTHON"))
    }
    environ.update(
        PATH=f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}",
        VIRTUAL_ENV=str(root),
        COLUMNS="160",  # rich tables: one line per row
    )
    return environ


def run(document: Path, workdir: Path, environ: dict[str, str]) -> None:
    cwd = workdir
    where = workdir / ".cwd"
    for step in steps(document.read_text()):
        if isinstance(step, File):
            path = cwd / step.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(step.text)
            continue
        script = f'{step.line}\nstatus=$?\npwd > "{where}"\nexit $status\n'
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=cwd,
            env=environ,
            capture_output=True,
            text=True,
            timeout=300,
        )
        printed = result.stdout + result.stderr
        assert result.returncode == step.exit_code, (step.line, result.returncode, printed)
        for line in step.expected:
            assert normalise(line) in normalise(printed), (step.line, line, printed)
        cwd = Path(where.read_text().strip())


def test_the_plugin_tutorial_runs(tmp_path: Path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    run(DOCUMENT, workdir, layered_environment(tmp_path / "env"))
    assert (workdir / "automl-tree" / "cancer-model" / "model_card.json").is_file()


def test_the_tutorial_has_files_commands_and_checked_output():
    found = steps(DOCUMENT.read_text())
    files = [s.path for s in found if isinstance(s, File)]
    commands = [s for s in found if isinstance(s, Command)]
    assert files == ["pyproject.toml", "automl_tree.py", "tests/test_tree.py"]
    assert [c.line.split()[0] for c in commands if c.line.split()[0] in ("pip", "automl")] == [
        "pip",
        "automl",
        "automl",
        "automl",
    ]
    assert all(c.expected for c in commands if c.line.startswith(("pip", "automl")))


def test_the_runner_reads_files_commands_expectations_and_exit_codes():
    text = (
        '```toml title="a/b.toml"\nx = 1\n```\n'
        "```shell-session exit=2\n$ false\n│ shown  │\nvaries ...\n$ true\n```\n"
        "```text\n$ not run\n```\n```python\nprint('not written')\n```\n"
    )
    file, first, second = steps(text)
    assert (file.path, file.text) == ("a/b.toml", "x = 1\n")
    assert (first.line, first.exit_code, first.expected) == ("false", 2, ["│ shown  │"])
    assert (second.line, second.exit_code, second.expected) == ("true", 2, [])
    assert normalise("┃ tree  │ 0.1.0 ┃") == normalise("tree 0.1.0")
