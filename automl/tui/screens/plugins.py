"""The plugins: built-in and installed, what each adds, and the broken ones with why."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from automl.plugins import PluginInfo, Registry
from automl.tui.widgets.steps import Steps

ADDS_SHOWN = 48  # characters; the panel below lists everything


class PluginsScreen(Screen):
    """A table of plugins; the highlighted one is described in full below it."""

    def __init__(self, registry: Registry) -> None:
        super().__init__()
        self.registry = registry

    def compose(self) -> ComposeResult:
        broken = sum(p.error is not None for p in self.registry.plugins)
        yield Steps("plugins")
        yield Static(
            Content(
                f"{len(self.registry.plugins)} plugins, {broken} broken."
                " Install more with pip; AUTOML_LOAD_PLUGINS chooses which load."
            ),
            id="plugins-summary",
        )
        yield DataTable(id="plugins", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="plugin-detail-box"):
            yield Static("", id="plugin-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#plugins", DataTable)
        table.add_columns("plugin", "status", "from", "adds")
        for plugin in self.registry.plugins:
            adds = ", ".join(plugin.algorithms + plugin.metrics + plugin.commands)
            if len(adds) > ADDS_SHOWN:
                adds = adds[: ADDS_SHOWN - 1] + "…"
            status = Text("broken", style="bold red") if plugin.error else Text("ok", "green")
            table.add_row(
                Text(plugin.name), status, Text(_origin(plugin)), Text(adds or "-"), key=plugin.name
            )
        table.focus()
        if self.registry.plugins:
            self._describe(self.registry.plugins[0])

    @on(DataTable.RowHighlighted, "#plugins")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        by_name = {p.name: p for p in self.registry.plugins}
        if event.row_key.value in by_name:
            self._describe(by_name[event.row_key.value])

    def _describe(self, plugin: PluginInfo) -> None:
        parts: list[str | tuple[str, str]] = [(plugin.name, "bold"), f"  {_origin(plugin)}"]
        for label, names in (
            ("algorithms", plugin.algorithms),
            ("metrics", plugin.metrics),
            ("commands", plugin.commands),
        ):
            if names:
                parts.append(f"\n{label}: {', '.join(names)}")
        if plugin.error:
            parts += [("\nbroken: ", "bold $error"), plugin.error]
        self.query_one("#plugin-detail", Static).update(Content.assemble(*parts))


def _origin(plugin: PluginInfo) -> str:
    if plugin.builtin:
        return "built-in"
    return f"{plugin.distribution or '?'} {plugin.version or ''}".strip()
