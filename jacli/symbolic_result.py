"""The symbolic form at a point: derived within the command's time budget, evaluated exactly, its bindings.

The symbolic work of one command shares one :class:`symbolic.Budget`: :func:`derive`
starts it, ``--exact`` (:func:`exact_cells`) gets what is left. A part over its
bounds comes back as :class:`Skipped` with the reason, and the numbers still come out.
"""

from __future__ import annotations

import contextvars
import functools
import itertools
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sympy

from jacli import collector, language, limits, symbolic, warm_cache


def used_bindings(program: language.Program, exprs: Any) -> tuple[tuple[str, str], ...]:
    """The bindings a symbolic result refers to, directly or through other bindings, in order."""
    if not program.bindings:
        return ()
    used: set[sympy.Symbol] = set()
    pending = set().union(*(symbolic.as_expr(e).free_symbols for e in flatten_exprs(exprs)))
    definitions = {b.symbol: b.value for b in program.bindings}
    while pending:
        symbol = pending.pop()
        if symbol in definitions and symbol not in used:
            used.add(symbol)
            pending |= definitions[symbol].free_symbols
    return tuple((b.symbol.name, sympy.sstr(b.value)) for b in program.bindings if b.symbol in used)


def exact_result(exprs: Any, bindings: Any, point: dict[sympy.Symbol, sympy.Expr]) -> tuple[Any, Any, tuple[str, ...]]:
    """``--exact``: the exact values and their text cells (both shaped like ``exprs``) and notes.

    In what is left of the command's time budget; past it both are None and a note says so.
    """
    budget = _BUDGET.get() or symbolic.Budget()
    flat = flatten_exprs(exprs)
    decided: list[str] = []
    try:
        with budget.limit():
            values = symbolic.evaluate_exact(flat, bindings, point, decided)
            cells = unflatten([symbolic.exact_text(e) for e in values], exprs)
    except symbolic.SymbolicTooLarge as err:
        return None, None, (f"--exact skipped: {err}; the numbers are complete",)
    return unflatten(list(values), exprs), cells, (symbolic.non_real_note(decided),) if decided else ()


def flatten_exprs(exprs: Any) -> list[sympy.Expr]:
    if isinstance(exprs, list):
        return [e for item in exprs for e in flatten_exprs(item)]
    return [exprs]


def unflatten(flat: list[Any], like: Any) -> Any:
    iterator = iter(flat)

    def rebuild(node: Any) -> Any:
        return [rebuild(n) for n in node] if isinstance(node, list) else next(iterator)

    return rebuild(like)


@dataclass(frozen=True)
class Skipped:
    """A part that was not computed: too large, or past the command's time budget (``reason`` says which)."""

    reason: str


_BUDGET: contextvars.ContextVar[symbolic.Budget | None] = contextvars.ContextVar("jacli_budget", default=None)
"""The time budget of the command being computed: started by :func:`_symbolic`, shared by :func:`_exact`."""


def derive(compute: Callable[[], Any]) -> Any:
    """``compute()``, or :class:`Skipped` when the symbolic work is over its bounds.

    Starts the command's time budget (:class:`symbolic.Budget`); ``--exact`` gets what is left of it.
    """
    budget = symbolic.Budget()
    _BUDGET.set(budget)
    return within(budget, compute)


def within(budget: symbolic.Budget, compute: Callable[[], Any]) -> Any:
    """``compute()`` in what is left of ``budget``, or :class:`Skipped`."""
    try:
        with budget.limit():
            return compute()
    except symbolic.SymbolicTooLarge as err:
        return Skipped(str(err))


def symbolic_form(
    program: language.Program, quantity: Any, inputs: Sequence[sympy.Symbol], weights: Sequence[Any] | None
) -> Any:
    """``quantity``'s symbolic result of ``program`` w.r.t. ``inputs``: nested lists of SymPy expressions.

    The derivative does not depend on the point, so it is derived once per program, quantity, inputs
    and weights (issue 16): by :func:`warm_symbolic_form` where these are plain data (the warm server
    then replays it, so later commands find it), else by :func:`cached_symbolic_form` (this process
    only). Each call gets its own lists (the SymPy expressions are immutable and shared), so a caller
    may change them freely.
    """
    weights = None if weights is None else tuple(weights)
    key = plain_key(program, quantity, inputs, weights)
    if key is not None:
        exprs = warm_symbolic_form(*key, _bounds())
    else:
        exprs = cached_symbolic_form(program, quantity, tuple(inputs), weights, _bounds())
    return _copy_lists(exprs)


PlainKey = tuple[str, tuple[tuple[str, tuple[int, ...]], ...], str, tuple[str, ...], tuple[tuple[int, int], ...] | None]
"""The expression's text and variable shapes (:func:`jacli.problem.program_for`'s key), the quantity's
name, the input elements' names, the weights as (numerator, denominator) pairs (None: no weights)."""


def plain_key(
    program: language.Program, quantity: Any, inputs: Sequence[sympy.Symbol], weights: tuple[Any, ...] | None
) -> PlainKey | None:
    """The plain data that :func:`warm_symbolic_form` rebuilds this call from, or None where there is none:
    ``program`` is not the one cached for its text and shapes, the quantity has options, a weight is not rational."""
    from jacli import problem  # noqa: PLC0415 (torch: loaded by then wherever a program was cached)

    if getattr(sys.modules.get("jacli.quantities"), "QUANTITIES", {}).get(quantity.name) is not quantity:
        return None
    if weights is not None and not all(isinstance(w, sympy.Rational) for w in weights):
        return None
    shapes = tuple((v.name, tuple(v.shape)) for v in program.variables)
    args = (program.text, shapes)
    if not warm_cache.has(PROGRAM_CACHE, args) or problem.program_for(*args) is not program:
        return None
    pairs = None if weights is None else tuple((int(w.p), int(w.q)) for w in weights)
    return program.text, shapes, quantity.name, tuple(s.name for s in inputs), pairs


PROGRAM_CACHE = "jacli.problem.program_for"


@warm_cache.cached(maxsize=32, env=(*warm_cache.BUILD_ENV, limits.SYMENGINE_ENV))
def warm_symbolic_form(
    text: str,
    shapes: tuple[tuple[str, tuple[int, ...]], ...],
    quantity_name: str,
    input_names: tuple[str, ...],
    weights: tuple[tuple[int, int], ...] | None,
    bounds: tuple[Any, ...],
) -> Any:
    """:func:`symbolic_form` from its :func:`plain_key`, cached across commands (the warm server replays a slow one).

    ``bounds``: the limits and accelerator it is derived under (:func:`_bounds`); a call under other
    ones than this process has raises, so is never cached. A derivative over its bounds or past the
    command's time budget (the caller's :func:`within`, around this call) raises too: only complete
    results are kept. A replay (in the warm server) also prints each distinct entry
    (:func:`symbolic.to_text`, memoised per expression), so the commands that find the entry
    find its text too.
    """
    from jacli import problem  # noqa: PLC0415
    from jacli.quantities import QUANTITIES  # noqa: PLC0415

    if bounds != _bounds():
        raise symbolic.SymbolicTooLarge(f"derived under other bounds ({bounds}) than this process has")
    program = problem.program_for(text, shapes)
    symbols = {s.name: s for v in program.variables for s in v.symbols}
    inputs = [symbols[name] for name in input_names]
    quantity = QUANTITIES[quantity_name]
    rationals = None if weights is None else [sympy.Rational(p, q) for p, q in weights]
    exprs = _derived(program, quantity, inputs, rationals)
    if warm_cache.replaying():
        symbolic.to_text(exprs)  # memoised per expression (symbolic._text_of), inherited by the children
    return exprs


@functools.lru_cache(maxsize=16)
def cached_symbolic_form(
    program: language.Program,
    quantity: Any,
    inputs: tuple[sympy.Symbol, ...],
    weights: tuple[Any, ...] | None,
    bounds: tuple[Any, ...],
) -> Any:
    """The in-process cache of :func:`symbolic_form` where it has no plain key (``bounds``: as
    :func:`warm_symbolic_form`'s). Only complete results are kept."""
    del bounds  # part of the key only
    return _derived(program, quantity, list(inputs), None if weights is None else list(weights))


def _derived(program: language.Program, quantity: Any, inputs: list[sympy.Symbol], weights: list[Any] | None) -> Any:
    """The derivative, with the collector paused: its new SymPy trees are kept or freed by reference counts,
    and the collections they started cost a tenth of the n = 1000 Hessian's derivation."""
    differentiator = symbolic.Differentiator(program)
    with collector.paused():
        return quantity.symbolic(differentiator, program.outputs, inputs, weights)


def clear_caches() -> None:
    """Forget every symbolic form derived (tests: none derived under other limits is reused)."""
    warm_symbolic_form.cache_clear()
    cached_symbolic_form.cache_clear()


def _bounds() -> tuple[Any, ...]:
    """What decides whether and how a derivative is made besides its arguments (tests change the limits).

    The same whatever this process has imported (``jacli.higher`` is imported here, 0.4 ms): the
    warm server's entries, made before a child imported it, must match the child's key.
    """
    from jacli import higher  # noqa: PLC0415

    return symbolic.MAX_DERIVATIVE_WORK, higher.MAX_SYMBOLIC_ENTRIES, symbolic._symengine() is not None


def _copy_lists(nested: Any) -> Any:
    """New lists, the same leaves (a row of 1000 expressions in one C loop)."""
    if not isinstance(nested, list):
        return nested
    if any(map(isinstance, nested, itertools.repeat(list))):
        return [_copy_lists(item) for item in nested]
    return list(nested)
