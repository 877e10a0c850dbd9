"""The parent's end of the fork server the worker processes are forked from (see
`automl.worker`): standard library only, so a command can start the server before it
imports anything heavy itself (`start`).

The server is a fresh interpreter that imports the libraries the fits need (about two
CPU-seconds: scikit-learn, SciPy, pandas) before it can fork the first worker. Started when
the first worker is asked for, that time came out of the search at every budget: at 10 s
the first fold of each worker ended about two seconds into the run. Started first thing
by `automl run` and by `AutoML.fit`, it imports beside the command's own imports and the
reading of the table, on a core that would otherwise wait.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any


def worker_env() -> dict[str, str]:
    # OpenMP threads that spin while waiting (libgomp's default) slow LightGBM and
    # scikit-learn down a hundredfold when other work shares the cores; sleeping
    # threads cost little when the cores are free.
    return {"OMP_WAIT_POLICY": "PASSIVE", **os.environ}


class ForkServer:
    """The parent's end of the fork server: asks it for a worker, and reads the workers'
    process ids back in the order asked (`automl.worker._Forked` asks without waiting
    for it)."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = [sys.executable, "-m", "automl.worker", "--fork-server", str(theirs.fileno())]
        self.popen = subprocess.Popen(
            command, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=worker_env()
        )
        theirs.close()
        self.socket = ours
        self.owner = os.getpid()  # a fork of the parent must not share the server
        self.lock = threading.Lock()
        self.waiting: list[Any] = []  # asked for, in order, whose process id has not come

    def alive(self) -> bool:
        return self.popen.poll() is None

    def fork(self, forked: Any, preload: Sequence[str], fds: Sequence[int]) -> None:
        """Ask for a worker serving `fds` (its two pipe ends and its exit-status pipe),
        with the parent's working directory, environment and PYTHONPATH."""
        request = {"preload": list(preload), "cwd": os.getcwd(), "env": dict(os.environ)}
        with self.lock:
            socket.send_fds(self.socket, [json.dumps(request).encode()], list(fds))
            self.waiting.append(forked)

    def read_pids(self, block: bool) -> None:
        """Give the workers asked for their process ids, as far as they have come (all of
        them with `block`); raises OSError when the server is gone."""
        with self.lock:
            while self.waiting:
                if not block and not select.select([self.socket], [], [], 0)[0]:
                    return
                reply = self.socket.recv(8)
                if len(reply) != 8:
                    raise OSError("the fork server is gone")
                self.waiting.pop(0).pid = struct.unpack("q", reply)[0]

    def close(self) -> None:
        # Killed, not asked: it holds nothing to save, and an interpreter with these
        # libraries takes about half a second to exit, which `automl run` would wait for.
        self.socket.close()
        self.popen.kill()
        self.popen.wait()


_server: ForkServer | None = None
_server_lock = threading.Lock()


def fork_server() -> ForkServer | None:
    """This process's fork server, started at the first call (and again if it died);
    None where workers cannot be forked from one (not Linux, or no pidfd)."""
    global _server
    if sys.platform != "linux" or not hasattr(os, "pidfd_open"):
        return None
    with _server_lock:
        if _server is None or _server.owner != os.getpid() or not _server.alive():
            if _server is None:
                atexit.register(_close_server)
            elif _server.owner == os.getpid():
                _server.close()
            _server = ForkServer()
        return _server


def start() -> None:
    """Start this process's fork server now, if it has none, so that its imports run
    while the caller does other work; the first worker asked for then comes sooner."""
    fork_server()


def _close_server() -> None:
    with _server_lock:
        if _server is not None and _server.owner == os.getpid():
            _server.close()
