"""automl: plugin-based AutoML for tabular data.

`from automl import AutoML, load`. Heavy modules load only when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["AutoML", "__version__", "load"]

if TYPE_CHECKING:
    from automl.api import AutoML, load


def __getattr__(name: str) -> Any:
    if name in ("AutoML", "load"):
        from automl import api

        return getattr(api, name)
    raise AttributeError(f"module 'automl' has no attribute {name!r}")
