"""Plain event objects the core emits while it works.

The core passes them to a callback; the CLI turns them into a progress bar, the TUI into
Textual messages. Nothing here knows about either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Phase = Literal["load", "search", "refit", "curve", "test", "explain", "export", "done"]


@dataclass(frozen=True)
class PhaseChanged:
    phase: Phase
    elapsed: float


@dataclass(frozen=True)
class SearchStarted:
    time_budget: float
    n_trials: int | None
    algorithms: tuple[str, ...]
    metric: str
    direction: str
    n_rows: int
    n_columns: int
    resumed_trials: int = 0


@dataclass(frozen=True)
class TrialFinished:
    number: int
    algorithm: str
    # stopped: at its deadline, to keep the time budget (not an error, unlike failed)
    state: Literal["complete", "pruned", "stopped", "failed"]
    value: float | None
    duration: float
    elapsed: float
    reason: str | None = None


@dataclass(frozen=True)
class BestImproved:
    number: int
    algorithm: str
    value: float
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchFinished:
    n_complete: int
    n_pruned: int
    n_failed: int
    best_algorithm: str | None
    best_value: float | None
    elapsed: float
    # Stopped at their deadline to keep the budget (not counted as failed).
    n_stopped: int = 0


Event = PhaseChanged | SearchStarted | TrialFinished | BestImproved | SearchFinished
EventCallback = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The default callback: drop every event."""


def trials_words(counts: dict[str, int]) -> str:
    """The trial counts in words: "12 complete, 3 pruned, 2 stopped at the budget", and
    the failed ones when there are any."""
    words = f"{counts.get('complete', 0)} complete, {counts.get('pruned', 0)} pruned"
    if counts.get("stopped"):
        words += f", {counts['stopped']} stopped at the budget"
    if counts.get("failed"):
        words += f", {counts['failed']} failed"
    return words
