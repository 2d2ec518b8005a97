"""The expression language: user text -> SymPy objects, through a whitelist over ``ast``.

User text is data. It is checked character by character, ``^`` is rewritten to
``**``, and Python's ``ast`` parses it; a walker then accepts only the node
types in its dispatch table and builds SymPy objects directly. Nothing is ever
handed to ``eval``, ``exec``, ``sympify`` or ``parse_expr``.

Every value in the walker is a NumPy object array of SymPy expressions (0-d for
a scalar), so broadcasting, indexing and stacking follow NumPy's rules.

>>> program = build_program(parse_expression("2*x0+x1^2, x0**2"), {"x0": (), "x1": ()})
>>> program.outputs
(2*x0 + x1**2, x0**2)
"""

from __future__ import annotations

import ast
import difflib
import functools
import math
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import mpmath
import numpy as np
import sympy

from jacli.errors import ExpressionError, ShapeError, UsageError

# ---------------------------------------------------------------------------
# Limits. The large ones can be raised through the environment.
# ---------------------------------------------------------------------------

DEFAULT_MAX_LENGTH = 1_000_000
"""Characters in one expression (``JACLI_MAX_LENGTH``)."""
DEFAULT_MAX_ELEMENTS = 10_000
"""Elements of one array value, outputs, or inputs (``JACLI_MAX_ELEMENTS``)."""
MAX_NESTING = 100
"""Bracket nesting depth."""
MAX_DIMENSIONS = 32
"""Dimensions of one array (NumPy iterates over at most 32)."""
MAX_NAME_LENGTH = 64
MAX_INT_BITS = 10_000
"""Size of an exact integer or rational the parser may build (~3000 digits)."""
MAX_DECIMAL_EXPONENT = 1000
"""``1e1000`` is accepted exactly; ``1e1001`` is refused."""
MAX_INTEGER_EXPONENT = 2**53
"""Largest integer exponent (``x**(10**9)`` is fine; ``x**(2**100)`` is refused)."""
MAX_CONSTANT_BITS = 100_000
"""Magnitude of any constant the parser builds: ``|c| < 2**100000`` (about 10**30103)."""
MAX_TREE_SIZE = 1_000_000
"""Symbolic terms (SymPy tree nodes) in one built value, e.g. ``A@A@A@A@A@A`` of 10×10 matrices."""


RECURSION_LIMIT = 5_000
"""Python frames allowed while an expression is parsed, built and lowered. The walker takes
about ten frames per bracket and SymPy's own recursion one or two per tree level, so
:data:`MAX_NESTING` brackets need more than Python's default of 1000; far below the
~20,000 frames at which the C stack (8 MB) would overflow."""


def ensure_recursion_room() -> None:
    """Raise Python's recursion limit to :data:`RECURSION_LIMIT` (never lower it)."""
    if sys.getrecursionlimit() < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)


ensure_recursion_room()  # at import, once: a limit changed later, mid-computation, surprises other code


def dimension_problem(ndim: int) -> str | None:
    """Why an array of ``ndim`` dimensions is refused, or None (for any reader of arrays: text, points files, API)."""
    if ndim > MAX_DIMENSIONS:
        return f"this array has {ndim} dimensions; the limit is {MAX_DIMENSIONS}"
    return None


def _env_limit(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"{name} must be a positive integer, not {raw!r}") from None
    if value <= 0:
        raise UsageError(f"{name} must be a positive integer, not {raw!r}")
    return value


def max_length() -> int:
    """Longest accepted expression, in characters."""
    return _env_limit("JACLI_MAX_LENGTH", DEFAULT_MAX_LENGTH)


def max_elements() -> int:
    """Most elements in one array, in the outputs, or in the inputs."""
    return _env_limit("JACLI_MAX_ELEMENTS", DEFAULT_MAX_ELEMENTS)


RESULT_ENTRIES_PER_ELEMENT = 200
"""A Jacobian or Hessian may have this many entries per allowed element (``JACLI_MAX_ELEMENTS``)."""


def check_result_size(what: str, shape: Sequence[int]) -> None:
    """Refuse, before any work, a result with more than ``200 × max_elements()`` entries.

    The default, 2,000,000 entries, admits the Hessian of a function of 1000
    variables and keeps a result's memory (tensor, floats, text) in the low hundreds of MB.

    >>> check_result_size("Hessian", (1500, 1500))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    jacli.errors.UsageError: the Hessian would have 2,250,000 entries (1500 × 1500); the limit is 2,000,000 ...
    """
    size, limit = math.prod(shape), RESULT_ENTRIES_PER_ELEMENT * max_elements()
    if size > limit:
        raise UsageError(
            f"the {what} would have {size:,} entries ({' × '.join(map(str, shape))}); the limit is {limit:,} "
            "(differentiate w.r.t. fewer variables with --wrt, or set JACLI_MAX_ELEMENTS)"
        )


# ---------------------------------------------------------------------------
# SymPy functions of our own: derivative rules that SymPy lacks or gets wrong.
# ---------------------------------------------------------------------------


class detach(sympy.Function):  # noqa: N801 - printed as the user typed it
    """The value of its argument with derivative zero (``tensor.detach()``)."""

    nargs = 1

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        return arg if arg.is_number else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero

    def _eval_evalf(self, prec: int) -> sympy.Expr:
        return self.args[0]._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real


class sigmoid(sympy.Function):  # noqa: N801
    """The logistic function ``1/(1+exp(-x))``."""

    nargs = 1

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        return 1 / (1 + sympy.exp(-arg)) if arg.is_number else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return self * (1 - self)

    def _eval_rewrite_as_exp(self, arg: sympy.Expr, **kwargs: Any) -> sympy.Expr:
        return 1 / (1 + sympy.exp(-arg))

    def _eval_evalf(self, prec: int) -> sympy.Expr:
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real


class softplus(sympy.Function):  # noqa: N801
    """``log(1+exp(x))``, a smooth relu."""

    nargs = 1

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        return sympy.log(1 + sympy.exp(arg)) if arg.is_number else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, arg: sympy.Expr, **kwargs: Any) -> sympy.Expr:
        return sympy.log(1 + sympy.exp(arg))

    def _eval_evalf(self, prec: int) -> sympy.Expr:
        return self.rewrite(sympy.exp)._eval_evalf(prec)

    def _eval_is_real(self) -> bool | None:
        return self.args[0].is_real


class floor(sympy.floor):  # noqa: N801
    """``floor`` with derivative zero (where it exists), as in torch; exact on constants.

    SymPy's own rounding of a constant can be wrong: it makes
    ``floor((sqrt(2) + sqrt(3))**2 - 5 - 2*sqrt(6) - 10**-40 + 5)`` 5, not 4.
    """

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        if arg.is_number and not arg.is_Rational:
            return _exact_floor(arg)  # None (left as it is) when it cannot be decided
        return super().eval(arg)

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero


class ceiling(sympy.ceiling):  # noqa: N801
    """``ceil`` with derivative zero (where it exists), as in torch; exact on constants."""

    @classmethod
    def eval(cls, arg: sympy.Expr) -> sympy.Expr | None:
        if arg.is_number and not arg.is_Rational:
            below = _exact_floor(-arg)
            return None if below is None else -below
        return super().eval(arg)

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero


# ---------------------------------------------------------------------------
# Values: NumPy object arrays of SymPy expressions.
# ---------------------------------------------------------------------------

Value = np.ndarray


def scalar(expr: Any) -> Value:
    """A 0-d object array holding ``expr``."""
    out = np.empty((), dtype=object)
    out[()] = expr
    return out


def _as_value(result: Any) -> Value:
    return result if isinstance(result, np.ndarray) else scalar(result)


def _broadcast_shape(what: str, values: Sequence[Value]) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*(v.shape for v in values)))
    except ValueError:
        shapes = " and ".join(str(v.shape) for v in values)
        raise ShapeError(f"{what}: shapes {shapes} do not broadcast") from None


def elementwise(what: str, fn: Callable[..., Any], *values: Value) -> Value:
    """Apply ``fn`` to matching elements of ``values``, broadcasting like torch."""
    shape = _broadcast_shape(what, values)
    size, limit = math.prod(shape), max_elements()
    if size > limit:
        raise ShapeError(
            f"{what}: the result would have {size:,} elements; the limit is {limit:,} "
            "(set JACLI_MAX_ELEMENTS to raise it)"
        )
    arrays = np.broadcast_arrays(*values) if len(values) > 1 else values
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(shape):
        out[index] = fn(*(a[index] for a in arrays))
    return out


# ---------------------------------------------------------------------------
# The function table: the only callables user text can reach.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionSpec:
    """An allowed function: how many arguments it takes and how it builds."""

    min_args: int
    max_args: int | None
    build: Callable[..., Value]
    summary: str
    condition_arg: bool = False  # first argument is a condition (where)


EVALUATE_MAX_NODES = 24
"""SymPy simplifies a function as it is built (``Abs.eval`` runs ``signsimp`` and assumption
queries over the whole argument) at a cost that grows faster than the argument's size:
``abs(abs(…abs(x - 1)…) - 1)`` 99 deep took 29 s. A function, comparison or ``where`` of an
argument with more nodes than this is built unevaluated (same value, SymPy's form)."""


def _small(expr: Any) -> bool:
    """At most :data:`EVALUATE_MAX_NODES` nodes (the count stops there: constant time)."""
    count, pending = 0, [expr]
    while pending:
        node = pending.pop()
        count += 1
        if count > EVALUATE_MAX_NODES:
            return False
        pending.extend(getattr(node, "args", ()))
    return True


def simplifying(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn(*args)``, with SymPy's automatic simplification only when every argument is small."""

    def build(*args: Any) -> Any:
        if all(_small(a) for a in args):
            return fn(*args)
        return fn(*args, evaluate=False)

    return build


_ADD, _MUL, _POW = simplifying(sympy.Add), simplifying(sympy.Mul), simplifying(sympy.Pow)


def _log_base(x: Any, base: Any, evaluate: bool = True) -> sympy.Expr:
    if evaluate:
        return sympy.log(x, base)
    return sympy.Mul(sympy.log(x, evaluate=False), sympy.Pow(sympy.log(base), -1), evaluate=False)


def _unary(fn: Callable[..., Any], name: str) -> Callable[..., Value]:
    build = simplifying(fn)
    return lambda arg: elementwise(name, build, arg)


def _log(arg: Value, base: Value | None = None) -> Value:
    if base is None:
        return elementwise("log", simplifying(sympy.log), arg)
    return elementwise("log", simplifying(_log_base), arg, base)


def _extremum(fn: type, name: str) -> Callable[..., Value]:
    build = simplifying(fn)

    def apply(*args: Value) -> Value:
        if len(args) == 1:  # max(v): the largest element of an array
            return scalar(build(*args[0].flat))
        return elementwise(name, build, *args)

    return apply


def _piecewise(cond: Any, a: Any, b: Any, evaluate: bool = True) -> sympy.Expr:
    return sympy.Piecewise((a, cond), (b, True), evaluate=evaluate)


def _where(cond: Value, when_true: Value, when_false: Value) -> Value:
    return elementwise("where", simplifying(_piecewise), cond, when_true, when_false)


def _sum(arg: Value) -> Value:
    return scalar(sympy.Add(*arg.flat))


def _dot(a: Value, b: Value) -> Value:
    if a.ndim != 1 or a.shape != b.shape:
        raise ShapeError(f"dot needs two vectors of the same length, got shapes {a.shape} and {b.shape}")
    return scalar(sympy.Add(*(x * y for x, y in zip(a.flat, b.flat, strict=True))))


FUNCTIONS: dict[str, FunctionSpec] = {
    name: FunctionSpec(1, 1, _unary(fn, name), summary)
    for name, fn, summary in [
        ("sin", sympy.sin, "sine"),
        ("cos", sympy.cos, "cosine"),
        ("tan", sympy.tan, "tangent"),
        ("asin", sympy.asin, "inverse sine"),
        ("acos", sympy.acos, "inverse cosine"),
        ("atan", sympy.atan, "inverse tangent"),
        ("sinh", sympy.sinh, "hyperbolic sine"),
        ("cosh", sympy.cosh, "hyperbolic cosine"),
        ("tanh", sympy.tanh, "hyperbolic tangent"),
        ("exp", sympy.exp, "exponential"),
        ("log2", lambda x, **kw: _log_base(x, 2, **kw), "base-2 logarithm"),
        ("log10", lambda x, **kw: _log_base(x, 10, **kw), "base-10 logarithm"),
        ("sqrt", sympy.sqrt, "square root"),
        ("abs", sympy.Abs, "absolute value"),
        ("sign", sympy.sign, "sign: -1, 0 or 1"),
        ("floor", floor, "round down (derivative 0)"),
        ("ceil", ceiling, "round up (derivative 0)"),
        ("erf", sympy.erf, "error function"),
        ("sigmoid", sigmoid, "logistic function 1/(1+exp(-x))"),
        ("softplus", softplus, "log(1+exp(x))"),
        ("relu", lambda x, **kw: sympy.Max(0, x, **kw), "max(0, x)"),
        ("detach", detach, "value of the argument, derivative zero"),
    ]
} | {
    "log": FunctionSpec(1, 2, _log, "natural logarithm; log(x, b) in base b"),
    "atan2": FunctionSpec(2, 2, lambda y, x: elementwise("atan2", simplifying(sympy.atan2), y, x), "atan2(y, x)"),
    "min": FunctionSpec(1, None, _extremum(sympy.Min, "min"), "smallest argument, or element of one array"),
    "max": FunctionSpec(1, None, _extremum(sympy.Max, "max"), "largest argument, or element of one array"),
    "where": FunctionSpec(3, 3, _where, "where(cond, a, b): a where cond holds, else b", condition_arg=True),
    "sum": FunctionSpec(1, 1, _sum, "sum of the elements of an array"),
    "dot": FunctionSpec(2, 2, _dot, "dot(a, b): inner product of two vectors"),
}

CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi, "e": sympy.E}
RESERVED = frozenset(FUNCTIONS) | frozenset(CONSTANTS)

# ---------------------------------------------------------------------------
# Source text: character checks and the ``^`` rewrite, keeping columns.
# ---------------------------------------------------------------------------

_LOOKALIKES = {
    "\u00d7": "*",  # ×
    "\u00b7": "*",  # ·
    "\u22c5": "*",  # ⋅
    "\u2217": "*",  # ∗
    "\u2212": "-",  # −
    "\u2013": "-",  # –
    "\u2014": "-",  # —
    "\u00f7": "/",  # ÷
    "\u00b2": "**2",  # ²
    "\u00b3": "**3",  # ³
    "\u03c0": "pi",  # π
    "\u221a": "sqrt",  # √
    "\u2264": "<=",  # ≤
    "\u2265": ">=",  # ≥
}


def _character_problem(ch: str) -> str:
    if ch == "\0":
        return "NUL byte"
    if ch in _LOOKALIKES:
        return f"character {ch!r} (U+{ord(ch):04X}); use {_LOOKALIKES[ch]!r}"
    ascii_form = unicodedata.normalize("NFKC", ch)
    if ascii_form.isascii() and ascii_form.isprintable() and ascii_form != ch:
        return f"character {ch!r} (U+{ord(ch):04X}); use {ascii_form!r}"
    if ch.isascii():
        return f"control character U+{ord(ch):04X}"
    return f"character {ch!r} (U+{ord(ch):04X}); only ASCII is allowed"


@dataclass(frozen=True)
class Source:
    """User text rewritten for ``ast``, with a map back to the user's columns."""

    original: str
    text: str
    origin: tuple[int, ...]  # origin[i]: index in ``original`` of text[i]
    prefix: int = 0  # characters we put in front of the user's text
    line_starts: tuple[int, ...] = field(default=(0,))

    def column(self, lineno: int | None, col_offset: int | None) -> int | None:
        """Index in the original text of a (1-based line, 0-based column) of ``text``."""
        if lineno is None or col_offset is None:
            return None
        line = min(max(lineno, 1), len(self.line_starts)) - 1
        index = min(max(self.line_starts[line] + col_offset, 0), len(self.origin) - 1)
        return max(self.origin[index] - self.prefix, 0)

    def segment(self, node: ast.AST) -> str | None:
        """The rewritten text of ``node`` (``ast.get_source_segment`` splits the whole text on every call)."""
        try:
            start = self.line_starts[node.lineno - 1] + node.col_offset  # type: ignore[attr-defined]
            end = self.line_starts[node.end_lineno - 1] + node.end_col_offset  # type: ignore[attr-defined]
        except (AttributeError, IndexError, TypeError):
            return None
        return self.text[start:end]

    def error(self, message: str, node: ast.AST | None = None) -> ExpressionError:
        col = self.column(getattr(node, "lineno", None), getattr(node, "col_offset", None))
        where = f" at column {col + 1}" if col is not None and "\n" not in self.original else ""
        return ExpressionError(message + where, _printable(self.original), col)


def _printable(text: str) -> str:
    """``text`` for echoing on a terminal: control characters become '?' (one for one, so columns hold)."""
    return "".join(ch if ch.isprintable() or ch in "\t\n" else "?" for ch in text)


def prepare_source(text: str, prefix: str = "", suffix: str = "", what: str = "expression") -> Source:
    """Check characters and length, rewrite ``^`` to ``**``, strip indentation."""
    if len(text) > max_length():
        raise UsageError(
            f"{what} is {len(text):,} characters long; the limit is {max_length():,} (set JACLI_MAX_LENGTH to raise it)"
        )
    for index, ch in enumerate(text):
        if not (ch.isascii() and (ch.isprintable() or ch in "\t\n\r")):
            raise ExpressionError(
                f"{what} contains a {_character_problem(ch)} at column {index + 1}", _printable(text), index
            )
    out: list[str] = list(prefix)
    origin: list[int] = [0] * len(prefix)
    at_line_start = True
    for index, raw in enumerate(text):
        # CRLF is one line break, a bare CR is one too (never deleted: x*2<CR>3 is not x*23)
        if raw == "\r" and text[index + 1 : index + 2] == "\n":
            continue
        ch = "\n" if raw == "\r" else raw
        if at_line_start and ch in " \t":
            continue  # indentation means nothing in this language
        at_line_start = ch == "\n"
        piece = "**" if ch == "^" else ch
        out.extend(piece)
        origin.extend([index + len(prefix)] * len(piece))
    out.extend(suffix)
    origin.extend([len(text) + len(prefix)] * (len(suffix) + 1))
    rewritten = "".join(out)
    starts = [0] + [m.end() for m in re.finditer("\n", rewritten)]
    return Source(text, rewritten, tuple(origin), len(prefix), tuple(starts))


def _check_nesting(source: Source) -> None:
    depth = 0
    for index, ch in enumerate(source.text):
        if ch in "([{":
            depth += 1
            if depth > MAX_NESTING:
                col = max(source.origin[index] - source.prefix, 0)
                raise ExpressionError(
                    f"brackets nested more than {MAX_NESTING} deep at column {col + 1}",
                    source.original,
                    col,
                )
        elif ch in ")]}":
            depth -= 1


def _parse_ast(source: Source, mode: str) -> ast.AST:
    _check_nesting(source)
    try:
        return ast.parse(source.text, mode=mode)
    except SyntaxError as err:
        message = (err.msg or "invalid syntax").split(" - Consider")[0]
        if "Exceeds the limit" in message:
            message = "integer literal too long"
        raise source.error(
            f"syntax error: {message}",
            _Position(err.lineno, (err.offset or 1) - 1),
        ) from None
    except (RecursionError, MemoryError):
        raise ExpressionError(
            "expression is nested too deeply or chains too many operators for the parser "
            "(about 20,000 terms in one sum at most; split it with let-bindings)",
            source.original,
            None,
        ) from None


@dataclass(frozen=True)
class _Position:
    lineno: int | None
    col_offset: int


# ---------------------------------------------------------------------------
# Natural order of names.
# ---------------------------------------------------------------------------


def natural_key(name: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key: digit runs compare as numbers, letter runs by code point.

    >>> sorted(["x10", "y", "x2", "a", "A", "x", "x0"], key=natural_key)
    ['A', 'a', 'x', 'x0', 'x2', 'x10', 'y']
    """
    return tuple((0, int(run), run) if run.isdigit() else (1, 0, run) for run in re.findall(r"\d+|\D+", name))


# ---------------------------------------------------------------------------
# Parsing: text -> validated statements and free names.
# ---------------------------------------------------------------------------

_NODE_NAMES = {
    ast.Attribute: "attribute access ('.')",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "generator expressions",
    ast.NamedExpr: "':=' assignment",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.Dict: "braces '{}'",
    ast.Set: "braces '{}'",
    ast.Starred: "'*' unpacking",
    ast.IfExp: "'if' expressions (use where(cond, a, b))",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices outside brackets",
}

_STATEMENT_NAMES = {
    ast.Import: "import",
    ast.ImportFrom: "import",
    ast.FunctionDef: "def",
    ast.AsyncFunctionDef: "def",
    ast.ClassDef: "class",
    ast.Return: "return",
    ast.Delete: "del",
    ast.AugAssign: "augmented assignment (+= and the like)",
    ast.AnnAssign: "annotations",
    ast.For: "for loops",
    ast.AsyncFor: "for loops",
    ast.While: "while loops",
    ast.If: "if statements (use where(cond, a, b))",
    ast.With: "with",
    ast.AsyncWith: "with",
    ast.Raise: "raise",
    ast.Try: "try",
    ast.Assert: "assert",
    ast.Global: "global",
    ast.Nonlocal: "nonlocal",
    ast.Pass: "pass",
    ast.Break: "break",
    ast.Continue: "continue",
}


def _node_description(node: ast.AST) -> str:
    if isinstance(node, ast.Constant):
        kind = type(node.value).__name__
        return {"str": "string literals", "bytes": "bytes literals", "bool": "True/False"}.get(kind, f"{kind} literals")
    return _NODE_NAMES.get(type(node), type(node).__name__)


@dataclass(frozen=True)
class Statement:
    """One statement: ``name = value`` (a binding) or the final ``value``."""

    target: str | None
    value: ast.expr


@dataclass(frozen=True)
class ParsedExpression:
    """Validated statements of an expression and its free names, in natural order."""

    text: str
    source: Source
    statements: tuple[Statement, ...]
    names: tuple[str, ...]
    bound: tuple[str, ...]


def _check_name(source: Source, name: str, node: ast.AST) -> None:
    if name.startswith("__"):
        raise source.error(f"names starting with '__' are not allowed: {name!r}", node)
    if len(name) > MAX_NAME_LENGTH:
        raise source.error(f"name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}", node)


def _suggestion(name: str) -> str:
    close = difflib.get_close_matches(name, sorted(FUNCTIONS), n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; the functions are {', '.join(sorted(FUNCTIONS))}"


def parse_expression(text: str) -> ParsedExpression:
    """Parse and validate ``text``; the free names come out in natural order.

    >>> parse_expression("c = a+b; d = b+1; c*d").names
    ('a', 'b')
    """
    ensure_recursion_room()
    source = prepare_source(text)
    if not text.strip(" \t\r\n;"):
        raise ExpressionError("empty expression", text, None)
    module = _parse_ast(source, "exec")
    assert isinstance(module, ast.Module)
    statements: list[Statement] = []
    for stmt in module.body:
        if isinstance(stmt, ast.Expr):
            statements.append(Statement(None, stmt.value))
        elif isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                raise source.error("only 'name = expression' bindings are allowed", stmt)
            statements.append(Statement(stmt.targets[0].id, stmt.value))
        else:
            kind = _STATEMENT_NAMES.get(type(stmt), type(stmt).__name__)
            raise source.error(f"{kind} is not part of the language", stmt)
    if not statements:
        raise ExpressionError("empty expression", text, None)
    for stmt in statements[:-1]:
        if stmt.target is None:
            raise source.error(
                "only the last statement may be a bare expression; bind the others with 'name = ...'",
                stmt.value,
            )
    if statements[-1].target is not None:
        raise source.error(
            f"the last statement binds {statements[-1].target!r}; end with the expression to differentiate",
            statements[-1].value,
        )
    free: dict[str, None] = {}
    bound: dict[str, None] = {}
    for stmt in statements:
        for node in ast.walk(stmt.value):
            _validate_node(source, node)
            if isinstance(node, ast.Name) and node.id not in RESERVED and node.id not in bound:
                free[node.id] = None
        if stmt.target is not None:
            _check_binding_target(source, stmt, free, bound)
            bound[stmt.target] = None
    return ParsedExpression(text, source, tuple(statements), tuple(sorted(free, key=natural_key)), tuple(bound))


def _check_binding_target(source: Source, stmt: Statement, free: dict, bound: dict) -> None:
    name = stmt.target
    assert name is not None
    _check_name(source, name, stmt.value)
    if name in RESERVED:
        raise source.error(f"{name!r} is a reserved name and cannot be bound", stmt.value)
    if name in bound:
        raise source.error(f"{name!r} is bound twice; use a new name", stmt.value)
    if name in free:
        raise source.error(f"{name!r} is used before it is bound", stmt.value)


_ALLOWED_NODES = (
    ast.BinOp,
    ast.UnaryOp,
    ast.Call,
    ast.Name,
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.Subscript,
    ast.Slice,
    ast.Compare,
    ast.BoolOp,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.boolop,
    ast.expr_context,
)


def _validate_node(source: Source, node: ast.AST) -> None:
    """Refuse, by name, every node outside the language (before anything is built)."""
    if not isinstance(node, _ALLOWED_NODES):
        raise source.error(f"{_node_description(node)} is not part of the language", node)
    if isinstance(node, ast.Constant) and (isinstance(node.value, bool) or not isinstance(node.value, int | float)):
        raise source.error(f"{_node_description(node)} is not part of the language", node)
    if isinstance(node, ast.Name):
        _check_name(source, node.id, node)
    if isinstance(node, ast.Call):
        _validate_call(source, node)


def _validate_call(source: Source, node: ast.Call) -> None:
    if not isinstance(node.func, ast.Name):
        raise source.error("only the functions of the language can be called", node)
    name = node.func.id
    if name not in FUNCTIONS:
        raise source.error(f"unknown function {name!r}{_suggestion(name)}", node)
    if node.keywords:
        raise source.error(f"{name}() takes no keyword arguments", node)
    spec = FUNCTIONS[name]
    count = len(node.args)
    if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
        raise source.error(f"{name}() takes {_arity(spec)}, got {count}", node)


def _arity(spec: FunctionSpec) -> str:
    if spec.max_args == spec.min_args:
        return f"{spec.min_args} argument{'s' if spec.min_args != 1 else ''}"
    if spec.max_args is None:
        return f"at least {spec.min_args} argument{'s' if spec.min_args != 1 else ''}"
    return f"{spec.min_args} to {spec.max_args} arguments"


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


def element_label(name: str, index: tuple[int, ...]) -> str:
    """``x`` for a scalar, ``a[0]``, ``A[0,1]`` for array elements."""
    return name if not index else f"{name}[{','.join(map(str, index))}]"


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
    for stmt in parsed.statements[:-1]:
        assert stmt.target is not None
        value = builder.build(stmt.value)
        env[stmt.target] = _bind(stmt.target, value, bindings)
    result = builder.build(parsed.statements[-1].value)
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
    if isinstance(value, sympy.Rational) and max(int(value.p).bit_length(), int(value.q).bit_length()) > MAX_INT_BITS:
        raise source.error(f"number too large (over {MAX_INT_BITS:,} bits)", node)
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
        self._sizes: dict[Any, tuple[int, bool]] = {}
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
        }

    def build(self, node: ast.AST, condition: bool = False) -> Value:
        if condition and isinstance(node, ast.Compare | ast.BoolOp):
            return self._condition(node)
        if condition and isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return elementwise("not", simplifying(sympy.Not), self.build(node.operand, condition=True))
        if condition:  # where(x, 1, 2): a number is not a condition (SymPy would read 1 as true)
            raise self.source.error(
                "the condition of where(cond, a, b) must be a comparison such as x > 0, "
                f"not {_segment(self.source, node)}",
                node,
            )
        handler = self.dispatch.get(type(node))
        if handler is None:
            if isinstance(node, ast.Compare | ast.BoolOp):
                raise self.source.error("comparisons are only allowed as the condition of where(cond, a, b)", node)
            raise self.source.error(f"{_node_description(node)} is not part of the language", node)
        try:
            return self._guard(node, handler(node))
        except ShapeError as err:
            if isinstance(err, ExpressionError):
                raise
            raise self.source.error(str(err), node) from None
        except (TypeError, ValueError) as err:  # SymPy refuses ill-defined math: max(log(x, 1)) is max(zoo*log(x))
            raise self.source.error(f"this part is undefined ({_short(err)})", node) from None

    def _guard(self, node: ast.AST, value: Value) -> Value:
        """Refuse astronomically large constants and expressions, before SymPy works on them.

        SymPy evaluates functions of numbers as they are built (``floor``,
        ``Max``, comparisons); on a constant like ``exp(exp(exp(100)))`` that
        evaluation never ends, so each constant is measured as soon as it exists.
        """
        total = 0
        for element in value.flat:
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
                        f"(its magnitude is over 2**{MAX_CONSTANT_BITS:,})",
                        node,
                    ) from None
        if total > MAX_TREE_SIZE:
            raise self.source.error(
                f"this part of the expression grows to {total:,} symbolic terms; the limit is "
                f"{MAX_TREE_SIZE:,} (give intermediate results names with let-bindings: 'C = A@B; ...')",
                node,
            )
        return value

    def _info(self, expr: Any) -> tuple[int, bool]:
        """Tree size and constancy of ``expr`` (memoized: cost proportional to new nodes)."""
        known = self._sizes.get(expr)
        if known is None:
            if not isinstance(expr, sympy.Basic):
                return 1, True
            if isinstance(expr, sympy.Symbol):
                known = (1, False)
            else:
                parts = [self._info(a) for a in expr.args]
                known = (1 + sum(p[0] for p in parts), all(p[1] for p in parts))
                if isinstance(expr, sympy.Pow) and expr.exp.is_Integer and abs(expr.exp) > MAX_INTEGER_EXPONENT:
                    # float64 x**k is 0, 1 or inf for such k, and torch takes integer powers as int64;
                    # checked on every new node because SymPy merges powers: (x**a)**b, x**a * x**b
                    raise _ExponentTooLarge(expr.exp)
            self._sizes[expr] = known
        return known

    # -- leaves ------------------------------------------------------------

    def _name(self, node: ast.Name) -> Value:
        if node.id in CONSTANTS:
            return scalar(CONSTANTS[node.id])
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
            if node.value.bit_length() > MAX_INT_BITS:
                raise self.source.error(f"number too large (over {MAX_INT_BITS:,} bits)", node)
            return scalar(sympy.Integer(node.value))
        literal = self._literal_text(node)
        try:
            exponent = Decimal(literal).adjusted()
        except InvalidOperation:
            exponent = 0
        if abs(exponent) > MAX_DECIMAL_EXPONENT:
            raise self.source.error(f"number {literal} is out of range (exponents up to ±{MAX_DECIMAL_EXPONENT})", node)
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
        for element in value.flat:
            _check_number(self.source, element, node)
        return value

    def _power(self, base: sympy.Expr, exponent: sympy.Expr, node: ast.AST) -> sympy.Expr:
        if isinstance(base, sympy.Rational) and isinstance(exponent, sympy.Rational):
            # bit_length - 1 <= log2|base| < bit_length: 2**9000 and 10**3000 pass, 2**10001 does not;
            # the result itself is checked after, so the estimate costs at most twice the limit
            bits = max(int(base.p).bit_length(), int(base.q).bit_length()) - 1
            if bits > 0 and abs(exponent) * bits > MAX_INT_BITS:
                raise self.source.error(
                    f"{_short(base)}**{_short(exponent)} is too large to compute exactly (over {MAX_INT_BITS:,} bits)",
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
                f"{EXACT_DECISION_DIGITS} digits and do not simplify to the same value",
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
        assert isinstance(node.func, ast.Name)
        spec = FUNCTIONS[node.func.id]
        args = [self.build(a, condition=spec.condition_arg and i == 0) for i, a in enumerate(node.args)]
        value = self._checked(node, _as_value(spec.build(*args)))
        if node.func.id in _STEP_FUNCTIONS:
            value = elementwise(node.func.id, lambda e: self._step(e, node), value)
        return value

    def _step(self, expr: sympy.Expr, node: ast.AST) -> sympy.Expr:
        """``sign``, ``floor`` or ``ceil`` of a constant that SymPy left open, decided exactly."""
        if not isinstance(expr, sympy.sign | sympy.floor | sympy.ceiling) or not _is_constant(expr):
            return expr
        decided = _exact_step(expr)
        if decided is None:
            raise self.source.error(
                f"cannot decide {_short(user_text_of(expr))} exactly: its argument is too close to a "
                f"jump to tell apart in {EXACT_DECISION_DIGITS} digits and does not simplify",
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


def _short(item: Any) -> str:
    """``item`` as text, at most 40 characters (a huge number or expression in a message is noise)."""
    text = str(item)
    return text if len(text) <= 40 else text[:28] + "…" + text[-8:]


EXACT_DECISION_DIGITS = 30
"""A constant comparison or sign is decided by a value certified to this many digits (SymPy's
``evalf(strict=True)``); when that cannot tell it from zero, by simplifying it to 0."""
EXACT_DECISION_MAX_DIGITS = 300
"""Most working digits SymPy may use to certify that value."""
EXACT_DECISION_MAX_NODES = 60
"""Only constants up to this size are simplified to prove them zero (``simplify`` is unbounded)."""
_STEP_FUNCTIONS = frozenset({"sign", "floor", "ceil"})
_RELATION_HOLDS: dict[type, Callable[[int], bool]] = {
    sympy.StrictLessThan: lambda s: s < 0,
    sympy.LessThan: lambda s: s <= 0,
    sympy.StrictGreaterThan: lambda s: s > 0,
    sympy.GreaterThan: lambda s: s >= 0,
    sympy.Equality: lambda s: s == 0,
    sympy.Unequality: lambda s: s != 0,
}
"""Whether ``a R b`` holds, given the sign of ``a - b``."""


def _is_constant(expr: Any) -> bool:
    return not isinstance(expr, sympy.Basic) or not expr.free_symbols


def _certified_sign(value: sympy.Expr) -> int | None:
    """The sign of a real constant from a value SymPy certifies, or None if it cannot tell it from zero."""
    if value.is_Rational:
        return int(sympy.sign(value))
    try:
        approx = value.evalf(EXACT_DECISION_DIGITS, strict=True, maxn=EXACT_DECISION_MAX_DIGITS)
    except (sympy.core.evalf.PrecisionExhausted, ValueError, TypeError):
        return None
    if not approx.is_Float:  # not real, infinite or undefined: no sign to decide
        return None
    return int(sympy.sign(approx))


@functools.lru_cache(maxsize=1024)  # a condition, a sign and a floor of one constant decide it once
def exact_sign(value: sympy.Expr) -> int | None:
    """The sign (-1, 0 or 1) of a real constant, decided exactly; None when it cannot be.

    ``sin(pi/7)**2 + cos(pi/7)**2 - 1`` is 0 (in floats it rounds to -1e-17): a
    certified value decides any constant that is not zero; zero needs a proof, by
    simplification.

    >>> exact_sign(sympy.sin(sympy.pi / 7) ** 2 + sympy.cos(sympy.pi / 7) ** 2 - 1), exact_sign(sympy.pi - 3)
    (0, 1)
    """
    sign = _certified_sign(value)
    if sign is not None:
        return sign
    # work on the irrational part alone: a 400-digit rational term makes simplify crawl
    rational, rest = value.as_coeff_Add() if isinstance(value, sympy.Add) else (sympy.S.Zero, value)
    if not _small_enough(rest, EXACT_DECISION_MAX_NODES):
        return None
    simpler = sympy.simplify(rest)
    sign = _certified_sign(simpler + rational)
    if sign is not None:
        return sign
    # a close simple form (cos(pi/7) - cos(2*pi/7) + cos(3*pi/7) is near 1/2), proven equal
    guess = sympy.nsimplify(simpler)
    if guess != simpler and _proven_zero(rest - guess):
        return _certified_sign(guess + rational)
    return 0 if rational == 0 and _proven_zero(rest) else None


def _proven_zero(value: sympy.Expr) -> bool:
    return sympy.simplify(value) == 0 or value.equals(0) is True


def _small_enough(expr: Any, limit: int) -> bool:
    count, pending = 0, [expr]
    while pending:
        count += 1
        if count > limit:
            return False
        pending.extend(getattr(pending.pop(), "args", ()))
    return True


def _exact_step(expr: sympy.Expr) -> sympy.Integer | None:
    """``sign(c)``, ``floor(c)`` or ``ceil(c)`` of a real constant, exactly (None: undecidable)."""
    (arg,) = expr.args
    if isinstance(expr, sympy.sign):
        sign = exact_sign(arg)
        return None if sign is None else sympy.Integer(sign)
    if isinstance(expr, sympy.ceiling):
        below = _exact_floor(-arg)
        return None if below is None else -below
    return _exact_floor(arg)


def _exact_floor(value: sympy.Expr) -> sympy.Integer | None:
    approx = constant_value(value)
    if not math.isfinite(approx):
        return None
    guess = math.floor(approx)
    for n in (guess, guess - 1, guess + 1):  # rounding moves the float across at most one integer
        above, below = exact_sign(value - n), exact_sign(value - (n + 1))
        if above is None or below is None:
            return None
        if above >= 0 and below < 0:
            return sympy.Integer(n)
    return None


def user_text_of(expr: sympy.Basic) -> str:
    """``expr`` in the language's words for a message (``ceil``, not ``ceiling``)."""
    return sympy.sstr(expr).replace("ceiling(", "ceil(")


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


def _matmul_products(a: Value, b: Value) -> int:
    if a.ndim == 0 or b.ndim == 0:
        return 0  # matmul explains the error
    return a.size * (b.shape[-1] if b.ndim == 2 else 1)


def matmul(a: Value, b: Value) -> Value:
    """Matrix product of 1-D or 2-D arrays, following NumPy's rules for vectors."""
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"@ needs arrays, got shapes {a.shape} and {b.shape}; use * for scalars")
    if a.ndim > 2 or b.ndim > 2:
        raise ShapeError(f"@ supports vectors and matrices, got shapes {a.shape} and {b.shape}")
    left = a.reshape(1, -1) if a.ndim == 1 else a
    right = b.reshape(-1, 1) if b.ndim == 1 else b
    if left.shape[1] != right.shape[0]:
        raise ShapeError(
            f"@: shapes {a.shape} and {b.shape} do not match (inner dimensions {left.shape[1]} and {right.shape[0]})"
        )
    out = np.empty((left.shape[0], right.shape[1]), dtype=object)
    for i, j in np.ndindex(out.shape):
        out[i, j] = sympy.Add(*(left[i, k] * right[k, j] for k in range(left.shape[1])))
    if a.ndim == 1:
        out = out[0]
    if b.ndim == 1:
        out = out[..., 0]
    return _as_value(out)


# ---------------------------------------------------------------------------
# Values typed by the user: --at, --v, points files.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignments:
    """Values from text like ``1, 2`` or ``x=1, A=[[1,2],[3,4]]`` (exact SymPy numbers)."""

    positional: tuple[Value, ...]
    named: dict[str, Value]


def parse_assignments(text: str, what: str = "--at") -> Assignments:
    """Parse comma-separated values, positional or ``name=value``.

    >>> a = parse_assignments("x=pi/4, y=[1, 2]")
    >>> a.named["x"][()], a.named["y"].shape
    (pi/4, (2,))
    """
    source = prepare_source(text, prefix="_(", suffix="\n)", what=what)
    tree = _parse_ast(source, "eval")
    assert isinstance(tree, ast.Expression)
    call = tree.body
    if not (isinstance(call, ast.Call) and call.end_lineno == source.text.count("\n") + 1):
        # a ')' in the text closed our wrapper early, as in ')/('
        raise ExpressionError(f"{what}: unbalanced brackets", text, None)
    builder = _Builder(source, {}, constant_only=True)
    for node in ast.walk(call):
        if node is not call and node is not call.func and not isinstance(node, ast.keyword):
            _validate_node(source, node)
    positional = tuple(_real_value(source, builder.build(arg), arg, what) for arg in call.args)
    named: dict[str, Value] = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            raise source.error("'**' is not part of the language", keyword.value)
        _check_name(source, keyword.arg, keyword)
        if keyword.arg in named:
            raise source.error(f"{what} gives {keyword.arg!r} twice", keyword)
        named[keyword.arg] = _real_value(source, builder.build(keyword.value), keyword.value, what)
    return Assignments(positional, named)


def _segment(source: Source, node: ast.AST) -> str:
    """The user's text of ``node``, shortened, for messages."""
    return _short(source.segment(node) or "?")


def _real_value(source: Source, value: Value, node: ast.AST, what: str) -> Value:
    for element in value.flat:
        if not element.is_number:
            raise source.error(f"{what} values must be numbers, got {_short(element)}", node)
        if element.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            raise source.error(f"{what} value {_segment(source, node)} is infinite or undefined", node)
        if element.is_real is False:
            raise source.error(f"{what} value {_segment(source, node)} is not real (it is {_short(element)})", node)
    return value


def constant_value(expr: sympy.Basic) -> float:
    """A SymPy constant as a float: nan when not real, ±inf when out of range.

    Never hangs: the value is computed by :class:`_Evaluator` at a fixed
    precision, so ``exp(exp(exp(100)))`` is ``inf`` at once (SymPy's ``N`` would
    need about 10**43 bits of working precision).

    >>> constant_value(sympy.pi / 4), constant_value(sympy.exp(sympy.exp(sympy.exp(100))))
    (0.7853981633974483, inf)
    """
    if expr in (sympy.zoo, sympy.oo):
        return float("inf")
    if expr == -sympy.oo:
        return float("-inf")
    if expr is sympy.true or expr is sympy.false:
        return float(bool(expr))
    if isinstance(expr, sympy.Rational):
        return _rational_float(expr)
    with mpmath.workprec(_EVAL_BITS):
        value = _Evaluator(strict=False).value(expr)
        if mpmath.isnan(value.real) or (value.imag and abs(value.imag) > abs(value.real) * _IMAGINARY_TOLERANCE):
            return float("nan")
        return float(value.real)


def _rational_float(value: sympy.Rational) -> float:
    try:
        return int(value.p) / int(value.q)  # correctly rounded
    except OverflowError:
        if abs(value.p) < abs(value.q):
            return 0.0
        return math.inf if value.p > 0 else -math.inf


_EVAL_BITS = 113
"""Working precision of :func:`constant_value` (quad precision; floats need 53 bits)."""
_IMAGINARY_TOLERANCE = 2.0**-100
_HUGE_ARGUMENT = 2**40
"""``exp(z)`` for ``|z|`` beyond this is 0 or inf in any float format; it is not computed."""
_TRIG_BITS = 20_000
"""``sin(z)`` needs ``log2|z|`` extra bits to reduce its argument; beyond this it is nan."""


class _ExponentTooLarge(Exception):
    """A power with an integer exponent over :data:`MAX_INTEGER_EXPONENT` (its exponent in ``args``)."""


class _ConstantTooLarge(Exception):
    """A constant's magnitude is over :data:`MAX_CONSTANT_BITS` (strict evaluation only)."""


def _mpc(z: Any) -> mpmath.mpc:
    return mpmath.mpc(z)


class _Evaluator:
    """Values of constant SymPy expressions with mpmath at a fixed precision, bounded in time.

    SymPy's ``evalf`` raises its working precision with the magnitude of an
    exponent, without limit. Here every node is computed from its children's
    values, and the functions whose cost grows with the size of their argument
    are guarded: ``exp`` of a huge argument is inf or 0, ``sin`` of an
    astronomically large one is nan. With ``strict`` a value over
    :data:`MAX_CONSTANT_BITS` raises :class:`_ConstantTooLarge` instead.
    """

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.memo: dict[sympy.Basic, mpmath.mpc] = {}

    def value(self, expr: sympy.Basic) -> mpmath.mpc:
        if expr not in self.memo:
            self.memo[expr] = self._checked(self._compute(expr))
        return self.memo[expr]

    def _checked(self, z: mpmath.mpc) -> mpmath.mpc:
        if self.strict and mpmath.isfinite(z) and z != 0 and mpmath.mag(z) > MAX_CONSTANT_BITS:
            raise _ConstantTooLarge
        return z

    def _overflow(self, z: mpmath.mpc) -> mpmath.mpc:
        if self.strict:
            raise _ConstantTooLarge
        return z

    def _compute(self, expr: sympy.Basic) -> mpmath.mpc:
        if isinstance(expr, sympy.Rational):
            return _mpc(mpmath.mpf(int(expr.p)) / int(expr.q))
        if isinstance(expr, sympy.Float):
            return _mpc(mpmath.mpf(expr._mpf_))
        if expr is sympy.nan:
            return _mpc(mpmath.nan)
        if expr in (sympy.zoo, sympy.oo):
            return _mpc(mpmath.inf)
        if expr == -sympy.oo:
            return _mpc(-mpmath.inf)
        if expr is sympy.I:
            return mpmath.mpc(0, 1)
        if isinstance(expr, sympy.NumberSymbol):  # pi, E
            return _mpc(mpmath.mpf(expr.evalf(40)._mpf_))
        if not all(isinstance(a, sympy.Expr) for a in expr.args):  # Piecewise and the like
            return self._fallback(expr, [self.value(a) for a in _numeric_parts(expr)])
        args = [self.value(a) for a in expr.args]
        if isinstance(expr, sympy.Add):  # real arithmetic where possible: inf * 0j would be nan
            return _mpc(mpmath.fsum(_real_if_real(a) for a in args))
        if isinstance(expr, sympy.Mul):
            return _mpc(mpmath.fprod(_real_if_real(a) for a in args))
        if isinstance(expr, sympy.Pow):
            return self._power(*args)
        for cls in type(expr).__mro__:
            rule = _RULES.get(cls)
            if rule is not None:
                return _mpc(rule(self, *args))
        return self._fallback(expr, args)

    # -- guarded functions ---------------------------------------------------------

    def _power(self, base: mpmath.mpc, exponent: mpmath.mpc) -> mpmath.mpc:
        if base == 0:
            if exponent.real > 0:
                return _mpc(0)
            return _mpc(1) if exponent == 0 else _mpc(mpmath.inf)
        if not (mpmath.isfinite(base) and mpmath.isfinite(exponent)):
            return _mpc(mpmath.power(_real_if_real(base), _real_if_real(exponent)))
        with mpmath.workprec(30):
            log_size = exponent.real * mpmath.log(abs(base), 2)
        if abs(log_size) > _HUGE_ARGUMENT:
            return self._overflow(_mpc(mpmath.inf if log_size > 0 else 0))
        if exponent.imag == 0 and exponent.real == int(exponent.real) and base.imag == 0:
            return _mpc(mpmath.power(base.real, int(exponent.real)))
        return _mpc(mpmath.power(base.real if base.imag == 0 else base, exponent))

    def _exp(self, z: mpmath.mpc) -> mpmath.mpc:
        if mpmath.isfinite(z) and abs(z.real) > _HUGE_ARGUMENT:
            if z.real < 0:
                return _mpc(0)
            return self._overflow(_mpc(mpmath.inf if z.imag == 0 else mpmath.nan))
        return mpmath.exp(z)

    def _fallback(self, expr: sympy.Basic, args: list[mpmath.mpc]) -> mpmath.mpc:
        # Every argument has a bounded value, so SymPy's evalf is bounded too.
        if not all(mpmath.isfinite(a) and (a == 0 or mpmath.mag(a) <= MAX_CONSTANT_BITS) for a in args):
            return _mpc(mpmath.nan)
        value = sympy.N(expr, 34)
        try:
            return _mpc(complex(value))
        except (TypeError, ValueError):
            return _mpc(mpmath.nan)


def _numeric_parts(expr: sympy.Basic) -> list[sympy.Expr]:
    """The outermost numeric sub-expressions below the non-numeric nodes of ``expr``."""
    parts, pending = [], list(expr.args)
    while pending:
        node = pending.pop()
        if isinstance(node, sympy.Expr):
            parts.append(node)
        else:
            pending.extend(node.args)
    return parts


def _real_if_real(z: mpmath.mpc) -> Any:
    return z.real if z.imag == 0 else z


def _real_function(fn: Callable[..., Any]) -> Callable[..., Any]:
    return lambda ev, *zs: fn(*(_real_if_real(z) for z in zs))


def _trig(fn: Callable[[Any], Any]) -> Callable[..., Any]:
    def apply(ev: _Evaluator, z: mpmath.mpc) -> Any:
        if mpmath.isfinite(z) and z != 0 and mpmath.mag(z) > _TRIG_BITS:
            return ev._overflow(_mpc(mpmath.nan))
        return fn(_real_if_real(z))

    return apply


def _exp_like(fn: Callable[[Any], Any], at_plus: Any, at_minus: Any) -> Callable[..., Any]:
    """``fn`` where ``|z|`` is moderate; its limits at ±inf beyond :data:`_HUGE_ARGUMENT`."""

    def apply(ev: _Evaluator, z: mpmath.mpc) -> Any:
        if mpmath.isfinite(z) and abs(z.real) > _HUGE_ARGUMENT:
            limit = at_plus(z) if z.real > 0 else at_minus(z)
            return ev._overflow(_mpc(limit)) if mpmath.isinf(limit) else limit
        return fn(_real_if_real(z))

    return apply


def _sign(z: mpmath.mpc) -> Any:
    return mpmath.sign(z.real) if z.imag == 0 else z / abs(z) if z != 0 else 0


def _extremum(pick: Callable[..., Any]) -> Callable[..., Any]:
    def apply(ev: _Evaluator, *zs: mpmath.mpc) -> Any:
        if any(z.imag != 0 or mpmath.isnan(z.real) for z in zs):
            return mpmath.nan
        return pick(z.real for z in zs)

    return apply


_RULES: dict[type, Callable[..., Any]] = {
    sympy.exp: lambda ev, z: ev._exp(z),
    sympy.sinh: _exp_like(mpmath.sinh, lambda z: mpmath.inf, lambda z: -mpmath.inf),
    sympy.cosh: _exp_like(mpmath.cosh, lambda z: mpmath.inf, lambda z: mpmath.inf),
    sympy.tanh: _exp_like(mpmath.tanh, lambda z: 1, lambda z: -1),
    sigmoid: _exp_like(lambda z: 1 / (1 + mpmath.exp(-z)), lambda z: 1, lambda z: 0),
    softplus: _exp_like(lambda z: mpmath.log1p(mpmath.exp(z)), lambda z: z.real, lambda z: 0),
    sympy.sin: _trig(mpmath.sin),
    sympy.cos: _trig(mpmath.cos),
    sympy.tan: _trig(mpmath.tan),
    sympy.asin: _real_function(mpmath.asin),
    sympy.acos: _real_function(mpmath.acos),
    sympy.atan: _real_function(mpmath.atan),
    sympy.atan2: _real_function(mpmath.atan2),
    sympy.log: _real_function(mpmath.log),
    sympy.erf: _real_function(mpmath.erf),
    sympy.Abs: lambda ev, z: abs(z),
    sympy.sign: lambda ev, z: _sign(z),
    sympy.floor: _real_function(mpmath.floor),
    sympy.ceiling: _real_function(mpmath.ceil),
    sympy.Max: _extremum(max),
    sympy.Min: _extremum(min),
    detach: lambda ev, z: z,
}
"""How :class:`_Evaluator` computes each SymPy function (looked up along the MRO)."""


def flatten_values(values: Iterable[Value]) -> list[sympy.Expr]:
    """All elements of ``values``, row-major, one after the other."""
    return [element for value in values for element in value.flat]
