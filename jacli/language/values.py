"""Values typed by the user: --at, --v, points files."""

from __future__ import annotations

import ast
from dataclasses import dataclass

import sympy

from jacli.errors import ExpressionError
from jacli.language.arrays import Value
from jacli.language.build import _Builder, _segment
from jacli.language.parse import _check_name, validate_node
from jacli.language.source import Source, _parse_ast, _short, prepare_source

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
            validate_node(source, node)
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


def _real_value(source: Source, value: Value, node: ast.AST, what: str) -> Value:
    for element in value.flat:
        if not element.is_number:
            raise source.error(f"{what} values must be numbers, got {_short(element)}", node)
        if element.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            raise source.error(f"{what} value {_segment(source, node)} is infinite or undefined", node)
        if element.is_real is False:
            raise source.error(f"{what} value {_segment(source, node)} is not real (it is {_short(element)})", node)
    return value
