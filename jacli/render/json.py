"""JSON Lines: one object per point, with the SPEC's keys (a public interface)."""

from __future__ import annotations

import dataclasses
import itertools
import json
from typing import Any

import orjson

from jacli.render import finite_or_null
from jacli.render.numbers import texts
from jacli.results import Result


def result_object(result: Result) -> dict[str, Any]:
    """The JSON object for one result; non-finite numbers become ``null``."""
    obj: dict[str, Any] = {
        "command": result.command,
        "inputs": list(result.inputs),
        "outputs": list(result.outputs),
        "point": result.point,
        "value": list(result.value or ()),
        **dict(result.extra),
        "result": result.result,
    }
    if result.point is None:  # a symbolic answer without a point: no numbers (issue 15)
        del obj["point"], obj["value"], obj["result"]
    elif result.mode is not None:
        obj["mode"] = result.mode
    if result.v is not None:
        obj["v"] = list(result.v)
    if result.symbolic is not None:
        obj["symbolic"] = result.symbolic
    if result.symbolic_matrix is not None:
        obj["symbolic_matrix"] = result.symbolic_matrix.text
    if result.bindings:
        obj["bindings"] = dict(result.bindings)
    if result.exact is not None:
        obj["exact"] = result.exact
    obj.update(result.facts)  # what the result says besides its numbers (a scalar f's Hessian), last
    return finite_or_null(obj)


FAST_NUMBERS = 4096
"""A result with at least this many numbers is written by orjson (issue 16: 10^6 numbers in 0.07 s, not 0.3 s)."""


def render_json(result: Result) -> str:
    """One line of JSON (no trailing newline).

    A large result and a large symbolic form are written by orjson (:func:`_result_text`,
    :func:`_texts_text`) into the standard library's text of the rest, each in place of a marker.
    """
    numbers = _result_text(result.result) if result.point is not None else None
    symbolic = _texts_text(result.symbolic)
    if numbers is None and symbolic is None:
        return json.dumps(result_object(result), allow_nan=False, ensure_ascii=False)
    changes = {"result": MARKER} if numbers is not None else {}
    if symbolic is not None:
        changes["symbolic"] = TEXTS_MARKER
    text = json.dumps(result_object(dataclasses.replace(result, **changes)), allow_nan=False, ensure_ascii=False)
    if numbers is not None:
        text = text.replace(json.dumps(MARKER), numbers, 1)
    if symbolic is not None:
        text = text.replace(json.dumps(TEXTS_MARKER), symbolic, 1)
    return text


TEXTS_MARKER = "\1"
"""Stands for the symbolic form in :func:`render_json` (a distinctive escape, as :data:`MARKER`)."""


def _texts_text(nested: Any) -> str | None:
    """A large nested list of texts (a symbolic form) as :func:`json.dumps` writes it, or None.

    orjson writes a text as the standard library does (``ensure_ascii=False``) unless it escapes
    something (``"``, ``\\``, a control character; then a backslash is in its output and the
    standard library writes that row). Without a backslash every ``"`` delimits a text, so
    ``","`` is always the separator between two texts, which the standard library writes ``", "``.
    """
    if not isinstance(nested, list) or not nested or not isinstance(nested[0], list):
        return None
    rows = list(_rows(nested))
    if not all(map(isinstance, rows, itertools.repeat(list))) or sum(map(len, rows)) < FAST_NUMBERS:
        return None
    texts = {}
    for row in rows:
        if not all(map(isinstance, row, itertools.repeat(str))):
            return None
        try:
            text = orjson.dumps(row)
        except orjson.JSONEncodeError:  # a lone surrogate: the standard library decides
            return None
        texts[id(row)] = (
            json.dumps(row, ensure_ascii=False) if b"\\" in text else text.replace(b'","', b'", "').decode()
        )
    return _join(nested, texts)


def _rows(nested: list[Any]) -> Any:
    """The innermost lists of ``nested``, in order."""
    for item in nested:
        if isinstance(item, list) and item and isinstance(item[0], list):
            yield from _rows(item)
        else:
            yield item


def _join(nested: list[Any], texts: dict[int, str]) -> str:
    known = texts.get(id(nested))
    if known is not None:
        return known
    return "[" + ", ".join(_join(item, texts) for item in nested) + "]"


def _result_text(nested: Any) -> str | None:
    """A large nested list of numbers as :func:`json.dumps` writes it (after :func:`finite_or_null`), or None.

    orjson writes ints, ``null`` for nan and inf, and every float ``x`` with ``1e-4 <= |x| < 1e16``
    (and ±0) as ``repr`` does (:mod:`jacli.render.numbers`); only its separators differ, ``,`` for
    ``, ``. Every other float has an ``e`` in orjson's text or starts ``0.0000`` (after ``[``, ``,``
    or ``-``); then, or when anything but numbers and lists is there (a ``"``, ``{``,
    ``true``/``false``), None: :func:`json.dumps` writes it.
    """
    if not isinstance(nested, list) or not nested or not isinstance(nested[0], list):
        return None
    if len(nested) * len(nested[0]) < FAST_NUMBERS:
        return None
    try:
        text = orjson.dumps(nested)
    except (TypeError, orjson.JSONEncodeError):  # a huge int, an object: the standard library decides
        return None
    if any(mark in text for mark in (b"e", b'"', b"{", b"[0.0000", b",0.0000", b"-0.0000")):
        return None
    return text.replace(b",", b", ").decode()


MARKER = "\0"
"""Stands for a number in a row template (JSON writes it as a distinctive escape)."""


def json_row_template(template: Result) -> str:
    """One JSON line for ``template``, whose numbers are :data:`MARKER` s, as a ``%`` format (no newline).

    The keys and their order come from :func:`result_object`, so the fast path and
    :func:`render_json` cannot drift apart.
    """
    text = json.dumps(result_object(template), allow_nan=False, ensure_ascii=False)
    return text.replace("%", "%%").replace(json.dumps(MARKER), "%s")


def render_json_rows(row_template: str, rows: Any, nonfinite: Any = (), facts: Any = None) -> str:
    """JSON Lines for rows of numbers (a 2-D NumPy array) filled into ``row_template``.

    ``nonfinite``: flat indices of nan/inf numbers, written as ``null`` as the SPEC asks.
    ``facts``: one dict of further keys per row (:attr:`Result.facts`), written last in each object.
    """
    count = rows.shape[0]
    if count == 0:
        return ""
    values = texts(rows)  # each number's repr, as %s would write it
    for index in nonfinite:
        values[index] = "null"
    if facts is None:
        return ((row_template + "\n") * count) % tuple(values)
    assert row_template.endswith("}")
    width = len(values) // count
    lines = []
    for row, keys in enumerate(facts):
        line = row_template % tuple(values[row * width : (row + 1) * width])
        if keys:
            extra = json.dumps(finite_or_null(keys), allow_nan=False, ensure_ascii=False)
            line = line[:-1] + ", " + extra[1:]
        lines.append(line + "\n")
    return "".join(lines)
