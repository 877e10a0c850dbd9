"""One exception hierarchy, shown the same way by the CLI, the TUI and the API."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit codes of the `automl` command (part of the CLI contract)."""

    OK = 0
    RUN_FAILED = 1
    BAD_INPUT = 2
    PLUGIN_ERROR = 3
    # drift found (`automl drift`): a column the model uses has major drift
    DRIFT = 4
    INTERRUPTED = 130


class AutoMLError(Exception):
    """An error with a message for the user and, where we know one, a hint on what to do."""

    exit_code = ExitCode.RUN_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class DataError(AutoMLError):
    """The input table, the target or the options do not fit together."""

    exit_code = ExitCode.BAD_INPUT


class UsageError(AutoMLError):
    """Options that contradict each other or name things that do not exist."""

    exit_code = ExitCode.BAD_INPUT


class PluginError(AutoMLError):
    """A plugin the user asked for is broken or missing."""

    exit_code = ExitCode.PLUGIN_ERROR


class BundleError(AutoMLError):
    """A model bundle is missing, incomplete, tampered with or from an incompatible version."""

    exit_code = ExitCode.BAD_INPUT


class SearchError(AutoMLError):
    """The search produced no usable model."""

    exit_code = ExitCode.RUN_FAILED


class Cancelled(AutoMLError):
    """The run was cancelled by the user."""

    exit_code = ExitCode.INTERRUPTED


def describe(exc: BaseException) -> str:
    """An exception in one line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class AutoMLWarning(UserWarning):
    """Something the user should know about that does not stop the run."""
