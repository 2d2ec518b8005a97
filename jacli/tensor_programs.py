"""``--show-torch`` for the tensor vocabulary (issue 13, part A): ``axis=k`` as ``dim=k``, templates.

A row of the function table with a ``torch_text`` (``1 / torch.cos(_0)``) is printed by
putting the translated arguments in place of ``_0``, ``_1`` in that text's ``ast`` (an
argument used twice is first assigned to a temporary); a reduction along an axis is its
torch function with ``dim=k``; ``norm(x, p)`` is ``torch.linalg.vector_norm(x, ord=p)``.
Nothing is executed: the text is parsed, never evaluated.
"""

from __future__ import annotations

import ast
import copy
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jacli import language

if TYPE_CHECKING:
    from jacli.torch_program import _Translator


@functools.cache
def _template(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def _number(translator: _Translator, node: ast.AST) -> int | float:
    """A constant argument (an axis, the p of a norm) as a Python number."""
    text = ast.get_source_segment(translator.source.text, node) or ""
    value = language.constant_value(language.parse_assignments(text, what="constant").positional[0][()])
    return int(value) if float(value).is_integer() else value


def template(translator: _Translator, name: str, args: list[ast.expr]) -> ast.expr:
    """The row's ``torch_text`` with the translated ``args`` in place of ``_0``, ``_1``, …"""
    body = copy.deepcopy(_template(language.FUNCTIONS[name].torch_text or ""))
    uses = [n.id for n in ast.walk(body) if isinstance(n, ast.Name) and n.id.startswith("_")]
    values: list[ast.expr] = []
    for i, arg in enumerate(args):
        value = translator.operand(arg)
        if uses.count(f"_{i}") > 1 and not isinstance(value, ast.Name):
            value = translator.hoist(value)
        values.append(value)

    class _Substitute(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> Any:
            if node.id.startswith("_") and node.id[1:].isdigit():
                return copy.deepcopy(values[int(node.id[1:])])
            return node

    return _Substitute().visit(body)


def call(
    translator: _Translator, node: ast.Call, name: str, args: list[ast.expr], _call: Callable[..., ast.Call]
) -> ast.expr | None:
    """A call of an issue-13 row as torch (``_call(dotted, *args, **keywords)`` writes a call), or None
    where the v1 translation applies (``max(a, b)``)."""
    row = language.FUNCTIONS[name]
    keywords = {k.arg: k.value for k in node.keywords}
    if row.axis_arg is not None and len(args) > row.axis_arg:
        keywords["axis"], args = args[row.axis_arg], args[: row.axis_arg]
    dim = {"dim": ast.Constant(_number(translator, keywords["axis"]))} if "axis" in keywords else {}
    if name == "norm":
        order = {"ord": ast.Constant(_number(translator, args[1]))} if len(args) > 1 else {}
        return _call(row.torch or "", translator.operand(args[0]), **order, **dim)
    if dim:
        return _call(row.torch_of_array or row.torch or "", translator.operand(args[0]), **dim)
    if row.torch_text:
        return template(translator, name, args)
    return None
