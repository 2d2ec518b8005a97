"""Control-flow programs: ``if``/``elif``/``else``, ``while``, ``for i in range(k)``, ``return``, a whole ``def``.

A program with a block statement is parsed here into a tree of :class:`Block` statements
whose expressions are checked by the node table of :mod:`.parse` (so nothing outside the
language executes). :mod:`jacli.flow` runs the tree at a point, PyTorch's eager way: the
path that ran is a straight-line program of the language, and that is what is differentiated.

>>> from jacli.language import parse_expression
>>> flow = parse_expression("def f(a, b):\\n    if a > b:\\n        return a\\n    return b").flow
>>> flow.names, [type(s).__name__ for s in flow.body]
(('a', 'b'), ['If', 'Return'])
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jacli.errors import ExpressionError
from jacli.language.functions import is_reserved
from jacli.language.source import Source, _parse_ast, prepare_source

if TYPE_CHECKING:
    from collections.abc import Callable

_BLOCK_START = re.compile(r"^[ \t]*(def|if|elif|else|while|for|with|try|class|async|@)\b", re.MULTILINE)
"""A line opening a block: such a text keeps its indentation (Python's blocks are indented)."""


def is_flow(text: str) -> bool:
    """Whether ``text`` is a control-flow program (a line starts with ``def``, ``if``, ``while``, …)."""
    return _BLOCK_START.search(text) is not None


@dataclass(frozen=True)
class Assign:
    target: str
    value: ast.expr
    node: ast.stmt


@dataclass(frozen=True)
class If:
    branches: tuple[tuple[ast.expr | None, tuple[Statement, ...]], ...]
    """(condition, body) per branch, in order; the condition of ``else`` is None."""
    label: str
    """``if`` or ``if (line 4)``: how the path's note names it."""
    node: ast.stmt


@dataclass(frozen=True)
class While:
    condition: ast.expr
    body: tuple[Statement, ...]
    label: str
    node: ast.stmt


@dataclass(frozen=True)
class For:
    target: str
    arguments: tuple[ast.expr, ...]
    """The arguments of ``range``: integer constants (or loop variables)."""
    body: tuple[Statement, ...]
    label: str
    node: ast.stmt


@dataclass(frozen=True)
class Return:
    value: ast.expr
    node: ast.stmt


@dataclass(frozen=True)
class Jump:
    kind: str  # "break" or "continue"
    node: ast.stmt


Statement = Assign | If | While | For | Return | Jump


@dataclass(frozen=True)
class Flow:
    """A control-flow program: its statements and its variables, in order."""

    text: str
    source: Source
    body: tuple[Statement, ...]
    names: tuple[str, ...]
    """The variables: a ``def``'s parameters in order (then any other free name), else the free names."""
    assigned: frozenset[str]
    """Every name a statement binds (a loop variable too): the fresh names of a path avoid them."""


@dataclass(frozen=True)
class Checks:
    """What :mod:`.parse` lends this parser (it imports this module, so the checks come as arguments)."""

    validate_node: Callable[[Source, ast.AST], None]
    """The node table's check of one expression node."""
    check_name: Callable[[Source, str, ast.AST], None]
    describe: Callable[[ast.AST], str]
    """A refused node in the words of the message (``import``, ``lambda``)."""
    natural_key: Callable[[str], Any]


def parse_flow(text: str, checks: Checks) -> Flow:
    """Parse a control-flow program, its expressions checked by ``checks`` (the node table of :mod:`.parse`)."""
    source = prepare_source(text, keep_indentation=True)
    module = _parse_ast(source, "exec")
    assert isinstance(module, ast.Module)
    body: list[ast.stmt] = list(module.body)
    params: tuple[str, ...] | None = None
    if body and isinstance(body[0], ast.FunctionDef):
        if len(body) > 1:
            raise source.error("a program with a def is that one def and nothing after it", body[1])
        params = _parameters(source, checks, body[0])
        body = list(body[0].body)
    parser = _Parser(source, checks, counts=_block_counts(source, body))
    statements = parser.block(body, top=params is None, in_loop=False)
    if not _ends(statements):
        alternative = " (or a bare last expression)" if params is None else ""
        raise source.error(f"the program must end with 'return expression'{alternative}", body[-1])
    free = [n for n in parser.read if n not in parser.assigned and not is_reserved(n)]
    if params is not None:
        names = params + tuple(sorted((n for n in free if n not in params), key=checks.natural_key))
    else:
        names = tuple(sorted(dict.fromkeys(parser.first_read), key=checks.natural_key))
    return Flow(text, source, tuple(statements), names, frozenset(parser.assigned))


def _ends(statements: list[Statement]) -> bool:
    """Whether every path through ``statements`` ends in a return (a plain check: the last one returns)."""
    if not statements:
        return False
    last = statements[-1]
    if isinstance(last, Return):
        return True
    if isinstance(last, If):
        return last.branches[-1][0] is None and all(_ends(list(body)) for _, body in last.branches)
    return False


def _parameters(source: Source, checks: Checks, node: ast.FunctionDef) -> tuple[str, ...]:
    args = node.args
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs or args.defaults or args.kw_defaults:
        raise source.error("def takes plain parameters only: def f(a, b)", node)
    if node.decorator_list or node.returns or any(a.annotation for a in args.args):
        raise source.error("decorators and annotations are not part of the language", node)
    names = tuple(a.arg for a in args.args)
    if not names:
        raise source.error("def needs at least one parameter: the variables to differentiate by", node)
    for a in args.args:
        _check_target(source, checks, a.arg, node)
    if len(set(names)) != len(names):
        raise source.error("a parameter is named twice", node)
    return names


def _check_target(source: Source, checks: Checks, name: str, node: ast.AST) -> None:
    checks.check_name(source, name, node)
    if is_reserved(name):
        raise source.error(f"{name!r} is a reserved name and cannot be bound", node)


def _block_counts(source: Source, body: list[ast.stmt]) -> dict[str, int]:
    """How many statements of each kind (if, while, for) the program has: a kind seen once is named without its line."""
    counts: dict[str, int] = {}
    for stmt in body:
        for node in ast.walk(stmt):
            kind = {ast.If: "if", ast.While: "while", ast.For: "for"}.get(type(node))  # type: ignore[call-overload]
            if kind is not None and not (isinstance(node, ast.If) and _is_elif(source, node)):
                counts[kind] = counts.get(kind, 0) + 1
    return counts


class _Parser:
    """Statements -> the tree, each expression checked by the node table; names read and bound collected."""

    def __init__(self, source: Source, checks: Checks, counts: dict[str, int]) -> None:
        self.source = source
        self.checks = checks
        self.counts = counts
        self.read: list[str] = []
        self.first_read: list[str] = []  # read before any binding of it, in text order: the variables
        self.assigned: set[str] = set()

    def label(self, kind: str, node: ast.stmt) -> str:
        return kind if self.counts.get(kind, 0) <= 1 else f"{kind} (line {node.lineno})"

    def expression(self, node: ast.expr) -> ast.expr:
        for child in ast.walk(node):
            self.checks.validate_node(self.source, child)
            if isinstance(child, ast.Name) and not is_reserved(child.id):
                self.read.append(child.id)
                if child.id not in self.assigned:
                    self.first_read.append(child.id)
        return node

    def bind(self, name: str, node: ast.AST) -> str:
        _check_target(self.source, self.checks, name, node)
        self.assigned.add(name)
        return name

    def block(self, body: list[ast.stmt], *, top: bool, in_loop: bool) -> list[Statement]:
        out: list[Statement] = []
        for index, stmt in enumerate(body):
            last = top and index == len(body) - 1
            out.append(self.statement(stmt, last=last, in_loop=in_loop))
        return out

    def statement(self, stmt: ast.stmt, *, last: bool, in_loop: bool) -> Statement:
        source = self.source
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                raise source.error("only 'name = expression' bindings are allowed", stmt)
            value = self.expression(stmt.value)
            return Assign(self.bind(stmt.targets[0].id, stmt), value, stmt)
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):  # b *= 2 is b = b * 2
            target = stmt.target.id
            value = ast.copy_location(ast.BinOp(ast.Name(target, ast.Load()), stmt.op, stmt.value), stmt.value)
            value = self.expression(ast.fix_missing_locations(value))
            return Assign(self.bind(target, stmt), value, stmt)
        if isinstance(stmt, ast.Expr):
            if not last:
                raise source.error("a bare expression does nothing here; bind it with 'name = ...' or return it", stmt)
            return Return(self.expression(stmt.value), stmt)
        if isinstance(stmt, ast.Return):
            if stmt.value is None:
                raise source.error("return needs an expression: the function's value", stmt)
            return Return(self.expression(stmt.value), stmt)
        if isinstance(stmt, ast.If):
            return self.if_statement(stmt, in_loop)
        if isinstance(stmt, ast.While):
            if stmt.orelse:
                raise source.error("while ... else is not part of the language", stmt)
            condition = self.expression(stmt.test)
            body = self.block(stmt.body, top=False, in_loop=True)
            return While(condition, tuple(body), self.label("while", stmt), stmt)
        if isinstance(stmt, ast.For):
            return self.for_statement(stmt)
        if isinstance(stmt, ast.Break | ast.Continue):
            kind = "break" if isinstance(stmt, ast.Break) else "continue"
            if not in_loop:
                raise source.error(f"'{kind}' outside a loop", stmt)
            return Jump(kind, stmt)
        if isinstance(stmt, ast.FunctionDef):
            raise source.error("def is allowed once, around the whole program (no nested def)", stmt)
        raise source.error(f"{self.checks.describe(stmt)} is not part of the language", stmt)

    def if_statement(self, stmt: ast.If, in_loop: bool) -> If:
        label = self.label("if", stmt)
        branches: list[tuple[ast.expr | None, tuple[Statement, ...]]] = []
        node: ast.stmt = stmt
        while True:
            assert isinstance(node, ast.If)
            condition = self.expression(node.test)
            branches.append((condition, tuple(self.block(node.body, top=False, in_loop=in_loop))))
            rest = node.orelse
            if len(rest) == 1 and isinstance(rest[0], ast.If) and _is_elif(self.source, rest[0]):
                node = rest[0]
                continue
            if rest:
                branches.append((None, tuple(self.block(rest, top=False, in_loop=in_loop))))
            return If(tuple(branches), label, stmt)

    def for_statement(self, stmt: ast.For) -> For:
        source = self.source
        if stmt.orelse:
            raise source.error("for ... else is not part of the language", stmt)
        if not isinstance(stmt.target, ast.Name):
            raise source.error("a for loop binds one name: for i in range(k)", stmt)
        call = stmt.iter
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "range"):
            raise source.error("a for loop runs over range(k) only (k an integer constant)", stmt.iter)
        if call.keywords or not 1 <= len(call.args) <= 3:
            raise source.error("range() takes 1 to 3 integer constants: range(k), range(a, b), range(a, b, step)", call)
        for arg in call.args:
            for child in ast.walk(arg):
                if not isinstance(child, ast.Constant | ast.UnaryOp | ast.USub | ast.Name | ast.Load):
                    raise source.error("range() takes integer constants (or an enclosing loop's variable)", arg)
            self.expression(arg)
        target = self.bind(stmt.target.id, stmt)
        body = self.block(stmt.body, top=False, in_loop=True)
        return For(target, tuple(call.args), tuple(body), self.label("for", stmt), stmt)


def _is_elif(source: Source, node: ast.If) -> bool:
    """Whether this ``if`` in an ``orelse`` was written ``elif`` (not ``else:`` then a nested ``if``)."""
    line = source.text.split("\n")[node.lineno - 1] if node.lineno else ""
    return line[node.col_offset : node.col_offset + 4] == "elif"


def flow_error(flow: Flow, message: str, node: ast.AST | None = None) -> ExpressionError:
    """An error about the program at ``node`` (its line and caret)."""
    return flow.source.error(message, node)
