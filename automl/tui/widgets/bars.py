"""A horizontal bar chart in text: one labelled bar per value, signed or not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

EIGHTHS = " ▏▎▍▌▋▊▉"


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value, the text after it and an optional explanation."""

    label: str
    value: float
    note: str
    detail: str = ""


class Bars(Static):
    """Bars scaled to the largest absolute value: positive ones green, negative ones red."""

    def show(self, bars: Sequence[Bar], empty: str = "Nothing to show.") -> None:
        if not bars:
            self.update(Text(empty, style="dim"))
            return
        largest = max(abs(b.value) for b in bars) or 1.0
        details = any(b.detail for b in bars)
        table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
        table.add_column(no_wrap=True, overflow="ellipsis", max_width=28)
        table.add_column(ratio=2, min_width=6)
        table.add_column(justify="right", no_wrap=True)
        if details:
            table.add_column(ratio=3, style="dim")
        for bar in bars:
            cells = [
                Text(bar.label),
                _Fill(abs(bar.value) / largest, "green" if bar.value >= 0 else "red"),
                Text(bar.note),
            ]
            if details:
                cells.append(Text(bar.detail))
            table.add_row(*cells)
        self.update(table)


class _Fill:
    """A bar filling `share` of the cell's width, to an eighth of a character."""

    def __init__(self, share: float, style: str) -> None:
        self.share = share
        self.style = Style.parse(style)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        cells = self.share * width
        whole = int(cells)
        eighth = EIGHTHS[int((cells - whole) * 8)] if whole < width else ""
        text = ("█" * whole + eighth.strip()).ljust(width)
        yield Segment(text, self.style)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(4, options.max_width)
