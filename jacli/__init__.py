"""jacli: Jacobians, gradients, Hessians, VJPs and JVPs of typed expressions.

The public functions live in :mod:`jacli.api` and are imported on first use, so
that ``import jacli`` (and the CLI's ``--help``) stays free of torch and SymPy.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: this module is on the warm client's path
if TYPE_CHECKING:
    from typing import Any

_NAMED = ["__version__", "check", "check_points", "evaluate", "graph"]


def __getattr__(name: str) -> Any:
    if name == "__all__":  # lazy: the warm server's client imports jacli.server only, not the quantity table
        from jacli.quantities import QUANTITIES  # noqa: PLC0415 - stdlib only: the names, not the math

        # every quantity of the table is a function of jacli.api, so a new quantity is exported too
        return [*_NAMED, *QUANTITIES]
    if name == "__version__":  # lazy too: importlib.metadata costs ~40 ms on every Tab press
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            return version("jacli")
        except PackageNotFoundError:  # running from a source tree without installing
            return "0.0.0+unknown"
    if name in __getattr__("__all__"):
        from jacli.collector import imported  # noqa: PLC0415 - torch and SymPy, imported without the collector

        return getattr(imported("jacli.api"), name)
    raise AttributeError(f"module 'jacli' has no attribute {name!r}")
