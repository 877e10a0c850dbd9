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
from importlib.metadata import EntryPoint, entry_points
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
    "automl.builtin.neural",
    "automl.builtin.metrics",
)
LOAD_ENV = "AUTOML_LOAD_PLUGINS"
STRICT_ENV = "AUTOML_STRICT_PLUGINS"
_HOOK_PREFIX = "automl_"


@dataclass
class PluginInfo:
    """One plugin as `automl plugins` shows it."""

    name: str
    version: str | None
    builtin: bool
    distribution: str | None = None
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
            "distribution": self.distribution,
            "version": self.version,
            "builtin": self.builtin,
            "algorithms": self.algorithms,
            "metrics": self.metrics,
            "commands": self.commands,
            "status": self.status,
            "error": self.error,
        }

    def may_provide(self, name: str) -> bool:
        """Whether `name` is, or looks like, something this plugin registers."""
        if name in self.claimed or name == self.name:
            return True
        if self.distribution is None:
            return False
        dist = self.distribution.lower().replace("-", "_")
        return name in (dist, dist.removeprefix("automl_"))


class Registry:
    """The algorithms, metrics and commands of every plugin that loaded."""

    def __init__(
        self, pm: pluggy.PluginManager, plugins: list[PluginInfo], strict: bool = False
    ) -> None:
        self.pm = pm
        self.plugins = plugins
        self.strict = strict
        self.algorithms: dict[str, Algorithm] = {}
        self.metrics: dict[str, Metric] = {}
        # Subcommands plugins register, by name, until `add_commands` hands them to the CLI.
        self.commands: dict[str, click.Command] = {}

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
            if plugin.error and plugin.may_provide(name):
                raise PluginError(
                    f"The {what} {name!r} comes from the plugin {plugin.name!r}, which is broken:"
                    f" {plugin.error}",
                    hint="Fix or reinstall the plugin; `automl plugins` lists what loaded.",
                )
        close = difflib.get_close_matches(name, table, n=3)
        if close:
            raise UsageError(
                f"There is no {what} called {name!r}.", hint=f"Did you mean {', '.join(close)}?"
            )
        # A plugin that broke before registering anything may be the one meant to provide
        # it; its error is then the most useful thing to show.
        silent = [p for p in self.plugins if p.error and not p.claimed]
        if silent:
            raise PluginError(
                f"There is no {what} called {name!r}; a broken plugin may be meant to provide"
                " it: " + "; ".join(f"{p.name!r} ({p.error})" for p in silent),
                hint="Fix or reinstall the plugin; `automl plugins` lists what loaded.",
            )
        raise UsageError(
            f"There is no {what} called {name!r}.", hint=f"Known: {', '.join(sorted(table))}."
        )

    def add_commands(self, cli: click.Group) -> None:
        """Add the subcommands plugins registered to `cli`; automl's own commands win."""
        for plugin in self.plugins:
            taken = [c for c in plugin.commands if c in cli.commands]
            if plugin.error or not taken:
                continue
            self._drop(plugin)
            _broken(plugin, f"the command name {taken[0]!r} is taken by automl itself", self.strict)
        for name, command in self.commands.items():
            cli.add_command(command, name)

    def _drop(self, plugin: PluginInfo) -> None:
        """Withdraw everything a plugin registered, once it turned out to be broken."""
        for name in plugin.algorithms:
            del self.algorithms[name]
        for name in plugin.metrics:
            del self.metrics[name]
        for name in plugin.commands:
            del self.commands[name]
        plugin.algorithms, plugin.metrics, plugin.commands = [], [], []
        if self.pm.has_plugin(plugin.name):
            self.pm.unregister(name=plugin.name)


def load_registry(
    only: Iterable[str] | None = None,
    strict: bool = False,
    builtins: Iterable[str] = DEFAULT_PLUGINS,
) -> Registry:
    """Load the built-in plugins and the installed ones, each on its own.

    only: names of the installed plugins to load (None: all of them).
    strict: raise `PluginError` on the first broken plugin instead of warning.
    builtins: modules that are always loaded first, in this order.
    """
    pm = pluggy.PluginManager("automl")
    pm.add_hookspecs(hookspecs)
    plugins: list[PluginInfo] = []
    builtins = list(builtins)
    candidates: list[tuple[PluginInfo, Callable[[], object]]] = [
        (PluginInfo(name=module, version=None, builtin=True), _importer(module))
        for module in builtins
    ]
    installed = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    if only is not None:
        wanted = set(only)
        for name in sorted(wanted - {ep.name for ep in installed} - set(builtins)):
            _warn(
                f"{LOAD_ENV} names the plugin {name!r}, which is not installed"
                f" (installed: {', '.join(ep.name for ep in installed) or 'none'}).",
                strict,
            )
        installed = [ep for ep in installed if ep.name in wanted]
    candidates += [(_info(ep), ep.load) for ep in installed]

    registry = Registry(pm, plugins, strict)
    for info, load in candidates:
        plugins.append(info)
        if pm.has_plugin(info.name):
            _broken(info, "another installed plugin already uses this name", strict)
            continue
        try:
            plugin = load()
            pm.register(plugin, name=info.name)
        except (Exception, SystemExit) as exc:  # a module that exits on import is broken too
            _broken(info, f"failed to load: {_describe(exc)}", strict)
            continue
        try:
            _check_hooks(pm, plugin)
        except ContractError as exc:
            pm.unregister(name=info.name)
            _broken(info, _describe(exc), strict)
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


def _info(ep: EntryPoint) -> PluginInfo:
    dist = ep.dist
    return PluginInfo(
        name=ep.name,
        version=dist.version if dist is not None else None,
        builtin=False,
        distribution=dist.name if dist is not None else None,
    )


def _check_hooks(pm: pluggy.PluginManager, plugin: object) -> None:
    """Reject a plugin whose hooks automl would never call: misspelt or undecorated."""
    try:
        pm.check_pending()
    except pluggy.PluginValidationError:
        unknown = [c.name for c in pm.get_hookcallers(plugin) or () if not c.has_spec()]
        known = [name for name in dir(hookspecs) if name.startswith(_HOOK_PREFIX)]
        close = difflib.get_close_matches(unknown[0], known, n=1) if unknown else []
        raise ContractError(
            f"it implements an unknown hook {', '.join(unknown)}"
            + (f" (did you mean {close[0]}?)" if close else "")
        ) from None
    undecorated = [
        name
        for name in dir(plugin)
        if name.startswith(_HOOK_PREFIX)
        and callable(getattr(plugin, name))
        and pm.parse_hookimpl_opts(plugin, name) is None
    ]
    if undecorated:
        raise ContractError(
            f"{undecorated[0]} is not decorated with @hookimpl (from automl.hookspecs),"
            " so automl would never call it"
        )
    if not pm.get_hookcallers(plugin):
        raise ContractError("it implements no automl hook")


def _collect(registry: Registry, info: PluginInfo, strict: bool) -> None:
    """Run one plugin's register hooks; keep what it registers only if all of it is valid."""
    algorithms: list[Algorithm] = []
    metrics: list[Metric] = []
    try:
        _call(
            registry.pm,
            info.name,
            "automl_register_algorithms",
            register=_checked(algorithms, Algorithm, info),
        )
        _call(
            registry.pm,
            info.name,
            "automl_register_metrics",
            register=_checked(metrics, Metric, info),
        )
        commands = _commands_of(registry.pm, info.name)
        _reject_taken([a.name for a in algorithms], registry.algorithms, "algorithm", registry)
        _reject_taken([m.name for m in metrics], registry.metrics, "metric", registry)
        _reject_taken(list(commands), registry.commands, "command", registry)
    except Exception as exc:
        if isinstance(exc, ContractError) and exc.name:
            info.claimed.add(exc.name)
        registry.pm.unregister(name=info.name)
        _broken(info, _describe(exc), strict)
        return
    registry.algorithms.update((a.name, a) for a in algorithms)
    registry.metrics.update((m.name, m) for m in metrics)
    registry.commands.update(commands)
    info.algorithms = [a.name for a in algorithms]
    info.metrics = [m.name for m in metrics]
    info.commands = sorted(commands)


class _HookRaised(Exception):
    """A plugin's hook raised something other than a contract error."""


def _call(pm: pluggy.PluginManager, plugin_name: str, hook: str, **kwargs: Any) -> None:
    try:
        _hook_of(pm, plugin_name, hook)(**kwargs)
    except ContractError:
        raise
    except (Exception, SystemExit) as exc:
        raise _HookRaised(f"{hook} raised {_describe(exc)}") from exc


def _commands_of(pm: pluggy.PluginManager, plugin_name: str) -> dict[str, click.Command]:
    """The subcommands a plugin adds, collected on a group of their own so that a plugin
    which fails half-way adds none, and so that `automl plugins` can list them."""
    hook = _hook_of(pm, plugin_name, "automl_register_commands")
    if not hook.get_hookimpls():
        return {}
    import click

    group = click.Group()
    _call(pm, plugin_name, "automl_register_commands", cli=group)
    for name, command in group.commands.items():
        if not isinstance(command, click.Command):
            raise ContractError(
                f"its command {name!r} is a {type(command).__name__}, not a click command"
            )
    return dict(group.commands)


def _checked(sink: list[Any], kind: type, info: PluginInfo) -> Callable[[Any], None]:
    what = kind.__name__.lower()

    def register(item: Any) -> None:
        name = getattr(item, "name", None)
        if isinstance(name, str):
            info.claimed.add(name)
        if not isinstance(item, kind):
            called = f" {name!r}" if isinstance(name, str) else ""
            article = "an" if kind.__name__[0] in "AEIOU" else "a"
            raise ContractError(
                f"registered a {type(item).__name__}{called}, not {article} {kind.__name__}"
            )
        if any(existing.name == item.name for existing in sink):
            raise ContractError(f"registered the {what} {item.name!r} twice")
        sink.append(item)

    return register


def _reject_taken(names: list[str], taken: dict[str, Any], what: str, registry: Registry) -> None:
    for name in names:
        if name in taken:
            owner = next(p.name for p in registry.plugins if name in getattr(p, f"{what}s"))
            raise ContractError(f"the {what} name {name!r} is taken by the plugin {owner!r}")


def _hook_of(pm: pluggy.PluginManager, plugin_name: str, hook: str) -> Any:
    others = [p for name, p in pm.list_name_plugin() if name != plugin_name]
    return pm.subset_hook_caller(hook, remove_plugins=others)


def _importer(module: str) -> Callable[[], object]:
    return lambda: importlib.import_module(module)


def _broken(info: PluginInfo, error: str, strict: bool = False) -> None:
    info.error = error
    _warn(f"plugin {info.name!r} is broken{'' if strict else ' and was skipped'}: {error}", strict)


def _warn(message: str, strict: bool) -> None:
    if strict:
        raise PluginError(message, hint=f"Unset {STRICT_ENV} to skip broken plugins instead.")
    warnings.warn(message, AutoMLWarning, stacklevel=3)


def _describe(exc: BaseException) -> str:
    """The error in one line: the first line of its message, or all of a pluggy
    validation error, whose first line only names the plugin."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if isinstance(exc, pluggy.PluginValidationError):
        return "; ".join(lines)
    if isinstance(exc, ContractError | _HookRaised):
        return lines[0] if lines else "breaks the plugin contract"
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
