"""Find, load and check plugins; the registry of algorithms and metrics they provide.

Built-in algorithms and metrics are plugins too (`DEFAULT_PLUGINS`), registered through the
same hooks as third-party packages found through the `automl` entry-point group. Each
plugin is loaded on its own: one that fails to import, raises while registering, registers
a duplicate name or breaks the contract is marked broken and reported once; the others keep
working. It only fails hard when the user asks for something it was meant to provide.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import pluggy

from automl import hookspecs
from automl.contract import Algorithm, ContractError, Metric, Task
from automl.errors import AutoMLWarning, PluginError, UsageError

if TYPE_CHECKING:
    import click

ENTRY_POINT_GROUP = "automl"
# In the order their defaults are tried: the strongest, cheapest first.
DEFAULT_PLUGINS = (
    "automl.builtin.lightgbm",
    "automl.builtin.trees",
    "automl.builtin.linear",
    "automl.builtin.neighbors",
    "automl.builtin.metrics",
)
LOAD_ENV = "AUTOML_LOAD_PLUGINS"
STRICT_ENV = "AUTOML_STRICT_PLUGINS"


@dataclass
class PluginInfo:
    """One plugin as `automl plugins` shows it."""

    name: str
    version: str | None
    builtin: bool
    algorithms: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    error: str | None = None
    # Names the plugin tried to register, kept even when it broke, so that asking for
    # one of them explains what went wrong.
    claimed: set[str] = field(default_factory=set)

    @property
    def status(self) -> str:
        return "broken" if self.error else "ok"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "builtin": self.builtin,
            "algorithms": self.algorithms,
            "metrics": self.metrics,
            "commands": self.commands,
            "status": self.status,
            "error": self.error,
        }


class Registry:
    """The algorithms and metrics of every plugin that loaded."""

    def __init__(self, pm: pluggy.PluginManager, plugins: list[PluginInfo]) -> None:
        self.pm = pm
        self.plugins = plugins
        self.algorithms: dict[str, Algorithm] = {}
        self.metrics: dict[str, Metric] = {}

    def algorithm(self, name: str) -> Algorithm:
        return self._lookup(name, self.algorithms, "algorithm")

    def metric(self, name: str) -> Metric:
        return self._lookup(name, self.metrics, "metric")

    def algorithms_for(self, task: Task) -> list[Algorithm]:
        return [a for a in self.algorithms.values() if task in a.tasks]

    def metrics_for(self, task: Task) -> list[Metric]:
        return [m for m in self.metrics.values() if task in m.tasks]

    def trusted_types(self) -> set[str]:
        return {t for a in self.algorithms.values() for t in a.trusted_types}

    def _lookup(self, name: str, table: dict[str, Any], what: str) -> Any:
        if name in table:
            return table[name]
        for plugin in self.plugins:
            if plugin.error and (name in plugin.claimed or name == plugin.name):
                raise PluginError(
                    f"The {what} {name!r} comes from the plugin {plugin.name!r}, which is broken:"
                    f" {plugin.error}",
                    hint="Fix or reinstall the plugin; `automl plugins` lists what loaded.",
                )
        close = difflib.get_close_matches(name, table, n=3)
        broken = [p.name for p in self.plugins if p.error]
        hint = (
            f"Did you mean {', '.join(close)}?" if close else f"Known: {', '.join(sorted(table))}."
        )
        if broken:
            hint += f" Broken plugins that may provide it: {', '.join(broken)}."
        raise UsageError(f"There is no {what} called {name!r}.", hint=hint)

    def add_commands(self, cli: click.Group) -> None:
        """Let each loaded plugin add subcommands to `cli`; a failing plugin is skipped."""
        for plugin in self.plugins:
            if plugin.error:
                continue
            before = set(cli.commands)
            try:
                _hook_of(self.pm, plugin.name, "automl_register_commands")(cli=cli)
            except Exception as exc:
                for name in set(cli.commands) - before:
                    del cli.commands[name]
                _broken(plugin, f"automl_register_commands raised {_describe(exc)}")
            else:
                plugin.commands = sorted(set(cli.commands) - before)


def load_registry(
    only: Iterable[str] | None = None,
    strict: bool = False,
    builtins: Iterable[str] = DEFAULT_PLUGINS,
) -> Registry:
    """Load the built-in plugins and the installed ones, each on its own.

    only: names of the installed plugins to load (None: all of them).
    strict: raise `PluginError` on the first broken plugin instead of warning.
    """
    pm = pluggy.PluginManager("automl")
    pm.add_hookspecs(hookspecs)
    plugins: list[PluginInfo] = []
    candidates: list[tuple[PluginInfo, Callable[[], object]]] = [
        (PluginInfo(name=module, version=None, builtin=True), _importer(module))
        for module in builtins
    ]
    wanted = set(only) if only is not None else None
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        if wanted is not None and ep.name not in wanted:
            continue
        version = ep.dist.version if ep.dist is not None else None
        candidates.append((PluginInfo(name=ep.name, version=version, builtin=False), ep.load))

    registry = Registry(pm, plugins)
    for info, load in candidates:
        plugins.append(info)
        try:
            pm.register(load(), name=info.name)
            pm.check_pending()
        except Exception as exc:
            if pm.has_plugin(info.name):
                pm.unregister(name=info.name)
            _broken(info, f"failed to load: {_describe(exc)}", strict)
            continue
        _collect(registry, info, strict)
    return registry


@functools.cache
def get_registry() -> Registry:
    """The process-wide registry, loaded once, honouring AUTOML_LOAD_PLUGINS and strictness."""
    selection = os.environ.get(LOAD_ENV)
    only = None if selection is None else [n.strip() for n in selection.split(",") if n.strip()]
    strict = os.environ.get(STRICT_ENV, "").lower() in ("1", "true", "yes")
    return load_registry(only=only, strict=strict)


def _collect(registry: Registry, info: PluginInfo, strict: bool) -> None:
    """Run one plugin's register hooks; keep what it registers only if all of it is valid."""
    algorithms: list[Algorithm] = []
    metrics: list[Metric] = []
    try:
        _hook_of(registry.pm, info.name, "automl_register_algorithms")(
            register=_checked(algorithms, Algorithm, info)
        )
        _hook_of(registry.pm, info.name, "automl_register_metrics")(
            register=_checked(metrics, Metric, info)
        )
        _reject_duplicates(algorithms, registry.algorithms, "algorithm", registry)
        _reject_duplicates(metrics, registry.metrics, "metric", registry)
    except Exception as exc:
        registry.pm.unregister(name=info.name)
        _broken(info, _describe(exc), strict)
        return
    registry.algorithms.update((a.name, a) for a in algorithms)
    registry.metrics.update((m.name, m) for m in metrics)
    info.algorithms = [a.name for a in algorithms]
    info.metrics = [m.name for m in metrics]


def _checked(sink: list[Any], kind: type, info: PluginInfo) -> Callable[[Any], None]:
    what = kind.__name__.lower()

    def register(item: Any) -> None:
        name = getattr(item, "name", None)
        if isinstance(name, str):
            info.claimed.add(name)
        if not isinstance(item, kind):
            raise ContractError(
                f"registered {type(item).__name__} {name!r}, not an {kind.__name__}"
            )
        if any(existing.name == item.name for existing in sink):
            raise ContractError(f"registered the {what} {item.name!r} twice")
        sink.append(item)

    return register


def _reject_duplicates(
    items: list[Any], table: dict[str, Any], what: str, registry: Registry
) -> None:
    for item in items:
        if item.name in table:
            owner = next(p.name for p in registry.plugins if item.name in p.algorithms + p.metrics)
            raise ContractError(f"the {what} name {item.name!r} is taken by the plugin {owner!r}")


def _hook_of(pm: pluggy.PluginManager, plugin_name: str, hook: str) -> Any:
    others = [p for name, p in pm.list_name_plugin() if name != plugin_name]
    return pm.subset_hook_caller(hook, remove_plugins=others)


def _importer(module: str) -> Callable[[], object]:
    return lambda: importlib.import_module(module)


def _broken(info: PluginInfo, error: str, strict: bool = False) -> None:
    info.error = error
    message = f"automl: plugin {info.name!r} is broken and was skipped: {error}"
    if strict:
        raise PluginError(message)
    warnings.warn(message, AutoMLWarning, stacklevel=2)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
