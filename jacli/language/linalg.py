"""Linear algebra of the language (issue 13, part B): ``trace det inv solve outer diag``.

``trace``, ``outer`` and ``diag`` build arrays of the elements they combine. ``det``,
``inv`` and ``solve`` build one SymPy node per result element whose arguments are the
matrix elements (row-major), so the symbolic form stays compact: ``det`` of a 10×10
matrix is one node, printed ``det([[A[0,0], …], …])``, not 10! terms, and its
derivatives are written through the same nodes (d det(A)/dA[k,l] = det(A)·inv(A)[l,k],
d inv(A)[i,j]/dA[k,l] = -inv(A)[i,k]·inv(A)[l,j]). torch computes them with
``torch.linalg`` (:mod:`jacli.linalg_torch`); on constants they are exact (SymPy's
matrices); a singular matrix gives nan, like ``1/0`` gives a non-finite value.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import mpmath
import numpy as np
import sympy

from jacli import limits
from jacli.errors import ShapeError
from jacli.language.arrays import Value, elementwise, scalar
from jacli.language.source import max_elements

# ---------------------------------------------------------------------------
# Exact values of constant matrices (cached: inv(A) of a constant A is inverted once).
# ---------------------------------------------------------------------------


def _side(count: int) -> int:
    n = math.isqrt(count)
    assert n * n == count, count
    return n


def _exactly(elements: tuple[sympy.Expr, ...], side: bool = True) -> bool:
    """Constants in a small enough matrix (see :data:`limits.MAX_EXACT_MATRIX_SIDE`): computed exactly."""
    if not all(isinstance(e, sympy.Expr) and e.is_number for e in elements):
        return False
    n = _side(len(elements)) if side else 1
    if all(isinstance(e, sympy.Rational) for e in elements):
        return n <= limits.MAX_EXACT_MATRIX_SIDE
    return n <= limits.MAX_EXACT_IRRATIONAL_SIDE


@functools.lru_cache(maxsize=64)
def _exact_inverse(elements: tuple[sympy.Expr, ...]) -> sympy.Matrix | None:
    """The inverse of a constant matrix, or None when it is singular."""
    matrix = sympy.Matrix(_side(len(elements)), _side(len(elements)), list(elements))
    if matrix.det() == 0:
        return None
    return matrix.inv()


def _mp_matrix(values: Any) -> mpmath.matrix:
    n = _side(len(values))
    return mpmath.matrix([[values[r * n + c] for c in range(n)] for r in range(n)])


def _mp_inverse(values: Any) -> mpmath.matrix | None:
    try:
        return _mp_matrix(values) ** -1
    except ZeroDivisionError:
        return None


def _latex_matrix(printer: Any, elements: Any, n: int) -> str:
    rows = (" & ".join(printer._print(elements[r * n + c]) for c in range(len(elements) // n)) for r in range(n))
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"


def _evalf(expr: sympy.Basic, prec: int, value: Any) -> sympy.Expr | None:
    """``expr`` of numbers to ``prec`` bits by its mpmath value rule (SymPy's own would call ``mpmath.det(*args)``)."""
    if not all(a.is_number for a in expr.args):
        return None
    with mpmath.workprec(prec):
        args = [mpmath.mpc(complex(a.evalf(mpmath.libmp.prec_to_dps(prec)))) for a in expr.args]
        z = mpmath.mpc(value(None, *args))
    if not mpmath.isfinite(z):
        return sympy.nan
    real = sympy.Float(z.real, precision=prec)
    return real if z.imag == 0 else real + sympy.I * sympy.Float(z.imag, precision=prec)


def _raised(text: str, printer: Any, exp: Any) -> str:
    """``text`` to the power ``exp`` (SymPy's LaTeX printer hands a function its power)."""
    if exp is None:
        return text
    power = exp if isinstance(exp, str) else printer._print(exp)  # SymPy passes it printed already
    return rf"\left({text}\right)^{{{power}}}"


def _matrix_text(printer: Any, elements: Any, n: int) -> str:
    rows = (", ".join(printer._print(elements[r * n + c]) for c in range(len(elements) // n)) for r in range(n))
    return "[" + ", ".join(f"[{row}]" for row in rows) + "]"


def _vector_text(printer: Any, elements: Any) -> str:
    return "[" + ", ".join(printer._print(e) for e in elements) + "]"


def _pretty_text(expr: sympy.Basic, printer: Any) -> Any:
    """The node's text form on one line, its symbols as the pretty printer writes them (``A₀₁``)."""
    from sympy.printing.pretty.stringpict import prettyForm  # noqa: PLC0415 - only when pretty-printing
    from sympy.printing.str import StrPrinter  # noqa: PLC0415

    class _Line(StrPrinter):
        def _print_Symbol(self, symbol: sympy.Symbol) -> str:  # noqa: N802 - SymPy's printer protocol
            return str(printer._print(symbol))

    return prettyForm(_Line().doprint(expr))


# ---------------------------------------------------------------------------
# The nodes.
# ---------------------------------------------------------------------------


class det(sympy.Function):  # noqa: N801 - printed as the user typed it
    """The determinant of the n×n matrix of its n² arguments (row-major)."""

    @classmethod
    def eval(cls, *elements: sympy.Expr) -> sympy.Expr | None:
        if len(elements) == 1:
            return elements[0]
        if _exactly(elements):
            n = _side(len(elements))
            return sympy.Matrix(n, n, list(elements)).det()
        return None

    @property
    def side(self) -> int:
        return _side(len(self.args))

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        """The cofactor: ± the determinant of the minor (defined at singular matrices too, unlike det·inv)."""
        n = self.side
        row, column = divmod(argindex - 1, n)
        minor = [self.args[r * n + c] for r in range(n) for c in range(n) if r != row and c != column]
        return (-1) ** (row + column) * det(*minor)

    def _eval_evalf(self, prec: int) -> sympy.Expr | None:
        return _evalf(self, prec, det_value)

    def _eval_is_real(self) -> bool | None:
        return True if all(a.is_real for a in self.args) else None

    def _sympystr(self, printer: Any) -> str:
        return f"det({_matrix_text(printer, self.args, self.side)})"

    def _latex(self, printer: Any, exp: Any = None) -> str:
        return _raised(rf"\det {_latex_matrix(printer, self.args, self.side)}", printer, exp)

    def _pretty(self, printer: Any) -> Any:
        return _pretty_text(self, printer)


class inv(sympy.Function):  # noqa: N801
    """Element ``[i, j]`` of the inverse of the n×n matrix of the arguments after ``i, j``."""

    @classmethod
    def eval(cls, i: sympy.Integer, j: sympy.Integer, *elements: sympy.Expr) -> sympy.Expr | None:
        if len(elements) == 1:
            return 1 / elements[0]
        if _exactly(elements):
            inverse = _exact_inverse(tuple(elements))
            return sympy.nan if inverse is None else inverse[int(i), int(j)]
        return None

    @property
    def side(self) -> int:
        return _side(len(self.args) - 2)

    def entry(self, i: int, j: int) -> sympy.Expr:
        """Another element of the same inverse."""
        return inv(sympy.Integer(i), sympy.Integer(j), *self.args[2:])

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        i, j = int(self.args[0]), int(self.args[1])
        row, column = divmod(argindex - 3, self.side)
        return -self.entry(i, row) * self.entry(column, j)

    def _eval_evalf(self, prec: int) -> sympy.Expr | None:
        return _evalf(self, prec, inv_value)

    def _eval_is_real(self) -> bool | None:
        return True if all(a.is_real for a in self.args[2:]) else None

    def _sympystr(self, printer: Any) -> str:
        return f"inv({_matrix_text(printer, self.args[2:], self.side)})[{self.args[0]}, {self.args[1]}]"

    def _latex(self, printer: Any, exp: Any = None) -> str:
        matrix = _latex_matrix(printer, self.args[2:], self.side)
        return _raised(rf"\left({matrix}^{{-1}}\right)_{{{self.args[0]}{self.args[1]}}}", printer, exp)

    def _pretty(self, printer: Any) -> Any:
        return _pretty_text(self, printer)


class solve(sympy.Function):  # noqa: N801
    """Element ``[i, j]`` of inv(A)@B: arguments ``i, j, n``, A's n² elements, B's n·k elements.

    ``j`` is -1 when B is a vector (then the element is ``[i]``, B has n elements).
    """

    @classmethod
    def eval(cls, i: sympy.Integer, j: sympy.Integer, n: sympy.Integer, *elements: sympy.Expr) -> sympy.Expr | None:
        size = int(n)
        if _exactly(elements[: size * size]) and _exactly(elements[size * size :], side=False):
            inverse = _exact_inverse(tuple(elements[: size * size]))
            if inverse is None:
                return sympy.nan
            rhs = elements[size * size :]
            columns = len(rhs) // size
            column = max(int(j), 0)
            return sympy.Add(*(inverse[int(i), k] * rhs[k * columns + column] for k in range(size)))
        return None

    @property
    def parts(self) -> tuple[int, int, int, tuple[sympy.Expr, ...], tuple[sympy.Expr, ...]]:
        """``i``, ``j``, ``n``, A's elements, B's elements."""
        i, j, n = (int(a) for a in self.args[:3])
        return i, j, n, self.args[3 : 3 + n * n], self.args[3 + n * n :]

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        i, j, n, a, b = self.parts
        index, columns = argindex - 4, len(b) // n

        def inverse(r: int, c: int) -> sympy.Expr:
            return inv(sympy.Integer(r), sympy.Integer(c), *a)

        if index < n * n:  # d x / dA[k,l] = -inv(A)[:, k] x[l]
            k, l = divmod(index, n)  # noqa: E741
            return -inverse(i, k) * solve(sympy.Integer(l), *self.args[1:])
        k, m = divmod(index - n * n, columns)  # d x[i,j] / dB[k,m] = inv(A)[i,k] where m == j
        return inverse(i, k) if m == max(j, 0) else sympy.S.Zero

    def _eval_evalf(self, prec: int) -> sympy.Expr | None:
        return _evalf(self, prec, solve_value)

    def _eval_is_real(self) -> bool | None:
        return True if all(a.is_real for a in self.args[3:]) else None

    def _sympystr(self, printer: Any) -> str:
        i, j, n, a, b = self.parts
        rhs = _vector_text(printer, b) if j < 0 else _matrix_text(printer, b, n)
        index = f"[{i}]" if j < 0 else f"[{i}, {j}]"
        return f"solve({_matrix_text(printer, a, n)}, {rhs}){index}"

    def _pretty(self, printer: Any) -> Any:
        return _pretty_text(self, printer)


# ---------------------------------------------------------------------------
# Exact values on constants (mpmath, for :mod:`.constants`) and non-smooth sites.
# ---------------------------------------------------------------------------


def det_value(ev: Any, *values: Any) -> Any:
    return mpmath.det(_mp_matrix(values))


def inv_value(ev: Any, i: Any, j: Any, *values: Any) -> Any:
    inverse = _mp_inverse(values)
    return mpmath.nan if inverse is None else inverse[int(i.real), int(j.real)]


def solve_value(ev: Any, i: Any, j: Any, n: Any, *values: Any) -> Any:
    size = int(n.real)
    inverse = _mp_inverse(values[: size * size])
    if inverse is None:
        return mpmath.nan
    rhs = values[size * size :]
    columns, column = len(rhs) // size, max(int(j.real), 0)
    return mpmath.fsum(inverse[int(i.real), k] * rhs[k * columns + column] for k in range(size))


def singular_site(expr: Any, point: Any) -> str | None:
    """``inv``/``solve`` where the matrix is singular (a pole: its determinant is 0)."""
    elements = expr.args[2:] if isinstance(expr, inv) else expr.parts[3]
    determinant = det(*elements)
    if point.is_zero(point.at(determinant)):
        return f"pole: the matrix is singular ({point.text(determinant)} = 0)"
    return None


# ---------------------------------------------------------------------------
# Builders: values (object arrays) -> values, shapes checked.
# ---------------------------------------------------------------------------


def _square(name: str, a: Value) -> int:
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ShapeError(f"{name} needs a square matrix, got shape {a.shape}")
    return int(a.shape[0])


def check_size(name: str, shape: tuple[int, ...]) -> None:
    """Refuse a result over the element limit before building it."""
    size, limit = math.prod(shape), max_elements()
    if size > limit:
        raise ShapeError(
            f"{name}: the result would have {size:,} elements; the limit is {limit:,} "
            "(set JACLI_MAX_ELEMENTS to raise it)"
        )


def trace_of(a: Value) -> Value:
    """The sum of the diagonal of a square matrix."""
    n = _square("trace", a)
    return scalar(sympy.Add(*(a[k, k] for k in range(n))))


def det_of(a: Value) -> Value:
    _square("det", a)
    return scalar(det(*a.flat))


def inv_of(a: Value) -> Value:
    n = _square("inv", a)
    elements = tuple(a.flat)
    out = np.empty((n, n), dtype=object)
    for i, j in np.ndindex(n, n):
        out[i, j] = inv(sympy.Integer(i), sympy.Integer(j), *elements)
    return out


def solve_of(a: Value, b: Value) -> Value:
    """inv(a)@b for a square ``a`` and a vector or matrix ``b`` with as many rows."""
    n = _square("solve", a)
    if b.ndim not in (1, 2) or b.shape[0] != n:
        raise ShapeError(
            f"solve(A, b) needs b with {n} rows (a vector or a matrix) for A of shape {a.shape}, got shape {b.shape}"
        )
    elements, rhs, size = tuple(a.flat), tuple(b.flat), sympy.Integer(n)
    out = np.empty(b.shape, dtype=object)
    for index in np.ndindex(b.shape):
        i, j = (index[0], -1) if b.ndim == 1 else index
        out[index] = solve(sympy.Integer(i), sympy.Integer(j), size, *elements, *rhs)
    return out


def outer_of(a: Value, b: Value) -> Value:
    """The outer product of two vectors: ``a[i]*b[j]``."""
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"outer needs two vectors, got shapes {a.shape} and {b.shape}")
    return elementwise("outer", lambda x, y: x * y, a.reshape(-1, 1), b.reshape(1, -1))


def diag_of(v: Value) -> Value:
    """A vector -> the diagonal matrix; a matrix -> its diagonal (as ``torch.diag``)."""
    if v.ndim == 1:
        check_size("diag", (v.shape[0], v.shape[0]))
        out = np.full((v.shape[0], v.shape[0]), sympy.S.Zero, dtype=object)
        for k, element in enumerate(v.flat):
            out[k, k] = element
        return out
    if v.ndim == 2:
        return np.array([v[k, k] for k in range(min(v.shape))], dtype=object)
    raise ShapeError(f"diag needs a vector or a matrix, got shape {v.shape}")
