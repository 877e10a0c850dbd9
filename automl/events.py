"""Plain event objects the core emits while it works.

The core passes them to a callback; the CLI turns them into a progress bar, the TUI into
Textual messages. Nothing here knows about either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Phase = Literal["load", "search", "refit", "explain", "export", "done"]


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
    state: Literal["complete", "pruned", "failed"]
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


Event = PhaseChanged | SearchStarted | TrialFinished | BestImproved | SearchFinished
EventCallback = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The default callback: drop every event."""
