"""What `automl evaluate` prints: the scores beside the cross-validated estimate, whether
they agree, and the diagnostics, from the document `automl.evaluate.summary` makes."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from automl.evaluate import estimate_words

MAX_CLASSES = 12


def print_evaluation(result: dict[str, Any], model: str) -> None:
    console = Console(soft_wrap=True)
    metric = result["metric"]
    console.print(
        f"The model in {model} ({result['task']}, target {result['target']!r}) on"
        f" {result['rows']} rows of {result['source']}:",
        highlight=False,
    )
    interval = f"{result['confidence']:.0%} interval"
    table = Table("metric", "score", interval, "cross-validated")
    cv = result["cv"]
    for name, score in result["scores"].items():
        value = "" if score["score"] is None else f"{score['score']:.4g}"
        low, high = score.get("low"), score.get("high")
        bounds = f"{low:.4g} to {high:.4g}" if low is not None else score.get("note", "")
        estimated = estimate_words(cv) if name == metric else ""
        table.add_row(f"[bold]{name}[/]" if name == metric else name, value, bounds, estimated)
    console.print(table)
    console.print(f"Intervals from {result['resamples']} bootstrap resamples.", highlight=False)
    if cv.get("how"):
        how = f"Cross-validated: the decision rule exported ({cv['how']})."
        console.print(how, highlight=False)
    if result["agreement"]:
        style = "" if result["agreement"]["within"] else "[yellow]"
        console.print(style + result["agreement"]["text"], highlight=False)
    if result["threshold"] is not None:
        console.print(f"Labels at the model's decision threshold, {result['threshold']:.4g}.")
    if "residuals" in result:
        _residuals(console, result["residuals"])
    else:
        _classes(console, result)
    _worst(console, result["worst_rows"])


def _classes(console: Console, result: dict[str, Any]) -> None:
    matrix = result["confusion_matrix"]
    labels = matrix["labels"][:MAX_CLASSES]
    table = Table("actual \\ predicted", *labels, title="Confusion matrix")
    for label, counts in zip(labels, matrix["counts"], strict=False):
        table.add_row(label, *(f"{c:,}" for c in counts[:MAX_CLASSES]))
    console.print(table)
    per_class = Table("class", "precision", "recall", "f1", "rows", title="Per class")
    for row in result["per_class"][:MAX_CLASSES]:
        per_class.add_row(
            row["class"],
            f"{row['precision']:.3f}",
            f"{row['recall']:.3f}",
            f"{row['f1']:.3f}",
            str(row["rows"]),
        )
    console.print(per_class)
    reliability = Table(
        "probability",
        "rows",
        "mean predicted",
        "observed",
        title=f"Calibration (expected calibration error {result['calibration_error']:.3g})",
    )
    for row in result["calibration"]:
        reliability.add_row(
            row["bin"], str(row["rows"]), f"{row['predicted']:.3f}", f"{row['observed']:.3f}"
        )
    console.print(reliability)


def _residuals(console: Console, residuals: dict[str, float]) -> None:
    table = Table(*residuals, title="Residuals (actual - predicted)")
    table.add_row(*(f"{v:.4g}" for v in residuals.values()))
    console.print(table)


def _worst(console: Console, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    table = Table(*rows[0], title="The rows with the largest errors")
    for row in rows:
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))
    console.print(table)
