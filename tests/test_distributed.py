"""Distributed search against a real PostgreSQL server: `automl run --storage` plus three
`automl worker` processes, one of them killed with SIGKILL in the middle of a trial; and
on one machine, a worker sharing the run's journal file.

A throw-away cluster is started (initdb + pg_ctl) on loopback in a temporary directory
and stopped at the end. Without the PostgreSQL binaries the tests are skipped, except
under CI (CI=true), where that is a failure: .ci/run installs them.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support import assert_clean_failure, run_cli

PASSWORD = "s3cret-Pa55"
# Three algorithms whose five default configurations are queued first: with --n-trials 5,
# the run and the workers run exactly these five (no sampling), so one process running the
# same five is an exact reference. Five is also the median pruner's start-up count, so no
# trial is pruned whatever order they finish in.
ALGORITHMS = "lightgbm,hist_gradient_boosting,linear"
N_TRIALS = 5


def _binaries() -> tuple[str, str] | None:
    found = [shutil.which("initdb"), shutil.which("pg_ctl")]
    if all(found):
        return found[0], found[1]
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        initdb, pg_ctl = Path(directory, "initdb"), Path(directory, "pg_ctl")
        if initdb.exists() and pg_ctl.exists():
            return str(initdb), str(pg_ctl)
    return None


def _as_server_user() -> list[str]:
    """initdb and postgres refuse to run as root: run them as `postgres` (which the
    package creates) or `nobody`."""
    if os.geteuid() != 0:
        return []
    for user in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            return ["runuser", "-u", user, "--"]
    pytest.fail("running as root, and there is no unprivileged user to run PostgreSQL")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    binaries = _binaries()
    if binaries is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL (initdb, pg_ctl) is not installed; .ci/run installs it")
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found")
    initdb, pg_ctl = binaries
    as_user = _as_server_user()
    home = Path(tempfile.mkdtemp(prefix="automl-pg-"))
    (home / "password").write_text(PASSWORD + "\n")
    if as_user:
        shutil.chown(home, user=as_user[2])
        shutil.chown(home / "password", user=as_user[2])
    data = home / "data"
    # (cwd: the server's user may not be allowed into the current directory)
    quiet = {"check": True, "capture_output": True, "text": True, "timeout": 120, "cwd": home}
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-U", "automl", "--pwfile", str(home / "password"),
         "--auth", "scram-sha-256", "-E", "UTF8"],
        **quiet,
    )  # fmt: skip
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {home}"
    subprocess.run(
        [*as_user, pg_ctl, "-D", str(data), "-l", str(home / "log"), "-o", options, "-w",
         "start"],
        **quiet,
    )  # fmt: skip
    try:
        yield f"postgresql://automl:{PASSWORD}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], **quiet)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> Path:
    """A binary table large enough that a trial takes a few seconds (under 20,000 rows,
    so every fit uses one thread and the results do not depend on the cores)."""
    rng = np.random.default_rng(0)
    n, width = 6_000, 16
    X = rng.normal(size=(n, width))
    signal_ = X[:, 0] + X[:, 1] * X[:, 2] - X[:, 3] ** 2 + rng.normal(0, 1, n)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(width)])
    frame["label"] = np.where(signal_ > 0, "yes", "no")
    path = tmp_path_factory.mktemp("data") / "table.csv"
    frame.to_csv(path, index=False)
    return path


def _automl(*args: str, log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "automl", *args],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        env={**os.environ, **env},
    )


def _study(url: str, name: str):
    import optuna

    from automl.study import make_storage

    storage = make_storage(url, None)
    if name not in {s.study_name for s in optuna.get_all_study_summaries(storage)}:
        return None
    return optuna.load_study(study_name=name, storage=storage)


def _wait_until(condition, what: str, timeout: float = 120, logs=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    shown = "\n".join(f"--- {p.name}\n{p.read_text()}" for p in logs)
    raise AssertionError(f"timed out waiting for {what}\n{shown}")


def _run_args(table: Path, output: Path, *extra: str) -> list[str]:
    return [
        "run", str(table), "--target", "label", "--algorithms", ALGORITHMS,
        "--n-trials", str(N_TRIALS), "--cv", "5", "--time-budget", "120", "--no-ensemble",
        "--output", str(output), *extra,
    ]  # fmt: skip


def _by_config(trials) -> dict[str, float]:
    return {
        json.dumps(t.params, sort_keys=True): t.value for t in trials if t.state.name == "COMPLETE"
    }


def test_three_workers_one_killed_mid_trial(postgres_url, table, tmp_path):
    env = {"AUTOML_HEARTBEAT_SECONDS": "1"}
    # The workers start first and wait for the run's study, as a cluster scheduler would
    # start them, so that each gets trials.
    worker_args = ["worker", "--storage", postgres_url, "--study", "shared"]
    workers = [
        _automl(*worker_args, "--wait", "60", log=tmp_path / f"worker{i}.log", env=env)
        for i in range(3)
    ]
    run = _automl(
        *_run_args(table, tmp_path / "run", "--storage", postgres_url, "--study", "shared"),
        log=tmp_path / "run.log",
        env=env,
    )
    the_study = _wait_until(lambda: _study(postgres_url, "shared"), "the run's study")
    # A worker given other data refuses it.
    other = tmp_path / "other.csv"
    pd.read_csv(table).head(500).to_csv(other, index=False)
    refused = run_cli(*worker_args, "--data", str(other), env=env)
    assert_clean_failure(refused, 2, "not the data of the run", "fingerprint")

    def mid_trial():
        for trial in the_study.get_trials(deepcopy=False):
            if trial.state.name != "RUNNING" or not trial.intermediate_values:
                continue
            pid = int(trial.user_attrs.get("process", ":0").rsplit(":", 1)[1])
            for index, worker in enumerate(workers):
                if worker.pid == pid and len(trial.intermediate_values) < 4:
                    return index, trial
        return None

    logs = [tmp_path / "run.log", *(tmp_path / f"worker{i}.log" for i in range(3))]
    index, killed = _wait_until(mid_trial, "a worker in the middle of a trial", logs=logs)
    workers[index].send_signal(signal.SIGKILL)
    workers[index].wait()

    assert run.wait(timeout=120) == 0, (tmp_path / "run.log").read_text()
    for i, worker in enumerate(workers):
        if i != index:
            assert worker.wait(timeout=30) == 0, (tmp_path / f"worker{i}.log").read_text()

    trials = the_study.get_trials(deepcopy=False)
    table_of_trials = f"killed {workers[index].pid}\n" + "\n".join(
        f"{t.number} {t.state.name} {t.value} {t.params.get('algorithm')}"
        f" {t.user_attrs.get('process')} {t.system_attrs} {t.datetime_start} {t.datetime_complete}"
        f" {t.user_attrs.get('reason')}"
        for t in trials
    )
    assert not [t for t in trials if t.state.name in ("RUNNING", "WAITING")], table_of_trials
    # The killed trial was failed (its heartbeat stopped) and run again to completion.
    assert trials[killed.number].state.name == "FAIL"
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert [t.state.name for t in retries] == ["COMPLETE"], table_of_trials
    assert retries[0].params == killed.params
    # Each trial names the process that ran it: the killed worker and at least two others.
    processes = {t.user_attrs["process"] for t in trials}
    assert f"{socket.gethostname()}:{workers[index].pid}" in processes
    assert len(processes) >= 3

    # One process running the same queued first configurations finds the same scores
    # (the others are sampled, by each process with its own seed).
    reference = run_cli(*_run_args(table, tmp_path / "alone", "--json"), timeout=180)
    assert reference.returncode == 0, reference.stderr
    alone = _study(f"{tmp_path / 'alone' / 'study.journal'}", "automl-alone")
    shared_scores = _by_config(trials)
    alone_scores = _by_config(t for t in alone.trials if "fixed_params" in t.system_attrs)
    assert len(alone_scores) >= 3 and len(_by_config(alone.trials)) == N_TRIALS
    for config, value in alone_scores.items():
        assert shared_scores.get(config) == pytest.approx(value, rel=1e-9), table_of_trials
    card = json.loads((tmp_path / "run" / "model_card.json").read_text())
    alone_card = json.loads(reference.stdout)
    # Both exported their best trial, which is at least as good as every queued one.
    assert card["cv"]["score"] == pytest.approx(max(shared_scores.values()), rel=1e-9)
    assert alone_card["score"] == pytest.approx(max(_by_config(alone.trials).values()), rel=1e-9)
    assert card["cv"]["score"] >= max(alone_scores.values()) - 1e-12
    assert card["trials"]["complete"] == N_TRIALS, table_of_trials

    # The password is in no log and not in the model card.
    for path in [*logs, *(tmp_path / "run").glob("model_card.*")]:
        assert PASSWORD not in path.read_text(), path
    assert "automl:***@127.0.0.1" in (tmp_path / "worker0.log").read_text()
    # Whichever process noticed the dead worker said so.
    said = "".join(p.read_text() for p in logs)
    assert f"Trial {killed.number} ({killed.params['algorithm']}, run by" in said
    assert "stopped sending heartbeats; it is queued again." in said
    print("\n".join(f"--- {p.name}\n{p.read_text()}" for p in logs))


def test_wrong_password_is_a_clear_error_without_the_password(postgres_url, table, tmp_path):
    wrong = postgres_url.replace(PASSWORD, "not-the-Pa55word")
    for args in (
        _run_args(table, tmp_path / "run", "--storage", wrong),
        ["worker", "--storage", wrong, "--study", "shared"],
    ):
        result = run_cli(*args)
        assert_clean_failure(result, 2, "Cannot open the storage", "automl:***@")
        assert "not-the-Pa55word" not in result.stderr + result.stdout
    assert not (tmp_path / "run" / "model_card.json").exists()


def test_worker_names_the_studies_when_the_name_is_wrong(postgres_url):
    result = run_cli("worker", "--storage", postgres_url, "--study", "no-such-study")
    assert_clean_failure(result, 2, "There is no study named 'no-such-study'")
    assert PASSWORD not in result.stderr


def test_workers_share_the_journal_file_on_one_machine(table, tmp_path):
    """No server needed: `run --workers 2` starts an `automl worker` beside the run, on the
    run's own study.journal."""
    out = tmp_path / "run"
    run = run_cli(*_run_args(table, out, "--workers", "2"), timeout=180)
    assert run.returncode == 0, run.stderr
    the_study = _study(str(out / "study.journal"), "automl-run")
    done = [t for t in the_study.trials if t.state.name == "COMPLETE"]
    assert len({t.user_attrs["process"] for t in done}) == 2
    assert len(done) == N_TRIALS
