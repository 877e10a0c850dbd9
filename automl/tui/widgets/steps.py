"""The top line: the workflow's steps, with the current one highlighted."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

STEPS = ("data", "configure", "search", "results", "explain", "export")


class Steps(Static):
    """The product name, then the steps with `current` marked."""

    def __init__(self, current: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.current = current

    def on_mount(self) -> None:
        self.update(self.render_steps())

    def render_steps(self) -> Content:
        reached = STEPS.index(self.current) if self.current in STEPS else -1
        parts: list[str | tuple[str, str]] = [("automl", "bold $accent"), "  "]
        for index, step in enumerate(STEPS):
            if index:
                parts.append((" → ", "$text-muted"))
            label = f"{index + 1} {step.capitalize()}"
            if index == reached:
                parts.append((label, "bold reverse $accent"))
            elif index < reached:
                parts.append(label)
            else:
                parts.append((label, "$text-muted"))
        if reached < 0:
            parts += ["   ", (self.current.capitalize(), "bold reverse $accent")]
        return Content.assemble(*parts)
