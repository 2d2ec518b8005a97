"""Matrix expressions in matrix notation: a small tree, its simplifying constructors, printing and numbers.

The matrix form (:mod:`jacli.matrix_form`) differentiates these trees with the rules of the
Matrix Cookbook. A 1-D vector of the language is an n×1 column; a scalar has shape ``()``.
Dimensions are ints or names (``n``). Every constructor simplifies as it builds (``x.T.T`` is
``x``, ``ones*a`` is ``a``, like terms are collected and common factors pulled out), so what is
printed is what a person writes: ``(A + A.T)@x``, ``2*A.T@(A@x - y)``.
:func:`jacli.matrix_readback.to_sympy` gives the same expression as SymPy matrix expressions.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

Dim = int | str
Shape = tuple[Dim, ...]

ELEMENTWISE = ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sinh", "cosh", "sigmoid", "abs", "softplus")
"""Functions applied entry by entry."""
SCALAR_OF_MATRIX = ("trace", "det", "norm", "sum", "logsumexp")


@dataclass(frozen=True)
class Node:
    """``op`` over ``args``, of ``shape``: ``var`` (``data`` its name), ``num`` (a Fraction or float),
    ``ones``, ``eye``, ``zero``, ``add``, ``scale`` (scalar × array), ``matmul``, ``T``, ``had``
    (elementwise product), ``pow`` (elementwise, ``data`` the exponent), ``fn`` (``data`` the name)."""

    op: str
    args: tuple[Node, ...]
    shape: Shape
    data: Any = None

    @property
    def scalar(self) -> bool:
        return self.shape == ()

    def __str__(self) -> str:
        return to_text(self)


def num(value: Any) -> Node:
    return Node("num", (), (), value)


ZERO, ONE = num(Fraction(0)), num(Fraction(1))


def is_num(node: Node, value: Any = None) -> bool:
    return node.op == "num" and (value is None or node.data == value)


def var(name: str, shape: Shape) -> Node:
    return Node("var", (), shape, name)


def ones(shape: Shape) -> Node:
    return Node("ones", (), shape) if shape else ONE


def eye(n: Dim) -> Node:
    return Node("eye", (), (n, n))


def zero(shape: Shape) -> Node:
    return Node("zero", (), shape) if shape else ZERO


def is_zero(node: Node) -> bool:
    return node.op == "zero" or is_num(node, 0)


# ---------------------------------------------------------------------------
# Simplifying constructors.
# ---------------------------------------------------------------------------


def split_coefficient(node: Node) -> tuple[Any, Node]:
    """``2*x`` -> (2, x); a number -> (number, 1)."""
    if node.op == "num":
        return node.data, ONE
    if node.op == "scale" and is_num(node.args[0]):
        return node.args[0].data, node.args[1]
    return Fraction(1), node


def scale(c: Node, m: Node) -> Node:
    """The scalar ``c`` times ``m`` (either may be the scalar)."""
    if m.scalar and not c.scalar:
        c, m = m, c
    if is_zero(c) or is_zero(m):
        return zero(m.shape)
    if is_num(c, 1):
        return m
    if m.scalar and c.op != "num" and m.op == "num":
        c, m = m, c
    if c.op == "num" and m.op == "num":
        return num(c.data * m.data)
    if c.op == "num" and m.op == "scale" and is_num(m.args[0]):
        return scale(num(c.data * m.args[0].data), m.args[1])
    if c.op == "num" and m.op == "add" and c.data == -1:
        return add(*(scale(c, t) for t in m.args))
    if c.scalar and m.scalar and c.op != "num":  # s*(1/s) -> 1, s*s -> s**2: powers of one base collected
        return _scalar_product(c, m)
    if c.op != "num" and m.op == "scale":  # numbers first: 2*(s*x), s*(2*x) -> 2*s*x
        k, rest = split_coefficient(m)
        if not is_num(num(k), 1):
            return scale(num(k), scale(c, rest))
        return scale(scale(c, m.args[0]), m.args[1])
    if c.op == "scale" and is_num(c.args[0]):
        return scale(c.args[0], scale(c.args[1], m))
    return Node("scale", (c, m), m.shape)


def _powers(node: Node) -> list[tuple[Node, Any]]:
    """A product of scalars as (base, exponent) pairs: ``s**2*t/s`` -> (s, 2), (t, 1), (s, -1)."""
    if node.op == "scale" and node.args[1].scalar:
        return _powers(node.args[0]) + _powers(node.args[1])
    if node.op == "pow":
        return [(node.args[0], node.data)]
    return [(node, Fraction(1))]


def _scalar_product(c: Node, m: Node) -> Node:
    (kc, rc), (km, rm) = split_coefficient(c), split_coefficient(m)
    exponents: dict[Node, Any] = {}
    for base, exponent in _powers(rc) + _powers(rm):
        if not is_num(base, 1):
            exponents[base] = exponents.get(base, 0) + exponent
    kept = [(b, e) for b, e in exponents.items() if e != 0]
    kept.sort(key=lambda be: be[1] < 0)  # s*t/u: the divisors last
    body = ONE
    for base, exponent in kept:
        factor = power(base, exponent)
        body = factor if body is ONE else Node("scale", (factor, body) if exponent < 0 else (body, factor), ())
    return scale(num(kc * km), body) if body is not ONE else num(kc * km)


def neg(m: Node) -> Node:
    return scale(num(Fraction(-1)), m)


def add(*terms: Node) -> Node:
    """A sum: like terms collected (``x + x`` is ``2*x``), then common left or right factors pulled out."""
    flat: list[Node] = []
    for t in terms:
        flat.extend(t.args if t.op == "add" else (t,))
    shape = next((t.shape for t in flat if t.shape), ())
    collected: dict[Node, Any] = {}
    for t in flat:
        if is_zero(t):
            continue
        k, rest = split_coefficient(t)
        collected[rest] = collected.get(rest, 0) + k
    items = [scale(num(k), rest) for rest, k in collected.items() if k != 0]
    items.sort(key=lambda t: (split_coefficient(t)[0] < 0, _transposes(t)))  # A + A.T, then the negative terms
    if not items:
        return zero(shape)
    if len(items) == 1:
        return items[0]
    sizes = {abs(split_coefficient(t)[0]) for t in items}
    if len(sizes) == 1 and 1 not in sizes:  # 2*x - 2*b -> 2*(x - b)
        (k,) = sizes
        return scale(num(k), add(*(scale(num(1 / k if isinstance(k, float) else Fraction(1) / k), t) for t in items)))
    grouped = _by_scalar(items)
    if grouped is not None:  # a/s + b/s -> (a + b)/s
        return grouped
    factored = _factor(items)
    if factored is not None:
        return factored
    return Node("add", tuple(items), shape)


def _by_scalar(items: list[Node]) -> Node | None:
    """The terms that share a scalar factor (not a number) summed under it, or None when no two share one."""
    groups: dict[Node, list[Node]] = {}
    for t in items:
        k, rest = split_coefficient(t)
        if rest.scalar or rest.op != "scale" or is_num(rest.args[0]):
            groups.setdefault(t, []).append(ONE)
        else:
            groups.setdefault(rest.args[0], []).append(scale(num(k), rest.args[1]))
    if len(groups) == len(items):
        return None
    return add(*(c if parts == [ONE] else scale(c, add(*parts)) for c, parts in groups.items()))


def _transposes(node: Node) -> int:
    return (node.op == "T") + sum(_transposes(a) for a in node.args)


def _factors(node: Node) -> tuple[Any, list[Node]]:
    k, rest = split_coefficient(node)
    return k, list(rest.args) if rest.op == "matmul" else [rest]


def _factor(items: list[Node]) -> Node | None:
    """``A@x + A.T@x`` -> ``(A + A.T)@x``; ``A@x + A@y`` -> ``A@(x + y)``: all terms share the factor."""
    parts = [_factors(t) for t in items]
    if any(len(fs) < 2 for _, fs in parts):
        return None
    for side in (-1, 0):
        common = parts[0][1][side]
        if common.scalar or not all(fs[side] == common for _, fs in parts):
            continue
        rests = [scale(num(k), matmul(*(fs[:-1] if side == -1 else fs[1:]))) for k, fs in parts]
        inner = add(*rests)
        return matmul(inner, common) if side == -1 else matmul(common, inner)
    return None


def matmul(*factors: Node) -> Node:
    """The matrix product; a 1×1 product is a scalar (shape ``()``)."""
    flat: list[Node] = []
    coefficient: Node = ONE
    for given in factors:
        f = given
        while f.op == "scale":  # 2*(s*x): both scalars come out
            coefficient = scale(coefficient, f.args[0])
            f = f.args[1]
        if f.scalar:
            coefficient = scale(coefficient, f)
            continue
        flat.extend(f.args if f.op == "matmul" else (f,))
    rows, columns = flat[0].shape[0], flat[-1].shape[-1]
    if any(is_zero(f) for f in flat):
        return zero(_product_shape(rows, columns))
    flat = _fold_diagonals(flat)
    kept = [f for f in flat if f.op != "eye"] or flat[:1]
    body = kept[0] if len(kept) == 1 else Node("matmul", tuple(kept), _product_shape(rows, columns))
    return scale(coefficient, body)


def _is_diag(node: Node) -> bool:
    return node.op == "fn" and node.data == "diag"


def _fold_diagonals(flat: list[Node]) -> list[Node]:
    """``ones.T@diag(a)`` -> ``a.T``, ``diag(a)@ones`` -> ``a``, ``diag(a)@diag(b)`` -> ``diag(a*b)``."""
    out: list[Node] = []
    for f in flat:
        last = out[-1] if out else None
        if last is not None and _is_diag(f) and last.op == "ones" and last.shape[0] == 1:
            out[-1] = transpose(f.args[0])
        elif last is not None and _is_diag(last) and f.op == "ones" and f.shape[1] == 1:
            out[-1] = last.args[0]
        elif last is not None and _is_diag(last) and _is_diag(f):
            out[-1] = fn("diag", hadamard(last.args[0], f.args[0]))
        else:
            out.append(f)
    return out


def _product_shape(rows: Dim, columns: Dim) -> Shape:
    return () if rows == 1 and columns == 1 else (rows, columns)


def symmetric(m: Node) -> bool:
    """Whether ``m`` is symmetric by its form: ``X.T@X``, ``inv(S)`` of a symmetric S, ``eye``, ``diag``."""
    if m.scalar or m.shape[0] != m.shape[1]:
        return m.scalar
    op = m.op
    if op in ("eye", "ones", "zero") or _is_diag(m):
        return True
    if op == "scale":
        return symmetric(m.args[1])
    if op in ("had", "pow") or (op == "fn" and (m.data in ELEMENTWISE or m.data == "inv")):
        return all(symmetric(a) for a in m.args)
    if op == "matmul":
        return m.args == tuple(transpose(f) for f in reversed(m.args))
    if op == "add":
        return set(m.args) == {transpose(t) for t in m.args}
    return False


def transpose(m: Node) -> Node:
    if m.scalar or (m.op not in ("var", "T") and symmetric(m)):
        return m
    op = m.op
    flipped = (m.shape[1], m.shape[0])
    if op == "T":
        return m.args[0]
    if op == "eye":
        return m
    if op in ("ones", "zero"):
        return Node(op, (), flipped)
    if op == "scale":
        return scale(m.args[0], transpose(m.args[1]))
    if op == "add":
        return add(*(transpose(t) for t in m.args))
    if op == "matmul":
        return matmul(*(transpose(f) for f in reversed(m.args)))
    if op == "had":
        return hadamard(*(transpose(f) for f in m.args))
    if op == "pow":
        return power(transpose(m.args[0]), m.data)
    if op == "fn" and m.data in ELEMENTWISE:
        return fn(m.data, transpose(m.args[0]))
    return Node("T", (m,), flipped)


def hadamard(a: Node, b: Node) -> Node:
    """The elementwise product (a scalar factor scales)."""
    if is_zero(a) or is_zero(b):
        return zero(a.shape or b.shape)
    if a.scalar or b.scalar:
        return scale(a, b)
    if a.op == "ones":
        return b
    if b.op == "ones":
        return a
    if a.op == "scale" or b.op == "scale":
        (ca, ra), (cb, rb) = _scaled(a), _scaled(b)
        return scale(scale(ca, cb), hadamard(ra, rb))
    if a == b:
        return power(a, Fraction(2))
    return Node("had", (a, b), a.shape)


def _scaled(node: Node) -> tuple[Node, Node]:
    return (node.args[0], node.args[1]) if node.op == "scale" else (ONE, node)


def power(a: Node, exponent: Any) -> Node:
    if exponent == 1:
        return a
    if exponent == 0:
        return ones(a.shape)
    if a.op == "num":
        return (
            num(a.data**exponent) if isinstance(exponent, Fraction) and exponent.denominator == 1 else _pow(a, exponent)
        )
    if a.op == "pow":
        return power(a.args[0], a.data * exponent)
    return _pow(a, exponent)


def _pow(a: Node, exponent: Any) -> Node:
    return Node("pow", (a,), a.shape, exponent)


def fn(name: str, a: Node) -> Node:
    """``name(a)``: elementwise, or a scalar (trace, det, norm, sum) or a matrix (inv, softmax) of ``a``."""
    if name in SCALAR_OF_MATRIX:
        if a.scalar:
            return fn("abs", a) if name == "norm" else a
        if name in ("sum", "trace") and a.op == "scale":  # linear: the scalar comes out
            return scale(a.args[0], fn(name, a.args[1]))
        if name in ("sum", "trace") and a.op == "add":
            return add(*(fn(name, t) for t in a.args))
        if name == "sum" and a.op == "ones":
            return (
                num(Fraction(_size(a.shape)))
                if all(isinstance(d, int) for d in a.shape)
                else Node("fn", (a,), (), name)
            )
        return Node("fn", (a,), (), name)
    if name == "inv" and a.op == "fn" and a.data == "inv":
        return a.args[0]
    if name == "diag":
        return Node("fn", (a,), (a.shape[0], a.shape[0]), name)
    return Node("fn", (a,), a.shape, name)


def _size(shape: Shape) -> int:
    return int(np.prod([int(d) for d in shape]))


# ---------------------------------------------------------------------------
# Printing: the language (`.T`, `@`), Unicode (`ᵀ`, `·`) and LaTeX (`\top`).
# ---------------------------------------------------------------------------

_PRECEDENCE = {"add": 1, "scale": 2, "matmul": 2, "had": 2, "neg": 3, "pow": 4}


@dataclass(frozen=True)
class Style:
    transpose: str
    matmul: str
    times: str
    hadamard: str
    ones: str
    eye: str
    power: str
    call: str
    names: dict[str, str]
    language: bool = False
    sizes: dict[str, int] | None = None
    """For the read-back (:mod:`jacli.matrix_readback`): ``ones`` and ``eye`` written with their sizes,
    ``ones(n)`` a 1-D vector, or ``ones(n, 1)`` a column when ``columns``."""
    columns: bool = False


LANGUAGE = Style(".T", "@", "*", "*", "ones", "eye({})", "{}**{}", "{}({})", {}, language=True)
UNICODE = Style("ᵀ", "·", "*", "∘", "1", "I", "{}{}", "{}({})", {})
LATEX = Style(
    "^\\top", " ", " ", " \\odot ", "\\mathbf{1}", "I", "{}^{{{}}}", "{}\\left({}\\right)",
    {"trace": "\\operatorname{tr}", "det": "\\det", "norm": "\\lVert {} \\rVert", "log": "\\log",
     "diag": "\\operatorname{diag}",
     "exp": "\\exp", "sin": "\\sin", "cos": "\\cos", "tanh": "\\tanh", "softmax": "\\operatorname{softmax}",
     "logsumexp": "\\operatorname{logsumexp}",
     "sum": "\\operatorname{sum}", "sqrt": "\\sqrt{{{}}}", "sigmoid": "\\sigma", "tan": "\\tan"},
)  # fmt: skip


_SUPERSCRIPTS = str.maketrans("0123456789-/.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻ᐟ·")


def to_text(node: Node, style: Style = LANGUAGE) -> str:
    return _print(node, style)


def _number(value: Any, style: Style) -> str:
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return str(value.numerator)
        if style is LATEX:
            return f"\\frac{{{value.numerator}}}{{{value.denominator}}}"
        return f"{value.numerator}/{value.denominator}"
    return repr(float(value))


def _wrap(node: Node, style: Style, level: int) -> str:
    text = _print(node, style)
    mine = _level(node)
    if mine < level:
        return f"\\left({text}\\right)" if style is LATEX else f"({text})"
    return text


def _level(node: Node) -> int:
    if node.op == "num":
        return 3 if node.data >= 0 and (not isinstance(node.data, Fraction) or node.data.denominator == 1) else 2
    if node.op == "scale" and is_num(node.args[0]) and node.args[0].data < 0:
        return 1
    return _PRECEDENCE.get(node.op, 5)


def _size_in(d: Dim, sizes: dict[str, int]) -> int:
    return int(d) if isinstance(d, int) else sizes[d]


def _sized_ones(node: Node, style: Style, row: bool) -> str:
    assert style.sizes is not None
    rows, columns = (_size_in(d, style.sizes) for d in (node.shape[::-1] if row else node.shape))
    if columns == 1 and len(node.shape) == 2 and (row or node.shape[1] == 1):
        return f"ones({rows}, 1)" if style.columns else f"ones({rows})"
    return f"ones({rows}, {columns})"


def _print(node: Node, style: Style) -> str:
    op = node.op
    if op == "num":
        return _number(node.data, style)
    if op == "var":
        return node.data if style is not LATEX or len(node.data) == 1 else f"\\mathit{{{node.data}}}"
    if op == "ones":  # a row of ones is the transpose of a column (vectors are columns)
        row = len(node.shape) == 2 and node.shape[0] == 1 and node.shape[1] != 1
        return (_sized_ones(node, style, row) if style.sizes is not None else style.ones) + (
            style.transpose if row else ""
        )
    if op == "eye":
        return style.eye.format(node.shape[0] if style.sizes is None else _size_in(node.shape[0], style.sizes))
    if op == "outer":  # 1-D vectors (jacli.matrix_readback): u@w.T as the language writes it
        return f"outer({_print(node.args[0], style)}, {_print(node.args[1], style)})"
    if op == "zero":
        return "0"
    if op == "add":  # a term of ones is written 1 (broadcast): 1 - s
        text = "1" if node.args[0].op == "ones" else _print(node.args[0], style)
        for term in node.args[1:]:
            k, rest = split_coefficient(term)
            if k < 0:
                text += " - " + (_wrap(scale(num(-k), rest), style, 2))
            else:
                text += " + " + _print(term, style)
        return text
    if op == "scale":
        c, m = node.args
        if is_num(c, -1):
            return "-" + _wrap(m, style, 2)
        if c.op == "pow" and c.data < 0:  # x/s, x/s**2
            divisor = power(c.args[0], -c.data)
            if style is LATEX:
                return f"\\frac{{{_print(m, style)}}}{{{_print(divisor, style)}}}"
            return f"{_wrap(m, style, 2)}/{_wrap(divisor, style, 3)}"
        if c.op == "num" and c.data < 0:
            return "-" + _print(scale(num(-c.data), m), style)
        return f"{_wrap(c, style, 2)}{style.times}{_wrap(m, style, 2)}"
    if op == "matmul":
        first, *rest = node.args
        return _wrap(first, style, 2) + "".join(style.matmul + _wrap(f, style, 3) for f in rest)
    if op == "had":
        a, b = node.args
        return f"{_wrap(a, style, 2)}{style.hadamard}{_wrap(b, style, 3)}"
    if op == "pow" and node.data == -1 and style is not LATEX:
        return "1/" + _wrap(node.args[0], style, 5)
    if op == "pow":
        exponent = _number(node.data, style)
        if style is UNICODE:
            exponent = exponent.translate(_SUPERSCRIPTS)
        return style.power.format(_wrap(node.args[0], style, 5), exponent)
    if op == "T":
        inner = node.args[0]
        if inner.op == "fn" and inner.data == "inv" and not style.language:  # X⁻ᵀ
            return _wrap(inner.args[0], style, 5) + ("^{-\\top}" if style is LATEX else "⁻ᵀ")
        return _wrap(inner, style, 5) + style.transpose
    if op == "fn" and node.data in ELEMENTWISE and node.args[0].op == "T":  # exp(x)ᵀ, not exp(xᵀ)
        return _print(
            Node("T", (Node("fn", node.args[0].args, node.args[0].args[0].shape, node.data),), node.shape), style
        )
    if op == "fn":
        inner = _print(node.args[0], style)
        if node.data == "inv" and not style.language:
            return _wrap(node.args[0], style, 5) + ("^{-1}" if style is LATEX else "⁻¹")
        name = style.names.get(node.data, node.data)
        if "{}" in name:
            return name.format(inner)
        return style.call.format(name, inner)
    raise AssertionError(op)


# ---------------------------------------------------------------------------
# Numbers: the expression at given values (vectors as columns).
# ---------------------------------------------------------------------------


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


_NUMPY = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
    "tanh": np.tanh, "sinh": np.sinh, "cosh": np.cosh, "abs": np.abs,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "softplus": lambda z: np.log1p(np.exp(z)),
    "trace": np.trace, "det": np.linalg.det, "inv": np.linalg.inv, "norm": np.linalg.norm, "sum": np.sum,
    "softmax": _softmax, "diag": np.diagflat, "logsumexp": lambda z: np.log(np.sum(np.exp(z))),
    "log_softmax": lambda z: np.log(_softmax(z)),
}  # fmt: skip


def evaluate(node: Node, values: dict[str, np.ndarray], dims: dict[str, int]) -> Any:
    """The value of ``node``: ``values`` by variable name (vectors n×1), ``dims`` the named dimensions."""

    def size(d: Dim) -> int:
        return int(d) if isinstance(d, int) else dims[d]

    def go(n: Node) -> Any:
        op = n.op
        if op == "num":
            return float(n.data)
        if op == "var":
            return values[n.data]
        if op in ("ones", "zero"):
            return np.full(tuple(size(d) for d in n.shape), 1.0 if op == "ones" else 0.0)
        if op == "eye":
            return np.eye(size(n.shape[0]))
        args = [go(a) for a in n.args]
        if op == "add":
            return sum(args[1:], args[0])
        if op in ("scale", "had"):
            return args[0] * args[1]
        if op == "matmul":
            out = args[0]
            for a in args[1:]:
                out = out @ a
            return out.item() if n.scalar else out
        if op == "pow":
            return np.power(args[0], float(n.data))
        if op == "T":
            return args[0].T
        return _NUMPY[n.data](args[0])

    return go(node)
