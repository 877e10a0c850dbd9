"""Serve a saved model over HTTP: the FastAPI app behind `automl serve`.

The request models are generated from the bundle's schema, so `/docs` documents the
model's own columns, and a value of the wrong type, a missing column or an empty body is a
422 naming the row and the column. Rows are then predicted with the loaded `AutoML`
exactly as `automl predict --proba` predicts them (each class's probability from
`predict_proba`, the labels from those through a binary model's decision threshold, as
`AutoML.predict` decides), with automl's warnings (columns ignored, values read as
missing) returned beside them. `/invocations` speaks MLflow's scoring protocol.
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at run
# time, and those are built inside the app factory from the bundle's schema.
import contextlib
import csv
import fcntl
import hmac
import io
import json
import logging
import math
import os
import threading
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

import pandas as pd
from fastapi import BackgroundTasks, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic import with_config as pydantic_config
from pydantic.json_schema import models_json_schema
from starlette.types import ASGIApp, Receive, Scope, Send
from typing_extensions import TypedDict

from automl import __version__, bundle, data, decision, drift, report
from automl.api import AutoML, load
from automl.errors import (
    AutoMLError,
    AutoMLWarning,
    BundleError,
    UsageError,
    describe,
)

# `automl serve --workers N` hands its options to each worker process in this variable.
OPTIONS_ENV = "AUTOML_SERVE_OPTIONS"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
# Explaining is much slower than predicting (a KernelExplainer evaluates the model thousands
# of times a row) and holds the model meanwhile, so one request explains at most this many.
EXPLAIN_MAX_ROWS = 100
# A 422 lists at most this many problems: a column missing from 10,000 rows is one mistake.
MAX_PROBLEMS = 20
OPEN_PATHS = frozenset({"/health", "/ping"})
CSV_TYPES = frozenset({"text/csv", "application/csv"})
# The loc parts after which an integer is a row number.
ROW_LISTS = frozenset({"body", "rows", "dataframe_records", "data"})
COMPONENTS = "#/components/schemas/{model}"
LOGGER = logging.getLogger("uvicorn.error")  # where uvicorn logs what goes wrong
RowT = TypeVar("RowT")
T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    """How to serve the bundle in `model_dir`.

    api_key_env: the environment variable holding the key that every route but /health
        (and /ping) then requires, as `Authorization: Bearer <key>`.
    log_requests: a CSV file each scored row is appended to, with its prediction.
    max_body_bytes: larger request bodies are refused (413).
    """

    model_dir: str
    api_key_env: str | None = None
    log_requests: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def export(self) -> None:
        """Leave these options where `from_environment`, in a worker process, finds them."""
        os.environ[OPTIONS_ENV] = json.dumps(asdict(self))


def from_environment() -> FastAPI:
    """The app for the options `Options.export` left in the environment: the factory
    each uvicorn worker process calls."""
    return make_app(Options(**json.loads(os.environ[OPTIONS_ENV])))


def make_app(options: Options, model: AutoML | None = None) -> FastAPI:
    """A FastAPI app serving the bundle of `options`. It loads the model when it starts,
    with the checks of `automl.load`, unless it is given the loaded `model`."""
    directory = Path(options.model_dir)
    card = model.card if model is not None else bundle.read_card(directory)
    schema = data.Schema.from_dict(card["schema"])
    api_key = _api_key(options.api_key_env)
    log = RequestLog(Path(options.log_requests), schema) if options.log_requests else None
    served = Served(card, schema, Bodies(schema, _examples(directory, card, schema)))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The process that checked the bundle passes it on; worker processes load their own.
        loaded = model if model is not None else _quietly(lambda: load(directory))[0]
        if loaded.card["model"]["sha256"] != card["model"]["sha256"]:
            raise BundleError(f"The model in {directory} changed while the server started.")
        served.service = Service(loaded, log)
        yield

    secured = {401: {"model": Problem, "description": "No API key, or not this one"}}
    app = FastAPI(
        title=f"automl: {card['target']} ({card['task']})",
        version=__version__,
        description=_description(card),
        lifespan=lifespan,
        responses=secured if api_key is not None else None,
        max_body_size=options.max_body_bytes,
    )
    _service_routes(app, served)
    _scoring_routes(app, served)
    app.add_exception_handler(RequestValidationError, _validation_problem)
    app.add_exception_handler(AutoMLError, _automl_problem)
    if api_key is not None:
        app.add_middleware(BearerKey, key=api_key)
    app.openapi = lambda: _openapi(app, served.bodies, api_key is not None)  # type: ignore[method-assign]
    return app


@dataclass
class Served:
    """What the routes work with: the card, the request models, and (once the app has
    started) the loaded model."""

    card: dict[str, Any]
    schema: data.Schema
    bodies: "Bodies"
    service: "Service | None" = None

    @property
    def explained(self) -> bool:
        return report.BACKGROUND in self.card.get("files", {})

    def current(self) -> "Service":
        assert self.service is not None, "the app has not started"
        return self.service


def _service_routes(app: FastAPI, served: Served) -> None:
    @app.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        """Whether the server is up. Never needs the API key."""
        return {"status": "ok"}

    @app.get("/ping", include_in_schema=False)
    def ping() -> dict[str, str]:
        return health()  # SageMaker's name for it

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get("/model", tags=["model"])
    def describe() -> dict[str, Any]:
        """The model card's essentials: target, task, metric and scores, the input schema,
        the classes, the library versions and the model file's SHA-256."""
        return _model_facts(served.card, served.explained)


def _scoring_routes(app: FastAPI, served: Served) -> None:
    bodies = served.bodies
    label = _label_type(served.schema)
    Scoring = Annotated[Service, Depends(served.current)]
    Rows = Annotated[pd.DataFrame, Depends(bodies.reader(bodies.predict))]
    Records = Annotated[pd.DataFrame, Depends(bodies.reader(bodies.invocations))]
    Explained = Annotated[pd.DataFrame, Depends(bodies.reader(bodies.explain))]

    @app.post(
        "/predict",
        tags=["model"],
        response_model=_predict_response(served.schema, label),
        responses=bodies.problems,
        openapi_extra=bodies.document(bodies.predict),
    )
    def predict(frame: Rows, scoring: Scoring, later: BackgroundTasks) -> dict[str, Any]:
        """Predict rows given as JSON, `{"rows": [{column: value, ...}, ...]}`, or as CSV with
        a header (`Content-Type: text/csv`). For a classification model, each row also gets
        each class's probability, named by its label, as `automl predict --proba` gives it."""
        scored = scoring.score(frame, later)
        return {
            "predictions": scored.labels,
            "probabilities": scored.probabilities,
            "warnings": scored.warnings,
        }

    @app.post(
        "/invocations",
        tags=["MLflow"],
        response_model=create_model("InvocationsResponse", predictions=(list[label], ...)),
        responses=bodies.problems,
        openapi_extra=bodies.document(bodies.invocations),
    )
    def invocations(frame: Records, scoring: Scoring, later: BackgroundTasks) -> dict[str, Any]:
        """MLflow's scoring protocol (`mlflow models serve`, SageMaker, Databricks): JSON
        with `dataframe_records` or `dataframe_split` (`params` is ignored), or CSV. The
        predictions are those /predict gives."""
        return {"predictions": scoring.score(frame, later).labels}

    @app.post(
        "/explain",
        tags=["model"],
        response_model=_explain_response(label),
        responses={**bodies.problems, 409: {"model": Problem, "description": "No explanations"}},
        openapi_extra=bodies.document(bodies.explain),
    )
    def explain(frame: Explained, scoring: Scoring) -> dict[str, Any]:
        """Why the model predicts what it does for each row (at most 100 a request): the
        SHAP contribution of each of its columns, largest first. With the base value they
        add up to the model's output, in the units `space` names."""
        if not served.explained:
            raise HTTPException(
                409, "This model has no explanations: it was made with `automl run --no-explain`."
            )
        return scoring.explain(frame)


# Predicting ---------------------------------------------------------------------------------


@dataclass
class Scored:
    labels: list[Any]
    probabilities: list[dict[str, float]] | None
    warnings: list[str]


class Service:
    """The loaded model, used by one request at a time: automl's warnings are caught through
    the process-wide `warnings` module, which threads cannot share safely."""

    def __init__(self, model: AutoML, log: "RequestLog | None") -> None:
        self.model = model
        self.schema = model.schema_
        self.log = log
        self.lock = threading.Lock()

    def score(self, frame: pd.DataFrame, later: BackgroundTasks) -> Scored:
        """Labels and, for classification, probabilities, as `automl predict --proba`
        gives them; the rows are logged once the response is sent, if asked."""
        with self.lock, _unpredictable():
            (labels, probabilities), messages = _quietly(lambda: self._predict(frame))
        if self.log is not None:
            later.add_task(self.log.append, frame, labels, probabilities)
        return Scored(
            labels.tolist(),
            None if probabilities is None else probabilities.to_dict("records"),
            messages,
        )

    def _predict(self, frame: pd.DataFrame) -> tuple[Any, pd.DataFrame | None]:
        frame = data.check_columns(frame, self.schema, "The request")
        if self.schema.classes is None:
            return self.model.predict(frame), None
        # As `automl predict --proba`: the labels from the probabilities, through the
        # decision threshold of a binary model (as `AutoML.predict`), preparing rows once.
        probabilities = self.model.predict_proba(frame)
        labels = decision.labels(self.model.pipeline_, probabilities)
        probabilities.columns = [str(c) for c in probabilities.columns]
        return labels, probabilities

    def explain(self, frame: pd.DataFrame) -> dict[str, Any]:
        """Each row's prediction, base value and the contribution of every column."""
        with self.lock, _unpredictable():
            why, messages = _quietly(lambda: self._explain(frame))
        rows = [
            {
                "prediction": data.plain(lines["prediction"].iloc[0]),
                "explained": lines["explained"].iloc[0],
                "base_value": float(lines["base_value"].iloc[0]),
                "contributions": dict(
                    zip(lines["column"], lines["contribution"].astype(float), strict=True)
                ),
                # Predicted from the class shares: see `automl.guard`.
                "guarded": bool(lines["guarded"].iloc[0]) if "guarded" in lines else False,
            }
            for _, lines in why.groupby("row", sort=False)
        ]
        return {
            "explanations": rows,
            "space": why.attrs["space"],
            "method": why.attrs["method"],
            "warnings": messages,
        }

    def _explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame = data.check_columns(frame, self.schema, "The request")
        return self.model.explain(frame, top=len(self.schema.columns))


@contextlib.contextmanager
def _unpredictable() -> Iterator[None]:
    """Rows that passed the schema's checks yet make the model fail with a ValueError or
    TypeError (dates in several time zones, say) are a 422 that says so, not a 500; the
    traceback goes to the server's log, as the failure may be automl's."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        LOGGER.warning("The model could not take a request's rows.", exc_info=True)
        raise _invalid(("body",), f"The model could not take these rows: {describe(exc)}") from None


def _quietly(call: Callable[[], T]) -> tuple[T, list[str]]:
    """`call()` and the automl warnings it gave, each once; other libraries' are hidden."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", AutoMLWarning)
        result = call()
    return result, list(dict.fromkeys(str(w.message) for w in caught))


# The request log ----------------------------------------------------------------------------


class RequestLog:
    """Each scored row appended to a CSV file: the model's columns as received, then the
    prediction, each class's probability and when it was served, under names the training
    table does not use, so `automl drift MODEL_DIR FILE` reads it as new data. Whole
    requests are appended under an exclusive `flock`, so worker processes can share a file.
    """

    def __init__(self, path: Path, schema: data.Schema) -> None:
        self.path = path
        self.columns = [c.name for c in schema.columns]
        # The names `automl drift` knows as the log's own (see `drift.log_columns`).
        self.prediction, *probabilities, self.served_at = drift.log_columns(schema)
        classes = [str(c) for c in schema.classes or ()]
        self.classes = dict(zip(classes, probabilities, strict=True))
        self.header = [*self.columns, self.prediction, *self.classes.values(), self.served_at]
        self._check()

    def _check(self) -> None:
        try:
            with self.path.open("a+", newline="") as file:
                file.seek(0)
                header = next(csv.reader(file), None)
        except OSError as exc:
            raise UsageError(
                f"Cannot write the request log {self.path}: {exc.strerror}.",
                hint="Give --log-requests a file in a directory you may write to.",
            ) from None
        except (UnicodeDecodeError, csv.Error):
            raise UsageError(
                f"The request log {self.path} is not a CSV file of logged requests.",
                hint="Give --log-requests a new file, or this model's earlier log.",
            ) from None
        if header is not None and header != self.header:
            raise UsageError(
                f"The request log {self.path} holds rows of other columns (another model's?).",
                hint="Give --log-requests a new file, or this model's earlier log.",
            )

    def append(self, frame: pd.DataFrame, labels: Any, probabilities: pd.DataFrame | None) -> None:
        """Append the rows of one request."""
        rows = frame[self.columns].assign(**{self.prediction: labels})
        if probabilities is not None:
            rows[list(self.classes.values())] = probabilities[list(self.classes)].to_numpy()
        rows[self.served_at] = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self.path.open("a", newline="") as file:
            fcntl.flock(file, fcntl.LOCK_EX)  # released when the file closes, after the flush
            rows.to_csv(file, header=os.fstat(file.fileno()).st_size == 0, index=False)


# Request bodies -----------------------------------------------------------------------------


class Problem(BaseModel):
    """What is wrong with the request."""

    detail: str


class Issue(BaseModel):
    """One problem with the rows: where in the body (`loc`; with `row` and `column` when it
    is about a row's value) and what (`msg`, `type`)."""

    loc: list[str | int]
    msg: str
    type: str
    row: int | None = None
    column: str | None = None


class ValidationProblem(BaseModel):
    """Why the rows do not fit the model: at most 20 problems."""

    detail: list[Issue]


class PredictRequest(BaseModel, Generic[RowT]):
    model_config = ConfigDict(extra="forbid")
    csv_key: ClassVar[str] = "rows"
    rows: list[RowT] = Field(min_length=1, description="The rows, one object each.")

    def table(self, rows: TypeAdapter[list[Any]]) -> list[Any]:
        return self.rows


class DataFrameSplit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    columns: list[str] = Field(
        description="The column names, in the order of each row's values.",
        json_schema_extra={"uniqueItems": True},
    )
    data: list[list[Any]] = Field(min_length=1, description="The rows, as lists of values.")
    index: list[Any] | None = Field(None, description="Ignored.")


class InvocationsRequest(BaseModel, Generic[RowT]):
    """MLflow's scoring request: exactly one of `dataframe_records`, `dataframe_split`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [{"required": ["dataframe_records"]}, {"required": ["dataframe_split"]}]
        },
    )
    csv_key: ClassVar[str] = "dataframe_records"
    # None stands for "not given" (never null, which is refused): exactly one is given.
    dataframe_records: list[RowT] = Field(None, min_length=1)  # type: ignore[assignment]
    dataframe_split: DataFrameSplit = Field(None)  # type: ignore[assignment]
    params: dict[str, Any] | None = Field(None, description="Ignored.")

    @model_validator(mode="after")
    def _one_form(self) -> "InvocationsRequest[RowT]":
        if len(self.model_fields_set & {"dataframe_records", "dataframe_split"}) != 1:
            raise ValueError("give exactly one of dataframe_records, dataframe_split")
        return self

    def table(self, rows: TypeAdapter[list[Any]]) -> list[Any]:
        if self.dataframe_records is not None:
            return self.dataframe_records
        split, where = self.dataframe_split, ("body", "dataframe_split")
        if len(set(split.columns)) < len(split.columns):
            raise _invalid((*where, "columns"), "A column is named more than once.")
        for i, values in enumerate(split.data):
            if len(values) != len(split.columns):
                problem = f"{len(values)} values for {len(split.columns)} columns."
                raise _invalid((*where, "data", i), problem)
        records = [dict(zip(split.columns, values, strict=True)) for values in split.data]
        return _checked(rows.validate_python, records, ("dataframe_split", "data"), strict=True)


Envelope = PredictRequest[Any] | InvocationsRequest[Any]


class Bodies:
    """The request models generated from a schema, and the dependencies that read a
    request's rows with them, into a DataFrame (or a RequestValidationError)."""

    def __init__(self, schema: data.Schema, examples: dict[str, Any]) -> None:
        row = _row_type(schema, examples)
        self.columns = {c.name for c in schema.columns}
        self.list = TypeAdapter(list[row])  # type: ignore[valid-type]
        self.predict = create_model("PredictRequest", __base__=PredictRequest[row])
        self.explain = create_model(
            "ExplainRequest",
            __base__=self.predict,
            rows=(list[row], Field(min_length=1, max_length=EXPLAIN_MAX_ROWS)),  # type: ignore[valid-type]
        )
        self.invocations = create_model("InvocationsRequest", __base__=InvocationsRequest[row])
        example = {c.name: examples.get(c.name) for c in schema.columns}
        self.csv_example = pd.DataFrame([example]).to_csv(index=False)
        self.problems: dict[int | str, dict[str, Any]] = {
            413: {"description": "A body over the limit (`--max-body-bytes`)"},
            415: {"model": Problem, "description": "A body neither JSON nor CSV"},
            422: {"model": ValidationProblem, "description": "Rows that do not fit the model"},
        }

    def document(self, model: type[BaseModel]) -> dict[str, Any]:
        """The OpenAPI requestBody of a route reading `model` as JSON, or rows as CSV."""
        json_schema = {"$ref": COMPONENTS.format(model=model.__name__)}
        csv_body = {
            "schema": {"type": "string", "description": "A header of column names, then the rows."},
            "example": self.csv_example,
        }
        content = {"application/json": {"schema": json_schema}, "text/csv": csv_body}
        return {"requestBody": {"required": True, "content": content}}

    def reader(self, model: type[Envelope]) -> Callable[[Request], Awaitable[pd.DataFrame]]:
        """A dependency giving the rows of a request whose JSON body is a `model`, or CSV."""

        async def rows(request: Request) -> pd.DataFrame:
            body, is_csv = await _body(request)
            return await run_in_threadpool(self._rows, model, body, is_csv)

        return rows

    def _rows(self, model: type[Envelope], body: bytes, is_csv: bool) -> pd.DataFrame:
        # JSON must have the types the schema documents; CSV is text, read as each type.
        if is_csv:
            records = _csv_records(body)
            if not self.columns.intersection(records[0]):
                raise _invalid(
                    ("body",),
                    "The CSV's first line names none of the model's columns: send"
                    " a header line of column names first.",
                )
            envelope = _checked(model.model_validate, {model.csv_key: records})
        else:
            envelope = _checked(model.model_validate_json, body, strict=True)
        return pd.DataFrame(envelope.table(self.list))


async def _body(request: Request) -> tuple[bytes, bool]:
    """The request's body, and whether it is CSV (else JSON)."""
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    is_csv = media in CSV_TYPES
    if not (is_csv or media == "application/json" or media.endswith("+json")):
        raise HTTPException(415, f"Send application/json or text/csv, not {media}.")
    body = await request.body()
    if not body.strip():
        raise _invalid(("body",), "The request body is empty: send rows as JSON or CSV.")
    return body, is_csv


def _row_type(schema: data.Schema, examples: dict[str, Any]) -> type:
    """A TypedDict of the schema's columns, each documented with its kind and, for
    categories, those seen. Other keys are let through, to be ignored with a warning."""
    fields = {}
    for column in schema.columns:
        kind: Any = {"numeric": float, "boolean": bool}.get(column.kind, str)
        example = {"examples": [examples[column.name]]} if column.name in examples else {}
        described = Field(title=column.name, description=_describe(column), **example)
        fields[column.name] = Annotated[kind | None, described]
    row = TypedDict("Row", fields)  # type: ignore[misc]
    return pydantic_config(ConfigDict(extra="allow"))(row)


def _describe(column: data.Column) -> str:
    if column.kind == "categorical":
        seen = ", ".join(column.categories)
        most = " (the most frequent)" if len(column.categories) >= data.CATEGORIES_IN_CARD else ""
        return f"A category. Seen in training{most}: {seen}. Others are read as unseen."
    return {
        "numeric": "A number; null when missing.",
        "boolean": "true or false; null when missing.",
        "datetime": "A date (and time), written as in the training data; null when missing.",
    }[column.kind]


def _examples(directory: Path, card: dict[str, Any], schema: data.Schema) -> dict[str, Any]:
    """A typical value per column for the example request on /docs: the most frequent
    category, and the median of the rows kept for explanations when the bundle has them."""
    examples: dict[str, Any] = {c.name: c.categories[0] for c in schema.columns if c.categories}
    if report.BACKGROUND in card.get("files", {}):
        background = report.read_parquet(bundle.read_file(directory, report.BACKGROUND))
        medians = background.median(numeric_only=True)
        for column in schema.columns:
            feature = f"{column.name}__elapsed_days" if column.kind == "datetime" else column.name
            median = float(medians.get(feature, math.nan))
            if column.kind == "categorical" or not math.isfinite(median):
                continue
            if column.kind == "datetime":
                examples[column.name] = str((pd.Timestamp(0) + pd.Timedelta(days=median)).date())
            elif column.kind == "boolean":
                examples[column.name] = median >= 0.5
            else:
                examples[column.name] = float(f"{median:.6g}")
    return examples


def _csv_records(body: bytes) -> list[dict[str, Any]]:
    """The rows of a CSV body as {column: text or None}, with missing values read as
    `automl predict` reads them; the schema's types then apply as they do to JSON."""
    try:
        text = body.decode("utf-8-sig")
        lines = (row for row in csv.reader(io.StringIO(text)) if "".join(row).strip())
        header, first = [name.strip() for name in next(lines, [])], next(lines, [])
        # pandas would read a first row longer than the header as an index and shift it.
        if len(first) > len(header):
            raise ValueError(f"row 0 has {len(first)} values for {len(header)} columns")
        frame = pd.read_csv(io.StringIO(text), dtype=str, skipinitialspace=True, index_col=False)
        # pandas renames a repeated name `a` to `a.1`: names are taken from the header itself.
        if frame.shape[1] != len(header):
            raise ValueError(f"{frame.shape[1]} columns under a header of {len(header)}")
    except (UnicodeDecodeError, ValueError, csv.Error, pd.errors.ParserError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _invalid(("body",), f"The body is not UTF-8 CSV with a header: {reason}.") from None
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise _invalid(("body",), f"The CSV header repeats {', '.join(map(repr, repeated))}.")
    if frame.empty:
        raise _invalid(("body",), "The CSV body has a header but no rows.")
    frame.columns = header
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _checked(
    validate: Callable[..., T], value: Any, where: tuple[str, ...] = (), **options: Any
) -> T:
    try:
        return validate(value, **options)
    except ValidationError as exc:
        problems = exc.errors(include_url=False, include_input=False, include_context=False)
        raise RequestValidationError(
            [{**p, "loc": ("body", *where, *p["loc"])} for p in problems]
        ) from None


def _invalid(loc: tuple[str | int, ...], message: str) -> RequestValidationError:
    return RequestValidationError([{"type": "value_error", "loc": loc, "msg": message}])


# Responses ----------------------------------------------------------------------------------


def _label_type(schema: data.Schema) -> Any:
    """What a prediction is: one of the classes (an enum, where JSON Schema can say so), or
    a number (null where the model's output is not finite)."""
    classes = schema.classes
    if classes is None or any(isinstance(c, float) for c in classes):
        return float | None
    return Literal[tuple(classes)]


def _predict_response(schema: data.Schema, label: Any) -> type[BaseModel]:
    fields: dict[str, Any] = {"predictions": (list[label], Field(description="One per row."))}
    if schema.classes is not None:
        fields["probabilities"] = (
            list[dict[str, float]],
            Field(description="One per row: each class's probability, keyed by its label."),
        )
    fields["warnings"] = (list[str], Field(description="What was ignored or read as missing."))
    return create_model("PredictResponse", **fields)


def _explain_response(label: Any) -> type[BaseModel]:
    row = create_model(
        "RowExplanation",
        prediction=(label, ...),
        explained=(str, Field(description="The class (or target) whose output is explained.")),
        base_value=(float, Field(description="The model's average output.")),
        contributions=(dict[str, float], Field(description="Each column's SHAP value.")),
    )
    return create_model(
        "ExplainResponse",
        explanations=(list[row], Field(description="One per row.")),  # type: ignore[valid-type]
        space=(str, Field(description="The units: log-odds, probability, raw score, target.")),
        method=(str, Field(description="The explainer that computed the contributions.")),
        warnings=(list[str], Field(description="What was ignored or read as missing.")),
    )


def _model_facts(card: dict[str, Any], explained: bool) -> dict[str, Any]:
    best = card["best"]
    return {
        "target": card["target"],
        "task": card["task"],
        "classes": card.get("classes"),
        "metric": card["metric"],
        "cv": card["cv"],
        "test": card.get("test"),
        "algorithm": "ensemble" if best.get("ensemble") else best["algorithm"],
        "decision": card.get("decision"),
        "schema": card["schema"],
        "explanations": explained,
        "created_at": card["created_at"],
        "versions": card["versions"],
        "version_differences": bundle.version_differences(card),
        "model": card["model"],
    }


def _description(card: dict[str, Any]) -> str:
    metric, cv = card["metric"], card["cv"]
    return (
        f"Predicts **{card['target']}** ({card['task']}) from {len(card['schema']['columns'])}"
        f" columns; cross-validated {metric['name']} {cv['score']:.4g} over"
        f" {bundle.cv_words(cv)}. Send rows as JSON or CSV; GET /model tells more."
    )


async def _validation_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = list(exc.errors())
    issues = [_issue(p) for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        more = f"... and {len(problems) - MAX_PROBLEMS} more problems."
        issues.append({"loc": ["body"], "msg": more, "type": "too_many_problems"})
    return JSONResponse({"detail": issues}, status_code=422)


def _issue(problem: dict[str, Any]) -> dict[str, Any]:
    """A validation problem naming the row and the column it is about. Never the value
    sent, which may not even be JSON (NaN)."""
    loc = list(problem["loc"])
    issue = {"loc": loc, "msg": problem["msg"], "type": problem["type"]}
    rows = [i for i in range(1, len(loc)) if isinstance(loc[i], int) and loc[i - 1] in ROW_LISTS]
    if loc[0] == "body" and rows:
        row = loc[rows[0]]
        column = next((part for part in loc[rows[0] + 1 :] if isinstance(part, str)), None)
        where = f"row {row}" + (f", column {column!r}" if column is not None else "")
        issue.update(msg=f"{where}: {problem['msg']}", row=row, column=column)
    return issue


async def _automl_problem(request: Request, exc: Exception) -> JSONResponse:
    """A bundle file that changed since the start (409), or rows automl refuses (422)."""
    if isinstance(exc, BundleError):
        return JSONResponse({"detail": str(exc)}, status_code=409)
    return await _validation_problem(request, _invalid(("body",), str(exc)))


def _openapi(app: FastAPI, bodies: Bodies, secured: bool) -> dict[str, Any]:
    """FastAPI's schema, plus the generated request models (the routes read their bodies
    themselves, to take CSV too) and, with an API key, the bearer scheme."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        models = [(m, "validation") for m in (bodies.predict, bodies.explain, bodies.invocations)]
        _, definitions = models_json_schema(models, ref_template=COMPONENTS)
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update(definitions["$defs"])
        if secured:
            components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            schema["security"] = [{"bearer": []}]
            schema["paths"]["/health"]["get"]["security"] = []
        app.openapi_schema = schema
    return app.openapi_schema


# Middleware ---------------------------------------------------------------------------------


def _api_key(variable: str | None) -> str | None:
    if variable is None:
        return None
    key = os.environ.get(variable, "")
    if not key:
        raise UsageError(
            f"The environment variable {variable} named by --api-key-env is not set, or empty.",
            hint=f"Set it to the key clients must send (export {variable}=...), or leave"
            " --api-key-env out to serve without a key.",
        )
    return key


class BearerKey:
    """Every path but /health and /ping needs `Authorization: Bearer <key>` (401 otherwise).
    The key is compared in constant time and never written anywhere."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.key = key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            given = dict(scope["headers"]).get(b"authorization", b"")
            scheme, _, token = given.partition(b" ")
            if not (scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key)):
                refused = JSONResponse(
                    {"detail": "This server needs its API key: Authorization: Bearer <key>."},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)
