"""The output directory of a run: whether a run is using it, and whether what it holds is
a finished model bundle.

A run claims its directory by writing INCOMPLETE there and holding an exclusive lock
(flock) on that file until the bundle is saved; then it deletes the file. So:

- INCOMPLETE present and locked: a run is writing the directory right now;
- INCOMPLETE present, not locked: the run that wrote it was interrupted (Ctrl-C, a crash,
  kill -9) - the trials are kept for `--resume`, and there is no model to use;
- no INCOMPLETE and a model card: a finished bundle.

The operating system drops the lock when the process dies, however it dies.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import IO

from automl.errors import BundleError, UsageError

MARKER = "INCOMPLETE"
CARD_JSON = "model_card.json"
_NOTE = (
    "An automl run is writing this directory, or was interrupted before it saved its model."
    " There is no usable model here yet; continue the run with `automl run ... --resume`."
)


class Claim:
    """A run's hold on its output directory; `release` once the bundle is saved."""

    def __init__(self, directory: Path, handle: IO[str], before: set[str] | None) -> None:
        self.directory = directory
        self._handle: IO[str] | None = handle
        self._before = before  # the directory's entries before the claim; None: it was new

    def release(self) -> None:
        """Mark the directory complete and let other runs in."""
        if self._handle is not None:
            (self.directory / MARKER).unlink(missing_ok=True)
            self._handle.close()
            self._handle = None

    def abandon(self) -> None:
        """Undo the claim of a run that failed before it searched: remove what it added."""
        if self._handle is None:
            return
        if self._before is None:
            shutil.rmtree(self.directory, ignore_errors=True)
        else:
            for entry in self.directory.iterdir():
                if entry.name not in self._before and entry.is_file():
                    entry.unlink()
        self.close()

    def close(self) -> None:
        """Let other runs in, leaving the directory marked incomplete."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def check(directory: Path, resume: bool, force: bool) -> None:
    """Refuse a directory another run is using; refuse one holding a bundle or an
    interrupted run unless `resume` (continue it) or `force` (start over)."""
    if not directory.exists():
        return
    if not directory.is_dir():
        raise UsageError(f"The output {directory} is a file, not a directory.")
    holder = in_use_by(directory)
    if holder is not None:
        raise UsageError(
            f"The output directory {directory} is in use by another automl run ({holder}).",
            hint="Wait for it to finish, or choose another --output.",
        )
    if not (resume or force):
        _check_contents(directory, (directory / MARKER).exists())


def _check_contents(directory: Path, marked: bool) -> None:
    if marked:
        raise UsageError(
            f"The output directory {directory} holds an interrupted run.",
            hint="Add --resume to continue it (with the options it was started with, --like"
            " and --test included), --force to start over, or choose another --output.",
        )
    if (directory / CARD_JSON).exists():
        raise UsageError(
            f"The output directory {directory} already holds a model bundle.",
            hint="Add --force to replace it, --resume to search on from its trials, or choose"
            " another --output.",
        )
    if any(p.name != MARKER for p in directory.iterdir()):
        raise UsageError(
            f"The output directory {directory} is not empty; automl will not overwrite it.",
            hint="Choose a new --output, or add --resume to continue the run stored there.",
        )


def claim(directory: Path, resume: bool, force: bool) -> Claim:
    """Lock `directory` for this run and mark it incomplete, checking it again under the
    lock (another run may have started since `check`)."""
    before = {p.name for p in directory.iterdir()} if directory.is_dir() else None
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / MARKER
    while True:
        handle = path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            check(directory, resume, force)  # names the holder
            raise UsageError(
                f"The output directory {directory} is in use by another run."
            ) from None
        # The holder before us may have deleted the file after we opened it.
        if path.exists() and os.path.samestat(os.fstat(handle.fileno()), path.stat()):
            break
        handle.close()
    was_marked = handle.seek(0, os.SEEK_END) > 0
    if not (resume or force):
        try:
            _check_contents(directory, was_marked)
        except UsageError:
            if not was_marked:
                path.unlink()
            handle.close()
            raise
    handle.seek(0)
    handle.truncate()
    note = {
        "note": _NOTE,
        "process": f"{socket.gethostname()}:{os.getpid()}",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    handle.write(json.dumps(note, indent=2) + "\n")
    handle.flush()
    os.fsync(handle.fileno())
    return Claim(directory, handle, before)


def in_use_by(directory: Path) -> str | None:
    """Who holds `directory` (as "pid N on HOST"), or None when no run does."""
    path = directory / MARKER
    try:
        handle = path.open("r")
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _holder(handle.read())
        return None


def _holder(text: str) -> str:
    with contextlib.suppress(ValueError, AttributeError):
        host, pid = json.loads(text)["process"].rsplit(":", 1)
        return f"pid {pid} on {host}"
    return "another process"


def require_complete(directory: Path) -> None:
    """Raise a clear `BundleError` when `directory` is not a finished bundle."""
    if not (directory / MARKER).exists():
        return
    holder = in_use_by(directory)
    if holder is not None:
        raise BundleError(
            f"{directory} is being written by an automl run ({holder}); it holds no finished"
            " model yet.",
            hint="Wait for the run to finish.",
        )
    raise BundleError(
        f"{directory} holds an incomplete run: it was interrupted before its model was saved.",
        hint="Continue it with `automl run DATA --target COL --output"
        f" {directory} --resume` (the finished trials are kept), or start over with --force.",
    )
