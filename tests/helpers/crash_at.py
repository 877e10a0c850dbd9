"""Run the `automl` command, but SIGKILL this very process at a chosen point:

    python crash_at.py POINT automl-arguments...

POINT is `refit` (as the first refit of the winner starts), `explain` (as the explanation
of the refitted model starts), `write:N` (right after the N-th file of the bundle has been
written, before anything else) or `release` (after the whole bundle is written, just
before the run removes its INCOMPLETE mark). The kill is a real
SIGKILL of the real command; only its moment is chosen, which watching the output from
outside could not do reliably. Nothing of this is in the automl package.
"""

from __future__ import annotations

import os
import signal
import sys

from automl import bundle, report, rundir
from automl.cli import main
from automl.worker import Worker


def _die(*args: object, **kwargs: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_after_write(n: int) -> None:
    write = bundle._write_atomic
    written = []

    def counting(path, data):
        write(path, data)
        written.append(path)
        if len(written) == n:
            _die()

    bundle._write_atomic = counting


if __name__ == "__main__":
    point, arguments = sys.argv[1], sys.argv[2:]
    if point == "refit":
        Worker.refit = _die
    elif point == "explain":
        report.make_insights = _die
    elif point == "release":
        rundir.Claim.release = _die
    elif point.startswith("write:"):
        _kill_after_write(int(point.split(":", 1)[1]))
    else:
        sys.exit(f"unknown point {point!r}")
    main(arguments)
