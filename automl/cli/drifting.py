"""What `automl drift` prints: the columns the model uses, most drifted first, the drift of
its predictions, the columns apart, its score when the rows hold the target, and the
verdict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from automl import drift
from automl.evaluate import estimate, estimate_words, section


def print_drift(found: drift.Drift, card: Mapping[str, Any], model: str) -> None:
    console = Console(soft_wrap=True)
    console.print(
        f"{found.rows:,} rows of {found.source} beside the {found.reference_rows:,} rows the"
        f" model in {model} was trained on (PSI: moderate drift from {found.moderate:g},"
        f" major from {found.major:g}):",
        highlight=False,
    )
    console.print(_table(found.columns))
    if found.prediction is not None:
        style = "" if found.prediction.level == "none" else drift.STYLES[found.prediction.level]
        console.print(drift.prediction_words(found), style=style, highlight=False)
    if found.unused:
        console.print(_table(found.unused, "Columns the model does not use (not counted)"))
    for line in drift.apart_words(found):
        console.print(line, highlight=False)
    if found.evaluation is not None:
        _score(console, card, section(found.evaluation, card))
    console.print(drift.verdict(found), style=drift.STYLES[found.level], highlight=False)


def _table(columns: list[drift.ColumnDrift], title: str | None = None) -> Table:
    table = Table(*drift.COLUMN_HEADER, title=title)
    for column in columns:
        name, level, *numbers = drift.column_cells(column)
        table.add_row(name, f"[{drift.STYLES[column.level]}]{level}[/]", *numbers)
    for index in range(2, len(drift.COLUMN_HEADER)):
        table.columns[index].justify = "right"
    return table


def _score(console: Console, card: Mapping[str, Any], scored: dict[str, Any]) -> None:
    if scored["score"] is None:
        value = f"cannot be computed ({scored.get('note')})"
    else:
        value = f"{scored['score']:.4g}"
        if scored["low"] is not None:
            value += f" ({scored['low']:.4g} to {scored['high']:.4g})"
    console.print(
        f"The rows hold the target {card['target']!r}: {scored['metric']} {value} on"
        f" {scored['rows']:,} rows; cross-validated {estimate_words(estimate(card))}.",
        highlight=False,
    )
    if scored["agreement"]:
        style = "" if scored["agreement"]["within"] else "yellow"
        console.print(scored["agreement"]["text"], style=style, highlight=False)
