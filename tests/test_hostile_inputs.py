"""The hostile-input corpus: messy or wrong files given to `automl run` and `automl predict`.

Each case writes a small file, runs the real command line on it (`automl.cli.main`, in
this process to keep the corpus fast) and checks what a user sees:

- an error: exit code 2 and one paragraph on stderr ("Error: ..." then a hint) naming
  the file and the column and saying what to do; no traceback; nothing written: `run`
  does not create its --output directory, `predict` leaves an existing --output file as
  it was;
- a file that is odd but usable: exit code 0, a warning saying what was done with it
  (where something was), and a model or predictions that show it was understood.

Errors in options and bundles are in test_errors.py.
"""

from __future__ import annotations

import contextlib
import ctypes
import gzip
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import make_mixed

import automl.cli
from automl.cli import main

QUICK = ["--algorithms", "linear", "--n-trials", "1", "--cv", "2", "--no-ensemble"]
QUICK += ["--time-budget", "60"]  # an upper bound: one trial ends the search
KEEP = "earlier predictions, to be kept\n"
CITIES = {"Zürich", "Köln", "Málaga", "Besançon"}


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def cli(*args: str) -> Result:
    """`automl ARGS` in this process, as the console script runs it."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as patch,
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
        pytest.raises(SystemExit) as exited,
    ):
        # The CLI counts the budget from the start of its process: here, from now.
        patch.setattr(automl.cli, "_STARTED", time.monotonic())
        main(list(args))
    return Result(int(exited.value.code or 0), stdout.getvalue(), stderr.getvalue())


# Files ----------------------------------------------------------------------------------


def table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """A small binary table: age, income, city, member, joined (dates) -> bought."""
    return make_mixed(n, seed)


def new_rows(n: int = 20) -> pd.DataFrame:
    """Rows to predict with the model trained on `table()`."""
    return table(n, seed=1).drop(columns=["bought"])


def write(frame: pd.DataFrame, path: Path, **options) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_csv(path, index=False, **options)
    return path


Make = Callable[[Path], tuple[Path, str]]  # writes DATA into a directory: (DATA, target)


def raw(content: str | bytes, name: str = "data.csv", target: str = "bought") -> Make:
    def make(tmp: Path) -> tuple[Path, str]:
        path = tmp / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path, target

    return make


def changed(
    change: Callable[[pd.DataFrame], pd.DataFrame],
    name: str = "data.csv",
    target: str = "bought",
    rows: Callable[[], pd.DataFrame] = table,
    **options,
) -> Make:
    def make(tmp: Path) -> tuple[Path, str]:
        return write(change(rows()), tmp / name, **options), target

    return make


def to_predict(change: Callable[[pd.DataFrame], pd.DataFrame], name: str = "new.csv") -> Make:
    return changed(change, name, rows=new_rows)


def lines(*rows: str, encoding: str = "utf-8") -> bytes:
    return "".join(f"{row}\n" for row in rows).encode(encoding)


def city_rows(start: int, stop: int) -> list[str]:
    """Rows of "income,city,bought" with accented city names and a learnable target."""
    names = sorted(CITIES)
    return [
        f"{1000 + 37 * i},{names[i % 4]},{'yes' if i % 4 < 2 else 'no'}" for i in range(start, stop)
    ]


def two_columns_named(names: str) -> bytes:
    return lines(names, *(f"{i},{i % 7},{i * 3},{'yes' if i % 2 else 'no'}" for i in range(30)))


def directory(tmp: Path) -> tuple[Path, str]:
    (tmp / "data.csv").mkdir()
    return tmp / "data.csv", "bought"


def dates_in_three_formats(frame: pd.DataFrame) -> pd.DataFrame:
    days = pd.date_range("2021-01-13", periods=len(frame), freq="D")
    formats = ("%Y-%m-%d", "%d/%m/%Y", "%B %d, %Y")  # 2021-01-13, 13/01/2021, January 13, 2021
    return frame.assign(joined=[d.strftime(formats[i % 3]) for i, d in enumerate(days)])


def with_infinities(frame: pd.DataFrame) -> pd.DataFrame:
    income = frame["income"].where(frame.index % 10 != 3, np.inf)
    return frame.assign(income=income.where(frame.index % 10 != 4, -np.inf))


def nested(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(
        tags=[[f"t{i % 3}", "x"] for i in range(len(frame))],
        address=[{"street": "Main", "number": i} for i in range(len(frame))],
    )


def wide(frame: pd.DataFrame) -> pd.DataFrame:
    values = np.random.default_rng(0).normal(size=(80, 5000)).round(3)
    wide = pd.DataFrame(values, columns=[f"c{i}" for i in range(5000)])
    return wide.assign(bought=np.where(values[:, 0] + values[:, 1] > 0, "yes", "no"))


def many_levels(frame: pd.DataFrame) -> pd.DataFrame:
    """100,000 levels, each in two rows: a real categorical, not an identifier."""
    rng = np.random.default_rng(0)
    codes = np.repeat(np.arange(100_000), 2)
    x = rng.normal(size=len(codes))
    signal = x + rng.normal(0, 0.5, len(codes)) > 0
    return pd.DataFrame({"code": [f"K{c:06d}" for c in codes], "x": x, "bought": signal})


# What was made --------------------------------------------------------------------------


def card(out: Path) -> dict:
    return json.loads((out / "model_card.json").read_text())


def kinds(out: Path) -> dict[str, str]:
    return {c["name"]: c["kind"] for c in card(out)["schema"]["columns"]}


def categories(out: Path, name: str) -> set[str]:
    (column,) = [c for c in card(out)["schema"]["columns"] if c["name"] == name]
    return set(column["categories"])


def predictions_of(out: Path, data: Path) -> pd.DataFrame:
    result = cli("predict", str(out), str(data), "--proba")
    assert result.code == 0, result.stderr
    return pd.read_csv(io.StringIO(result.stdout), dtype={"prediction": str})


def same_as_in_order(out: Path) -> bool:
    """Predictions for the reversed columns equal those for the columns in training order."""
    in_order = write(new_rows(), out.parent / "in-order.csv")
    return pd.read_csv(out).equals(predictions_of(out.parent / "model", in_order))


def probabilities(out: Path) -> bool:
    frame = pd.read_csv(out)
    return len(frame) == 20 and np.allclose(frame[["no", "yes"]].sum(axis=1), 1)


# The corpus -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    make: Make
    says: tuple[str, ...] = ()  # on stderr: the error, or the warnings
    works: Callable[[Path], bool] | None = None  # None: an error; else checks --output
    predict: bool = False  # `predict` with the corpus model, instead of `run`
    target: str | None = None  # --target, when not the one `make` gives


CASES = [
    # run: the file -------------------------------------------------------------------
    Case("empty-file", raw(""), ("data.csv", "is empty", "header row")),
    Case("blank-lines-only", raw("\n \n\n"), ("data.csv", "is empty")),
    Case("header-only", raw("age,city,bought\n"), ("data.csv", "header but no rows")),
    Case("directory-not-file", directory, ("data.csv", "is a directory")),
    Case(
        "gzip-named-csv",
        raw(gzip.compress(lines("age,bought", "1,yes", "2,no"))),
        ("data.csv", "binary file", "gzip", "export"),
    ),
    Case(
        "row-with-extra-field",
        raw("age,city,bought\n30,north,yes\n40,south,no\n50,east,west,yes\n"),
        ("data.csv", "Expected 3 fields in line 4, saw 4", "quote values"),
    ),
    Case(
        "unclosed-quote",
        raw('age,city,bought\n30,north,yes\n40,"south,no\n50,east,yes\n'),
        ("data.csv", "EOF inside string", "never closed"),
    ),
    Case(
        "duplicate-column-names",
        raw(two_columns_named("age,income,age,bought")),
        ("data.csv", "'age' more than once", "Rename"),
    ),
    Case(
        "duplicate-names-but-for-spaces",
        raw(two_columns_named("age,income,age ,bought")),
        ("data.csv", "'age' more than once", "Rename"),
    ),
    # run: the target -----------------------------------------------------------------
    Case(
        "one-row",
        raw("age,city,bought\n30,north,yes\n"),
        ("data.csv", "only 1 row(s)", "'bought'", "more rows"),
    ),
    Case(
        "unknown-target-close-names",
        changed(lambda f: f),
        ("data.csv", "no column 'Bought'", "Did you mean 'bought'"),
        target="Bought",
    ),
    Case(
        "constant-target",
        changed(lambda f: f.assign(bought="yes")),
        ("data.csv", "'bought'", "fewer than two distinct values", "another target"),
    ),
    Case(
        "class-with-one-member",
        changed(lambda f: f.assign(bought=["maybe", *f["bought"][1:]])),
        ("data.csv", "'bought'", "single row ('maybe')", "merge"),
    ),
    Case(
        "target-is-an-identifier",
        changed(lambda f: f.assign(bought=[f"order-{i}" for i in range(len(f))])),
        ("data.csv", "'bought'", "looks like an identifier", "another target"),
    ),
    Case(
        "all-missing-target",
        changed(lambda f: f.assign(bought=np.nan)),
        ("data.csv", "'bought'", "is empty", "right column"),
    ),
    Case(
        "nested-target",
        changed(lambda f: f.assign(bought=[[i % 2] for i in range(len(f))]), "data.parquet"),
        ("data.parquet", "'bought'", "lists or records", "labels or numbers"),
    ),
    Case(
        "no-usable-feature",
        changed(lambda f: f[["bought"]].assign(id=[f"c{i}" for i in range(len(f))])),
        ("data.csv", "No usable input column", "id (identifier"),
    ),
    # run: odd but usable ---------------------------------------------------------------
    Case(
        "all-nan-column",
        changed(lambda f: f.assign(notes=np.nan)),
        ("Column 'notes' dropped: empty",),
        works=lambda out: "notes" not in kinds(out) and "age" in kinds(out),
    ),
    Case(
        "inf-and-minus-inf",
        changed(with_infinities),
        ("Column 'income' in", "data.csv: 12 infinite value(s) are treated as missing"),
        works=lambda out: kinds(out)["income"] == "numeric",
    ),
    Case(
        "inf-in-regression-target",
        changed(lambda f: f.assign(age=f["age"].where(f.index > 1, np.inf)), target="age"),
        ("2 rows with a missing target 'age' were dropped (2 of them infinite)",),
        works=lambda out: card(out)["data"]["rows"] == 58,
    ),
    Case(
        "windows-1252-file",
        raw(lines("income,city,bought", *city_rows(0, 40), encoding="cp1252")),
        ("data.csv is not valid UTF-8", "Windows-1252", "Save the file as UTF-8"),
        works=lambda out: categories(out, "city") == CITIES,
    ),
    Case(
        "mixed-encodings",  # the same city in either encoding: still four categories
        raw(
            lines("income,city,bought", *city_rows(0, 20))
            + lines(*city_rows(20, 40), encoding="cp1252")
        ),
        ("data.csv is not valid UTF-8: 20 line(s)",),
        works=lambda out: categories(out, "city") == CITIES,
    ),
    Case(
        "utf16-with-bom",
        raw(lines("income,city,bought", *city_rows(0, 40), encoding="utf-16")),
        works=lambda out: categories(out, "city") == CITIES,
    ),
    Case(
        "utf8-bom-on-the-target-name",
        raw(
            b"\xef\xbb\xbf"
            + lines("bought,age", *(f"{'ny'[i % 3 > 0]},{i * 7 % 50}" for i in range(40)))
        ),
        works=lambda out: card(out)["target"] == "bought",
    ),
    Case(
        "semicolons-and-decimal-commas",
        changed(lambda f: f, sep=";", decimal=","),
        ("data.csv is separated by ';', not ','", "',' as the decimal mark"),
        works=lambda out: kinds(out)["income"] == "numeric",
    ),
    Case(
        "tsv-that-is-comma-separated",
        changed(lambda f: f, "data.tsv"),
        ("data.tsv is separated by ',', not '\\t'",),
        works=lambda out: kinds(out)["city"] == "categorical",
    ),
    Case(
        "spaces-after-commas",
        raw(
            lines(
                "age, city , bought",
                *(f"{20 + i * 7 % 30}, {'ns'[i % 2]}th, {'yn'[i % 3 > 0]}" for i in range(40)),
            )
        ),
        works=lambda out: categories(out, "city") == {"nth", "sth"},
    ),
    Case(
        "date-in-three-formats",
        changed(dates_in_three_formats),
        ("Column 'joined'", "more than one format", "day/month/year"),
        works=lambda out: kinds(out)["joined"] == "datetime",
    ),
    Case(
        "numbers-with-missing-markers",
        changed(
            lambda f: f.assign(
                income=f["income"].round(2).astype(object).where(f.index % 6 > 0, "?")
            )
        ),
        ("Column 'income'", "10 value(s) are not numbers ('?') and are treated as missing"),
        works=lambda out: kinds(out)["income"] == "numeric",
    ),
    Case(
        "zero-one-strings-target",
        changed(
            lambda f: f.assign(bought=(f["bought"] == "yes").astype(int).astype(str)),
            "data.parquet",
        ),
        works=lambda out: (
            card(out)["classes"] == ["0", "1"]
            and list(predictions_of(out, out.parent / "data.parquet").columns)
            == ["prediction", "0", "1"]
        ),
    ),
    Case(
        "reserved-word-columns",
        changed(
            lambda f: f.set_axis(["class", "None", "nan", "select", "index", "if"], axis=1),
            target="if",
        ),
        works=lambda out: set(kinds(out)) == {"class", "None", "nan", "select", "index"},
    ),
    Case(
        "parquet-nested-columns",
        changed(nested, "data.parquet"),
        ("Column 'tags' dropped: it holds lists or records", "Column 'address' dropped"),
        works=lambda out: "tags" not in kinds(out) and "age" in kinds(out),
    ),
    Case(
        "parquet-nullable-types",
        changed(lambda f: f.convert_dtypes(), "data.parquet"),
        works=lambda out: kinds(out)["member"] == "boolean" and kinds(out)["age"] == "numeric",
    ),
    Case("5000-columns", changed(wide), works=lambda out: len(kinds(out)) == 5000),
    Case(
        "100000-level-categorical",
        changed(many_levels),
        works=lambda out: (
            kinds(out)["code"] == "categorical" and len(categories(out, "code")) == 50
        ),
    ),
    # predict -------------------------------------------------------------------------
    Case(
        "predict-missing-column",
        to_predict(lambda f: f.drop(columns=["income"])),
        ("new.csv", "lacks 1 column(s)", "'income'", "same columns"),
        predict=True,
    ),
    Case(
        "predict-column-renamed-in-case",
        to_predict(lambda f: f.rename(columns={"age": "Age"})),
        ("new.csv", "'age'", "It has 'Age' for 'age'"),
        predict=True,
    ),
    Case(
        "predict-header-only",
        to_predict(lambda f: f.head(0)),
        ("new.csv", "header but no rows"),
        predict=True,
    ),
    Case(
        "predict-reordered-columns",  # matched by name: no warning, the same predictions
        to_predict(lambda f: f[f.columns[::-1]]),
        works=same_as_in_order,
        predict=True,
    ),
    Case(
        "predict-new-dtypes",
        to_predict(
            lambda f: f.assign(
                age=f["age"].astype(object).where(f.index > 4, "forty"),
                member="maybe",
                joined=f["joined"].where(f.index > 2, "soon"),
                city="atlantis",
                income=f["income"].where(~f.index.isin([5, 6]), np.inf),
            )
        ),
        (
            "Column 'age' in the table to predict: 5 value(s) are not numbers ('forty')",
            "Column 'member' in the table to predict: 20 value(s) are not numbers ('maybe')",
            "Column 'joined' in the table to predict: 3 value(s) are not dates ('soon')",
            "Column 'income' in the table to predict: 2 infinite value(s)",
        ),
        works=probabilities,
        predict=True,
    ),
    Case(
        "predict-extra-columns",
        to_predict(lambda f: f.assign(note="x", score=1.0)),
        ("new.csv: ignoring 2 column(s) the model does not use: 'note', 'score'.",),
        works=probabilities,
        predict=True,
    ),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """The model the predict cases use: `table(120)` -> bought."""
    out = tmp_path_factory.mktemp("trained") / "model"
    data = write(table(120), out.parent / "train.csv")
    result = cli("run", str(data), "--target", "bought", "--output", str(out), *QUICK)
    assert result.code == 0, result.stderr
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_hostile_input(case, tmp_path, request):
    data, target = case.make(tmp_path)
    if case.predict:
        model = tmp_path / "model"
        model.symlink_to(request.getfixturevalue("trained"))
        out = tmp_path / "predictions.csv"
        out.write_text(KEEP)
        result = cli("predict", str(model), str(data), "--proba", "--output", str(out))
    else:
        out = tmp_path / "model"
        result = cli(
            "run", str(data), "--target", case.target or target, "--output", str(out), *QUICK
        )
    if case.works is None:
        assert_one_paragraph_error(result, *case.says)
        assert out.read_text() == KEEP if case.predict else not out.exists()
        return
    assert result.code == 0, result.stderr
    for needle in case.says:
        assert needle in result.stderr, (needle, result.stderr)
    if not case.says:
        assert "Warning" not in result.stderr, result.stderr
    assert case.works(out)


def assert_one_paragraph_error(result: Result, *needles: str) -> None:
    assert result.code == 2, (result.code, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    error = result.stderr[result.stderr.index("Error: ") :].strip()
    assert "\n\n" not in error and len(error.splitlines()) <= 3, error
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    assert result.stdout == ""


def _without_file_capabilities() -> None:  # runs in the child, before exec
    """Drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (root's power to read any file) from
    the bounding set, so the program exec'd obeys file permissions as other users do."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def test_unreadable_file(tmp_path):
    """A file without read permission, in a real process that lacks it (also under root)."""
    data = write(table(), tmp_path / "secret.csv")
    data.chmod(0)
    out = tmp_path / "model"
    command = [sys.executable, "-m", "automl", "run", str(data), "--target", "bought"]
    completed = subprocess.run(
        [*command, "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_without_file_capabilities if os.geteuid() == 0 else None,
    )
    result = Result(completed.returncode, completed.stdout, completed.stderr)
    assert_one_paragraph_error(result, "secret.csv", "is not readable")
    assert not out.exists()
