"""The automl terminal UI (Textual). Only this package and `automl.cli` import Textual.

`make_app` builds the app; the `automl tui` command and the tests both use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from automl.tui.app import AutomlApp


def make_app(data: str | Path | None = None, folder: str | Path | None = None) -> AutomlApp:
    """The app, opening `data` (a table, or the folder of a saved model) if given.

    folder: where the file browser starts (default: the working directory).
    """
    from automl.tui.app import AutomlApp

    return AutomlApp(
        data=Path(data) if data is not None else None,
        folder=Path(folder) if folder is not None else None,
    )
