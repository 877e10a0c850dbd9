"""Worker processes forked from a fork server (`automl.forkserver.ForkServer`): one per
parent process, it imports the libraries once, so a worker starts in milliseconds instead
of the seconds a fresh interpreter takes to import them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from support import HELPERS

from automl import worker as worker_module
from automl.preprocess import Candidate
from automl.worker import TrialFailed, Worker

pytestmark = pytest.mark.skipif(
    sys.platform != "linux" or not hasattr(os, "pidfd_open"), reason="forks on Linux only"
)


@pytest.fixture
def helpers_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HELPERS))
    monkeypatch.setenv("PYTHONPATH", str(HELPERS))


def _data_for(worker: Worker) -> None:
    X = pd.DataFrame({"a": np.arange(40.0)})
    y = np.arange(40) % 2
    folds = [(np.arange(20, 40), np.arange(20)), (np.arange(20), np.arange(20, 40))]
    worker.set_data(X, y, folds, classification=True, threads=1)


def _candidate(estimator: object) -> Candidate:
    return Candidate(Pipeline([("model", estimator)]))


def _folds(worker: Worker, estimator: object) -> list[int]:
    return [r.fold for r in worker.cross_validate(_candidate(estimator), time.monotonic() + 60)]


def _pid(worker: Worker) -> int:
    worker._current.server.read_pids(block=True)
    return worker._current.pid


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def test_workers_are_forks_of_one_server(helpers_on_path):
    from slow_estimator import SleepyClassifier

    with Worker(["sklearn.dummy"]) as first, Worker() as second:
        for worker in (first, second):
            _data_for(worker)
            assert _folds(worker, SleepyClassifier(seconds=0.0)) == [0, 1]
        server = worker_module._fork_server()
        pids = [_pid(first), _pid(second)]
        assert all(_parent_of(pid) == server.popen.pid for pid in pids)
        assert pids[0] != pids[1]


def test_a_forked_worker_has_the_directory_environment_and_pythonpath_of_its_request(
    tmp_path, monkeypatch
):
    # The server is started before the directory, the variable and PYTHONPATH change:
    # a worker forked after that has them as a fresh interpreter started then would.
    Worker().close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(HELPERS))
    monkeypatch.setenv("AUTOML_TEST_MARK", "seen")
    monkeypatch.syspath_prepend(str(HELPERS))
    from slow_estimator import TellingClassifier

    with Worker() as worker:
        _data_for(worker)
        # Unpickling the estimator imports slow_estimator: found through PYTHONPATH.
        with pytest.raises(TrialFailed, match=f"cwd={tmp_path} mark=seen"):
            _folds(worker, TellingClassifier())


def test_a_forked_worker_killed_from_outside_is_reported_as_killed(helpers_on_path):
    from slow_estimator import SleepyClassifier

    with Worker() as worker:
        _data_for(worker)
        process = worker._current
        threading.Timer(0.5, os.kill, (_pid(worker), signal.SIGKILL)).start()
        # The server reaped it and wrote its exit status: killed by SIGKILL.
        with pytest.raises(TrialFailed, match=r"was killed \(out of memory\?\)"):
            _folds(worker, SleepyClassifier(seconds=3600.0))
        assert process.returncode == -signal.SIGKILL
        # The next request gets a new fork.
        assert _folds(worker, SleepyClassifier(seconds=0.0)) == [0, 1]
        assert worker._current is not process


def test_a_dead_fork_server_is_started_again(helpers_on_path):
    from slow_estimator import SleepyClassifier

    Worker().close()
    server = worker_module._fork_server()
    server.popen.kill()
    server.popen.wait()
    with Worker() as worker:
        _data_for(worker)
        assert _folds(worker, SleepyClassifier(seconds=0.0)) == [0, 1]
    assert worker_module._fork_server() is not server


def test_the_fork_server_and_its_workers_exit_with_their_parent():
    code = (
        "from automl.worker import Worker, _fork_server\n"
        "worker = Worker()\n"
        "worker._current.server.read_pids(block=True)\n"
        "print(_fork_server().popen.pid, worker._current.pid)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    pids = [int(p) for p in done.stdout.split()]
    deadline = time.monotonic() + 30
    while any(os.path.exists(f"/proc/{pid}") for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    # Gone, or at most zombies that init reaps: none is still running.
    running = [p for p in pids if os.path.exists(f"/proc/{p}") and _state(p) != "Z"]
    assert running == []


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def test_without_a_fork_server_each_worker_is_a_fresh_interpreter(helpers_on_path, monkeypatch):
    from slow_estimator import SleepyClassifier

    monkeypatch.setattr(worker_module, "_fork_server", lambda: None)
    worker = Worker()
    process = worker._current
    assert isinstance(process, worker_module._Process)
    assert _parent_of(process.popen.pid) == os.getpid()
    _data_for(worker)
    assert _folds(worker, SleepyClassifier(seconds=0.0)) == [0, 1]
    worker.quit()
    assert process.wait(timeout=60) == 0
    worker.close()


def test_the_fork_server_starts_without_importing_anything_heavy_here():
    # `automl run` starts it before its own imports, so both import at once.
    code = (
        "import sys\n"
        "import automl.forkserver as f\n"
        "f.start()\n"
        "server = f.fork_server()\n"
        "heavy = ('numpy', 'pandas', 'sklearn', 'automl.worker', 'automl.api')\n"
        "print([m for m in heavy if m in sys.modules], server is f.fork_server(), server.alive())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[0] == "[] True True"


def test_automl_run_starts_the_fork_server_before_its_own_imports(tmp_path):
    # A run whose target is missing stops at reading the table: after the start.
    code = (
        "import sys\n"
        "import automl.forkserver as f\n"
        "start = f.start\n"
        "def noted():\n"
        "    print('started; automl.api imported:', 'automl.api' in sys.modules, flush=True)\n"
        "    start()\n"
        "f.start = noted\n"
        "from automl.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    table = tmp_path / "t.csv"
    pd.DataFrame({"a": [1, 2, 3], "b": [0, 1, 0]}).to_csv(table, index=False)
    command = [sys.executable, "-c", code, "run", str(table), "--target", "nope", "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stdout.splitlines()[0] == "started; automl.api imported: False"
    assert "nope" in done.stderr


def test_fit_starts_the_fork_server_before_it_reads_the_table(monkeypatch):
    from automl import api, forkserver

    order = []
    monkeypatch.setattr(forkserver, "start", lambda: order.append("fork server"))
    read = api._read
    monkeypatch.setattr(api, "_read", lambda *a: order.append("read") or read(*a))
    table = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40) % 2})
    with pytest.raises(api.DataError, match="nope"):
        api.AutoML(time_budget=5).fit(table, target="nope")
    assert order == ["fork server", "read"]
