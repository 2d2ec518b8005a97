"""The fast table (:class:`jacli.render.box_table.BoxTable`) prints Rich's ``Table`` bytes, byte for byte.

Every case renders one grid twice: through :func:`jacli.render.fit.fitted_tables` as jacli prints it,
and with ``FAST_TABLE_MIN_CELLS`` raised past any table (every table a ``rich.table.Table``, as before
the fast path), on consoles without colour, with 16 colours, with truecolor and with ``NO_COLOR``.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import Invoke
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.columns import Columns
from rich.console import Console, Group
from rich.text import Text

from jacli.render import fit, format_number
from jacli.render.box_table import BoxTable, supported
from jacli.render.fit import Column, Grid, TooNarrow, fitted_table, fitted_tables, rich_table
from jacli.render.table import PANEL_GAP, format_nested

CONSOLES: dict[str, dict[str, Any]] = {
    "plain": {"color_system": None},
    "standard": {"force_terminal": True, "color_system": "standard"},
    "truecolor": {"force_terminal": True, "color_system": "truecolor"},
    "no_color": {"force_terminal": True, "color_system": "truecolor", "no_color": True},
}
LABELS = ["x0", "x10", "J[f0,x1]", "∂²f/∂x²", "中文", "f(a)", "", "e\u0301", "a b", "{0}", "}{", "[bold]x[/]", "x:y"]


def _console(kind: str, width: int) -> Console:
    return Console(file=io.StringIO(), width=width, highlight=False, **CONSOLES[kind])


@contextmanager
def _rich_only() -> Iterator[None]:
    """Every table through ``rich.table.Table`` (the path before the fast one)."""
    saved = fit.FAST_TABLE_MIN_CELLS
    fit.FAST_TABLE_MIN_CELLS = sys.maxsize
    try:
        yield
    finally:
        fit.FAST_TABLE_MIN_CELLS = saved


def _printed(kind: str, width: int, make: Callable[[], Sequence[Any]]) -> str:
    console = _console(kind, width)
    for renderable in make():
        console.print(renderable)
    return console.file.getvalue()


def _both(kind: str, width: int, make: Callable[[], Sequence[Any]]) -> tuple[str, str]:
    """What ``make()`` prints as jacli prints it, and with every table Rich's own."""
    fast = _printed(kind, width, make)
    with _rich_only():
        rich = _printed(kind, width, make)
    return fast, rich


def _grid(title: str | None, keys: list[list[str]], columns: list[list[str]], **options: Any) -> Grid:
    """Keys (bold cyan, left) and value columns (right, header bold cyan), the first text of each its header."""
    return Grid(
        title,
        [Column(k[0], k[1:], justify="left", style="bold cyan") for k in keys],
        [Column(c[0], c[1:], header_style="bold cyan", **options) for c in columns],
    )


def _assert_same(grid: Grid, width: int, kind: str) -> str:
    try:
        fitted_tables(grid, width)
    except TooNarrow:
        return ""
    fast, rich = _both(kind, width, lambda: fitted_tables(grid, width))
    assert fast == rich, f"\n{fast}\n{rich}"
    return fast


# --- generated grids ---------------------------------------------------------------------------

printable = st.one_of(st.characters(categories=("L", "M", "N", "P", "S")), st.just(" "))
texts = st.one_of(
    st.sampled_from(LABELS),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda x: format_number(x, 6)),
    st.text(printable, max_size=6),
    st.text(printable.filter(str.strip), max_size=5),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=4),  # anything: Rich's path
)


@st.composite
def grids(draw: st.DrawFn) -> Grid:
    rows = draw(st.integers(0, 5))
    column = st.lists(texts, min_size=rows + 1, max_size=rows + 1)
    keys = draw(st.lists(column, min_size=0, max_size=2))
    values = draw(st.lists(column, min_size=1, max_size=6))
    title = draw(st.sampled_from([None, "", "Hessian of f", "columns 1-9 of 1000", "J [w.r.t.] A: x", "∂²f/∂x²"]))
    justify = draw(st.sampled_from(["left", "right"]))
    style = draw(st.sampled_from([None, "green", "bold cyan"]))
    return Grid(
        title,
        [Column(k[0], k[1:], justify="left", style="bold cyan") for k in keys],
        [Column(c[0], c[1:], justify=justify, style=style, header_style="bold cyan") for c in values],
    )


@settings(max_examples=400, derandomize=True, deadline=None, database=None)
@given(grid=grids(), width=st.integers(16, 160), kind=st.sampled_from(sorted(CONSOLES)))
def test_generated_grids_print_riches_bytes(grid: Grid, width: int, kind: str) -> None:
    _assert_same(grid, width, kind)


@settings(max_examples=150, derandomize=True, deadline=None, database=None)
@given(grid=grids(), width=st.integers(1, 120), kind=st.sampled_from(sorted(CONSOLES)))
def test_a_table_given_less_room_than_it_needs_is_riches_too(grid: Grid, width: int, kind: str) -> None:
    """Squeezed below its width (a ``Columns`` cell, say) it is Rich's table, shrunk as Rich shrinks it."""
    columns = [*grid.keys, *grid.columns]
    if not all(map(supported, columns)):
        return
    fast, rich = (
        _printed(kind, width, lambda t=table: [t])
        for table in (fitted_table(grid.title, columns, 1000), rich_table(grid.title, columns, 1000))
    )
    assert fast == rich
    for console_width in (width, 200):
        console = _console(kind, console_width)
        box, table = fitted_table(grid.title, columns, 1000), rich_table(grid.title, columns, 1000)
        assert isinstance(box, BoxTable)
        assert console.measure(box) == console.measure(table)


# --- explicit cases ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CONSOLES))
@pytest.mark.parametrize(
    "title", [None, "", "Hessian of f", "∂²f/∂x²", "J w.r.t. A [:,0]: rows", "a very long title " * 5]
)
def test_labels_titles_and_colour(kind: str, title: str | None) -> None:
    grid = _grid(
        title,
        [["", "x0", "x10", "∂²f/∂x²", "中文字", ""]],
        [["x0", "1", "-22.5", "", "nan", "-inf"], ["∂f/∂x", "中", "1e+300", "0", "3", "{}"], ["", "", "", "", "", ""]],
    )
    fast = _assert_same(grid, 120, kind)
    assert "∂²f/∂x²" in fast and "中文字" in fast


@pytest.mark.parametrize("kind", sorted(CONSOLES))
def test_one_column_no_rows_and_empty_texts(kind: str) -> None:
    for grid in (
        _grid(None, [], [["x"]]),
        _grid("t", [], [["only", "1", "2"]]),
        _grid(None, [["", ""]], [["", ""]]),
        _grid("f", [["", "f"]], [["value", "24"]]),
    ):
        _assert_same(grid, 40, kind)


@pytest.mark.parametrize("kind", sorted(CONSOLES))
@pytest.mark.parametrize("width", [20, 31, 47, 80, 119])
def test_narrow_widths_split_into_blocks(kind: str, width: int) -> None:
    """A 30 × 30 table split into column blocks, each titled ``columns a-b of 30``, as Rich prints them."""
    n = 30
    grid = _grid(
        "Hessian of f",
        [["", *(f"x{i}" for i in range(n))]],
        [[f"x{j}", *(format_number((i - j) * 1.37**j, 6) for i in range(n))] for j in range(n)],
    )
    fast = _assert_same(grid, width, kind)
    if width >= 31:
        assert "of 30)" in fast


def test_the_fast_path_is_taken_and_rich_is_left_for_what_it_changes() -> None:
    """Tables of one-line texts are BoxTables; a wrapping column, a tab, a newline or a trailing blank
    on the right stays on Rich's Table (and prints as before)."""
    plain = _grid("t", [["", "a"]], [["x", "1"]])
    assert all(isinstance(t, BoxTable) for t in fitted_tables(plain, 80))
    for odd in ("1\t2", "1\n2", "1 ", "\x07", "\u200b"):
        grid = _grid("t", [["", "a"]], [["x", odd]])
        assert not any(isinstance(t, BoxTable) for t in fitted_tables(grid, 80)), repr(odd)
        for kind in CONSOLES:
            _assert_same(grid, 80, kind)
    assert isinstance(fitted_tables(_grid("t", [["", "a "]], [["x", "1"]]), 80)[0], BoxTable)  # left: kept
    wrapping = Grid("n", [Column("node", ["v0"], justify="left")], [Column("definition", ["x * y"], wrap=True)])
    assert not isinstance(fitted_tables(wrapping, 80)[0], BoxTable)


@pytest.mark.parametrize("kind", sorted(CONSOLES))
@pytest.mark.parametrize("width", [40, 70, 120])
def test_beside_a_symbolic_panel_in_columns(kind: str, width: int) -> None:
    """The tables in a ``Group`` beside the symbolic form (``Columns``), as ``render_table`` lays them."""
    grid = _grid("Hessian of f", [["", "x", "y"]], [["x", "2", "-3.5"], ["y", "-3.5", "中"]])
    panel = Group(Text("symbolic", style="bold"), Text("⎡2  -3.5⎤\n⎣-3.5  y⎦", no_wrap=True))

    def layout() -> list[Any]:
        return [Columns([Group(*fitted_tables(grid, width)), panel], padding=(0, PANEL_GAP))]

    fast, rich = _both(kind, width, layout)
    assert fast == rich
    assert "symbolic" in fast


def test_format_nested_is_format_number_everywhere() -> None:
    values = [0.0, -0.0, 1 / 3, -2.5e-300, 1e300, float("nan"), float("inf"), -float("inf"), 24.0, 7, -1e-7]
    for digits in (1, 3, 6, 17):
        expected = [format_number(x, digits) for x in values]
        assert format_nested(values, digits) == expected
        assert format_nested([values, values[::-1]], digits) == [expected, expected[::-1]]
        assert format_nested(-0.0, digits) == "0"


# --- end to end ----------------------------------------------------------------------------------


def _rosenbrock(n: int) -> str:
    return "+".join(f"100*(x{i + 1}-x{i}**2)**2+(1-x{i})**2" for i in range(n - 1))


@pytest.mark.parametrize(
    ("n", "flags"), [(60, ["--no-symbolic"]), (60, ["--color", "--no-symbolic"]), (4, []), (4, ["--color"])]
)
def test_cli_hessian_table_is_what_rich_printed(jacli: Invoke, n: int, flags: list[str]) -> None:
    """``jacli hessian`` of the n-variable Rosenbrock function: the same bytes with Rich's Table alone."""
    color, rest = [f for f in flags if f == "--color"], [f for f in flags if f != "--color"]
    argv = [*color, "hessian", "-", "--at", ",".join(["1.1"] * n), *rest]
    env = {"COLUMNS": "100", "JACLI_MAX_ELEMENTS": "100000"}
    fast = jacli(*argv, input=_rosenbrock(n), env=env)
    with _rich_only():
        rich = jacli(*argv, input=_rosenbrock(n), env=env)
    assert fast.exit_code == rich.exit_code == 0, fast.stderr
    assert fast.stdout == rich.stdout
    assert "╭" in fast.stdout and ("columns 1-" in fast.stdout) == (n == 60)
