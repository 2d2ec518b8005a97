"""Tables wider than the terminal: never a cut number, never a line wider than the terminal.

Each table renderer (results, check, graph, points) either fits, splits its columns into
blocks that fit (repeating the row labels), or prints one line saying which format shows
every number. The property tests draw widths 20..200 and table sizes from a seeded
``random.Random`` (deterministic: the same cases every run).
"""

from __future__ import annotations

import io
import math
import random
import re

import pytest
from conftest import Invoke
from rich.cells import cell_len
from rich.console import Console

from jacli.quantities import QUANTITIES
from jacli.render import format_number
from jacli.render.check import render_check_table
from jacli.render.fit import Column, Grid, TooNarrow, column_blocks, grid_width
from jacli.render.graph import render_graph_table
from jacli.render.table import render_table
from jacli.results import CheckResult, GraphEdge, GraphNode, GraphResult, InputBlock, Result, SymbolicDisplay

TOO_NARROW = re.compile(r"^table needs \d+ columns, terminal has \d+: --format \w+ or \w+ shows every number$")
SEEDS = range(60)


def _render(render, result, width: int, digits: int) -> str:
    buffer = io.StringIO()
    render(result, Console(width=width, file=buffer, color_system=None), digits)
    return buffer.getvalue()


def _cells(text: str) -> set[str]:
    """Every cell of every table row in ``text``, stripped."""
    return {cell.strip() for line in text.splitlines() if line.startswith("│") for cell in line.split("│")[1:-1]}


def _assert_shown(text: str, width: int, numbers: list[str]) -> None:
    """Every number is a whole cell and no line is wider than ``width``, or the one too-narrow line."""
    lines = text.splitlines()
    narrow = [line for line in lines if line.startswith("table needs")]
    if narrow:
        assert len(narrow) == 1 and TOO_NARROW.match(narrow[0]), narrow
        assert not any(line.startswith(("│", "╭")) for line in lines), text
        return
    assert all(cell_len(line) <= width for line in lines), f"wider than {width}:\n{text}"
    assert "…" not in text, text
    missing = set(numbers) - _cells(text)
    assert not missing, f"{sorted(missing)[:5]} missing at width {width}:\n{text}"


def _number(rng: random.Random, digits: int) -> str:
    kind = rng.random()
    if kind < 0.05:
        return format_number(rng.choice([math.nan, math.inf, -math.inf]), digits)
    if kind < 0.2:
        return format_number(float(rng.randint(-100, 100)), digits)
    return format_number(rng.choice([-1, 1]) * rng.random() * 10.0 ** rng.randint(-300, 300), digits)


def _name(rng: random.Random, index: int) -> str:
    return "x" * rng.randint(0, 8) + str(index)


def _draw_result(rng: random.Random) -> tuple[Result, int, int]:
    """A jacobian, gradient or m×n×n hessian of random size, with random numbers and digits."""
    digits, width = rng.randint(1, 17), rng.randint(20, 200)
    m, n = rng.randint(1, 4), rng.randint(1, 25)
    inputs = tuple(_name(rng, j) for j in range(n))
    command = rng.choice(["jacobian", "gradient", "hessian"])
    outputs = tuple(f"f{i}" for i in range(m)) if command != "gradient" else ("f",)
    shape = {"jacobian": (m, n), "gradient": (n,), "hessian": (m, n, n)}[command]
    values = [float(_number(rng, 17)) for _ in range(math.prod(shape))]
    result = _nest(values, shape)
    pretty = "\n".join("[" + "  ".join(inputs[: rng.randint(1, n)]) + "]" for _ in range(rng.randint(1, 3)))
    display = SymbolicDisplay(pretty=lambda: pretty, latex=lambda: [], operations=lambda: 5)
    return (
        Result(
            **QUANTITIES[command].presentation(scalar_output=False),
            expression="f(" + ", ".join(inputs) + ")",
            inputs=inputs,
            outputs=outputs,
            blocks=tuple(InputBlock(name, (), j) for j, name in enumerate(inputs)),
            point={name: float(_number(rng, 17)) for name in inputs},
            value=tuple(float(_number(rng, 17)) for _ in outputs),
            result=result,
            shape=shape,
            symbolic_display=display if rng.random() < 0.7 else None,
        ),
        width,
        digits,
    )


def _nest(flat: list[float], shape: tuple[int, ...]) -> object:
    if len(shape) == 1:
        return flat
    step = len(flat) // shape[0]
    return [_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def _leaves(nested: object) -> list[float]:
    return [x for item in nested for x in _leaves(item)] if isinstance(nested, list) else [nested]  # type: ignore[union-attr]


@pytest.mark.parametrize("seed", SEEDS)
def test_result_tables_show_every_number_at_any_width(seed: int) -> None:
    result, width, digits = _draw_result(random.Random(seed))
    text = _render(render_table, result, width, digits)
    _assert_shown(text, width, [format_number(x, digits) for x in _leaves(result.result)])


@pytest.mark.parametrize("seed", SEEDS)
def test_check_tables_show_every_number_at_any_width(seed: int) -> None:
    rng = random.Random(seed)
    digits, width = rng.randint(1, 17), rng.randint(20, 200)
    m, n = rng.randint(1, 3), rng.randint(1, 4)
    inputs = tuple(_name(rng, j) for j in range(n))
    outputs = tuple(f"f{i}" for i in range(m))

    def matrix() -> list[list[float]]:
        return [[float(_number(rng, 17)) for _ in inputs] for _ in outputs]

    result = CheckResult(
        expression="f", inputs=inputs, outputs=outputs, point=dict.fromkeys(inputs, 1.0), value=(1.0,) * m,
        autodiff=matrix(), exact=matrix(), finite_difference=matrix(),
        max_abs_error={"autodiff": 0.0, "finite_difference": 0.0},
        max_rel_error={"autodiff": 0.0, "finite_difference": 0.0},
        ok=True, rtol=1e-7, atol=1e-9, h=1e-5, richardson=False, dtype="float64", mode="reverse",
    )  # fmt: skip
    text = _render(render_check_table, result, width, digits)
    numbers = [format_number(x, digits) for x in _leaves([result.autodiff, result.exact, result.finite_difference])]
    _assert_shown(text, width, numbers)


@pytest.mark.parametrize("seed", SEEDS)
def test_graph_tables_show_every_number_at_any_width(seed: int) -> None:
    rng = random.Random(seed)
    digits, width = rng.randint(1, 17), rng.randint(20, 200)
    count = rng.randint(2, 12)
    nodes = tuple(
        GraphNode(
            id=i, op="input" if i == 0 else "add", label=_name(rng, i),
            definition=" + ".join(_name(rng, j) for j in range(rng.randint(1, 12))),
            value=float(_number(rng, 17)), adjoint=float(_number(rng, 17)),
        )
        for i in range(count)
    )  # fmt: skip
    edges = tuple(GraphEdge(i - 1, i, float(_number(rng, 17))) for i in range(1, count))
    result = GraphResult("f", {"x0": 1.0}, ("x0",), ("f",), "reverse", (1.0,), nodes, edges)
    text = _render(render_graph_table, result, width, digits)
    numbers = [format_number(x, digits) for n in nodes for x in (n.value, n.adjoint)]
    _assert_shown(text, width, numbers + [format_number(e.partial, digits) for e in edges])


def test_blocks_repeat_the_row_labels_and_keep_column_order() -> None:
    keys = [Column("", ["f0", "f1"], justify="left")]
    columns = [Column(f"x{j}", [str(j), str(-j)]) for j in range(20)]
    grid = Grid("J", keys, columns)
    assert grid_width(grid) > 40
    blocks = column_blocks(grid, 40)
    assert [c.header for block in blocks for c in block] == [f"x{j}" for j in range(20)]
    with pytest.raises(TooNarrow) as narrow:
        column_blocks(grid, 8)
    assert narrow.value.needed == 1 + (2 + 3) + (2 + 3)


def test_symbolic_form_goes_below_or_is_elided_when_there_is_no_room() -> None:
    wide = "[" + "  ".join(f"x{j}" for j in range(22)) + "]"  # 97 columns
    result = Result(
        **QUANTITIES["gradient"].presentation(scalar_output=True),
        expression="f", inputs=("x",), outputs=("f",), blocks=(InputBlock("x", (), 0),),
        point={"x": 1.0}, value=(1.0,), result=[2.0], shape=(1,),
        symbolic_display=SymbolicDisplay(pretty=lambda: wide, latex=lambda: [], operations=lambda: 5),
    )  # fmt: skip
    assert any(line.endswith(wide) and line != wide for line in _render(render_table, result, 120, 6).splitlines())
    below = _render(render_table, result, 100, 6)
    assert wide in below.splitlines()  # alone on its line: below the table, not beside it
    elided = _render(render_table, result, 60, 6)
    assert "symbolic form elided (too wide); --format json prints it" in elided
    assert all(cell_len(line) <= 60 for line in elided.splitlines())


# ---------------------------------------------------------------------------
# Through the CLI: the cases of issue 11.
# ---------------------------------------------------------------------------


def test_check_at_60_columns_shows_whole_numbers(jacli: Invoke) -> None:
    out = jacli("check", "sin(x)*exp(y), log(x*y)", "--at", "x=0.3, y=2", env={"COLUMNS": "60", "NO_COLOR": "1"})
    assert out.exit_code == 0, out.stderr
    assert "…" not in out.stdout and all(cell_len(line) <= 60 for line in out.stdout.splitlines())
    cells = _cells(out.stdout)
    assert {"7.05903", "2.18362", "3.33333", "0.5", "4.44e-16"} <= cells
    assert [line for line in out.stdout.splitlines() if line.startswith("│ ∂f0/∂x")].__len__() == 2  # two blocks


def test_twenty_variable_jacobian_at_80_columns_has_no_empty_cells(jacli: Invoke) -> None:
    names = [f"x{j}" for j in range(20)]
    expr = ", ".join(f"{j + 1}.5*{name}**2" for j, name in enumerate(names[:3])) + ", " + " + ".join(names)
    at = ", ".join(f"{name}={j + 1}" for j, name in enumerate(names))
    out = jacli("jacobian", expr, "--at", at, "--no-symbolic", env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert out.exit_code == 0, out.stderr
    assert all(cell_len(line) <= 80 for line in out.stdout.splitlines())
    rows = [line for line in out.stdout.splitlines() if line.startswith("│")]
    assert all(cell.strip() for row in rows if not row.startswith("│    │") for cell in row.split("│")[1:-1])
    assert {"3", "10", "21"} <= _cells(out.stdout)  # ∂f0/∂x0 = 3*x0, ∂f1/∂x1 = 5*x1, ∂f2/∂x2 = 7*x2
    headers = _cells("\n".join(row for row in rows if row.startswith("│    │")))
    assert {f"x{j}" for j in range(20)} <= headers


def test_points_table_at_30_columns_splits_into_blocks(jacli: Invoke, tmp_path) -> None:
    points = tmp_path / "p.csv"
    points.write_text("x0,x1\n1,2\n3,4\n")
    env = {"COLUMNS": "30", "NO_COLOR": "1"}
    out = jacli("jacobian", "2*x0+x1**2, x0**2+2*x1**3", "--points", str(points), env=env)
    assert out.exit_code == 0, out.stderr
    assert all(cell_len(line) <= 30 for line in out.stdout.splitlines())
    assert {"J[f0,x0]", "J[f1,x1]", "24", "96"} <= _cells(out.stdout)


NARROW_COMMANDS = [["jacobian", "sin(x)*y, x+y", "--at", "x=1, y=2"], ["check", "sin(x)*y", "--at", "1,2"]]


@pytest.mark.parametrize("command", NARROW_COMMANDS)
def test_too_narrow_for_one_column_says_which_format_shows_all(jacli: Invoke, command: list[str]) -> None:
    out = jacli(*command, "--digits", "17", env={"COLUMNS": "12", "NO_COLOR": "1"})
    assert out.exit_code == 0, out.stderr
    narrow = [line for line in out.stdout.splitlines() if line.startswith("table needs")]
    assert len(narrow) == 1 and TOO_NARROW.match(narrow[0]), out.stdout
    assert "╭" not in out.stdout
