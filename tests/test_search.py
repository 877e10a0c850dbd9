"""The search: failing and slow trials, the time budget, interruption and resume."""

from __future__ import annotations

import json
import pickle
import signal
import subprocess
import sys
import time

import pytest
from support import assert_clean_failure, quick, run_cli

from automl import AutoML
from automl.errors import SearchError
from automl.events import TrialFinished


def _finished(events):
    return [e for e in events if isinstance(e, TrialFinished)]


def test_a_trial_that_raises_is_recorded_and_the_search_goes_on(slow_plugins, mixed):
    events = []
    model = AutoML(
        time_budget=60,
        n_trials=8,
        cv=3,
        algorithms=["exploding", "linear"],
        n_jobs=1,  # one trial at a time: none under way when the third error comes
        on_event=events.append,
    )
    model.fit(mixed, target="bought")
    tried = [e for e in _finished(events) if e.algorithm == "exploding"]
    failed = [e for e in tried if e.state == "failed"]
    assert failed and all("RuntimeError: boom" in e.reason for e in failed)
    # After three errors in a row the algorithm is given up on, not retried to the end.
    assert len(failed) <= 3
    skipped = [e for e in tried if e.state == "pruned"]
    assert all(e.reason.startswith("skipped: exploding failed 3 trials") for e in skipped)
    assert model.card["trials"]["failed"] == len(failed)
    assert model.card["best"]["algorithm"] in ("linear", "ensemble")


def test_when_every_algorithm_fails_the_run_says_why_at_once(slow_plugins, mixed):
    model = AutoML(time_budget=60, cv=3, algorithms=["exploding"])
    with pytest.raises(SearchError, match=r"Every trial failed.*RuntimeError: boom") as caught:
        model.fit(mixed, target="bought")
    assert "time-budget" not in str(caught.value)


def test_one_slow_trial_cannot_blow_the_budget(slow_plugins, mixed):
    events = []
    budget = 8
    model = AutoML(
        time_budget=budget, cv=3, algorithms=["sleepy", "linear"], on_event=events.append
    )
    model.fit(mixed, target="bought")
    stopped = [e for e in _finished(events) if e.algorithm == "sleepy"]
    assert stopped, "the sampler never tried the slow algorithm"
    # Stopped at its deadline or, once the linear model exists, as soon as its first fold
    # overran its share of the trial's time; later trials of it are predicted to
    # overrun, not started.
    # Stopped trials are not failures: the card counts them apart.
    assert stopped[0].state == "stopped"
    assert all(
        (e.state == "stopped" and ("time budget" in e.reason or "first fold took" in e.reason))
        or (e.state == "pruned" and e.reason.startswith("not started: predicted"))
        for e in stopped
    )
    assert model.card["best"]["algorithm"] == "linear"
    assert model.card["trials"]["failed"] == 0
    assert model.card["trials"]["stopped"] == sum(e.state == "stopped" for e in _finished(events))
    # The sleeper asks for an hour; the run still ends within the promised bound.
    assert model.card["timing"]["wall_seconds"] <= 1.1 * budget + 5


def test_once_a_model_exists_a_trial_whose_first_fold_overruns_its_share_stops_then(
    slow_plugins, mixed
):
    events = []
    # One trial at a time: the linear model is complete before the sleeper starts.
    model = AutoML(
        time_budget=8, cv=3, algorithms=["linear", "sleepy"], n_jobs=1, on_event=events.append
    )
    model.fit(mixed, target="bought")
    finished = _finished(events)
    assert finished[0].algorithm == "linear" and finished[0].state == "complete"
    stopped = [e for e in finished if e.algorithm == "sleepy" and e.state == "stopped"]
    assert stopped, "the sleeper never started"
    assert "its first fold took over 1/3 of the" in stopped[0].reason  # no repeats under 60 s
    # A third of its time, not the search's end: the linear model could go on searching.
    assert stopped[0].duration < 8 / 3
    assert len([e for e in finished if e.algorithm == "linear"]) > 1


def test_nothing_finished_in_time_is_a_clear_failure(slow_plugins, mixed):
    with pytest.raises(SearchError, match="No trial finished within the 3 s budget"):
        AutoML(time_budget=3, cv=3, algorithms=["sleepy"]).fit(mixed, target="bought")


def _journal_trials(out):
    import optuna
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(out / "study.journal")))
    summaries = optuna.get_all_study_summaries(storage)
    if not summaries:  # the run has not created its study yet
        return []
    study = optuna.load_study(study_name=summaries[0].study_name, storage=storage)
    return study.get_trials(deepcopy=False)


def _start_run(mixed_csv, out, *extra):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "automl",
            "run",
            str(mixed_csv),
            "--target",
            "bought",
            "--algorithms",
            "linear,lightgbm",
            "--cv",
            "3",
            "--cv-repeats",  # (at 120 s a 300-row table's folds would be repeated 3 times)
            "1",
            "--time-budget",
            "120",
            "--output",
            str(out),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_complete_trials(process, out, count, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if (out / "study.journal").exists():
            trials = _journal_trials(out)
            if sum(t.state.name == "COMPLETE" for t in trials) >= count:
                return
        time.sleep(0.2)
    raise AssertionError("the run never got going")


def test_killed_run_resumes_without_losing_trials(tmp_path, mixed_csv):
    out = tmp_path / "run"
    process = _start_run(mixed_csv, out, "--n-trials", "500")
    _wait_for_complete_trials(process, out, 3)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {t.number: t.value for t in _journal_trials(out) if t.state.name == "COMPLETE"}
    cut_short = [t.params for t in _journal_trials(out) if t.state.name == "RUNNING"]
    total = len(before) + len(cut_short) + 3

    resumed = run_cli(
        "run",
        str(mixed_csv),
        "--target",
        "bought",
        "--algorithms",
        "linear,lightgbm",
        "--cv",
        "3",
        "--time-budget",
        "60",
        "--output",
        str(out),
        "--n-trials",
        str(total),
        "--resume",
        "--json",
    )
    assert resumed.returncode == 0, resumed.stderr
    after = _journal_trials(out)
    kept = {t.number: t.value for t in after if t.number in before}
    assert kept == before  # every finished trial survived, unchanged
    for params in cut_short:  # the trial the kill cut short was run again
        assert any(
            t.params == params and t.state.name != "RUNNING"
            for t in after
            if t.number not in before
        )
    done = [t for t in after if t.state.is_finished() and not t.user_attrs.get("interrupted")]
    assert len(done) == total
    card = json.loads((out / "model_card.json").read_text())
    assert card["study"]["resumed"] is True
    assert card["trials"]["complete"] >= len(before)


def test_ctrl_c_exits_130_and_says_how_to_resume(tmp_path, mixed_csv):
    out = tmp_path / "run"
    process = _start_run(mixed_csv, out, "--n-trials", "500")
    _wait_for_complete_trials(process, out, 1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "--resume" in stderr
    assert not (out / "model_card.json").exists()  # no bundle that looks complete


def test_resume_refuses_other_data(tmp_path, mixed, mixed_csv):
    out = tmp_path / "run"
    first = run_cli(
        "run",
        str(mixed_csv),
        "--target",
        "bought",
        *quick(),
        "--output",
        str(out),
    )
    assert first.returncode == 0, first.stderr
    other = tmp_path / "other.csv"
    mixed.head(200).to_csv(other, index=False)
    result = run_cli(
        "run",
        str(other),
        "--target",
        "bought",
        *quick(n_trials=4),
        "--output",
        str(out),
        "--resume",
    )
    assert_clean_failure(result, 2, "Cannot resume", "fingerprint")


def test_storage_url(tmp_path, mixed_csv):
    db = tmp_path / "trials.db"
    out = tmp_path / "run"
    result = run_cli(
        "run",
        str(mixed_csv),
        "--target",
        "bought",
        *quick(),
        "--output",
        str(out),
        "--storage",
        f"sqlite:///{db}",
    )
    assert result.returncode == 0, result.stderr
    assert db.exists() and not (out / "study.journal").exists()
    import optuna

    (summary,) = optuna.get_all_study_summaries(f"sqlite:///{db}")
    assert summary.n_trials >= 2


def test_two_threads_never_claim_the_same_queued_trial_in_sqlite(tmp_path, monkeypatch):
    """SQLite has no row locks: two threads that both read a queued trial as waiting
    before either marked it running both took it (a run failed with "Cannot tell a
    COMPLETE trial"). The read is slowed here so that both threads read it first."""
    import threading

    import optuna
    from optuna.storages._rdb import models

    from automl.study import make_storage

    find = models.TrialModel.find_or_raise_by_id.__func__

    def slow_find(cls, *args, **kwargs):
        found = find(cls, *args, **kwargs)
        time.sleep(0.3)
        return found

    storage = make_storage(f"sqlite:///{tmp_path / 'trials.db'}", None, heartbeat=10)
    study = optuna.create_study(storage=storage, study_name="claims")
    study.enqueue_trial({"x": 1.0})
    monkeypatch.setattr(models.TrialModel, "find_or_raise_by_id", classmethod(slow_find))
    claimed: list[int | None] = []
    start = threading.Barrier(2)

    def claim():
        start.wait()
        claimed.append(study._pop_waiting_trial_id())

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 2 and claimed.count(None) == 1, claimed
    # A copy for another process (Optuna pickles storages) claims with a lock of its own.
    assert pickle.loads(pickle.dumps(storage))._claim is not storage._claim


def test_a_dead_trial_does_not_count_while_its_retry_is_being_queued(tmp_path):
    """Optuna fails a trial whose heartbeat stopped and then queues it again. A run that
    counted it as done in between stopped searching, which cut short the retry a worker
    had just begun (seen on CI, in test_distributed's killed worker)."""
    import warnings

    import optuna

    from automl import study as study_module
    from automl.study import MAX_RETRIES, counted, make_storage, pending_retries

    storage = make_storage(f"sqlite:///{tmp_path / 'trials.db'}", None, heartbeat=1)
    storage.grace_period = 0  # any heartbeat is stale at once
    study = optuna.create_study(storage=storage, study_name="retries")
    study.add_trial(optuna.trial.create_trial(value=1.0))
    dead = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    storage.record_heartbeat(dead._trial_id)
    time.sleep(1.1)  # SQLite's clock counts whole seconds
    seen_in_between: list[tuple[int, int]] = []

    def callback(the_study, trial):
        trials = the_study.get_trials()
        seen_in_between.append((counted(trials), pending_retries(trials)))
        study_module._retry_and_say_so(the_study, trial)

    storage.heartbeat_stale_trial_callback = callback
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "WAITING"]
    # The complete trial only, not the dead one, whose retry is under way (so a process
    # that asks for a trial then finds --n-trials under way, not one short).
    assert seen_in_between == [(1, 1)]
    assert (counted(trials), pending_retries(trials)) == (1, 1)
    # A trial the search failed says why, and counts; so does one that died too often
    # to be queued again.
    told = optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs={"reason": "x"})
    study.add_trial(told)
    assert counted(study.get_trials()) == 2
    # (as if the queued retry died too, and the retry of that: MAX_RETRIES deaths before)
    history = [dead.number + i for i in range(MAX_RETRIES)]
    given_up = optuna.trial.create_trial(
        state=optuna.trial.TrialState.FAIL,
        system_attrs={"failed_trial": dead.number, "retry_history": history},
    )
    study.add_trial(given_up)
    assert counted(study.get_trials()) == 3
    assert pending_retries(study.get_trials()) == 1  # still the queued one alone
