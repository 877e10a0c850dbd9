from __future__ import annotations

import pytest

from automl.plugins import LOAD_ENV, get_registry


@pytest.fixture(autouse=True)
def builtin_plugins_only(monkeypatch: pytest.MonkeyPatch):
    """The UI lists what plugins provide: load only the built-in ones, so the screens look
    the same whatever else is installed."""
    monkeypatch.setenv(LOAD_ENV, "")
    get_registry.cache_clear()
    yield
    get_registry.cache_clear()
