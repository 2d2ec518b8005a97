"""jacli: Jacobians, gradients, Hessians, VJPs and JVPs of typed expressions.

The public functions live in :mod:`jacli.api` and are imported on first use, so
that ``import jacli`` (and the CLI's ``--help``) stays free of torch and SymPy.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("jacli")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = ["gradient", "hessian", "jacobian", "jvp", "vjp", "__version__"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from jacli import api  # noqa: PLC0415 - lazy: torch and SymPy load here

        return getattr(api, name)
    raise AttributeError(f"module 'jacli' has no attribute {name!r}")
