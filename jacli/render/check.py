"""``jacli check``: the three Jacobians side by side, their errors, and the verdict.

JSON keys (SPEC): ``inputs``, ``outputs``, ``point``, ``autodiff``, ``exact``,
``finite_difference`` (m×n matrices), ``max_abs_error`` and ``max_rel_error``
(keys ``autodiff``, ``finite_difference``), ``ok``; and besides them ``command``,
``expression``, ``value``, ``rtol``, ``atol``, ``h``, ``richardson``, ``dtype``,
``mode``, ``nonsmooth``, ``not_differentiable``, ``nonfinite``, ``reference``, ``notes``, ``verdict``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import IO, TYPE_CHECKING, Any

from jacli.render import finite_or_null, format_number, full_precision, trimmed, write_one
from jacli.render.fit import Column, Grid, header, print_grids
from jacli.results import CheckResult, Nested

if TYPE_CHECKING:
    from rich.console import Console


def check_object(result: CheckResult) -> dict[str, Any]:
    """The JSON object; non-finite numbers become ``null``."""
    return finite_or_null({
        "command": "check",
        "expression": result.expression,
        "inputs": list(result.inputs),
        "outputs": list(result.outputs),
        "point": result.point,
        "value": list(result.value),
        "autodiff": result.autodiff,
        "exact": result.exact,
        "finite_difference": result.finite_difference,
        "max_abs_error": dict(result.max_abs_error),
        "max_rel_error": dict(result.max_rel_error),
        "ok": result.ok,
        "rtol": result.rtol,
        "atol": result.atol,
        "h": result.h,
        "richardson": result.richardson,
        "dtype": result.dtype,
        "mode": result.mode,
        "nonsmooth": list(result.nonsmooth),
        "not_differentiable": list(result.not_differentiable),
        "nonfinite": list(result.nonfinite),
        "reference": result.reference,
        "notes": list(result.notes),
        "verdict": result.verdict,
    })  # fmt: skip


def render_check_json(result: CheckResult) -> str:
    """One line of JSON (no trailing newline)."""
    return json.dumps(check_object(result), allow_nan=False, ensure_ascii=False)


def write_check(
    result: CheckResult,
    fmt: str,
    stream: IO[str],
    *,
    console: Console | None = None,
    digits: int = 6,
    first: bool = True,
) -> None:
    """One result of several, as ``fmt``: a JSON line, CSV rows, or a table block on ``console``.

    Tables of several points are separated by a blank line (``first`` is False for all but
    the first); JSON and CSV simply follow one another, one object or one point's rows each.
    """
    texts = {"json": lambda r: render_check_json(r) + "\n", "csv": render_check_csv}
    write_one(result, fmt, stream, texts, render_check_table, console=console, digits=digits, first=first)


def _entries(result: CheckResult) -> list[tuple[str, str, float, float, float]]:
    return [
        (out, inp, result.autodiff[i][j], result.exact[i][j], result.finite_difference[i][j])
        for i, out in enumerate(result.outputs)
        for j, inp in enumerate(result.inputs)
    ]


def render_check_csv(result: CheckResult) -> str:
    """One row per Jacobian entry: output, input, autodiff, exact, finite_difference."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for out, inp, auto, exact, fd in _entries(result):
        writer.writerow([out, inp, full_precision(auto), full_precision(exact), full_precision(fd)])
    return buffer.getvalue()


def _error(a: float, e: float, digits: int) -> str:
    if a == e or (math.isnan(a) and math.isnan(e)):
        return "0"
    return format_number(abs(a - e), min(digits, 3))


def render_check_table(result: CheckResult, console: Console, digits: int = 6) -> None:
    """Header, one row per entry (autodiff | exact | finite differences | errors), notes and the verdict."""
    with trimmed(console):
        from rich.text import Text

        names = ", ".join(result.point)
        method = "central differences" + (" + Richardson" if result.richardson else "")
        rows = [
            ("check of", Text(f"f({names}) = {' '.join(result.expression.split())}")),
            ("at", Text(", ".join(f"{k} = {_point(v, digits)}" for k, v in result.point.items()))),
            ("finite diff.", Text(f"{method}, h = {result.h:.3g}, {result.dtype}")),
            ("tolerance", Text(f"|autodiff - exact| ≤ {result.atol:g} + {result.rtol:g}·|exact|")),
        ]
        console.print(header(rows, console.width))
        print_grids(console, [_grid(result, digits)], "--format json or csv")
        abs_err, rel_err = result.max_abs_error, result.max_rel_error
        for what, errors in (("abs", abs_err), ("rel", rel_err)):
            console.print(
                f"max {what} error: autodiff {format_number(errors['autodiff'], 3)}, "
                f"finite differences {format_number(errors['finite_difference'], 3)}",
                highlight=False,
            )
        for site in result.nonsmooth:
            console.print(Text(f"non-smooth here: {site}", style="yellow"))
        for note in result.notes:
            console.print(Text(note, style="dim"))
        console.print(Text(result.verdict, style="bold green" if result.ok else "bold red"))


CHECK_HEADERS = ("autodiff", "exact (SymPy)", "finite diff.", "|ad-exact|", "|fd-exact|")
"""The value columns; short enough that a two-output check fits 80 columns."""


def _grid(result: CheckResult, digits: int) -> Grid:
    """One row per Jacobian entry; the entry labels repeat in every block."""
    entries = _entries(result)
    cells = [
        [format_number(a, digits), format_number(e, digits), format_number(f, digits),
         _error(a, e, digits), _error(f, e, digits)]
        for _, _, a, e, f in entries
    ]  # fmt: skip
    keys = [Column("entry", [f"∂{out}/∂{inp}" for out, inp, *_ in entries], justify="left")]
    columns = [Column(h, [row[j] for row in cells]) for j, h in enumerate(CHECK_HEADERS)]
    return Grid("Jacobian three ways", keys, columns)


def _point(value: Nested, digits: int) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_point(v, digits) for v in value) + "]"
    return format_number(value, digits)
