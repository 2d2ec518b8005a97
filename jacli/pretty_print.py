"""SymPy's Unicode pretty printer without its one-second detour through ``sympy.physics.units``.

``PrettyPrinter._print_Mul`` (SymPy 1.12-1.14) imports ``sympy.physics.units``
on its first call, only to sort unit quantities after the other factors. That
import costs 0.15 s on a quiet machine and over a second under load: a tenth of
a one-shot ``jacli`` table. A jacli expression never holds a unit, so while
that module is not loaded anyway, the printer is given a stand-in whose
``Quantity`` nothing is an instance of: the sort keeps every factor where it
was, exactly as the real module would for unit-free expressions.
"""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Iterator
from typing import Any

_UNITS = "sympy.physics.units"


class _NoQuantity:
    """Nothing is an instance of this (a jacli expression has no units)."""


@contextlib.contextmanager
def _without_units() -> Iterator[None]:
    if _UNITS in sys.modules:  # loaded already (a user of jacli.api who uses units): the real one
        yield
        return
    stand_in = types.ModuleType(_UNITS, "stand-in while jacli pretty-prints (see jacli.pretty_print)")
    stand_in.Quantity = _NoQuantity  # type: ignore[attr-defined]
    sys.modules[_UNITS] = stand_in
    try:
        yield
    finally:
        if sys.modules.get(_UNITS) is stand_in:
            del sys.modules[_UNITS]


def pretty(expr: Any) -> str:
    """``sympy.pretty(expr, use_unicode=True)``, the same text."""
    import sympy

    with _without_units():
        return sympy.pretty(expr, use_unicode=True)
