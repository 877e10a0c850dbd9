"""Read tables, infer what each column is and what the task is, and prepare model input.

The schema inferred here is stored in the model card; `prepare` applies it again at
prediction time so the saved pipeline always sees columns of the same kinds.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from automl.contract import Task
from automl.errors import AutoMLWarning, DataError

Kind = Literal["numeric", "boolean", "categorical", "datetime"]

READERS = {".csv": ",", ".tsv": "\t", ".parquet": None}
DATE_PARTS = ("year", "month", "day", "day_of_week", "day_of_year", "hour")
# A string column with more distinct values than this share of its rows, and more than
# MIN_IDENTIFIER_UNIQUE of them, is an identifier or free text: one-hot or ordinal codes of
# it would only let the model memorise rows.
IDENTIFIER_SHARE = 0.5
MIN_IDENTIFIER_UNIQUE = 50
MAX_MULTICLASS_INTEGERS = 20
CATEGORIES_IN_CARD = 50
_DATE_LIKE = re.compile(r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?")


@dataclass
class Column:
    """One input column as the model uses it."""

    name: str
    kind: Kind
    dtype: str
    categories: list[str] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)

    def feature_names(self) -> list[str]:
        if self.kind == "datetime":
            return [f"{self.name}__{part}" for part in self.parts]
        return [self.name]


@dataclass
class Schema:
    """The input columns, the target and the task, as inferred from the training table."""

    target: str
    task: Task
    columns: list[Column]
    dropped: dict[str, str] = field(default_factory=dict)
    classes: list[Any] | None = None

    @property
    def numeric_features(self) -> list[str]:
        return [f for c in self.columns if c.kind != "categorical" for f in c.feature_names()]

    @property
    def categorical_features(self) -> list[str]:
        return [c.name for c in self.columns if c.kind == "categorical"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "task": str(self.task),
            "columns": [asdict(c) for c in self.columns],
            "dropped": self.dropped,
            "classes": self.classes,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        return cls(
            target=data["target"],
            task=Task(data["task"]),
            columns=[Column(**c) for c in data["columns"]],
            dropped=dict(data.get("dropped", {})),
            classes=data.get("classes"),
        )


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a .csv, .tsv or .parquet file, or raise `DataError` saying why not."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise DataError(
            f"Cannot read {path}: unsupported file type {suffix or '(none)'!r}.",
            hint="Give a .csv, .tsv or .parquet file.",
        )
    if not path.is_file():
        raise DataError(f"Cannot read {path}: no such file.", hint="Check the path.")
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep=READERS[suffix], low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"Cannot read {path}: the file is empty.") from None
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"Cannot read {path} as {suffix[1:]}: {first}",
            hint="Check that the file is complete and of the type its name says.",
        ) from None
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"The table {path} has no rows or no columns.")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def infer_task(target: pd.Series) -> Task:
    """Binary for two classes, multiclass for labels or few integers, regression otherwise."""
    values = target.dropna()
    n_unique = values.nunique()
    if n_unique == 2:
        return Task.BINARY
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return Task.MULTICLASS
    integral = bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))
    if integral and n_unique <= MAX_MULTICLASS_INTEGERS:
        return Task.MULTICLASS
    return Task.REGRESSION


def infer_schema(
    frame: pd.DataFrame, target: str, task: Task | None = None, source: str = "the table"
) -> Schema:
    """Infer the schema of `frame`; warn about dropped columns; check the target."""
    require_column(frame, target, source)
    y = frame[target]
    if y.dropna().nunique() < 2:
        raise DataError(
            f"The target column {target!r} in {source} has fewer than two distinct values,"
            " so there is nothing to learn.",
            hint="Choose another target column.",
        )
    task = Task(task) if task else infer_task(y)
    classes = _check_target(y, task, target, source)
    columns: list[Column] = []
    dropped: dict[str, str] = {}
    for name in frame.columns:
        if name == target:
            continue
        column, reason = _infer_column(frame[name])
        if column is None:
            dropped[name] = reason
        else:
            columns.append(column)
    for name, reason in dropped.items():
        warnings.warn(f"Column {name!r} dropped: {reason}.", AutoMLWarning, stacklevel=2)
    if not columns:
        raise DataError(
            f"No usable input column is left in {source} once the target and the dropped"
            " columns are set aside.",
            hint="Dropped: " + "; ".join(f"{k} ({v})" for k, v in dropped.items()),
        )
    return Schema(target=target, task=task, columns=columns, dropped=dropped, classes=classes)


def _check_target(y: pd.Series, task: Task, target: str, source: str) -> list[Any] | None:
    values = y.dropna()
    if task is Task.REGRESSION:
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise DataError(
                f"The target column {target!r} in {source} is not numeric, so it cannot be"
                " a regression target.",
                hint="Use --task binary or --task multiclass, or choose a numeric column.",
            )
        return None
    classes = sorted(values.unique().tolist(), key=lambda v: (str(type(v)), v))
    if task is Task.BINARY and len(classes) != 2:
        raise DataError(
            f"The target column {target!r} in {source} has {len(classes)} classes;"
            " binary classification needs exactly two.",
            hint="Use --task multiclass (or leave --task to be inferred).",
        )
    return [plain(c) for c in classes]


def plain(value: Any) -> Any:
    """A JSON-friendly Python scalar for a numpy/pandas scalar."""
    return value.item() if isinstance(value, np.generic) else value


def drop_missing_target(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    missing = frame[target].isna()
    if missing.any():
        warnings.warn(
            f"{int(missing.sum())} rows with a missing target {target!r} were dropped.",
            AutoMLWarning,
            stacklevel=2,
        )
        frame = frame.loc[~missing].reset_index(drop=True)
    return frame


def _infer_column(series: pd.Series) -> tuple[Column | None, str]:
    values = series.dropna()
    dtype = str(series.dtype)
    n_unique = values.nunique()
    if n_unique <= 1:
        return None, "constant" if len(values) else "empty"
    if pd.api.types.is_bool_dtype(series) or _all_bool(values):
        return Column(series.name, "boolean", dtype), ""
    if pd.api.types.is_numeric_dtype(series):
        if _is_row_number(values, len(series)):
            return None, "looks like a row number"
        return Column(series.name, "numeric", dtype), ""
    if pd.api.types.is_datetime64_any_dtype(series) or _date_like(values):
        parsed = _to_datetime(series)
        return Column(series.name, "datetime", dtype, parts=_useful_parts(parsed)), ""
    if n_unique > MIN_IDENTIFIER_UNIQUE and n_unique > IDENTIFIER_SHARE * len(values):
        return None, f"identifier or free text ({n_unique} distinct values)"
    top = values.astype(str).value_counts().index[:CATEGORIES_IN_CARD].tolist()
    return Column(series.name, "categorical", dtype, categories=top), ""


def _all_bool(values: pd.Series) -> bool:
    return values.dtype == object and values.map(lambda v: isinstance(v, bool | np.bool_)).all()


def _is_row_number(values: pd.Series, n_rows: int) -> bool:
    if not pd.api.types.is_integer_dtype(values) or len(values) != n_rows or n_rows < 3:
        return False
    steps = np.diff(values.to_numpy())
    return bool(np.all(steps == 1))


def _date_like(values: pd.Series) -> bool:
    sample = values.astype(str).head(200)
    if not sample.map(lambda v: bool(_DATE_LIKE.match(v))).mean() >= 0.95:
        return False
    return _to_datetime(sample).notna().mean() >= 0.95


def _to_datetime(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series):
        return series
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pd.to_datetime(series, errors="coerce")


def _useful_parts(parsed: pd.Series) -> list[str]:
    parts = [p for p in DATE_PARTS if p != "hour" or (parsed.dt.hour.fillna(0) != 0).any()]
    return [*parts, "elapsed_days"]


def prepare(frame: pd.DataFrame, schema: Schema, source: str = "the table") -> pd.DataFrame:
    """The model input for `frame`: schema columns only, each coerced to its kind.

    A missing column is an error; an extra one is ignored with a warning.
    """
    needed = [c.name for c in schema.columns]
    missing = [n for n in needed if n not in frame.columns]
    if missing:
        raise DataError(
            f"{source} lacks {len(missing)} column(s) the model was trained on:"
            f" {', '.join(map(repr, missing[:10]))}{' ...' if len(missing) > 10 else ''}.",
            hint="Give a table with the same columns as the training table.",
        )
    known = {*needed, schema.target, *schema.dropped}
    extra = [n for n in frame.columns if n not in known]
    if extra:
        warnings.warn(
            f"{source}: ignoring {len(extra)} column(s) the model does not use:"
            f" {', '.join(map(repr, extra[:10]))}{' ...' if len(extra) > 10 else ''}.",
            AutoMLWarning,
            stacklevel=2,
        )
    out: dict[str, pd.Series] = {}
    for column in schema.columns:
        series = frame[column.name]
        if column.kind == "categorical":
            out[column.name] = _as_category_strings(series)
        elif column.kind == "datetime":
            out.update(_date_parts(_to_datetime(series), column))
        else:
            out[column.name] = _as_float(series)
    return pd.DataFrame(out, index=frame.index)


def _as_float(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.astype(float)
    if series.dtype == object:
        series = series.map(lambda v: float(v) if isinstance(v, bool | np.bool_) else v)
    return pd.to_numeric(series, errors="coerce").astype(float)


def _as_category_strings(series: pd.Series) -> pd.Series:
    """Categories as Python strings with NaN for missing, whatever dtype the file gave."""
    out = series.astype(object)
    present = out.notna()
    out[present] = out[present].map(str)
    return out.where(present, np.nan)


def _date_parts(parsed: pd.Series, column: Column) -> dict[str, pd.Series]:
    parts: dict[str, pd.Series] = {}
    for part in column.parts:
        name = f"{column.name}__{part}"
        if part == "elapsed_days":
            seconds = (parsed - pd.Timestamp("1970-01-01", tz=parsed.dt.tz)).dt.total_seconds()
            parts[name] = seconds / 86400.0
        else:
            parts[name] = getattr(parsed.dt, part).astype(float)
    return parts


def encode_target(y: pd.Series, schema: Schema) -> np.ndarray:
    """Class labels as 0..K-1 codes in the order of `schema.classes`; floats for regression."""
    if schema.classes is None:
        return y.to_numpy(dtype=float)
    codes = pd.Categorical(y, categories=schema.classes).codes
    return np.asarray(codes, dtype=np.int64)


def fingerprint(frame: pd.DataFrame) -> str:
    """A SHA-256 of the table's contents, column names and shape."""
    digest = hashlib.sha256()
    digest.update(repr((frame.shape, list(frame.columns))).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def require_column(frame: pd.DataFrame, target: str, source: str) -> None:
    """Raise a `DataError` naming close matches when `target` is not a column of `frame`."""
    if target in frame.columns:
        return
    close = difflib.get_close_matches(target, list(frame.columns), n=3, cutoff=0.5)
    if close:
        hint = f"Did you mean {', '.join(map(repr, close))}?"
    else:
        listed = ", ".join(frame.columns[:20]) + (" ..." if len(frame.columns) > 20 else "")
        hint = f"Its columns are: {listed}."
    raise DataError(f"There is no column {target!r} in {source}.", hint=hint)
