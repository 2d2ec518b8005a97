"""Rich tables: the function, the point, f(x), the result, and the symbolic form beside it."""

from __future__ import annotations

import dataclasses
import itertools

from rich.cells import cell_len
from rich.columns import Columns
from rich.console import Console, Group, RenderableType
from rich.text import Text

from jacli.render import format_number, format_row, trimmed
from jacli.render.box_table import BoxTable
from jacli.render.fit import Column, Grid, TooNarrow, fitted_tables, header, print_line, too_narrow_line
from jacli.results import SYMBOLIC_DISPLAY_LIMIT, InputBlock, Nested, Result, flatten
from jacli.shapes import describe


def _cells(result: Result, digits: int) -> Nested:
    """Exact cells when ``--exact`` was asked, else numbers with ``digits`` significant digits."""
    if result.exact is not None:
        return result.exact
    return format_nested(result.result, digits)


def format_nested(nested: Nested, digits: int) -> Nested:
    """:func:`format_number` of every number in ``nested``, a row of numbers at a time
    (:func:`format_row`: a 1000 × 1000 Hessian in a fraction of a second)."""
    if not isinstance(nested, list):
        return format_number(nested, digits)
    if not any(map(isinstance, nested, itertools.repeat(list))):
        return format_row(nested, digits)
    return [format_nested(x, digits) for x in nested]


def _table(title: str | None, row_labels: list[str], column_labels: list[str], rows: list[list[str]]) -> Grid:
    """Outputs (or a block's rows) on rows, inputs on columns; the row labels repeat in every block."""
    keys = [Column("", row_labels, justify="left", style="bold cyan")]
    columns = [
        Column(label, [row[j] for row in rows], header_style="bold cyan") for j, label in enumerate(column_labels)
    ]
    return Grid(title, keys, columns)


def _block_tables(result: Result, flat: list[str], row_label: str) -> list[Grid]:
    """A vector over the inputs, one table per variable in its own shape (``A.grad`` as a matrix)."""
    tables = []
    for block in result.blocks:
        values = flat[block.start : block.stop]
        tables.append(_shaped_table(block, values, row_label))
    return tables


def _shaped_table(block: InputBlock, values: list[str], row_label: str) -> Grid:
    title = f"{row_label} w.r.t. {block.name}"
    if len(block.shape) == 2:
        rows, columns = block.shape
        return _table(
            title,
            [f"{block.name}[{i},:]" for i in range(rows)],
            [f"[:,{j}]" for j in range(columns)],
            [values[i * columns : (i + 1) * columns] for i in range(rows)],
        )
    labels = list(result_labels(block))
    return _table(title, [row_label], labels, [values])


def result_labels(block: InputBlock) -> list[str]:
    if not block.shape:
        return [block.name]
    if len(block.shape) == 1:
        return [f"{block.name}[{i}]" for i in range(block.shape[0])]
    return [f"{block.name}[{','.join(map(str, i))}]" for i in itertools.product(*(range(n) for n in block.shape))]


def numeric_tables(result: Result, digits: int) -> list[Grid]:
    """The result as tables (before layout), by its axes: the last axis on columns, the one before on rows.

    A vector over the inputs is one row (one table per array variable, in its own shape);
    a vector over the outputs one column; a third, leading axis gives one table per entry.
    """
    if result.result is None:  # a symbolic answer without a point: no numbers
        return []
    cells = _cells(result, digits)
    labels = {"out": list(result.outputs), "in": list(result.inputs)}
    if result.axes == ("in",):
        if any(block.shape for block in result.blocks):
            return _block_tables(result, flatten(cells), result.label)
        return [_table(result.title, [result.label], labels["in"], [cells])]
    if result.axes == ("out",):
        return [_table(result.title, labels["out"], [result.label], [[c] for c in cells])]
    if not result.axes:  # one number: the divergence, the curl of a plane field
        return [_table(result.title, ["f"], [result.label], [[cells]])]  # one number of the whole f
    *leading, rows, columns = result.axes
    if len(leading) == 1:  # one table per output: "Hessian of f0"
        noun = result.title.split()[0]
        return [
            _table(f"{noun} of {key}", labels[rows], labels[columns], block)
            for key, block in zip(labels[leading[0]], cells, strict=True)
        ]
    if leading:  # a tensor of order 3 or more: one table per leading index, "D³f of f0, ∂x1"
        tables = []
        for keys in itertools.product(*(range(len(labels[axis])) for axis in leading)):
            block = cells
            for key in keys:
                block = block[key]
            out, *ins = (labels[axis][key] for axis, key in zip(leading, keys, strict=True))
            title = f"{result.label} of {out}, " + "".join(f"∂{name}" for name in ins)
            tables.append(_table(title, labels[rows], labels[columns], block))
        return tables
    return [_table(result.title, labels[rows], labels[columns], cells)]


TERM_TITLES = ("f(a)", "∂f/∂x", "∂²f/∂x²")
"""Titles of a Taylor polynomial's terms of order 0, 1, 2 (then ∂ᵏf/∂xᵏ)."""


def _term_tables(result: Result, terms: list[Nested], digits: int) -> list[Grid]:
    """A Taylor polynomial's terms: the derivative tensors of orders 0..K, each as :func:`numeric_tables` lays it."""
    tables = []
    for k, term in enumerate(terms):
        title = TERM_TITLES[k] if k < len(TERM_TITLES) else f"∂{_superscript(k)}f/∂x{_superscript(k)}"
        label = "f" if k == 0 else title
        term_result = dataclasses.replace(
            result, axes=("out",) + ("in",) * k, result=term, exact=None, title=title, label=label
        )
        tables.extend(numeric_tables(term_result, digits))
    return tables


def _superscript(k: int) -> str:
    return str(k).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def _polynomial_panel(result: Result, polynomials: list[str]) -> RenderableType:
    lines = [f"{out} ≈ {poly}" for out, poly in zip(result.outputs, polynomials, strict=True)]
    return Group(Text("polynomial", style="bold"), Text("\n".join(lines)))


FULL_FORMATS = "--format json or csv"
"""What to use when a table cannot fit: they hold every number."""


SYMBOLIC_CELL_MIN = 3
"""Cells a column of a pretty matrix takes at least: an entry, and two of space or bracket."""

TOO_WIDE = "symbolic form elided (too wide); --format json prints it"


def _symbolic_panel(result: Result, width: int, columns: int = 0) -> RenderableType | None:
    """The pretty symbolic form, or a one-line note when it is too big to show (or wider than ``width``).

    ``columns``: the most value columns of a numeric table. The symbolic form has the tables'
    layout, so it is at least :data:`SYMBOLIC_CELL_MIN` cells a column wide: past ``width`` it is
    elided unprinted (SymPy took 10 s to print the n = 100 Rosenbrock Hessian only to drop it).
    """
    if result.symbolic_display is None:
        return None
    operations = result.symbolic_display.operations()
    if operations > SYMBOLIC_DISPLAY_LIMIT:
        return Text(
            f"symbolic form elided ({operations:,} operations); --format json prints it",
            style="dim",
        )
    if SYMBOLIC_CELL_MIN * columns > width:
        return Text(TOO_WIDE, style="dim")
    blocks = result.symbolic_display.blocks()  # in the tables' layout, titled like them (issue 15)
    shown = [pretty for _, pretty in blocks] if blocks is not None else [result.symbolic_display.pretty()]
    if max((cell_len(line) for pretty in shown for line in pretty.splitlines()), default=0) > width:
        return Text(TOO_WIDE, style="dim")
    lines: list[RenderableType] = [Text("symbolic", style="bold")]
    for index, pretty in enumerate(shown):
        if blocks is not None:
            lines.append(Text(blocks[index][0], style="italic"))
        lines.append(Text(pretty, no_wrap=True))
    if result.bindings:
        lines.append(Text("where " + "; ".join(f"{name} = {value}" for name, value in result.bindings), style="dim"))
    return Group(*lines)


def matrix_line(form: str | dict[str, str]) -> str:
    """``(A + Aᵀ)·x``; for several inputs ``A: 1·Bᵀ; B: Aᵀ·1``."""
    return form if isinstance(form, str) else "; ".join(f"{name}: {text}" for name, text in form.items())


def _header(result: Result, digits: int, width: int) -> RenderableType:
    names = ", ".join(result.point if result.point is not None else result.shapes)
    *bindings, output = [s.strip() for s in result.expression.replace("\n", ";").split(";") if s.strip()]
    rows: list[tuple[str, RenderableType | str]] = [
        (f"{result.command} of", Text(f"f({names}) = {' '.join(output.split())}"))
    ]
    if bindings:
        rows.append(("where", Text("; ".join(bindings))))
    if result.point is None:  # issue 15: no point, the symbolic result only
        rows.extend(_no_point_rows(result))
    else:
        rows.append(("at", Text(", ".join(f"{k} = {_point_text(v, digits)}" for k, v in result.point.items()))))
        value = [format_number(x, digits) for x in result.value]
        rows.append(("value", Text("f = " + (value[0] if len(value) == 1 else "[" + ", ".join(value) + "]"))))
    if result.v is not None:
        rows.append(("v", Text("[" + ", ".join(_point_text(x, digits) for x in result.v) + "]")))
    if result.mode is not None:
        rows.append(("mode", Text(result.mode)))
    return header(rows, width)


def _no_point_rows(result: Result) -> list[tuple[str, RenderableType | str]]:
    """A symbolic answer's header rows in place of the point and value: the arrays' shapes, and why no numbers."""
    arrays = [f"{name}: {describe(shape)}" for name, shape in result.shapes.items() if shape]
    rows: list[tuple[str, RenderableType | str]] = [("shape", Text(", ".join(arrays)))] if arrays else []
    return [*rows, ("at", Text("no point: the symbolic result only (--at gives numbers)"))]


def _point_text(value: Nested, digits: int) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_point_text(v, digits) for v in value) + "]"
    return value if isinstance(value, str) else format_number(value, digits)  # a symbolic --v is names


def render_table(result: Result, console: Console, digits: int = 6) -> None:
    """Print one result: header, numeric table(s) and the symbolic form beside them (or below)."""
    with trimmed(console):
        _print_result(result, console, digits)


PANEL_GAP = 4
"""Spaces between the numeric tables and the symbolic form beside them."""


def _table_width(console: Console, table: RenderableType) -> int:
    """How wide ``table`` prints: known for a :class:`BoxTable` (measuring 10⁶ cells is not cheap)."""
    return table.width if isinstance(table, BoxTable) else console.measure(table).maximum


def _most_columns(grids: list[Grid]) -> int:
    return max((len(grid.columns) for grid in grids), default=0)


def _print_result(result: Result, console: Console, digits: int) -> None:
    width = console.width
    console.print(_header(result, digits, width))
    extra = dict(result.extra)
    grids = _term_tables(result, extra["terms"], digits) if "terms" in extra else numeric_tables(result, digits)
    try:
        numeric = [table for grid in grids for table in fitted_tables(grid, width)]
    except TooNarrow as narrow:
        print_line(console, too_narrow_line(narrow.needed, width, FULL_FORMATS))
        numeric = []
    panel = (
        _polynomial_panel(result, extra["polynomial"])
        if "polynomial" in extra
        else _symbolic_panel(result, width, _most_columns(grids))
    )
    room = width - max((_table_width(console, t) for t in numeric), default=0) - PANEL_GAP
    if panel is not None and numeric and console.measure(panel).maximum <= room:  # beside the tables
        console.print(Columns([Group(*numeric), panel], padding=(0, PANEL_GAP)))
    else:  # below them: nothing is squeezed into too little room
        for table in numeric:
            console.print(table)
        if panel is not None:
            console.print(panel)
    if result.facts_line:
        console.print(Text(result.facts_line, style="bold"))
    if result.symbolic_matrix is not None:
        console.print(Text("matrix form  " + matrix_line(result.symbolic_matrix.unicode)))
    for note in result.notes:
        console.print(Text(note, style="dim"))
