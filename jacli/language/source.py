"""Source text: limits read from the environment, character checks, the ``^`` rewrite keeping columns.

User text is data: it is checked character by character, ``^`` is rewritten to ``**``,
and Python's ``ast`` parses it; nothing is ever handed to ``eval`` or ``sympify``.
"""

from __future__ import annotations

import ast
import math
import os
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jacli import limits
from jacli.errors import ExpressionError, UsageError


def ensure_recursion_room() -> None:
    """Raise Python's recursion limit to :data:`limits.RECURSION_LIMIT` (never lower it)."""
    if sys.getrecursionlimit() < limits.RECURSION_LIMIT:
        sys.setrecursionlimit(limits.RECURSION_LIMIT)


ensure_recursion_room()  # at import, once: a limit changed later, mid-computation, surprises other code


def dimension_problem(ndim: int) -> str | None:
    """Why an array of ``ndim`` dimensions is refused, or None (for any reader of arrays: text, points files, API)."""
    if ndim > limits.MAX_DIMENSIONS:
        return f"this array has {ndim} dimensions; the limit is {limits.MAX_DIMENSIONS}"
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
    return _env_limit("JACLI_MAX_LENGTH", limits.DEFAULT_MAX_LENGTH)


def max_elements() -> int:
    """Most elements in one array, in the outputs, or in the inputs."""
    return _env_limit("JACLI_MAX_ELEMENTS", limits.DEFAULT_MAX_ELEMENTS)


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
    size, limit = math.prod(shape), limits.RESULT_ENTRIES_PER_ELEMENT * max_elements()
    if size > limit:
        raise UsageError(
            f"the {what} would have {size:,} entries ({' × '.join(map(str, shape))}); the limit is {limit:,} "
            "(differentiate w.r.t. fewer variables with --wrt, or set JACLI_MAX_ELEMENTS)"
        )


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


def prepare_source(
    text: str, prefix: str = "", suffix: str = "", what: str = "expression", *, keep_indentation: bool = False
) -> Source:
    """Check characters and length, rewrite ``^`` to ``**``, strip indentation (``keep_indentation``: only
    the indentation common to every line, as ``textwrap.dedent``: a program's blocks are indented)."""
    if len(text) > max_length():
        raise UsageError(
            f"{what} is {len(text):,} characters long; the limit is {max_length():,} (set JACLI_MAX_LENGTH to raise it)"
        )
    bad = _NOT_ALLOWED.search(text)  # the first character outside printable ASCII, tab and line breaks
    if bad is not None:
        index, ch = bad.start(), bad.group()
        problem = f"{what} contains a {_character_problem(ch)} at column {index + 1}"
        raise ExpressionError(problem, _printable(text), index)
    if "^" not in text and "\r" not in text and _INDENTED.search(text) is None:
        return _unchanged(text, prefix, suffix)  # nothing to rewrite: the text as it is (linear, no loop)
    return _rewrite(text, prefix, suffix, keep_indentation)


def _rewrite(text: str, prefix: str, suffix: str, keep_indentation: bool) -> Source:
    """The :class:`Source` of a checked text: ``^`` to ``**``, CRLF and CR to LF, indentation stripped."""
    out: list[str] = list(prefix)
    origin: list[int] = [0] * len(prefix)
    at_line_start = True
    common = _common_indentation(text) if keep_indentation else None
    column = 0
    for index, raw in enumerate(text):
        # CRLF is one line break, a bare CR is one too (never deleted: x*2<CR>3 is not x*23)
        if raw == "\r" and text[index + 1 : index + 2] == "\n":
            continue
        ch = "\n" if raw == "\r" else raw
        if at_line_start and ch in " \t" and (common is None or column < len(common)):
            column += 1
            continue  # indentation means nothing in this language (but a program's blocks)
        at_line_start, column = ch == "\n", 0
        piece = "**" if ch == "^" else ch
        out.extend(piece)
        origin.extend([index + len(prefix)] * len(piece))
    out.extend(suffix)
    origin.extend([len(text) + len(prefix)] * (len(suffix) + 1))
    rewritten = "".join(out)
    starts = [0] + [m.end() for m in re.finditer("\n", rewritten)]
    return Source(text, rewritten, tuple(origin), len(prefix), tuple(starts))


_NOT_ALLOWED = re.compile(r"[^\t\n\r\x20-\x7e]")
"""A character outside the language's alphabet (ASCII's printable characters are U+0020 to U+007E)."""
_INDENTED = re.compile(r"(?:^|\n)[ \t]")
"""A line that starts with a blank (indentation the general path strips)."""


def _unchanged(text: str, prefix: str, suffix: str) -> Source:
    """The :class:`Source` of a text with no ``^``, CR or indentation: what the general path gives, built whole."""
    rewritten = prefix + text + suffix
    end = len(text) + len(prefix)
    origin = (0,) * len(prefix) + tuple(range(len(prefix), end)) + (end,) * (len(suffix) + 1)
    starts = [0] + [m.end() for m in re.finditer("\n", rewritten)]
    return Source(text, rewritten, origin, len(prefix), tuple(starts))


def _common_indentation(text: str) -> str:
    """The leading blanks every non-blank line of ``text`` shares."""
    lines = [line for line in re.split(r"\r\n|\r|\n", text) if line.strip(" \t")]
    indents = [line[: len(line) - len(line.lstrip(" \t"))] for line in lines]
    common = indents[0] if indents else ""
    for indent in indents[1:]:
        while not indent.startswith(common):
            common = common[:-1]
    return common


def _check_nesting(source: Source) -> None:
    depth = 0
    for index, ch in enumerate(source.text):
        if ch in "([{":
            depth += 1
            if depth > limits.MAX_NESTING:
                col = max(source.origin[index] - source.prefix, 0)
                raise ExpressionError(
                    f"brackets nested more than {limits.MAX_NESTING} deep at column {col + 1}",
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


def _short(item: Any) -> str:
    """``item`` as text, at most 40 characters (a huge number or expression in a message is noise)."""
    text = str(item)
    return text if len(text) <= 40 else text[:28] + "…" + text[-8:]
