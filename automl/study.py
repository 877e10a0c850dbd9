"""Where trials are stored: an embedded journal file in the output directory by default,
any Optuna storage URL on request; and how an interrupted run is resumed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from automl.errors import UsageError

JOURNAL_FILE = "study.journal"
STUDY_PREFIX = "automl"


def make_storage(url: str | None, output: Path | None) -> Any:
    """The Optuna storage for a run: `url` if given, else a journal file inside `output`,
    else memory (a library run that saves nothing)."""
    if url:
        try:
            return optuna.storages.get_storage(url)
        except Exception as exc:
            raise UsageError(
                f"Cannot open the storage {url!r}: {type(exc).__name__}: {exc}",
                hint="Give an Optuna storage URL such as sqlite:///trials.db"
                " or postgresql://user@host/db.",
            ) from None
    if output is not None:
        from optuna.storages.journal import JournalFileBackend

        output.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(str(output / JOURNAL_FILE)))
    return optuna.storages.InMemoryStorage()


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
            hint="Add --resume to continue it, or choose another --output.",
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
        study.set_user_attr("run", run_info)
        return study, False
    study = optuna.load_study(storage=storage, study_name=name, sampler=sampler, pruner=pruner)
    _check_same_run(study.user_attrs.get("run", {}), run_info)
    _requeue_interrupted(study, storage)
    return study, True


def _check_same_run(before: dict[str, Any], now: dict[str, Any]) -> None:
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
            # The process that ran it is gone; Optuna has no public handle for this.
            storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        elif not (trial.state is TrialState.FAIL and trial.user_attrs.get("interrupted")):
            continue
        if trial.params and trial.number not in requeued:
            study.enqueue_trial(trial.params, user_attrs={"requeued_from": trial.number})
