"""Exact derivatives with SymPy, evaluation at a point, and text forms of the results.

Let-bound names stay symbols: a derivative is taken by the chain rule through
the bindings (``d/dx f(x, c(x)) = ∂f/∂x + ∂f/∂c · dc/dx``), so a chain of
bindings such as the logistic map gives a derivative that grows linearly with
the chain, not exponentially.
"""

from __future__ import annotations

import functools
import itertools
import signal
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sympy
from sympy.printing.str import StrPrinter

from jacli import language
from jacli.differentiate import ExactDiff, add
from jacli.errors import UsageError
from jacli.limits import (
    MAX_DERIVATIVE_WORK,
    MAX_EXACT_BITS,
    MAX_EXACT_POWER,
    MAX_SYMBOLIC_SECONDS,
    TIME_BUDGET_ENV,
    settings,
)
from jacli.pretty_print import pretty

EVAL_PRECISION = 30
SYMENGINE_MIN_SYMBOLS = 48
"""From this many variable elements on, derivatives go through SymEngine when it is installed."""
SPARSE_SUM_TERMS = 32
"""Sums with more terms than this are differentiated term by term, only the terms that contain x."""


class SymbolicTooLarge(UsageError):
    """The symbolic derivative would take too long; the API skips it (with a note) where it can."""


def time_budget() -> float:
    """Seconds of one command's budget: ``$JACLI_TIME_BUDGET`` when set, else :data:`MAX_SYMBOLIC_SECONDS`."""
    seconds = settings().time_budget  # the environment as the command started; checked there (exit 2)
    return MAX_SYMBOLIC_SECONDS if seconds is None else seconds  # this module's name: tests patch it


class Budget:
    """One command's time budget: a deadline that its skippable parts share, in order.

    The environment is read once, when the command starts; each part runs under
    :meth:`limit`, which gives it the time left and, past the deadline, skips it at once.
    """

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = time_budget() if seconds is None else seconds
        self.deadline = time.monotonic() + self.seconds

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def reason(self) -> str:
        """Why a part was skipped: ``took longer than 10 s``."""
        return f"took longer than {self.seconds:g} s (the time budget; set {TIME_BUDGET_ENV} to change it)"

    @contextmanager
    def limit(self) -> Iterator[None]:
        """Run the block in the time left; :class:`SymbolicTooLarge` when it runs out (or has)."""
        left = self.remaining()
        if left <= 0:
            raise SymbolicTooLarge(self.reason())
        with time_limit(left, self.reason()):
            yield


@contextmanager
def time_limit(seconds: float = MAX_SYMBOLIC_SECONDS, reason: str | None = None) -> Iterator[None]:
    """Interrupt symbolic work that runs past ``seconds`` with :class:`SymbolicTooLarge` (message ``reason``).

    One SymPy call can take minutes (assumption queries evaluating huge constants
    numerically, ``sin(3**(2**50))`` at 30 digits); SymPy and mpmath are pure Python, so a
    SIGALRM handler can stop them. Only in the main thread; an alarm already set (the warm
    server's per-command limit) still fires on time, through its own handler.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    message = reason or f"took longer than {seconds:g} s"
    start = time.monotonic()
    outer_handler = signal.getsignal(signal.SIGALRM)
    outer_delay, _ = signal.setitimer(signal.ITIMER_REAL, 0)

    def expire(signum: int, frame: Any) -> None:
        if outer_delay and time.monotonic() - start >= outer_delay - 1e-3 and callable(outer_handler):
            outer_handler(signum, frame)
        raise SymbolicTooLarge(message)

    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, min(seconds, outer_delay) if outer_delay else seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, outer_handler)
        if outer_delay:
            signal.setitimer(signal.ITIMER_REAL, max(outer_delay - (time.monotonic() - start), 1e-3))


def _tree_shape(expr: sympy.Basic, memo: dict[sympy.Basic, tuple[int, int]]) -> tuple[int, int]:
    """Tree size and depth of ``expr`` (memoised over shared sub-expressions)."""
    known = memo.get(expr)
    if known is None:
        parts = [_tree_shape(a, memo) for a in expr.args]
        known = (1 + sum(p[0] for p in parts), 1 + max((p[1] for p in parts), default=0))
        memo[expr] = known
    return known


def as_expr(value: Any) -> sympy.Basic:
    """A SymPy object as it is; a Python int as a SymPy Integer (never parses text)."""
    return value if isinstance(value, sympy.Basic) else sympy.Integer(value)


class Differentiator:
    """Total derivatives of expressions over a program's inputs, through its bindings."""

    def __init__(self, program: language.Program) -> None:
        self.bindings = {b.symbol: b.value for b in program.bindings}
        self._binding_derivatives: dict[tuple[sympy.Symbol, sympy.Symbol], sympy.Expr] = {}
        self._dependencies: dict[sympy.Basic, frozenset[sympy.Symbol]] = {}
        self._terms: dict[sympy.Basic, dict[sympy.Symbol, list[sympy.Expr]]] = {}
        # SymEngine (when installed) only for big problems: its results can be written differently
        # (same value), and small problems keep SymPy's familiar forms.
        self._accelerate = sum(len(v.symbols) for v in program.variables) >= SYMENGINE_MIN_SYMBOLS
        self._shapes: dict[sympy.Basic, tuple[int, int]] = {}
        self._deadline: float | None = None
        self._exact = ExactDiff()  # sympy.diff's result, quicker (jacli/differentiate.py)

    def _charge(self, expr: sympy.Expr) -> None:
        """Refuse a derivative predicted to be huge, and any derivative after the time budget.

        A derivative copies the path above each occurrence of x, so its size is
        about (tree size × depth); nested functions make second derivatives
        explode (``hessian`` of ``sin(sin(...(x*y)))``), and SymPy cannot be
        stopped once it has started one.
        """
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + time_budget()
        size, depth = _tree_shape(as_expr(expr), self._shapes)
        if size * depth > MAX_DERIVATIVE_WORK or now > self._deadline:
            raise SymbolicTooLarge(
                "the symbolic derivative is too large to derive in reasonable time "
                f"(over {MAX_DERIVATIVE_WORK:,} predicted terms or {time_budget():g} s)"
            )

    def dependencies(self, expr: sympy.Expr) -> frozenset[sympy.Symbol]:
        """The unbound symbols that ``expr`` depends on, through the bindings (memoised)."""
        known = self._dependencies.get(expr)
        if known is None:
            free = self._exact.free(as_expr(expr))  # memoised per node: entries share their subtrees
            bound = free & self.bindings.keys()
            known = frozenset(free - bound).union(*(self.dependencies(self.bindings[b]) for b in bound))
            self._dependencies[expr] = known
        return known

    def _terms_with(self, expr: sympy.Add, x: sympy.Symbol) -> list[sympy.Expr]:
        """The terms of a long sum that depend on ``x`` (an index built once per sum)."""
        index = self._terms.get(expr)
        if index is None:
            index = {}
            for term in expr.args:
                for symbol in self.dependencies(term):
                    index.setdefault(symbol, []).append(term)
            self._terms[expr] = index
        return index.get(x, [])

    def derivative(self, expr: sympy.Expr, x: sympy.Symbol) -> sympy.Expr:
        """``d expr / d x``, with bound names held fixed as symbols.

        Sparse where it pays: zero without differentiating when ``expr`` does not depend
        on ``x``; a long sum differentiates only its terms that contain ``x`` (so the
        gradient of an n-term sum costs O(n), not O(n²)).
        """
        if x not in self.dependencies(expr):
            return sympy.S.Zero
        if isinstance(expr, sympy.Add) and len(expr.args) > SPARSE_SUM_TERMS:
            return add(*[self.derivative(term, x) for term in self._terms_with(expr, x)])
        self._charge(expr)
        result = _diff(expr, x, self._accelerate, self._exact)
        for bound in expr.free_symbols & self.bindings.keys() if self.bindings else ():
            inner = self._binding_derivative(bound, x)
            if inner != 0:
                result += _diff(expr, bound, self._accelerate, self._exact) * inner
        return result

    def _binding_derivative(self, bound: sympy.Symbol, x: sympy.Symbol) -> sympy.Expr:
        key = (bound, x)
        if key not in self._binding_derivatives:
            self._binding_derivatives[key] = self.derivative(self.bindings[bound], x)
        return self._binding_derivatives[key]

    def jacobian(self, outputs: Sequence[sympy.Expr], inputs: Sequence[sympy.Symbol]) -> list[list[sympy.Expr]]:
        """``[[d f_i / d x_j]]``, shape (m, n)."""
        return [[self.derivative(f, x) for x in inputs] for f in outputs]

    def hessian(self, outputs: Sequence[sympy.Expr], inputs: Sequence[sympy.Symbol]) -> list[list[list[sympy.Expr]]]:
        """``[[[d² f_k / d x_i d x_j]]]``, shape (m, n, n); symmetric, so each pair is derived once."""
        result = []
        position = {x: j for j, x in enumerate(inputs)}
        for row in self.jacobian(outputs, inputs):
            block = [[sympy.S.Zero] * len(inputs) for _ in inputs]
            for i, first in enumerate(row):
                # only the inputs that the first derivative depends on give non-zero second derivatives
                for j in sorted(position[x] for x in self.dependencies(first) if x in position):
                    if j >= i:
                        block[i][j] = block[j][i] = self.derivative(first, inputs[j])
            result.append(block)
        return result


# ---------------------------------------------------------------------------
# Optional accelerator: SymEngine (SymPy's C++ core, ``pip install symengine``).
# ---------------------------------------------------------------------------


def _symengine_knows(node: sympy.Basic) -> bool:
    """SymEngine differentiates ``node`` exactly like SymPy (a function: its row of the function table says)."""
    if isinstance(node, _SYMENGINE_NODES):
        return True
    row = language.row_of(node)
    return row is not None and row.symengine and node.func is row.node


_SYMENGINE_NODES = (sympy.Add, sympy.Mul, sympy.Pow, sympy.Symbol, sympy.Number, sympy.NumberSymbol)
"""Other node types SymEngine handles like SymPy (no Max, Piecewise, Heaviside, …)."""


def _symengine() -> Any:
    return _import_symengine() if settings().symengine else None  # $JACLI_SYMENGINE, as the command started


@functools.cache
def _import_symengine() -> Any:
    try:
        import symengine  # noqa: PLC0415
    except ImportError:
        return None
    return symengine


def _diff(expr: sympy.Expr, x: sympy.Symbol, accelerate: bool = True, exact: ExactDiff | None = None) -> sympy.Expr:
    """``sympy.diff(expr, x)``; through SymEngine when it is installed and knows every function in ``expr``.

    Else by ``exact`` (:class:`~jacli.differentiate.ExactDiff`: the same expression as ``sympy.diff``).

    SymPy spends most of a derivative in its assumption system; SymEngine does the
    same algebra in C++. The result comes back as SymPy with the original symbols.
    """
    engine = _symengine() if accelerate else None
    expr = as_expr(expr)
    if engine is None or not all(_symengine_knows(n) for n in sympy.preorder_traversal(expr)):
        return sympy.diff(expr, x) if exact is None else exact(expr, x)
    symbols = {s.name: s for s in expr.free_symbols}
    if x.name not in symbols:
        return sympy.S.Zero
    # symengine converts the SymPy tree our parser built (never text)
    derivative = engine.sympify(expr).diff(engine.Symbol(x.name))._sympy_()
    return derivative.xreplace({s: symbols[s.name] for s in derivative.free_symbols})


def combine(weights: Sequence[sympy.Expr], rows: Sequence[Sequence[sympy.Expr]]) -> list[sympy.Expr]:
    """``Σ_i w_i · rows[i]``: a vᵀJ (rows of J) or J·v (rows of Jᵀ)."""
    return [sympy.Add(*(w * row[j] for w, row in zip(weights, rows, strict=True))) for j in range(len(rows[0]))]


def transpose(matrix: Sequence[Sequence[sympy.Expr]]) -> list[list[sympy.Expr]]:
    return [list(column) for column in zip(*matrix, strict=True)]


# ---------------------------------------------------------------------------
# Evaluation at a point.
# ---------------------------------------------------------------------------


def substitute(expr: sympy.Basic, values: dict[sympy.Symbol, sympy.Expr], decided: list[str] | None = None) -> Any:
    """``expr.xreplace(values)``, deciding a comparison with a non-real side as PyTorch does.

    ``where(sqrt(x) > 0, 1, x*x)`` at x = -1: torch computes ``sqrt(-1) = nan`` and
    ``nan > 0`` is false (``!=`` is true); SymPy has ``sqrt(-1) = I`` and refuses to
    order it. Such a comparison is decided the torch way, and its text is appended to
    ``decided`` so that the caller can say so.
    """
    try:
        return expr.xreplace(values)
    except TypeError:  # "Invalid comparison of non-real ..."
        return _substitute(expr, values, {}, decided if decided is not None else [])


def _substitute(
    expr: sympy.Basic, values: dict[sympy.Symbol, sympy.Expr], memo: dict[sympy.Basic, Any], decided: list[str]
) -> Any:
    known = memo.get(expr)
    if known is not None:
        return known
    if expr in values:
        result = values[expr]
    elif not expr.args:
        result = expr
    else:
        args = [_substitute(a, values, memo, decided) for a in expr.args]
        if isinstance(expr, sympy.core.relational.Relational) and any(_not_real(a) for a in args):
            result = sympy.true if isinstance(expr, sympy.Ne) else sympy.false
            text = sympy.sstr(expr)
            if text not in decided:
                decided.append(text)
        else:
            result = expr.func(*args)
    memo[expr] = result
    return result


def _not_real(value: Any) -> bool:
    """A number that is not real (``I``, ``nan``, ``zoo``): torch has nan there."""
    return isinstance(value, sympy.Expr) and value.is_number and (value is sympy.nan or value.is_extended_real is False)


def non_real_note(decided: Sequence[str]) -> str:
    """The note for comparisons decided by :func:`substitute`."""
    return (
        f"the condition {', '.join(decided)} compares a non-real value here; decided as PyTorch does "
        "(nan compares false, != true)"
    )


def _check_exact_powers(expr: sympy.Basic) -> None:
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow) and node.exp.is_Integer and abs(node.exp) > MAX_EXACT_POWER:
            raise UsageError(
                f"--exact: the power {node.exp} is too large for exact arithmetic "
                f"(limit {MAX_EXACT_POWER}); drop --exact"
            )


def evaluate_exact(
    exprs: Iterable[sympy.Expr],
    bindings: Sequence[language.Binding],
    point: dict[sympy.Symbol, sympy.Expr],
    decided: list[str] | None = None,
) -> list[sympy.Expr]:
    """Exact values of ``exprs`` at ``point`` (binding values computed in order).

    Comparisons with a non-real side are decided as PyTorch does and listed in ``decided``.
    """
    exprs = list(exprs)
    for expr in [b.value for b in bindings] + exprs:
        _check_exact_powers(expr)
    values = dict(point)
    for binding in bindings:
        values[binding.symbol] = _check_exact_size(_exact_value(binding.value, values, decided))
    return [_check_exact_size(_exact_value(as_expr(e), values, decided)) for e in exprs]


def _exact_value(
    expr: sympy.Basic, values: dict[sympy.Symbol, sympy.Expr], decided: list[str] | None = None
) -> sympy.Expr:
    """``expr`` at ``values``, simplified; ``nan`` where SymPy cannot decide (``where(nan > 0, …)``)."""
    try:
        substituted = substitute(expr, values, decided)
        return _simplify(substituted)
    except (TypeError, ValueError, ZeroDivisionError):  # comparisons of nan or non-real numbers; 0**-1 in evalf
        return sympy.nan
    except OverflowError:  # mpmath gives up on numbers like sinh(10**300): keep the value unsimplified
        return substituted


def exact_text(value: sympy.Basic) -> str:
    """SymPy syntax for an exact value.

    Sorting the terms of a sum evaluates them numerically; with fractions like
    10**-300 that takes SymPy seconds to minutes, so such values keep SymPy's
    internal order.
    """
    huge = any(max(int(a.p).bit_length(), int(a.q).bit_length()) > 64 for a in value.atoms(sympy.Rational))
    return _ExactPrinter({"order": "none" if huge else None}).doprint(value)


class _TextPrinter(StrPrinter):
    """``sstr`` whose constants cannot be read as a variable: a variable may be named ``I`` or ``E``."""

    def _print_ImaginaryUnit(self, expr: sympy.Expr) -> str:  # noqa: N802 - SymPy's printer protocol
        return "sqrt(-1)"

    def _print_Exp1(self, expr: sympy.Expr) -> str:  # noqa: N802
        return "e"  # the language's name (reserved, unlike E)


class _ExactPrinter(_TextPrinter):
    """An exact value as a constant of the language reads it back (the symbolic text keeps SymPy's form)."""

    def _print_logsumexp(self, expr: sympy.Expr) -> str:
        return self._print_of_elements(expr)

    def _print_norm(self, expr: sympy.Expr) -> str:
        return self._print_of_elements(expr)

    def _print_of_elements(self, expr: sympy.Expr) -> str:
        """``logsumexp([a, b])``: of the elements, as the language reads it (``logsumexp(a, b)`` is an axis b)."""
        return f"{type(expr).__name__}([{', '.join(self._print(a) for a in expr.args)}])"


def _text(expr: sympy.Basic, order: str | None = None) -> str:
    return _TextPrinter({"order": order}).doprint(expr)


def _check_exact_size(value: sympy.Expr) -> sympy.Expr:
    """Refuse exact numbers that grow past ``MAX_EXACT_BITS`` (e.g. iterated maps at a rational point)."""
    for atom in value.atoms(sympy.Rational):
        if max(int(atom.p).bit_length(), int(atom.q).bit_length()) > MAX_EXACT_BITS:
            raise UsageError(
                f"--exact: the exact value grows beyond {MAX_EXACT_BITS:,} bits; drop --exact for floating point"
            )
    return value


def _simplify(value: sympy.Expr) -> sympy.Expr:
    value = value.doit()
    # substitution can create new powers, e.g. (2 + sqrt(3))**x at a large x; radsimp would expand them
    _check_exact_powers(value)
    if value.is_number and sympy.count_ops(value) < 60:
        return sympy.nsimplify(value) if value.is_Float else sympy.radsimp(sympy.expand_power_base(value))
    return value


def evaluate_numeric(
    exprs: Iterable[sympy.Expr],
    bindings: Sequence[language.Binding],
    point: dict[sympy.Symbol, sympy.Expr],
    precision: int = EVAL_PRECISION,
    decided: list[str] | None = None,
) -> list[float]:
    """Values of ``exprs`` at ``point`` with ``precision`` digits, as floats (nan if undefined).

    Comparisons with a non-real side are decided as PyTorch does and listed in ``decided``.
    """
    values = {s: sympy.Float(v, precision) for s, v in point.items()}
    for binding in bindings:
        values[binding.symbol] = substitute(binding.value, values, decided).evalf(precision)
    return [_to_float(substitute(as_expr(e), values, decided).evalf(precision)) for e in exprs]


def _to_float(value: sympy.Expr) -> float:
    try:
        return language.constant_value(value)
    except (TypeError, ValueError):
        return float("nan")


# ---------------------------------------------------------------------------
# Text forms.
# ---------------------------------------------------------------------------


def _display_symbol(symbol: sympy.Symbol) -> sympy.Symbol:
    """``A[0,1]`` -> ``A_01`` (pretty-printed A₀₁); names with large indices stay as they are."""
    name = symbol.name
    if "[" not in name:
        return symbol
    base, index = name[:-1].split("[")
    parts = index.split(",")
    if all(len(p) == 1 for p in parts):
        return sympy.Symbol(f"{base}_{''.join(parts)}", real=True)
    return symbol


def _for_display(expr: Any) -> Any:
    if isinstance(expr, list):
        return [_for_display(e) for e in expr]
    expr = as_expr(expr)
    return expr.xreplace({s: _display_symbol(s) for s in expr.free_symbols})


def to_text(expr: Any) -> Any:
    """SymPy syntax for an expression, or nested lists of them.

    Each distinct expression is printed once (:func:`_text_of`: the entries of a symmetric
    Hessian, the same call again); zeros, most entries of a big sparse Hessian, are ``"0"`` at once.
    """
    if isinstance(expr, list):
        if any(map(isinstance, expr, itertools.repeat(list))):
            return [to_text(e) for e in expr]
        zero = sympy.S.Zero
        return ["0" if e is zero else _text_of(e) for e in expr]
    return "0" if expr is sympy.S.Zero else _text_of(expr)


@functools.lru_cache(maxsize=8192, typed=True)
def _text_of(expr: Any) -> str:
    """:func:`_text` of an expression (a Python int as SymPy's Integer), memoised over equal expressions."""
    return _text(expr)


def _latex_names(expr: sympy.Expr) -> dict[sympy.Symbol, str]:
    names = {}
    for s in expr.free_symbols:
        if "[" in s.name:
            base, index = s.name[:-1].split("[")
            names[s] = f"{sympy.latex(sympy.Symbol(base))}_{{{index}}}"
    return names


def to_latex(expr: Any) -> Any:
    """LaTeX for an expression, or nested lists of them."""
    if isinstance(expr, list):
        return [to_latex(e) for e in expr]
    expr = as_expr(expr)
    return sympy.latex(expr, symbol_names=_latex_names(expr))


def _depth(nested: Any) -> int:
    return 1 + _depth(nested[0]) if isinstance(nested, list) and nested else 0


def _pretty_matrix(block: Any) -> str:
    return pretty(sympy.Matrix(block))


def to_pretty(expr: Any) -> str:
    """A pretty-printed matrix (or list of matrices for 3-D results)."""
    shown = _for_display(expr)
    if isinstance(shown, list) and shown and isinstance(shown[0], list) and shown[0] and isinstance(shown[0][0], list):
        return "\n".join(to_pretty(block) if _depth(block) > 2 else _pretty_matrix(block) for block in shown)
    if isinstance(shown, list) and shown and isinstance(shown[0], list):
        return pretty(sympy.Matrix(shown))
    if isinstance(shown, list):
        return pretty(sympy.Matrix([shown]))
    return pretty(shown)
