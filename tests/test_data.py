"""Reading tables and inferring column kinds and the task."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from automl.contract import Task
from automl.data import encode_target, fingerprint, infer_schema, infer_task, prepare, read_table
from automl.errors import AutoMLWarning, DataError


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_reads_each_format(tmp_path, mixed, suffix):
    path = tmp_path / f"t{suffix}"
    if suffix == ".parquet":
        mixed.to_parquet(path)
    else:
        mixed.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    frame = read_table(path)
    assert frame.shape == mixed.shape
    assert list(frame.columns) == list(mixed.columns)


def test_column_kinds(mixed):
    mixed["customer"] = [f"C{i:05d}" for i in range(len(mixed))]
    mixed["row"] = range(len(mixed))
    mixed["country"] = "NL"
    with pytest.warns(AutoMLWarning) as caught:
        schema = infer_schema(mixed, "bought")
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {
        "age": "numeric",
        "income": "numeric",
        "city": "categorical",
        "member": "boolean",
        "joined": "datetime",
    }
    assert schema.dropped == {
        "customer": "identifier or free text (300 distinct values)",
        "row": "looks like a row number",
        "country": "constant",
    }
    assert len(caught) == 3
    assert schema.task is Task.BINARY and schema.classes == ["no", "yes"]


def test_dates_expand_to_parts(mixed):
    schema = infer_schema(mixed, "bought")
    X = prepare(mixed, schema)
    assert {"joined__year", "joined__month", "joined__day_of_week", "joined__elapsed_days"} <= set(
        X.columns
    )
    assert "joined__hour" not in X.columns  # dates without times have no useful hour
    assert X["joined__year"].iloc[0] == 2020 and X["joined__month"].iloc[0] == 1
    assert X["joined__elapsed_days"].diff().dropna().eq(1).all()


def test_prepare_coerces_kinds_whatever_the_file_gave(mixed):
    schema = infer_schema(mixed, "bought")
    new = mixed.head(4).copy()
    new["age"] = ["30", "forty", None, "50"]  # numbers as text, one not a number
    new["city"] = [1, 2, None, "north"]  # categories with other types
    with pytest.warns(AutoMLWarning, match=r"'age' in the table: 1 value\(s\) are not numbers"):
        X = prepare(new, schema)
    assert X["age"].tolist()[0] == 30.0 and np.isnan(X["age"].tolist()[1])
    assert X["city"].tolist()[:2] == ["1", "2"] and pd.isna(X["city"].iloc[2])


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b"] * 10, Task.BINARY),
        ([0, 1] * 10, Task.BINARY),
        ([True, False] * 10, Task.BINARY),
        (["a", "b", "c"] * 10, Task.MULTICLASS),
        ([1, 2, 3, 4, 5] * 10, Task.MULTICLASS),
        (list(np.linspace(0, 1, 30)), Task.REGRESSION),
        (list(range(100)), Task.REGRESSION),
    ],
)
def test_task_inference(values, task):
    assert infer_task(pd.Series(values)) is task


def test_task_override_is_checked(mixed):
    schema = infer_schema(mixed, "age", Task.REGRESSION)
    assert schema.task is Task.REGRESSION and schema.classes is None
    with pytest.raises(DataError, match="not numeric"):
        infer_schema(mixed, "city", Task.REGRESSION)


def test_no_usable_column_left():
    frame = pd.DataFrame({"id": [f"x{i}" for i in range(100)], "y": [0, 1] * 50})
    with pytest.raises(DataError, match="No usable input column"), pytest.warns(AutoMLWarning):
        infer_schema(frame, "y")


def test_integers_are_read_into_the_smallest_type_that_holds_them(tmp_path):
    frame = pd.DataFrame(
        {
            "small": [0, 1, -100] * 10,
            "medium": [0, 1_000, -30_000] * 10,
            "large": [0, 70_000, -(2**31)] * 10,
            "huge": [0, 1, 2**40] * 10,
            "y": ["a", "b", "a"] * 10,
        }
    )
    frame.to_csv(tmp_path / "t.csv", index=False)
    read = read_table(tmp_path / "t.csv")
    assert [str(t) for t in read.dtypes[:4]] == ["int8", "int16", "int32", "int64"]
    assert read.drop(columns="y").astype("int64").equals(frame.drop(columns="y"))


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        ([0.1, 2.5, 123.456, -99999.9, 1e-5], "float32"),  # at most 6 significant digits
        ([123456.7, 0.5, 1.0], "float64"),  # 7 digits: float32 would change it
        ([1.7e9 + 0.25, 1.7e9 + 0.5, 1.0], "float64"),  # a timestamp with fractions
        ([3e39, 1.0, 2.0], "float64"),  # beyond float32's range
        ([1e-40, 1.0, 2.0], "float64"),  # below float32's normal numbers
        ([1, 2, 2**24], "float32"),  # integers float32 holds exactly
        ([1, 2, 2**24 + 1], "float64"),
        ([np.nan, np.inf, 0.5, 1.5], "float32"),  # gaps and infinities do not count
    ],
)
def test_features_are_float32_only_when_every_value_survives(values, dtype):
    x = values * 6
    frame = pd.DataFrame({"x": x, "y": ["a", "b"] * (len(x) // 2)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AutoMLWarning)
        X = prepare(frame, infer_schema(frame, "y"))
    assert str(X["x"].dtype) == dtype
    finite = np.isfinite(frame["x"])
    if dtype == "float32":  # every value prints back as the same decimal
        shown = [f"{v:.6g}" for v in X["x"][finite].astype(float)]
        assert shown == [f"{v:.6g}" for v in frame["x"][finite]]
    else:
        assert X["x"][finite].tolist() == frame["x"][finite].tolist()


def test_a_float_target_keeps_its_exact_values(tmp_path):
    frame = pd.DataFrame({"x": range(20), "y": [0.1, 0.7] * 10})
    frame["x"] = frame["x"] % 7
    frame.to_csv(tmp_path / "t.csv", index=False)
    read = read_table(tmp_path / "t.csv")
    schema = infer_schema(read, "y")
    assert schema.classes == [0.1, 0.7]
    assert encode_target(read["y"], schema).tolist() == [0, 1] * 10


@pytest.mark.parametrize(
    ("values", "first"),
    [
        (["2021-03-04", "04/03/2021", "March 4, 2021"], "2021-04-03"),  # month first
        (["2021-03-04", "04/03/2021", "13/03/2021"], "2021-03-04"),  # a 13th: day first
    ],
)
def test_mixed_date_formats_are_read_value_by_value(values, first):
    frame = pd.DataFrame({"d": values * 10, "y": ["a", "b"] * 15})
    schema = infer_schema(frame, "y")
    assert schema.columns[0].kind == "datetime"
    with pytest.warns(AutoMLWarning, match="more than one format"):
        X = prepare(frame, schema)
    day = pd.Timestamp(first)
    assert (X["d__month"].iloc[1], X["d__day"].iloc[1]) == (day.month, day.day)
    assert X["d__year"].notna().all()


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["1.5", "2", "3.25", "4", "5.5", "6", "7", "8.5", "?", "-"] * 5, "numeric"),  # markers
        (["A1", "B2", "3", "4", "C5"] * 10, "categorical"),  # codes, some of them digits
        (["1", "2", "3", "x", "y", "z", "w"] * 10, "categorical"),  # too many other tokens
        (["March", "May", "June"] * 10, "categorical"),  # month names alone are no dates
    ],
)
def test_text_columns_that_are_numbers_or_not(values, kind):
    frame = pd.DataFrame({"c": values, "y": ["a", "b"] * (len(values) // 2)})
    assert infer_schema(frame, "y").columns[0].kind == kind


def test_reading_refuses_directories_and_binary_files(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataError, match="is a directory"):
        read_table(tmp_path / "dir.csv")
    (tmp_path / "sheet.csv").write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(DataError, match="binary file"):
        read_table(tmp_path / "sheet.csv")


def test_nested_columns_are_dropped_and_fingerprinted(tmp_path):
    frame = pd.DataFrame({"tags": [[1, 2], [3]] * 10, "x": range(20), "y": ["a", "b"] * 10})
    frame["x"] = frame["x"] % 3
    frame.to_parquet(tmp_path / "t.parquet")
    read = read_table(tmp_path / "t.parquet")
    with pytest.warns(AutoMLWarning, match="'tags' dropped: it holds lists"):
        schema = infer_schema(read, "y")
    assert [c.name for c in schema.columns] == ["x"]
    assert fingerprint(read) == fingerprint(read_table(tmp_path / "t.parquet"))
    changed = read.copy()
    changed.loc[0, "tags"] = [9]
    assert fingerprint(changed) != fingerprint(read)


def test_a_line_with_more_values_than_the_header_is_refused_not_shifted(tmp_path):
    # pandas would take the first value for a row index and shift every column by one.
    (tmp_path / "t.csv").write_text("a,b\n1,2,3\n4,5\n")
    with pytest.raises(DataError, match="more values than the header has columns"):
        read_table(tmp_path / "t.csv")


def test_dates_with_several_utc_offsets_are_read_in_utc():
    frame = pd.DataFrame(
        {
            "when": ["2024-01-01T10:00:00+01:00", "2024-06-01T10:00:00+02:00"] * 10,
            "y": ["a", "b"] * 10,
        }
    )
    schema = infer_schema(frame, "y")
    prepared = prepare(frame, schema)
    assert prepared["when__hour"].tolist()[:2] == [9.0, 8.0]
