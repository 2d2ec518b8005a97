"""Exact derivatives with SymPy, evaluation at a point, and text forms of the results.

Let-bound names stay symbols: a derivative is taken by the chain rule through
the bindings (``d/dx f(x, c(x)) = ∂f/∂x + ∂f/∂c · dc/dx``), so a chain of
bindings such as the logistic map gives a derivative that grows linearly with
the chain, not exponentially.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sympy

from jacli import language
from jacli.errors import UsageError

MAX_EXACT_POWER = 10_000
"""Largest integer power evaluated exactly (``--exact``); larger ones are refused."""
EVAL_PRECISION = 30


class Differentiator:
    """Total derivatives of expressions over a program's inputs, through its bindings."""

    def __init__(self, program: language.Program) -> None:
        self.bindings = {b.symbol: b.value for b in program.bindings}
        self._binding_derivatives: dict[tuple[sympy.Symbol, sympy.Symbol], sympy.Expr] = {}

    def derivative(self, expr: sympy.Expr, x: sympy.Symbol) -> sympy.Expr:
        """``d expr / d x``, with bound names held fixed as symbols."""
        result = sympy.diff(expr, x)
        for bound in expr.free_symbols & self.bindings.keys():
            inner = self._binding_derivative(bound, x)
            if inner != 0:
                result += sympy.diff(expr, bound) * inner
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
        for row in self.jacobian(outputs, inputs):
            block = [[sympy.S.Zero] * len(inputs) for _ in inputs]
            for i, first in enumerate(row):
                for j in range(i, len(inputs)):
                    block[i][j] = block[j][i] = self.derivative(first, inputs[j])
            result.append(block)
        return result


def combine(weights: Sequence[sympy.Expr], rows: Sequence[Sequence[sympy.Expr]]) -> list[sympy.Expr]:
    """``Σ_i w_i · rows[i]``: a vᵀJ (rows of J) or J·v (rows of Jᵀ)."""
    return [sympy.Add(*(w * row[j] for w, row in zip(weights, rows, strict=True))) for j in range(len(rows[0]))]


def transpose(matrix: Sequence[Sequence[sympy.Expr]]) -> list[list[sympy.Expr]]:
    return [list(column) for column in zip(*matrix, strict=True)]


# ---------------------------------------------------------------------------
# Evaluation at a point.
# ---------------------------------------------------------------------------


def _check_exact_powers(expr: sympy.Basic) -> None:
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow) and node.exp.is_Integer and abs(node.exp) > MAX_EXACT_POWER:
            raise UsageError(
                f"--exact: the power {node.exp} is too large for exact arithmetic "
                f"(limit {MAX_EXACT_POWER}); drop --exact"
            )


def evaluate_exact(
    exprs: Iterable[sympy.Expr], bindings: Sequence[language.Binding], point: dict[sympy.Symbol, sympy.Expr]
) -> list[sympy.Expr]:
    """Exact values of ``exprs`` at ``point`` (binding values computed in order)."""
    exprs = list(exprs)
    for expr in [b.value for b in bindings] + exprs:
        _check_exact_powers(expr)
    values = dict(point)
    for binding in bindings:
        values[binding.symbol] = _simplify(binding.value.xreplace(values))
    return [_simplify(sympy.sympify(e).xreplace(values)) for e in exprs]


def _simplify(value: sympy.Expr) -> sympy.Expr:
    value = value.doit()
    if value.is_number and sympy.count_ops(value) < 60:
        return sympy.nsimplify(value) if value.is_Float else sympy.radsimp(sympy.expand_power_base(value))
    return value


def evaluate_numeric(
    exprs: Iterable[sympy.Expr],
    bindings: Sequence[language.Binding],
    point: dict[sympy.Symbol, sympy.Expr],
    precision: int = EVAL_PRECISION,
) -> list[float]:
    """Values of ``exprs`` at ``point`` with ``precision`` digits, as floats (nan if undefined)."""
    values = {s: sympy.Float(v, precision) for s, v in point.items()}
    for binding in bindings:
        values[binding.symbol] = binding.value.xreplace(values).evalf(precision)
    return [_to_float(sympy.sympify(e).xreplace(values).evalf(precision)) for e in exprs]


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
    expr = sympy.sympify(expr)
    return expr.xreplace({s: _display_symbol(s) for s in expr.free_symbols})


def to_text(expr: Any) -> Any:
    """SymPy syntax for an expression, or nested lists of them."""
    if isinstance(expr, list):
        return [to_text(e) for e in expr]
    return sympy.sstr(expr)


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
    expr = sympy.sympify(expr)
    return sympy.latex(expr, symbol_names=_latex_names(expr))


def operation_count(exprs: Any) -> int:
    """Total operations in an expression or nested lists of them."""
    if isinstance(exprs, list):
        return sum(operation_count(e) for e in exprs)
    return int(sympy.count_ops(exprs))


def to_pretty(expr: Any) -> str:
    """A pretty-printed matrix (or list of matrices for 3-D results)."""
    shown = _for_display(expr)
    if isinstance(shown, list) and shown and isinstance(shown[0], list) and shown[0] and isinstance(shown[0][0], list):
        return "\n".join(sympy.pretty(sympy.Matrix(block), use_unicode=True) for block in shown)
    if isinstance(shown, list) and shown and isinstance(shown[0], list):
        return sympy.pretty(sympy.Matrix(shown), use_unicode=True)
    if isinstance(shown, list):
        return sympy.pretty(sympy.Matrix([shown]), use_unicode=True)
    return sympy.pretty(shown, use_unicode=True)
