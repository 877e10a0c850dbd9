"""Every hook a plugin may implement. Hooks are only ever extended by adding arguments.

A plugin is a module (or any object) with functions named after these hooks and decorated
with `hookimpl`; installed packages point to it from the `automl` entry-point group. A
plugin implements any subset of the hooks; each is called once per process. Whatever a
hook raises, or registers against the contract, marks the whole plugin broken: automl
reports it and goes on without anything that plugin registered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from automl.contract import Algorithm, Metric

hookspec = pluggy.HookspecMarker("automl")
hookimpl = pluggy.HookimplMarker("automl")


@hookspec
def automl_register_algorithms(register: Callable[[Algorithm], None]) -> None:
    """Register learning algorithms.

    Call `register(Algorithm(...))` once per algorithm. Names must be unique across all
    plugins; a duplicate marks the registering plugin broken. Import heavy libraries inside
    the algorithm's `build`, not at module level, so that listing plugins stays fast.
    """


@hookspec
def automl_register_metrics(register: Callable[[Metric], None]) -> None:
    """Register metrics.

    Call `register(Metric(...))` once per metric. Names must be unique across all plugins;
    a duplicate marks the registering plugin broken.
    """


@hookspec
def automl_register_commands(cli: click.Group) -> None:
    """Add subcommands to the `automl` command line.

    Receives a click group; add commands with `@cli.command()` (or `cli.add_command`) and
    they become `automl <name>`. Names of automl's own commands and of other plugins'
    commands are taken: a plugin that uses one is broken. Load what the command needs
    inside the command function, so `automl --help` stays fast.
    """
