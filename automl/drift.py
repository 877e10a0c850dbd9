"""Has the data moved since the model was trained?

At fit time `reference` records, for every column of the training table, what its values
looked like (quantile bins and their shares, category shares, the missing rate, the
range), and the same for the out-of-fold predictions. The bundle keeps it as
`drift_reference.json`; `compare` sets new data beside it (`automl drift`).

Each column is compared by its population stability index (PSI) over the reference's
bins: the quantile bins of a number or date (the first and last open-ended), the
categories of anything else (plus one for values never seen in training), and one bin for
missing values. With p_b the reference's share of bin b and q_b the new data's,

    PSI = sum over bins b of (q_b - p_b) * ln(q_b / p_b)

where each share is smoothed as if its bin held half a value more (Jeffreys' prior):
q_b = (n_b + 1/2) / (n + B/2) for n_b of the n new values in bin b and B bins (those empty
on both sides left out), p_b likewise from the reference's shares times the rows it was
computed on. A bin empty on one side so adds a large but finite term. A PSI under
`MODERATE` (0.1) is no drift, from `MAJOR` (0.25) on it is major drift: the thresholds of
credit scoring, where the index comes from.
"""

from __future__ import annotations

import itertools
import json
import re
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from automl import bundle, data
from automl.data import Schema
from automl.errors import AutoMLWarning, BundleError, DataError, UsageError

if TYPE_CHECKING:
    from automl.api import AutoML
    from automl.evaluate import Evaluation
    from automl.render import Block

REFERENCE_FILE = "drift_reference.json"
FORMAT = 1
# Numbers are cut at these quantiles of the training values (deciles), the usual bins of
# the population stability index.
BINS = 10
# Categories kept by name; the rest of the training values share one "(other)" entry.
MAX_CATEGORIES = 200
OTHER = "(other)"
MISSING = "(missing)"
UNSEEN = "(unseen)"
# Statistics of bigger tables come from a seeded sample of this many rows: quantiles of
# a million values per column would cost seconds of the budget and tell nothing more.
SAMPLE_ROWS = 100_000
# PSI thresholds: under MODERATE no drift, from MAJOR on major drift.
MODERATE = 0.1
MAJOR = 0.25
LEVELS = ("none", "moderate", "major")
WORDS = {"none": "no drift", "moderate": "moderate drift", "major": "major drift"}
# How the CLI and the TUI show each level (Rich style names).
STYLES = {"none": "green", "moderate": "yellow", "major": "bold red"}
# Half a value more in every bin (Jeffreys' prior): see the module's docstring.
SMOOTHING = 0.5
# With fewer new rows, chance alone gives a PSI near MODERATE over ten bins (about
# bins / rows), so the report says so.
FEW_ROWS = 200
# The model's scores on labelled new rows come with bootstrap intervals from as many
# resamples as fit in this many seconds (`automl evaluate` takes longer over them).
SCORE_SECONDS = 3.0
# Bars drawn per plot; the other bins are summed into one.
PLOT_BINS = 15
# The columns `automl serve --log-requests` adds to the model's (see `automl.serve`).
LOG_COLUMNS = ("prediction", "probability[{}]", "served_at")
# The table of columns, as `column_cells` fills it.
COLUMN_HEADER = ["column", "drift", "PSI", "unseen", "out of range", "missing"]


def reference(
    frame: pd.DataFrame, schema: Schema, out_of_fold: pd.DataFrame | None
) -> dict[str, Any]:
    """The reference statistics of the training table `frame` (its raw columns, target
    left out; a seeded sample of `SAMPLE_ROWS` of a bigger table) and of the out-of-fold
    predictions, as JSON-ready data."""
    rows = len(frame)
    if rows > SAMPLE_ROWS:
        frame = frame.sample(SAMPLE_ROWS, random_state=0)
    used = {column.name: column.kind for column in schema.columns}
    columns = {}
    unused = {}
    for name in frame.columns:
        if name == schema.target:
            continue
        if name in used:
            columns[name] = describe(frame[name], used[name])
        else:
            unused[name] = describe(frame[name], _kind(frame[name]))
    return {
        "format": FORMAT,
        "rows": rows,
        "columns": columns,
        "unused": unused,
        "prediction": _prediction(out_of_fold, schema),
    }


def describe(values: pd.Series, kind: str) -> dict[str, Any]:
    """One column's reference: numbers (dates as days) by quantile bins, anything else
    by the share of each value. `missing` counts what the model reads as missing (for
    numbers and dates, values that are none), `count` the values described."""
    if kind in ("numeric", "datetime"):
        numbers = _numbers(values, kind)
        present = numbers.dropna()
        if len(present):
            edges = _edges(present.to_numpy())
            return {
                "kind": kind,
                "count": len(values),
                "missing": _share(numbers.isna()),
                "min": float(present.min()),
                "max": float(present.max()),
                "mean": float(present.mean()),
                "std": float(present.std(ddof=0)),
                "edges": edges.tolist(),
                "shares": bin_shares(present, edges).tolist(),
            }
        kind = "categorical"  # nothing readable as a number: compare its values instead
    text = values.dropna().astype(str)
    counts = text.value_counts()
    kept = counts.head(MAX_CATEGORIES)
    shares = (kept / max(len(text), 1)).to_dict()
    if len(counts) > len(kept):
        shares[OTHER] = float(counts.iloc[MAX_CATEGORIES:].sum() / len(text))
    return {
        "kind": kind,
        "count": len(values),
        "missing": _share(values.isna()),
        "categories": len(counts),
        "shares": {str(k): float(v) for k, v in shares.items()},
    }


def _edges(numbers: np.ndarray) -> np.ndarray:
    """The bins' edges: the minimum, the cuts, the maximum. The cuts are the deciles, or
    each value but the smallest when there are at most `BINS` values, so that a column of
    0 and 1 (whose deciles are all 0 or 1) still has a bin for each."""
    distinct = np.unique(numbers)
    if len(distinct) <= BINS:
        cuts = distinct[1:]
    else:
        cuts = np.unique(np.quantile(numbers, np.linspace(0, 1, BINS + 1)[1:-1]))
        cuts = cuts[cuts > distinct[0]]
    return np.concatenate([distinct[:1], cuts, distinct[-1:]])


def bin_shares(numbers: pd.Series | np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The share of `numbers` in each bin between consecutive `edges`, the first and the
    last bins open-ended (values beyond the training range fall in them)."""
    values = np.asarray(numbers, dtype=float)
    return _bin_counts(values, edges) / max(len(values), 1)


def _bin_counts(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    inner = np.asarray(edges, dtype=float)[1:-1]
    return np.bincount(
        np.searchsorted(inner, values, side="right"), minlength=max(len(edges) - 1, 1)
    )


def _share(mask: pd.Series) -> float:
    return float(mask.mean()) if len(mask) else 0.0


def _numbers(values: pd.Series, kind: str) -> pd.Series:
    if kind == "datetime":
        parsed, _ = data.to_datetime(values)
        return (parsed - pd.Timestamp("1970-01-01", tz=parsed.dt.tz)).dt.total_seconds() / 86400
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    return pd.to_numeric(values, errors="coerce").astype(float)


def _kind(values: pd.Series) -> str:
    """How to describe a column the model does not use."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return "numeric"
    return "categorical"


def _prediction(out_of_fold: pd.DataFrame | None, schema: Schema) -> dict[str, Any] | None:
    """The out-of-fold predictions' reference: the values (regression), the probability
    of the positive class (binary), or the predicted classes' shares (multiclass)."""
    if out_of_fold is None:
        return None
    classes = schema.classes
    if classes is None:
        return {"what": "prediction", **describe(out_of_fold["prediction"], "numeric")}
    if len(classes) == 2:
        # The columns are actual, prediction, then a probability per class in their order.
        positive = out_of_fold.iloc[:, 3]
        return {"what": f"probability of {classes[1]}", **describe(positive, "numeric")}
    return {"what": "predicted class", **describe(out_of_fold["prediction"], "categorical")}


def as_json(found: Mapping[str, Any]) -> bytes:
    """`found` as JSON: numpy numbers as numbers, anything else unknown as text."""
    return json.dumps(found, indent=2, default=data.json_default).encode()


# Comparing new data with the reference ------------------------------------------------------


@dataclass
class ColumnDrift:
    """How one column of the new data differs from the training data.

    bins, reference, new: each bin's label and its share of the reference's and of the
    new values (missing ones included, in their own bin); psi over those bins; unseen:
    the share of the new values (missing ones left out) in categories training never
    had (None for numbers, and for columns with more than `MAX_CATEGORIES` categories,
    whose rarest ones the reference does not name); out_of_range: the share of the new
    numbers beyond the training range (None for categories).
    """

    name: str
    kind: str
    psi: float
    level: str
    missing_reference: float
    missing: float
    unseen: float | None
    out_of_range: float | None
    bins: list[str]
    reference: list[float]
    new: list[float]

    @property
    def missing_change(self) -> float:
        return self.missing - self.missing_reference

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "level": self.level,
            "psi": self.psi,
            "unseen": self.unseen,
            "out_of_range": self.out_of_range,
            "missing_reference": self.missing_reference,
            "missing": self.missing,
            "missing_change": self.missing_change,
            "bins": [
                {"bin": b, "reference": r, "new": n}
                for b, r, n in zip(self.bins, self.reference, self.new, strict=True)
            ],
        }


@dataclass
class Drift:
    """New data set beside a model's reference statistics.

    columns: the columns the model uses, most drifted first; unused: those it does not
    use (its "dropped" ones), apart, with `absent` naming those the new data lacks;
    new_columns: columns training never had; ignored: the columns `automl serve
    --log-requests` adds; prediction: the drift of the model's predictions on the new
    rows from its out-of-fold predictions, named by what they are ("probability of yes";
    None when the bundle kept none); evaluation:
    the model scored on the new rows, when they hold the target.
    """

    source: str
    rows: int
    reference_rows: int
    moderate: float
    major: float
    columns: list[ColumnDrift]
    prediction: ColumnDrift | None = None
    unused: list[ColumnDrift] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    new_columns: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    evaluation: Evaluation | None = None

    def at(self, level: str) -> list[str]:
        """The columns the model uses whose drift is at `level`."""
        return [c.name for c in self.columns if c.level == level]

    @property
    def level(self) -> str:
        """The highest drift of the columns the model uses."""
        return max((c.level for c in self.columns), key=LEVELS.index, default="none")

    @property
    def major_found(self) -> bool:
        """Whether a column the model uses has major drift (`automl drift` exits 4)."""
        return bool(self.at("major"))


def read_reference(model: AutoML) -> dict[str, Any]:
    """The reference statistics of a fitted `model`, or of a loaded one from its bundle
    (checked against the checksum its card records); a `BundleError` when the bundle has
    none, having been made by an automl without drift checks."""
    if model.reference_ is not None:
        return model.reference_
    card = model.card
    where = model.bundle_path_
    if where is None or REFERENCE_FILE not in card.get("files", {}):
        raise BundleError(
            f"The model in {where or 'memory'} has no reference statistics of its training"
            f" data ({REFERENCE_FILE}): it was made by an older automl, which did not keep"
            " them, so there is nothing to compare new data with.",
            hint="Train the model again with this automl (`automl run`) to check its data.",
        )
    try:
        found = json.loads(bundle.read_file(where, REFERENCE_FILE))
    except ValueError as exc:
        raise BundleError(f"Cannot read {where / REFERENCE_FILE}: {exc}") from None
    if found.get("format") != FORMAT:
        raise BundleError(
            f"{where / REFERENCE_FILE} is of format {found.get('format')!r}; this automl"
            f" reads format {FORMAT}.",
            hint="Use the automl that made the model, or train it again with this one.",
        )
    return found


def compare(
    reference: Mapping[str, Any],
    frame: pd.DataFrame,
    model: AutoML,
    source: str = "the table",
    *,
    moderate: float = MODERATE,
    major: float = MAJOR,
    seed: int = 0,
    seconds: float | None = SCORE_SECONDS,
) -> Drift:
    """Set the new rows `frame` beside `reference` (`read_reference`), the statistics of
    the training data of `model`, predicting them with `model`, and score it on them when
    they hold its target (`automl.evaluate.evaluate`: its bootstrap seeded by `seed`, for
    at most `seconds`, or `evaluate.RESAMPLES` resamples when None).

    A column is marked moderate from a PSI of `moderate`, major from `major`. Raises a
    `DataError` naming the columns the model uses that `frame` lacks; a target the model
    cannot be scored on (holding classes it never saw) is only a warning.
    """
    check_thresholds(moderate, major)
    if frame.empty:
        raise DataError(f"{source} has no rows to compare.", hint="Give a table with rows.")
    schema = model.schema_
    assert schema is not None
    used = list(reference["columns"])
    if any(name not in frame.columns for name in used):
        data.check_columns(frame, schema, source)  # names them, and close names
    ignored = [c for c in log_columns(schema) if c in frame.columns]
    # References written before they counted their values were made from all the rows,
    # up to SAMPLE_ROWS.
    sampled = min(reference["rows"], SAMPLE_ROWS)
    columns, unused = (
        {name: {"count": sampled, **ref} for name, ref in reference.get(part, {}).items()}
        for part in ("columns", "unused")
    )
    known = {*used, *unused, schema.target, *ignored}
    found = Drift(
        source=source,
        rows=len(frame),
        reference_rows=reference["rows"],
        moderate=moderate,
        major=major,
        columns=_ranked(
            compare_column(name, ref, frame[name], moderate=moderate, major=major)
            for name, ref in columns.items()
        ),
        unused=_ranked(
            compare_column(name, ref, frame[name], moderate=moderate, major=major)
            for name, ref in unused.items()
            if name in frame.columns
        ),
        absent=[name for name in unused if name not in frame.columns],
        new_columns=[str(c) for c in frame.columns if c not in known],
        ignored=ignored,
    )
    inputs = frame[used]
    if reference.get("prediction") is not None:
        described = {"count": sampled, **reference["prediction"]}
        found.prediction = compare_column(
            described["what"],
            described,
            _predictions(model, inputs),
            moderate=moderate,
            major=major,
        )
    if schema.target in frame.columns and frame[schema.target].notna().any():
        from automl.evaluate import evaluate

        labelled = frame[[*used, schema.target]]
        deadline = None if seconds is None else time.monotonic() + seconds
        try:
            found.evaluation = evaluate(model, labelled, source, seed=seed, deadline=deadline)
        except DataError as exc:  # the drift is what was asked for; the score comes with it
            warnings.warn(
                f"{exc.message} The model is not scored on these rows.",
                AutoMLWarning,
                stacklevel=2,
            )
    if len(frame) < FEW_ROWS:
        warnings.warn(
            f"{source} has only {len(frame)} rows: over {BINS} bins chance alone gives a PSI"
            f" of about {BINS / len(frame):.2g} on so few, so the drift found may be noise.",
            AutoMLWarning,
            stacklevel=2,
        )
    return found


def check_thresholds(moderate: float, major: float) -> None:
    """A `UsageError` unless 0 < moderate < major."""
    if not 0 < moderate < major:
        raise UsageError(
            f"The PSI thresholds must be positive and moderate below major; got moderate"
            f" {moderate:g} and major {major:g}.",
            hint=f"The usual ones are {MODERATE:g} and {MAJOR:g}.",
        )


def log_columns(schema: Schema) -> list[str]:
    """The names of the columns `automl serve --log-requests` adds for a model of
    `schema`, each prefixed with "_" while the training table has a column of its name."""
    taken = {*(c.name for c in schema.columns), schema.target, *schema.dropped}
    classes = [str(c) for c in schema.classes or ()]
    names = [LOG_COLUMNS[0], *(LOG_COLUMNS[1].format(c) for c in classes), LOG_COLUMNS[2]]
    out = []
    for name in names:
        while name in taken:
            name = f"_{name}"
        out.append(name)
    return out


def _predictions(model: AutoML, inputs: pd.DataFrame) -> pd.Series:
    """The model's predictions as the reference describes the out-of-fold ones."""
    classes = model.schema_.classes
    if classes is not None and len(classes) == 2:
        return model.predict_proba(inputs).iloc[:, 1]
    return pd.Series(model.predict(inputs), index=inputs.index)


def _ranked(drifts: Iterable[ColumnDrift]) -> list[ColumnDrift]:
    return sorted(drifts, key=lambda c: (-c.psi, c.name))


def compare_column(
    name: str,
    described: Mapping[str, Any],
    values: pd.Series,
    *,
    moderate: float = MODERATE,
    major: float = MAJOR,
) -> ColumnDrift:
    """One column's `values` beside its reference `described` (made by `describe`)."""
    count = described["count"]
    missing_reference = described["missing"]
    if "edges" in described:
        edges = described["edges"]
        numbers = _numbers(values, described["kind"])
        present = numbers.dropna().to_numpy()
        missing = _share(numbers.isna())
        new = _bin_counts(present, edges).astype(float)
        expected = np.asarray(described["shares"], dtype=float)
        labels = _bin_labels(edges, described["kind"])
        outside = (present < described["min"]) | (present > described["max"])
        out_of_range, unseen = (float(outside.mean()) if len(present) else 0.0), None
    else:
        text = values.dropna().astype(str)
        missing = _share(values.isna())
        shares = described["shares"]
        named = text.isin(list(shares))
        rest = OTHER if OTHER in shares else UNSEEN
        labels = [*(k for k in shares if k != OTHER), rest]
        counts = text.where(named, rest).value_counts()
        new = np.array([counts.get(label, 0) for label in labels], dtype=float)
        expected = np.array([shares.get(label, 0.0) for label in labels], dtype=float)
        unseen = None if rest == OTHER else (float((~named).mean()) if len(text) else 0.0)
        out_of_range = None
    reference_counts = np.append(expected * (1 - missing_reference), missing_reference) * count
    new_counts = np.append(new, missing * len(values))
    psi_value = psi(reference_counts, new_counts)
    return ColumnDrift(
        name=name,
        kind=described["kind"],
        psi=psi_value,
        level=level(psi_value, moderate, major),
        missing_reference=missing_reference,
        missing=missing,
        unseen=unseen,
        out_of_range=out_of_range,
        bins=[*labels, MISSING],
        reference=(reference_counts / max(count, 1)).tolist(),
        new=(new_counts / max(len(values), 1)).tolist(),
    )


def psi(reference_counts: Sequence[float], new_counts: Sequence[float]) -> float:
    """The population stability index of the new values' bin counts against the
    reference's, each share smoothed by `SMOOTHING` (see the module's docstring)."""
    expected = np.asarray(reference_counts, dtype=float)
    actual = np.asarray(new_counts, dtype=float)
    kept = (expected > 0) | (actual > 0)
    expected, actual = expected[kept], actual[kept]
    if not len(expected):
        return 0.0
    half = SMOOTHING * len(expected)
    p = (expected + SMOOTHING) / (expected.sum() + half)
    q = (actual + SMOOTHING) / (actual.sum() + half)
    return float(np.sum((q - p) * np.log(q / p)))


def level(psi_value: float, moderate: float = MODERATE, major: float = MAJOR) -> str:
    """The drift a PSI means: "none", "moderate" (from `moderate` on) or "major" (from
    `major` on)."""
    return LEVELS[int(psi_value >= moderate) + int(psi_value >= major)]


def _bin_labels(edges: Sequence[float], kind: str) -> list[str]:
    """Bin b holds the values from edges[b] (from any value, for the first) up to the next
    edge (excluded; for the last, any value)."""
    inner = [_edge(e, kind) for e in edges[1:-1]]
    if not inner:
        return ["all values"]
    middle = [f"{low} to {high}" for low, high in itertools.pairwise(inner)]
    return [f"below {inner[0]}", *middle, f"{inner[-1]} and above"]


def _edge(value: float, kind: str) -> str:
    if kind != "datetime":
        return f"{value:.4g}"
    moment = pd.Timestamp("1970-01-01") + pd.Timedelta(days=value)
    return moment.strftime("%Y-%m-%d" if moment == moment.normalize() else "%Y-%m-%d %H:%M")


# What `automl drift` prints and writes ----------------------------------------------------


def summary(found: Drift, card: Mapping[str, Any]) -> dict[str, Any]:
    """Everything `automl drift --json` prints (and `drift.json` holds)."""
    from automl import evaluate

    return {
        "source": found.source,
        "rows": found.rows,
        "reference_rows": found.reference_rows,
        "target": card["target"],
        "task": card["task"],
        "thresholds": {"moderate": found.moderate, "major": found.major},
        "major_drift": found.major_found,
        "verdict": verdict(found),
        "major": found.at("major"),
        "moderate": found.at("moderate"),
        "columns": [c.as_dict() for c in found.columns],
        "prediction": found.prediction.as_dict() if found.prediction else None,
        "unused": [c.as_dict() for c in found.unused],
        "absent": found.absent,
        "new_columns": found.new_columns,
        "ignored": found.ignored,
        "evaluation": evaluate.summary(found.evaluation, card) if found.evaluation else None,
    }


def verdict(found: Drift) -> str:
    """One sentence: which columns the model uses drifted, and how much."""
    major, moderate = found.at("major"), found.at("moderate")
    if major:
        text = f"Major drift in {_names(major)}"
        return text + (f"; moderate in {_names(moderate)}." if moderate else ".")
    if moderate:
        return f"No major drift; moderate drift in {_names(moderate)}."
    return "No drift: every column the model uses is as in training."


def _names(names: Sequence[str]) -> str:
    return ", ".join(map(repr, names))


def images(found: Drift) -> dict[str, bytes]:
    """A plot of the reference's and the new shares per bin for each drifted column (and
    the predictions, when they drifted), as PNG bytes by file name."""
    from automl import plots

    return {
        name: plots.drift_shares(*_plotted(column), title)
        for name, (column, title) in _pictured(found).items()
    }


def _pictured(found: Drift) -> dict[str, tuple[ColumnDrift, str]]:
    """The plots `images` draws: file name -> (column, title)."""
    drifted = [(c, c.name, f"drift-column-{_safe(c.name)}") for c in found.columns]
    if found.prediction is not None:
        drifted.append(
            (found.prediction, f"predictions ({found.prediction.name})", "drift-predictions")
        )
    out: dict[str, tuple[ColumnDrift, str]] = {}
    for column, what, stem in drifted:
        if column.level == "none":
            continue
        name, number = f"{stem}.png", 1
        while name in out:  # names that differ only in characters a file name cannot hold
            number += 1
            name = f"{stem}-{number}.png"
        out[name] = (column, f"{what}: PSI {column.psi:.3g}, {WORDS[column.level]}")
    return out


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60] or "_"


def _plotted(column: ColumnDrift) -> tuple[list[str], list[float], list[float]]:
    """The bins of a column's plot: all of them in order for numbers, the largest
    `PLOT_BINS` for categories (the rest summed), empty ones left out."""
    rows = [
        (b, r, n)
        for b, r, n in zip(column.bins, column.reference, column.new, strict=True)
        if r or n
    ]
    if column.out_of_range is None and len(rows) > PLOT_BINS:
        rows.sort(key=lambda row: -max(row[1], row[2]))
        rest = rows[PLOT_BINS - 1 :]
        rows = rows[: PLOT_BINS - 1]
        rows.append((f"{len(rest)} others", sum(r for _, r, _ in rest), sum(n for _, _, n in rest)))
    return [b for b, _, _ in rows], [r for _, r, _ in rows], [n for _, _, n in rows]


def blocks(found: Drift, pictures: Mapping[str, bytes], heading: str = "Drift") -> list[Block]:
    """The comparison as report blocks: how the columns and the predictions moved (with
    the `pictures` made by `images`), the columns apart, and the verdict."""
    from automl.render import Image, Table

    out: list[Block] = [
        ("h2", heading),
        (
            "p",
            f"{found.rows:,} rows of {found.source} beside the {found.reference_rows:,} rows the"
            " model was trained on, column by column: the population stability index (PSI)"
            " over the training data's deciles or categories and its missing values, moderate"
            f" drift from {found.moderate:g}, major from {found.major:g}; the share of values"
            " in categories training never had (unseen), of numbers beyond the training range"
            " (out of range), and the change in the share of missing values.",
        ),
        ("p", verdict(found)),
        ("table", Table(COLUMN_HEADER, [column_cells(c) for c in found.columns])),
    ]
    if found.prediction is not None:
        out.append(("p", prediction_words(found)))
    if found.unused:
        out += [
            ("h3", "Columns the model does not use"),
            ("table", Table(COLUMN_HEADER, [column_cells(c) for c in found.unused])),
        ]
    out += [("p", line) for line in apart_words(found)]
    titles = {name: title for name, (_, title) in _pictured(found).items()}
    out += [("img", Image(name, titles.get(name, name))) for name in pictures]
    return out


def column_cells(column: ColumnDrift) -> list[str]:
    """A column's row of the drift table (`COLUMN_HEADER`), as text."""
    return [
        column.name,
        column.level,
        f"{column.psi:.3f}",
        _percent(column.unseen),
        _percent(column.out_of_range),
        f"{column.missing_reference:.1%} -> {column.missing:.1%}",
    ]


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.1%}"


def prediction_words(found: Drift) -> str:
    """The drift of the predictions, in a sentence."""
    moved = found.prediction
    assert moved is not None
    return (
        f"The model's predictions ({moved.name}) on these rows, beside its"
        f" out-of-fold predictions on the training rows: PSI {moved.psi:.3f}, {WORDS[moved.level]}."
    )


def apart_words(found: Drift) -> list[str]:
    """A sentence on the columns the training table did not have, if any."""
    if not found.new_columns:
        return []
    return [
        f"New columns, which the training table did not have (not compared):"
        f" {_names(found.new_columns)}."
    ]


def documents(found: Drift, card: Mapping[str, Any], model: str) -> dict[str, bytes]:
    """The files `automl drift --output` writes: the comparison (and, with the target, the
    model's scores on the rows) as Markdown, as HTML (plots embedded) and as JSON, and the
    plots."""
    from automl.bundle import model_words
    from automl.render import html_page, markdown

    pictures = images(found)
    title = f"Drift of {found.source} from the training data of {card['target']} ({card['task']})"
    document: list[Block] = [("h1", title), *blocks(found, pictures)]
    if found.evaluation is not None:
        from automl import evaluate

        scored = evaluate.images(found.evaluation, prefix="evaluation_")
        about = (
            f"The model in {model} ({model_words(card['best'])}), scored on the"
            f" {found.evaluation.rows} labelled rows of {found.source}."
        )
        document += evaluate.blocks(found.evaluation, card, scored, "Scores on these rows", about)
        pictures = {**pictures, **scored}
    files = dict(pictures)
    files["drift.md"] = markdown(document).encode()
    files["drift.html"] = html_page(document, pictures, title).encode()
    files["drift.json"] = as_json(summary(found, card))
    return files
