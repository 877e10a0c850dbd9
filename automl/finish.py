"""What follows the refit of a fit: the exported model made ready and described.

From the out-of-fold predictions of the exported model it fits the calibration
(`automl.calibrate`) and the decision threshold (`automl.decision`) and wraps the
pipeline with them, cross-validates that decision rule, fits the guard (`automl.guard`)
and the drift reference (`automl.drift`), writes the model card, then scores the held-out
rows (`automl.evaluate`), explains the model and writes the report (`automl.report`)
while the learning curve (`automl.curve`) is measured in the worker processes.

Each step has time of its own, kept back from the search (`finish_seconds`); a step
that fails or runs out of time leaves the model without what it would have added, with
a warning, never without a model.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from automl import calibrate, curve, decision, drift, ensemble, evaluate, guard, report, retrain
from automl.card import make_card
from automl.contract import Task
from automl.errors import AutoMLWarning, Cancelled, describe
from automl.events import PhaseChanged
from automl.refit import Final
from automl.search import EXPORT_SECONDS, Budget, Search
from automl.worker import Worker

if TYPE_CHECKING:
    from automl.api import AutoML

# Time kept for the explanation and report: this share of the budget, within these bounds
# (on small budgets at most EXPLAIN_SMALL_SHARE of it: 1.5 s of 10); the SHAP values stop
# REPORT_SECONDS before the export so the plots and report fit too.
EXPLAIN_SHARE = 0.05
EXPLAIN_SMALL_SHARE = 0.15
EXPLAIN_MIN_SECONDS = 4.0
EXPLAIN_MAX_SECONDS = 20.0
REPORT_SECONDS = 2.0
MIN_SHAP_SECONDS = 2.0
# Time kept for the learning curve (see `curve`) and for scoring the held-out test rows,
# shares of the budget within bounds, as for the explanation.
CURVE_SHARE = 0.05
CURVE_SMALL_SHARE = 0.1
CURVE_MIN_SECONDS = 2.0
CURVE_MAX_SECONDS = 15.0
TEST_SHARE = 0.02
TEST_SMALL_SHARE = 0.05
TEST_MIN_SECONDS = 1.0
TEST_MAX_SECONDS = 5.0
# What the refit is followed by takes about this long per million rows of the table, kept
# back from the search with the rest. Measured on the 1,000,000 x 50 binary table of
# benchmarks/bigtable.py: fitting the temperature 2.8 s, the report's column summary
# 1.9 s, the drift reference 0.7 s, the guard 0.1 s (the card's timing.prepare_seconds
# records each run's).
PREPARE_SECONDS_PER_MILLION_ROWS = 5.5
OUT_OF_FOLD = "out_of_fold.parquet"


def explain_seconds(time_budget: float) -> float:
    """Seconds of the budget kept for explaining the model and writing the report: a
    share of it, but at least EXPLAIN_MIN_SECONDS where that is not much of the budget."""
    return _kept(
        time_budget, EXPLAIN_SHARE, EXPLAIN_SMALL_SHARE, EXPLAIN_MIN_SECONDS, EXPLAIN_MAX_SECONDS
    )


def curve_seconds(time_budget: float) -> float:
    """Seconds of the budget kept for the learning curve: none where, with the time it
    has beside the explanation (`curve_window`), it would have under CURVE_MIN_SECONDS.
    At 10 s it had 0.5 s, and made a curve on 1 of the benchmark's 32 runs: the second
    kept for it is the search's now."""
    kept = _kept(time_budget, CURVE_SHARE, CURVE_SMALL_SHARE, CURVE_MIN_SECONDS, CURVE_MAX_SECONDS)
    return kept if curve_window(time_budget, kept) >= CURVE_MIN_SECONDS else 0.0


def curve_window(time_budget: float, kept: float) -> float:
    """Seconds the learning curve has from its start: those of the explanation before
    the report (it starts beside it), then `kept`, its own."""
    return max(explain_seconds(time_budget) - REPORT_SECONDS, 0.0) + kept


def test_seconds(time_budget: float) -> float:
    """Seconds of the budget kept for scoring the held-out test rows."""
    return _kept(time_budget, TEST_SHARE, TEST_SMALL_SHARE, TEST_MIN_SECONDS, TEST_MAX_SECONDS)


def _kept(budget: float, share: float, small_share: float, low: float, high: float) -> float:
    """A share of the budget, but at least `low` seconds where that is not more than
    `small_share` of it, and at most `high`."""
    return min(max(share * budget, min(low, small_share * budget)), high)


def finish_seconds(
    model: AutoML, test: bool, rows: int = 0, export: float = EXPORT_SECONDS
) -> float:
    """Seconds kept back from the search for what follows the refit of a table of `rows`
    rows, `export` of them for writing the bundle. The learning curve starts beside the
    explanation, but has time of its own: the explanation's alone let it finish on 5 of 32
    runs of the 60 s benchmark."""
    seconds = export + PREPARE_SECONDS_PER_MILLION_ROWS * rows / 1e6
    seconds += extras_seconds(model)
    if test:
        seconds += test_seconds(model.time_budget)
    return seconds


def extras_seconds(model: AutoML) -> float:
    """Of `finish_seconds`, those of the explanation and the learning curve: the refit
    may take them to learn from every row (see `automl.refit`)."""
    seconds = explain_seconds(model.time_budget) if model.explanations else 0.0
    return seconds + (curve_seconds(model.time_budget) if model.learning_curve else 0.0)


def explain_deadline(time_budget: float, budget: Budget) -> float:
    """When the SHAP values must stop: before the plots, report and export at the end
    of the budget, and, when the search ended early (--n-trials), after about the
    time kept for them, not the rest of the budget."""
    kept = max(explain_seconds(time_budget) - REPORT_SECONDS, MIN_SHAP_SECONDS)
    end = budget.end - budget.export - REPORT_SECONDS
    return min(end, time.monotonic() + kept)


def finish(
    model: AutoML,
    runner: Search,
    the_study: Any,
    final: Final,
    budget: Budget,
    workers: list[Worker],
    *,
    frame: pd.DataFrame,
    X: pd.DataFrame,
    source: str,
    fingerprint: str,
    resumed: bool,
    imbalance: dict[str, Any] | None,
    held_out: evaluate.HeldOut | None,
    like: AutoML | None,
) -> None:
    """Make the refitted `final` model ready and describe it: sets `model`'s pipeline_,
    schema_, card_, out_of_fold_, reference_, evaluation_, curve_ and insights_."""
    schema = runner.schema
    preparing = time.monotonic()
    raw = out_of_fold(runner, final)
    # A trial scored on part of its folds was said so with its own warning (`AutoML._search`).
    if raw is None and schema.classes is not None and "partial" not in final.trial.user_attrs:
        warnings.warn(
            "The out-of-fold predictions of the exported model were not kept (its trials"
            " ran in another process, or before the run was resumed): its probabilities"
            " are not calibrated, its decision threshold is 0.5, and the report has no"
            " out-of-fold diagnostics.",
            AutoMLWarning,
            stacklevel=3,
        )
    calibration, oof = _calibrate(runner, final, raw)
    threshold = _decide(runner, final, oof)
    model.pipeline_, model.schema_ = final.pipeline, schema
    model.card_ = card = make_card(
        runner,
        the_study,
        final,
        source=source,
        frame=frame,
        fingerprint=fingerprint,
        resumed=resumed,
        budget=budget,
        time_budget=model.time_budget,
    )
    # The options as asked, None where automl chose: a retrained model (`automl.retrain`)
    # chooses again for its own data.
    card["options"] = {"algorithms": model.algorithms or None, "cv_repeats": model.cv_repeats}
    card["data"]["summary"] = report.summarize(frame, schema)
    card["imbalance"] = imbalance
    card["calibration"] = calibration.as_dict() if calibration is not None else None
    card["decision"] = threshold.as_dict() if threshold is not None else None
    card["cv"]["exported"] = exported_estimate(runner, oof, calibration, threshold)
    card["guard"] = _guard(runner)
    model.out_of_fold_ = _oof_frame(runner, oof, frame[schema.target], threshold)
    model.reference_ = drift.reference(frame, schema, model.out_of_fold_)
    card["drift"] = {"file": drift.REFERENCE_FILE}
    card["out_of_fold"] = (
        {"file": OUT_OF_FOLD, "rows": len(model.out_of_fold_)}
        if model.out_of_fold_ is not None
        else None
    )
    card["timing"]["prepare_seconds"] = round(time.monotonic() - preparing, 3)
    # The curve's fits run in the worker processes while this one scores the test rows
    # and explains the model, on the other core.
    stop = threading.Event()
    measuring = _start_curve(model, runner, workers, calibration, threshold, budget, stop)
    try:
        model.evaluation_ = None
        if held_out is not None:
            model.on_event(PhaseChanged("test", budget.elapsed()))
            _score_held_out(model, held_out, budget, like)
        explained = None
        if model.explanations and time.monotonic() >= budget.end:
            _no_time_to_explain(final, budget)
        elif model.explanations:
            model.on_event(PhaseChanged("explain", budget.elapsed()))
            explained = _explain(model, final, frame, X, budget)
    except BaseException:
        # Nothing may be left fitting in the workers, which close after this.
        stop.set()
        if measuring is not None:
            concurrent.futures.wait([measuring])
        raise
    model.curve_ = _finish_curve(measuring)
    # No worker is needed after the curve: they exit while the report is written (closing
    # them one after the other took 0.53 s after the report at 10 s on digits).
    for worker in workers:
        worker.quit()
    card["learning_curve"] = model.curve_.as_dict() if model.curve_ is not None else None
    model.insights_ = None
    if explained is not None:
        before = raw if calibration is not None and calibration.kept else None
        model.insights_ = _write_report(model, runner, explained, before, budget)


# The decision rule -------------------------------------------------------------------


def out_of_fold(runner: Search, final: Final) -> np.ndarray | None:
    """The exported model's out-of-fold predictions (of the first repeat of the folds), a
    row per row of the table, NaN for rows the search's sample left out; None if they
    were not kept (the best trial ran in another process, or before a resume)."""
    n = len(runner.y)
    if final.ensemble is not None:
        members = final.ensemble.weights
        if all(number in runner.pool.predictions for number in members):
            return ensemble.blend(runner.pool.predictions, members)[:n]
        return None
    number = final.trial.number
    if runner.best_predictions and runner.best_predictions[0] == number:
        return runner.best_predictions[2]
    if number in runner.pool.predictions:  # not the best trial: refitted when that failed
        return runner.pool.predictions[number][:n]
    return None


def _calibrate(
    runner: Search, final: Final, oof: np.ndarray | None
) -> tuple[calibrate.Calibration | None, np.ndarray | None]:
    """For a classifier, the temperature scaling of `calibrate` fitted on its out-of-fold
    predictions; when it is kept, the exported pipeline is wrapped to apply it, and the
    out-of-fold predictions returned are the calibrated ones (cross-validated)."""
    settings = runner.settings
    if not settings.task.is_classification or oof is None:
        return None, oof
    rows = runner.sample
    found, crossed = calibrate.fit(runner.y[rows], oof[rows], settings.seed)
    # The most rows a fold's model learnt from (two folds of an odd number of rows differ):
    # a model refitted on the search's rows, or a bag of its folds' models, is within
    # MAX_ROWS_RATIO of it; one refitted on more rows than the search's sample may not be.
    # A refit with fewer rounds at a higher learning rate (`refit.Scaled`) keeps it: on
    # churn, fair, anes96 and segments (two splits each, LightGBM's first large-table
    # trial) the folds' temperature bettered the test log loss of the refit with a third,
    # half and 80% of the rounds as it did that of the refit with all of them (churn, a
    # third: 0.465 to 0.452; all: 0.452 to 0.445), on 23 of 24 (benchmarks/scaled_temperature.py).
    fold_rows = max(len(train) for train, _ in runner.folds)
    if found.kept and final.refit_rows > calibrate.MAX_ROWS_RATIO * fold_rows:
        found, crossed = found.unfit_for(final.refit_rows, fold_rows), oof[rows]
    metric = settings.metric
    if found.kept and metric.needs_proba:
        # A check for metrics that rank rather than score probabilities (ROC AUC of
        # several classes): calibration must not make the run's own metric worse.
        before, after = (float(metric.score(runner.y[rows], p)) for p in (oof[rows], crossed))
        if metric.better(before, after):
            found = dataclasses.replace(
                found, kept=False, why=found.why.replace("kept", f"not kept: {metric.name} fell")
            )
            crossed = oof[rows]
    if not found.kept:
        return found, oof
    final.pipeline = calibrate.wrap(final.pipeline, found.beta, oof.shape[1])
    calibrated = np.array(oof)
    calibrated[rows] = crossed
    return found, calibrated


def _decide(runner: Search, final: Final, oof: np.ndarray | None) -> decision.Threshold | None:
    """For a binary model scored on labels, the decision threshold chosen on its
    out-of-fold probabilities; the exported pipeline is wrapped to predict with it."""
    settings = runner.settings
    if settings.task is not Task.BINARY or settings.metric.needs_proba or oof is None:
        return None
    rows = runner.sample
    threshold = decision.choose(runner.y[rows], oof[rows], settings.metric)
    if threshold is not None and threshold.value != 0.5:
        # `fit` of the wrapper learns nothing, but wants a row of each class to see.
        seen = [int(np.flatnonzero(runner.y == code)[0]) for code in (0, 1)]
        final.pipeline = decision.with_threshold(
            final.pipeline, threshold.value, runner.X.iloc[seen], runner.y[seen]
        )
    return threshold


def exported_estimate(
    runner: Search,
    oof: np.ndarray | None,
    calibration: calibrate.Calibration | None,
    threshold: decision.Threshold | None,
) -> dict[str, Any] | None:
    """The cross-validated score of the decision rule exported, when it is not the
    search's: with the calibration kept (the out-of-fold probabilities calibrated, each
    row by a temperature fitted without it) or a decision threshold other than 0.5 (on
    each fold, the threshold chosen on the other folds' rows). The search's estimate
    scores the uncalibrated model at 0.5, and the threshold's own score is chosen on the
    very rows it is scored on: both are what a held-out test should be compared with
    less than this. None when the rule is the search's, or cannot be scored."""
    metric, y = runner.settings.metric, runner.y
    moved = threshold is not None and threshold.value != 0.5
    # A temperature keeps the most probable class: labels at 0.5 are the search's.
    calibrated = calibration is not None and calibration.kept and metric.needs_proba
    if oof is None or not (moved or calibrated):
        return None
    scores = []
    for train, valid in runner.folds[: runner.settings.cv]:
        predictions = oof[valid]
        if not metric.needs_proba:
            cut = decision.choose(y[train], oof[train], metric) if moved else None
            if cut is not None:
                predictions = (predictions[:, 1] >= cut.value).astype(np.int64)
            else:
                predictions = predictions.argmax(axis=1)
        try:
            scores.append(float(metric.score(y[valid], predictions)))
        except Exception:
            return None
    how = []
    if calibrated:
        how.append("calibrated out-of-fold probabilities")
    if moved:
        how.append("the decision threshold chosen on the other folds")
    return {
        "score": float(np.mean(scores)),
        "std": float(np.std(scores)),
        "folds": len(scores),
        "fold_scores": scores,
        "how": " and ".join(how),
    }


def _guard(runner: Search) -> dict[str, Any] | None:
    """The `guard` of a classifier, on the rows the model learnt from."""
    if runner.schema.classes is None:
        return None
    return guard.fit(runner.X, runner.y, runner.schema, runner.settings.cv)


def _oof_frame(
    runner: Search, oof: np.ndarray | None, target: pd.Series, threshold: Any
) -> pd.DataFrame | None:
    """The out-of-fold predictions as `AutoML.out_of_fold` gives them: a row per row the
    search used (by its number in the training table), the actual target, the prediction
    and, for classification, a probability per class."""
    if oof is None:
        return None
    rows = runner.sample
    frame = pd.DataFrame({"actual": target.to_numpy()[rows]}, index=pd.Index(rows, name="row"))
    classes = runner.schema.classes
    if classes is None:
        frame["prediction"] = oof[rows]
        return frame
    proba = oof[rows]
    if threshold is not None and threshold.value != 0.5:
        codes = (proba[:, 1] >= threshold.value).astype(np.int64)
    else:
        codes = proba.argmax(axis=1)
    frame["prediction"] = np.asarray(classes, dtype=object)[codes]
    for k, label in enumerate(classes):
        # A class named like the first two columns keeps them: its column gets a prefix.
        name = str(label)
        frame[f"proba_{name}" if name in ("actual", "prediction") else name] = proba[:, k]
    return frame


# The learning curve, the test and the explanation ---------------------------------------


class _Either:
    """Set when any of its events is: what a `Worker` asks of a cancel event."""

    def __init__(self, *events: threading.Event | None) -> None:
        self.events = [e for e in events if e is not None]

    def is_set(self) -> bool:
        return any(e.is_set() for e in self.events)


def _start_curve(
    model: AutoML,
    runner: Search,
    workers: list[Worker],
    calibration: calibrate.Calibration | None,
    threshold: decision.Threshold | None,
    budget: Budget,
    stop: threading.Event,
) -> concurrent.futures.Future | None:
    """Start measuring the learning curve of the exported configuration, on the first
    repeat of the search's folds, in a thread of its own; None if it is not wanted or
    there is no time left for it. `stop` (or the run's cancel) stops it.

    Beside an explanation (which takes a core of this process), it has one worker
    process, the explanation's time and its own after it, until the report must be
    written. Alone, it has every worker and the time kept for it."""
    if not model.learning_curve:
        return None
    assert model.card_ is not None
    settings = runner.settings
    kept = curve_seconds(model.time_budget)
    if not kept:
        return None
    if model.explanations:
        workers = workers[:1]
        # Not the rest of the budget when the search ended early (--n-trials).
        end = budget.end - budget.export - REPORT_SECONDS
        deadline = min(end, time.monotonic() + curve_window(model.time_budget, kept))
    else:
        deadline = min(budget.end - (budget.finish - kept), time.monotonic() + kept)
    if deadline <= time.monotonic():
        return None
    model.on_event(PhaseChanged("curve", budget.elapsed()))
    executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="automl-curve")
    future = executor.submit(
        curve.learning_curve,
        curve.configuration(model.card_),
        runner.schema,
        runner.y,
        runner.folds[: settings.cv],
        settings.metric,
        workers,
        threshold=threshold.value if threshold is not None else None,
        beta=calibration.beta if calibration is not None and calibration.kept else None,
        seed=settings.seed,
        n_jobs=settings.n_jobs,
        deadline=deadline,
        cancel=_Either(model.cancel, stop),
    )
    executor.shutdown(wait=False)
    return future


def _finish_curve(measuring: concurrent.futures.Future | None) -> curve.LearningCurve | None:
    """The measured curve, once its thread is done; None if there was no time for it, or
    (with a warning) if it failed. A cancelled run stops here."""
    if measuring is None:
        return None
    try:
        # None when not even its largest size fitted in the time left: like the
        # explanation's rows, the curve is what the budget allows.
        return measuring.result()
    except Cancelled:
        raise
    except Exception as exc:
        warnings.warn(
            f"The learning curve could not be measured ({describe(exc)}).",
            AutoMLWarning,
            stacklevel=4,
        )
        return None


def _score_held_out(
    model: AutoML, held_out: evaluate.HeldOut, budget: Budget, like: AutoML | None
) -> None:
    """Score the exported model once on the held-out rows; the card gains "test", and
    with a model it retrains, "parent": both scored on those rows."""
    card = model.card_
    assert card is not None
    started = time.monotonic()
    explaining = explain_seconds(model.time_budget) if model.explanations else 0.0
    deadline = min(
        started + test_seconds(model.time_budget), budget.end - budget.export - explaining
    )
    # With a model to compare, the test's bootstrap leaves it half the time.
    own = deadline if like is None else started + (deadline - started) / 2
    model.evaluation_ = evaluate.evaluate(
        model, held_out.frame, held_out.source, seed=model.seed, deadline=own
    )
    if like is not None:
        card["parent"] = retrain.compare(
            like, model.evaluation_, held_out.frame, held_out.source, seed=model.seed,
            deadline=deadline,
        )  # fmt: skip
    card["test"] = evaluate.section(
        model.evaluation_, card, split=held_out.split, seconds=time.monotonic() - started
    )


def _explain(
    model: AutoML, final: Final, frame: pd.DataFrame, X: pd.DataFrame, budget: Budget
) -> tuple[Any, pd.DataFrame] | None:
    """Explain the model in what is left of the budget; a model that cannot be
    explained is still a model, so a failure here only warns."""
    assert model.schema_ is not None
    try:
        return report.explain_model(
            final.pipeline,
            model.schema_,
            frame,
            X,
            deadline=explain_deadline(model.time_budget, budget),
            seed=model.seed,
        )
    except Exception as exc:
        cannot_explain(exc)
        return None


def _write_report(
    model: AutoML,
    runner: Search,
    explained: tuple[Any, pd.DataFrame],
    uncalibrated: np.ndarray | None,
    budget: Budget,
) -> report.Insights | None:
    """The plots and the report of the explained model; `uncalibrated`: the
    out-of-fold predictions before calibration, when it was kept. Plots that may be
    left out (`report._beeswarms`) stop before the export's time."""
    schema, card = model.schema_, model.card_
    assert schema is not None and card is not None
    oof = before = None
    if model.out_of_fold_ is not None:
        rows = model.out_of_fold_.index.to_numpy()
        classes = schema.classes
        predictions = model.out_of_fold_.iloc[:, 2:] if classes else model.out_of_fold_.iloc[:, 1:]
        values = predictions.to_numpy(dtype=float)
        oof = (runner.y[rows], values[:, 0] if classes is None else values)
        if uncalibrated is not None:
            before = uncalibrated[rows]
    try:
        return report.make_insights(
            *explained, schema, card, oof, evaluation=model.evaluation_, uncalibrated=before,
            deadline=budget.end - budget.export,
        )  # fmt: skip
    except Exception as exc:
        cannot_explain(exc)
        return None


def _no_time_to_explain(final: Final, budget: Budget) -> None:
    """The refit may take the explanation's time to learn from every row (a model
    first): when it ended past the budget, the explanation (about 1.8 s at 10 s on a
    22,500-row, 4-class table, with its plots and report) would break the time promise."""
    warnings.warn(
        f"No time was left to explain the model: the budget was spent when its refit on"
        f" {final.refit_rows} rows ended ({budget.elapsed():.1f} s of {budget.seconds:g} s), so"
        " the bundle has no explanations or report. `automl explain MODEL_DIR DATA`"
        " explains rows of DATA with the saved model; a larger --time-budget leaves time"
        " for both.",
        AutoMLWarning,
        stacklevel=4,
    )


def cannot_explain(exc: BaseException) -> None:
    warnings.warn(
        f"The model could not be explained ({describe(exc)}); the bundle has no"
        " explanations or report.",
        AutoMLWarning,
        stacklevel=5,
    )


def import_explainers() -> None:
    """Import shap and matplotlib (one to two seconds), to have it done before the
    explanation's time starts."""
    import matplotlib.figure  # noqa: F401
    import shap  # noqa: F401
