"""LaTeX: the symbolic and numeric results as ``bmatrix`` environments."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jacli.render import full_precision

if TYPE_CHECKING:
    from jacli.results import Nested, Result


def _number(x: float) -> str:
    text = full_precision(x)
    if text.endswith(".0"):
        text = text[:-2]
    return {"nan": r"\mathrm{nan}", "inf": r"\infty", "-inf": r"-\infty"}.get(text, text)


def bmatrix(cells: Nested) -> str:
    """A matrix (or a row for a vector) of already-formatted cells."""
    rows = cells if cells and isinstance(cells[0], list) else [cells]
    body = r" \\ ".join(" & ".join(row) for row in rows)
    return r"\begin{bmatrix} " + body + r" \end{bmatrix}"


def _blocks(nested: Nested, axes: tuple[str, ...]) -> list[Nested]:
    """A result of three axes (m×n×n) as one matrix per entry of the first (more axes: per leading index);
    anything else as one."""
    if len(axes) > 3:
        return [block for item in nested for block in _blocks(item, axes[1:])]
    return list(nested) if len(axes) == 3 else [nested]


def _block_labels(result: Result) -> list[str]:
    """``f0`` per output; ``f0, x1`` per leading index of a tensor of order 3 or more."""
    import itertools  # noqa: PLC0415

    labels = {"out": result.outputs, "in": result.inputs}
    leading = result.axes[:-2]
    return [", ".join(keys) for keys in itertools.product(*(labels[axis] for axis in leading))]


def _map(nested: Nested, fn) -> Nested:
    return [_map(x, fn) for x in nested] if isinstance(nested, list) else fn(nested)


def render_latex(result: Result, document: bool = True) -> str:
    """``symbol = symbolic = numeric``, one line per output block."""
    extra = dict(result.extra)
    if "polynomial" in extra:  # a Taylor polynomial: one line per output
        shown = result.symbolic_display.latex() if result.symbolic_display is not None else extra["polynomial"]
        lines = [f"{result.symbol}_{{{out}}}(x) = {poly}" for out, poly in zip(result.outputs, shown, strict=True)]
        return _finish(result, lines, document)
    if result.result is None:  # a symbolic answer without a point: the symbolic form only
        return _finish(result, _symbolic_lines(result) + _matrix_lines(result), document)
    numeric = _blocks(_map(result.result, _number), result.axes)
    symbolic = (
        _blocks(result.symbolic_display.latex(), result.axes)
        if result.symbolic_display is not None
        else [None] * len(numeric)
    )
    lines = []
    name = result.symbol
    keys = _block_labels(result) if len(result.axes) > 3 else list(result.outputs)
    for index, (num, sym) in enumerate(zip(numeric, symbolic, strict=True)):
        label = f"{name}_{{{keys[index]}}}" if len(numeric) > 1 else name
        cells = [sym] if sym is not None else []
        # one number (the divergence) is written as it is, not as a 1×1 matrix
        parts = [label] + [c if not result.axes else bmatrix(c) for c in [*cells, num]]
        lines.append(" = ".join(parts))
    return _finish(result, lines + _matrix_lines(result), document)


def _matrix_lines(result: Result) -> list[str]:
    """The matrix form, one line (per input for a vjp); none when there is no form."""
    if result.symbolic_matrix is None:
        return []
    form = result.symbolic_matrix.latex
    named = form.items() if isinstance(form, dict) else [(None, form)]
    return [(f"{result.symbol}_{{{key}}}" if key else result.symbol) + f" = {text}" for key, text in named]


def _symbolic_lines(result: Result) -> list[str]:
    """``symbol = symbolic``, one line per output block: a symbolic answer without a point (issue 15)."""
    if result.symbolic_display is None:  # named dimensions: only the matrix form
        return []
    blocks = _blocks(result.symbolic_display.latex(), result.axes)
    keys = _block_labels(result) if len(result.axes) > 3 else list(result.outputs)
    return [
        (f"{result.symbol}_{{{keys[index]}}}" if len(blocks) > 1 else result.symbol)
        + " = "
        + (bmatrix(cells) if result.axes else cells)
        for index, cells in enumerate(blocks)
    ]


def _finish(result: Result, lines: list[str], document: bool) -> str:
    if not document:
        if len(lines) == 1:
            return lines[0]
        return r"\begin{gathered} " + r" \\ ".join(lines) + r" \end{gathered}"
    body = "\n".join(lines)
    if result.point is None:
        return comment(f"jacli {result.command}: {result.expression}") + f"{body}\n"
    point = ", ".join(f"{k} = {v}" for k, v in result.point.items())
    path = dict(result.extra).get("path")  # a control-flow program: the path it took
    header = comment(f"jacli {result.command}: {result.expression} at {point}")
    return header + (comment(f"path: {path}") if path else "") + f"{body}\n"


def comment(text: str) -> str:
    """``text`` as LaTeX comment lines: every line of it starts with ``%``.

    ``str.splitlines`` splits at every line break TeX or an editor may honour (``\\n``, ``\\r``,
    ``\\r\\n``, form feed, U+2028, ...), so no part of a multi-line expression escapes the comment.

    >>> comment("jacli gradient: a = x\\rb = a at x = 1")
    '% jacli gradient: a = x\\n% b = a at x = 1\\n'
    """
    return "".join(f"% {line}\n" for line in text.splitlines() or [""])
