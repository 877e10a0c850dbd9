"""Score a fitted model on labelled rows: every metric of its task with a bootstrap
interval, set beside the cross-validated estimate, and the diagnostics that say why the
two differ (confusion matrix, per-class report, reliability table, ROC and
precision-recall curves, residuals, the rows with the largest errors).

`automl run --test` scores the exported model here once, on rows the search never saw;
`automl evaluate` does the same for any labelled table. The scores are computed from the
very predictions `automl predict` writes (labels through the model's decision threshold),
with the metric plugins' own functions, so anyone can recompute them with scikit-learn.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from automl import data, decision, guard
from automl.contract import Metric, Task
from automl.errors import AutoMLWarning, DataError
from automl.plugins import get_registry
from automl.render import Block, Image, Table

if TYPE_CHECKING:
    from automl.api import AutoML

CONFIDENCE = 0.95
RESAMPLES = 500
# An interval needs at least this many resamples that could be scored.
MIN_RESAMPLES = 20
CALIBRATION_BINS = 10
WORST_ROWS = 5
# The test score agrees with the CV estimate while their difference is within this many
# standard errors of it (about 95% of the differences chance alone makes).
AGREEMENT_Z = 2.0
# The smallest probability a log loss is taken of, as scikit-learn clips it.
EPSILON = np.finfo(float).eps


@dataclass
class Score:
    """A metric's value on the rows, and its bootstrap interval and standard deviation
    (None when too few resamples could be scored); `note` says why there is no value."""

    value: float | None
    low: float | None = None
    high: float | None = None
    std: float | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "score": self.value,
            "low": self.low,
            "high": self.high,
            "std": self.std,
            **({"note": self.note} if self.note else {}),
        }


@dataclass
class Evaluation:
    """A model's predictions for labelled rows and what they score.

    y: the encoded target (class codes 0..K-1, or values); predictions: (n, K)
    probabilities or (n,) values; labels: the predicted class codes, through the model's
    decision threshold (None for regression); index: the rows' labels in the table;
    missing: how many input columns each row lacks.
    """

    source: str
    task: Task
    metric: str
    direction: str
    classes: list[Any] | None
    y: np.ndarray
    predictions: np.ndarray
    labels: np.ndarray | None
    threshold: float | None
    index: pd.Index
    missing: np.ndarray
    n_columns: int
    # Rows given the class shares: the training data could not speak for them (`guard`).
    guarded: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    scores: dict[str, Score] = field(default_factory=dict)
    resamples: int = 0

    @property
    def rows(self) -> int:
        return len(self.y)

    @property
    def score(self) -> Score:
        """The score of the run's metric."""
        return self.scores[self.metric]


def evaluate(
    model: AutoML,
    table: pd.DataFrame,
    source: str = "the table",
    *,
    seed: int = 0,
    resamples: int = RESAMPLES,
    deadline: float | None = None,
) -> Evaluation:
    """Score the fitted `model` on `table`, which holds its target column.

    Every metric the metric plugins offer for the task is computed, the model's own
    first, each with a percentile bootstrap interval from up to `resamples` resamples of
    the rows (seeded; fewer when `deadline`, a `time.monotonic()` value, comes first).
    Raises `DataError` when the target column is missing or holds values the model never
    saw; rows without a target are left out with a warning.
    """
    card = model.card  # says so if the model is not fitted
    pipeline, schema = model.pipeline_, model.schema_
    frame, y = labelled(table, schema, source)
    X = data.prepare(frame, schema, source)
    guarded = np.zeros(len(X), dtype=bool)
    if schema.classes is None:
        predictions = np.asarray(pipeline.predict(X), dtype=float)
        labels = None
    else:
        # As `AutoML.predict_proba` and `predict` make them.
        predictions = np.asarray(pipeline.predict_proba(X), dtype=float)
        if card.get("guard"):
            guarded = guard.unsupported(X, card["guard"])
            predictions = guard.apply(predictions, X, card["guard"])
        labels = decision.codes(pipeline, predictions)
    registry = get_registry()
    metric = registry.metric(card["metric"]["name"])
    metrics = [metric] + [m for m in registry.metrics_for(schema.task) if m.name != metric.name]
    evaluation = Evaluation(
        source=source,
        task=schema.task,
        metric=metric.name,
        direction=metric.direction,
        classes=schema.classes,
        y=y,
        predictions=predictions,
        labels=labels,
        threshold=decision.threshold_of(pipeline),
        index=frame.index,
        missing=frame[[c.name for c in schema.columns]].isna().to_numpy().sum(axis=1),
        n_columns=len(schema.columns),
        guarded=guarded,
    )
    evaluation.scores, evaluation.resamples = _scores(
        evaluation, metrics, seed, resamples, deadline
    )
    return evaluation


@dataclass
class HeldOut:
    """The held-out rows of a run: a test table, or a seeded split of the training table
    (`split` says how it was made, so another process can make the same)."""

    frame: pd.DataFrame
    source: str
    split: dict[str, Any] | None = None

    def check(self, schema: data.Schema, train: pd.DataFrame) -> None:
        """Fail before the search if the rows cannot be scored (no target column, target
        values the training rows lack, missing columns); warn if some repeat training rows."""
        frame, _ = labelled(self.frame, schema, self.source)
        data.check_columns(frame, schema, self.source)
        self.frame = frame  # without rows lacking a target: said once, here
        if self.split is not None:
            return
        columns = [c for c in train.columns if c in frame.columns]
        if len(columns) < train.shape[1]:
            return
        seen = set(pd.util.hash_pandas_object(train[columns], index=False))
        repeated = int(pd.util.hash_pandas_object(frame[columns], index=False).isin(seen).sum())
        if repeated:
            warnings.warn(
                f"{repeated} of the {len(frame)} rows of {self.source} are also training rows:"
                " their scores are not those of unseen rows.",
                AutoMLWarning,
                stacklevel=3,
            )


def labelled(table: pd.DataFrame, schema: data.Schema, source: str) -> tuple[pd.DataFrame, Any]:
    """The rows of `table` that have a target, and the target encoded as in training; a
    `DataError` when there is no target column or it holds values the model never saw."""
    target = schema.target
    if target not in table.columns:
        data.require_column(table, target, source)
    present = table[target].notna()
    if not present.any():
        raise DataError(
            f"The target column {target!r} of {source} is empty, so there is nothing to"
            " score the predictions against.",
            hint="Give a table whose target column holds the true values.",
        )
    if not present.all():
        warnings.warn(
            f"{source}: {int((~present).sum())} row(s) without a value in {target!r} are left"
            " out of the evaluation.",
            AutoMLWarning,
            stacklevel=3,
        )
    frame = table.loc[present]
    values = frame[target]
    if schema.classes is None:
        numbers = pd.to_numeric(values, errors="coerce")
        bad = values[numbers.isna()]
        if len(bad):
            raise DataError(
                f"The target column {target!r} of {source} holds values that are not numbers"
                f" ({', '.join(map(repr, bad.astype(str).unique()[:3]))}); the model predicts"
                " numbers.",
                hint="Give the table with the numeric target the model was trained on.",
            )
        return frame, numbers.to_numpy(dtype=float)
    by_value = {c: i for i, c in enumerate(schema.classes)}
    # Labels read as text where training read numbers, or the reverse, match by text.
    by_text = {str(c): i for i, c in enumerate(schema.classes)}
    codes = np.array(
        [by_value.get(v, by_text.get(str(v), -1)) for v in values.tolist()], dtype=np.int64
    )
    unseen = sorted(set(values[codes < 0].astype(str)))
    if unseen:
        raise DataError(
            f"The target column {target!r} of {source} holds value(s) the model never saw in"
            f" training: {', '.join(map(repr, unseen[:5]))}{' ...' if len(unseen) > 5 else ''}."
            f" It knows {', '.join(map(repr, map(str, schema.classes[:10])))}.",
            hint="Score it on rows of the classes it was trained on, or train it again with"
            " the new classes.",
        )
    return frame, codes


def split(
    frame: pd.DataFrame, target: str, fraction: float, seed: int, stratify: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, test rows): a seeded share `fraction` of the rows held out,
    stratified by the target for classification. The training rows are numbered afresh;
    the test rows keep their numbers in `frame`, so the rows with the largest errors can
    be found in the table."""
    from sklearn.model_selection import train_test_split

    if not 0 < fraction < 1:
        raise DataError(f"The test size must be a fraction between 0 and 1, not {fraction:g}.")
    labels = frame[target].astype(str) if stratify else None
    if labels is not None:
        counts = labels.value_counts()
        if counts.min() < 2:
            raise DataError(
                f"The class {counts.idxmin()!r} of {target!r} has a single row, so a stratified"
                " --test-size split cannot put it on both sides.",
                hint="Remove or merge the rare class, or give a test table with --test FILE.",
            )
    rows = np.arange(len(frame))
    try:
        kept, held = train_test_split(rows, test_size=fraction, random_state=seed, stratify=labels)
    except ValueError as exc:
        raise DataError(
            f"Cannot hold out {fraction:g} of the {len(frame)} rows as a test set: {exc}",
            hint="Use a --test-size that leaves rows of every class on both sides.",
        ) from None
    train = frame.iloc[np.sort(kept)].reset_index(drop=True)
    return train, frame.iloc[np.sort(held)]


# Scores and their intervals --------------------------------------------------------------


def _scores(
    evaluation: Evaluation,
    metrics: list[Metric],
    seed: int,
    resamples: int,
    deadline: float | None,
) -> tuple[dict[str, Score], int]:
    functions = {m.name: scorer(m, evaluation) for m in metrics}
    everything = np.arange(evaluation.rows)
    scores: dict[str, Score] = {}
    for name, function in functions.items():
        try:
            value = function(everything)
        except Exception as exc:
            scores[name] = Score(None, note=_first_line(exc))
            continue
        if not math.isfinite(value):
            scores[name] = Score(None, note=f"it gave {value}")
            continue
        scores[name] = Score(value)
    scorable = {n: f for n, f in functions.items() if scores[n].value is not None}
    drawn, done = bootstrap(scorable, evaluation.rows, seed, resamples, deadline)
    alpha = (1 - CONFIDENCE) / 2
    for name, values in drawn.items():
        if len(values) >= MIN_RESAMPLES:
            low, high = np.quantile(values, [alpha, 1 - alpha])
            score = scores[name]
            score.low, score.high, score.std = float(low), float(high), float(np.std(values))
    return scores, done


def scorer(metric: Metric, evaluation: Evaluation) -> Callable[[np.ndarray], float]:
    """The metric on a selection of the rows (indices, with repeats for the bootstrap)."""
    y = evaluation.y
    if evaluation.labels is None or metric.needs_proba:
        predictions = evaluation.predictions
    else:
        predictions = evaluation.labels
    return lambda rows: float(metric.score(y[rows], predictions[rows]))


def bootstrap(
    functions: Mapping[str, Callable[[np.ndarray], float]],
    n: int,
    seed: int,
    resamples: int,
    deadline: float | None,
) -> tuple[dict[str, list[float]], int]:
    """Each function on up to `resamples` seeded resamples of the n rows; a resample a
    metric cannot score (one class only, say) is left out of that metric's values."""
    import sklearn

    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {name: [] for name in functions}
    done = 0
    # The values were checked once, when the metrics were computed on all the rows;
    # checking them again on each resample takes most of scikit-learn's time.
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        while done < resamples and functions:
            if deadline is not None and done and time.monotonic() >= deadline:
                break
            rows = rng.integers(0, n, n)
            for name, function in functions.items():
                try:
                    value = function(rows)
                except Exception:
                    continue
                if math.isfinite(value):
                    values[name].append(value)
            done += 1
    return values, done


# The test score beside the cross-validated estimate -----------------------------------------


def agreement(
    score: Score, cv: Mapping[str, Any], direction: str, rows: int, train_rows: int
) -> dict[str, Any] | None:
    """Whether the test `score` agrees with the cross-validated estimate `cv` (the card's
    "cv" section), in numbers and in one or two sentences; None without a test score.

    The difference is compared with what chance alone makes of it: the test score's
    bootstrap standard deviation (the test size), and the fold scores' standard deviation
    over the square root of the folds (how sure the CV mean is).
    """
    if score.value is None:
        return None
    test_std = score.std
    if test_std is None:  # no bootstrap: a fold's spread, scaled to the test's size
        fold_rows = max(train_rows / max(cv["folds"], 1), 1)
        test_std = cv["std"] * math.sqrt(fold_rows / max(rows, 1))
    spread = math.sqrt(test_std**2 + cv["std"] ** 2 / max(cv["folds"], 1))
    difference = score.value - cv["score"]
    expected = AGREEMENT_Z * spread
    within = abs(difference) <= expected
    worse = difference < 0 if direction == "maximize" else difference > 0
    words = (
        f"The test score ({score.value:.4g}) and the cross-validated estimate"
        f" ({cv['score']:.4g}) differ by {abs(difference):.3g}"
    )
    if within:
        text = (
            f"{words}, within what the fold spread and the {rows} test rows explain"
            f" (±{expected:.3g}): the estimate holds on rows the search never saw."
        )
    elif worse:
        text = (
            f"{words}: the test score is worse, by more than the fold spread and the {rows}"
            f" test rows explain (±{expected:.3g}). The test rows may come from another"
            " source or time than the training rows, a few of them may be unlike any training"
            " row (see the rows with the largest errors), or the search may have fitted its"
            " folds too closely; expect the test score, not the estimate, on new rows."
        )
    else:
        text = (
            f"{words}: the test score is better, by more than the fold spread and the {rows}"
            f" test rows explain (±{expected:.3g}). The test rows may be easier than the"
            " training rows or repeat some of them; the estimate is the safer expectation."
        )
    return {
        "difference": difference,
        "expected": expected,
        "within": within,
        "worse": bool(worse and not within),
        "text": text,
    }


def estimate(card: Mapping[str, Any]) -> Mapping[str, Any]:
    """The cross-validated estimate a test score is compared with: that of the decision
    rule exported (`automl.finish.exported_estimate`: calibrated, with its threshold)
    when it differs from the search's, else the search's (the card's "cv")."""
    return card["cv"].get("exported") or card["cv"]


def cv_interval(cv: Mapping[str, Any]) -> tuple[float, float]:
    """A 95% interval for the cross-validated mean: two of its standard errors, the fold
    scores' standard deviation over the square root of the folds (as `agreement` counts)."""
    half = AGREEMENT_Z * cv["std"] / math.sqrt(max(cv["folds"], 1))
    return cv["score"] - half, cv["score"] + half


def estimate_words(cv: Mapping[str, Any]) -> str:
    """The CV estimate with its interval: "0.8493 (0.838 to 0.861)"."""
    low, high = cv_interval(cv)
    return f"{cv['score']:.4g} ({low:.4g} to {high:.4g})"


def section(
    evaluation: Evaluation,
    card: Mapping[str, Any],
    *,
    split: Mapping[str, Any] | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """The evaluation as the model card, `--json` and the report record it."""
    score = evaluation.score
    cv = estimate(card)
    return {
        "source": evaluation.source,
        "rows": evaluation.rows,
        "split": dict(split) if split else None,
        "metric": evaluation.metric,
        **score.as_dict(),
        "scores": {name: s.as_dict() for name, s in evaluation.scores.items()},
        "confidence": CONFIDENCE,
        "resamples": evaluation.resamples,
        "threshold": evaluation.threshold,
        "guarded_rows": int(evaluation.guarded.sum()),
        "cv": {
            **dict(zip(("score", "low", "high"), (cv["score"], *cv_interval(cv)), strict=True)),
            "how": cv.get("how"),
        },
        "agreement": agreement(
            score, cv, evaluation.direction, evaluation.rows, card["data"]["rows"]
        ),
        **({"seconds": round(seconds, 3)} if seconds is not None else {}),
    }


# Diagnostics ------------------------------------------------------------------------------


def confusion(evaluation: Evaluation) -> pd.DataFrame:
    """Rows: actual class; columns: predicted class; cells: counts."""
    from sklearn.metrics import confusion_matrix

    classes = [str(c) for c in evaluation.classes or []]
    matrix = confusion_matrix(evaluation.y, evaluation.labels, labels=range(len(classes)))
    return pd.DataFrame(matrix, index=classes, columns=classes)


def per_class(evaluation: Evaluation) -> pd.DataFrame:
    """Precision, recall, F1 and rows per class, as scikit-learn reports them."""
    from sklearn.metrics import precision_recall_fscore_support

    classes = [str(c) for c in evaluation.classes or []]
    precision, recall, f1, support = precision_recall_fscore_support(
        evaluation.y, evaluation.labels, labels=range(len(classes)), zero_division=0
    )
    return pd.DataFrame(
        {"class": classes, "precision": precision, "recall": recall, "f1": f1, "rows": support}
    )


def calibration(evaluation: Evaluation) -> pd.DataFrame:
    """The reliability table: for bins of the predicted probability, the rows in the bin,
    their mean predicted probability and how often it came true. For two classes, the
    positive class's probability; for more, the probability of the predicted class."""
    return calibration_table(evaluation.y, evaluation.predictions)


def calibration_table(y: np.ndarray, proba: np.ndarray) -> pd.DataFrame:
    """`calibration`'s table for encoded labels `y` and probabilities `proba`."""
    if proba.shape[1] == 2:
        predicted, happened = proba[:, 1], y == 1
    else:
        top = proba.argmax(axis=1)
        predicted, happened = proba[np.arange(len(top)), top], top == y
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    bins = np.clip(np.digitize(predicted, edges[1:-1], right=True), 0, CALIBRATION_BINS - 1)
    rows = []
    for b in range(CALIBRATION_BINS):
        inside = bins == b
        if inside.any():
            rows.append(
                {
                    "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                    "rows": int(inside.sum()),
                    "predicted": float(predicted[inside].mean()),
                    "observed": float(happened[inside].mean()),
                }
            )
    return pd.DataFrame(rows, columns=["bin", "rows", "predicted", "observed"])


def calibration_error(table: pd.DataFrame) -> float:
    """The expected calibration error: the mean gap between predicted and observed,
    weighted by the rows of each bin."""
    if table.empty:
        return float("nan")
    gaps = (table["predicted"] - table["observed"]).abs()
    return float(np.average(gaps, weights=table["rows"]))


def residuals(evaluation: Evaluation) -> dict[str, float]:
    """Actual minus predicted: its mean, spread and percentiles."""
    residual = evaluation.y - evaluation.predictions
    summary = {"mean": float(residual.mean()), "std": float(residual.std())}
    for q in (5, 25, 50, 75, 95):
        summary[f"p{q}"] = float(np.percentile(residual, q))
    return summary


def row_losses(evaluation: Evaluation) -> np.ndarray:
    """Each row's share of the error: minus the log of the probability given to its true
    class, or the absolute residual."""
    if evaluation.classes is None:
        return np.abs(evaluation.y - evaluation.predictions)
    given = evaluation.predictions[np.arange(evaluation.rows), evaluation.y]
    return -np.log(np.clip(given, EPSILON, 1.0))


def worst_rows(evaluation: Evaluation, top: int = WORST_ROWS) -> pd.DataFrame:
    """The rows with the largest errors, with what was predicted and how many of their
    input columns were missing (a row unlike any training row often shows here)."""
    losses = row_losses(evaluation)
    order = np.argsort(-losses, kind="stable")[:top]
    classes = evaluation.classes
    records = []
    for i in order:
        record: dict[str, Any] = {"row": evaluation.index[i]}
        if classes is None:
            record.update(
                actual=float(evaluation.y[i]),
                predicted=float(evaluation.predictions[i]),
                error=float(losses[i]),
            )
        else:
            record.update(
                actual=classes[evaluation.y[i]],
                predicted=classes[evaluation.labels[i]],
                probability_of_actual=float(evaluation.predictions[i, evaluation.y[i]]),
                log_loss=float(losses[i]),
            )
        record["missing_inputs"] = f"{int(evaluation.missing[i])} of {evaluation.n_columns}"
        records.append(record)
    return pd.DataFrame(records)


def details(evaluation: Evaluation) -> dict[str, Any]:
    """The diagnostics as plain data, for `automl evaluate --json`."""
    out: dict[str, Any] = {"worst_rows": _records(worst_rows(evaluation))}
    if evaluation.classes is None:
        out["residuals"] = residuals(evaluation)
        return out
    matrix = confusion(evaluation)
    table = calibration(evaluation)
    out.update(
        confusion_matrix={"labels": list(matrix.index), "counts": matrix.to_numpy().tolist()},
        per_class=_records(per_class(evaluation)),
        calibration=_records(table),
        calibration_error=calibration_error(table),
    )
    return out


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: data.plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def summary(evaluation: Evaluation, card: Mapping[str, Any]) -> dict[str, Any]:
    """Everything `automl evaluate --json` prints: the scores beside the CV estimate,
    whether they agree, and the diagnostics."""
    found = section(evaluation, card)
    cv = estimate(card)
    found["cv"] = {**found["cv"], "std": cv["std"], "folds": cv["folds"]}
    return {"task": card["task"], "target": card["target"], **found, **details(evaluation)}


def documents(evaluation: Evaluation, card: Mapping[str, Any], model: str) -> dict[str, bytes]:
    """The files `automl evaluate --output` writes: the evaluation as Markdown, as HTML
    (plots embedded) and as JSON, and the plots."""
    import json

    from automl.bundle import model_words
    from automl.render import html_page, markdown

    pictures = images(evaluation)
    about = (
        f"The model in {model} ({model_words(card['best'])}), scored on {evaluation.rows}"
        f" rows of {evaluation.source}."
    )
    title = f"Evaluation of {card['target']} ({card['task']}) on {evaluation.source}"
    document = [("h1", title), *blocks(evaluation, card, pictures, "Scores", about)]
    files = dict(pictures)
    files["evaluation.md"] = markdown(document).encode()
    files["evaluation.html"] = html_page(document, pictures, title).encode()
    text = json.dumps(summary(evaluation, card), indent=2, default=data.json_default)
    files["evaluation.json"] = text.encode()
    return files


def document_names(task: Task) -> list[str]:
    """The names of the files `documents` makes for a model of `task`."""
    plots = (
        ["predicted_vs_actual.png", "residuals.png"]
        if task is Task.REGRESSION
        else ["confusion_matrix.png", "calibration.png"]
        + (["roc.png", "precision_recall.png"] if task is Task.BINARY else [])
    )
    return ["evaluation.md", "evaluation.html", "evaluation.json", *plots]


# The report's section ---------------------------------------------------------------------


def images(evaluation: Evaluation, prefix: str = "") -> dict[str, bytes]:
    """The evaluation's plots, as PNG bytes by file name."""
    from automl import plots

    where = f"on {evaluation.rows} rows of {evaluation.source}"
    y, predictions = evaluation.y, evaluation.predictions
    if evaluation.classes is None:
        return {
            f"{prefix}predicted_vs_actual.png": plots.predicted_vs_actual(
                y, predictions, "actual_vs_predicted", where
            ),
            f"{prefix}residuals.png": plots.predicted_vs_actual(
                y, predictions, "residual_vs_predicted", where
            ),
        }
    classes = evaluation.classes
    found = {
        f"{prefix}confusion_matrix.png": plots.confusion_matrix(
            y, evaluation.labels, classes, where
        ),
        f"{prefix}calibration.png": plots.reliability(calibration(evaluation), classes, where),
    }
    if len(classes) == 2:
        found[f"{prefix}roc.png"] = plots.roc(y, predictions, classes, where)
        found[f"{prefix}precision_recall.png"] = plots.precision_recall(
            y, predictions, classes, where
        )
    return found


def blocks(
    evaluation: Evaluation,
    card: Mapping[str, Any],
    pictures: Mapping[str, bytes],
    heading: str,
    about: str,
) -> list[Block]:
    """The evaluation as report blocks: the scores beside the CV estimate, whether they
    agree, and the diagnostics (with the `pictures` made by `images`)."""
    cv = estimate(card)
    interval = f"{CONFIDENCE:.0%} interval"
    rows = []
    for name, score in evaluation.scores.items():
        estimated = estimate_words(cv) if name == evaluation.metric else ""
        rows.append([name, _number(score.value), _interval(score) or score.note or "", estimated])
    out: list[Block] = [
        ("h2", heading),
        (
            "p",
            f"{about} Each score comes with its {interval} from {evaluation.resamples}"
            " bootstrap resamples of the rows; the cross-validated estimate with its own,"
            " two standard errors of the mean of the fold scores"
            + (f", of the exported decision rule ({cv['how']})." if cv.get("how") else "."),
        ),
        ("table", Table(["metric", "score", interval, "cross-validated"], rows)),
    ]
    found = agreement(
        evaluation.score, cv, evaluation.direction, evaluation.rows, card["data"]["rows"]
    )
    if found:
        out.append(("p", found["text"]))
    if evaluation.guarded.any():
        out.append(
            (
                "p",
                f"{int(evaluation.guarded.sum())} of the rows miss more inputs than the training"
                " rows could speak for; they were given the class shares of the training rows"
                " (see the rows with the largest errors).",
            )
        )
    if evaluation.threshold is not None:
        out.append(
            (
                "p",
                f"Labels are predicted at the model's decision threshold: {evaluation.classes[1]!r}"
                f" when its probability is at least {evaluation.threshold:.4g}.",
            )
        )
    out += _diagnostic_blocks(evaluation, pictures)
    worst = worst_rows(evaluation)
    out += [
        ("h3", "The rows with the largest errors"),
        (
            "table",
            Table(
                [str(c) for c in worst.columns],
                [[_cell(v) for v in row] for row in worst.itertuples(index=False)],
            ),
        ),
    ]
    return out


def _diagnostic_blocks(evaluation: Evaluation, pictures: Mapping[str, bytes]) -> list[Block]:
    out: list[Block] = []
    if evaluation.classes is None:
        summary = residuals(evaluation)
        out += [
            ("h3", "Residuals (actual - predicted)"),
            ("table", Table(list(summary), [[f"{v:.4g}" for v in summary.values()]])),
        ]
    else:
        matrix = confusion(evaluation)
        table = calibration(evaluation)
        out += [
            ("h3", "Confusion matrix (rows: actual, columns: predicted)"),
            (
                "table",
                Table(
                    ["", *matrix.columns],
                    [
                        [label, *row]
                        for label, row in zip(matrix.index, matrix.to_numpy().tolist(), strict=True)
                    ],
                ),
            ),
            ("h3", "Per class"),
            (
                "table",
                Table(
                    ["class", "precision", "recall", "f1", "rows"],
                    [
                        [r.cls, f"{r.precision:.3f}", f"{r.recall:.3f}", f"{r.f1:.3f}", r.rows]
                        for r in per_class(evaluation)
                        .rename(columns={"class": "cls"})
                        .itertuples(index=False)
                    ],
                ),
            ),
            ("h3", "Calibration"),
            (
                "p",
                "How often what the model predicted came true, by bins of its probability"
                + (
                    " for the positive class"
                    if len(evaluation.classes) == 2
                    else " for the class it predicted"
                )
                + f". Expected calibration error: {calibration_error(table):.3g}.",
            ),
            (
                "table",
                Table(
                    ["probability", "rows", "mean predicted", "observed"],
                    [
                        [r.bin, r.rows, f"{r.predicted:.3f}", f"{r.observed:.3f}"]
                        for r in table.itertuples(index=False)
                    ],
                ),
            ),
        ]
    out += [("img", Image(name, name.removesuffix(".png").replace("_", " "))) for name in pictures]
    return out


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _interval(score: Score) -> str:
    if score.low is None or score.high is None:
        return ""
    return f"{score.low:.4g} to {score.high:.4g}"


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
