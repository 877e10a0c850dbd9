"""Warnings and threads: the app shows the core's warnings, except those of checks the
UI makes in worker threads to describe a table (whose findings it shows itself).

`warnings.catch_warnings` swaps process-wide state (before Python 3.14), so two threads
using it at once undo each other: a check's "ignore" could be lifted while it runs, by an
import or a read in another thread leaving its own `catch_warnings`, and the check's
warnings would pop up as notifications or not, depending on timing. A check marks its
thread quiet instead, and the app's `showwarning` drops what a quiet thread warns about.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()


@contextmanager
def quiet() -> Iterator[None]:
    """Within this block, the app shows none of this thread's warnings."""
    depth = getattr(_local, "depth", 0)
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth = depth


def is_quiet() -> bool:
    return getattr(_local, "depth", 0) > 0
