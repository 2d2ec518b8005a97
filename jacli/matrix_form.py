"""The matrix form of a result: matrix calculus in matrix notation, as the Matrix Cookbook writes it.

``gradient "x.T@A@x" --wrt x`` is ``(A + A.T)@x``; ``jacobian "A@x + b" --wrt x`` is ``A``.
The expression's syntax tree is built into a :mod:`jacli.matrix_expr` tree (1-D vectors as
columns) and differentiated with the Cookbook's rules: reverse mode for gradient and vjp
(adjoints shaped like their variables), forward mode for jvp, and the linear map of a
forward derivative for jacobian and hessian (outputs × inputs, so d(Ax)/dx = A). SymPy's own
``.diff`` of matrix expressions is not used: it leaves ``Derivative(Determinant(X), X)``
unevaluated, mixes layouts and has no elementwise functions (the tree converts to SymPy
with :func:`jacli.matrix_readback.to_sympy`).

Trust: a form is returned only after its numbers agree with the elementwise result (at
the point, or at random values when there is none), and so does its printed text read back
by the language (:mod:`jacli.matrix_readback`); otherwise it is left out with a note.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from jacli import limits
from jacli import matrix_expr as mx
from jacli.matrix_expr import Node
from jacli.matrix_readback import to_sympy


class Unsupported(Exception):
    """No matrix form: the expression uses something the rules do not cover."""


class TooLarge(Unsupported):
    """No matrix form tried: the expression is over :data:`jacli.limits.MATRIX_FORM_MAX_NODES` (a note says so)."""


@dataclass(frozen=True)
class MatrixForm:
    """The result in matrix notation: ``text`` (the language), ``unicode`` (``ᵀ``, ``·``) and ``latex``;
    each one string, or for vjp and a gradient over several variables a dict from input name to string."""

    text: str | dict[str, str]
    unicode: str | dict[str, str]
    latex: str | dict[str, str]
    nodes: Any = field(default=None, repr=False, compare=False)

    def sympy(self) -> Any:
        """The form as SymPy matrix expressions (a dict for several inputs)."""
        if isinstance(self.nodes, dict):
            return {k: to_sympy(n) for k, n in self.nodes.items()}
        return to_sympy(self.nodes)


# ---------------------------------------------------------------------------
# Syntax tree -> matrix expression.
# ---------------------------------------------------------------------------

_ELEMENTWISE_NAMES = {name: name for name in mx.ELEMENTWISE}


def _shape_of(shape: tuple[Any, ...]) -> mx.Shape:
    if len(shape) == 0:
        return ()
    if len(shape) == 1:
        return (shape[0], 1)
    if len(shape) == 2:
        return tuple(shape)
    raise Unsupported("arrays of three or more axes have no matrix notation")


def _is_vector(node: Node) -> bool:
    return len(node.shape) == 2 and node.shape[1] == 1


class _Builder:
    """Builds the tree; ``flat`` holds the nodes that are 1-D vectors of the language (shape ``(n,)``, whose
    ``.T`` is itself), as against n×1 columns (``(n, 1)``, whose ``.T`` is a 1×n row)."""

    def __init__(self, shapes: dict[str, tuple[Any, ...]]) -> None:
        self.env: dict[str, Node] = {name: mx.var(name, _shape_of(shape)) for name, shape in shapes.items()}
        self.flat: set[Node] = {self.env[name] for name, shape in shapes.items() if len(shape) == 1}
        self._seen: dict[ast.AST, Node] = {}

    def build(self, node: ast.AST) -> Node:
        built = self._construct(node)
        self._seen[node] = built
        inherits = not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("inv", "outer"))
        children = [self._seen.get(c) for c in ast.iter_child_nodes(node) if c is not getattr(node, "func", None)]
        if inherits and not built.scalar and any(c is not None and c in self.flat for c in children):
            self.flat.add(built)
        return built

    def _construct(self, node: ast.AST) -> Node:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return mx.num(Fraction(node.value) if isinstance(node.value, int) else node.value)
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return self.env[node.id]
            raise Unsupported(f"{node.id!r} has no matrix notation")
        if isinstance(node, ast.UnaryOp):
            operand = self.build(node.operand)
            if isinstance(node.op, ast.USub):
                return mx.neg(operand)
            if isinstance(node.op, ast.UAdd):
                return operand
        if isinstance(node, ast.Attribute) and node.attr == "T":
            return self.transpose(self.build(node.value))
        if isinstance(node, ast.BinOp):
            return self.binary(node.op, self.build(node.left), self.build(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            return self.call(node.func.id, [self.build(a) for a in node.args])
        raise Unsupported("this expression has no matrix notation")

    def transpose(self, a: Node) -> Node:
        return a if a in self.flat or a.scalar else mx.transpose(a)  # a 1-D vector's .T is itself

    def binary(self, op: ast.operator, a: Node, b: Node) -> Node:
        if isinstance(op, ast.MatMult):
            return self.matmul(a, b)
        if isinstance(op, ast.Pow):
            if b.op != "num":
                raise Unsupported("a power with a variable exponent")
            return mx.power(a, b.data)
        if not (a.scalar or b.scalar or (a.shape == b.shape and (a in self.flat) == (b in self.flat))):
            raise Unsupported("broadcasting between arrays of different shapes")
        if isinstance(op, ast.Add):
            return mx.add(self.broadcast(a, b), self.broadcast(b, a))
        if isinstance(op, ast.Sub):
            return mx.add(self.broadcast(a, b), mx.neg(self.broadcast(b, a)))
        if isinstance(op, ast.Mult):
            return mx.hadamard(a, b)
        if isinstance(op, ast.Div):
            return mx.hadamard(a, mx.power(b, Fraction(-1)))
        raise Unsupported("this operator has no matrix notation")

    @staticmethod
    def broadcast(a: Node, other: Node) -> Node:
        return mx.scale(a, mx.ones(other.shape)) if a.scalar and not other.scalar else a

    def matmul(self, a: Node, b: Node) -> Node:
        if a.scalar or b.scalar:
            raise Unsupported("@ of a scalar")
        left_vector = a in self.flat
        if left_vector:
            a = mx.transpose(a)
        if a.shape[1] != b.shape[0]:
            raise Unsupported("shapes do not match")
        product = mx.matmul(a, b)
        return mx.transpose(product) if left_vector and not product.scalar else product

    def call(self, name: str, args: list[Node]) -> Node:
        if name in ("dot", "outer", "softmax", "log_softmax", "logsumexp") and not all(a in self.flat for a in args):
            raise Unsupported(f"{name}() of a 2-D array")  # a column's softmax is along its axis of one
        if name == "dot" and len(args) == 2:
            return self.matmul(args[0], args[1])
        if name == "transpose" and len(args) == 1:
            return self.transpose(args[0])
        if name == "outer" and len(args) == 2 and all(_is_vector(a) for a in args):  # a@b.T
            return mx.matmul(args[0], mx.transpose(args[1]))
        if name == "solve" and len(args) == 2 and not args[0].scalar and args[0].shape[0] == args[0].shape[1]:
            return self.matmul(mx.fn("inv", args[0]), args[1])  # inv(A)@b
        if name == "log" and len(args) == 1 and args[0].op == "fn" and args[0].data == "softmax":
            return mx.fn("log_softmax", args[0].args[0])
        if len(args) != 1:
            raise Unsupported(f"{name}() of several arguments")
        (a,) = args
        if name == "log_softmax" and _is_vector(a):
            return mx.fn("log_softmax", a)
        if name == "logsumexp" and _is_vector(a):
            return mx.fn("logsumexp", a)
        if name in _ELEMENTWISE_NAMES:
            return mx.fn(name, a)
        if name in ("trace", "det", "inv") and (a.scalar or a.shape[0] != a.shape[1]):
            raise Unsupported(f"{name}() of a non-square array")
        if name in ("sum", "trace", "det", "inv", "norm") or (name == "softmax" and _is_vector(a)):
            return mx.fn(name, a)
        raise Unsupported(f"{name}() has no matrix notation")


def build(parsed: Any, shapes: dict[str, tuple[Any, ...]]) -> Node:
    """The last statement of ``parsed`` (bindings substituted) as a matrix expression."""
    return build_with_kind(parsed, shapes)[0]


def build_with_kind(parsed: Any, shapes: dict[str, tuple[Any, ...]]) -> tuple[Node, bool]:
    """:func:`build`, and whether the result is a 1-D vector of the language (not an n×1 column)."""
    builder = _Builder(shapes)
    count = sum(1 for stmt in parsed.statements for _ in ast.walk(stmt.value))
    if count > limits.MATRIX_FORM_MAX_NODES:
        raise TooLarge(f"the expression has {count} syntax nodes; the limit is {limits.MATRIX_FORM_MAX_NODES}")
    for stmt in parsed.statements[:-1]:
        builder.env[stmt.target] = builder.build(stmt.value)
    built = builder.build(parsed.statements[-1].value)
    return built, built in builder.flat


# ---------------------------------------------------------------------------
# The Cookbook's rules: reverse mode (adjoints) and forward mode (tangents).
# ---------------------------------------------------------------------------


def _derivative(name: str, a: Node) -> Node:
    """f'(a) of an elementwise function, entry by entry."""
    if name == "sin":
        return mx.fn("cos", a)
    if name == "cos":
        return mx.neg(mx.fn("sin", a))
    if name == "exp":
        return mx.fn("exp", a)
    if name == "log":
        return mx.power(a, Fraction(-1))
    if name == "sqrt":
        return mx.scale(mx.num(Fraction(1, 2)), mx.power(mx.fn("sqrt", a), Fraction(-1)))
    if name == "tanh":
        return mx.add(mx.ones(a.shape), mx.neg(mx.power(mx.fn("tanh", a), Fraction(2))))
    if name == "sigmoid":
        s = mx.fn("sigmoid", a)
        return mx.hadamard(s, mx.add(mx.ones(a.shape), mx.neg(s)))
    if name == "softplus":
        return mx.fn("sigmoid", a)
    if name == "sinh":
        return mx.fn("cosh", a)
    if name == "cosh":
        return mx.fn("sinh", a)
    raise Unsupported(f"{name}() is not differentiable everywhere")


def _sum_of_product(g: Node, m: Node) -> Node:
    """Σ g∘m: the adjoint of a scalar that scales ``m``."""
    if m.scalar:
        return mx.scale(g, m)
    if g.op == "ones":
        return mx.fn("sum", m)
    if _is_vector(m):
        return mx.matmul(mx.transpose(g), m)
    return mx.fn("trace", mx.matmul(mx.transpose(g), m))


def backward(node: Node, seed: Node, wrt: tuple[str, ...]) -> dict[str, Node]:
    """Reverse mode: the adjoint of each variable in ``wrt`` (shaped like it) for the output adjoint ``seed``."""
    terms: dict[str, list[Node]] = {name: [] for name in wrt}
    _back(node, seed, terms)
    return {name: mx.add(*found) if found else None for name, found in terms.items()}


def _back(n: Node, g: Node, acc: dict[str, list[Node]]) -> None:
    op = n.op
    if mx.is_zero(g) or op in ("num", "ones", "eye", "zero"):
        return
    if op == "var":
        if n.data in acc:
            acc[n.data].append(g)
        return
    args = n.args
    if op == "add":
        for t in args:
            _back(t, mx.fn("sum", g) if t.scalar and not n.scalar else g, acc)
    elif op == "scale":
        c, m = args
        _back(c, _sum_of_product(g, m), acc)
        _back(m, mx.scale(c, g), acc)
    elif op == "matmul":
        for i, f in enumerate(args):
            left = [mx.transpose(mx.matmul(*args[:i]))] if i else []
            right = [mx.transpose(mx.matmul(*args[i + 1 :]))] if i + 1 < len(args) else []
            _back(f, mx.matmul(*left, g, *right) if not g.scalar else mx.scale(g, mx.matmul(*left, *right)), acc)
    elif op == "had":
        a, b = args
        _back(a, mx.hadamard(g, b), acc)
        _back(b, mx.hadamard(g, a), acc)
    elif op == "pow":
        (a,) = args
        _back(a, mx.hadamard(g, mx.scale(mx.num(n.data), mx.power(a, n.data - 1))), acc)
    elif op == "T":
        _back(args[0], mx.transpose(g), acc)
    else:
        _back_function(n, g, acc)


def _back_function(n: Node, g: Node, acc: dict[str, list[Node]]) -> None:
    (a,) = n.args
    name = n.data
    if name == "log" and a.op == "fn" and a.data == "det":  # ∂ log det X = X⁻ᵀ
        _back(a.args[0], mx.scale(g, mx.transpose(mx.fn("inv", a.args[0]))), acc)
    elif name in mx.ELEMENTWISE:
        _back(a, mx.hadamard(g, _derivative(name, a)), acc)
    elif name == "sum":
        _back(a, mx.scale(g, mx.ones(a.shape)), acc)
    elif name == "trace":
        _back(a, mx.scale(g, mx.eye(a.shape[0])), acc)
    elif name == "det":  # ∂ det X = det(X) X⁻ᵀ
        _back(a, mx.scale(g, mx.scale(n, mx.transpose(mx.fn("inv", a)))), acc)
    elif name == "norm":  # ∂ ‖x‖ = x/‖x‖
        _back(a, mx.scale(g, mx.scale(mx.power(n, Fraction(-1)), a)), acc)
    elif name == "inv":  # ∂ X⁻¹: -X⁻ᵀ G X⁻ᵀ
        t = mx.transpose(n)
        _back(a, mx.neg(mx.matmul(t, g, t)), acc)
    elif name == "softmax":  # s∘(g - (gᵀs) 1)
        _back(a, mx.hadamard(n, mx.add(g, mx.neg(mx.scale(mx.matmul(mx.transpose(g), n), mx.ones(a.shape))))), acc)
    elif name == "logsumexp":  # ∂ log Σ exp(x) = softmax(x)
        _back(a, mx.scale(g, mx.fn("softmax", a)), acc)
    elif name == "log_softmax":  # g - sum(g) softmax(a)
        _back(a, mx.add(g, mx.neg(mx.scale(mx.fn("sum", g), mx.fn("softmax", a)))), acc)
    else:
        raise Unsupported(f"no rule for {name}()")


def forward(n: Node, dirs: dict[str, Node]) -> Node:
    """Forward mode: the derivative of ``n`` in the directions ``dirs`` (variable name -> tangent)."""
    op = n.op
    if op in ("num", "ones", "eye", "zero"):
        return mx.zero(n.shape)
    if op == "var":
        return dirs.get(n.data, mx.zero(n.shape))
    tangents = [forward(a, dirs) for a in n.args]
    if all(mx.is_zero(t) for t in tangents):
        return mx.zero(n.shape)
    args = n.args
    if op == "add":
        return mx.add(*(mx.scale(t, mx.ones(n.shape)) if t.scalar and not n.scalar else t for t in tangents))
    if op == "scale":
        return mx.add(mx.scale(tangents[0], args[1]), mx.scale(args[0], tangents[1]))
    if op == "matmul":
        return mx.add(*(mx.matmul(*args[:i], t, *args[i + 1 :]) for i, t in enumerate(tangents)))
    if op == "had":
        return mx.add(mx.hadamard(tangents[0], args[1]), mx.hadamard(args[0], tangents[1]))
    if op == "pow":
        return mx.hadamard(mx.scale(mx.num(n.data), mx.power(args[0], n.data - 1)), tangents[0])
    if op == "T":
        return mx.transpose(tangents[0])
    (a,), (da,) = args, tangents
    name = n.data
    if name == "log" and a.op == "fn" and a.data == "det":
        return mx.fn("trace", mx.matmul(mx.fn("inv", a.args[0]), forward(a.args[0], dirs)))
    if name in mx.ELEMENTWISE:
        return mx.hadamard(_derivative(name, a), da)
    if name in ("sum", "trace"):
        return mx.fn(name, da)
    if name == "det":
        return mx.scale(n, mx.fn("trace", mx.matmul(mx.fn("inv", a), da)))
    if name == "norm":
        return mx.scale(mx.power(n, Fraction(-1)), mx.matmul(mx.transpose(a), da))
    if name == "inv":
        return mx.neg(mx.matmul(n, da, n))
    if name == "softmax":
        return mx.add(mx.hadamard(n, da), mx.neg(mx.scale(mx.matmul(mx.transpose(n), da), n)))
    if name == "logsumexp":
        return mx.matmul(mx.transpose(mx.fn("softmax", a)), da)
    if name == "log_softmax":
        s = mx.fn("softmax", a)
        return mx.add(da, mx.neg(mx.scale(mx.matmul(mx.transpose(s), da), mx.ones(a.shape))))
    raise Unsupported(f"no rule for {name}()")


def _contains(n: Node, d: Node) -> bool:
    return n == d or any(_contains(a, d) for a in n.args)


def coefficient(t: Node, d: Node) -> Node:
    """The matrix M with ``t = M@d`` (``t`` linear in the column ``d``): a Jacobian, outputs × inputs."""
    n = d.shape[0]
    if t == d:
        return mx.eye(n)
    if not _contains(t, d):
        return mx.zero(((t.shape[0] if t.shape else 1), n))
    if t.op == "add":
        return mx.add(*(coefficient(term, d) for term in t.args))
    if t.op == "scale":
        c, m = t.args
        if _contains(c, d) and not _contains(m, d):
            return mx.matmul(m, coefficient(c, d)) if not m.scalar else mx.scale(m, coefficient(c, d))
        if not _contains(c, d):
            return mx.scale(c, coefficient(m, d))
    if t.op == "matmul":
        args, hits = t.args, [i for i, f in enumerate(t.args) if _contains(f, d)]
        if len(hits) == 1 and hits[0] == len(args) - 1:
            return mx.matmul(*args[:-1], coefficient(args[-1], d))
        if len(hits) == 1 and hits[0] == 0 and t.scalar and args[0] == mx.transpose(d):
            return mx.transpose(mx.matmul(*args[1:]))
    if t.op == "had":
        a, b = t.args
        if _contains(b, d) and not _contains(a, d):
            return mx.matmul(mx.fn("diag", a), coefficient(b, d))
        if _contains(a, d) and not _contains(b, d):
            return mx.matmul(mx.fn("diag", b), coefficient(a, d))
    if t.op == "fn" and t.data == "sum":
        (u,) = t.args
        return mx.matmul(mx.transpose(mx.ones(u.shape)), coefficient(u, d))
    raise Unsupported("the derivative is not a matrix times the direction")
