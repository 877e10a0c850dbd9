"""A directory tree that shows folders and the table files automl can read."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual.widgets import DirectoryTree

from automl.data import READERS


class TableTree(DirectoryTree):
    """Folders and .csv, .tsv and .parquet files; hidden entries left out."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return sorted(
            (
                p
                for p in paths
                if not p.name.startswith(".")
                and (p.is_dir() or p.suffix.lower() in READERS)
                and p.name != "__pycache__"
            ),
            key=lambda p: (not p.is_dir(), p.name.lower()),
        )
