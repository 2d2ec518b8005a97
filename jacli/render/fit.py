"""Tables that fit the terminal and never cut a number.

Rich shrinks a table wider than the console by cutting cells (``7.0…``, or empty
cells). Here a table is described first (:class:`Grid`: key columns, repeated in
every block, and value columns), measured, and then printed whole when it fits;
else its value columns are split into blocks that fit, each repeating the key
columns; else, when even one value column beside the keys is too wide, one line
says which format shows every number. Only free text (a graph node's definition)
may wrap, and only by folding, so nothing is lost there either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table

WRAP_MIN = 12
"""Narrowest a wrapping text column is made before its table is split into blocks."""
HEADER_LABEL_GAP = 2
"""Spaces between a header label (``at``, ``value``) and its text."""
HEADER_TEXT_MIN = 24
"""Below this much room beside the labels, header rows print as ``label text`` lines instead."""
FAST_TABLE_MIN_CELLS = 0
"""Tables of at least this many cells print through :class:`~jacli.render.box_table.BoxTable` (Rich's bytes,
row by row) when every column allows; smaller ones, and the rest, through ``rich.table.Table``."""


@dataclass(frozen=True)
class Column:
    """One column: its header and cells as plain text, and how Rich should show them."""

    header: str
    cells: Sequence[str]
    justify: str = "right"
    style: str | None = None
    header_style: str | None = None
    wrap: bool = False
    """Free text that may fold onto more lines; numbers and labels never wrap."""

    @cached_property
    def width(self) -> int:
        """The width that shows every cell on one line."""
        from rich.cells import cell_len

        texts = [self.header, *self.cells]
        if self.printable_ascii:  # one cell a character (checked in C: a 10⁶-cell Hessian in milliseconds)
            return max(map(len, texts))
        return max(map(cell_len, texts))

    @cached_property
    def printable_ascii(self) -> bool:
        """Whether the header and every cell are printable ASCII (no control codes): one terminal cell a character."""
        joined = "".join([self.header, *self.cells])
        return joined.isascii() and joined.isprintable()

    @property
    def min_width(self) -> int:
        return min(self.width, WRAP_MIN) if self.wrap else self.width


@dataclass(frozen=True)
class Grid:
    """A table before layout: ``keys`` (the row labels) repeat in every block of ``columns``."""

    title: str | None
    keys: Sequence[Column]
    columns: Sequence[Column]


def table_width(widths: Sequence[int]) -> int:
    """Width of a ``box.ROUNDED`` table with padding 1 and these content widths: ``│ a │ b │``."""
    return 1 + sum(w + 3 for w in widths)


def grid_width(grid: Grid) -> int:
    """The width of ``grid`` printed as one table with nothing wrapped."""
    return table_width([c.width for c in (*grid.keys, *grid.columns)])


class TooNarrow(Exception):
    """Not even the key columns and one value column fit; ``needed`` columns would."""

    def __init__(self, needed: int) -> None:
        super().__init__(needed)
        self.needed = needed


def column_blocks(grid: Grid, width: int) -> list[list[Column]]:
    """The value columns in consecutive blocks, each fitting ``width`` beside the key columns."""
    keys = [c.min_width for c in grid.keys]
    blocks: list[list[Column]] = []
    current: list[Column] = []
    for column in grid.columns:
        if table_width([*keys, *(c.min_width for c in current), column.min_width]) <= width:
            current.append(column)
            continue
        if not current:
            raise TooNarrow(table_width([*keys, column.min_width]))
        blocks.append(current)
        current = [column]
        if table_width([*keys, column.min_width]) > width:
            raise TooNarrow(table_width([*keys, column.min_width]))
    if current or not blocks:
        blocks.append(current)
    return blocks


def _wrap_widths(columns: Sequence[Column], room: int) -> dict[int, int]:
    """Widths for the wrapping columns (by index) that share ``room`` beyond their minimum."""
    wrapping = [i for i, c in enumerate(columns) if c.wrap]
    fixed = table_width([c.width for c in columns if not c.wrap] + [columns[i].min_width for i in wrapping])
    slack = max(0, room - fixed)
    widths = {}
    for count, i in enumerate(wrapping):
        share = slack // (len(wrapping) - count)
        widths[i] = min(columns[i].width, columns[i].min_width + share)
        slack -= widths[i] - columns[i].min_width
    return widths


def rich_table(title: str | None, columns: Sequence[Column], width: int) -> Table:
    """A Rich table of ``columns`` (keys first) in at most ``width`` cells; numbers never cut."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=plain(title, "bold"), box=box.ROUNDED, title_justify="left", title_style="bold")
    widths = _wrap_widths(columns, width) if table_width([c.width for c in columns]) > width else {}
    for index, column in enumerate(columns):
        options: dict[str, Any] = {"justify": column.justify, "no_wrap": not column.wrap}
        if column.style is not None:
            options["style"] = column.style
        if column.header_style is not None:
            options["header_style"] = column.header_style
        if column.wrap:
            options["overflow"] = "fold"
        if index in widths:
            options["width"] = widths[index]
        table.add_column(Text(column.header), **options)
    for row in zip(*(c.cells for c in columns), strict=True):
        table.add_row(*map(Text, row))  # Text: a label like J[f0,x1] is not Rich markup
    return table


def fitted_table(title: str | None, columns: Sequence[Column], width: int) -> RenderableType:
    """``columns`` (keys first) as a table in at most ``width`` cells: a :class:`BoxTable` when it prints
    Rich's bytes (no column wraps, nothing Rich would change, big enough to matter), else a Rich table."""
    from jacli.render.box_table import BoxTable, supported  # noqa: PLC0415 (Rich loads only to print a table)

    natural = table_width([c.width for c in columns])
    cells = len(columns) * (len(columns[0].cells) + 1) if columns else 0
    if columns and cells >= FAST_TABLE_MIN_CELLS and natural <= width and all(map(supported, columns)):
        return BoxTable(plain(title, "bold"), columns, natural, lambda: rich_table(title, columns, natural))
    return rich_table(title, columns, width)


def fitted_tables(grid: Grid, width: int) -> list[RenderableType]:
    """``grid`` as one table when it fits ``width``, else as column blocks that do.

    Raises :class:`TooNarrow` when not even one value column fits beside the keys.
    """
    if table_width([c.min_width for c in (*grid.keys, *grid.columns)]) <= width:
        return [fitted_table(grid.title, [*grid.keys, *grid.columns], width)]
    blocks = column_blocks(grid, width)
    total, tables, first = len(grid.columns), [], 1
    for block in blocks:
        last = first + len(block) - 1
        span = f"columns {first}-{last} of {total}" if last > first else f"column {first} of {total}"
        title = f"{grid.title} ({span})" if grid.title else span
        tables.append(fitted_table(title, [*grid.keys, *block], width))
        first = last + 1
    return tables


def too_narrow_line(needed: int, width: int, formats: str) -> str:
    """The one line printed instead of a table that cannot fit."""
    return f"table needs {needed} columns, terminal has {width}: {formats} shows every number"


def print_grids(console: Console, grids: Sequence[Grid], formats: str) -> bool:
    """Print each grid fitted to the console; on the first that cannot fit, one line instead.

    Returns False when that line was printed (the caller may skip what would sit beside the tables).
    """
    width = console.width
    try:
        tables = [table for grid in grids for table in fitted_tables(grid, width)]
    except TooNarrow as narrow:
        print_line(console, too_narrow_line(narrow.needed, width, formats))
        return False
    for table in tables:
        console.print(table)
    return True


def print_line(console: Console, text: str, style: str | None = None) -> None:
    """One line, never wrapped (a message is more useful whole than folded)."""
    from rich.text import Text

    console.print(Text(text, style=style or ""), soft_wrap=True)


def plain(text: Any, style: str = "") -> Any:
    """``text`` as the Text Rich would make of it, when it holds no markup (``[``) nor emoji code (``:``).

    A str renderable goes through Rich's markup and emoji replacement, whose first use imports
    Rich's emoji table (a large dict, a slow import); the same Text made here prints the same
    bytes without it (jacli's consoles never highlight). Anything else, or a str with ``[`` or ``:``,
    is left for Rich to read as before.
    """
    if not isinstance(text, str) or "[" in text or ":" in text:
        return text
    from rich.text import Text

    return Text(text, style=style)


def header(rows: Sequence[tuple[str, RenderableType | str]], width: int) -> RenderableType:
    """Label/text rows (``at``, ``value``, ...): a two-column grid, or stacked lines when narrow.

    The text folds rather than being cut, so every number in it is shown.
    """
    from rich.cells import cell_len
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    labels = max(cell_len(label) for label, _ in rows)
    if width - labels - HEADER_LABEL_GAP >= HEADER_TEXT_MIN:
        grid = Table.grid(padding=(0, HEADER_LABEL_GAP))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column(overflow="fold")
        for label, text in rows:
            grid.add_row(plain(label), plain(text))
        return grid
    lines: list[RenderableType] = []
    for label, text in rows:
        lines.append(Text.assemble((label, "bold"), " ", text if isinstance(text, Text) else Text(str(text))))
    return Group(*lines)
