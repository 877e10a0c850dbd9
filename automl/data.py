"""Read tables, infer what each column is and what the task is, and prepare model input.

The schema inferred here is stored in the model card; `prepare` applies it again at
prediction time so the saved pipeline always sees columns of the same kinds.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import re
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from automl.contract import Task
from automl.errors import AutoMLWarning, DataError

Kind = Literal["numeric", "boolean", "categorical", "datetime"]

READERS = {".csv": ",", ".tsv": "\t", ".parquet": None}
# When a text file parses into a single column, these are tried on its first lines.
DELIMITERS = (",", ";", "\t", "|")
SNIFF_LINES = 20
HEAD_BYTES = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
DATE_PARTS = ("year", "month", "day", "day_of_week", "day_of_year", "hour")
# A string column with more distinct values than this share of its rows, and more than
# MIN_IDENTIFIER_UNIQUE of them, is an identifier or free text: one-hot or ordinal codes of
# it would only let the model memorise rows.
IDENTIFIER_SHARE = 0.5
MIN_IDENTIFIER_UNIQUE = 50
MAX_MULTICLASS_INTEGERS = 20
CATEGORIES_IN_CARD = 50
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE_LIKE = re.compile(
    r"^\s*(?:\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?"
    rf"|\d{{1,2}}\s+{_MONTH},?\s+\d{{4}}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})",
    re.IGNORECASE,
)
# Day, month and year in digits: "04/03/2021" (which of the first two is the day is ambiguous).
_NUMERIC_DATE = r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}"
# A text column whose values are numbers, but for this share and at most this many distinct
# other tokens ("?", "-", "n.a."), is numeric; the tokens are read as missing.
NUMBERS_SHARE = 0.8
MAX_MISSING_MARKERS = 3
# Fewer rows than this cannot be cross-validated (two folds of two rows).
MIN_ROWS = 4
# float32: integers exact up to 2**24; any decimal of up to 6 significant digits round-trips.
FLOAT32_EXACT_INTEGER = 2**24
FLOAT32_DIGITS = 6
FLOAT32_MAX = float(np.finfo(np.float32).max)
FLOAT32_TINY = float(np.finfo(np.float32).tiny)
SAMPLE_FOR_DIGITS = 10_000


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
    """Read a .csv, .tsv or .parquet file, or raise `DataError` saying why not.

    Text files that are not UTF-8, or use another delimiter than their name says, are read
    anyway with a warning; integer columns are stored in the smallest integer type that
    holds them (see `downcast_integers`).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise DataError(
            f"Cannot read {path}: unsupported file type {suffix or '(none)'!r}.",
            hint="Give a .csv, .tsv or .parquet file.",
        )
    if path.is_dir():
        raise DataError(f"Cannot read {path}: it is a directory.", hint="Give the path of a file.")
    if not path.is_file():
        raise DataError(f"Cannot read {path}: no such file.", hint="Check the path.")
    try:
        frame = pd.read_parquet(path) if suffix == ".parquet" else _read_text(path, suffix)
    except PermissionError:
        raise DataError(
            f"Cannot read {path}: permission denied.",
            hint="Give yourself read access (chmod u+r), or run automl as a user who may read it.",
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(
            f"Cannot read {path}: the file is empty.",
            hint="Give a file with a header row and at least a few rows of data.",
        ) from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(
            f"Cannot read {path} as {suffix[1:]}: {_first_line(exc)}", hint=_parse_hint(exc)
        ) from None
    if frame.shape[1] == 0:
        raise DataError(f"The table {path} has no columns.", hint="Give a table with a header.")
    if frame.shape[0] == 0:
        raise DataError(
            f"The table {path} has a header but no rows of data.",
            hint="Give a file with at least a few rows of data under the header.",
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    _check_names(list(frame.columns), path)
    return downcast_integers(frame)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _parse_hint(exc: BaseException) -> str:
    text = str(exc)
    if "EOF inside string" in text:
        return 'A quote (") opened in that row is never closed: fix the quoting of that value.'
    if "Expected" in text and "fields" in text:
        return (
            "That line has more values than the header has columns: quote values that"
            " contain the delimiter, or fix the line."
        )
    return "Check that the file is complete and of the type its name says."


def _read_text(path: Path, suffix: str) -> pd.DataFrame:
    """Parse a delimited text file, falling back on other encodings and delimiters."""
    sep = READERS[suffix]
    head = _head(path)
    encoding = "utf-8"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif b"\x00" in head:
        raise DataError(
            f"Cannot read {path}: it is a binary file, not {suffix[1:]} text"
            f"{' (gzip-compressed)' if head.startswith(GZIP_MAGIC) else ''}.",
            hint="Decompress it, or export the sheet or table as CSV (UTF-8), and give that.",
        )
    source: Path | io.StringIO = path
    text = head.decode(encoding, errors="replace")
    try:
        frame = _parse(source, sep, encoding)
    except UnicodeDecodeError:
        source, n_lines = _decode_lines(path.read_bytes())
        text = source.getvalue()[:HEAD_BYTES]
        warnings.warn(
            f"{path} is not valid UTF-8: {n_lines} line(s) were read as Windows-1252"
            " (Western European). Save the file as UTF-8 to be sure every value reads right.",
            AutoMLWarning,
            stacklevel=3,
        )
        frame = None
    except pd.errors.ParserError:
        frame = None  # perhaps another delimiter; if not, parsing again says what is wrong
    text = text.lstrip("\ufeff")
    other = _sniff_delimiter(text, sep) if frame is None or frame.shape[1] == 1 else None
    if other is not None:
        decimal = "," if other == ";" else "."
        if isinstance(source, io.StringIO):
            source.seek(0)
        frame = _parse(source, other, encoding, decimal)
        warnings.warn(
            f"{path} is separated by {other!r}, not {sep!r}; it was read that way"
            + (" (with ',' as the decimal mark)." if decimal == "," else "."),
            AutoMLWarning,
            stacklevel=3,
        )
        sep = other
    elif frame is None:
        if isinstance(source, io.StringIO):
            source.seek(0)
        frame = _parse(source, sep, encoding)
    # pandas renames a repeated header `a` to `a.1`: look for repeats in the header itself.
    lines = text.splitlines()
    if lines:
        header = [name.strip() for name in next(csv.reader(lines[:1], delimiter=sep))]
        _check_names(header, path)
    return frame


def _parse(source: Path | io.StringIO, sep: str, encoding: str, decimal: str = ".") -> pd.DataFrame:
    # Left to itself, pandas takes a first row with one value more than the header for a
    # row index and shifts every column by one; with index_col=False it drops the value
    # with a warning. Either way values are lost: it is an error.
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return pd.read_csv(
                source,
                sep=sep,
                decimal=decimal,
                encoding=encoding if isinstance(source, Path) else None,
                skipinitialspace=True,
                low_memory=False,
                index_col=False,
            )
        except pd.errors.ParserWarning:
            raise pd.errors.ParserError(
                "Expected as many fields as the header in each line; one has more"
            ) from None


def _head(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(HEAD_BYTES)


def _decode_lines(raw: bytes) -> tuple[io.StringIO, int]:
    """Each line as UTF-8 if it is, else as Windows-1252 (Latin-1 for its five gaps): a file
    saved by an old Windows program, or appended to by programs using different encodings."""
    lines = raw.split(b"\n")
    fallback = 0
    for i, line in enumerate(lines):
        try:
            lines[i] = line.decode("utf-8")
        except UnicodeDecodeError:
            fallback += 1
            try:
                lines[i] = line.decode("cp1252")
            except UnicodeDecodeError:
                lines[i] = line.decode("latin-1")
    return io.StringIO("\n".join(lines)), fallback


def _sniff_delimiter(text: str, sep: str) -> str | None:
    """The delimiter that splits the first lines into the same number (>1) of fields."""
    lines = [line for line in text.splitlines()[:SNIFF_LINES] if line.strip()]
    if len(text) >= HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut short
    for candidate in DELIMITERS:
        if candidate == sep or not lines:
            continue
        counts = [len(next(csv.reader([line], delimiter=candidate))) for line in lines]
        if counts[0] > 1 and all(c == counts[0] for c in counts):
            return candidate
    return None


def _check_names(names: list[str], path: Path) -> None:
    """Duplicate column names would make "the column X" ambiguous: refuse them."""
    repeated = sorted(n for n, count in Counter(names).items() if count > 1)
    if repeated:
        raise DataError(
            f"The header of {path} names the column(s) {', '.join(map(repr, repeated[:10]))}"
            " more than once, so automl cannot tell which one is meant.",
            hint="Rename the repeated columns so that every column name is unique.",
        )


def downcast_integers(frame: pd.DataFrame) -> pd.DataFrame:
    """Integer columns in the smallest integer type that holds their values (lossless).

    Floats keep their type here, so a float target keeps its exact values; `prepare` gives
    the model float32 features where that loses nothing (see `_as_float`).
    """
    for name in frame.columns:
        if pd.api.types.is_integer_dtype(frame[name]) and frame[name].dtype.kind in "iu":
            frame[name] = pd.to_numeric(frame[name], downcast="integer")
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
    if _nested(y.dropna()):
        raise DataError(
            f"The target column {target!r} in {source} holds lists or records, not values.",
            hint="Choose a column of labels or numbers as the target.",
        )
    n_rows = int(y.notna().sum())
    if n_rows == 0:
        raise DataError(
            f"The target column {target!r} in {source} is empty: no row has a value in it.",
            hint="Check that it is the right column, and that its values are in the file.",
        )
    if n_rows < MIN_ROWS:
        raise DataError(
            f"{source} has only {n_rows} row(s) with a value in the target column {target!r};"
            f" automl needs at least {MIN_ROWS} to learn and to cross-validate what it learnt.",
            hint="Give a table with more rows.",
        )
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
    counts = values.value_counts()
    single = counts[counts < 2]
    if len(single) == len(counts):
        raise DataError(
            f"Every value of the target column {target!r} in {source} occurs in one row only:"
            " it looks like an identifier, not something to predict.",
            hint="Choose another target column (or --task regression for a number).",
        )
    if len(single):
        labels = ", ".join(map(repr, single.index[:5].tolist()))
        raise DataError(
            f"The target column {target!r} in {source} has {len(single)} class(es) with a single"
            f" row ({labels}{', ...' if len(single) > 5 else ''}): cross-validation cannot both"
            " learn such a class and test it.",
            hint="Remove those rows or merge those classes into others; every class needs at"
            " least as many rows as there are folds (--cv, 5 by default).",
        )
    return [plain(c) for c in classes]


def plain(value: Any) -> Any:
    """A JSON-friendly Python scalar for a numpy/pandas scalar."""
    return value.item() if isinstance(value, np.generic) else value


def json_default(value: Any) -> Any:
    """For `json.dumps(..., default=json_default)`: numpy numbers as numbers, anything
    else it cannot write as text."""
    return plain(value) if isinstance(value, np.generic) else str(value)


def drop_missing_target(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """`frame` without the rows whose target is missing (or infinite), with a warning.

    When no row has a target, all rows go without a warning: `infer_schema` says why.
    """
    y = frame[target]
    missing = y.isna()
    if pd.api.types.is_float_dtype(y):
        missing |= np.isinf(y.to_numpy(dtype=float, na_value=np.nan))
    if missing.all():
        return frame.iloc[:0]
    if missing.any():
        infinite = int(missing.sum() - y.isna().sum())
        warnings.warn(
            f"{int(missing.sum())} rows with a missing target {target!r} were dropped"
            + (f" ({infinite} of them infinite)." if infinite else "."),
            AutoMLWarning,
            stacklevel=2,
        )
        frame = frame.loc[~missing].reset_index(drop=True)
    return frame


def _infer_column(series: pd.Series) -> tuple[Column | None, str]:
    values = series.dropna()
    dtype = str(series.dtype)
    if _nested(values):
        return None, "it holds lists or records; flatten them into columns of their own"
    if not len(values):
        return None, "empty"
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        # min and max, not a count of distinct values: ten times faster on a big table
        if values.min() == values.max():
            return None, "constant"
        if _is_row_number(values, len(series)):
            return None, "looks like a row number"
        return Column(series.name, "numeric", dtype), ""
    n_unique = values.nunique()
    if n_unique <= 1:
        return None, "constant"
    if pd.api.types.is_bool_dtype(series) or _all_bool(values):
        return Column(series.name, "boolean", dtype), ""
    if pd.api.types.is_datetime64_any_dtype(series) or _date_like(values):
        parsed, _ = to_datetime(series)
        return Column(series.name, "datetime", dtype, parts=_useful_parts(parsed)), ""
    if _numbers_with_markers(values):
        return Column(series.name, "numeric", dtype), ""
    if n_unique > MIN_IDENTIFIER_UNIQUE and n_unique > IDENTIFIER_SHARE * len(values):
        return None, f"identifier or free text ({n_unique} distinct values)"
    top = values.astype(str).value_counts().index[:CATEGORIES_IN_CARD].tolist()
    return Column(series.name, "categorical", dtype, categories=top), ""


def _all_bool(values: pd.Series) -> bool:
    return values.dtype == object and values.map(lambda v: isinstance(v, bool | np.bool_)).all()


def _nested(values: pd.Series) -> bool:
    if values.dtype != object:
        return False
    nested = values.head(100).map(lambda v: isinstance(v, list | dict | tuple | np.ndarray))
    return bool(nested.any())


def _is_row_number(values: pd.Series, n_rows: int) -> bool:
    if not pd.api.types.is_integer_dtype(values) or len(values) != n_rows or n_rows < 3:
        return False
    steps = np.diff(values.to_numpy(dtype=np.int64))
    return bool(np.all(steps == 1))


def _numbers_with_markers(values: pd.Series) -> bool:
    """Numbers written as text because a few tokens such as "?" or "-" mark missing ones."""
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().mean() < NUMBERS_SHARE:
        return False
    return values[numbers.isna()].nunique() <= MAX_MISSING_MARKERS


def _date_like(values: pd.Series) -> bool:
    sample = values.astype(str).head(200)
    if not sample.map(lambda v: bool(_DATE_LIKE.match(v))).mean() >= 0.95:
        return False
    return to_datetime(sample)[0].notna().mean() >= 0.95


def to_datetime(series: pd.Series) -> tuple[pd.Series, str | None]:
    """The values as dates, and how they were read when the column mixes formats.

    pandas reads a whole column in the format of its first value; when that leaves some
    values unread, each value is read on its own, day first if any value shows it must be.
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        return series, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parsed = pd.to_datetime(series, errors="coerce")
        except ValueError:  # offsets of several time zones: compare them in UTC
            parsed = pd.to_datetime(series, errors="coerce", utc=True)
        if not (parsed.isna() & series.notna()).any():
            return parsed, None
        day_first = _day_first(series)
        mixed = pd.to_datetime(
            series,
            errors="coerce",
            format="mixed",
            dayfirst=day_first,
            utc=parsed.dt.tz is not None,
        )
    if mixed.notna().sum() <= parsed.notna().sum():
        return parsed, None
    return mixed, "day/month/year" if day_first else "month/day/year"


def _day_first(series: pd.Series) -> bool:
    parts = series.dropna().astype(str).str.extract(_NUMERIC_DATE).dropna().astype(int)
    return bool(len(parts)) and bool((parts[0] > 12).any() and not (parts[1] > 12).any())


def _useful_parts(parsed: pd.Series) -> list[str]:
    parts = [p for p in DATE_PARTS if p != "hour" or (parsed.dt.hour.fillna(0) != 0).any()]
    return [*parts, "elapsed_days"]


def prepare(frame: pd.DataFrame, schema: Schema, source: str = "the table") -> pd.DataFrame:
    """The model input for `frame`: schema columns only, each coerced to its kind.

    A missing column is an error; an extra one is ignored with a warning; values that do
    not fit the column's kind (text in a numeric column, infinities) become missing, with
    a warning. Numbers are float32 where that keeps every value (see `_float_type`).
    """
    check_columns(frame, schema, source)
    out: dict[str, pd.Series] = {}
    for column in schema.columns:
        series = frame[column.name]
        if column.kind == "categorical":
            out[column.name] = _as_category_strings(series)
        elif column.kind == "datetime":
            parsed, formats = to_datetime(series)
            if formats:
                _warn(
                    f"Column {column.name!r} in {source} has dates in more than one format;"
                    f" each value was read on its own, as {formats} where ambiguous."
                )
            _warn_unread(series, parsed, column.name, source, "dates")
            out.update(_date_parts(parsed, column))
        else:
            numbers = _as_float(series)
            _warn_unread(series, numbers, column.name, source, "numbers")
            out[column.name] = _finite(numbers, column.name, source)
    return pd.DataFrame(out, index=frame.index, copy=False)


def check_columns(frame: pd.DataFrame, schema: Schema, source: str = "the table") -> pd.DataFrame:
    """`frame` with only the columns the schema knows; a `DataError` naming any that are
    missing (and close names the table has), a warning naming any that are ignored."""
    needed = [c.name for c in schema.columns]
    missing = [n for n in needed if n not in frame.columns]
    if missing:
        known = set(needed)
        spare = [str(c) for c in frame.columns if c not in known]
        close = {m: difflib.get_close_matches(m, spare, n=1, cutoff=0.6) for m in missing[:10]}
        similar = [f"{c[0]!r} for {m!r}" for m, c in close.items() if c]
        raise DataError(
            f"{source} lacks {len(missing)} column(s) the model was trained on:"
            f" {', '.join(map(repr, missing[:10]))}{' ...' if len(missing) > 10 else ''}.",
            hint=(f"It has {', '.join(similar)}: rename to match. " if similar else "")
            + "Give a table with the same columns as the training table (in any order).",
        )
    known = {*needed, schema.target, *schema.dropped}
    extra = [n for n in frame.columns if n not in known]
    if extra:
        _warn(
            f"{source}: ignoring {len(extra)} column(s) the model does not use:"
            f" {', '.join(map(repr, extra[:10]))}{' ...' if len(extra) > 10 else ''}."
        )
        frame = frame.drop(columns=extra)
    return frame


def _warn(message: str) -> None:
    warnings.warn(message, AutoMLWarning, stacklevel=3)


def _warn_unread(
    series: pd.Series, converted: pd.Series, name: str, source: str, what: str
) -> None:
    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
        return  # nothing to convert, so nothing left unread
    unread = series[converted.isna() & series.notna()]
    if len(unread):
        examples = ", ".join(map(repr, unread.astype(str).unique()[:3].tolist()))
        _warn(
            f"Column {name!r} in {source}: {len(unread)} value(s) are not {what} ({examples})"
            " and are treated as missing."
        )


def _finite(numbers: pd.Series, name: str, source: str) -> pd.Series:
    infinite = np.isinf(numbers.to_numpy())
    if infinite.any():
        _warn(
            f"Column {name!r} in {source}: {int(infinite.sum())} infinite value(s) are treated"
            " as missing."
        )
        numbers = numbers.mask(infinite)
    return numbers


def _as_float(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.astype(np.float32)
    numbers = series
    if not pd.api.types.is_numeric_dtype(series):
        if series.dtype == object:
            series = series.map(lambda v: float(v) if isinstance(v, bool | np.bool_) else v)
        numbers = pd.to_numeric(series, errors="coerce")
    return numbers.astype(_float_type(numbers))


def _float_type(numbers: pd.Series) -> type[np.floating]:
    """float32 when it holds every value of the column as read, else float64.

    Integers up to 2**24 are exact in float32. A float column qualifies when every value
    has at most 6 significant decimal digits (FLT_DIG): each such decimal has its own
    float32, which prints back as the same decimal, so no two values merge and their order
    is kept: trees split alike and linear models see a relative change under 1e-7, at half
    the memory. Floats with more digits (computed values, timestamps, large amounts with
    cents) stay float64.
    """
    values = numbers.to_numpy()
    if values.dtype == np.float32:
        return np.float32
    if values.dtype.kind in "iu":
        small = not len(values) or np.abs(values).max() <= FLOAT32_EXACT_INTEGER
        return np.float32 if small else np.float64
    values = values[np.isfinite(values) & (values != 0)]
    for part in (values[:SAMPLE_FOR_DIGITS], values):
        if not _few_digits(part):
            return np.float64
    return np.float32


def _few_digits(values: np.ndarray) -> bool:
    if not len(values):
        return True
    size = np.abs(values)
    if size.max() > FLOAT32_MAX or size.min() < FLOAT32_TINY:
        return False
    scale = 10.0 ** (FLOAT32_DIGITS - 1 - np.floor(np.log10(size)))
    return bool(np.allclose(np.round(values * scale) / scale, values, rtol=1e-12, atol=0))


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
    nested = [name for name in frame.columns if _nested(frame[name].dropna())]
    if nested:  # lists and records from Parquet cannot be hashed as they are
        frame = frame.assign(**{name: frame[name].map(repr) for name in nested})
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
