"""Reading tables and inferring column kinds and the task."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.contract import Task
from automl.data import infer_schema, infer_task, prepare, read_table
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
