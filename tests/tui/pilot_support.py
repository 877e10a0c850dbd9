"""Helpers for driving the terminal UI with Textual's Pilot in plain (sync) pytest tests."""

from __future__ import annotations

import asyncio
import functools
import io
import time
from collections.abc import Callable, Coroutine
from typing import Any

from rich.console import Console
from rich.text import Text
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import Static


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test function in its own event loop (no pytest plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


async def settle(pilot: Pilot) -> None:
    """Let pending messages run and the app's own workers finish (not the file tree's
    directory loader, which runs as long as the tree is mounted)."""
    await pilot.pause()
    workers = [w for w in pilot.app.workers if w.group not in ("_loader", "search")]
    if workers:
        await pilot.app.workers.wait_for_complete(workers)
    await pilot.pause()


async def wait_until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 60) -> None:
    """Pause until `condition()` holds; fail with a clear message after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout} s on {pilot.app.screen!r}: {condition}"
            )
        await pilot.pause(0.05)


def text(widget: Static) -> str:
    """The plain text a Static (or Label) shows, Rich renderables included."""
    content = widget.content
    if isinstance(content, str | Content | Text):
        return str(content)
    console = Console(width=max(widget.size.width, 60), file=io.StringIO(), color_system=None)
    with console.capture() as captured:
        console.print(content)
    return captured.get()


async def on_screen(pilot: Pilot, screen_type: type, timeout: float = 60) -> Any:
    """Wait until the app shows a mounted screen of `screen_type`; return it."""
    app = pilot.app
    await wait_until(
        pilot, lambda: isinstance(app.screen, screen_type) and app.screen.is_mounted, timeout
    )
    await settle(pilot)
    return app.screen
