"""A table elides a symbolic form too wide to show without printing it (issue 16: SymPy took 10 s).

The bound: the symbolic form has the numeric tables' layout, so it is at least
``SYMBOLIC_CELL_MIN`` cells per value column wide. Checked here on every layout a table has
(matrices, rows, columns, one number, one matrix per output or per array variable, order 3):
the pretty form is never narrower than the bound, so eliding by the bound elides only what
printing would have elided; and the n = 40 Rosenbrock Hessian is elided without printing.
"""

from __future__ import annotations

import dataclasses
import io

import pytest
from rich.cells import cell_len
from rich.console import Console

import jacli
from jacli.render import table
from jacli.results import Result

CASES = [
    ("jacobian", "2*x0+x1**2, x0**2+2*x1**3, sin(x0)", {"at": [1, 2]}),
    ("gradient", "x1**2 + x2**3 + x3**4", {"at": [1, 2, 3]}),
    ("hessian", "x*y**2 + z", {"at": [1, 2, 3]}),
    ("vjp", "2*x0+x1**2, x0**2+2*x1**3", {"at": [1, 2], "v": [1, 2]}),
    ("jvp", "2*x0+x1**2, x0**2+2*x1**3, x0", {"at": [1, 2], "v": [1, 0]}),
    ("gradient", "sum(A@x)", {"at": {"A": [[1, 2], [3, 4]], "x": [1, 1]}}),
    ("jacobian", "A@x", {"at": {"A": [[1, 2, 3], [3, 4, 5]], "x": [1, 1, 2]}}),
    ("hessian", "x0*x1, x0**3", {"at": [1, 2]}),
    ("derivative", "x*y**3", {"at": [1, 2], "order": 3}),
    ("divergence", "x*y, y**2", {"at": [1, 2]}),
    ("laplacian", "x**2*y + y**3", {"at": [1, 2]}),
]


def _widest(result: Result) -> int:
    display = result.symbolic_display
    blocks = display.blocks()
    shown = [pretty for _, pretty in blocks] if blocks is not None else [display.pretty()]
    return max(cell_len(line) for pretty in shown for line in pretty.splitlines())


@pytest.mark.parametrize(("command", "text", "options"), CASES, ids=[f"{c}:{t}" for c, t, _ in CASES])
def test_the_pretty_form_is_never_narrower_than_the_bound(command: str, text: str, options: dict) -> None:
    result = getattr(jacli, command)(text, **options)
    columns = table._most_columns(table.numeric_tables(result, 6))
    assert columns >= 1
    assert _widest(result) >= table.SYMBOLIC_CELL_MIN * columns


def test_a_wide_hessian_is_elided_without_printing() -> None:
    text = "+".join(f"100*(x{i + 1}-x{i}**2)**2+(1-x{i})**2" for i in range(39))
    result = jacli.hessian(text, at=[1.1] * 40)
    printed: list[str] = []
    display = dataclasses.replace(
        result.symbolic_display,
        blocks=lambda: printed.append("blocks"),
        pretty=lambda: printed.append("pretty") or "",
    )
    result = dataclasses.replace(result, symbolic_display=display)
    assert table.SYMBOLIC_CELL_MIN * 40 > 100 and display.operations() <= table.SYMBOLIC_DISPLAY_LIMIT
    out = io.StringIO()
    table.render_table(result, Console(file=out, width=100, force_terminal=False))
    assert printed == []
    assert table.TOO_WIDE in out.getvalue()
