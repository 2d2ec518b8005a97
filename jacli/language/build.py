"""Building: validated statements -> SymPy, once the shapes of variables are known."""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import mpmath
import numpy as np
import sympy

from jacli import limits
from jacli.errors import ExpressionError, ShapeError, UsageError
from jacli.language import arrays
from jacli.language.arrays import (
    _ADD,
    _MUL,
    _POW,
    Value,
    _as_value,
    _matmul_products,
    element_label,
    elementwise,
    matmul,
    scalar,
    simplifying,
)
from jacli.language.constants import (
    _RELATION_HOLDS,
    _ConstantTooLarge,
    _Evaluator,
    _exact_step,
    _ExponentTooLarge,
    _is_constant,
    exact_sign,
)
from jacli.language.functions import CONSTANTS, FUNCTIONS, row_of
from jacli.language.parse import ParsedExpression, call_parts, node_description
from jacli.language.printing import user_text
from jacli.language.source import Source, _short, dimension_problem, ensure_recursion_room, max_elements

# ---------------------------------------------------------------------------
# Building: validated statements -> SymPy, once the shapes of variables are known.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    """A free name of the expression, its shape, and its element symbols (row-major)."""

    name: str
    shape: tuple[int, ...]
    symbols: tuple[sympy.Symbol, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.symbols)

    @property
    def size(self) -> int:
        return len(self.symbols)


def make_variable(name: str, shape: tuple[int, ...]) -> Variable:
    """A variable with one real symbol per element, labelled like ``A[0,1]``."""
    symbols = tuple(sympy.Symbol(element_label(name, i), real=True) for i in np.ndindex(shape))
    return Variable(name, tuple(shape), symbols)


@dataclass(frozen=True)
class Binding:
    """A let-bound element: ``symbol`` stands for ``value``."""

    symbol: sympy.Symbol
    value: sympy.Expr


@dataclass(frozen=True)
class Program:
    """An expression built for given variable shapes: SymPy outputs and bindings."""

    text: str
    variables: tuple[Variable, ...]
    bindings: tuple[Binding, ...]
    outputs: tuple[sympy.Expr, ...]
    output_shape: tuple[int, ...]

    @property
    def output_labels(self) -> tuple[str, ...]:
        if not self.output_shape:
            return ("f",)
        if len(self.output_shape) == 1:
            return tuple(f"f{i}" for i in range(self.output_shape[0]))
        return tuple(element_label("f", i) for i in np.ndindex(self.output_shape))

    def variable(self, name: str) -> Variable:
        return next(v for v in self.variables if v.name == name)


def build_program(parsed: ParsedExpression, shapes: dict[str, tuple[int, ...]]) -> Program:
    """Build SymPy outputs for the given variable shapes (``()`` for scalars)."""
    ensure_recursion_room()
    variables = tuple(make_variable(name, tuple(shapes[name])) for name in parsed.names)
    env: dict[str, Value] = {
        v.name: np.array(v.symbols, dtype=object).reshape(v.shape) if v.shape else scalar(v.symbols[0])
        for v in variables
    }
    bindings: list[Binding] = []
    builder = _Builder(parsed.source, env, hidden=_HiddenBindings(bindings, {*parsed.names, *parsed.bound}))
    outer, arrays.KNOWN_SIZES = arrays.KNOWN_SIZES, builder._sizes  # its sizes tell arrays._small (no recount)
    try:
        for stmt in parsed.statements[:-1]:
            assert stmt.target is not None
            value = builder.build(stmt.value)
            env[stmt.target] = _bind(stmt.target, value, bindings)
        result = builder.build(parsed.statements[-1].value)
    finally:
        arrays.KNOWN_SIZES = outer
    limit = max_elements()
    if result.size > limit:
        raise UsageError(
            f"the expression has {result.size:,} outputs; the limit is {limit:,} (set JACLI_MAX_ELEMENTS to raise it)"
        )
    outputs = tuple(sympy.Integer(e) if isinstance(e, int) else e for e in result.flat)
    return Program(parsed.text, variables, tuple(bindings), outputs, result.shape)


def _bind(name: str, value: Value, bindings: list[Binding]) -> Value:
    """Give each non-trivial element of a bound value a symbol named after the binding."""
    out = np.empty(value.shape, dtype=object)
    for index in np.ndindex(value.shape):
        element = value[index]
        if isinstance(element, sympy.Symbol | sympy.Number) or getattr(element, "is_Boolean", False):
            out[index] = element
        else:
            symbol = sympy.Symbol(element_label(name, index), real=True)
            bindings.append(Binding(symbol, element))
            out[index] = symbol
    return out


@dataclass
class _HiddenBindings:
    """Bindings the builder adds itself, named ``_w1``, ``_w2``, … (names the expression does not use)."""

    bindings: list[Binding]
    taken: set[str]
    count: int = 0

    def bind(self, value: sympy.Expr) -> sympy.Symbol:
        self.count += 1
        while f"_w{self.count}" in self.taken:
            self.count += 1
        symbol = sympy.Symbol(f"_w{self.count}", real=True)
        self.bindings.append(Binding(symbol, value))
        return symbol


def _check_number(source: Source, value: sympy.Expr, node: ast.AST) -> sympy.Expr:
    bits = max(int(value.p).bit_length(), int(value.q).bit_length()) if isinstance(value, sympy.Rational) else 0
    if bits > limits.MAX_INT_BITS:
        raise source.error(f"number too large (over {limits.MAX_INT_BITS:,} bits)", node)
    return value


class _Builder:
    """Walks validated ``ast`` nodes and builds object arrays of SymPy expressions."""

    def __init__(
        self,
        source: Source,
        env: dict[str, Value],
        constant_only: bool = False,
        hidden: _HiddenBindings | None = None,
    ) -> None:
        self.source = source
        self.env = env
        self.constant_only = constant_only
        self.hidden = hidden
        self._sizes: dict[int, tuple[Any, int, bool]] = {}
        self._evaluator = _Evaluator(strict=True)
        self.dispatch: dict[type, Callable[[Any], Value]] = {
            ast.BinOp: self._binop,
            ast.UnaryOp: self._unary,
            ast.Call: self._call,
            ast.Name: self._name,
            ast.Constant: self._number,
            ast.Tuple: self._array,
            ast.List: self._array,
            ast.Subscript: self._subscript,
            ast.Attribute: self._attribute,
        }

    def build(self, node: ast.AST, condition: bool = False) -> Value:
        if condition:
            return self._build_condition(node)
        handler = self.dispatch.get(type(node))
        if handler is None:
            if isinstance(node, ast.Compare | ast.BoolOp):
                raise self.source.error("comparisons are only allowed as the condition of where(cond, a, b)", node)
            raise self.source.error(f"{node_description(node)} is not part of the language", node)
        try:
            return self._guard(node, handler(node))
        except ShapeError as err:
            if isinstance(err, ExpressionError):
                raise
            raise self.source.error(str(err), node) from None
        except (TypeError, ValueError) as err:  # SymPy refuses ill-defined math: max(log(x, 1)) is max(zoo*log(x))
            raise self.source.error(f"this part is undefined ({_short(err)})", node) from None

    def _build_condition(self, node: ast.AST) -> Value:
        if isinstance(node, ast.Compare | ast.BoolOp):
            return self._condition(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return elementwise("not", simplifying(sympy.Not), self.build(node.operand, condition=True))
        # where(x, 1, 2): a number is not a condition (SymPy would read 1 as true)
        what = f"must be a comparison such as x > 0, not {_segment(self.source, node)}"
        raise self.source.error(f"the condition of where(cond, a, b) {what}", node)

    def _guard(self, node: ast.AST, value: Value) -> Value:
        """Refuse astronomically large constants and expressions, before SymPy works on them.

        SymPy evaluates functions of numbers as they are built (``floor``,
        ``Max``, comparisons); on a constant like ``exp(exp(exp(100)))`` that
        evaluation never ends, so each constant is measured as soon as it exists.
        """
        total = 0
        for element in value.flat if value.ndim else (value[()],):
            try:
                size, constant = self._info(element)
            except _ExponentTooLarge as err:
                raise self.source.error(
                    f"the exponent {_short(err.args[0])} is too large (integer powers up to 2**53)", node
                ) from None
            total += size
            if constant and isinstance(element, sympy.Expr) and not isinstance(element, sympy.Rational):
                try:
                    with mpmath.workprec(53):
                        self._evaluator.value(element)
                except _ConstantTooLarge:
                    raise self.source.error(
                        f"the constant {_short(sympy.sstr(element))} is too large "
                        f"(its magnitude is over 2**{limits.MAX_CONSTANT_BITS:,})",
                        node,
                    ) from None
        if total > limits.MAX_TREE_SIZE:
            raise self.source.error(
                f"this part of the expression grows to {total:,} symbolic terms; the limit is "
                f"{limits.MAX_TREE_SIZE:,} (give intermediate results names with let-bindings: 'C = A@B; ...')",
                node,
            )
        return value

    def _info(self, expr: Any) -> tuple[int, bool]:
        """Tree size and constancy of ``expr`` (memoized: cost proportional to new nodes)."""
        known = self._sizes.get(id(expr))  # by identity (no SymPy hashing); the entry holds the object alive
        if known is not None and known[0] is expr:
            return known[1], known[2]
        if not isinstance(expr, sympy.Basic):
            return 1, True
        if isinstance(expr, sympy.Symbol):
            size, constant = 1, False
        else:
            size, constant, sizes = 1, True, self._sizes
            for arg in expr.args:
                part = sizes.get(id(arg))  # measured already (most arguments): no call
                part_size, part_constant = part[1:] if part is not None and part[0] is arg else self._info(arg)
                size += part_size
                constant = constant and part_constant
            if isinstance(expr, sympy.Pow) and expr.exp.is_Integer and abs(expr.exp) > limits.MAX_INTEGER_EXPONENT:
                # float64 x**k is 0, 1 or inf for such k, and torch takes integer powers as int64;
                # checked on every new node because SymPy merges powers: (x**a)**b, x**a * x**b
                raise _ExponentTooLarge(expr.exp)
        self._sizes[id(expr)] = (expr, size, constant)
        return size, constant

    # -- leaves ------------------------------------------------------------

    def _name(self, node: ast.Name) -> Value:
        if node.id in CONSTANTS:
            return scalar(getattr(sympy, CONSTANTS[node.id]))
        if node.id in FUNCTIONS:
            raise self.source.error(f"{node.id!r} is a function; call it as {node.id}(...)", node)
        if node.id not in self.env:
            if self.constant_only:
                raise self.source.error(f"{node.id!r} is not a constant; values must be numbers", node)
            raise self.source.error(f"no value for {node.id!r}", node)
        return self.env[node.id]

    def _number(self, node: ast.Constant) -> Value:
        if self._literal_text(node)[:2].lower() in ("0x", "0o", "0b"):
            raise self.source.error("hexadecimal, octal and binary numbers are not part of the language", node)
        if isinstance(node.value, int):
            if node.value.bit_length() > limits.MAX_INT_BITS:
                raise self.source.error(f"number too large (over {limits.MAX_INT_BITS:,} bits)", node)
            return scalar(sympy.Integer(node.value))
        literal = self._literal_text(node)
        try:
            exponent = Decimal(literal).adjusted()
        except InvalidOperation:
            exponent = 0
        if abs(exponent) > limits.MAX_DECIMAL_EXPONENT:
            raise self.source.error(
                f"number {literal} is out of range (exponents up to ±{limits.MAX_DECIMAL_EXPONENT})", node
            )
        return scalar(sympy.Rational(literal))

    def _literal_text(self, node: ast.Constant) -> str:
        return (self.source.segment(node) or repr(node.value)).replace("_", "")

    # -- operators ----------------------------------------------------------

    def _binop(self, node: ast.BinOp) -> Value:
        op = type(node.op)
        if op in (ast.Add, ast.Sub):
            terms = [self.build(n) if s > 0 else self._negate(self.build(n)) for s, n in _chain(node, ast.Add, ast.Sub)]
            return self._checked(node, elementwise("+", _ADD, *terms))
        if op in (ast.Mult, ast.Div):
            factors = [self._factor(s, n) for s, n in _chain(node, ast.Mult, ast.Div)]
            return self._checked(node, elementwise("*", _MUL, *factors))
        if op is ast.Pow:
            base, exponent = self.build(node.left), self.build(node.right)
            return elementwise("**", lambda b, e: self._power(b, e, node), base, exponent)
        if op is ast.MatMult:
            left, right = self.build(node.left), self.build(node.right)
            products, limit = _matmul_products(left, right), 10 * max_elements()
            if products > limit:
                raise self.source.error(
                    f"@ would take {products:,} symbolic products; the limit is {limit:,} (10 × JACLI_MAX_ELEMENTS)",
                    node,
                )
            return matmul(left, right)
        symbol = {ast.Mod: "%", ast.FloorDiv: "//", ast.BitXor: "^", ast.BitAnd: "&", ast.BitOr: "|",
                  ast.LShift: "<<", ast.RShift: ">>"}.get(op, op.__name__)  # fmt: skip
        raise self.source.error(f"operator {symbol!r} is not part of the language", node)

    def _factor(self, sign: int, node: ast.AST) -> Value:
        value = self.build(node)
        if sign > 0:
            return value
        return elementwise("/", lambda x: self._reciprocal(x, node), value)

    def _reciprocal(self, x: sympy.Expr, node: ast.AST) -> sympy.Expr:
        return _check_number(self.source, _POW(x, sympy.S.NegativeOne), node)

    @staticmethod
    def _negate(value: Value) -> Value:
        return elementwise("-", lambda x: _MUL(sympy.S.NegativeOne, x), value)

    def _checked(self, node: ast.AST, value: Value) -> Value:
        for element in value.flat if value.ndim else (value[()],):
            _check_number(self.source, element, node)
        return value

    def _power(self, base: sympy.Expr, exponent: sympy.Expr, node: ast.AST) -> sympy.Expr:
        if isinstance(base, sympy.Rational) and isinstance(exponent, sympy.Rational):
            # bit_length - 1 <= log2|base| < bit_length: 2**9000 and 10**3000 pass, 2**10001 does not;
            # the result itself is checked after, so the estimate costs at most twice the limit
            bits = max(int(base.p).bit_length(), int(base.q).bit_length()) - 1
            if bits > 0 and abs(exponent) * bits > limits.MAX_INT_BITS:
                raise self.source.error(
                    f"{_short(base)}**{_short(exponent)} is too large to compute exactly "
                    f"(over {limits.MAX_INT_BITS:,} bits)",
                    node,
                )
        return _check_number(self.source, _POW(base, exponent), node)

    def _unary(self, node: ast.UnaryOp) -> Value:
        if isinstance(node.op, ast.USub):
            return self._negate(self.build(node.operand))
        if isinstance(node.op, ast.UAdd):
            return self.build(node.operand)
        what = "'not'" if isinstance(node.op, ast.Not) else "'~'"
        raise self.source.error(f"{what} is only allowed in the condition of where(cond, a, b)", node)

    def _condition(self, node: ast.Compare | ast.BoolOp) -> Value:
        if isinstance(node, ast.BoolOp):
            fn = simplifying(sympy.And if isinstance(node.op, ast.And) else sympy.Or)
            parts = [self.build(v, condition=True) for v in node.values]
            return elementwise("and/or", fn, *parts)
        relations = {ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt, ast.GtE: sympy.Ge,
                     ast.Eq: sympy.Eq, ast.NotEq: sympy.Ne}  # fmt: skip
        operands = [self._opaque(self.build(n)) for n in [node.left, *node.comparators]]
        parts = []
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            relation = relations.get(type(op))
            if relation is None:
                raise self.source.error(f"comparison {type(op).__name__!r} is not part of the language", node)
            try:
                compare = functools.partial(self._relation, relation, node=node)
                parts.append(elementwise("comparison", compare, left, right))
            except TypeError:  # SymPy refuses to order a number that is not real: acos(2) < x
                raise self.source.error(
                    "a comparison needs real numbers; one side is not real (or undefined)", node
                ) from None
        if len(parts) == 1:
            return parts[0]
        return elementwise("comparison", simplifying(sympy.And), *parts)

    def _relation(self, relation: type, a: sympy.Expr, b: sympy.Expr, node: ast.AST) -> sympy.Basic:
        """``a < b`` and the like; between constants, true or false, decided exactly (never by rounding)."""
        built = simplifying(relation)(a, b)
        if isinstance(built, sympy.logic.boolalg.BooleanAtom) or not _is_constant(a) or not _is_constant(b):
            return built
        sign = exact_sign(a - b)
        if sign is None:
            raise self.source.error(
                f"cannot decide exactly whether {_short(sympy.sstr(built))}: the two sides agree to "
                f"{limits.EXACT_DECISION_DIGITS} digits and do not simplify to the same value",
                node,
            )
        return sympy.true if _RELATION_HOLDS[relation](sign) else sympy.false

    def _opaque(self, value: Value) -> Value:
        """A comparison operand with a ``where`` inside, as a binding (a symbol to SymPy).

        SymPy rewrites a condition that contains a ``Piecewise`` into an ``ITE`` with
        ``simplify`` and inequality solving, at a cost without bound (a 60-deep nest of
        ``where(where(…) > 1, x, 2) + x`` took 36 s); a symbol in its place costs nothing.
        """
        if self.hidden is None:
            return value
        out = np.empty(value.shape, dtype=object)
        for index in np.ndindex(value.shape):
            element = value[index]
            has_where = isinstance(element, sympy.Basic) and element.has(sympy.Piecewise)
            out[index] = self.hidden.bind(element) if has_where else element
        return out

    # -- calls, arrays, indexing ----------------------------------------------

    def _call(self, node: ast.Call) -> Value:
        name, arg_nodes = call_parts(node)
        function = FUNCTIONS[name]
        keywords = {k.arg: self._axis(k.value) for k in node.keywords}
        if function.axis_arg is not None and len(arg_nodes) > function.axis_arg:
            keywords["axis"] = self._axis(arg_nodes[function.axis_arg])
            arg_nodes = arg_nodes[: function.axis_arg]
        args = [self.build(a, condition=function.condition_arg and i == 0) for i, a in enumerate(arg_nodes)]
        value = self._checked(node, _as_value(function.build(*args, **keywords)))
        if function.step:
            value = elementwise(name, lambda e: self._step(e, node), value)
        return value

    def _axis(self, node: ast.AST) -> int:
        message = f"an axis must be an integer constant, not {_segment(self.source, node)}"
        if any(isinstance(n, ast.Name) and n.id not in CONSTANTS for n in ast.walk(node)):
            raise self.source.error(message, node)
        value = _Builder(self.source, {}, constant_only=True).build(node)
        if value.shape != () or not isinstance(value[()], sympy.Integer):
            raise self.source.error(message, node)
        return int(value[()])

    def _attribute(self, node: ast.Attribute) -> Value:
        """``A.T``; a function named as a method but not called (``x.sum``) is refused."""
        if node.attr != "T":
            raise self.source.error(
                f"{_segment(self.source, node)} is a function; call it as {_segment(self.source, node)}(...)", node
            )
        return FUNCTIONS["transpose"].build(self.build(node.value))

    def _step(self, expr: sympy.Expr, node: ast.AST) -> sympy.Expr:
        """``sign``, ``floor`` or ``ceil`` of a constant that SymPy left open, decided exactly."""
        row = row_of(expr)
        if row is None or not row.step or not _is_constant(expr):
            return expr
        decided = _exact_step(expr)
        if decided is None:
            raise self.source.error(
                f"cannot decide {_short(user_text(expr))} exactly: its argument is too close to a "
                f"jump to tell apart in {limits.EXACT_DECISION_DIGITS} digits and does not simplify",
                node,
            )
        return decided

    def _array(self, node: ast.Tuple | ast.List) -> Value:
        if not node.elts:
            raise self.source.error("empty array", node)
        if len(node.elts) > max_elements():
            raise self.source.error(
                f"array has {len(node.elts):,} elements; the limit is {max_elements():,} "
                "(set JACLI_MAX_ELEMENTS to raise it)",
                node,
            )
        elements = [self.build(e) for e in node.elts]
        shape = elements[0].shape
        problem = dimension_problem(len(shape) + 1)
        if problem is not None:
            raise self.source.error(problem, node)
        for position, element in enumerate(elements[1:], start=2):
            if element.shape != shape:
                raise self.source.error(
                    f"array literal: element {position} has shape {element.shape} but element 1 has shape {shape}",
                    node.elts[position - 1],
                )
        size = len(elements) * (elements[0].size or 1)
        if size > max_elements():
            raise self.source.error(
                f"array has {size:,} elements; the limit is {max_elements():,} (set JACLI_MAX_ELEMENTS to raise it)",
                node,
            )
        out = np.empty((len(elements), *shape), dtype=object)
        for i, element in enumerate(elements):
            out[i, ...] = element
        return out

    def _subscript(self, node: ast.Subscript) -> Value:
        value = self.build(node.value)
        if value.ndim == 0:
            raise self.source.error("cannot index a scalar", node)
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        index = tuple(self._index_part(p) for p in parts)
        if len(index) > value.ndim:
            raise self.source.error(f"too many indices ({len(index)}) for an array of shape {value.shape}", node)
        try:
            return _as_value(value[index])
        except IndexError:
            raise self.source.error(f"index out of range for an array of shape {value.shape}", node) from None

    def _index_part(self, node: ast.AST) -> int | slice:
        if isinstance(node, ast.Slice):
            bounds = [None if n is None else self._integer(n) for n in (node.lower, node.upper, node.step)]
            if bounds[2] == 0:
                raise self.source.error("slice step cannot be zero", node)
            return slice(*bounds)
        return self._integer(node)

    def _integer(self, node: ast.AST) -> int:
        value = _Builder(self.source, {}, constant_only=True).build(node)
        if value.shape != () or not isinstance(value[()], sympy.Integer):
            raise self.source.error("indices must be integer constants", node)
        return int(value[()])


def _chain(node: ast.BinOp, plus: type, minus: type) -> list[tuple[int, ast.AST]]:
    """Flatten a left-associative chain like ``a - b + c`` into signed operands.

    One SymPy ``Add``/``Mul`` for the whole chain keeps long sums linear, not quadratic.
    """
    items: list[tuple[int, ast.AST]] = []
    current: ast.AST = node
    while isinstance(current, ast.BinOp) and isinstance(current.op, plus | minus):
        items.append((1 if isinstance(current.op, plus) else -1, current.right))
        current = current.left
    items.append((1, current))
    return items[::-1]


def _segment(source: Source, node: ast.AST) -> str:
    """The user's text of ``node``, shortened, for messages."""
    return _short(source.segment(node) or "?")
