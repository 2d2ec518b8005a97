"""Control flow, PyTorch's eager way: a program runs at the point, and the path that ran is differentiated.

:func:`run` executes a :class:`~jacli.language.statements.Flow` at one point: each
binding's value is computed (exactly where the point is exact), each condition is
decided there (exactly, by :func:`~jacli.language.constants.exact_sign`, so no float
rounding decides ``x == 1``; in floats where the point is in floats), and the
statements that ran come out as a straight-line program of the language (a rebound
name gets a fresh one: ``b``, ``b_1``, ``b_2``, …). That :class:`Path` is then an
ordinary expression for every command, so its derivative is the derivative of the
path taken, as ``backward()`` gives it. :func:`resolve` is the one hook the
evaluation funnel calls; :func:`group_points` splits many points by the path each takes.

>>> path = run_text("x = x*2\\nwhile x < 10:\\n    x = x*2\\nx", {"x": 1})
>>> path.text, path.note
('x_1 = x * 2; x_2 = x_1 * 2; x_3 = x_2 * 2; x_4 = x_3 * 2; x_4', 'while ran 3 times')
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import functools
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy

from jacli import language, limits
from jacli.errors import ExpressionError, UsageError
from jacli.language.functions import is_reserved
from jacli.language.statements import Assign, Flow, For, If, Jump, Return, Statement, While, is_flow
from jacli.values import Point, assign_point, text_argument, wrt_names

_NOT_FLOW: Any = type("NotFlow", (), {"flow": None})()
"""What :func:`_parse` gives for an expression without a block: no flow."""


@dataclass(frozen=True)
class Path:
    """The path a program took at a point: a straight-line program and its name."""

    text: str
    """The statements that ran, as an expression of the language (bindings; the returned value last)."""
    note: str
    """``while ran 9 times; if took else``."""
    unused: tuple[str, ...] = ()
    """The leading bindings ``x_unused = x`` that keep a variable the path never reads (``if x:`` only tests
    it) a variable of :attr:`text`; never shown (:attr:`shown`, :func:`mark`, :func:`shown_statements`)."""

    @property
    def shown(self) -> str:
        """:attr:`text` as the user reads it: without the :attr:`unused` bindings."""
        return self.text.split("; ", len(self.unused))[-1] if self.unused else self.text


def resolve(expr: str, at: Point, wrt: str | Sequence[str] | None) -> tuple[str, Any, Path | None]:
    """``(expr, wrt, None)`` for an expression; for a control-flow program, the path it takes at ``at``:
    ``(path text, the program's variables in order, path)``."""
    parsed = _parse(text_argument(expr, "the expression"))
    if parsed.flow is None:  # an expression: as it is
        return expr, wrt, None
    order = wrt_names(parsed, wrt)
    path = _run_cached(expr, _key(assign_point(parsed, order, at)), max_iterations())
    return path.text, list(order), path


def order(expr: str, wrt: Any) -> list[str]:
    """A program's variables to differentiate by: ``wrt`` checked, or all of them (a def's in its order)."""
    return list(wrt_names(_parse(expr), wrt))


def _parse(text: str) -> language.ParsedExpression:
    """``text`` parsed; an expression without a block is not parsed here (its first parse is the funnel's)."""
    if not is_flow(text):
        return _NOT_FLOW
    return _parse_flow(text)


@functools.lru_cache(maxsize=64)
def _parse_flow(text: str) -> language.ParsedExpression:
    return language.parse_expression(text)


def _key(values: Mapping[str, language.Value]) -> tuple[Any, ...]:
    return tuple((name, tuple(np.shape(v)), tuple(np.asarray(v, dtype=object).flat)) for name, v in values.items())


@functools.lru_cache(maxsize=256)
def _run_cached(expr: str, key: tuple[Any, ...], limit: int) -> Path:
    """The path at a point, run once (the limit is part of the key: it decides whether the run ends)."""
    values = {}
    for name, shape, flat in key:
        array = np.empty(len(flat), dtype=object)
        array[:] = list(flat)
        values[name] = array.reshape(shape)
    return run(_parse(expr).flow, values)


def group_points(expr: str, points: Sequence[Point], wrt: Any) -> list[tuple[Path, list[int]]] | None:
    """None for an expression; for a program, the distinct paths its points take and which points take each."""
    parsed = _parse(text_argument(expr, "the expression"))
    if parsed.flow is None:
        return None
    order = wrt_names(parsed, wrt)
    groups: dict[str, tuple[Path, list[int]]] = {}
    for index, point in enumerate(points):
        path = _run_cached(expr, _key(assign_point(parsed, order, point)), max_iterations())
        groups.setdefault(path.text, (path, []))[1].append(index)
    return list(groups.values())


def run_text(text: str, at: Mapping[str, Any]) -> Path:
    """:func:`run` of a program's text at ``at`` (name -> number or nested list)."""
    parsed = language.parse_expression(text)
    return run(parsed.flow, assign_point(parsed, parsed.names, dict(at)))


def max_iterations() -> int:
    """The loops' limit: ``$JACLI_MAX_ITERATIONS`` or :data:`~jacli.limits.MAX_ITERATIONS`."""
    return limits.settings().max_iterations


def run(flow: Flow, values: Mapping[str, language.Value]) -> Path:
    """Run ``flow`` with the variables at ``values``: the :class:`Path` it took."""
    return _Interpreter(flow, values).path()


class _Return(Exception):
    def __init__(self, text: str) -> None:
        self.text = text


class _Interpreter:
    def __init__(self, flow: Flow, values: Mapping[str, language.Value]) -> None:
        self.flow = flow
        self.values: dict[str, language.Value] = {n: values[n] for n in flow.names}
        flats = (getattr(v, "flat", ()) for v in values.values())  # (jacli.flow_vector's values have none)
        self.exact = not any(isinstance(x, sympy.Float) or x.has(sympy.Float) for flat in flats for x in flat)
        self.current = {n: n for n in flow.names}  # a name of the program -> its name on the path now
        self.consts: dict[str, int] = {}  # loop variables
        self.taken = set(flow.names) | set(flow.assigned)
        self.emitted: set[str] = set()
        self.lines: list[str] = []
        self.iterations = 0
        self.limit = max_iterations()
        from jacli.symbolic import time_budget  # noqa: PLC0415

        self.seconds = time_budget()
        self.deadline = time.monotonic() + self.seconds
        self.events: dict[str, list[Any]] = {}  # a statement's label -> what it did, in order
        self.templates: dict[tuple[int, tuple[int | None, ...]], tuple[str, tuple[str, ...]]] = {}
        self.node_names: dict[int, tuple[str, ...]] = {}
        self.pending: dict[str, _Renamed] = {}  # bound on the path, value not computed yet
        self.suffix: dict[str, int] = {}  # a name -> the next suffix to try (b_1, b_2, …)

    # --- running ---------------------------------------------------------------------------

    def path(self) -> Path:
        try:
            self.block(self.flow.body)
        except _Return as done:
            final = done.text
        else:  # parse_flow makes every path end in a return
            raise UsageError("the program ended without returning a value")
        used = {n.id for line in [*self.lines, final] for n in ast.walk(ast.parse(line)) if isinstance(n, ast.Name)}
        unused = [(self.fresh(n + "_unused"), n) for n in self.flow.names if n not in used]
        lines = [f"{name} = {n}" for name, n in unused]
        return Path("; ".join([*lines, *self.lines, final]), self.note(), tuple(name for name, _ in unused))

    def block(self, body: Sequence[Statement]) -> str | None:
        """Run ``body``; ``break``/``continue`` when a jump left it."""
        for stmt in body:
            jump = self.statement(stmt)
            if jump is not None:
                return jump
        return None

    def statement(self, stmt: Statement) -> str | None:
        if isinstance(stmt, Assign):
            renamed = self.rename(stmt.value)
            self.consts.pop(stmt.target, None)
            name = stmt.target if stmt.target not in self.emitted and stmt.target not in self.flow.names else None
            name = name or self.fresh(stmt.target)
            self.emitted.add(name)
            self.current[stmt.target] = name
            self.pending[name] = renamed  # its value is computed when a condition needs it
            self.lines.append(f"{name} = {renamed.text}")
            return None
        if isinstance(stmt, Return):
            raise _Return(self.rename(stmt.value).text)
        if isinstance(stmt, Jump):
            return stmt.kind
        if isinstance(stmt, If):
            return self.if_statement(stmt)
        if isinstance(stmt, While):
            return self.loop(stmt, None)
        return self.loop(stmt, self.range_of(stmt))

    def if_statement(self, stmt: If) -> str | None:
        elifs = sum(1 for condition, _ in stmt.branches[1:] if condition is not None)
        for index, (condition, body) in enumerate(stmt.branches):
            if condition is None or self.decide(condition, stmt):
                name = "if" if index == 0 else "else" if condition is None else "elif"
                name += f" {index}" if name == "elif" and elifs > 1 else ""
                self.events.setdefault(stmt.label, []).append(name)
                return self.block(body)
        self.events.setdefault(stmt.label, []).append("no branch")
        return None

    def loop(self, stmt: While | For, steps: range | None) -> str | None:
        count = 0
        items = iter(steps) if steps is not None else None
        while True:
            if items is not None:
                i = next(items, None)
                if i is None:
                    break
                self.consts[stmt.target] = i  # type: ignore[union-attr]
                self.current.pop(stmt.target, None)  # type: ignore[union-attr]
            elif not self.decide(stmt.condition, stmt):  # type: ignore[union-attr]
                break
            self.count()
            count += 1
            jump = self.block(stmt.body)
            if jump == "break":
                break
        self.events.setdefault(stmt.label, []).append(count)
        return None

    def count(self) -> None:
        self.iterations += 1
        if self.iterations > self.limit:
            raise UsageError(
                f"the program's loops ran {self.limit:,} iterations without ending "
                "(the limit; set JACLI_MAX_ITERATIONS to raise it)"
            )
        if time.monotonic() > self.deadline:
            raise UsageError(
                f"the program ran longer than {self.seconds:g} s (the time budget; set JACLI_TIME_BUDGET to change it)"
            )

    def range_of(self, stmt: For) -> range:
        bounds = []
        for arg in stmt.arguments:
            node = ast.parse(self.rename(arg).text, mode="eval").body
            number = node.value if isinstance(node, ast.Constant) else None
            if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
                number = -node.operand.value
            if not isinstance(number, int) or isinstance(number, bool):
                raise self.flow.source.error("range() takes integer constants (or an enclosing loop's variable)", arg)
            bounds.append(number)
        if len(bounds) == 3 and bounds[2] == 0:
            raise self.flow.source.error("range() step must not be zero", stmt.node)
        return range(*bounds)

    # --- names and values ------------------------------------------------------------------

    def fresh(self, name: str) -> str:
        base, k = name, self.suffix.get(name, 1)
        while name in self.taken or is_reserved(name):
            name, k = f"{base}_{k}", k + 1
        self.suffix[base] = k
        self.taken.add(name)
        return name

    def rename(self, node: ast.expr) -> _Renamed:
        """``node`` on the path: its names the path's, a loop variable its constant (its template made once)."""
        names = self.names_of(node)
        consts = tuple(self.consts.get(n) for n in names)
        key = (id(node), consts)
        template = self.templates.get(key)
        if template is None:
            inputs = tuple(n for n, c in zip(names, consts, strict=True) if c is None)
            alias: dict[str, ast.expr] = {n: ast.Name(f"v{k}", ast.Load()) for k, n in enumerate(inputs)}
            alias.update((n, _integer(c)) for n, c in zip(names, consts, strict=True) if c is not None)
            template = self.templates[key] = (ast.unparse(_Alias(alias).visit(copy.deepcopy(node))), inputs)
        text, inputs = template
        path_names = []
        for name in inputs:
            if name not in self.current:
                where = next(n for n in ast.walk(node) if isinstance(n, ast.Name) and n.id == name)
                raise self.flow.source.error(f"{name!r} is used before it is bound (on this path)", where)
            path_names.append(self.current[name])
        return _Renamed(text, tuple(path_names), node)

    def names_of(self, node: ast.expr) -> tuple[str, ...]:
        names = self.node_names.get(id(node))
        if names is None:
            found = (n.id for n in ast.walk(node) if isinstance(n, ast.Name) and not is_reserved(n.id))
            names = self.node_names[id(node)] = tuple(dict.fromkeys(found))
        return names

    def ensure(self, names: Sequence[str]) -> None:
        """The values of ``names`` computed, and first those they need (without recursion: a loop chains them)."""
        stack = [n for n in names if n not in self.values]
        while stack:
            top = stack[-1]
            if top in self.values:
                stack.pop()
                continue
            missing = [n for n in self.pending[top].names if n not in self.values]
            if missing:
                stack.extend(missing)
                continue
            self.values[top] = self.value(self.pending.pop(top))
            stack.pop()

    def value(self, renamed: _Renamed) -> language.Value:
        """The value of an expression on the path at the point (exact where the point is). Its template names
        the path's names v0, v1, …: a loop's body builds once (``b_7 = b_6 * 2`` is ``v0 * 2``)."""
        self.ensure(renamed.names)
        shapes = tuple((f"v{k}", tuple(np.shape(self.values[n]))) for k, n in enumerate(renamed.names))
        try:
            program = _built(renamed.template, shapes)
        except ExpressionError as err:  # the message of the program's own text, at its line
            raise self.flow.source.error(str(err).split(" at column ")[0], renamed.node) from None
        mapping: dict[sympy.Basic, sympy.Basic] = {}
        for var in program.variables:
            value = self.values[renamed.names[int(var.name[1:])]]
            mapping.update(zip(var.symbols, np.asarray(value, dtype=object).flat, strict=True))
        for binding in program.bindings:
            mapping[binding.symbol] = self.bounded(binding.value.xreplace(mapping))
        out = np.empty(len(program.outputs), dtype=object)
        out[:] = [self.bounded(e.xreplace(mapping)) for e in program.outputs]
        return out.reshape(program.output_shape)

    def bounded(self, value: sympy.Basic) -> sympy.Basic:
        if not self.exact:
            return value.evalf() if not value.is_Number else value
        if value.is_Rational or _nodes_within(value, limits.FLOW_EXACT_MAX_NODES):
            return value
        return value.evalf(limits.EXACT_DECISION_MAX_DIGITS)

    # --- conditions ------------------------------------------------------------------------

    def decide(self, condition: ast.expr, stmt: If | While) -> bool:
        """A condition at the point: ``and``/``or``/``not``, (chained) comparisons, or a scalar's truth."""
        if isinstance(condition, ast.BoolOp):
            parts = (self.decide(v, stmt) for v in condition.values)
            return all(parts) if isinstance(condition.op, ast.And) else any(parts)
        if isinstance(condition, ast.UnaryOp) and isinstance(condition.op, ast.Not):
            return not self.decide(condition.operand, stmt)
        if isinstance(condition, ast.Compare):
            left = self.scalar(condition.left, stmt)
            for op, node in zip(condition.ops, condition.comparators, strict=True):
                right = self.scalar(node, stmt)
                if not self.compare(op, left, right, node):
                    return False
                left = right
            return True
        return not self.compare(ast.Eq(), self.scalar(condition, stmt), 0, condition)

    def compare(self, op: ast.cmpop, left: Any, right: Any, node: ast.AST) -> bool:
        """One comparison ``left op right`` at the point (:mod:`jacli.flow_vector` decides it at many)."""
        return _compare(op, left - right, self.exact, self.flow, node)

    def scalar(self, node: ast.expr, stmt: If | While) -> sympy.Expr:
        value = self.value(self.rename(node))
        if value.shape:
            what = self.flow.source.segment(node) or ast.unparse(node)
            raise self.flow.source.error(
                f"a condition must be a scalar, but {what} has shape {tuple(value.shape)} (in "
                f"{stmt.label.split(' ')[0]} at line {stmt.node.lineno}; reduce it with sum, max, norm or an index)",
                node,
            )
        return value[()]

    # --- the note --------------------------------------------------------------------------

    def note(self) -> str:
        parts = []
        for label, happened in self.events.items():
            if label.startswith("if"):
                counts: dict[str, int] = {}
                for branch in happened:
                    counts[branch] = counts.get(branch, 0) + 1
                if len(happened) == 1:
                    parts.append(f"{label} took {happened[0]}")
                else:
                    parts.append(f"{label} took " + ", ".join(f"{b} {_times(c)}" for b, c in counts.items()))
            else:
                total = sum(happened)
                runs = f" in {len(happened)} runs" if len(happened) > 1 else ""
                parts.append(f"{label} ran {_times(total)}{runs}")
        return "; ".join(parts) or "no control flow ran"


def _integer(value: int) -> ast.expr:
    """A loop variable's value as a node: ``-2`` as minus 2, so ``i ** 2`` prints ``(-2) ** 2``."""
    return ast.UnaryOp(ast.USub(), ast.Constant(-value)) if value < 0 else ast.Constant(value)


class _Alias(ast.NodeTransformer):
    def __init__(self, alias: dict[str, ast.expr]) -> None:
        self.alias = alias

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return self.alias.get(node.id, node)


_TEMPLATE_NAME = re.compile(r"\bv(\d+)\b")


@dataclass(frozen=True)
class _Renamed:
    """An expression on the path: its template (the path's names as v0, v1, …) and those names."""

    template: str
    names: tuple[str, ...]
    node: ast.expr

    @property
    def text(self) -> str:
        return _TEMPLATE_NAME.sub(lambda m: self.names[int(m.group(1))], self.template)


def _times(count: int) -> str:
    return f"{count:,} time" + ("" if count == 1 else "s")


def _nodes_within(expr: sympy.Basic, limit: int) -> bool:
    for count, _ in enumerate(sympy.preorder_traversal(expr)):
        if count >= limit:
            return False
    return True


def _compare(op: ast.cmpop, difference: sympy.Expr, exact: bool, flow: Flow, node: ast.AST) -> bool:
    """``difference op 0``: its sign decided exactly (``exact``) or in floats; nan compares false but for ``!=``."""
    sign = None
    if exact:
        sign = language.exact_sign(difference)
    if sign is None:
        try:
            number = complex(difference)
        except (TypeError, ValueError):
            number = complex(math.nan)
        if number.imag != 0 or math.isnan(number.real):
            return isinstance(op, ast.NotEq)
        sign = (number.real > 0) - (number.real < 0)
    checks = {ast.Eq: sign == 0, ast.NotEq: sign != 0, ast.Lt: sign < 0, ast.LtE: sign <= 0, ast.Gt: sign > 0}
    checks[ast.GtE] = sign >= 0
    if type(op) not in checks:
        raise flow.source.error("only the comparisons < <= > >= == != can be conditions", node)
    return checks[type(op)]


@functools.lru_cache(maxsize=256)
def _built(text: str, shapes: tuple[tuple[str, tuple[int, ...]], ...]) -> language.Program:
    return language.build_program(language.parse_expression(text), dict(shapes))


def mark(result: Any, path: Path) -> Any:
    """``result`` of a path, marked with it: a note ``path: …`` and the JSON key ``path``."""
    marked: dict[str, Any] = {"notes": (f"path: {path.note}", *result.notes)}
    if getattr(result, "expression", None) == path.text:
        marked["expression"] = path.shown
    if hasattr(result, "extra"):
        marked["extra"] = (*result.extra, ("path", path.note))
    return dataclasses.replace(result, **marked)


def shown_statements(parsed: language.ParsedExpression, path: Path | None) -> language.ParsedExpression:
    """``parsed`` (a path's text) without the path's :attr:`~Path.unused` bindings: what ``--show-torch`` prints."""
    if path is None or not path.unused:
        return parsed
    kept = tuple(s for s in parsed.statements if s.target not in path.unused)
    return dataclasses.replace(parsed, statements=kept, bound=tuple(b for b in parsed.bound if b not in path.unused))


def parsed_program(expr: str) -> language.ParsedExpression:
    """A control-flow program parsed (cached)."""
    return _parse(expr)
