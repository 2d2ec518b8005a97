"""Parsing: text -> validated statements and free names, through a whitelist over ``ast``."""

from __future__ import annotations

import ast
import collections
import difflib
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from jacli import limits
from jacli.errors import ExpressionError
from jacli.language import statements as statements_module
from jacli.language.functions import FUNCTIONS, is_reserved
from jacli.language.source import Source, _parse_ast, ensure_recursion_room, prepare_source

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


def _allowed(source: Source, node: ast.AST) -> None:
    """A node of the language with nothing of its own to check (its children are checked too)."""


def _validate_constant(source: Source, node: ast.Constant) -> None:
    if isinstance(node.value, bool) or not isinstance(node.value, int | float):
        raise source.error(f"{node_description(node)} is not part of the language", node)


def _validate_name(source: Source, node: ast.Name) -> None:
    _check_name(source, node.id, node)


def _validate_call(source: Source, node: ast.Call) -> None:
    method = isinstance(node.func, ast.Attribute)  # x.f(args) is f(x, args)
    if not isinstance(node.func, ast.Name) and not method:
        raise source.error("only the functions of the language can be called", node)
    name = node.func.attr if method else node.func.id
    if method and name not in FUNCTIONS:
        raise source.error(
            f"only the functions of the language can be called; {name!r} is not one (x.f(...) calls f(x, ...))", node
        )
    if name not in FUNCTIONS:
        raise source.error(f"unknown function {name!r}{_suggestion(name)}", node)
    function = FUNCTIONS[name]
    _validate_keywords(source, node, function)
    count = len(node.args) + method
    if count < function.min_args or (function.max_args is not None and count > function.max_args):
        raise source.error(f"{name}() takes {function.arity}, got {count}", node)


def _validate_keywords(source: Source, node: ast.Call, function: Any) -> None:
    for keyword in node.keywords:
        if keyword.arg not in function.keywords:
            takes = f"takes only the keyword {', '.join(function.keywords)}"
            takes = takes if function.keywords else "takes no keyword"
            what = "'**' unpacking" if keyword.arg is None else repr(keyword.arg)
            raise source.error(f"{function.name}() {takes} arguments, not {what}", keyword.value)
    if len({k.arg for k in node.keywords}) < len(node.keywords):
        raise source.error(f"{function.name}(): a keyword argument given twice", node)
    positional = len(node.args) + isinstance(node.func, ast.Attribute)
    if node.keywords and function.axis_arg is not None and positional > function.axis_arg:
        raise source.error(f"{function.name}(): axis given twice (by position and as axis=)", node)


def call_parts(node: ast.Call) -> tuple[str, list[ast.expr]]:
    """The function a call names and its positional arguments: ``x.f(a)`` is ``f(x, a)``."""
    if isinstance(node.func, ast.Attribute):
        return node.func.attr, [node.func.value, *node.args]
    assert isinstance(node.func, ast.Name)
    return node.func.id, list(node.args)


def _validate_attribute(source: Source, node: ast.Attribute) -> None:
    """``A.T`` and the method form ``x.f(...)`` of a function of the language; nothing else."""
    if node.attr == "T" or node.attr in FUNCTIONS:
        return
    raise source.error(
        f"attribute {node.attr!r} is not part of the language; attribute access is .T (transpose) and "
        "x.f(...) for a function f of the language: x.sum(), x.norm(), x.exp()",
        node,
    )


NODES: dict[type, Callable[[Source, Any], None] | str] = {
    # the language: how each node is checked before anything is built (looked up along the MRO)
    ast.BinOp: _allowed,
    ast.UnaryOp: _allowed,
    ast.Call: _validate_call,
    ast.Name: _validate_name,
    ast.Constant: _validate_constant,
    ast.Tuple: _allowed,
    ast.List: _allowed,
    ast.Subscript: _allowed,
    ast.Slice: _allowed,  # inside brackets only: Python's grammar has no other place for one
    ast.Attribute: _validate_attribute,  # A.T, x.sum(): issue 13
    ast.keyword: _allowed,  # checked by the call: axis=k
    ast.Compare: _allowed,
    ast.BoolOp: _allowed,
    ast.operator: _allowed,  # the builder refuses %, //, ^ (as XOR), & and the like by name
    ast.unaryop: _allowed,
    ast.cmpop: _allowed,
    ast.boolop: _allowed,
    ast.expr_context: _allowed,
    # refused, with the words of the message
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
    # statements other than 'name = value' and the final expression
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
"""THE node table (simpleeval style): a node type -> its check, or the reason it is refused.
A node type not in the table is refused by its ``ast`` name."""


def _rule(node: ast.AST) -> Callable[[Source, Any], None] | str | None:
    return _rule_of(type(node))


@functools.cache
def _rule_of(kind: type) -> Callable[[Source, Any], None] | str | None:
    """The rule of a node type: its own entry of :data:`NODES` or its nearest base class's (once per type)."""
    for cls in kind.__mro__:
        if cls in NODES:
            return NODES[cls]
    return None


def walk(root: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk(root)``: the same nodes in the same order (breadth first), without its per-node generators."""
    pending = collections.deque([root])
    pop, push = pending.popleft, pending.append
    while pending:
        node = pop()
        for name in node._fields:
            child = getattr(node, name, None)
            if isinstance(child, ast.AST):
                push(child)
            elif isinstance(child, list):
                pending.extend(item for item in child if isinstance(item, ast.AST))
        yield node


def node_description(node: ast.AST) -> str:
    """What ``node`` is, in the words of a refusal (``lambda``, ``string literals``)."""
    if isinstance(node, ast.Constant):
        kind = type(node.value).__name__
        return {"str": "string literals", "bytes": "bytes literals", "bool": "True/False"}.get(kind, f"{kind} literals")
    rule = _rule(node)
    return rule if isinstance(rule, str) else type(node).__name__


def validate_node(source: Source, node: ast.AST) -> None:
    """Refuse, by name, every node outside the language (before anything is built)."""
    rule = _rule_of(type(node))
    if rule is None or isinstance(rule, str):
        raise source.error(f"{node_description(node)} is not part of the language", node)
    if rule is not _allowed:
        rule(source, node)


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
    flow: Any = None
    """A control-flow program (:class:`.statements.Flow`): then ``statements`` is empty, ``names`` its variables."""


def _check_name(source: Source, name: str, node: ast.AST) -> None:
    if name.startswith("__"):
        raise source.error(f"names starting with '__' are not allowed: {name!r}", node)
    if len(name) > limits.MAX_NAME_LENGTH:
        raise source.error(f"name is {len(name)} characters long; the limit is {limits.MAX_NAME_LENGTH}", node)


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
    if statements_module.is_flow(text):  # if/while/for/def: its own parser, over the same node table
        flow = statements_module.parse_flow(text, _FLOW_CHECKS)
        return ParsedExpression(text, flow.source, (), flow.names, (), flow)
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
            raise source.error(f"{node_description(stmt)} is not part of the language", stmt)
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
        for node in walk(stmt.value):
            validate_node(source, node)
            if type(node) is ast.Name and node.id not in bound and node.id not in free and not is_reserved(node.id):
                free[node.id] = None
        if stmt.target is not None:
            _check_binding_target(source, stmt, free, bound)
            bound[stmt.target] = None
    return ParsedExpression(text, source, tuple(statements), tuple(sorted(free, key=natural_key)), tuple(bound))


def _check_binding_target(source: Source, stmt: Statement, free: dict, bound: dict) -> None:
    name = stmt.target
    assert name is not None
    _check_name(source, name, stmt.value)
    if is_reserved(name):
        raise source.error(f"{name!r} is a reserved name and cannot be bound", stmt.value)
    if name in bound:
        raise source.error(f"{name!r} is bound twice; use a new name", stmt.value)
    if name in free:
        raise source.error(f"{name!r} is used before it is bound", stmt.value)


_FLOW_CHECKS = statements_module.Checks(validate_node, _check_name, node_description, natural_key)
"""The checks a control-flow program's statements parser uses: this module's."""
