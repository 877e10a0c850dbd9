"""Optuna's database storage, with queued trials claimed one thread at a time.

Imported only for a database URL (SQLAlchemy is slow to import). SQLite has no row locks
(`SELECT ... FOR UPDATE`), so two threads of one run could both read a queued trial as
waiting and both mark it running; both then ran it, and the second to finish failed the
run with Optuna's "Cannot tell a COMPLETE trial" (seen on CI's loaded cores). Claiming
under a lock, the second thread reads the first's commit and takes the next trial.
Processes sharing a SQLite file can still race this way: many machines want PostgreSQL,
one machine a journal file (DESIGN.md).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from optuna.storages import RDBStorage
from optuna.trial import TrialState


class ClaimingStorage(RDBStorage):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._claim = threading.Lock()

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        del state["_claim"]  # a lock is not pickled; each copy has its own
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        self._claim = threading.Lock()

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        if state is not TrialState.RUNNING:
            return super().set_trial_state_values(trial_id, state, values)
        with self._claim:
            return super().set_trial_state_values(trial_id, state, values)
