"""What `automl explain` prints: the columns that matter, and why given rows were
predicted as they were, in the columns of the user's table."""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

IMPORTANCE_ROWS = 20


def print_importance(importance: pd.DataFrame, card: dict[str, Any]) -> None:
    console = Console(soft_wrap=True)
    about = card.get("explanation", {})
    table = Table("column", "importance", "direction", title="Which columns matter")
    for row in importance.head(IMPORTANCE_ROWS).itertuples():
        direction = row.direction if isinstance(row.direction, str) else ""
        table.add_row(str(row.column), f"{row.importance:.4g}", direction)
    console.print(table)
    if len(importance) > IMPORTANCE_ROWS:
        console.print(f"... and {len(importance) - IMPORTANCE_ROWS} more columns.")
    console.print(
        f"Importance: mean |SHAP value| in {about.get('space', '?')} units of"
        f" {_outputs(about)}, over {_rows(about)} ({about.get('method', '?')} explainer).",
        highlight=False,
    )
    console.print(
        "Plots and the full report: importance.png, beeswarm*.png and report.html in the"
        " model's folder.",
        highlight=False,
    )


def print_rows(why: pd.DataFrame, card: dict[str, Any], source: str) -> None:
    console = Console(soft_wrap=True)
    space = why.attrs.get("space", "?")
    for row, lines in why.groupby("row", sort=False):
        first = lines.iloc[0]
        output = first["base_value"] + lines["contribution"].sum()
        table = Table("column", "value", "contribution", show_header=True, box=None)
        for line in lines.itertuples():
            value = "" if pd.isna(line.value) else str(line.value)
            table.add_row(str(line.column), value, f"{line.contribution:+.4g}")
        console.print(
            f"Row {row} of {source}: predicted [bold]{first['prediction']}[/];"
            f" {space} of {first['explained']} goes from {first['base_value']:.4g} (base)"
            f" to {output:.4g}:",
            highlight=False,
        )
        console.print(table)
        if first.get("guarded", False):
            console.print(
                "[yellow]This row misses more columns than the training rows could speak"
                " for: it was predicted from the class shares, not from these"
                " contributions.[/]",
                highlight=False,
            )


def _outputs(about: dict[str, Any]) -> str:
    outputs = about.get("outputs", [])
    return ", ".join(map(str, outputs[:5])) + (" ..." if len(outputs) > 5 else "")


def _rows(about: dict[str, Any]) -> str:
    rows, total = about.get("rows"), about.get("of_rows")
    if rows is None:
        return "the training rows"
    if rows < total:
        return f"a random sample of {rows} of {total} training rows"
    return f"all {total} training rows"
