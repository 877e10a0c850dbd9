"""What a bundle holds beside the model: the explanation files and the report.

`explain_model` explains the fitted model (explain.py); `make_insights` draws the
pictures (plots.py) and writes `report.md` and a self-contained `report.html` (pictures
embedded) from one list of blocks, so the two always say the same thing.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from automl import decision, evaluate, explain, guard, plots
from automl.bundle import cv_words, model_words, rounds_note, sample_note
from automl.data import Schema
from automl.render import Block, Image, Table, html_page, markdown

IMPORTANCE_CSV = "importance.csv"
BACKGROUND = "explain_background.parquet"
REPORT_MARKDOWN = "report.md"
REPORT_HTML = "report.html"
# The plots of the held-out test rows are named as those of the out-of-fold ones, after this.
TEST_PREFIX = "test_"
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


def explain_model(
    pipeline: Any,
    schema: Schema,
    frame: pd.DataFrame,
    X: pd.DataFrame,
    *,
    deadline: float | None = None,
    seed: int = 0,
) -> tuple[explain.Explanation, pd.DataFrame]:
    """Explain `pipeline` on a sample of the training rows until `deadline`; return the
    explanation and the background rows it used (model input, kept in the bundle)."""
    background = explain.background_sample(X, seed)
    explanation = explain.explain(
        pipeline, schema, frame, background, deadline=deadline, seed=seed, prepared=X
    )
    return explanation, background


def make_insights(
    explanation: explain.Explanation,
    background: pd.DataFrame,
    schema: Schema,
    card: dict[str, Any],
    oof: tuple[np.ndarray, np.ndarray] | None,
    *,
    evaluation: evaluate.Evaluation | None = None,
    uncalibrated: np.ndarray | None = None,
    deadline: float | None = None,
) -> Insights:
    """Draw the plots of the `explanation` (with `oof` = (encoded target, out-of-fold
    predictions) the diagnostics too, and `uncalibrated`, the out-of-fold probabilities
    before calibration, in the reliability plot) and write the report, with the learning
    curve the card holds and the `evaluation` of held-out rows. `card` gains an
    "explanation" section. The beeswarm plots of a multiclass model are drawn last, as
    many as fit before `deadline` (a `time.monotonic()` value; see `_beeswarms`)."""
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
    if oof is not None:
        threshold = (card.get("decision") or {}).get("threshold")
        images.update(_diagnostics(schema, *oof, threshold, uncalibrated))
    if card.get("learning_curve"):
        images["learning_curve.png"] = plots.learning_curve(card["learning_curve"])
    tested = evaluate.images(evaluation, TEST_PREFIX) if evaluation is not None else {}
    images.update(tested)
    images.update(_beeswarms(explanation, deadline))
    files = {name: content for name, content in images.items()}
    files[IMPORTANCE_CSV] = importance.to_csv(index=False).encode()
    files[BACKGROUND] = _parquet(background)
    blocks = _blocks(card, importance, explanation, images)
    if evaluation is not None:
        about = (
            f"The exported model, scored once on {evaluation.rows} rows ({card['test']['source']})"
            " that the search, the ensemble and the refit never saw."
        )
        at = next(i for i, block in enumerate(blocks) if block == ("h2", "How to predict with it"))
        blocks[at:at] = evaluate.blocks(evaluation, card, tested, "Held-out test", about)
    files[REPORT_MARKDOWN] = markdown(blocks).encode()
    files[REPORT_HTML] = html_page(blocks, images, f"automl report: {card['target']}").encode()
    return Insights(explanation, importance, files)


def read_parquet(content: bytes) -> pd.DataFrame:
    """A frame the bundle stores as Parquet (the explanation's background rows, the
    out-of-fold predictions). Read on one thread: with pyarrow's thread pool, reading from
    a Python file object, the interpreter aborted at exit ("terminate called without an
    active exception", as in apache/arrow#34314) on 3 of 30 runs of `automl.load` then
    `out_of_fold()`; read this way, on none of 60."""
    return pd.read_parquet(io.BytesIO(content), use_threads=False)


def _beeswarm_name(explanation: explain.Explanation, output: int) -> str:
    return "beeswarm.png" if len(explanation.outputs) == 1 else f"beeswarm-{output}.png"


def _beeswarms(explanation: explain.Explanation, deadline: float | None) -> dict[str, bytes]:
    """The beeswarm plot of each output, at most MAX_CLASS_PLOTS: the first always, each
    other while the time the one before took still fits before `deadline`. On digits' ten
    classes at a 10 s budget, the ten took 2.3 s where 2 s were kept for the whole report,
    and the run ended at 10.5 s."""
    images: dict[str, bytes] = {}
    took = 0.0
    for k in range(min(len(explanation.outputs), MAX_CLASS_PLOTS)):
        started = time.monotonic()
        if images and deadline is not None and started + took > deadline:
            break
        images[_beeswarm_name(explanation, k)] = plots.beeswarm(explanation, k)
        took = time.monotonic() - started
    return images


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


def _diagnostics(
    schema: Schema,
    y: np.ndarray,
    predictions: np.ndarray,
    threshold: float | None,
    uncalibrated: np.ndarray | None,
) -> dict[str, bytes]:
    if schema.classes is None:
        predicted = predictions.reshape(len(y))
        return {
            "predicted_vs_actual.png": plots.predicted_vs_actual(
                y, predicted, "actual_vs_predicted"
            ),
            "residuals.png": plots.predicted_vs_actual(y, predicted, "residual_vs_predicted"),
        }
    if threshold is not None:
        labels = (predictions[:, 1] >= threshold).astype(np.int64)
    else:
        labels = predictions.argmax(axis=1)
    reliability = evaluate.calibration_table(y, predictions)
    before = None if uncalibrated is None else evaluate.calibration_table(y, uncalibrated)
    return {
        "confusion_matrix.png": plots.confusion_matrix(y, labels, schema.classes),
        "roc.png": plots.roc(y, predictions, schema.classes),
        "calibration.png": plots.reliability(
            reliability, schema.classes, "out-of-fold", before=before
        ),
    }


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
    model = model_words(best)
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
            f" {card['refit']['rows']} of {card['data']['rows']} rows"
            + rounds_note(card["refit"])
            + sample_note(card)
            + ".",
        ),
        (
            "table",
            Table(
                ["fold", metric],
                [[i + 1, f"{s:.6g}"] for i, s in enumerate(cv["fold_scores"])],
            ),
        ),
        *_decision_blocks(card),
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
            Table(
                ["rank", "trial", "algorithm", metric, "std"],
                [
                    [r["rank"], r["trial"], r["algorithm"], f"{r[metric]:.6g}", f"{r['std']:.3g}"]
                    for r in card["leaderboard"][:TABLE_ROWS]
                ],
            ),
        ),
        ("p", "The best trial of each algorithm tried:"),
        (
            "table",
            Table(
                ["algorithm", "trial", "rank", metric, "std"],
                [
                    [r["algorithm"], r["trial"], r["rank"], f"{r[metric]:.6g}", f"{r['std']:.3g}"]
                    for r in card.get("best_by_algorithm", [])
                ],
            ),
        ),
        ("h2", f"Parameters of {single['algorithm']} (trial {single['trial']})"),
        ("table", Table(["parameter", "value"], [[k, v] for k, v in single["params"].items()])),
    ]
    diagnostics = [
        n
        for n in (
            "confusion_matrix.png",
            "roc.png",
            "calibration.png",
            "predicted_vs_actual.png",
            "residuals.png",
        )
        if n in images
    ]
    blocks.append(("h2", "Diagnostics"))
    if diagnostics:
        blocks.append(
            (
                "p",
                "From the out-of-fold predictions of cross-validation: each row predicted by a"
                " model that did not see it.",
            )
        )
        blocks += [("img", Image(n, n.removesuffix(".png").replace("_", " "))) for n in diagnostics]
    else:
        blocks.append(("p", "No out-of-fold predictions were kept for the exported model."))
    blocks += _curve_blocks(card.get("learning_curve"), "learning_curve.png" in images)
    blocks += _explanation_blocks(importance, explanation, images)
    blocks += [
        ("h2", "Versions"),
        ("table", Table(["library", "version"], [[k, v] for k, v in card["versions"].items()])),
    ]
    return blocks


def _decision_blocks(card: dict[str, Any]) -> list[Block]:
    """The held-out test score in short, and how labels are decided."""
    blocks: list[Block] = []
    test = card.get("test")
    if test and test.get("score") is not None:
        interval = (
            f" ({test['low']:.4g} to {test['high']:.4g})" if test.get("low") is not None else ""
        )
        agreement = (test.get("agreement") or {}).get("text", "")
        blocks.append(
            (
                "p",
                f"On {test['rows']} held-out test rows, {test['metric']} {test['score']:.4g}"
                f"{interval}. {agreement}",
            )
        )
    found = card.get("calibration")
    if found:
        blocks.append(("p", f"Probabilities: temperature scaling {found['why']}."))
    if card.get("guard"):
        blocks.append(("p", f"Rows unlike the training rows: {guard.words(card['guard'])}."))
    parent = card.get("parent")
    if parent:
        blocks.append(("p", f"Retrained from {parent['path']}: {parent['text']}"))
    choice = card.get("decision")
    if choice:
        positive = card["classes"][1]
        blocks.append(
            (
                "p",
                f"Decision threshold: {positive!r} is predicted when its probability is at"
                f" least {choice['threshold']:.4g}, {choice['how']}. The threshold decides"
                " the labels only; the probabilities are left as they are.",
            )
        )
    return blocks


def _curve_blocks(found: dict[str, Any] | None, drawn: bool) -> list[Block]:
    if not found:
        return []
    metric = found["metric"]
    blocks: list[Block] = [
        ("h2", "Learning curve"),
        (
            "p",
            f"{found['model'].capitalize()}, fitted again on shares of each fold's training"
            f" rows ({found['folds']} folds): {metric} on the fold's held-out rows"
            " (validation) and on rows it was fitted on (training). " + found["verdict"],
        ),
    ]
    if drawn:
        blocks.append(("img", Image("learning_curve.png", "learning curve")))
    blocks.append(
        (
            "table",
            Table(
                ["rows", f"training {metric}", f"validation {metric}"],
                [
                    [
                        p["rows"],
                        f"{p['train']:.4g} ± {p['train_std']:.2g}",
                        f"{p['valid']:.4g} ± {p['valid_std']:.2g}",
                    ]
                    for p in found["points"]
                ],
            ),
        )
    )
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
            Table(
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
                Table(
                    ["class", "rows", "share"],
                    [[c, n, f"{n / max(rows, 1):.1%}"] for c, n in target["counts"].items()],
                ),
            )
        )
        if card.get("imbalance"):
            blocks.append(("p", decision.imbalance_note(card["imbalance"], card["target"])))
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
            Table(
                ["column", "importance", "direction"],
                [
                    [r.column, f"{r.importance:.4g}", r.direction]
                    for r in importance.head(TABLE_ROWS).itertuples()
                ],
            ),
        ),
        ("img", Image("importance.png", "mean |SHAP| per column")),
    ]
    outputs = explanation.outputs[:MAX_CLASS_PLOTS]
    drawn = 0
    for k, label in enumerate(outputs):
        name = _beeswarm_name(explanation, k)
        if name in images:
            blocks.append(("img", Image(name, f"contributions to {label}, one dot per row")))
            drawn += 1
    if drawn < len(outputs):
        blocks.append(
            (
                "p",
                f"Contributions are drawn for {drawn} of the {len(outputs)} classes: the time"
                " budget left no time to draw the others (a longer --time-budget draws them).",
            )
        )
    return blocks
