"""Explain a fitted model with SHAP values, reported in the columns the user gave.

Models are explained where they are cheapest to explain exactly: LightGBM by its own
`pred_contrib`, other tree models by shap's TreeExplainer, linear models by shap's
LinearExplainer, all on the preprocessed matrix; the contributions of derived columns
(one-hot levels, missing-value indicators, datetime parts) are then summed back into the
column they came from. Anything else (k-nearest neighbours, ensembles) is explained as a
whole pipeline by shap's KernelExplainer, sampled and bounded in rows and time.

Every path keeps SHAP's additivity: for each row and output, the contributions plus the
base value equal the model's output in the space named by `Explanation.space`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from automl import calibrate, data, decision
from automl.data import Schema
from automl.errors import DataError

# Rows explained for the global importance, and the background the explainers that need
# one (linear, model-agnostic) average over.
GLOBAL_ROWS = 1000
BACKGROUND_ROWS = 100
KERNEL_BACKGROUND_ROWS = 16
KERNEL_SAMPLES = 128
# Rows are explained in chunks: the first is small, the next sized by the time per row so
# it ends before the deadline.
FIRST_CHUNK_ROWS = {
    "lightgbm": 200,
    "linear": 200,
    "tree": 5,
    "tree-approximate": 200,
    "kernel": 1,
}
# Exact TreeSHAP costs about this many seconds per row, per tree, leaf and depth squared
# (measured: 30 trees of 6,245 leaves and depth 42, 0.1 s a row; 300 extra trees on 2,000
# rows, 0.06 s). A forest that cannot explain EXACT_TREE_ROWS rows exactly before the
# deadline gets the approximate (Saabas) attributions, which take a fraction of that.
TREE_SHAP_SECONDS = 5e-10
EXACT_TREE_ROWS = 200
MAX_CHUNK_ROWS = 2000
# A direction is named only when the column's values and contributions agree this well.
DIRECTION_CORRELATION = 0.3


@dataclass
class Explanation:
    """SHAP values of some rows, per original column.

    values: (rows, columns, outputs) contributions; base: (outputs,) base values.
    outputs: what each output explains: a class label, or the target for regression.
    rows: the explained rows as the user gave them (one column per entry of `columns`).
    numeric: (rows, columns) numbers to colour plots by (NaN for categorical columns).
    space: the unit of values and base: "log-odds", "raw score", "probability" or "target".
    n_total: the rows there were to explain; `len(rows)` of them were.
    """

    values: np.ndarray
    base: np.ndarray
    columns: list[str]
    outputs: list[str]
    rows: pd.DataFrame
    numeric: np.ndarray
    method: str
    space: str
    n_total: int

    @property
    def sampled(self) -> bool:
        return len(self.rows) < self.n_total

    def output(self) -> np.ndarray:
        """The model output each row's contributions add up to: (rows, outputs)."""
        return self.values.sum(axis=1) + self.base


def explain(
    pipeline: Any,
    schema: Schema,
    rows: pd.DataFrame,
    background: pd.DataFrame,
    *,
    deadline: float | None = None,
    max_rows: int | None = GLOBAL_ROWS,
    seed: int = 0,
    prepared: pd.DataFrame | None = None,
) -> Explanation:
    """Explain `pipeline` on `rows` (in the user's columns); `background` is model input
    (`data.prepare` output) from the training table, and `prepared` that of `rows`, if
    it is already made.

    With `max_rows`, a seeded sample of that many rows is explained; rows are explained a
    chunk at a time until `deadline` (a `time.monotonic()` value), at least one chunk.
    """
    from threadpoolctl import threadpool_limits

    # A decision threshold changes labels, not probabilities: explain the model it wraps.
    pipeline = decision.unwrap(pipeline)
    # One thread: waking OpenMP threads costs more than it saves on these small chunks,
    # and spinning ones slow everything else down.
    with threadpool_limits(1):
        return _explain(pipeline, schema, rows, background, deadline, max_rows, seed, prepared)


def _explain(
    pipeline: Any,
    schema: Schema,
    rows: pd.DataFrame,
    background: pd.DataFrame,
    deadline: float | None,
    max_rows: int | None,
    seed: int,
    prepared: pd.DataFrame | None,
) -> Explanation:
    n_total = len(rows)
    if max_rows is not None and n_total > max_rows:
        rows = rows.sample(max_rows, random_state=seed).sort_index()
    if prepared is None:
        X = data.prepare(rows, schema, "the rows to explain")
    else:
        X = prepared.loc[rows.index]
    if X.empty:
        raise DataError("There are no rows to explain.")
    explainer, first, base, space, seconds = _checked(
        pipeline, schema, background, seed, deadline, X
    )
    values = [first]
    done = len(first)
    per_row = seconds / done
    while done < len(X):
        left = np.inf if deadline is None else deadline - time.monotonic()
        step = int(min(MAX_CHUNK_ROWS, left / per_row if per_row else MAX_CHUNK_ROWS))
        if step < 1:
            break
        started = time.monotonic()
        chunk_values, base = explainer.explain(X.iloc[done : done + step])
        values.append(chunk_values)
        done += len(chunk_values)
        per_row = (time.monotonic() - started) / len(chunk_values)
    folded = _fold(np.concatenate(values), explainer.owners, len(schema.columns))
    return Explanation(
        values=folded,
        base=base,
        columns=[c.name for c in schema.columns],
        outputs=_outputs(schema),
        rows=rows.iloc[:done][[c.name for c in schema.columns]],
        numeric=_numeric(X.iloc[:done], schema),
        method=explainer.method,
        space=space or "unknown",
        n_total=n_total,
    )


def importance(explanation: Explanation) -> pd.DataFrame:
    """Mean |SHAP| per original column, most important first, with its direction; with
    several outputs (multiclass), one more column per class and the overall mean."""
    magnitude = np.abs(explanation.values).mean(axis=0)  # (columns, outputs)
    frame = pd.DataFrame(
        {"column": explanation.columns, "importance": magnitude.mean(axis=1)},
    )
    if len(explanation.outputs) > 1:
        for k, label in enumerate(explanation.outputs):
            frame[f"importance[{label}]"] = magnitude[:, k]
        frame["direction"] = ""
    else:
        frame["direction"] = [_direction(explanation, j) for j in range(len(explanation.columns))]
    return frame.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)


def contributions(
    explanation: Explanation, predictions: Sequence[Any], top: int = 5
) -> pd.DataFrame:
    """Per row: its prediction, the base value and the `top` columns that moved it most,
    then the rest summed as "(N other columns)", so each row's contributions plus its base
    value give the model's output. Multiclass rows are explained for the predicted class.
    """
    records = []
    outputs = explanation.outputs
    for i, (index, row) in enumerate(explanation.rows.iterrows()):
        k = outputs.index(str(predictions[i])) if len(outputs) > 1 else 0
        values = explanation.values[i, :, k]
        order = np.argsort(-np.abs(values), kind="stable")
        common = {
            "row": index,
            "prediction": predictions[i],
            "explained": outputs[k],
            "base_value": float(explanation.base[k]),
        }
        for j in order[:top]:
            column = explanation.columns[j]
            records.append(
                {**common, "column": column, "value": row[column], "contribution": values[j]}
            )
        rest = order[top:]
        if len(rest):
            records.append(
                {
                    **common,
                    "column": f"({len(rest)} other columns)",
                    "value": None,
                    "contribution": float(values[rest].sum()),
                }
            )
    columns = ["row", "prediction", "explained", "base_value", "column", "value", "contribution"]
    return pd.DataFrame(records, columns=columns)


def background_sample(X: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Up to BACKGROUND_ROWS rows of model input, for the explainers that average over
    the training data."""
    if len(X) <= BACKGROUND_ROWS:
        return X.copy()
    return X.sample(BACKGROUND_ROWS, random_state=seed).sort_index()


# The explainers ---------------------------------------------------------------------


class _Explainer:
    """Explains chunks of model input; `owners[i]` is the original column of the i-th
    column it explains."""

    method: str
    owners: np.ndarray

    @property
    def first_rows(self) -> int:
        """Rows in the first chunk, small enough to be quick whatever the model."""
        return FIRST_CHUNK_ROWS[self.method]

    def explain(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(rows, columns, outputs) values and (outputs,) base values."""
        raise NotImplementedError


class _LightGBM(_Explainer):
    method = "lightgbm"

    def __init__(self, preprocess: Any, model: Any, owners: np.ndarray) -> None:
        self.preprocess, self.model, self.owners = preprocess, model, owners

    def explain(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        Xt = self.preprocess.transform(X)
        contrib = np.asarray(self.model.predict(Xt, pred_contrib=True), dtype=float)
        width = Xt.shape[1] + 1
        # One block of column contributions + base value per output (class).
        blocks = contrib.reshape(len(contrib), -1, width).transpose(0, 2, 1)
        return blocks[:, :-1, :], blocks[0, -1, :]


class _Shap(_Explainer):
    """shap's TreeExplainer or LinearExplainer on the preprocessed matrix."""

    def __init__(
        self,
        method: str,
        preprocess: Any,
        explainer: Any,
        owners: np.ndarray,
        binary: bool,
        approximate: bool = False,
    ) -> None:
        self.method, self.preprocess, self.explainer = method, preprocess, explainer
        self.owners, self.binary, self.approximate = owners, binary, approximate

    def explain(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        options = {"approximate": True} if self.approximate else {}
        result = self.explainer(self.preprocess.transform(X), **options)
        values = np.asarray(result.values, dtype=float)
        base = np.asarray(result.base_values, dtype=float).reshape(len(values), -1)[0]
        if values.ndim == 2:
            values = values[:, :, None]
        if self.binary and values.shape[2] == 2:  # both classes' probabilities: keep one
            values, base = values[:, :, 1:], base[1:]
        return values, base


class _Kernel(_Explainer):
    """shap's KernelExplainer on the whole pipeline, over the model-input columns, with
    categories coded as numbers for shap and decoded before the pipeline sees them."""

    method = "kernel"

    def __init__(self, pipeline: Any, schema: Schema, background: pd.DataFrame, seed: int):
        import shap

        self.pipeline, self.schema = pipeline, schema
        self.features = list(background.columns)
        self.categorical = set(schema.categorical_features)
        self.codes: dict[str, dict[Any, int]] = {c: {} for c in self.categorical}
        owner = _feature_owners(schema)
        self.owners = np.array([owner[f] for f in self.features])
        sample = background.sample(min(len(background), KERNEL_BACKGROUND_ROWS), random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.explainer = shap.KernelExplainer(self._predict, self._encode(sample))
        # Enough coalitions to be exact for up to 8 columns; sampled beyond.
        self.samples = 2 * len(self.features) + KERNEL_SAMPLES

    def explain(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = self.explainer.shap_values(
                self._encode(X[self.features]), nsamples=self.samples, silent=True
            )
        values = np.asarray(values, dtype=float)
        if values.ndim == 2:
            values = values[:, :, None]
        return values, np.atleast_1d(np.asarray(self.explainer.expected_value, dtype=float))

    def _encode(self, X: pd.DataFrame) -> np.ndarray:
        out = np.empty(X.shape, dtype=float)
        for j, feature in enumerate(self.features):
            column = X[feature]
            if feature in self.categorical:
                codes = self.codes[feature]
                out[:, j] = [
                    np.nan if pd.isna(v) else codes.setdefault(v, len(codes)) for v in column
                ]
            else:
                out[:, j] = column.to_numpy(dtype=float)
        return out

    def _decode(self, Z: np.ndarray) -> pd.DataFrame:
        frame = pd.DataFrame(Z, columns=self.features)
        for feature in self.categorical:
            labels = np.array([None, *self.codes[feature]], dtype=object)
            codes = frame[feature].to_numpy()
            index = np.where(np.isnan(codes), 0, np.nan_to_num(codes) + 1).astype(int)
            frame[feature] = pd.Series(labels[index], dtype=object).where(index > 0, np.nan)
        return frame

    def _predict(self, Z: np.ndarray) -> np.ndarray:
        X = self._decode(Z)
        if self.schema.classes is None:
            return np.asarray(self.pipeline.predict(X), dtype=float)
        proba = np.asarray(self.pipeline.predict_proba(X), dtype=float)
        return proba[:, 1] if len(self.schema.classes) == 2 else proba


def _checked(
    pipeline: Any,
    schema: Schema,
    background: pd.DataFrame,
    seed: int,
    deadline: float | None,
    X: pd.DataFrame,
    wanted: str | None = None,
) -> tuple[_Explainer, np.ndarray, np.ndarray, str, float]:
    """An explainer for `pipeline`, its values and base for the first rows of `X`, the
    space they add up in, and the seconds they took (making the explainer aside).

    An explainer that fails on those rows, or whose values do not add up to the model's
    output (shap's trees cannot follow HistGradientBoosting's categorical splits, for one),
    or not in the `wanted` space, is replaced by the model-agnostic one."""

    def first_chunk(explainer: _Explainer) -> tuple[np.ndarray, np.ndarray, str, float]:
        first = X.iloc[: explainer.first_rows]
        started = time.monotonic()
        values, base = explainer.explain(first)
        seconds = time.monotonic() - started
        return values, base, _space(pipeline, schema, first, values, base), seconds

    explainer = _explainer(pipeline, schema, background, seed, deadline, X)
    try:
        values, base, space, seconds = first_chunk(explainer)
    except Exception:
        # shap knows the model but cannot feed it the preprocessed matrix: CatBoost refuses
        # the float codes of categorical columns its plugin's estimator turns into integers.
        if explainer.method == "kernel":
            raise
        space = ""
    if explainer.method != "kernel" and (not space or (wanted and space != wanted)):
        explainer = _Kernel(pipeline, schema, background, seed)
        values, base, space, seconds = first_chunk(explainer)
    return explainer, values, base, space, seconds


def _explainer(
    pipeline: Any,
    schema: Schema,
    background: pd.DataFrame,
    seed: int,
    deadline: float | None,
    X: pd.DataFrame,
) -> _Explainer:
    from sklearn.ensemble import VotingClassifier, VotingRegressor
    from sklearn.pipeline import Pipeline

    beta = calibrate.beta_of(pipeline)
    if beta is not None:
        inner = calibrate.inner_model(pipeline)
        if isinstance(inner, VotingClassifier):  # probabilities: scaling them does not add up
            return _Kernel(pipeline, schema, background, seed)
        return _Scaled(_explainer(inner, schema, background, seed, deadline, X), beta)
    soft = isinstance(pipeline, VotingClassifier) and pipeline.voting == "soft"
    if soft or isinstance(pipeline, VotingRegressor):
        return _Ensemble(pipeline, schema, background, seed, deadline, X)
    if not isinstance(pipeline, Pipeline) or "preprocess" not in pipeline.named_steps:
        return _Kernel(pipeline, schema, background, seed)
    preprocess, model = pipeline[:-1], pipeline[-1]
    owners = transformed_owners(pipeline.named_steps["preprocess"], schema)
    binary = schema.classes is not None and len(schema.classes) == 2
    if type(model).__module__.startswith("lightgbm"):
        return _LightGBM(preprocess, model, owners)
    import shap

    if type(model).__module__.startswith("sklearn.linear_model") and hasattr(model, "coef_"):
        masked = preprocess.transform(background)
        masker = shap.maskers.Independent(masked, max_samples=len(masked))
        return _Shap("linear", preprocess, shap.LinearExplainer(model, masker), owners, binary)
    try:
        tree = shap.TreeExplainer(model)
    except Exception:  # not a tree model shap knows
        return _Kernel(pipeline, schema, background, seed)
    per_row = TREE_SHAP_SECONDS * _tree_size(model)
    if deadline is not None and per_row * EXACT_TREE_ROWS > deadline - time.monotonic():
        return _Shap("tree-approximate", preprocess, tree, owners, binary, approximate=True)
    return _Shap("tree", preprocess, tree, owners, binary)


class _Ensemble(_Explainer):
    """A voting ensemble's output is the weighted mean of its members' (probabilities,
    or values for regression), so its SHAP values are the weighted mean of theirs: each
    member is explained by its own fastest explainer that gives that space."""

    def __init__(
        self,
        voting: Any,
        schema: Schema,
        background: pd.DataFrame,
        seed: int,
        deadline: float | None,
        X: pd.DataFrame,
    ) -> None:
        wanted = "target" if schema.classes is None else "probability"
        weights = np.asarray(voting.weights or [1.0] * len(voting.estimators_), dtype=float)
        self.weights = weights / weights.sum()
        self.members = [
            _checked(member, schema, background, seed, deadline, X, wanted)[0]
            for member in voting.estimators_
        ]
        self.n_columns = len(schema.columns)
        self.owners = np.arange(self.n_columns)
        self.method = "ensemble of " + ", ".join(sorted({m.method for m in self.members}))

    @property
    def first_rows(self) -> int:
        return min(m.first_rows for m in self.members)

    def explain(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        values, base = 0.0, 0.0
        for weight, member in zip(self.weights, self.members, strict=True):
            member_values, member_base = member.explain(X)
            values = values + weight * _fold(member_values, member.owners, self.n_columns)
            base = base + weight * member_base
        return np.asarray(values), np.asarray(base)


class _Scaled(_Explainer):
    """A temperature-scaled model (see `automl.calibrate`) gives softmax(β z), where z are
    the log-odds or raw scores of the model it wraps: its SHAP values in that space are the
    wrapped model's times β."""

    def __init__(self, inner: _Explainer, beta: float) -> None:
        self.inner = inner
        self.beta = beta
        self.method = inner.method
        self.owners = inner.owners

    @property
    def first_rows(self) -> int:
        return self.inner.first_rows

    def explain(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        values, base = self.inner.explain(X)
        return values * self.beta, np.asarray(base) * self.beta


def _tree_size(model: Any) -> float:
    """Sum over a scikit-learn forest's trees of leaves x depth squared (0 if unknown)."""
    trees = [getattr(e, "tree_", None) for e in getattr(model, "estimators_", [])]
    return float(sum(t.n_leaves * t.max_depth**2 for t in trees if t is not None))


# Mapping model columns back to the user's columns ------------------------------------


def transformed_owners(preprocessor: Any, schema: Schema) -> np.ndarray:
    """For each column the fitted `ColumnTransformer` outputs, the index of the schema
    column it derives from."""
    owner = _feature_owners(schema)
    owners = np.full(sum(s.stop - s.start for s in preprocessor.output_indices_.values()), -1)
    for name, transformer, inputs in preprocessor.transformers_:
        if name == "remainder" or (isinstance(transformer, str) and transformer == "drop"):
            continue
        where = preprocessor.output_indices_[name]
        sources = _sources(transformer, list(inputs))
        if len(sources) != where.stop - where.start:
            raise RuntimeError(f"cannot map the outputs of {name!r} to its input columns")
        owners[where] = [owner[s] for s in sources]
    return owners


def _sources(transformer: Any, inputs: list[str]) -> list[str]:
    """The input column behind each output column of a fitted transformer."""
    from sklearn.preprocessing import OneHotEncoder

    if isinstance(transformer, str):  # "passthrough"
        return inputs
    if isinstance(transformer, OneHotEncoder):
        infrequent = getattr(transformer, "infrequent_categories_", [None] * len(inputs))
        counts = [
            len(categories) - (len(rare) - 1 if rare is not None else 0)
            for categories, rare in zip(transformer.categories_, infrequent, strict=True)
        ]
        return [column for column, n in zip(inputs, counts, strict=True) for _ in range(n)]
    known = set(inputs)
    sources = []
    for name in transformer.get_feature_names_out(inputs):
        name = str(name)
        if name not in known and name.startswith("missingindicator_"):
            name = name.removeprefix("missingindicator_")
        if name not in known:
            raise RuntimeError(f"no input column for the output {name!r}")
        sources.append(name)
    return sources


def _feature_owners(schema: Schema) -> dict[str, int]:
    return {f: i for i, c in enumerate(schema.columns) for f in c.feature_names()}


def _fold(values: np.ndarray, owners: np.ndarray, n_columns: int) -> np.ndarray:
    """Sum (rows, model columns, outputs) values into (rows, original columns, outputs)."""
    folded = np.zeros((n_columns, len(values), values.shape[2]))
    np.add.at(folded, owners, values.transpose(1, 0, 2))
    return folded.transpose(1, 0, 2)


# What the numbers mean ----------------------------------------------------------------


def _outputs(schema: Schema) -> list[str]:
    if schema.classes is None:
        return [schema.target]
    classes = [str(c) for c in schema.classes]
    return classes[1:] if len(classes) == 2 else classes


def _space(
    pipeline: Any, schema: Schema, X: pd.DataFrame, values: np.ndarray, base: np.ndarray
) -> str:
    """The model output that values plus base add up to ("probability", "log-odds",
    "raw score" or "target"), found by comparing with the model; "" if none (a defect of
    the explainer, not of the model)."""
    from scipy.special import expit, softmax

    total = values.sum(axis=1) + base
    close = lambda a, b: np.allclose(a, b, rtol=1e-3, atol=1e-4)  # noqa: E731
    if schema.classes is None:
        predicted = np.asarray(pipeline.predict(X), dtype=float)[:, None]
        return "target" if close(total, predicted) else ""
    proba = np.asarray(pipeline.predict_proba(X), dtype=float)
    if len(schema.classes) == 2:
        proba = proba[:, 1:]
        candidates = {"probability": total, "log-odds": expit(total)}
    else:
        candidates = {"probability": total, "raw score": softmax(total, axis=1)}
    return next((space for space, p in candidates.items() if close(p, proba)), "")


def _numeric(X: pd.DataFrame, schema: Schema) -> np.ndarray:
    """A number per original column and row to colour plots by."""
    columns = []
    for column in schema.columns:
        if column.kind == "categorical":
            columns.append(np.full(len(X), np.nan))
        elif column.kind == "datetime":
            part = "elapsed_days" if "elapsed_days" in column.parts else column.parts[0]
            columns.append(X[f"{column.name}__{part}"].to_numpy(dtype=float))
        else:
            columns.append(X[column.name].to_numpy(dtype=float))
    return np.column_stack(columns) if columns else np.empty((len(X), 0))


def _direction(explanation: Explanation, j: int) -> str:
    """How the column's values move the output, when they do so consistently."""
    values = explanation.values[:, j, 0]
    numeric = explanation.numeric[:, j]
    present = ~np.isnan(numeric)
    if not values.any():  # a column the model does not use
        return ""
    if present.any():
        if present.sum() < 3 or np.ptp(numeric[present]) == 0 or np.ptp(values[present]) == 0:
            return ""
        r = np.corrcoef(numeric[present], values[present])[0, 1]
        if r >= DIRECTION_CORRELATION:
            return "higher values raise it"
        if r <= -DIRECTION_CORRELATION:
            return "higher values lower it"
        return "mixed"
    levels = (
        pd.Series(values)
        .groupby(explanation.rows.iloc[:, j].astype(object).fillna("(missing)").to_numpy())
        .mean()
    )
    if len(levels) < 2:
        return ""
    return f"{levels.idxmax()!s} raises it most, {levels.idxmin()!s} lowers it most"
