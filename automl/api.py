"""The Python API: `AutoML(...).fit(df, target=...)`, `.predict`, `.save`, `automl.load`.

The CLI and the TUI drive the same `AutoML.fit`; it reports progress through plain event
objects and stops early when its `cancel` event is set.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automl import (
    bundle,
    curve,
    data,
    decision,
    drift,
    evaluate,
    explain,
    finish,
    forkserver,
    guard,
    report,
    retrain,
    rundir,
    study,
)
from automl.card import count_states
from automl.contract import Algorithm, Metric, Task
from automl.errors import (
    AutoMLWarning,
    DataError,
    SearchError,
    UsageError,
)
from automl.evaluate import HeldOut
from automl.events import (
    EventCallback,
    PhaseChanged,
    SearchFinished,
    SearchStarted,
    ignore,
    trials_words,
)
from automl.plugins import get_registry
from automl.refit import Final, final_model
from automl.search import (
    EXPORT_SECONDS,
    Budget,
    Search,
    Settings,
    enqueue_first_trials,
    make_pruner,
    make_sampler,
    outscoring_partial,
    partial_trials,
    quiet_optuna,
    ranked_trials,
    search_rows,
)
from automl.worker import Worker

DEFAULT_METRICS = {Task.BINARY: "roc_auc", Task.MULTICLASS: "log_loss", Task.REGRESSION: "rmse"}
# Under this many rows a process running one trial at a time (an `automl worker`) fits
# with one thread: waking a second costs more than it saves.
SMALL_TABLE_ROWS = 20_000
# The cores run a trial each, one thread per fit, in a worker process each holding the
# table: benchmarks/parallel.py measured the same 8 trials 3.7 to 8 times faster that way
# than one at a time with two threads, from 1,000 to 50,000 rows. Only when that many
# copies of the table (and one more for the run) would take more than this share of the
# memory available does one trial at a time use all the cores as threads.
PARALLEL_MEMORY_SHARE = 0.5
# Tables under these many rows get their k-fold cross-validation repeated (3 and 2 times),
# so the chosen model is not the one that happened to suit one split of few rows; with a
# budget of at least REPEAT_BUDGET seconds. Below it, the trials a repeat would cost are
# worth more than the steadier estimate. Over 5 splits of the 5 small benchmark tables,
# plain 5-fold cross-validation scored better at 10 s on 4 (wine's log loss 0.040
# against 0.099, digits' 0.075 against 0.099) and worse on breast_cancer (AUC 0.9888
# against 0.9937); at 30 s better on 3 (anes96's log loss 1.466 against 1.548), the same
# on breast_cancer and worse on diabetes (RMSE 56.06 against 55.71). Files:
# benchmarks/results/compare-norepeat{10,30}-*.json. At 60 s, on 3 splits in one hour,
# the repeats scored better on anes96 (1.461 against 1.481) and diabetes (56.87 against
# 58.49), worse on wine (0.0549 against 0.0387), the same on two (compare-norepeat60-*).
REPEAT_ROWS = ((1_000, 3), (4_000, 2))
REPEAT_BUDGET = 60.0


class AutoML:
    """Search algorithms and hyperparameters for a table within a time budget.

    time_budget: seconds of wall time for the whole fit (search, refit and export).
    task: "auto", "binary", "multiclass" or "regression".
    metric: a registered metric name; default roc_auc, log_loss or rmse by task.
    n_trials: stop after this many trials even if time is left.
    cv: number of cross-validation folds.
    algorithms: names of registered algorithms to try (default: all that fit the task).
    cv_repeats: how many times the k-fold cross-validation is repeated over other
        shuffles; None: 3 times under 1,000 rows, twice under 4,000, else once.
    seed: seeds the folds, the sampler and the estimators.
    n_jobs: cores to use; -1 for all. They run that many trials at once, one thread each
        (each in its own worker process), unless that many copies of the table would not
        fit in half the available memory: then one trial at a time uses them as threads.
    parallel_trials: True or False overrides that choice; None decides by memory.
    storage: an Optuna storage URL for the trials (default: a file in `output`, if any),
        or the path of a journal file; with a database, `automl worker` processes on other
        machines can join the search (see docs/distributed.md).
    study: the name of the study in `storage` (default: automl-<name of output>).
    ensemble: export a weighted average of the best trials' models when it scores better
        in cross-validation than the best one alone (greedy selection, Caruana et al.).
    portfolio: start with the portfolio of configurations chosen by
        `benchmarks/portfolio.py` (False: with each algorithm's own defaults).
    early_stopping: let boosted models stop adding rounds once held-out rows of each
        fold stop improving (False: fit the searched number of rounds).
    explanations: explain the exported model with SHAP values and write the report; time
        for it is kept back from the search (see `explain_seconds`).
    learning_curve: measure the exported configuration's cross-validated score at several
        training sizes and say whether more rows would help or it overfits (see
        `automl.curve`); time for it is kept back from the search too.
    bagging: export each chosen configuration as the average of its models of the
        search's first k folds instead of one refitted on all rows (on tables the trials
        see whole).
    on_event: called with each progress event; cancel: set it to stop the run early.
    """

    def __init__(
        self,
        time_budget: float = 60.0,
        *,
        task: str = "auto",
        metric: str | None = None,
        n_trials: int | None = None,
        cv: int = 5,
        cv_repeats: int | None = None,
        algorithms: list[str] | None = None,
        seed: int = 0,
        n_jobs: int = -1,
        parallel_trials: bool | None = None,
        storage: str | None = None,
        study: str | None = None,
        ensemble: bool = True,
        portfolio: bool = True,
        early_stopping: bool = True,
        explanations: bool = True,
        learning_curve: bool = True,
        bagging: bool = False,
        on_event: EventCallback = ignore,
        cancel: threading.Event | None = None,
    ) -> None:
        self.time_budget = time_budget
        self.task = task
        self.metric = metric
        self.n_trials = n_trials
        self.cv = cv
        self.cv_repeats = cv_repeats
        self.algorithms = algorithms
        self.seed = seed
        self.n_jobs = n_jobs
        self.parallel_trials = parallel_trials
        self.storage = storage
        self.study = study
        self.ensemble = ensemble
        self.portfolio = portfolio
        self.early_stopping = early_stopping
        self.explanations = explanations
        self.learning_curve = learning_curve
        self.bagging = bagging
        self.on_event = on_event
        self.cancel = cancel
        self.pipeline_: Any = None
        self.schema_: data.Schema | None = None
        self.card_: dict[str, Any] | None = None
        self.insights_: report.Insights | None = None
        self.bundle_path_: Path | None = None
        self.out_of_fold_: pd.DataFrame | None = None
        # What the training data looked like, for `automl drift` (see `automl.drift`).
        self.reference_: dict[str, Any] | None = None
        self.evaluation_: evaluate.Evaluation | None = None
        self.curve_: curve.LearningCurve | None = None
        self._claim: rundir.Claim | None = None

    # Fitting -----------------------------------------------------------------------

    def fit(
        self,
        table: pd.DataFrame | str | Path,
        target: str,
        *,
        test: pd.DataFrame | str | Path | None = None,
        test_size: float | None = None,
        like: AutoML | None = None,
        output: str | Path | None = None,
        resume: bool = False,
        force: bool = False,
        clock_start: float | None = None,
    ) -> AutoML:
        """Search, refit the winner on all rows and, with `output`, write the bundle there.

        table: a DataFrame or the path of a .csv, .tsv or .parquet file.
        test: labelled rows (a DataFrame or a file with the same columns) that the search,
            the ensemble and the refit never see; the exported model is scored on them
            once, with every metric of the task (see `automl.evaluate`).
        test_size: instead of `test`, hold out this fraction of `table`'s rows (seeded,
            stratified for classification) before anything else sees them.
        like: a model this one retrains (see `automl.retrain`): its configurations are
            the first trials, and at the end both are scored on the same held-out rows
            (a `retrain.TEST_SIZE` share, without `test` or `test_size`); the card's
            "parent" section says which is better.
        output: directory for the trial store and the model bundle; must be new or empty
            unless `resume` continues the interrupted run stored there, or `force` starts
            over (replacing its bundle). It is marked INCOMPLETE until the bundle is saved,
            and no other run may use it meanwhile.
        clock_start: the `time.monotonic()` value the budget counts from (default: now).
        """
        if like is not None and test is None and test_size is None:
            test_size = retrain.TEST_SIZE
        start = time.monotonic() if clock_start is None else clock_start
        self._validate_options()
        budget = Budget(start, float(self.time_budget))
        if test is not None and test_size is not None:
            raise UsageError("Give held-out rows either as a test table or as a test size.")
        output = Path(output) if output is not None else None
        self._check_output(output, resume, force)
        # The worker processes' fork server imports its libraries while the table is read.
        forkserver.start()
        self.on_event(PhaseChanged("load", budget.elapsed()))
        frame, source = _read(table)
        data.require_column(frame, target, source)
        frame = data.drop_missing_target(frame, target)
        task = None if self.task == "auto" else Task(self.task)
        frame, held_out = self._hold_out(table, frame, target, task, test, test_size, source)
        schema = data.infer_schema(frame, target, task, source)
        if held_out is not None:
            held_out.check(schema, frame)
        metric = self._metric(schema.task)
        algorithms = self._algorithms(schema.task)
        X = data.prepare(frame, schema, source)
        y = data.encode_target(frame[target], schema)
        # What follows the refit has time of its own, kept back from the search; the
        # export's only when there is a bundle to write.
        budget.export = EXPORT_SECONDS if output is not None else 0.0
        budget.finish = finish.finish_seconds(self, held_out is not None, len(X), budget.export)
        budget.extras = finish.extras_seconds(self)
        imbalance = _imbalance(y, schema)
        table_bytes = int(X.memory_usage(deep=True).sum())
        parallel, threads = _cores(self.n_jobs, table_bytes, self.parallel_trials)
        stored = self._stored_run(output, resume)
        settings = Settings(
            metric=metric,
            algorithms=algorithms,
            task=schema.task,
            cv=self.cv,
            seed=self.seed,
            n_jobs=threads,
            n_trials=self.n_trials,
            ensemble=self.ensemble,
            portfolio=self.portfolio,
            early_stopping=self.early_stopping,
            repeats=self.cv_repeats or stored.get("cv_repeats") or self._repeats(len(X)),
            parallel=parallel,
            search_rows=stored.get("search_rows") or self._search_rows(schema),
            imbalanced=imbalance is not None,
            bagging=self.bagging,
        )
        fingerprint = data.fingerprint(frame)
        modules = _estimator_modules(algorithms, schema.task)
        with quiet_optuna(), contextlib.ExitStack() as workers:
            worker, *helpers = [workers.enter_context(Worker(modules)) for _ in range(parallel)]
            runner = Search(
                X, y, schema, settings, budget, self.on_event, worker, self.cancel, helpers
            )
            split = held_out.split if held_out is not None else None
            first = retrain.configurations(like.card) if like is not None else []
            the_study, resumed = self._open_study(
                output, resume, force, runner, fingerprint, table, split, first
            )
            if self.explanations:
                # Importing shap and matplotlib takes one to two seconds: do it while the
                # worker processes search, not in the time kept for the explanation.
                threading.Thread(target=finish.import_explainers, daemon=True).start()
            ranked = self._search(runner, the_study, budget, frame.shape[1] - 1)
            self.on_event(PhaseChanged("refit", budget.elapsed()))
            final = final_model(runner, ranked, budget, self.cancel)
            _warn_partial(final, ranked, budget)
            finish.finish(
                self,
                runner,
                the_study,
                final,
                budget,
                [worker, *helpers],
                frame=frame,
                X=X,
                source=source,
                fingerprint=fingerprint,
                resumed=resumed,
                imbalance=imbalance,
                held_out=held_out,
                like=like,
            )
        card = self._fitted_card()
        card["timing"]["wall_seconds"] = round(budget.elapsed(), 3)
        if output is not None:
            self.on_event(PhaseChanged("export", budget.elapsed()))
            self.save(output)
            self._claim.release()
        self.on_event(PhaseChanged("done", budget.elapsed()))
        return self

    def _hold_out(
        self,
        table: Any,
        frame: pd.DataFrame,
        target: str,
        task: Task | None,
        test: pd.DataFrame | str | Path | None,
        test_size: float | None,
        source: str,
    ) -> tuple[pd.DataFrame, HeldOut | None]:
        """The training rows and the held-out ones: a test table as given, or a seeded
        split of `frame`, made before anything else sees its rows."""
        if test is not None:
            test_frame, test_source = _read(test, "the test DataFrame")
            return frame, HeldOut(test_frame, test_source)
        if test_size is None:
            return frame, None
        classification = (task or data.infer_task(frame[target])).is_classification
        train, held = evaluate.split(frame, target, test_size, self.seed, classification)
        split = {"fraction": test_size, "seed": self.seed, "stratified": classification}
        name = Path(source).name if isinstance(table, str | os.PathLike) else source
        words = f"{test_size:.0%} of {name} held out ({len(held)} rows, seed {self.seed})"
        return train, HeldOut(held, words, split)

    def _stored_run(self, output: Path | None, resume: bool) -> dict[str, Any]:
        """The settings the resumed run stored with its study; {} when not resuming. A
        resumed run keeps those automl chose from the budget (the trials' rows, the
        repeats of the folds), so that its trials and the stored ones are scored alike."""
        if not resume:
            return {}
        try:  # what is wrong with the storage is said when the study is opened
            storage = study.make_storage(self.storage, output, create=False)
            return study.stored_run(storage, self._study_name(output))
        except UsageError:
            return {}

    def _search_rows(self, schema: data.Schema) -> int:
        """The rows the trials may use with this budget."""
        return search_rows(self.time_budget, len(schema.classes or ()))

    def _repeats(self, n_rows: int) -> int:
        """How many times the folds are repeated with this budget on `n_rows` rows."""
        return cv_repeats(n_rows) if self.time_budget >= REPEAT_BUDGET else 1

    def _study_name(self, output: Path | None) -> str:
        return self.study or (
            f"{study.STUDY_PREFIX}-{output.resolve().name}" if output else study.STUDY_PREFIX
        )

    def _check_output(self, output: Path | None, resume: bool, force: bool) -> None:
        if self._claim is not None:  # an earlier fit of this object that failed
            self._claim.close()
            self._claim = None
        if resume and force:
            raise UsageError("--resume continues the run in --output; --force replaces it.")
        if resume and output is None:
            raise UsageError("--resume needs the --output directory of the interrupted run.")
        if output is not None:
            rundir.check(output, resume, force)

    def _open_study(
        self,
        output: Path | None,
        resume: bool,
        force: bool,
        runner: Search,
        fingerprint: str,
        table: Any,
        split: dict[str, Any] | None = None,
        first: list[tuple[str, dict[str, Any]]] | None = None,
    ) -> tuple[Any, bool]:
        settings = runner.settings
        run_info = {
            "target": runner.schema.target,
            "task": str(settings.task),
            "metric": settings.metric.name,
            "cv": settings.cv,
            "cv_repeats": settings.repeats,
            "search_rows": settings.search_rows,
            "seed": settings.seed,
            "algorithms": [a.name for a in settings.algorithms],
            "fingerprint": fingerprint,
            # A worker on another machine holds out the same rows (see `distributed`).
            "test_split": split,
            "imbalanced": settings.imbalanced,
        }
        if output is not None:
            self._claim = rundir.claim(output, resume, force)
        try:
            return self._open_claimed_study(
                output, resume, force, runner, run_info, table, first or []
            )
        except BaseException:
            if self._claim is not None:
                self._claim.abandon()  # nothing searched yet: leave the directory as it was
            raise

    def _open_claimed_study(
        self,
        output: Path | None,
        resume: bool,
        force: bool,
        runner: Search,
        run_info: dict[str, Any],
        table: Any,
        first: list[tuple[str, dict[str, Any]]],
    ) -> tuple[Any, bool]:
        settings = runner.settings
        storage = study.make_storage(self.storage, output)
        name = self._study_name(output)
        if force and output is not None:
            (output / bundle.CARD_JSON).unlink(missing_ok=True)
            study.delete_study(storage, name)
        the_study, resumed = study.open_study(
            storage,
            name,
            resume,
            run_info,
            make_sampler(self.seed),
            make_pruner(),
            settings.metric.direction,
        )
        if not resumed:
            enqueue_first_trials(
                the_study,
                settings.algorithms,
                dataclasses.replace(runner.context, n_rows=len(runner.sample)),
                settings.portfolio,
                first,
            )
        path = Path(table).resolve() if isinstance(table, str | os.PathLike) else None
        job = {
            "data": str(path) if path else None,
            "n_trials": settings.n_trials,
            "heartbeat": study.heartbeat_seconds(),
        }
        study.start_search(the_study, job, runner.budget.remaining())
        return the_study, resumed

    def _search(self, runner: Search, the_study: Any, budget: Budget, n_columns: int) -> list[Any]:
        """Run the search; return the complete trials, best first."""
        settings = runner.settings
        self.on_event(PhaseChanged("search", budget.elapsed()))
        self.on_event(
            SearchStarted(
                time_budget=budget.seconds,
                n_trials=settings.n_trials,
                algorithms=tuple(a.name for a in settings.algorithms),
                metric=settings.metric.name,
                direction=settings.metric.direction,
                n_rows=len(runner.X),
                n_columns=n_columns,
                resumed_trials=sum(t.state.is_finished() for t in the_study.trials),
            )
        )
        started = budget.elapsed()
        state = "interrupted"
        try:
            runner.run(the_study)
            state = "finished"
        finally:
            study.end_search(the_study, state)  # the workers stop
        runner.search_seconds = budget.elapsed() - started
        ranked = ranked_trials(the_study, settings.metric)
        counts = count_states(the_study)
        self.on_event(
            SearchFinished(
                n_complete=counts["complete"],
                n_pruned=counts["pruned"],
                n_failed=counts["failed"],
                n_stopped=counts["stopped"],
                best_algorithm=ranked[0].params["algorithm"] if ranked else None,
                best_value=ranked[0].value if ranked else None,
                elapsed=budget.elapsed(),
            )
        )
        if not ranked and set(runner.disabled) >= set(runner.algorithms):
            raise SearchError(
                "Every trial failed, so there is no model: "
                + "; ".join(runner.disabled.values()).rstrip(".")
                + ".",
                hint="Check the algorithms' plugins (automl plugins), or try other --algorithms.",
            )
        if not ranked:
            return _partial(the_study, runner, budget, counts)
        outscoring = outscoring_partial(the_study, settings.metric, len(runner.folds), ranked[0])
        if outscoring is not None:
            ranked = [outscoring, *ranked]
        return ranked

    def _validate_options(self) -> None:
        if self.task not in ("auto", *map(str, Task)):
            raise UsageError(
                f"Unknown task {self.task!r}.",
                hint="Use auto, binary, multiclass or regression.",
            )
        if not self.time_budget or self.time_budget <= 0:
            raise UsageError(f"The time budget must be positive, not {self.time_budget!r}.")
        if self.n_trials is not None and self.n_trials < 1:
            raise UsageError(f"--n-trials must be at least 1, not {self.n_trials}.")
        if self.cv < 2:
            raise UsageError(f"--cv must be at least 2, not {self.cv}.")
        if self.cv_repeats is not None and self.cv_repeats < 1:
            raise UsageError(f"--cv-repeats must be at least 1, not {self.cv_repeats}.")
        # Unknown or broken names fail before a possibly large table is read.
        registry = get_registry()
        for name in self.algorithms or ():
            registry.algorithm(name)
        if self.metric:
            registry.metric(self.metric)

    def _metric(self, task: Task) -> Metric:
        registry = get_registry()
        metric = registry.metric(self.metric or DEFAULT_METRICS[task])
        if task not in metric.tasks:
            fitting = ", ".join(m.name for m in registry.metrics_for(task))
            raise DataError(
                f"The metric {metric.name!r} does not fit a {task} task.",
                hint=f"Metrics for {task}: {fitting}.",
            )
        return metric

    def _algorithms(self, task: Task) -> list[Algorithm]:
        registry = get_registry()
        if not self.algorithms:
            return registry.algorithms_for(task)
        chosen = [registry.algorithm(name) for name in dict.fromkeys(self.algorithms)]
        unfit = [a.name for a in chosen if task not in a.tasks]
        if unfit:
            raise UsageError(
                f"The algorithm(s) {', '.join(unfit)} cannot do {task}.",
                hint="Algorithms for it: "
                + ", ".join(a.name for a in registry.algorithms_for(task)),
            )
        return chosen

    # Using the model -----------------------------------------------------------------

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        """Predicted labels (as in the training target) or values. A binary model with a
        decision threshold (see `automl.decision`) says positive at or above it; others
        predict the most probable class."""
        pipeline, schema = self._fitted()
        X = data.prepare(table, schema, "the table to predict")
        if schema.classes is None:
            return np.asarray(pipeline.predict(X), dtype=float)
        proba = guard.apply(np.asarray(pipeline.predict_proba(X)), X, self.card.get("guard"))
        return np.asarray(schema.classes, dtype=object)[decision.codes(pipeline, proba)]

    def predict_proba(self, table: pd.DataFrame) -> pd.DataFrame:
        """One column per class label, holding that class's probability (the class shares
        for rows the training data cannot speak for: see `automl.guard`)."""
        pipeline, schema = self._fitted()
        if schema.classes is None:
            raise UsageError("predict_proba needs a classification model; this one is regression.")
        X = data.prepare(table, schema, "the table to predict")
        proba = guard.apply(np.asarray(pipeline.predict_proba(X)), X, self.card.get("guard"))
        return pd.DataFrame(proba, columns=schema.classes, index=table.index)

    def importance(self) -> pd.DataFrame:
        """Mean |SHAP value| per original column, most important first, with the direction
        of its effect (and one column per class for multiclass models)."""
        self._fitted()
        if self.insights_ is not None:
            return self.insights_.importance.copy()
        if self.bundle_path_ is not None:
            content = bundle.read_file(self.bundle_path_, report.IMPORTANCE_CSV)
            return pd.read_csv(io.BytesIO(content), keep_default_na=False, na_values=[""])
        raise _no_explanations()

    def explain(self, table: pd.DataFrame, top: int = 5) -> pd.DataFrame:
        """Why the model predicts what it does for each row of `table`: one line per row
        and column among its `top` contributors (then the rest summed), with the row's
        prediction, the base value, the column's value and its SHAP contribution. The
        frame's `attrs` say in which units ("space") and by which method. A row the
        training data cannot speak for (`automl.guard`) is predicted from the class shares
        and marked `guarded`: its contributions explain the model's own output, which the
        class shares replaced."""
        pipeline, schema = self._fitted()
        if self.insights_ is not None:
            background = explain.background_sample(
                data.prepare(self.insights_.explanation.rows, schema), self.seed
            )
        elif self.bundle_path_ is not None:
            background = report.read_parquet(bundle.read_file(self.bundle_path_, report.BACKGROUND))
        else:
            raise _no_explanations()
        explanation = explain.explain(
            pipeline, schema, table, background, max_rows=None, seed=self.seed
        )
        frame = explain.contributions(explanation, self.predict(table), top)
        if self.card.get("guard"):
            X = data.prepare(table, schema, "the rows to explain")
            guarded = pd.Series(guard.unsupported(X, self.card["guard"]), index=table.index)
            frame["guarded"] = frame["row"].map(guarded).astype(bool)
        frame.attrs.update(space=explanation.space, method=explanation.method)
        return frame

    def out_of_fold(self) -> pd.DataFrame:
        """The exported model's out-of-fold predictions: for each training row the search
        used (by its number in the training table), the actual target, the prediction and,
        for classification, a probability per class, each from a model that did not see
        the row. They are what the diagnostics, the threshold and drift checks rest on."""
        self._fitted()
        if self.out_of_fold_ is None and self.bundle_path_ is not None:
            card = self._fitted_card()
            if card.get("out_of_fold"):
                content = bundle.read_file(
                    self.bundle_path_,
                    finish.OUT_OF_FOLD,
                    "out-of-fold predictions",
                    "It was made by an older automl: run it again to have them.",
                )
                self.out_of_fold_ = report.read_parquet(content)
        if self.out_of_fold_ is None:
            raise UsageError(
                "This model kept no out-of-fold predictions: its best trial ran in another"
                " process, or before the run was resumed.",
            )
        return self.out_of_fold_.copy()

    def leaderboard(self) -> pd.DataFrame:
        """The complete trials of the search, best first."""
        return pd.DataFrame(self._fitted_card()["leaderboard"])

    @property
    def card(self) -> dict[str, Any]:
        return self._fitted_card()

    def save(self, directory: str | Path) -> Path:
        """Write the model bundle (pipeline and model card) into `directory`."""
        pipeline, _ = self._fitted()
        files = dict(self.insights_.files) if self.insights_ is not None else {}
        if self.out_of_fold_ is not None:
            files[finish.OUT_OF_FOLD] = _parquet(self.out_of_fold_)
        if self.reference_ is not None:
            files[drift.REFERENCE_FILE] = drift.as_json(self.reference_)
        return bundle.save(
            directory, pipeline, self._fitted_card(), get_registry().trusted_types(), files
        )

    def _fitted(self) -> tuple[Any, data.Schema]:
        if self.pipeline_ is None or self.schema_ is None:
            raise UsageError("This AutoML is not fitted yet: call fit() or automl.load() first.")
        return self.pipeline_, self.schema_

    def _fitted_card(self) -> dict[str, Any]:
        self._fitted()
        assert self.card_ is not None
        return self.card_


def load(directory: str | Path) -> AutoML:
    """Load a model bundle written by `AutoML.save` or `automl run`."""
    loaded = bundle.load(directory, get_registry().trusted_types())
    card = loaded.card
    model = AutoML(
        time_budget=card["time_budget"],
        task=card["task"],
        metric=card["metric"]["name"],
        cv=card["cv"]["folds"],
        seed=card["seed"],
    )
    model.pipeline_ = loaded.pipeline
    model.schema_ = data.Schema.from_dict(card["schema"])
    model.card_ = card
    model.bundle_path_ = Path(directory)
    differences = bundle.version_differences(card)
    if differences:
        warnings.warn(
            f"The model in {directory} was made with other library versions ("
            + "; ".join(differences)
            + "). It may predict differently or fail; retrain it, or install those versions.",
            AutoMLWarning,
            stacklevel=2,
        )
    return model


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


def _no_explanations() -> UsageError:
    return UsageError(
        "This model has no explanations: it was fitted with explanations=False"
        " (automl run --no-explain).",
        hint="Fit it again with explanations to explain it.",
    )


def _imbalance(y: np.ndarray, schema: data.Schema) -> dict[str, Any] | None:
    """The minority class of an imbalanced target, with a warning; else None."""
    if schema.classes is None:
        return None
    found = decision.imbalance(np.bincount(y, minlength=len(schema.classes)), schema.classes)
    if found is not None:
        warnings.warn(decision.imbalance_note(found, schema.target), AutoMLWarning, stacklevel=3)
        found = {**found, "minority": data.plain(found["minority"])}
    return found


def _read(
    table: pd.DataFrame | str | Path, name: str = "the DataFrame"
) -> tuple[pd.DataFrame, str]:
    if isinstance(table, pd.DataFrame):
        if table.empty:
            raise DataError(f"{name[0].upper()}{name[1:]} has no rows or no columns.")
        return table.copy(), name
    if isinstance(table, str | os.PathLike):
        return data.read_table(table), str(table)
    raise UsageError(f"Cannot fit on a {type(table).__name__}: give a DataFrame or a file path.")


def _resolve_n_jobs(n_jobs: int, n_rows: int) -> int:
    """Threads per fit of a process running one trial at a time (an `automl worker`): as
    asked, or with -1 every core, but one for small tables, where waking threads costs
    more than they save (LightGBM: 4-5 times slower with two)."""
    if n_jobs is not None and n_jobs >= 1:
        return n_jobs
    if n_rows < SMALL_TABLE_ROWS:
        return 1
    return _all_cores()


def _all_cores() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores or 1)


def _cores(
    n_jobs: int, table_bytes: int, parallel_trials: bool | None, available: int | None = None
) -> tuple[int, int]:
    """(trials at once, threads per fit) for `n_jobs` cores (-1: all): a trial per core,
    unless that many copies of the table would not fit in PARALLEL_MEMORY_SHARE of the
    `available` memory (default: what the system says is available)."""
    cores = n_jobs if n_jobs is not None and n_jobs >= 1 else _all_cores()
    if parallel_trials is None:
        if available is None:
            available = _available_memory()
        parallel_trials = (
            available is None or table_bytes * (cores + 1) <= PARALLEL_MEMORY_SHARE * available
        )
    if parallel_trials and cores > 1:
        return cores, 1
    return 1, cores


def _available_memory() -> int | None:
    """Bytes of memory available to new processes, where the system says (Linux)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def cv_repeats(n_rows: int) -> int:
    """How many times k-fold cross-validation is repeated on a table of `n_rows` rows."""
    return next((repeats for rows, repeats in REPEAT_ROWS if n_rows < rows), 1)


def _estimator_modules(algorithms: list[Algorithm], task: Task) -> list[str]:
    modules = []
    for algorithm in algorithms:
        try:
            params = algorithm.defaults[0] if algorithm.defaults else {}
            modules.append(type(algorithm.build(dict(params), task, 0, 1)).__module__)
        except Exception:  # a broken builder shows up, with its reason, as a failed trial
            continue
    return modules


def _partial(the_study: Any, runner: Search, budget: Budget, counts: dict[str, int]) -> list[Any]:
    """With no complete trial: the one scored on part of its folds, and the fallback
    (`partial_trials`); a SearchError when not one fold finished."""
    rescued = partial_trials(the_study, runner.settings.metric, len(runner.folds))
    if not rescued:
        raise SearchError(
            f"No trial finished within the {budget.seconds:g} s budget ({trials_words(counts)}).",
            hint=_no_trial_hint(the_study),
        )
    return rescued


def _warn_partial(final: Final, ranked: list[Any], budget: Budget) -> None:
    """Say so when the exported model is a trial scored on part of its folds: because no
    trial finished its folds, or because it outscored the best that did
    (`search.outscoring_partial`). Said once the model is known: either may have had to
    give way to a faster trial that fitted in time."""
    part = final.trial.user_attrs.get("partial")
    if final.ensemble is not None or part is None:
        return
    trial = final.trial
    complete = next((t for t in ranked if "partial" not in t.user_attrs), None)
    if complete is not None:
        message = (
            f"Trial {part['trial']} ({trial.params['algorithm']}) was stopped for time after"
            f" {part['folds']} of its {part['of']} folds, but scored better on each of them"
            f" than the best complete trial (trial {complete.number},"
            f" {complete.params['algorithm']}): it is the model, scored on those folds"
        )
    else:
        message = (
            f"No trial finished its {part['of']} folds within the {budget.seconds:g} s"
            f" budget: the model is {trial.params['algorithm']} (trial {trial.number},"
            f" a copy of trial {part['trial']}), scored on the folds that trial finished"
            f" ({part['folds']} of {part['of']})"
        )
    warnings.warn(
        message + ", a rougher estimate; its probabilities are not calibrated. Give a larger"
        " --time-budget.",
        AutoMLWarning,
        stacklevel=3,
    )


def _no_trial_hint(the_study: Any) -> str:
    reasons = [t.user_attrs.get("reason") for t in the_study.get_trials(deepcopy=False)]
    reasons = [r for r in reasons if r]
    hint = "Give a larger --time-budget, or fewer rows."
    if reasons:
        hint = f"Last reason: {reasons[-1].rstrip('.')}. " + hint
    return hint
