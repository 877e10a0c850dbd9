"""`automl describe DATA [--target COL]`: show what automl infers from a table.

For each column: the kind automl treats it as (numeric, boolean, categorical, datetime),
or that it would be dropped and why; with a target, the task automl would infer and the
class labels. It reads the table with automl's own inference (`automl.data`), so what it
shows is what `automl run` will do.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from automl.hookspecs import hookimpl

if TYPE_CHECKING:
    import pandas as pd

SHOWN_CATEGORIES = 5


def describe_table(frame: pd.DataFrame, target: str | None, source: str) -> dict[str, Any]:
    """What automl infers from `frame`: one entry per column, and the task for `target`."""
    import numpy as np

    from automl import data

    if target is None:
        # automl infers column kinds relative to a target; a stand-in with two values lets
        # it infer every real column without treating any of them as the target.
        target_name = "__describe_target__"
        while target_name in frame.columns:
            target_name += "_"
        frame = frame.assign(**{target_name: np.arange(len(frame)) % 2})
    else:
        data.require_column(frame, target, source)
        target_name = target
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what these warn about is part of what we show
        usable = data.drop_missing_target(frame, target_name)
        schema = data.infer_schema(usable, target_name, source=source)
    kinds = {c.name: c for c in schema.columns}
    columns = []
    for name in frame.columns:
        if name == target_name:
            continue
        series = frame[name]
        column = kinds.get(name)
        if column is None:
            kind, note = "dropped", schema.dropped[name]
        elif column.kind == "categorical":
            kind, note = "categorical", ", ".join(column.categories[:SHOWN_CATEGORIES])
        elif column.kind == "datetime":
            kind, note = "datetime", "parts: " + ", ".join(column.parts)
        else:
            kind, note = column.kind, ""
        columns.append(
            {
                "name": name,
                "kind": kind,
                "dtype": str(series.dtype),
                "missing": int(series.isna().sum()),
                "distinct": int(series.nunique()),
                "note": note,
            }
        )
    described: dict[str, Any] = {
        "source": source,
        "rows": len(frame),
        "columns": columns,
        "target": None,
    }
    if target is not None:
        described["target"] = {
            "name": target,
            "task": str(schema.task),
            "classes": schema.classes,
            "missing": int(frame[target].isna().sum()),
        }
    return described


@click.command()
@click.argument("data", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--target", help="The column you mean to predict: shows the task automl infers.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def describe(data: Path, target: str | None, as_json: bool) -> None:
    """Show the kind automl infers for each column of DATA and what it would drop."""
    from automl.data import read_table

    described = describe_table(read_table(data), target, str(data))
    if as_json:
        click.echo(json.dumps(described, indent=2))
    else:
        click.echo(render(described))


def render(described: dict[str, Any]) -> str:
    """`describe_table`'s result as a plain-text table."""
    keys = ("name", "kind", "dtype", "missing", "distinct", "note")
    header = ("column", *keys[1:])
    rows = [header] + [tuple(str(c[k]) for k in keys) for c in described["columns"]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [f"{described['source']}: {described['rows']} rows, {len(rows) - 1} input columns"]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    target = described["target"]
    if target is not None:
        line = f"target {target['name']!r}: {target['task']}"
        if target["classes"] is not None:
            line += f", classes {', '.join(map(str, target['classes']))}"
        if target["missing"]:
            line += f"; {target['missing']} row(s) without a target would be dropped"
        lines.append(line)
    return "\n".join(lines)


@hookimpl
def automl_register_commands(cli: click.Group) -> None:
    cli.add_command(describe)
