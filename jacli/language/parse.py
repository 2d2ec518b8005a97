"""Parsing: text -> validated statements and free names, through a whitelist over ``ast``."""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass

from jacli import limits
from jacli.errors import ExpressionError
from jacli.language.functions import FUNCTIONS, RESERVED, FunctionSpec
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
