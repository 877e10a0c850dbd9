"""Where trials are stored: an embedded journal file in the output directory by default,
any Optuna storage URL (or journal file) on request; how an interrupted run is resumed;
and what a study records so that workers on other machines can join it.

A study shared through a database (PostgreSQL for many machines) gets heartbeats: a trial
whose process stops beating is failed and queued again by whichever process looks next
(Optuna's `RetryHeartbeatStaleTrialCallback`), so a killed worker loses no trial.
"""

from __future__ import annotations

import os
import re
import socket
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from automl.errors import AutoMLWarning, UsageError

JOURNAL_FILE = "study.journal"
STUDY_PREFIX = "automl"
# Seconds between heartbeats of a running trial in a database storage; a trial silent for
# GRACE_BEATS heartbeats is taken for dead. AUTOML_HEARTBEAT_SECONDS overrides it for a
# run, and the run records it in the study so its workers beat at the same pace.
HEARTBEAT_SECONDS = 10
GRACE_BEATS = 3
# A trial whose process dies this many times is left failed (it may be what kills them).
MAX_RETRIES = 2
# Study user attributes: the run's data and settings (checked on resume and by workers),
# and where its search is ("searching", then "finished" or "interrupted").
RUN_ATTR = "run"
JOB_ATTR = "job"
STATE_ATTR = "state"
SEARCHING = "searching"

_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]*)@", re.I)


def mask(text: str) -> str:
    """`text` with the password of any URL in it replaced by ***."""
    return _PASSWORD.sub(lambda m: f"{m['head']}***@", text)


def process_name() -> str:
    """Which machine and process runs a trial, as recorded in its user attributes."""
    return f"{socket.gethostname()}:{os.getpid()}"


def heartbeat_seconds() -> int:
    value = os.environ.get("AUTOML_HEARTBEAT_SECONDS", "")
    try:
        return max(1, int(value)) if value else HEARTBEAT_SECONDS
    except ValueError:
        raise UsageError(
            f"AUTOML_HEARTBEAT_SECONDS must be a whole number of seconds, not {value!r}."
        ) from None


def make_storage(
    url: str | None, output: Path | None, heartbeat: int | None = None, create: bool = True
) -> Any:
    """The Optuna storage for a run: `url` if given (a database URL, or the path of a
    journal file), else a journal file inside `output`, else memory (a library run that
    saves nothing). Database storages get heartbeats every `heartbeat` seconds; a journal
    file that does not exist is created, unless not `create`."""
    if url and "://" in url:
        return _database(url, heartbeat or heartbeat_seconds())
    path = Path(url) if url else (output / JOURNAL_FILE if output is not None else None)
    if path is None:
        return optuna.storages.InMemoryStorage()
    from optuna.storages.journal import JournalFileBackend

    if path.is_dir():
        raise UsageError(
            f"The storage {path} is a directory.",
            hint=f"Give its journal file ({path / JOURNAL_FILE}) or a database URL.",
        )
    if not create and not path.is_file():
        raise UsageError(
            f"There is no journal file {path}.",
            hint="Give the study.journal in the run's --output, or the run's --storage.",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def _database(url: str, heartbeat: int) -> Any:
    from automl.rdb import ClaimingStorage

    try:
        return ClaimingStorage(
            _with_driver(url),
            engine_kwargs={"pool_pre_ping": True},
            heartbeat_interval=heartbeat,
            grace_period=GRACE_BEATS * heartbeat,
            heartbeat_stale_trial_callback=_retry_and_say_so,
        )
    except Exception as exc:
        raise UsageError(
            f"Cannot open the storage {mask(url)}: {mask(_first_line(exc))}",
            hint="Give an Optuna storage URL such as postgresql://user:password@host/db"
            " or sqlite:///trials.db, or the path of a journal file.",
        ) from None


def _retry_and_say_so(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue a trial whose process stopped beating again (Optuna's retry callback), and
    say so on the progress output of whichever process noticed."""
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    again = len(trial.system_attrs.get("retry_history", ())) < MAX_RETRIES
    RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)(study, trial)
    warnings.warn(
        f"Trial {trial.number} ({trial.params.get('algorithm', '?')}, run by"
        f" {trial.user_attrs.get('process', 'another process')}) stopped sending heartbeats;"
        + (
            " it is queued again."
            if again
            else f" it failed {MAX_RETRIES + 1} times, so it is left failed."
        ),
        AutoMLWarning,
        stacklevel=2,
    )


def _with_driver(url: str) -> str:
    """postgresql:// means psycopg2 to SQLAlchemy; automl's `postgres` extra installs
    psycopg 3, so use that when psycopg2 is absent."""
    from importlib.util import find_spec

    scheme, _, rest = url.partition("://")
    if scheme in ("postgresql", "postgres") and not find_spec("psycopg2") and find_spec("psycopg"):
        return f"postgresql+psycopg://{rest}"
    return url


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def shared(storage: Any) -> bool:
    """Whether other processes may be running trials of the study (a database storage)."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    return is_heartbeat_enabled(storage)


def open_study(
    storage: Any,
    name: str,
    resume: bool,
    run_info: dict[str, Any],
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
    direction: str,
) -> tuple[optuna.Study, bool]:
    """Create the study, or load it to resume; return it and whether it was resumed.

    Resuming checks that the data and the settings are those of the interrupted run, and
    queues again any trial the interruption cut short, so no work is lost.
    """
    existing = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    if name in existing and not resume:
        raise UsageError(
            f"A search named {name!r} already exists in this storage.",
            hint="Add --resume to continue it, or choose another --output or --study.",
        )
    if name not in existing and resume:
        raise UsageError(
            f"There is no interrupted search named {name!r} to resume.",
            hint="Drop --resume to start a new search, or point --output at the old run.",
        )
    if not resume:
        study = optuna.create_study(
            storage=storage, study_name=name, direction=direction, sampler=sampler, pruner=pruner
        )
        study.set_user_attr(RUN_ATTR, run_info)
        return study, False
    study = optuna.load_study(storage=storage, study_name=name, sampler=sampler, pruner=pruner)
    check_same_run(study.user_attrs.get(RUN_ATTR, {}), run_info)
    _requeue_interrupted(study, storage)
    return study, True


def stored_run(storage: Any, name: str) -> dict[str, Any]:
    """The run settings stored with the study `name`, or {} if there is no such study."""
    if name not in {s.study_name for s in optuna.get_all_study_summaries(storage)}:
        return {}
    return dict(optuna.load_study(study_name=name, storage=storage).user_attrs.get(RUN_ATTR, {}))


def delete_study(storage: Any, name: str) -> None:
    """Forget the study `name` (for `run --force`), if the storage holds one."""
    if name in {s.study_name for s in optuna.get_all_study_summaries(storage)}:
        optuna.delete_study(study_name=name, storage=storage)


def check_same_run(before: dict[str, Any], now: dict[str, Any]) -> None:
    changed = [k for k in now if before.get(k) != now[k]]
    if changed:
        details = "; ".join(f"{k}: was {before.get(k)!r}, now {now[k]!r}" for k in changed)
        raise UsageError(
            f"Cannot resume: the data or settings differ from the interrupted run ({details}).",
            hint="Resume with the same data and options, or start a new run in another --output.",
        )


def _requeue_interrupted(study: optuna.Study, storage: Any) -> None:
    trials = study.get_trials(deepcopy=False)
    requeued = {t.user_attrs.get("requeued_from") for t in trials}
    for trial in trials:
        if trial.state is TrialState.RUNNING:
            if shared(storage):
                continue  # a worker may be running it; if it is dead, its heartbeat says so
            # The process that ran it is gone; Optuna has no public handle for this.
            storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        elif not (trial.state is TrialState.FAIL and trial.user_attrs.get("interrupted")):
            continue
        if trial.params and trial.number not in requeued:
            study.enqueue_trial(trial.params, user_attrs={"requeued_from": trial.number})


# Counting trials across processes ----------------------------------------------------


def retried(trials: list[FrozenTrial]) -> set[int]:
    """Numbers of the trials whose process died and that were queued again."""
    return {n for t in trials for n in t.system_attrs.get("retry_history", ())}


def counted(trials: list[FrozenTrial]) -> int:
    """Finished trials that count towards --n-trials: one per configuration, so a trial cut
    short by an interruption or a dead process counts once, when it is run again (and one
    sampled after the count was reached, see `Search._surplus`, not at all)."""
    again = retried(trials)
    return sum(
        t.state.is_finished()
        and not t.user_attrs.get("interrupted")
        and not t.user_attrs.get("surplus")
        and t.number not in again
        and not _retry_coming(t)
        for t in trials
    )


def _retry_coming(trial: FrozenTrial) -> bool:
    """Whether `trial` died with its process and is about to be queued again.

    Optuna fails a trial whose heartbeat stopped, then queues its retry: between the two,
    the trial looked finished, and a run that counted it then thought --n-trials done,
    stopped searching and so cut short the retry a worker had just begun (seen on CI).
    Every trial the search itself fails says why (`reason`), and an interrupted one says
    so; a failed trial saying neither died with its process, and is retried unless it has
    been MAX_RETRIES times (then it stays failed and counts).
    """
    return (
        trial.state is TrialState.FAIL
        and "reason" not in trial.user_attrs
        and not trial.user_attrs.get("interrupted")
        and len(trial.system_attrs.get("retry_history", ())) < MAX_RETRIES
    )


def pending_retries(trials: list[FrozenTrial]) -> int:
    """Trials of dead processes queued to run again, or about to be (see `_retry_coming`):
    under way, as far as --n-trials is concerned."""
    again = retried(trials)
    return sum(
        (t.state is TrialState.WAITING and "failed_trial" in t.system_attrs)
        or (_retry_coming(t) and t.number not in again)
        for t in trials
    )


def running(trials: list[FrozenTrial]) -> int:
    return sum(t.state is TrialState.RUNNING for t in trials)


# What a shared study tells its workers -----------------------------------------------


def start_search(study: optuna.Study, job: dict[str, Any], seconds_left: float) -> None:
    """Record where the data is, the settings a worker needs, and until when (wall clock)
    the run searches."""
    study.set_user_attr(JOB_ATTR, {**job, "search_ends": time.time() + seconds_left})
    study.set_user_attr(STATE_ATTR, SEARCHING)


def end_search(study: optuna.Study, state: str) -> None:
    """Tell the workers the run has stopped searching ("finished" or "interrupted")."""
    study.set_user_attr(STATE_ATTR, state)
