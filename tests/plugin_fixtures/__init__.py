"""Throw-away plugin distributions for the plugin tests.

`install` writes a plugin module and a `*.dist-info` directory (METADATA and
entry_points.txt) into a folder; with that folder on `sys.path` (or PYTHONPATH for a
subprocess) `importlib.metadata` finds the distribution and its `automl` entry point,
exactly as it finds one installed by pip — in milliseconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

HEADER = """\
from automl.contract import ALL_TASKS, CLASSIFICATION, Algorithm, InputNeeds, Metric
from automl.hookspecs import hookimpl


def space(trial, context):
    return {"C": trial.suggest_float("C", 0.01, 100.0, log=True)}


def build(params, task, seed, n_jobs):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**params, random_state=seed)
"""

# An algorithm plugin that works: the reference the broken ones are told apart from.
GOOD = """
@hookimpl
def automl_register_algorithms(register):
    register(Algorithm("good_logistic", CLASSIFICATION, space, build, defaults=({"C": 1.0},),
                       needs=InputNeeds(scale=True)))
"""

# The failure modes of a plugin, each as a module body and a fragment of the one-line
# error automl reports for it.
BROKEN = {
    "import_error": (
        "import a_dependency_nobody_installed\n",
        "failed to load: ModuleNotFoundError: No module named 'a_dependency_nobody_installed'",
    ),
    "raises": (
        """
@hookimpl
def automl_register_algorithms(register):
    raise RuntimeError("the licence server is down")
""",
        "automl_register_algorithms raised RuntimeError: the licence server is down",
    ),
    "duplicate": (
        """
@hookimpl
def automl_register_algorithms(register):
    register(Algorithm("linear", CLASSIFICATION, space, build))
""",
        "the algorithm name 'linear' is taken by the plugin 'automl.builtin.linear'",
    ),
    "not_an_algorithm": (
        """
@hookimpl
def automl_register_algorithms(register):
    register({"name": "dict_model", "build": build})
""",
        "registered a dict, not an Algorithm",
    ),
    "bad_arity": (
        """
@hookimpl
def automl_register_algorithms(register):
    register(Algorithm("one_argument_space", CLASSIFICATION, lambda trial: {}, build))
""",
        "algorithm 'one_argument_space': search_space must accept 2 positional arguments"
        " (trial, context)",
    ),
    "bad_direction": (
        """
@hookimpl
def automl_register_metrics(register):
    register(Metric("upside_down", CLASSIFICATION, "up", lambda y, p: 0.0))
""",
        "metric 'upside_down': direction must be 'maximize' or 'minimize', not 'up'",
    ),
    "misspelt_hook": (
        """
@hookimpl
def automl_register_algorithm(register):
    register(Algorithm("never_seen", CLASSIFICATION, space, build))
""",
        "it implements an unknown hook automl_register_algorithm"
        " (did you mean automl_register_algorithms?)",
    ),
    "wrong_arguments": (
        """
@hookimpl
def automl_register_algorithms(reg):
    pass
""",
        "Argument(s) {'reg'} are declared in the hookimpl but can not be found in the hookspec",
    ),
    "no_hooks": ("ALGORITHMS = []\n", "it implements no automl hook"),
    "exits_on_import": ("raise SystemExit(2)\n", "failed to load: SystemExit: 2"),
    "undecorated": (
        """
def automl_register_algorithms(register):
    register(Algorithm("never_called", CLASSIFICATION, space, build))
""",
        "automl_register_algorithms is not decorated with @hookimpl",
    ),
}

# Registers fine, breaks only when the search samples it: high below low.
BAD_SPACE = """
def inverted(trial, context):
    return {"C": trial.suggest_float("C", 100.0, 0.01, log=True)}


@hookimpl
def automl_register_algorithms(register):
    # The default is queued first, so a search is sure to try the space.
    register(Algorithm("inverted_space", CLASSIFICATION, inverted, build, defaults=({"C": 1.0},)))
"""

COMMAND = """
import click


@hookimpl
def automl_register_commands(cli):
    @cli.command()
    @click.argument("name")
    def hello(name):
        \"\"\"Greet NAME.\"\"\"
        click.echo(f"Hello, {name}!")
"""

COMMAND_CLASH = """
import click


@hookimpl
def automl_register_algorithms(register):
    register(Algorithm("clashing_logistic", CLASSIFICATION, space, build))


@hookimpl
def automl_register_commands(cli):
    @cli.command()
    def run():
        click.echo("not automl's run")
"""

COMMAND_RAISES = """
@hookimpl
def automl_register_commands(cli):
    raise KeyError("no such group")
"""


def install(
    site: Path, name: str, body: str, *, distribution: str | None = None, version: str = "1.2.3"
) -> str:
    """Write the plugin `name` (entry point and module `fixture_<name>`) into `site`;
    return the module name."""
    module = f"fixture_{name}"
    distribution = distribution or f"automl-fixture-{name.replace('_', '-')}"
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(HEADER + textwrap.dedent(body))
    info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n"
    )
    (info / "entry_points.txt").write_text(f"[automl]\n{name} = {module}\n")
    return module


def automl(
    *args: str, site: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m automl ARGS` with the plugins in `site` installed."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AUTOML_")}
    if site is not None:
        environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p
        )
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "automl", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def plugin_warnings(stderr: str) -> list[str]:
    """The lines of `stderr` that report a broken plugin."""
    return [line for line in stderr.splitlines() if "is broken and was skipped" in line]
