"""What a bundle holds beside the model: the explanation files and the report.

`make_insights` explains the fitted model (explain.py), draws the pictures (plots.py) and
writes `report.md` and a self-contained `report.html` (pictures embedded) from one list
of blocks, so the two always say the same thing.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from automl import explain, plots
from automl.bundle import cv_words, sample_note
from automl.data import Schema

IMPORTANCE_CSV = "importance.csv"
BACKGROUND = "explain_background.parquet"
REPORT_MARKDOWN = "report.md"
REPORT_HTML = "report.html"
# Beeswarm plots are drawn for at most this many classes.
MAX_CLASS_PLOTS = 10
TABLE_ROWS = 15
DATA_COLUMNS = 100


@dataclass
class Insights:
    """The explanation of a fitted model and the bundle files made from it."""

    explanation: explain.Explanation
    importance: pd.DataFrame
    files: dict[str, bytes] = field(default_factory=dict)


def summarize(frame: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    """Column kinds, missing values and distinct values, and the target's balance."""
    columns = []
    for column in schema.columns:
        values = frame[column.name]
        columns.append(
            {
                "name": column.name,
                "kind": column.kind,
                "missing": int(values.isna().sum()),
                "unique": int(values.nunique()),
            }
        )
    target = frame[schema.target]
    if schema.classes is not None:
        counts = target.astype(str).value_counts()
        balance: dict[str, Any] = {
            "counts": {str(c): int(counts.get(str(c), 0)) for c in schema.classes}
        }
    else:
        numbers = target.astype(float)
        balance = {
            name: float(getattr(numbers, name)())
            for name in ("mean", "std", "min", "median", "max")
        }
    return {"columns": columns, "target": balance}


def make_insights(
    pipeline: Any,
    schema: Schema,
    frame: pd.DataFrame,
    X: pd.DataFrame,
    card: dict[str, Any],
    oof: tuple[np.ndarray, np.ndarray] | None,
    *,
    deadline: float | None = None,
    seed: int = 0,
) -> Insights:
    """Explain `pipeline` on a sample of the training rows until `deadline`, draw the
    plots (with `oof` = (encoded target, out-of-fold predictions) the diagnostics too)
    and write the report. `card` gains an "explanation" section."""
    background = explain.background_sample(X, seed)
    explanation = explain.explain(
        pipeline, schema, frame, background, deadline=deadline, seed=seed, prepared=X
    )
    importance = explain.importance(explanation)
    card["explanation"] = {
        "method": explanation.method,
        "space": explanation.space,
        "outputs": explanation.outputs,
        "rows": len(explanation.rows),
        "of_rows": explanation.n_total,
        "top": importance["column"].head(5).tolist(),
    }
    images = {
        "importance.png": plots.importance_bar(importance, explanation.outputs, explanation.space)
    }
    for k in range(min(len(explanation.outputs), MAX_CLASS_PLOTS)):
        name = "beeswarm.png" if len(explanation.outputs) == 1 else f"beeswarm-{k}.png"
        images[name] = plots.beeswarm(explanation, k)
    if oof is not None:
        images.update(_diagnostics(schema, *oof))
    files = {name: content for name, content in images.items()}
    files[IMPORTANCE_CSV] = importance.to_csv(index=False).encode()
    files[BACKGROUND] = _parquet(background)
    blocks = _blocks(card, importance, explanation, images)
    files[REPORT_MARKDOWN] = _markdown(blocks).encode()
    files[REPORT_HTML] = _html(blocks, images, card).encode()
    return Insights(explanation, importance, files)


def read_background(content: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(content))


def _parquet(frame: pd.DataFrame) -> bytes:
    """Model input as Parquet: categories (Python strings, NaN for missing) as strings,
    the rest as floats; built column by column with pyarrow, which stays fast on wide
    tables where pandas' conversion does not."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {}
    for name in frame.columns:
        values = frame[name]
        if values.dtype == object:
            strings = [None if pd.isna(v) else str(v) for v in values]
            columns[str(name)] = pa.array(strings, type=pa.string())
        else:
            columns[str(name)] = pa.array(values.to_numpy(dtype=float))
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


def _diagnostics(schema: Schema, y: np.ndarray, predictions: np.ndarray) -> dict[str, bytes]:
    if schema.classes is None:
        predicted = predictions.reshape(len(y))
        return {
            "predicted_vs_actual.png": plots.predicted_vs_actual(
                y, predicted, "actual_vs_predicted"
            ),
            "residuals.png": plots.predicted_vs_actual(y, predicted, "residual_vs_predicted"),
        }
    return {
        "confusion_matrix.png": plots.confusion_matrix(
            y, predictions.argmax(axis=1), schema.classes
        ),
        "roc.png": plots.roc(y, predictions, schema.classes),
    }


# The report as blocks, rendered twice ----------------------------------------------


@dataclass
class _Table:
    header: list[str]
    rows: list[list[Any]]


@dataclass
class _Image:
    name: str
    caption: str


Block = tuple[str, Any]  # ("h1" | "h2" | "p" | "code", text), ("table", _Table), ("img", _Image)


def _blocks(
    card: dict[str, Any],
    importance: pd.DataFrame,
    explanation: explain.Explanation,
    images: dict[str, bytes],
) -> list[Block]:
    metric = card["metric"]["name"]
    cv = card["cv"]
    best = card["best"]
    single = best.get("best_single", best)
    direction = (
        "higher is better" if card["metric"]["direction"] == "maximize" else "lower is better"
    )
    model = (
        f"an ensemble of {len(best['ensemble'])} trials"
        if best.get("ensemble")
        else f"{best['algorithm']} (trial {best['trial']})"
    )
    blocks: list[Block] = [
        ("h1", f"automl report: {card['target']} ({card['task']})"),
        (
            "p",
            f"Made {card['created_at']} by automl {card['versions']['automl']} from"
            f" {card['data']['source']} in {card['timing']['wall_seconds']:.1f} s"
            f" (budget {card['time_budget']} s), seed {card['seed']}.",
        ),
        ("h2", "Result"),
        (
            "p",
            f"The model is {model}. Cross-validated {metric} ({direction}):"
            f" {cv['score']:.6g} ± {cv['std']:.3g} over {cv_words(cv)}; refitted on"
            f" {card['refit']['rows']} of {card['data']['rows']} rows" + sample_note(card) + ".",
        ),
        (
            "table",
            _Table(
                ["fold", metric],
                [[i + 1, f"{s:.6g}"] for i, s in enumerate(cv["fold_scores"])],
            ),
        ),
        ("h2", "How to predict with it"),
        ("p", "From the command line (CSV out; add --proba for class probabilities):"),
        ("code", "automl predict MODEL_DIR new_rows.csv --output predictions.csv"),
        ("p", "From Python, where MODEL_DIR is the folder of this report:"),
        (
            "code",
            'import automl\nmodel = automl.load("MODEL_DIR")\npredictions ='
            " model.predict(table)\nwhy = model.explain(table.head(5))",
        ),
    ]
    blocks += _data_blocks(card)
    blocks += [
        ("h2", "Leaderboard"),
        (
            "table",
            _Table(
                ["rank", "trial", "algorithm", metric, "std"],
                [
                    [r["rank"], r["trial"], r["algorithm"], f"{r[metric]:.6g}", f"{r['std']:.3g}"]
                    for r in card["leaderboard"][:TABLE_ROWS]
                ],
            ),
        ),
        ("h2", f"Parameters of {single['algorithm']} (trial {single['trial']})"),
        ("table", _Table(["parameter", "value"], [[k, v] for k, v in single["params"].items()])),
    ]
    diagnostics = [
        n
        for n in ("confusion_matrix.png", "roc.png", "predicted_vs_actual.png", "residuals.png")
        if n in images
    ]
    blocks.append(("h2", "Diagnostics"))
    if diagnostics:
        blocks.append(("p", "From the out-of-fold predictions of cross-validation."))
        blocks += [
            ("img", _Image(n, n.removesuffix(".png").replace("_", " "))) for n in diagnostics
        ]
    else:
        blocks.append(("p", "No out-of-fold predictions were kept for the exported model."))
    blocks += _explanation_blocks(importance, explanation, images)
    blocks += [
        ("h2", "Versions"),
        ("table", _Table(["library", "version"], [[k, v] for k, v in card["versions"].items()])),
    ]
    return blocks


def _data_blocks(card: dict[str, Any]) -> list[Block]:
    data = card["data"]
    summary = data.get("summary", {})
    rows = data["rows"]
    columns = summary.get("columns", [])
    shown = (
        f" The first {DATA_COLUMNS} of the {len(columns)} input columns:"
        if len(columns) > DATA_COLUMNS
        else ""
    )
    blocks: list[Block] = [
        ("h2", "Data"),
        ("p", f"{rows} rows x {data['columns']} columns from {data['source']}.{shown}"),
        (
            "table",
            _Table(
                ["column", "kind", "missing", "distinct values"],
                [
                    [
                        c["name"],
                        c["kind"],
                        f"{c['missing']} ({c['missing'] / max(rows, 1):.1%})",
                        c["unique"],
                    ]
                    for c in columns[:DATA_COLUMNS]
                ]
                + [
                    [name, "dropped", "", reason]
                    for name, reason in card["schema"]["dropped"].items()
                ],
            ),
        ),
    ]
    target = summary.get("target", {})
    if "counts" in target:
        blocks.append(("p", f"Target {card['target']!r}, rows per class:"))
        blocks.append(
            (
                "table",
                _Table(
                    ["class", "rows", "share"],
                    [[c, n, f"{n / max(rows, 1):.1%}"] for c, n in target["counts"].items()],
                ),
            )
        )
    elif target:
        blocks.append(
            (
                "p",
                f"Target {card['target']!r}: "
                + ", ".join(f"{k} {v:.6g}" for k, v in target.items())
                + ".",
            )
        )
    return blocks


def _explanation_blocks(
    importance: pd.DataFrame, explanation: explain.Explanation, images: dict[str, bytes]
) -> list[Block]:
    sampled = (
        f" a random sample of {len(explanation.rows)} of the {explanation.n_total} training rows"
        if explanation.sampled
        else f" all {explanation.n_total} training rows"
    )
    blocks: list[Block] = [
        ("h2", "Which columns matter"),
        (
            "p",
            f"SHAP values ({explanation.method} explainer) in the columns of the table, on"
            f"{sampled}; contributions are in {explanation.space} units"
            f" of {', '.join(explanation.outputs[:MAX_CLASS_PLOTS])}. Importance is the mean"
            " absolute contribution.",
        ),
        (
            "table",
            _Table(
                ["column", "importance", "direction"],
                [
                    [r.column, f"{r.importance:.4g}", r.direction]
                    for r in importance.head(TABLE_ROWS).itertuples()
                ],
            ),
        ),
        ("img", _Image("importance.png", "mean |SHAP| per column")),
    ]
    for k, label in enumerate(explanation.outputs[:MAX_CLASS_PLOTS]):
        name = "beeswarm.png" if len(explanation.outputs) == 1 else f"beeswarm-{k}.png"
        if name in images:
            blocks.append(("img", _Image(name, f"contributions to {label}, one dot per row")))
    return blocks


def _markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for kind, content in blocks:
        if kind == "h1":
            out.append(f"# {content}")
        elif kind == "h2":
            out.append(f"## {content}")
        elif kind == "p":
            out.append(content)
        elif kind == "code":
            out.append(f"```\n{content}\n```")
        elif kind == "img":
            out.append(f"![{content.caption}]({content.name})")
        elif kind == "table":
            cells = lambda row: "| " + " | ".join(_md_cell(v) for v in row) + " |"  # noqa: E731
            lines = [cells(content.header), "|" + "---|" * len(content.header)]
            out.append("\n".join(lines + [cells(r) for r in content.rows]))
    return "\n\n".join(out) + "\n"


def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _html(blocks: Sequence[Block], images: dict[str, bytes], card: dict[str, Any]) -> str:
    parts: list[str] = []
    for kind, content in blocks:
        if kind in ("h1", "h2", "p"):
            parts.append(f"<{kind}>{html.escape(content)}</{kind}>")
        elif kind == "code":
            parts.append(f"<pre><code>{html.escape(content)}</code></pre>")
        elif kind == "img":
            data = base64.b64encode(images[content.name]).decode()
            caption = html.escape(content.caption)
            parts.append(
                f'<figure><img src="data:image/png;base64,{data}" alt="{caption}"'
                f' data-file="{html.escape(content.name)}"><figcaption>{caption}</figcaption>'
                "</figure>"
            )
        elif kind == "table":
            head = "".join(f"<th>{html.escape(str(h))}</th>" for h in content.header)
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                for row in content.rows
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    title = html.escape(f"automl report: {card['target']}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#222;line-height:1.45}table{border-collapse:collapse;margin:.5rem 0 1rem}"
    "th,td{border:1px solid #ccc;padding:.2rem .6rem;text-align:left}th{background:#f3f3f3}"
    "pre{background:#f6f6f6;padding:.6rem;overflow:auto}img{max-width:100%}"
    "figure{margin:1rem 0}figcaption{color:#666;font-size:.9rem}"
)
