"""Optional dependencies, installed as extras: a missing one is one clear usage error naming the extra.

>>> EXTRAS["pyarrow"], EXTRAS["distributed"]
('data', 'dask')
"""

from __future__ import annotations

import importlib
from types import ModuleType

from jacli.errors import UsageError

EXTRAS = {"pyarrow": "data", "pandas": "data", "dask": "dask", "distributed": "dask"}
"""Top-level module -> the extra of ``pyproject.toml`` that installs it."""


class MissingExtra(UsageError):
    """An optional dependency that is not installed."""


def require(module: str, why: str) -> ModuleType:
    """``import module`` (``pyarrow.parquet``, ``pandas``), or a :class:`MissingExtra` saying which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".", 1)[0]
        extra = EXTRAS[top]
        raise MissingExtra(f"{why} needs {top}, which is not installed: pip install 'jacli[{extra}]'") from None
