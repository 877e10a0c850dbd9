"""Choose the search's first trials (a "portfolio") with evidence from the benchmark.

    python benchmarks/portfolio.py --write        # the full run, then automl/portfolio.py
    python benchmarks/portfolio.py --quick        # a smoke check: 2 small tables, 7 configs
    python benchmarks/portfolio.py --from benchmarks/results/portfolio-<ts>.json --write
                                                  # choose again from a run's scores
    python benchmarks/portfolio.py --add-to benchmarks/results/portfolio-<ts>.json --write
                                                  # evaluate only the candidates that run
                                                  # lacks (a new algorithm's), then choose

Every candidate configuration (`CANDIDATES` and the built-in algorithms' registered
defaults) is cross-validated on every selection table of `selection_tables.py` (none of
them is one of `tables.py`'s comparison tables) exactly as the search scores a trial:
automl's schema and preparation, 5 seeded folds (stratified for classification),
`build_candidate` with one thread, `automl.worker.fit_fold` (LightGBM stops early on folds
of 1,000 training rows or more) and the task's default metric. Two evaluations run at a
time. A configuration with a fold over `--slow-seconds` (30 s) stops there: too slow.

The choice, for each size bucket ("small": tables under `SMALL_ROWS` rows; "large"):

- Loss: on each table, 0 for the best configuration, 1 at or below the median one (failed
  and too slow configurations count as the worst; should more than half fail, the worst
  finite score takes the median's place), linear in between, direction-aware. Failed or
  too slow: 1.
- Cost: a configuration's mean fold seconds on a table over those of LightGBM's own
  defaults (`REFERENCE`) there; its cost is the median of that ratio over the bucket's
  tables. Cheap: a cost of at most `CHEAP_FACTOR` (1.5), or a 5-fold cross-validation of
  at most `CHEAP_CV_SECONDS` (1 s, a tenth of a 10 s budget) in the median over the
  bucket's tables. The second clause is the data's correction to the first: on small
  tables everything is fast (LightGBM's defaults take 0.03 s a fold), and the ratio alone
  put a LightGBM configuration first where extra trees, at 0.1-0.6 s a fold, are much
  better (left-out tables' loss of the first entry: 0.82 with the ratio alone, 0.36 with
  both). On large tables the second clause changes nothing.
- Greedy forward selection, as AutoGluon's zero-shot portfolio: a portfolio's loss on a
  table is the least loss of its entries; each step adds the configuration that brings
  the mean over the bucket's tables lowest. The first step considers cheap
  configurations only (FLAML's lesson, cheap first), so a 10 s budget already has a good
  model. Ties go to the lower mean loss of the configuration alone, then the lower cost.
- Free entries, tried before that order: of each algorithm the order lacks, the
  configuration of lowest mean loss among those whose cross-validation takes at most
  `FREE_CV_SECONDS` (0.1 s, 1% of a 10 s budget) in the median over the bucket's tables.
  They cost the search nothing, and give the ensemble a model of another kind from the
  start (`free_entries` says what they did at 10 s).
- Leave one table out: for each table the portfolio is chosen again without it; that
  table's loss after 1, 4 and 8 entries is reported beside the in-sample portfolio's and
  that of the defaults order the search used before (each built-in algorithm's first
  default in registry order, then the second ones, ...).

It prints a markdown report, writes everything to
`benchmarks/results/portfolio-<YYYYMMDD-HHMMSS>.json` and, with `--write`, regenerates
`automl/portfolio.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
MODULE_PATH = HERE.parent / "automl" / "portfolio.py"
SMALL_ROWS = 2000
PORTFOLIO_SIZE = 8
CHEAP_FACTOR = 1.5
# Also cheap: a cross-validation this short, a tenth of the shortest budget worth giving
# (10 s). On small tables every fit is fast, and the ratio alone kept extra trees, the
# best first trial there, out of the first place (see benchmarks/README.md).
CHEAP_CV_SECONDS = 1.0
# Free: a cross-validation this short (1% of a 10 s budget) costs the search nothing.
FREE_CV_SECONDS = 0.1
SLOW_SECONDS = 30.0
FOLDS = 5
SEED = 0
METRICS = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
PREFIXES = {
    "lightgbm": "lgb",
    "hist_gradient_boosting": "hgb",
    "random_forest": "rf",
    "extra_trees": "et",
    "linear": "lin",
    "knn": "knn",
    "mlp": "mlp",
}
LEAVE_ONE_OUT_SIZES = (1, 4, 8)
QUICK_TABLES = ("iris", "grunfeld")
QUICK_CONFIGS = ("lgb00", "lgb03", "hgb00", "lin00", "lin01", "lin02", "knn00")

_LGBM_KEYS = (
    "n_estimators",
    "learning_rate",
    "num_leaves",
    "min_child_samples",
    "subsample",
    "colsample_bytree",
    "reg_alpha",
    "reg_lambda",
)
# LightGBM's own defaults: the reference for what a cheap configuration is.
REFERENCE = dict(zip(_LGBM_KEYS, (100, 0.1, 31, 20, 1.0, 1.0, 1e-8, 1e-8), strict=True))
# n_estimators is a cap on folds of 1,000 training rows or more (LightGBM stops early
# there) and the number of trees on smaller ones. Columns as in _LGBM_KEYS.
_LGBM_ROWS = (
    (60, 0.3, 15, 10, 1.0, 1.0, 1e-8, 1e-8),
    (150, 0.15, 31, 20, 0.8, 0.8, 1e-8, 1.0),
    (300, 0.1, 16, 20, 0.8, 0.8, 1e-8, 1e-8),
    (400, 0.2, 8, 10, 0.7, 0.7, 1e-8, 1e-8),
    (250, 0.2, 24, 30, 0.9, 0.6, 1e-8, 0.5),
    (500, 0.05, 63, 20, 0.8, 0.7, 1e-8, 1.0),
    (1000, 0.05, 127, 10, 0.7, 0.5, 1e-8, 1e-8),
    (300, 0.1, 255, 5, 0.8, 0.8, 1e-8, 0.1),
    (1000, 0.03, 31, 40, 0.7, 0.6, 0.1, 5.0),
    (500, 0.05, 4, 20, 0.9, 0.9, 1e-8, 1e-8),
    (200, 0.1, 6, 50, 1.0, 1.0, 1e-8, 10.0),
    (2000, 0.02, 48, 30, 0.6, 0.4, 1.0, 1.0),
    (150, 0.08, 12, 3, 0.9, 0.9, 1e-8, 1e-8),
    (800, 0.01, 16, 5, 0.8, 0.6, 1e-8, 1.0),
    (600, 0.04, 20, 15, 0.75, 0.35, 1e-8, 2.0),
    (300, 0.05, 31, 100, 0.8, 0.8, 1e-8, 1e-8),
    (1200, 0.025, 64, 50, 0.7, 0.7, 1e-3, 3.0),
    (2000, 0.01, 16, 20, 0.8, 0.5, 1e-8, 1.0),
    (1500, 0.03, 96, 2, 0.6, 0.6, 1e-3, 10.0),
)
_HGB_KEYS = ("learning_rate", "max_iter", "max_leaf_nodes", "min_samples_leaf", "l2_regularization")
_FOREST_KEYS = ("n_estimators", "max_features", "min_samples_leaf")
_MLP_KEYS = ("width", "layers", "alpha", "learning_rate_init", "max_iter")
# Besides these, every built-in algorithm's registered defaults are candidates.
CANDIDATES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("lightgbm", REFERENCE),
    *(("lightgbm", dict(zip(_LGBM_KEYS, row, strict=True))) for row in _LGBM_ROWS),
    ("hist_gradient_boosting", dict(zip(_HGB_KEYS, (0.05, 300, 15, 20, 1.0), strict=True))),
    ("hist_gradient_boosting", dict(zip(_HGB_KEYS, (0.1, 200, 63, 10, 1e-8), strict=True))),
    ("random_forest", dict(zip(_FOREST_KEYS, (150, 0.3, 2), strict=True))),
    ("random_forest", dict(zip(_FOREST_KEYS, (100, 0.7, 5), strict=True))),
    ("extra_trees", dict(zip(_FOREST_KEYS, (200, 0.8, 2), strict=True))),
    ("extra_trees", dict(zip(_FOREST_KEYS, (100, 1.0, 1), strict=True))),
    *(("linear", {"C": value, "alpha": value}) for value in (0.1, 1.0, 10.0)),
    ("knn", {"n_neighbors": 7, "weights": "distance", "p": 1}),
    *(
        ("mlp", dict(zip(_MLP_KEYS, row, strict=True)))
        for row in ((64, 1, 1e-3, 3e-3, 100), (256, 2, 1e-4, 1e-3, 200), (128, 2, 1.0, 1e-3, 300))
    ),
)


@dataclass(frozen=True)
class Config:
    """A candidate: an algorithm and its full parameters; `default` is its rank among the
    algorithm's registered defaults (None if it is not one)."""

    name: str
    algorithm: str
    params: dict[str, Any]
    default: int | None = None

    def label(self) -> str:
        shown = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.params.items()
        )
        return f"{self.algorithm}({shown})"


def candidates() -> list[Config]:
    """The registered defaults of the built-in algorithms, then `CANDIDATES`, without
    repeats, named by algorithm and position (lgb00, lgb01, ..., lin00, ...)."""
    from automl.plugins import get_registry

    registry = get_registry()
    found: dict[str, list[tuple[dict[str, Any], int | None]]] = {name: [] for name in PREFIXES}
    for name in PREFIXES:
        for rank, params in enumerate(registry.algorithm(name).defaults):
            found[name].append((dict(params), rank))
    for name, params in CANDIDATES:
        if all(params != known for known, _ in found[name]):
            found[name].append((params, None))
    return [
        Config(f"{PREFIXES[name]}{i:02d}", name, params, rank)
        for name, entries in found.items()
        for i, (params, rank) in enumerate(entries)
    ]


# Evaluation ---------------------------------------------------------------------------


@cache
def _prepared(table: str) -> tuple[pd.DataFrame, np.ndarray, Any, list]:
    """A selection table as the search sees it: input, encoded target, schema, folds."""
    from selection_tables import SELECTION

    from automl import data
    from automl.search import make_folds

    dataset = SELECTION[table]
    frame = dataset.load()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = data.infer_schema(frame, dataset.target, None, table)
        X = data.prepare(frame, schema, table)
    y = data.encode_target(frame[dataset.target], schema)
    return X, y, schema, make_folds(y, schema.task, FOLDS, SEED, schema.classes)


def table_facts(table: str) -> dict[str, Any]:
    from selection_tables import SELECTION

    X, _, schema, _ = _prepared(table)
    return {
        "name": table,
        "task": str(schema.task),
        "metric": METRICS[str(schema.task)],
        "rows": len(X),
        "columns": X.shape[1],
        "classes": len(schema.classes) if schema.classes else None,
        "categorical": len(schema.categorical_features),
        "missing_share": round(float(X.isna().to_numpy().mean()), 4),
        "source": SELECTION[table].source,
        "bucket": "small" if len(X) < SMALL_ROWS else "large",
    }


def evaluate(table: str, config: Config, slow_seconds: float) -> dict[str, Any]:
    """Cross-validate one configuration on one table, fold by fold, as a trial is."""
    from automl.contract import SearchContext
    from automl.errors import describe
    from automl.plugins import get_registry
    from automl.preprocess import build_candidate
    from automl.search import trial_params
    from automl.worker import fit_fold

    X, y, schema, folds = _prepared(table)
    registry = get_registry()
    metric = registry.metric(METRICS[str(schema.task)])
    classification = schema.task.is_classification
    record: dict[str, Any] = {
        "table": table,
        "config": config.name,
        "score": None,
        "fold_scores": [],
        "fold_seconds": [],
        "rounds": [],
        "error": None,
        "too_slow": False,
    }
    try:
        algorithm = registry.algorithm(config.algorithm)
        context = SearchContext(
            task=schema.task,
            n_rows=len(X),
            n_columns=X.shape[1],
            n_classes=len(schema.classes) if schema.classes else None,
        )
        params = trial_params(algorithm, config.params, context)
        candidate = build_candidate(algorithm, schema, params, schema.task, SEED, 1)
        for train, valid in folds:
            start = time.perf_counter()
            fitted, rounds = fit_fold(candidate, X, y, train, classification)
            rows = X.iloc[valid]
            predictions = fitted.predict_proba(rows) if classification else fitted.predict(rows)
            record["fold_seconds"].append(time.perf_counter() - start)
            predictions = np.asarray(predictions, dtype=float)
            if classification and not metric.needs_proba:
                predictions = predictions.argmax(axis=1)
            record["fold_scores"].append(float(metric.score(y[valid], predictions)))
            record["rounds"].append(rounds)
            if record["fold_seconds"][-1] > slow_seconds:
                record["too_slow"] = True
                return record
    except Exception as exc:
        record["error"] = describe(exc)
        return record
    record["score"] = float(np.mean(record["fold_scores"]))
    return record


def _child_setup() -> None:
    from threadpoolctl import threadpool_limits

    warnings.simplefilter("ignore")
    threadpool_limits(limits=1)


def evaluate_all(
    tables: Sequence[str], configs: Sequence[Config], workers: int, slow_seconds: float
) -> list[dict[str, Any]]:
    """Every configuration on every table, `workers` at a time, biggest tables first."""
    import multiprocessing

    rows = {t: len(_prepared(t)[1]) for t in tables}
    jobs = [(t, c) for t in sorted(tables, key=rows.get, reverse=True) for c in configs]
    total = sum(rows[t] for t, _ in jobs)
    records: list[dict[str, Any]] = []
    done_rows = 0
    start = time.monotonic()
    # Fresh interpreters, one thread each: no OpenMP state of this process is inherited.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_child_setup) as pool:
        futures = {pool.submit(evaluate, t, c, slow_seconds): (t, c) for t, c in jobs}
        for future in as_completed(futures):
            table, config = futures[future]
            record = future.result()
            records.append(record)
            done_rows += rows[table]
            elapsed = time.monotonic() - start
            left = elapsed * (total - done_rows) / done_rows
            print(
                f"[{len(records):4d}/{len(jobs)}] {table:18s} {config.name:6s}"
                f" {_outcome(record):>12s} {np.mean(record['fold_seconds'] or [0]):7.2f} s/fold"
                f"   {elapsed / 60:5.1f} min, about {left / 60:.1f} min left",
                file=sys.stderr,
                flush=True,
            )
    return records


def _outcome(record: dict[str, Any]) -> str:
    if record["error"]:
        return "error"
    if record["too_slow"]:
        return "too slow"
    return f"{record['score']:.4f}"


# Selection ----------------------------------------------------------------------------


def normalized_losses(scores: pd.DataFrame, directions: dict[str, str]) -> pd.DataFrame:
    """Per table (row): 0 for the best configuration (column), 1 at or below the median
    one, linear in between; a missing score (failed, too slow) is 1."""
    losses = {}
    for table, row in scores.iterrows():
        signed = row if directions[table] == "minimize" else -row
        failed_last = signed.fillna(np.inf)
        best = failed_last.min()
        median = float(np.median(failed_last))
        if not np.isfinite(median):
            median = signed.max()
        span = median - best
        if span > 0:
            losses[table] = ((failed_last - best) / span).clip(0.0, 1.0)
        else:
            losses[table] = (failed_last > best).astype(float)
    return pd.DataFrame(losses).T.loc[scores.index, scores.columns]


def scaling(seconds: pd.DataFrame, facts: Sequence[dict[str, Any]]) -> dict[str, list[float]]:
    """Per configuration, how its seconds a fold grow with the table: the fit of
    seconds = t * cells ** s over every table it ran on (least squares on the logs), with
    cells the search's measure of a table's size (`automl.search.table_cells`), in
    millions. The search predicts an entry's cost on a new table from it, before running
    it (within about a factor of two on the selection tables)."""
    from automl.search import table_cells

    size = {f["name"]: table_cells(f["rows"], f["columns"], f.get("classes")) for f in facts}
    fitted = {}
    for config in seconds.columns:
        known = seconds[config].dropna()
        if len(known) < 2:
            continue
        x = np.log([size[t] for t in known.index])
        slope, intercept = np.polyfit(x, np.log(known.to_numpy()), 1)
        fitted[config] = [round(float(np.exp(intercept)), 4), round(float(slope), 3)]
    return fitted


def fold_ratios(seconds: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Fold seconds over the reference configuration's on the same table; a missing time
    (the configuration failed) counts as infinitely slow."""
    return seconds.fillna(np.inf).div(seconds[reference], axis=0)


def choose(
    losses: pd.DataFrame,
    seconds: pd.DataFrame,
    reference: str,
    size: int,
    cheap_factor: float = CHEAP_FACTOR,
    cheap_seconds: float = CHEAP_CV_SECONDS,
) -> list[str]:
    """Greedy forward selection of `size` configurations (columns) over the tables (rows).

    `seconds`: mean fold seconds per table and configuration (rows beyond those of
    `losses` are ignored); `reference`: LightGBM's own defaults. The first entry is the
    cheap configuration of lowest mean loss: cheap means, in the median over the tables,
    at most `cheap_factor` times the reference's fold seconds, or a cross-validation of
    at most `cheap_seconds`. Each next entry lowers the mean over the tables of the
    portfolio's least loss the most. Ties: the lower mean loss alone, then the lower
    cost, then the column order.
    """
    seconds = seconds.loc[losses.index]
    cost = fold_ratios(seconds, reference).median()
    cheap = (cost <= cheap_factor) | (FOLDS * seconds.fillna(np.inf).median() <= cheap_seconds)
    own = losses.mean()
    position = {name: i for i, name in enumerate(losses.columns)}
    chosen: list[str] = []
    covered = pd.Series(1.0, index=losses.index)
    for _ in range(min(size, losses.shape[1])):
        pool = [c for c in losses.columns if c not in chosen]
        if not chosen and cheap[pool].any():
            pool = [c for c in pool if cheap[c]]
        after = {c: float(np.minimum(covered, losses[c]).mean()) for c in pool}
        best = min(
            pool, key=lambda c: (round(after[c], 12), round(own[c], 12), cost[c], position[c])
        )
        chosen.append(best)
        covered = np.minimum(covered, losses[best])
    return chosen


def free_entries(
    losses: pd.DataFrame,
    seconds: pd.DataFrame,
    order: Sequence[str],
    algorithms: dict[str, str],
    free_seconds: float = FREE_CV_SECONDS,
) -> list[str]:
    """The configurations tried before `order`: of each algorithm `order` lacks, the one
    of lowest mean loss among those whose cross-validation takes at most `free_seconds`
    in the median over the tables, lowest mean loss first. `algorithms`: each
    configuration's algorithm.

    The greedy selection scores a portfolio by its best entry alone, so a model that is
    rarely the best never gets in, however cheap; the ensemble over the trials takes it
    when it errs unlike the others. At 10 s, the search reached the linear model (8
    entries down) on some runs and not on others. With these entries first, the mean test
    log loss over five splits was 1.485-1.491 on anes96 in three runs, against 1.484-1.514
    without (AutoGluon's and FLAML's best: 1.502), and 0.068 on digits against 0.073-0.088;
    wine was worse (docs/search.md, section 1, has every run).
    """
    seconds = seconds.loc[losses.index]
    free = FOLDS * seconds.fillna(np.inf).median() <= free_seconds
    own = losses.mean()
    lacking = {algorithms[c] for c in losses.columns} - {algorithms[c] for c in order}
    chosen = []
    for algorithm in lacking:
        pool = [c for c in losses.columns if algorithms[c] == algorithm and free[c]]
        if pool:
            chosen.append(min(pool, key=lambda c: (round(own[c], 12), c)))
    return sorted(chosen, key=lambda c: (round(own[c], 12), c))


def portfolio_loss(losses: pd.DataFrame, order: Sequence[str], k: int) -> pd.Series:
    """Each table's loss with the first `k` entries of `order`."""
    return losses[list(order[:k])].min(axis=1)


def defaults_order(configs: Sequence[Config], task: str) -> list[str]:
    """The trials the search enqueued first before the portfolio: each built-in
    algorithm's first default in registry order, then the second ones, ..."""
    from automl.contract import Task
    from automl.plugins import get_registry

    ranked = [a.name for a in get_registry().algorithms_for(Task(task)) if a.name in PREFIXES]
    defaults = [c for c in configs if c.default is not None and c.algorithm in ranked]
    defaults.sort(key=lambda c: (c.default, ranked.index(c.algorithm)))
    return [c.name for c in defaults]


@dataclass
class Bucket:
    """The choice on one size bucket, with its evidence."""

    name: str
    tables: list[str]
    order: list[str]
    mean_loss_after: list[float]
    cost: dict[str, float]
    median_fold_seconds: dict[str, float]
    leave_one_out: list[dict[str, Any]]
    # Per configuration, (seconds a fold at a million cells, exponent): see `scaling`.
    scaling: dict[str, list[float]] = field(default_factory=dict)
    # Tried before `order` (see `free_entries`).
    free: list[str] = field(default_factory=list)

    def entries(self) -> list[str]:
        """The portfolio, in the order the search tries it."""
        return [*self.free, *self.order]


def choose_bucket(
    name: str,
    losses: pd.DataFrame,
    seconds: pd.DataFrame,
    reference: str,
    defaults: dict[str, list[str]],
    size: int,
    algorithms: dict[str, str] | None = None,
) -> Bucket:
    """The bucket's portfolio and the leave-one-table-out figures (of the greedy order);
    `defaults`: the defaults order of each table; `algorithms`: each configuration's
    algorithm, for `free_entries` (none without it)."""
    order = choose(losses, seconds, reference, size)
    free = free_entries(losses, seconds, order, algorithms) if algorithms else []
    after = [float(portfolio_loss(losses, order, k).mean()) for k in range(1, len(order) + 1)]
    loo = []
    for table in losses.index if len(losses) > 1 else ():
        held_out = choose(losses.drop(index=table), seconds, reference, size)
        row: dict[str, Any] = {"table": table, "order": held_out}
        for k in LEAVE_ONE_OUT_SIZES:
            one = losses.loc[[table]]
            row[f"held_out_{k}"] = float(portfolio_loss(one, held_out, k).iloc[0])
            row[f"in_sample_{k}"] = float(portfolio_loss(one, order, k).iloc[0])
            row[f"defaults_{k}"] = float(portfolio_loss(one, defaults[table], k).iloc[0])
        loo.append(row)
    return Bucket(
        name=name,
        tables=list(losses.index),
        order=order,
        mean_loss_after=after,
        cost={c: float(v) for c, v in fold_ratios(seconds, reference).median().items()},
        median_fold_seconds={c: float(v) for c, v in seconds.median().items()},
        leave_one_out=loo,
        free=free,
    )


# Report -------------------------------------------------------------------------------


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(
    facts: list[dict[str, Any]],
    configs: list[Config],
    scores: pd.DataFrame,
    losses: pd.DataFrame,
    buckets: list[Bucket],
    records: list[dict[str, Any]],
) -> str:
    by_name = {c.name: c for c in configs}
    parts = ["## Selection tables"]
    rows = []
    for fact in facts:
        table = fact["name"]
        best = losses.loc[table].idxmin()
        rows.append(
            [
                table,
                fact["task"],
                f"{fact['rows']:,}",
                fact["columns"],
                fact["categorical"],
                f"{fact['missing_share']:.1%}",
                fact["metric"],
                f"{best} {scores.loc[table, best]:.4f}",
                f"{scores.loc[table].median():.4f}",
            ]
        )
    parts.append(
        _table(
            ["table", "task", "rows", "cols", "cat.", "missing", "metric", "best", "median"],
            rows,
        )
    )
    parts.append("## Configurations: mean loss (0 best, 1 median or worse) and seconds a fold")
    header = ["config", "default"]
    for bucket in buckets:
        header += [f"loss {bucket.name}", "best on", f"s/fold {bucket.name}", f"cost {bucket.name}"]
    rows = []
    overall = losses.mean().sort_values()
    for name in overall.index:
        row: list[Any] = [
            name,
            "" if by_name[name].default is None else f"#{by_name[name].default + 1}",
        ]
        for bucket in buckets:
            part = losses.loc[bucket.tables, name]
            row += [
                f"{part.mean():.3f}",
                int((part == 0).sum()),
                f"{bucket.median_fold_seconds[name]:.3g}",
                f"{bucket.cost[name]:.2g}",
            ]
        rows.append(row)
    parts.append(_table(header, rows))
    parts.append(
        "Cost: the median over the bucket's tables of the fold seconds over LightGBM's own"
        f" defaults'; cheap is a cost of at most {CHEAP_FACTOR} or a median cross-validation"
        f" of at most {CHEAP_CV_SECONDS:g} s. Default #n: the algorithm's n-th registered"
        " default."
    )
    for bucket in buckets:
        parts.append(f"## Portfolio `{bucket.name}` ({len(bucket.tables)} tables)")
        rows = []
        cumulative = 0.0
        for rank, (name, after) in enumerate(
            zip(bucket.order, bucket.mean_loss_after, strict=True), 1
        ):
            cumulative += FOLDS * bucket.median_fold_seconds[name]
            rows.append(
                [
                    rank,
                    name,
                    f"{after:.3f}",
                    f"{losses.loc[bucket.tables, name].mean():.3f}",
                    f"{bucket.median_fold_seconds[name]:.3g}",
                    f"{bucket.cost[name]:.2g}",
                    f"{cumulative:.3g}",
                    f"`{by_name[name].label()}`",
                ]
            )
        parts.append(
            _table(
                [
                    "#",
                    "config",
                    "mean loss after",
                    "alone",
                    "s/fold",
                    "cost",
                    "CV s so far",
                    "params",
                ],
                rows,
            )
        )
        if bucket.free:
            parts.append(
                "Tried before these, free (a median cross-validation of at most"
                f" {FREE_CV_SECONDS:g} s, of an algorithm the greedy order lacks): "
                + ", ".join(
                    f"{name} (alone {losses.loc[bucket.tables, name].mean():.3f},"
                    f" {bucket.median_fold_seconds[name]:.3g} s a fold)"
                    for name in bucket.free
                )
                + "."
            )
        if bucket.leave_one_out:
            parts.append(_leave_one_out(bucket))
    failed = [r for r in records if r["error"] or r["too_slow"]]
    if failed:
        parts.append("## Failed or too slow")
        parts.append(
            _table(
                ["table", "config", "what"],
                [
                    [
                        r["table"],
                        r["config"],
                        r["error"] or f"too slow ({max(r['fold_seconds']):.0f} s a fold)",
                    ]
                    for r in failed
                ],
            )
        )
    return "\n\n".join(parts) + "\n"


def _leave_one_out(bucket: Bucket) -> str:
    header = ["table"]
    for k in LEAVE_ONE_OUT_SIZES:
        header += [f"held out @{k}", f"in sample @{k}", f"defaults @{k}"]
    rows = []
    for row in bucket.leave_one_out:
        cells = [row["table"]]
        for k in LEAVE_ONE_OUT_SIZES:
            cells += [f"{row[f'{kind}_{k}']:.3f}" for kind in ("held_out", "in_sample", "defaults")]
        rows.append(cells)
    means = ["**mean**"]
    for k in LEAVE_ONE_OUT_SIZES:
        means += [
            f"**{np.mean([r[f'{kind}_{k}'] for r in bucket.leave_one_out]):.3f}**"
            for kind in ("held_out", "in_sample", "defaults")
        ]
    rows.append(means)
    return (
        f"Leave one table out (`{bucket.name}`): each table's loss after the first 1, 4 and 8"
        " entries of the portfolio chosen without it, of the in-sample portfolio, and of the"
        " defaults order.\n\n" + _table(header, rows)
    )


# Output -------------------------------------------------------------------------------


def module_text(buckets: list[Bucket], configs: list[Config], source: str, minutes: float) -> str:
    """The source of `automl/portfolio.py`: data only, formatted as ruff would."""
    by_name = {c.name: c for c in configs}
    lines = [
        '"""The search\'s first trials: for small and for large tables, a short ordered list of',
        "configurations strong across tables, the cheapest strong one first (so a 10 s budget",
        "already fits a good model), after those that cost nothing (models of other algorithms",
        "for the ensemble).",
        "",
        "Generated by `benchmarks/portfolio.py` (do not edit by hand) from",
        f"`{source}`: greedy forward selection on selection",
        "tables disjoint from the comparison's. That script's docstring gives the rule and",
        "`benchmarks/README.md` the evidence. To regenerate it, on an otherwise idle machine",
        f"(the evaluation took {minutes:.0f} minutes on 2 cores):",
        "",
        "    python benchmarks/portfolio.py --write",
        '"""',
        "",
        "from typing import Any",
        "",
        f'SMALL_ROWS = {SMALL_ROWS}  # tables with fewer rows use PORTFOLIO["small"]',
        "PORTFOLIO: dict[str, tuple[tuple[str, dict[str, Any]], ...]] = {",
    ]
    seconds_lines = [
        "# Each entry's seconds a fold, as (t, s): t * (cells / 1e6) ** s, where cells is",
        "# `automl.search.table_cells` of the table (see `benchmarks/portfolio.py` `scaling`).",
        "SECONDS: dict[str, tuple[tuple[float, float], ...]] = {",
    ]
    for bucket in buckets:
        seconds_lines.append(f'    "{bucket.name}": (')
        for name in bucket.entries():
            t, exponent = bucket.scaling.get(name, (bucket.median_fold_seconds[name], 0.0))
            seconds_lines.append(f"        ({t!r}, {exponent!r}),  # {name}")
        seconds_lines.append("    ),")
    seconds_lines.append("}")
    for bucket in buckets:
        lines.append(f'    "{bucket.name}": (')
        notes = ["free, a model of another algorithm for the ensemble" for _ in bucket.free]
        notes += [f"mean loss {after:.3f} up to here" for after in bucket.mean_loss_after]
        for name, note in zip(bucket.entries(), notes, strict=True):
            config = by_name[name]
            seconds = bucket.median_fold_seconds[name]
            lines.append(f"        # {name}: {note}, {seconds:.2g} s a fold")
            lines += ["        (", f'            "{config.algorithm}",', "            {"]
            # (json.dumps: a string in double quotes, as ruff formats it.)
            lines += [
                f'                "{k}": {json.dumps(v) if isinstance(v, str) else repr(v)},'
                for k, v in config.params.items()
            ]
            lines += ["            },", "        ),"]
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines + seconds_lines) + "\n"


# Command line -------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from selection_tables import SELECTION

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", nargs="+", choices=sorted(SELECTION))
    parser.add_argument(
        "--configs",
        nargs="+",
        help="configuration names (lgb00, lin01, ...) or algorithm prefixes (lgb, rf, ...)",
    )
    parser.add_argument("--quick", action="store_true", help="2 small tables, 7 configurations")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--slow-seconds", type=float, default=SLOW_SECONDS)
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        help="choose again from the scores of an earlier run's JSON, fitting nothing",
    )
    parser.add_argument(
        "--add-to",
        type=Path,
        help="evaluate only the candidates an earlier run's JSON lacks, on its tables, and"
        " choose from both",
    )
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--write", action="store_true", help=f"regenerate {MODULE_PATH.name}")
    args = parser.parse_args(argv)
    for given, flag in ((args.source, "--from"), (args.add_to, "--add-to")):
        if given and (args.quick or args.tables or args.configs):
            parser.error(f"{flag} takes the tables and configurations of the earlier run")
    if args.source and args.add_to:
        parser.error("--from and --add-to each name the earlier run: give one")
    if args.quick:
        args.tables, args.configs = list(QUICK_TABLES), list(QUICK_CONFIGS)
    if args.write and (args.quick or args.tables or args.configs):
        parser.error("--write needs the full evidence: all tables and configurations")
    args.tables = args.tables or list(SELECTION)
    return args


def _selected(configs: list[Config], wanted: list[str] | None) -> list[Config]:
    """The configurations named or whose prefix is named, and always the reference."""
    if not wanted:
        return configs
    return [
        c
        for c in configs
        if c.name in wanted
        or c.name.rstrip("0123456789") in wanted
        or (c.algorithm == "lightgbm" and c.params == REFERENCE)
    ]


def evaluation(args: argparse.Namespace, configs: list[Config]) -> dict[str, Any]:
    """Evaluate the configurations on the tables; the run's record, for the JSON."""
    from compare import automl_source, versions

    # Each evaluation fits with one thread; the pools of numpy and OpenMP too.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    print(
        f"{len(configs)} configurations x {len(args.tables)} tables, {args.workers} at a time",
        file=sys.stderr,
    )
    started = datetime.now()
    wall = time.monotonic()
    records = evaluate_all(args.tables, configs, args.workers, args.slow_seconds)
    wall = time.monotonic() - wall
    print(f"Evaluation: {wall / 60:.1f} min on {args.workers} workers.", file=sys.stderr)
    return {
        "started": started.isoformat(timespec="seconds"),
        "evaluation_seconds": round(wall, 1),
        "workers": args.workers,
        "slow_seconds": args.slow_seconds,
        "tables": [table_facts(t) for t in args.tables],
        "configs": [asdict(c) for c in configs],
        "matrix": records,
        "environment": {"cpu_count": os.cpu_count(), **versions()},
        "automl": automl_source(),
    }


def added(args: argparse.Namespace) -> dict[str, Any]:
    """An earlier run's record with the candidates it lacks evaluated on its tables and
    merged in; its own scores and fold seconds are kept as they were measured."""
    earlier = json.loads(args.add_to.read_text())
    known = [Config(**c) for c in earlier["configs"]]
    new = [c for c in candidates() if c not in known]
    if not new:
        sys.exit(f"{args.add_to} already holds every candidate: nothing to add")
    args.tables = [f["name"] for f in earlier["tables"]]
    fresh = evaluation(args, new)
    return {
        **earlier,
        "evaluation_seconds": earlier["evaluation_seconds"] + fresh["evaluation_seconds"],
        "configs": [*earlier["configs"], *fresh["configs"]],
        "matrix": [*earlier["matrix"], *fresh["matrix"]],
        "added": {
            "to": str(args.add_to),
            "configs": [c.name for c in new],
            **{k: fresh[k] for k in ("started", "evaluation_seconds", "environment", "automl")},
        },
    }


def selection(run: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Choose both buckets' portfolios from an evaluation; the choice (for the JSON) and
    the markdown report."""
    from automl.plugins import get_registry

    facts = run["tables"]
    configs = [Config(**c) for c in run["configs"]]
    reference = next(c.name for c in configs if c.algorithm == "lightgbm" and c.params == REFERENCE)
    tables, names = [f["name"] for f in facts], [c.name for c in configs]
    frame = pd.DataFrame(run["matrix"]).set_index(["table", "config"])
    scores = frame["score"].unstack().loc[tables, names].astype(float)
    seconds = frame["fold_seconds"].map(lambda s: np.mean(s) if s else np.nan).unstack()
    seconds = seconds.loc[tables, names]
    registry = get_registry()
    directions = {f["name"]: registry.metric(f["metric"]).direction for f in facts}
    losses = normalized_losses(scores, directions)
    defaults = {f["name"]: defaults_order(configs, f["task"]) for f in facts}
    size = min(PORTFOLIO_SIZE, len(configs))
    buckets = []
    costs = scaling(seconds, facts)
    for bucket in ("small", "large"):
        part = [f["name"] for f in facts if f["bucket"] == bucket]
        if part:
            chosen = choose_bucket(
                bucket, losses.loc[part], seconds.loc[part], reference, defaults, size,
                {c.name: c.algorithm for c in configs},
            )  # fmt: skip
            chosen.scaling = {c: costs[c] for c in chosen.entries() if c in costs}
            buckets.append(chosen)
    choice = {
        "rule": {
            "small_rows": SMALL_ROWS,
            "size": size,
            "cheap_factor": CHEAP_FACTOR,
            "cheap_cv_seconds": CHEAP_CV_SECONDS,
            "free_cv_seconds": FREE_CV_SECONDS,
            "reference": reference,
            "folds": FOLDS,
            "seed": SEED,
        },
        "losses": {t: losses.loc[t].round(6).to_dict() for t in losses.index},
        "defaults_order": defaults,
        "buckets": [asdict(b) for b in buckets],
    }
    return choice, markdown(facts, configs, scores, losses, buckets, run["matrix"])


def _complete(run: dict[str, Any]) -> bool:
    """Whether a run evaluated every candidate on every selection table."""
    from selection_tables import SELECTION

    tables = {f["name"] for f in run["tables"]}
    return tables == set(SELECTION) and run["configs"] == [asdict(c) for c in candidates()]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.source:
        run = {**json.loads(args.source.read_text()), "scores_from": str(args.source)}
    elif args.add_to:
        run = added(args)
    else:
        run = evaluation(args, _selected(candidates(), args.configs))
    if args.write and not _complete(run):
        earlier = args.source or args.add_to
        sys.exit(f"{earlier} does not hold every candidate on every table: not writing")
    choice, report = selection(run)
    print(report)
    if args.quick and args.output_dir == RESULTS_DIR:
        return 0
    args.output_dir.mkdir(parents=True, exist_ok=True)
    path = args.output_dir / f"portfolio-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps({**run, **choice}, indent=1, default=float))
    print(f"Wrote {path}", file=sys.stderr)
    if args.write:
        buckets = [Bucket(**b) for b in choice["buckets"]]
        configs = [Config(**c) for c in run["configs"]]
        source = path.relative_to(HERE.parent) if path.is_relative_to(HERE.parent) else path
        minutes = run["evaluation_seconds"] / 60
        MODULE_PATH.write_text(module_text(buckets, configs, str(source), minutes))
        print(f"Wrote {MODULE_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
