"""Fit and score pipelines in a worker process that can be stopped at a deadline.

A scikit-learn or LightGBM fit cannot be interrupted from another thread, so fits run in
a separate Python process (`python -m automl.worker`). It receives the data once, then
cross-validates candidates fold by fold, waiting after each fold for the parent to say
"continue" or "stop" (so pruning costs nothing), and refits the winner. When the time
budget runs out or the user cancels, the parent kills it; the next request starts a new
one.

A worker is never a fork of the parent: no OpenMP state of the parent is inherited and
the user's main module is never re-run. On Linux, workers are forked from a fork server,
one per parent process (`python -m automl.worker --fork-server`), which has imported the
libraries once and never fits anything itself, so no OpenMP thread pool runs when it
forks (OpenBLAS shuts its threads down for a fork and starts them again when needed).
Importing them costs a fresh interpreter about 2 CPU-seconds, a fork milliseconds: a run
starts two workers and, before, a spare for each; on 2 cores at a 10 s budget that was a
fifth of the CPU. `multiprocessing`'s forkserver is not used: its children import the parent's
main module again. Elsewhere each worker is a fresh interpreter. The parent's end of the
server is `automl.forkserver`, which `automl run` and `AutoML.fit` start first thing.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import queue
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from automl.errors import Cancelled, describe
from automl.forkserver import ForkServer
from automl.forkserver import fork_server as _fork_server
from automl.forkserver import worker_env as _worker_env
from automl.preprocess import Candidate

_POLL_SECONDS = 0.05
# Early stopping holds out this share of a fold's training rows, on folds of at least
# `EarlyStopping.min_rows` rows (smaller ones fit the searched number of rounds).
EARLY_STOPPING_SHARE = 0.1
# A fold of an algorithm that can stop adding rounds in time (`EarlyStopping.stops_in_time`)
# stops at this share of its part of the trial's time left (the time left over the folds
# left): the rest is for predicting its held-out rows and sending them.
FOLD_ROUNDS_SHARE = 0.9
Job = TypeVar("Job")
Result = TypeVar("Result")


class TrialFailed(Exception):
    """A fit in the worker raised, or the worker died."""


class TimeUp(Exception):
    """The deadline passed before the worker finished."""


@dataclass(frozen=True)
class FoldResult:
    fold: int
    predictions: np.ndarray
    seconds: float
    rounds: int | None = None  # the boosting rounds kept, with early stopping
    built: int | None = None  # ... and the rounds built (see `EarlyStopping.built_rounds`)
    cut: bool = False  # the model stopped adding rounds at its time (see `fit_fold`)


def fit_fold(
    candidate: Candidate,
    X: pd.DataFrame,
    y: np.ndarray,
    rows: np.ndarray,
    classification: bool,
    stop_at: float | None = None,
) -> tuple[Any, int | None]:
    """Fit a fresh copy of the candidate's pipeline on `rows` of the data.

    With an algorithm that stops early and at least its `EarlyStopping.min_rows` rows, a
    share of the rows (stratified for classification) is held out: the preprocessing is
    fitted on the rest, and the model on the rest until the held-out rows stop improving,
    or, if its algorithm can (`EarlyStopping.stops_in_time`), until `stop_at` (a
    `time.monotonic()` value). Returns the fitted pipeline and the rounds kept (None
    without early stopping).
    """
    from sklearn.base import clone

    pipeline = clone(candidate.pipeline)
    stopping = candidate.early_stopping
    if stopping is None or len(rows) < stopping.min_rows:
        return pipeline.fit(X.iloc[rows], y[rows], **candidate.fit_params), None
    from sklearn.model_selection import train_test_split

    def split(stratify: np.ndarray | None) -> list[np.ndarray]:
        return train_test_split(
            rows, test_size=EARLY_STOPPING_SHARE, stratify=stratify, random_state=candidate.seed
        )

    try:
        fit_rows, stop_rows = split(y[rows] if classification else None)
    except ValueError:  # a class with a single row cannot be stratified
        fit_rows, stop_rows = split(None)
    head, model = pipeline[:-1], pipeline[-1]
    X_fit = head.fit_transform(X.iloc[fit_rows], y[fit_rows])
    X_stop = head.transform(X.iloc[stop_rows])
    params = {
        name.removeprefix("model__"): value
        for name, value in candidate.fit_params.items()
        if name.startswith("model__")
    }
    in_time = {"stop_at": stop_at} if stop_at is not None and stopping.stops_in_time else {}
    params.update(stopping.fit_params(model, X_stop, y[stop_rows], **in_time))
    model.fit(X_fit, y[fit_rows], **params)
    return pipeline, int(stopping.best_rounds(model))


def stops_in_time(candidate: Candidate, rows: int) -> bool:
    """Whether a fold of `rows` training rows stops adding rounds at its share of the
    trial's time (see `fit_fold` and FOLD_ROUNDS_SHARE)."""
    stopping = candidate.early_stopping
    return stopping is not None and stopping.stops_in_time and rows >= stopping.min_rows


def built_rounds(candidate: Candidate, fitted: Any, kept: int | None) -> int | None:
    """The rounds the fitted model built, at least those it kept (`kept`, as `fit_fold`
    returned); the kept ones where its algorithm does not say."""
    stopping = candidate.early_stopping
    if kept is None or stopping is None or stopping.built_rounds is None:
        return kept
    return max(int(stopping.built_rounds(fitted[-1])), kept)


class _Process:
    """One `python -m automl.worker` process (a fresh interpreter) and the two pipes to it."""

    def __init__(self, preload: Sequence[str]) -> None:
        to_child, child_in = os.pipe()
        child_out, from_child = os.pipe()
        command = [sys.executable, "-m", "automl.worker", str(to_child), str(from_child), *preload]
        self.popen = subprocess.Popen(
            command, pass_fds=(to_child, from_child), stdin=subprocess.DEVNULL, env=_worker_env()
        )
        os.close(to_child)
        os.close(from_child)
        self.send = Connection(child_in, readable=False)
        self.receive = Connection(child_out, writable=False)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code once the process has exited; raises `subprocess.TimeoutExpired`."""
        return self.popen.wait(timeout)

    def kill(self) -> int | None:
        if self.popen.poll() is None:
            self.popen.kill()
        code = self.popen.wait()
        self.send.close()
        self.receive.close()
        return code


class _Forked:
    """A worker forked from the fork server, and the pipes to it. The fork server reaps
    it and writes its exit code (as `subprocess` gives it) to a status pipe; a pidfd
    signals it safely whatever became of its process id."""

    def __init__(self, server: ForkServer, preload: Sequence[str]) -> None:
        to_child, child_in = os.pipe()
        child_out, from_child = os.pipe()
        self.status, status_in = os.pipe()
        self.server = server
        self.pid: int | None = None
        self.pidfd: int | None = None
        self.returncode: int | None = None
        try:
            server.fork(self, preload, (to_child, from_child, status_in))
        except OSError:
            for fd in (child_in, child_out, self.status):
                os.close(fd)
            raise
        finally:
            for fd in (to_child, from_child, status_in):
                os.close(fd)
        self.send = Connection(child_in, readable=False)
        self.receive = Connection(child_out, writable=False)

    def _pidfd(self, block: bool) -> int | None:
        if self.pidfd is None:
            if self.pid is None:
                self.server.read_pids(block)
            if self.pid is not None:
                self.pidfd = os.pidfd_open(self.pid)
        return self.pidfd

    def alive(self) -> bool:
        """False once it has exited; True while it runs or is being forked."""
        if self.returncode is not None:
            return False
        try:
            pidfd = self._pidfd(block=False)
        except OSError:  # the server is gone, or the process was reaped already
            return False
        return pidfd is None or not select.select([pidfd], [], [], 0)[0]

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code once the process has exited (None if the fork server died and
        could not say); raises `subprocess.TimeoutExpired`."""
        if self.returncode is None:
            if not select.select([self.status], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0.0)
            data = os.read(self.status, 4)
            self.returncode = struct.unpack("i", data)[0] if len(data) == 4 else None
            if self.returncode is None and self.alive():
                self._signal()  # orphaned by a dead server: nothing would reap it here
        return self.returncode

    def _signal(self) -> None:
        with contextlib.suppress(OSError):
            pidfd = self._pidfd(block=True)
            if pidfd is not None:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)

    def kill(self) -> int | None:
        if self.alive():
            self._signal()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.wait(timeout=10)
        for fd in (self.status, self.pidfd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.status = self.pidfd = None  # type: ignore[assignment]
        self.send.close()
        self.receive.close()
        return self.returncode


def _start(preload: Sequence[str]) -> _Process | _Forked:
    """A new worker process: forked from the fork server where there is one."""
    server = _fork_server()
    if server is not None:
        try:
            return _Forked(server, preload)
        except OSError:
            pass  # a server that died is started again on the next call
    return _Process(preload)


class Worker:
    """A worker process holding one training table.

    A forked worker is replaced by another fork. A fresh interpreter takes seconds to
    import the libraries: once the first fold is in, a spare one is started and imports
    them while the current one works, so replacing a killed worker costs only sending the
    data again.
    """

    def __init__(self, preload: Sequence[str] = ()) -> None:
        self._preload = list(preload)
        self._current: _Process | _Forked | None = _start(self._preload)
        self._spare: _Process | None = None  # started once the first fold is in
        self._data: tuple[Any, ...] | None = None
        self._data_sent = False
        self._warm = False

    @property
    def warm(self) -> bool:
        """Whether the current process has the table and has fitted on it already: then
        a fold's time is the fit's, not the process's start-up, imports and data."""
        return self._warm and self._alive()

    def set_data(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        folds: Sequence[tuple[np.ndarray, np.ndarray]],
        classification: bool,
        threads: int,
    ) -> None:
        """The table to fit on, its folds, and how many threads any fit may use."""
        self._data = (X, y, list(folds), classification, threads)
        self._data_sent = self._warm = False

    def cross_validate(
        self,
        candidate: Candidate,
        deadline: float,
        cancel: threading.Event | None = None,
        first_fold_by: float | None = None,
        stop: threading.Event | None = None,
        until: Callable[[], float] | None = None,
    ) -> Iterator[FoldResult]:
        """Yield each fold's out-of-fold predictions (probabilities for classification).

        The folds of an algorithm that stops adding rounds in time (`stops_in_time`) share
        the time to `deadline`, or, after each fold, to what `until` then gives.

        Closing the iterator early stops the trial after the current fold. Raises `TimeUp`
        at `deadline` (a `time.monotonic()` value), at `first_fold_by` if the first fold
        has not finished by then, or as soon as `stop` is set (the search's deadline came
        sooner than the trial's); `Cancelled` when `cancel` is set and `TrialFailed` when
        the fit raises or the worker dies.
        """
        self._request(("cv", candidate, deadline), deadline)
        finished = False
        waiting_for = deadline if first_fold_by is None else min(first_fold_by, deadline)
        try:
            while True:
                try:
                    kind, *payload = self._wait(waiting_for, cancel, stop)
                    waiting_for = deadline
                except TrialFailed:
                    finished = True  # the worker reported the error and is idle again
                    raise
                if kind == "done":
                    finished = True
                    return
                if self._spare is None and isinstance(self._current, _Process):
                    self._spare = _Process(self._preload)
                self._warm = True
                yield FoldResult(*payload)
                self._send_message(("continue", deadline if until is None else until()))
        finally:
            if not finished and self._alive():
                self._send_message(("stop",))
                self._drain(deadline, cancel)

    def refit(
        self,
        candidate: Candidate,
        rows: np.ndarray,
        deadline: float,
        cancel: threading.Event | None = None,
        threads: int | None = None,
        stop: threading.Event | None = None,
        stop_at: float | None = None,
    ) -> tuple[Any, float]:
        """Fit on `rows` of the data, with `threads` threads (default: the data's); return
        the fitted pipeline and the seconds it took. Raises `TimeUp` at `deadline` or as
        soon as `stop` is set (the worker process is then replaced). With `stop_at`, a
        model that can stops adding rounds by then (`Candidate.fit`)."""
        self._request(("refit", candidate, rows, threads, stop_at), deadline)
        _, pipeline, seconds = self._wait(deadline, cancel, stop)
        return pipeline, seconds

    def fit_predict(
        self,
        candidate: Candidate,
        rows: np.ndarray,
        predict: Sequence[np.ndarray],
        deadline: float,
        cancel: threading.Event | None = None,
    ) -> tuple[list[np.ndarray], float]:
        """Fit on `rows` of the data and predict each of the `predict` row sets (as the
        folds do: probabilities for classification); return them and the seconds taken."""
        self._request(("fit_predict", candidate, rows, list(predict)), deadline)
        _, predictions, seconds = self._wait(deadline, cancel)
        return predictions, seconds

    def quit(self) -> None:
        """Ask the worker process to exit, without waiting for it (`close` does). A
        process takes about 0.27 s to exit; asked before the last work of a run that
        needs no worker, it has exited by the time `close` is called."""
        # The spare holds no data and may still be importing libraries, deaf to "quit"
        # (waiting for it cost 2 s at the end of every run): it is simply killed.
        if self._spare is not None:
            self._spare.kill()
            self._spare = None
        process = self._current
        if process is not None and process.alive():
            with contextlib.suppress(OSError):
                process.send.send(("quit",))

    def close(self) -> None:
        self.quit()
        process = self._current
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=2)
            process.kill()
        self._current = self._spare = None

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Plumbing ------------------------------------------------------------------------

    def _alive(self) -> bool:
        return self._current is not None and self._current.alive()

    def _kill(self) -> int | None:
        code = self._current.kill() if self._current is not None else None
        self._current = None
        return code

    def _replace(self) -> None:
        self._kill()
        spare = self._spare
        self._current = spare if spare is not None and spare.alive() else _start(self._preload)
        self._spare = None
        self._data_sent = self._warm = False

    def _request(self, message: tuple[Any, ...], deadline: float) -> None:
        if not self._alive():
            self._replace()
        if not self._data_sent:
            if self._data is None:
                raise RuntimeError("set_data() must come before any fit")
            if time.monotonic() >= deadline:  # sending a big table takes seconds
                raise TimeUp()
            self._send_message(("data", *self._data))
            self._data_sent = True
        self._send_message(message)

    def _send_message(self, message: tuple[Any, ...]) -> None:
        try:
            self._current.send.send(message)
        except OSError:
            raise TrialFailed(self._death()) from None

    def _wait(
        self,
        deadline: float,
        cancel: threading.Event | None,
        stop: threading.Event | None = None,
    ) -> tuple[Any, ...]:
        while True:
            if cancel is not None and cancel.is_set():
                self._kill()
                raise Cancelled("The run was cancelled.")
            if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                self._kill()
                raise TimeUp()
            try:
                ready = self._current.receive.poll(_POLL_SECONDS)
                message = self._current.receive.recv() if ready else None
            except (EOFError, OSError):
                raise TrialFailed(self._death()) from None
            if message is None:
                continue
            if message[0] == "error":
                raise TrialFailed(message[1])
            return message

    def _drain(self, deadline: float, cancel: threading.Event | None) -> None:
        """After "stop", wait for the worker to acknowledge, so it is ready again."""
        try:
            while self._wait(deadline, cancel)[0] != "done":
                pass
        except (TimeUp, TrialFailed, Cancelled):
            self._kill()

    def _death(self) -> str:
        code = self._kill()
        if code is not None and code < 0 and -code == signal.SIGKILL:
            return "the worker process was killed (out of memory?)"
        return f"the worker process died (exit code {code})"


def run_jobs(
    workers: Sequence[Worker], jobs: Sequence[Job], run: Callable[[Worker, Job], Result]
) -> list[Result]:
    """`run(worker, job)` for every job, in a thread per worker, each taking the next job
    when done with one; the results in the jobs' order. After the first error no job is
    started; once every thread is done it is raised (a `Cancelled` before any other)."""
    pending: queue.SimpleQueue[tuple[int, Job]] = queue.SimpleQueue()
    for number, job in enumerate(jobs):
        pending.put((number, job))
    results: dict[int, Result] = {}
    errors: list[BaseException] = []

    def take(worker: Worker) -> None:
        while not errors:
            try:
                number, job = pending.get_nowait()
            except queue.Empty:
                return
            try:
                results[number] = run(worker, job)
            except BaseException as exc:  # raised in the calling thread, below
                errors.append(exc)
                return

    threads = [threading.Thread(target=take, args=(w,), daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise next((e for e in errors if isinstance(e, Cancelled)), errors[0])
    return [results[number] for number in range(len(jobs))]


# The worker process ------------------------------------------------------------------


def _serve(receive: Connection, send: Connection) -> None:
    from threadpoolctl import threadpool_limits

    data: tuple[Any, ...] = ()
    while True:
        kind, *payload = receive.recv()
        if kind == "quit":
            return
        if kind == "data":
            data = tuple(payload)
            # Caps OpenMP and BLAS pools too, for estimators that take no n_jobs.
            threadpool_limits(limits=data[4])
        elif kind == "cv":
            X, y, folds, classification, _ = data
            candidate, deadline = payload
            _cross_validate(candidate, deadline, X, y, folds, classification, receive, send)
        elif kind == "refit":
            X, y = data[0], data[1]
            candidate, rows, threads, stop_at = payload
            try:
                start = time.perf_counter()
                with threadpool_limits(limits=threads or data[4]):
                    fitted = candidate.fit(X.iloc[rows], y[rows], stop_at)
                send.send(("model", fitted, time.perf_counter() - start))
            except Exception as exc:
                send.send(("error", describe(exc)))
        elif kind == "fit_predict":
            X, y, _, classification, _ = data
            candidate, rows, targets = payload
            try:
                start = time.perf_counter()
                fitted = candidate.fit(X.iloc[rows], y[rows])
                predictions = [_predict(fitted, X.iloc[r], classification) for r in targets]
                send.send(("predicted", predictions, time.perf_counter() - start))
            except Exception as exc:
                send.send(("error", describe(exc)))


def _predict(fitted: Any, X: pd.DataFrame, classification: bool) -> np.ndarray:
    predictions = fitted.predict_proba(X) if classification else fitted.predict(X)
    return _as_float64(predictions, classification)


def _as_float64(predictions: Any, classification: bool) -> np.ndarray:
    """Predictions as float64; probability rows summed to 1 again in float64, since a
    model's float32 rows (XGBoost's) miss 1 by more than the metrics' checks allow."""
    values = np.asarray(predictions, dtype=float)
    return values / values.sum(axis=1, keepdims=True) if classification else values


def _cross_validate(candidate, deadline, X, y, folds, classification, receive, send) -> None:
    late = 0.0  # the most a fold so far ended past the time its model was to stop
    for fold, (train, valid) in enumerate(folds):
        try:
            start = time.perf_counter()
            now = time.monotonic()
            share = FOLD_ROUNDS_SHARE * (deadline - now) / (len(folds) - fold)
            stop_at = now + share - late
            fitted, rounds = fit_fold(candidate, X, y, train, classification, stop_at)
            cut = stops_in_time(candidate, len(train)) and time.monotonic() >= stop_at
            predictions = _predict(fitted, X.iloc[valid], classification)
            late = max(late, time.monotonic() - stop_at)
            seconds = time.perf_counter() - start
            built = built_rounds(candidate, fitted, rounds)
        except Exception as exc:
            send.send(("error", describe(exc)))
            return
        send.send(("fold", fold, predictions, seconds, rounds, built, cut))
        kind, *payload = receive.recv()
        if kind == "stop":
            break
        deadline = payload[0]
    send.send(("done",))


def main(argv: Sequence[str]) -> None:
    # The parent handles Ctrl-C and kills us when needed; library warnings and anything
    # a library prints would only clutter the user's terminal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    warnings.simplefilter("ignore")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    if argv[0] == "--fork-server":
        _serve_forks(socket.socket(fileno=int(argv[1])))
        return
    _preload(argv[2:])
    _run(int(argv[0]), int(argv[1]))


def _preload(modules: Sequence[str]) -> None:
    for module in modules:
        with contextlib.suppress(Exception):  # the fit that needs it reports the error
            importlib.import_module(module)


def _run(receive_fd: int, send_fd: int) -> None:
    receive = Connection(receive_fd, writable=False)
    send = Connection(send_fd, readable=False)
    with contextlib.suppress(EOFError, OSError, KeyboardInterrupt):  # the parent is gone
        _serve(receive, send)


def _serve_forks(server: socket.socket) -> None:
    """The fork server: for each request of the parent (`_ForkServer.fork`), import what
    it names, fork a worker and send back its process id; reap the workers and write each
    one's exit code to its status pipe. Ends when the parent closes its end."""
    start_dir = os.getcwd()
    dir_on_path = bool(sys.path) and sys.path[0] == start_dir  # as `python -m` puts it
    wake, woken = os.pipe()
    os.set_blocking(woken, False)
    signal.set_wakeup_fd(woken)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the select below
    statuses: dict[int, int] = {}  # worker's process id -> its status pipe
    while True:
        ready = select.select([server, wake], [], [])[0]
        if wake in ready:
            os.read(wake, 4096)
            _reap(statuses)
        if server not in ready:
            continue
        try:
            message, fds, _, _ = socket.recv_fds(server, 1 << 20, 3)
        except OSError:
            return
        if not message:
            return
        request = json.loads(message)
        _preload(request["preload"])
        gc.freeze()  # the imported objects stay shared, not copied on the workers' writes
        pid = os.fork()
        if pid == 0:
            inherited = [server.fileno(), wake, woken, fds[2], *statuses.values()]
            _forked_worker(request, fds, inherited, dir_on_path)
        os.close(fds[0])
        os.close(fds[1])
        statuses[pid] = fds[2]
        server.send(struct.pack("q", pid))


def _forked_worker(
    request: dict[str, Any], fds: Sequence[int], inherited: Sequence[int], dir_on_path: bool
) -> None:
    """A forked worker: as the parent's directory, environment and PYTHONPATH would make a
    fresh interpreter, serve the parent, and exit (never returning to the server's loop)."""
    code = 0
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in inherited:
            os.close(fd)
        os.environ.clear()
        os.environ.update(request["env"])
        with contextlib.suppress(OSError):
            os.chdir(request["cwd"])
        if dir_on_path:
            sys.path[0] = request["cwd"]
        paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        sys.path[1:1] = [p for p in paths if p not in sys.path]
        _run(fds[0], fds[1])
    except BaseException:
        code = 1
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        os._exit(code)


def _reap(statuses: dict[int, int]) -> None:
    while statuses:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        fd = statuses.pop(pid, None)
        if fd is not None:
            with contextlib.suppress(OSError):  # the parent closed it: nobody asks
                os.write(fd, struct.pack("i", os.waitstatus_to_exitcode(status)))
            os.close(fd)


if __name__ == "__main__":
    main(sys.argv[1:])
