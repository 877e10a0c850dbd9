"""Trials ranked by their cross-validated score, best first."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.widgets import DataTable


class Leaderboard(DataTable):
    """Best first. Rows are mappings with `trial`, `algorithm`, the metric's value and, if known,
    `std` (across folds) and `seconds` (per fold or per trial)."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True

    def show(
        self, rows: Sequence[Mapping[str, Any]], metric: str, direction: str, limit: int = 50
    ) -> None:
        sign = -1.0 if direction == "maximize" else 1.0
        ranked = sorted(rows, key=lambda r: (sign * r[metric], r["trial"]))[:limit]
        has_std = any("std" in r for r in ranked)
        has_seconds = any(r.get("seconds") is not None for r in ranked)
        self.clear(columns=True)
        self.add_column("trial", key="trial")
        self.add_column("algorithm", key="algorithm")
        self.add_column(metric, key="score")
        if has_std:
            self.add_column("±", key="std")
        if has_seconds:
            self.add_column("s", key="seconds")
        for row in ranked:
            cells: list[Any] = [
                Text(str(row["trial"]), justify="right"),
                Text(str(row["algorithm"])),
                number(row[metric]),
            ]
            if has_std:
                cells.append(number(row.get("std"), digits=2))
            if has_seconds:
                cells.append(Text(_seconds(row.get("seconds")), justify="right"))
            self.add_row(*cells, key=str(row["trial"]))


def number(value: float | None, digits: int = 4) -> Text:
    """A score right-aligned to `digits` significant digits; a dash when unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Text("-", justify="right")
    if abs(value) >= 10**digits:  # 5,734 rather than 5.7e+03, which a narrow column cuts
        return Text(f"{value:,.0f}", justify="right")
    return Text(f"{value:.{digits}g}", justify="right")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
