"""The matrix form as the language and SymPy write it, and its printed text read back by the language itself.

The tree of :mod:`jacli.matrix_expr` holds 1-D vectors as n×1 columns, the Matrix Cookbook's
notation. In the language a 1-D vector's ``.T`` is itself, so a column times a row, ``u@w.T``,
is written ``outer(u, w)`` there (:func:`language_tree`); for variables that are n×1 columns
it stays ``u@w.T``. The Unicode and LaTeX forms keep the Cookbook's notation (``u·wᵀ``).

Trust (:func:`reads_back`): the printed text is parsed and built by :mod:`jacli.language`
with the variables' shapes, compiled by :mod:`jacli.compile` and evaluated; a form is shown
only when those numbers agree with the elementwise result. ``ones`` and ``eye(n)`` take their
sizes from where they stand, so for the read-back they are written with them (``ones(2, 3)``,
``eye(3)``), and nothing else of the text changes. :func:`to_sympy` gives the tree as SymPy matrix
expressions (``MatrixSymbol``, ``Transpose``, ``HadamardProduct``).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from jacli import matrix_expr as mx
from jacli.errors import JacliError
from jacli.matrix_expr import Dim, Node, num


def _uses(node: Node, names: frozenset[str]) -> bool:
    return (node.op == "var" and node.data in names) or any(_uses(a, names) for a in node.args)


def _is_row(node: Node) -> bool:
    return len(node.shape) == 2 and node.shape[0] == 1


def _is_column(node: Node) -> bool:
    return len(node.shape) == 2 and node.shape[1] == 1


def language_tree(node: Node, columns: frozenset[str] = frozenset()) -> Node:
    """``node`` with each column-times-row product of 1-D vectors as an ``outer`` node (printing only).

    ``columns``: the variables that are n×1 columns in the language (their products stay ``u@w.T``).
    """
    args = tuple(language_tree(a, columns) for a in node.args)
    if node.op != "matmul":
        return node if args == node.args else dataclasses.replace(node, args=args)
    factors: list[Node] = []
    for f in args:
        last = factors[-1] if factors else None
        if last is not None and _is_column(last) and _is_row(f) and not _uses(last, columns) and not _uses(f, columns):
            factors[-1] = Node("outer", (last, mx.transpose(f)), (last.shape[0], f.shape[1]))
        else:
            factors.append(f)
    if len(factors) == 1:
        return factors[0]
    return Node("matmul", tuple(factors), node.shape)


def text(node: Node, columns: frozenset[str] = frozenset()) -> str:
    """The form in the language's syntax: what JSON's ``symbolic_matrix`` and ``MatrixForm.text`` hold."""
    return mx.to_text(language_tree(node, columns), mx.LANGUAGE)


def sized_text(node: Node, dims: Mapping[str, int], columns: frozenset[str] = frozenset()) -> str:
    """:func:`text` with ``ones`` and ``eye`` written with their sizes (``ones(2, 3)``, ``ones(2)``, ``eye(3)``)."""
    style = dataclasses.replace(mx.LANGUAGE, sizes=dict(dims), columns=bool(columns))
    return mx.to_text(language_tree(node, columns), style)


_SIZED_ONES = re.compile(r"\bones\([^()]*\)")
_NAMED_EYE = re.compile(r"\beye\((\w+)\)")


def evaluate_text(source: str, shapes: Mapping[str, tuple[int, ...]], values: Mapping[str, Any]) -> np.ndarray:
    """The value of ``source`` (the language) at ``values``: parsed, built and compiled as any expression is."""
    import torch  # only where a form is checked

    names, function = _compiled(source, tuple((name, tuple(int(d) for d in shapes[name])) for name in shapes))
    flat = [np.ravel(np.asarray(values[name], dtype=float)) for name in names]
    x = torch.tensor(np.concatenate(flat) if flat else np.zeros(0), dtype=torch.float64)
    return np.ravel(function(x).detach().numpy())


@functools.lru_cache(maxsize=64)
def _compiled(source: str, shapes: tuple[tuple[str, tuple[int, ...]], ...]) -> tuple[tuple[str, ...], Any]:
    """The names of ``source`` and its torch function of their flat elements (cached: many points compile once)."""
    from jacli import language  # noqa: PLC0415
    from jacli.compile import to_torch  # noqa: PLC0415

    parsed = language.parse_expression(source)
    given = dict(shapes)
    program = language.build_program(parsed, {name: given[name] for name in parsed.names})
    return tuple(v.name for v in program.variables), to_torch(program, program.variables, ())


def reads_back(
    node: Node,
    want: np.ndarray,
    shapes: Mapping[str, tuple[int, ...]],
    values: Mapping[str, Any],
    dims: Mapping[str, int],
    rtol: float,
    columns: frozenset[str] = frozenset(),
) -> bool:
    """Whether the printed text of ``node``, read back by the language at ``values``, is ``want`` (flat).

    ``shapes``: each name's shape in the language (sizes, 1-D vectors as ``(n,)``); ``dims``: the
    sizes of named dimensions (for ``ones`` and ``eye``).
    """
    sized = sized_text(node, dims, columns)
    printed = _NAMED_EYE.sub(lambda m: f"eye({dims.get(m.group(1), m.group(1))})", text(node, columns))
    if _SIZED_ONES.sub("ones", sized) != printed:  # the read-back is the printed text, sizes aside
        return False
    try:
        got = evaluate_text(sized, shapes, values)
    except (JacliError, KeyError, ValueError, RuntimeError):
        return False
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True))


def to_sympy(node: Node) -> Any:
    """The same expression as SymPy matrix expressions (``MatrixSymbol``, ``Transpose``, ``HadamardProduct``)."""
    import sympy

    def dim(d: Dim) -> Any:
        return d if isinstance(d, int) else sympy.Symbol(d, integer=True, positive=True)

    def shape(n: Node) -> tuple[Any, Any]:
        return (dim(n.shape[0]), dim(n.shape[1])) if n.shape else (1, 1)

    functions = {"trace": sympy.Trace, "det": sympy.Determinant, "inv": sympy.Inverse}

    def go(n: Node) -> Any:
        op = n.op
        if op == "num":
            return sympy.Rational(n.data.numerator, n.data.denominator) if isinstance(n.data, Fraction) else n.data
        if op == "var":
            return sympy.MatrixSymbol(n.data, *shape(n)) if n.shape else sympy.Symbol(n.data, real=True)
        if op == "ones":
            return sympy.OneMatrix(*shape(n))
        if op == "eye":
            return sympy.Identity(dim(n.shape[0]))
        if op == "zero":
            return sympy.ZeroMatrix(*shape(n))
        args = [go(a) for a in n.args]
        if op == "add":
            return sympy.MatAdd(*args) if n.shape else sympy.Add(*args)
        if op == "scale":
            return args[0] * args[1]
        if op == "matmul":
            return sympy.MatMul(*args)
        if op == "had":
            return sympy.HadamardProduct(*args)
        if op == "pow":
            return sympy.HadamardPower(args[0], go(num(n.data))) if n.shape else args[0] ** go(num(n.data))
        if op == "T":
            return sympy.Transpose(args[0])
        if n.data in functions:
            return functions[n.data](args[0])
        function, t = sympy.Function(n.data), sympy.Dummy("t")
        return sympy.ElementwiseApplyFunction(sympy.Lambda(t, function(t)), args[0]) if n.shape else function(args[0])

    return go(node)
