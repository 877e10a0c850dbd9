"""Choose the model to export and refit it on all rows within what is left of the budget:
an ensemble of the best trials when it scores better than the best alone, else the best
trial, on a sample of the rows if time is short."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from automl import ensemble
from automl.contract import Metric, Task
from automl.errors import SearchError
from automl.preprocess import build_candidate, rounds_cut
from automl.search import FIT_OVERHEAD_SECONDS, Budget, Search, refit_fold_seconds
from automl.worker import TimeUp, TrialFailed, Worker, run_jobs

MIN_REFIT_SHARE = 0.05
# A refit on all rows estimated to need at most this share more time than it has learns
# from every row all the same: the estimate is rougher than that, and the time past the
# plan comes out of what follows the refit before its hard stop. At 60 s on the
# 1,000,000-row table of benchmarks/bigtable.py, a refit planned on 976,428 rows (2.4%
# short) ended at 62.8 s, and the run at 63.4 s (bound 71 s).
ALL_ROWS_SLACK = 0.05
# On a big table, a model of the search's sample is kept in hand when refitting it takes
# at most this share of the time left (see `_refit`).
SAMPLE_REFIT_SHARE = 0.15
# A refit that can stop adding rounds at a time (`EarlyStopping.stop_params`) is told to
# stop this long, and a round's estimated time, before what follows it must start (see
# `_cut_time`): time to finish the round and send the model back.
CUT_MARGIN_SECONDS = 0.5
# ... and a model so cut is exported if it kept at least this share of its rounds; else
# the model of the search's sample, or the fastest trial's, is. On a table from the
# generator of benchmarks/bigtable.py (seed 7: 1,000,000 rows to fit, a test AUC on
# 200,000 more; LightGBM's first trial, 300 rounds), a refit on 541,939 rows scored 0.9042
# with every round, 0.9015 cut at 150 and 0.8958 at 100; the 60,000-row sample's, 0.8959.
MIN_CUT_ROUNDS_SHARE = 0.5
# A refit on every row with all its rounds that would not fit in its time is planned
# with fewer rounds at a learning rate raised as much (`EarlyStopping.rate`; rounds times
# rate kept), at most this many times the trial's rate and never above MAX_SCALED_RATE
# (the top of the built-in search spaces), and only then on fewer rows. Fitted alone with
# LightGBM's first large-table trial (300 rounds at 0.1), every row with a half or a
# third of the rounds at twice or three times the rate scored better than a half or a
# third of the rows with every round, in less time, on each of two splits of segments
# (log loss 0.452 / 0.471 against 0.474 / 0.501 at a half, 0.464 / 0.483 against
# 0.504 / 0.536 at a third), houses, churn_200k and friedman (one split of friedman at
# a half a tie: 2.272 against 2.271), and on the 1,000,000-row table of
# benchmarks/bigtable.py (test AUC 0.9035 with 100 rounds at 0.3 in 18.4 s, against
# 0.9017 on 500,000 rows in 21.2 s; every round on every row, 0.9024 in 41.9 s).
MAX_RATE_FACTOR = 3.0
MAX_SCALED_RATE = 0.3
# The share of a refit's time with every round that fewer rounds do not save (binning the
# rows, the preprocessing). LightGBM's first large-table trial fitted alone: on the
# 1,000,000-row table 300 rounds took 41.9 s and 100 took 18.4 s (6.7 s fixed, 16%);
# on segments 21%, on friedman 10%. Planned as if every second scaled with the rounds,
# a refit on every row with 162 of 300 rounds kept 122 of them, cut at its time.
ROUNDS_FIXED_SHARE = 0.2


@dataclass
class Final:
    """The model to export, and what the card says about it.

    trial: the exported trial, or with an ensemble the best single trial.
    rounds_cut: (rounds kept, rounds asked for) when the refit stopped adding rounds to
        keep the time budget.
    rounds_scaled: the fewer rounds at a higher learning rate the refit was planned with
        to learn from more rows in its time (`_scaled_rounds`).
    """

    pipeline: Any
    trial: Any
    refit_rows: int
    ensemble: ensemble.Ensemble | None = None
    members: list[Any] = field(default_factory=list)  # trials, most weight first
    rounds_cut: tuple[int, int] | None = None
    rounds_scaled: Scaled | None = None


@dataclass(frozen=True)
class Scaled:
    """A trial's parameters for a refit with `rounds` of its `of` rounds, at the learning
    rate `rate` for its `rate_was` (`EarlyStopping.rate`)."""

    params: dict[str, Any]
    rounds: int
    of: int
    rate: float
    rate_was: float

    @property
    def share(self) -> float:
        """The share of the refit's time with every round that it is expected to take."""
        return ROUNDS_FIXED_SHARE + (1 - ROUNDS_FIXED_SHARE) * self.rounds / self.of

    def as_dict(self) -> dict[str, Any]:
        """The card's `refit.rounds_scaled`."""
        return {"rounds": self.rounds, "of": self.of, "rate": self.rate, "rate_was": self.rate_was}


def final_model(
    runner: Search, ranked: list[Any], budget: Budget, cancel: threading.Event | None
) -> Final:
    """An ensemble of the best trials if it scores better than the best alone, refitted on
    all rows; otherwise the best trial, as `_refit` does."""
    chosen = _choose_ensemble(runner, ranked[0], budget)
    if chosen is not None:
        final = _refit_ensemble(runner, ranked, chosen, budget, cancel)
        if final is not None:
            return final
    return _refit(runner, ranked, budget, cancel)


def _choose_ensemble(runner: Search, best: Any, budget: Budget) -> ensemble.Ensemble | None:
    pool = runner.pool
    if not pool.mixes_algorithms():
        return None
    # The selection may not eat into the time the best trial's refit needs, which may
    # take the explanation's (`_members_end`). At 10 s on friedman, the search ended where
    # the time it kept for the selection began, and the selection, held to the budget's end
    # less the whole finish, had none: the histogram boosting was exported alone (test RMSE
    # 2.228, the run done at 8.7 s), where with LightGBM beside it the folds scored better.
    refit = _estimate(runner, best)
    deadline = _members_end(budget) - refit
    settings = runner.settings
    chosen = ensemble.select(
        pool.predictions, runner.oof_y, runner.oof_folds, settings.metric, deadline=deadline
    )
    return chosen if _beats(chosen, best, settings.metric) else None


def _beats(chosen: ensemble.Ensemble | None, best: Any, metric: Metric) -> bool:
    """An ensemble of two or more models whose mean fold score is strictly better than the
    best trial's (the same folds and rows, so like is compared with like)."""
    if chosen is None or len(chosen.weights) < 2:
        return False
    return metric.better(chosen.score, best.value)


def _refit_ensemble(
    runner: Search,
    ranked: list[Any],
    chosen: ensemble.Ensemble,
    budget: Budget,
    cancel: threading.Event | None,
) -> Final | None:
    """Refit the members on all rows, most weight first, while the budget allows.

    Members that could not be refitted are dropped and the rest reweighted and scored
    again, so the card describes the exported model. With fewer than two left, or no
    longer better than the best trial, the best refitted member is exported alone (the
    best trial when it is one); None if no member was refitted.
    """
    trials = {t.number: t for t in ranked}
    order = sorted(chosen.weights, key=lambda n: (-chosen.weights[n], n))
    if time.monotonic() + _estimate(runner, trials[order[0]]) > _members_end(budget):
        # Without its main member, the rest would be a lesser model: the best trial is
        # refitted alone (`_refit`: on fewer rows, or in the explanation's time, if need
        # be). At 120 s on the 1,000,000-row table, LightGBM (AUC 0.8998) was skipped
        # here and XGBoost (0.8968), refitted, was exported alone.
        return None
    fitted = _refit_members(runner, [trials[n] for n in order], budget, cancel)
    if not fitted:
        return None
    settings = runner.settings
    weights = {n: chosen.weights[n] for n in order if n in fitted}
    kept = ensemble.evaluate(
        runner.pool.predictions, weights, runner.oof_y, runner.oof_folds, settings.metric
    )
    if _beats(kept, ranked[0], settings.metric):
        n_classes = len(runner.schema.classes) if settings.task.is_classification else None
        members = [(n, fitted[n]) for n in kept.weights]
        pipeline = ensemble.voting_estimator(members, list(kept.weights.values()), n_classes)
        members_trials = [trials[n] for n in kept.weights]
        return Final(pipeline, ranked[0], len(runner.y), kept, members_trials)
    alone = next(t for t in ranked if t.number in fitted)
    return Final(fitted[alone.number], alone, len(runner.y))


def _refit_members(
    runner: Search, members: list[Any], budget: Budget, cancel: threading.Event | None
) -> dict[int, Any]:
    """Trial number -> pipeline refitted on all rows, for the members that fit in time.

    The members are refitted in every idle worker at once, most weight first, when each
    refit has a trial's threads (else one after the other: a refit with every core would
    only wait for the others). At 10 s on churn, the MLP, the main member, took 1.2 s in
    one worker while the other idled, and the linear model and LightGBM (0.1 s together)
    then had no time left: the MLP was exported alone (test AUC 0.8596 against the
    ensemble's 0.8646). A member whose estimated refit would end after `_members_end` is
    not started: the grace beyond the budget is for the unexpected, not for planned work.
    """
    hard_end = budget.hard_end
    rows = np.arange(len(runner.y))
    parallel = runner.refit_workers(t.params["algorithm"] for t in members)
    workers = [runner.idle.get() for _ in range(parallel)] if parallel > 1 else []

    stop = hard_end - budget.finish + budget.extras

    def refit(worker: Any, trial: Any) -> tuple[Any, float] | None:
        if time.monotonic() + _estimate(runner, trial) > _members_end(budget):
            return None
        try:
            if worker is None:
                return _fit(runner, trial, rows, stop, cancel)
            return _fit_once(runner, trial, rows, stop, cancel, worker)
        except (TimeUp, TrialFailed):
            # Stopped at the hard end (the members after it are not started: their
            # estimates no longer fit), or failed: the others are refitted without it.
            return None

    try:
        results = run_jobs(workers or [None], members, refit)
    finally:
        for worker in workers:
            runner.idle.put(worker)
    fitted: dict[int, Any] = {}
    for trial, result in zip(members, results, strict=True):
        if result is not None:
            fitted[trial.number] = result[0]
            runner.refit_seconds += result[1]
    return fitted


def _members_end(budget: Budget) -> float:
    """When an ensemble's members' refits must be done: before the budget's end less what
    follows the refit, but for the explanation's and the learning curve's time, which a
    member may take as the best trial's refit may (a model first). At 30 s on houses, the MLP
    members' refits (3.3 s) were judged not to fit in what was left before the time kept
    for the explanation; the ensemble lost them (RMSE 37,512) or was given up (37,773, the
    histogram boosting alone, behind LightGBM's defaults' 37,533), where with them it
    scored 36,500-36,700."""
    return budget.end - budget.finish + budget.extras


def _fit(
    runner: Search,
    trial: Any,
    rows: np.ndarray,
    deadline: float,
    cancel: threading.Event | None,
    stop_at: float | None = None,
    params: dict[str, Any] | None = None,
) -> tuple[Any, float]:
    """The trial's model fitted for export: on `rows` (with `Search.refit_threads`,
    `stop_at` as `Worker.refit` takes it, and `params` for the trial's if given), or, with
    bagging (`Search.bags`), its models of the search's folds, a worker each, averaged;
    and the seconds it took."""
    if not runner.bags() or len(rows) < len(runner.y):
        return _fit_once(runner, trial, rows, deadline, cancel, stop_at=stop_at, params=params)
    candidate = _candidate(runner, trial, runner.settings.n_jobs)
    started = time.monotonic()
    folds = runner.folds[: runner.settings.cv]
    workers = [runner.idle.get() for _ in range(runner.settings.parallel)]
    try:
        models = run_jobs(
            workers,
            [train for train, _ in folds],
            lambda worker, train: worker.refit(candidate, train, deadline, cancel)[0],
        )
    finally:
        for worker in workers:
            runner.idle.put(worker)
    task = runner.settings.task
    n_classes = len(runner.schema.classes) if task.is_classification else None
    bag = ensemble.voting_estimator(
        list(enumerate(models)), [1.0 / len(models)] * len(models), n_classes, prefix="fold"
    )
    return bag, time.monotonic() - started


def _fit_once(
    runner: Search,
    trial: Any,
    rows: np.ndarray,
    deadline: float,
    cancel: threading.Event | None,
    worker: Worker | None = None,
    stop: threading.Event | None = None,
    stop_at: float | None = None,
    params: dict[str, Any] | None = None,
) -> tuple[Any, float]:
    """The trial's model (or with `params`) fitted on `rows` in one worker (default: the
    first), with `Search.refit_threads`."""
    threads = runner.refit_threads(trial.params["algorithm"], len(rows))
    candidate = _candidate(runner, trial, threads, params)
    worker = worker or runner.worker
    return worker.refit(candidate, rows, deadline, cancel, threads, stop, stop_at=stop_at)


def _cut_time(
    runner: Search, trial: Any, rows: int, budget: Budget, deadline: float, expected: float
) -> float | None:
    """When a refit of the trial on `rows` rows, expected to end at `expected` and lost at
    `deadline`, is to stop adding rounds; None if its algorithm cannot
    (`EarlyStopping.stop_params`).

    Where what must follow it (the finish but for the explanation and the learning curve,
    which it may take) still fits before the hard end, but never before its expected end
    (a refit is cut only when it overruns its plan), and at the latest at `deadline`; each
    less `CUT_MARGIN_SECONDS` and a round's estimated time. At 60 s on the 1,000,000-row
    table, a refit that overran its plan ran on to its deadline, 1 s before the hard end,
    and the run ended at 69.1 s of its 71; the preparation of the card alone took 5.6 s.
    """
    stopping = runner.algorithms[trial.params["algorithm"]].early_stopping
    if stopping is None or stopping.stop_params is None:
        return None
    if runner.bags() and rows == len(runner.y):  # the folds' models, averaged (`_fit`)
        return None
    rounds = max(int(trial.user_attrs["params"].get(stopping.param, 1)), 1)
    margin = CUT_MARGIN_SECONDS + _estimate(runner, trial, rows) / rounds
    follows = budget.hard_end - (budget.finish - budget.extras)
    return min(max(follows - margin, expected), deadline - margin)


def _rounds_cut(
    runner: Search, trial: Any, pipeline: Any, stop_at: float | None, ended: float
) -> tuple[int, int] | None:
    """(rounds kept, rounds asked for) if `pipeline`, refitted with `stop_at` and back at
    `ended`, was cut short in time."""
    if stop_at is None:
        return None
    stopping = runner.algorithms[trial.params["algorithm"]].early_stopping
    return rounds_cut(stopping, pipeline, stop_at, ended)


def _estimate(runner: Search, trial: Any, rows: int | None = None) -> float:
    """`Search.refit_estimate` of the trial's refit, from its folds' time."""
    seconds = refit_fold_seconds(trial)
    return runner.refit_estimate(seconds, trial.params["algorithm"], rows)


def _candidate(
    runner: Search, trial: Any, threads: int, params: dict[str, Any] | None = None
) -> Any:
    settings = runner.settings
    return build_candidate(
        runner.algorithms[trial.params["algorithm"]],
        runner.schema,
        trial.user_attrs["params"] if params is None else params,
        settings.task,
        settings.seed,
        threads,
    )


def _scaled_rounds(runner: Search, trial: Any, share: float) -> Scaled | None:
    """The trial's parameters for a refit in `share` of the time its refit with every
    round takes: fewer rounds at a learning rate raised as much (`EarlyStopping.rate`;
    see MAX_RATE_FACTOR); None if its algorithm has no such rate, or the rate may not be
    raised."""
    stopping = runner.algorithms[trial.params["algorithm"]].early_stopping
    if stopping is None or stopping.rate is None or runner.bags():
        return None
    params = trial.user_attrs["params"]
    rounds, rate = params.get(stopping.param), params.get(stopping.rate)
    if not isinstance(rounds, int) or not isinstance(rate, float) or rounds < 2 or rate <= 0:
        return None
    fixed = ROUNDS_FIXED_SHARE
    fit = (share - fixed) / (1 - fixed)  # the share of the rounds that fits in `share`
    factor = min(1.0 / fit if fit > 0 else math.inf, MAX_RATE_FACTOR, MAX_SCALED_RATE / rate)
    fewer = math.ceil(round(rounds / factor, 9))  # 0.3 / 0.1 is 2.9999999999999996
    if fewer >= rounds:
        return None
    scaled = rate * rounds / fewer
    new = {**params, stopping.param: fewer, stopping.rate: scaled}
    return Scaled(new, fewer, rounds, scaled, rate)


def _refit(
    runner: Search, ranked: list[Any], budget: Budget, cancel: threading.Event | None
) -> Final:
    """Refit the best trial on all rows; if time is short, with fewer rounds at a higher
    learning rate where its algorithm has one (`_scaled_rounds`), and on as many rows as
    then fit in it.

    On a table bigger than the search's sample, the trial is first refitted on the sample
    when that is cheap (`SAMPLE_REFIT_SHARE` of the time left), or when the refit on all
    rows is estimated not to fit: that model is exported should the refit on more rows not
    finish, and the time it took, measured alone, replaces the folds' in the estimate.
    Where a second worker would idle meanwhile, it refits the best trial on all rows from
    the start (`_Beside`): exported if it finishes by the time the planned refit was
    allowed to end. If the best cannot be refitted in time, the fastest of the others is
    tried, and the best's refits are stopped in time for it to fit on a fold's rows (their
    plan is not shortened: the fallback is needed only when they overrun it): at 10 s on
    segments, an MLP stopped after one fold was exported, its refit on 6,041 rows ran out
    of time at the hard end, and the linear model then had none: the run failed.
    """
    settings = runner.settings
    hard_end = budget.hard_end
    fastest = min(ranked, key=lambda t: t.user_attrs["fold_seconds"])
    tried = [ranked[0]] + ([fastest] if fastest.number != ranked[0].number else [])
    fallback = 0.0
    if len(tried) > 1:
        fallback = _estimate(runner, fastest, len(runner.folds[0][0])) + FIT_OVERHEAD_SECONDS
    errors = []
    spare: Final | None = None  # a model cut to too few rounds while a fallback was left
    for trial in tried:
        # When a refit that overruns its plan is stopped: before the export, and for the
        # best trial before the fallback's refit too.
        stop = hard_end - budget.export - (fallback if trial is ranked[0] else 0.0)
        algorithm = runner.algorithms[trial.params["algorithm"]]
        if (
            trial is not tried[-1]
            and time.monotonic() + _estimate(runner, trial, _least_rows(runner)) > stop
        ):
            # Not even a fold's rows would be done by then: the refit is not started, for
            # the fallback's sake. Stopped at its deadline, it would take its worker down
            # with it, and the fallback would wait for another: at 10 s on segments, on a
            # machine slower by a third, an MLP (a fold: 3.6 s) was given the 1.3 s to its
            # stop, and the linear model then ran out of time in a new worker.
            errors.append(f"{algorithm.name}: out of time")
            continue
        beside = _Beside.start(runner, trial, budget, cancel)
        try:
            in_hand, estimate = _sample_model(runner, trial, budget, stop, cancel)
            available = hard_end - budget.finish - time.monotonic()
            if estimate > available:
                # A model that learnt from every row, or from more rows, comes before its
                # explanation and its learning curve, which then have what is left, or
                # nothing. At 60 s on the 1,000,000-row table of benchmarks/bigtable.py,
                # keeping their 7 s made the refit take 693,514 rows.
                available = min(estimate, available + budget.extras)
            planned_end = time.monotonic() + available
            # Never fewer rows than a fold's model learnt from, the model the CV estimate
            # is of: at 10 s on digits, 53 of 1,077 rows made a test log loss of 0.75 from a
            # CV estimate of 0.09. A fold's rows took a fold's time, measured.
            least = _least_rows(runner) / len(runner.y)
            enough = estimate <= available * (1 + ALL_ROWS_SLACK)
            # Fewer rounds at a higher rate first, then fewer rows (MAX_RATE_FACTOR).
            scaled = None if enough else _scaled_rounds(runner, trial, available / estimate)
            needed = estimate * (scaled.share if scaled is not None else 1.0)  # every row
            enough = needed <= available * (1 + ALL_ROWS_SLACK)
            share = 1.0 if enough else max(available / needed, least)
            rows = _subsample(runner.y, share, settings.task, settings.seed)
            final: Final | None = None
            if beside is not None and len(rows) == len(runner.y) and scaled is None:
                planned_end = stop  # the all-rows refit is running
            elif in_hand is not None and len(rows) <= len(runner.sample):
                final = Final(in_hand, trial, len(runner.sample))
            else:
                try:
                    # Planned within the time after which the explanation and export still
                    # fit, but stopped only when the export alone would not: a model first.
                    # One that can stops adding rounds before then, and is kept if it has
                    # enough of them (MIN_CUT_ROUNDS_SHARE): at 60 s on the 1,000,000-row
                    # table, a refit on 541,939 rows planned from the sample's refit was
                    # stopped at its hard end, and the model of 60,000 rows was exported.
                    # Expected to end as planned, or later on a fold's rows if more (the
                    # plan's estimate, by the share of the rows).
                    took = needed * len(rows) / len(runner.y)
                    expected = max(time.monotonic() + took, planned_end)
                    stop_at = _cut_time(runner, trial, len(rows), budget, stop, expected)
                    params = scaled.params if scaled is not None else None
                    pipeline, seconds = _fit(runner, trial, rows, stop, cancel, stop_at, params)
                    runner.refit_seconds += seconds
                    cut = _rounds_cut(runner, trial, pipeline, stop_at, time.monotonic())
                    fewer = cut is not None and cut[0] < MIN_CUT_ROUNDS_SHARE * cut[1]
                    fitted = Final(pipeline, trial, len(rows), rounds_cut=cut, rounds_scaled=scaled)
                    if fewer and (in_hand is not None or trial is not tried[-1]):
                        if in_hand is None:  # exported should the fallback fail too
                            spare = fitted
                        raise TimeUp(f"out of time ({cut[0]} of its {cut[1]} rounds fitted)")
                    final = fitted
                except (TimeUp, TrialFailed) as exc:
                    if in_hand is not None:
                        final = Final(in_hand, trial, len(runner.sample))
                    else:
                        errors.append(f"{algorithm.name}: {str(exc) or 'out of time'}")
            if beside is not None:
                # Cut in time, it is kept over a model of the sample's rows (or none) if it
                # built enough rounds: at 30 s on segments, an MLP refitted on the
                # 7,500-row sample was exported while its refit on all 22,500 rows ran out
                # of time beside it. With the sample's model in hand, no fallback is
                # needed, and it may take the fallback's time too; a planned refit on more
                # rows is not waited past.
                until = max(planned_end, time.monotonic())
                planned = final is not None and final.refit_rows > len(runner.sample)
                latest = beside.deadline
                if final is None and in_hand is None:
                    latest = stop
                elif planned:
                    latest = until
                every_row = beside.result(until, latest)
                if every_row is not None:
                    runner.refit_seconds += every_row[1]
                    cut = _rounds_cut(runner, trial, every_row[0], beside.stop_at, beside.ended)
                    enough = cut is None or cut[0] >= MIN_CUT_ROUNDS_SHARE * cut[1]
                    if planned and cut is not None and final is not None:
                        # Every row with a share of its rounds, or a share of the rows with
                        # all of them: the smaller share missing. At 10 s on segments, the
                        # refit beside was cut at 207 of 223 rounds and the plan's model of
                        # 8,070 rows exported (0.513; every row, done in time, 0.458).
                        enough = enough and cut[0] / cut[1] >= final.refit_rows / len(runner.y)
                    if cut is None or enough or (final is None and in_hand is None):
                        return Final(every_row[0], trial, len(runner.y), rounds_cut=cut)
                if final is None and in_hand is not None:
                    final = Final(in_hand, trial, len(runner.sample))
                if final is None and not errors:
                    errors.append(f"{algorithm.name}: {beside.error or 'out of time'}")
            if final is not None:
                return final
        finally:
            if beside is not None:
                beside.close()
    if spare is not None:
        return spare
    raise SearchError(
        "The winning model could not be refitted: " + "; ".join(errors),
        hint="Give a larger --time-budget." if any("out of time" in e for e in errors) else None,
    )


def _least_rows(runner: Search) -> int:
    """The fewest rows a refit takes: a fold's (the model the CV estimate is of), or
    MIN_REFIT_SHARE of the rows if more."""
    return max(round(MIN_REFIT_SHARE * len(runner.y)), len(runner.folds[0][0]))


class _Beside:
    """The trial refitted on all rows in a second worker, beside the refits `_refit` plans
    in the first (the sample's, then as many rows as the estimate says fit).

    Only on a table bigger than the search's sample, and when that refit would have the
    same threads as a trial's (`Search.refit_threads`): then the second worker would
    idle, and its core with it. At 10 s on segments (22,500 rows, 4 classes), the
    sample's refit took 0.9 s, after which the estimate allowed 16,209 rows (1.5 s);
    all rows take about 1.8 s alone.
    """

    def __init__(
        self,
        runner: Search,
        worker: Any,
        trial: Any,
        deadline: float,
        cancel: threading.Event | None,
        stop_at: float | None,
    ) -> None:
        self.runner = runner
        self.worker = worker
        self.deadline = deadline
        self.stop = threading.Event()
        self.stop_at = stop_at
        self.outcome: tuple[Any, float] | None = None
        self.ended = math.inf
        self.error = ""
        rows = np.arange(len(runner.y))

        def fit() -> None:
            try:
                self.outcome = _fit_once(
                    runner, trial, rows, deadline, cancel, worker, self.stop, stop_at
                )
                self.ended = time.monotonic()
            except TrialFailed as exc:
                self.error = str(exc)
            except BaseException:  # TimeUp, stopped, or cancelled: the caller sees to it
                pass

        self.thread = threading.Thread(target=fit, daemon=True)
        self.thread.start()

    @classmethod
    def start(
        cls,
        runner: Search,
        trial: Any,
        budget: Budget,
        cancel: threading.Event | None,
    ) -> _Beside | None:
        settings = runner.settings
        rows = len(runner.y)
        if len(runner.sample) >= rows or settings.parallel < 2:
            return None
        if runner.refit_threads(trial.params["algorithm"], rows) != settings.n_jobs:
            return None
        idle = [runner.idle.get_nowait() for _ in range(runner.idle.qsize())]
        other = next((w for w in idle if w is not runner.worker), None)
        for worker in idle:
            if worker is not other:
                runner.idle.put(worker)
        if other is None:
            return None
        # One that can stops adding rounds where what follows still fits (`_cut_time`), so
        # it comes back with the rounds it built instead of being lost; it may run past
        # the best's refits' stop (which keeps the fallback's time) to the export's, for
        # `result` to take when a model is in hand and no fallback will be needed.
        deadline = budget.hard_end - budget.export
        stop_at = _cut_time(runner, trial, rows, budget, deadline, time.monotonic())
        return cls(runner, other, trial, deadline, cancel, stop_at)

    def result(self, until: float, latest: float) -> tuple[Any, float] | None:
        """The refitted pipeline and its seconds, if it is done by `until`, or by shortly
        after the time it stops adding rounds, but no later than `latest`."""
        if self.stop_at is not None:
            until = max(until, self.stop_at + CUT_MARGIN_SECONDS)
        self.thread.join(max(min(until, latest) - time.monotonic(), 0.0))
        return self.outcome if not self.thread.is_alive() else None

    def close(self) -> None:
        """Stop the refit if it still runs, and give the worker back."""
        self.stop.set()
        self.thread.join()
        self.runner.idle.put(self.worker)


def _sample_model(
    runner: Search,
    trial: Any,
    budget: Budget,
    stop: float,
    cancel: threading.Event | None,
) -> tuple[Any | None, float]:
    """The candidate refitted on the search's sample, and the estimate of its refit on
    all rows: from the sample's refit when there was one, else from its folds.

    The sample is refitted when the table is bigger and that takes at most
    `SAMPLE_REFIT_SHARE` of the time left, or when the refit on all rows is estimated not
    to fit even in the explanation's time, as long as the sample's does (stopped at `stop`
    at the latest, as `_refit`'s refits are). The folds were
    timed beside other trials; the sample's refit is timed alone, on more rows than a
    fold's, and so plans the refit better. At 10 s on segments (22,500 rows),
    a fold of LightGBM took 1.5 s where its refit on 4,000 rows alone took 0.8 s.
    """
    estimate = _estimate(runner, trial)
    sample = runner.sample
    if len(sample) >= len(runner.y):
        return None, estimate
    available = budget.hard_end - budget.finish - time.monotonic()
    allowed = SAMPLE_REFIT_SHARE * available
    if estimate > available + budget.extras:
        allowed = max(allowed, available + budget.extras)
    if _estimate(runner, trial, len(sample)) > allowed:
        return None, estimate
    try:
        deadline = min(time.monotonic() + allowed, stop)
        pipeline, seconds = _fit_once(runner, trial, sample, deadline, cancel)
    except (TimeUp, TrialFailed):
        return None, estimate
    runner.refit_seconds += seconds
    measured = runner.refit_estimate(seconds, trial.params["algorithm"], None, len(sample))
    return pipeline, measured


def _subsample(y: np.ndarray, share: float, task: Task, seed: int) -> np.ndarray:
    rows = np.arange(len(y))
    if share >= 1.0:
        return rows
    from sklearn.model_selection import train_test_split

    stratify = y if task.is_classification else None
    try:
        kept, _ = train_test_split(rows, train_size=share, stratify=stratify, random_state=seed)
    except ValueError:
        kept, _ = train_test_split(rows, train_size=share, random_state=seed)
    return np.sort(kept)
