"""Every hook a plugin may implement. Hooks are only ever extended by adding arguments."""

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
    plugins; a duplicate marks the registering plugin broken.
    """


@hookspec
def automl_register_metrics(register: Callable[[Metric], None]) -> None:
    """Register metrics.

    Call `register(Metric(...))` once per metric. Names must be unique across all plugins.
    """


@hookspec
def automl_register_commands(cli: click.Group) -> None:
    """Add subcommands to the `automl` command line.

    Receives the top-level click group; decorate functions with `@cli.command()`.
    """
