"""`automl worker`: join the search an `automl run --storage URL` started, from any machine
that reaches the storage and can read the data.

The run records in its study where the data is, its fingerprint and the settings (see
`automl.study`); a worker reads them, loads the same table, refuses a table whose
fingerprint differs, and pulls trials of the same Optuna study until the run stops
searching, the run's search time is over or the worker's own budget ends. Optuna does
the scheduling: every process asks the shared study for its next trial.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from automl import data, evaluate, study
from automl.contract import Task
from automl.errors import Cancelled, DataError, UsageError
from automl.events import EventCallback, ignore
from automl.plugins import get_registry
from automl.search import Budget, Search, Settings, make_pruner, make_sampler, quiet_optuna
from automl.worker import Worker

# How often a worker looks whether the run has stopped searching.
POLL_SECONDS = 2.0


@dataclass
class Joined:
    """What a worker found: the study, the data, and the search it will join."""

    study_name: str
    storage: str  # masked
    data: str
    rows: int
    seconds: float  # of search left to the run, or of the worker's own budget


@dataclass
class Finished:
    """Why a worker stopped, and how many trials it ran."""

    trials: int
    reason: str


def join(
    storage_url: str,
    study_name: str,
    *,
    data_path: str | Path | None = None,
    time_budget: float | None = None,
    n_jobs: int = -1,
    wait: float = 0.0,
    on_join: Any = None,
    on_event: EventCallback = ignore,
    cancel: threading.Event | None = None,
) -> Finished:
    """Run trials of the study `study_name` in `storage_url` until the run that made it
    stops searching, its search time is over, or `time_budget` seconds have passed.

    data_path: the run's data as seen from this machine (default: the path it recorded).
    wait: seconds to wait for the run to create the study, when the worker starts first.
    on_join: called with a `Joined` once the data is loaded and checked.
    """
    from automl.api import _resolve_n_jobs

    started = time.monotonic()
    if "://" not in storage_url:
        while not Path(storage_url).is_file() and time.monotonic() < started + wait:
            time.sleep(0.5)  # the run has not created its journal file yet
    storage = study.make_storage(storage_url, None, create=False)
    attrs = _study_attrs(storage, storage_url, study_name, started + wait)
    run, job = attrs[study.RUN_ATTR], attrs[study.JOB_ATTR]
    if "://" in storage_url and job.get("heartbeat") != study.heartbeat_seconds():
        storage = study.make_storage(storage_url, None, heartbeat=job.get("heartbeat"))
    if attrs.get(study.STATE_ATTR) != study.SEARCHING:
        return Finished(0, f"the run is not searching ({attrs.get(study.STATE_ATTR)})")
    seconds = job["search_ends"] - time.time()
    if time_budget is not None:
        seconds = min(seconds, time_budget - (time.monotonic() - started))
    if seconds <= 0:
        return Finished(0, "the run's search time is over")

    path = data_path or job.get("data")
    if path is None:
        raise UsageError(
            "The run searched a DataFrame, not a file, so the worker cannot find its data.",
            hint="Save the table to a file and give it with --data.",
        )
    X, y, schema = _load(str(path), run)
    registry = get_registry()
    task = Task(run["task"])
    algorithms = [registry.algorithm(name) for name in run["algorithms"]]
    settings = Settings(
        metric=registry.metric(run["metric"]),
        algorithms=algorithms,
        task=task,
        cv=run["cv"],
        seed=run["seed"],
        repeats=run.get("cv_repeats", 1),
        search_rows=run.get("search_rows"),
        n_jobs=_resolve_n_jobs(n_jobs, len(X)),
        n_trials=job.get("n_trials"),
        ensemble=False,  # out-of-fold predictions stay in the run's memory
        imbalanced=bool(run.get("imbalanced")),
    )
    # Each worker samples differently, or they would all propose the same next trial.
    sampler = make_sampler(random.SystemRandom().randrange(2**31))
    the_study = optuna.load_study(
        study_name=study_name, storage=storage, sampler=sampler, pruner=make_pruner()
    )
    if on_join is not None:
        on_join(Joined(study_name, study.mask(storage_url), str(path), len(X), seconds))
    return _search(the_study, X, y, schema, settings, seconds, on_event, cancel, algorithms)


def _search(the_study, X, y, schema, settings, seconds, on_event, cancel, algorithms) -> Finished:
    from automl.api import _estimator_modules

    stop = threading.Event()
    watcher = _Watcher(the_study, stop, cancel)
    count = 0

    def counting(event: Any) -> None:
        nonlocal count
        count += type(event).__name__ == "TrialFinished"
        on_event(event)

    budget = Budget(time.monotonic(), seconds)
    with quiet_optuna(), Worker(_estimator_modules(algorithms, settings.task)) as worker:
        runner = Search(X, y, schema, settings, budget, counting, worker, stop)
        watcher.start()
        try:
            runner.run(the_study)
        except Cancelled:
            if cancel is not None and cancel.is_set():
                raise
        finally:
            watcher.close()
    if watcher.reason:
        return Finished(count, watcher.reason)
    if settings.n_trials is not None and study.counted(the_study.trials) >= settings.n_trials:
        return Finished(count, f"the run's {settings.n_trials} trials are done")
    return Finished(count, "the search time is over")


class _Watcher(threading.Thread):
    """Sets `stop` when the user cancels or the run stops searching."""

    def __init__(
        self, the_study: Any, stop: threading.Event, cancel: threading.Event | None
    ) -> None:
        super().__init__(daemon=True, name="automl-watcher")
        self.the_study = the_study
        self.stop = stop
        self.cancel = cancel
        self.reason: str | None = None
        self._closed = threading.Event()

    def run(self) -> None:
        storage, study_id = self.the_study._storage, self.the_study._study_id
        looked = 0.0
        while not self._closed.wait(0.1):
            if self.cancel is not None and self.cancel.is_set():
                self.stop.set()
                return
            if time.monotonic() - looked < POLL_SECONDS:
                continue
            looked = time.monotonic()
            try:
                state = storage.get_study_user_attrs(study_id).get(study.STATE_ATTR)
            except Exception:  # a lost connection shows up, with its message, in the trial
                continue
            if state != study.SEARCHING:
                self.reason = f"the run stopped searching ({state})"
                self.stop.set()
                return

    def close(self) -> None:
        self._closed.set()
        if self.is_alive():
            self.join()


def _study_attrs(storage: Any, url: str, name: str, wait_until: float) -> dict[str, Any]:
    while True:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
        attrs = (
            optuna.load_study(study_name=name, storage=storage).user_attrs if name in names else {}
        )
        if study.JOB_ATTR in attrs or time.monotonic() >= wait_until:
            break
        time.sleep(0.5)  # the run has not started the search yet
    if name not in names:
        known = ", ".join(sorted(names)[:10]) or "none"
        raise UsageError(
            f"There is no study named {name!r} in {study.mask(url)} (it holds: {known}).",
            hint="Use the --study name that `automl run` printed when it started.",
        )
    if study.RUN_ATTR not in attrs or study.JOB_ATTR not in attrs:
        raise UsageError(
            f"The study {name!r} was not started by `automl run`, so it says nothing about"
            " its data or settings.",
            hint="Start the search with automl run --storage URL first.",
        )
    return attrs


def _load(path: str, run: dict[str, Any]) -> tuple[Any, Any, data.Schema]:
    """The table as the run prepared it; a clear error when it is not the run's table."""
    target = run["target"]
    frame = data.read_table(path)
    data.require_column(frame, target, path)
    frame = data.drop_missing_target(frame, target)
    split = run.get("test_split")
    if split:  # the rows the run held out for its test are not searched here either
        frame, _ = evaluate.split(
            frame, target, split["fraction"], split["seed"], split["stratified"]
        )
    found = data.fingerprint(frame)
    if found != run["fingerprint"]:
        raise DataError(
            f"The data in {path} is not the data of the run: its fingerprint is"
            f" {found[:12]}..., the run's is {run['fingerprint'][:12]}....",
            hint="Give the worker the very file the run searches (--data PATH): same rows,"
            " same columns, same values.",
        )
    schema = data.infer_schema(frame, target, Task(run["task"]), path)
    X = data.prepare(frame, schema, path)
    y = data.encode_target(frame[target], schema)
    return X, y, schema
