"""Rich's ``box.ROUNDED`` table of no-wrap columns, printed a row at a time: the same bytes, far faster.

``rich.table.Table`` measures and renders every cell as its own ``Padding(Text)`` (a 1000 × 1000
Hessian is 10⁶ of them, minutes of work). The tables jacli prints from a
:class:`~jacli.render.fit.Grid` are simpler than Rich allows for: every column is one line per
cell, its width known (:attr:`~jacli.render.fit.Column.width`), justified left or right, padding
one space either side. :class:`BoxTable` yields, for such a table, the Segments whose printed bytes
are Rich's own: styled cells as the three Segments Rich makes of them (pad, text, pad), and runs of
unstyled borders and cells joined into one (an unstyled Segment prints as its text; without colour
every Segment does, so a row is one). Where it cannot be sure of that (a table wider than the room
given it, a cell Rich would change: a control character, a tab, a right-justified trailing blank),
it hands the work to the Rich table :func:`~jacli.render.fit.rich_table` builds.

The bytes are Rich's when nothing around the table adds a style to its Segments (a Rich
``Columns`` or ``Group`` adds none; jacli prints these tables only so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

# imported only where a table is printed (by jacli.render.table, and by fit when it makes one)
from rich.cells import cell_len  # noqa: TID253
from rich.measure import Measurement  # noqa: TID253
from rich.segment import Segment  # noqa: TID253
from rich.style import Style  # noqa: TID253

if TYPE_CHECKING:
    from rich.box import Box
    from rich.console import Console, ConsoleOptions, RenderableType
    from rich.table import Table


class Column(Protocol):
    """What a column must tell (:class:`jacli.render.fit.Column` does): its texts, layout and styles."""

    header: str
    cells: Sequence[str]
    justify: str
    style: str | None
    header_style: str | None
    wrap: bool

    @property
    def width(self) -> int: ...

    @property
    def printable_ascii(self) -> bool: ...


JUSTIFIED = ("left", "right")
SEPARATOR = "\x00"
"""Joins a column's texts to check them at once (never in a printable text)."""


def supported(column: Column) -> bool:
    """Whether Rich prints every text of ``column`` exactly as :class:`BoxTable` does.

    One line each (printable: no newline, tab or control code, whose Rich handling differs),
    no trailing blank where Rich strips it (right-justified), and room for at least one cell.
    """
    if column.wrap or column.justify not in JUSTIFIED or column.width < 1:
        return False
    joined = SEPARATOR.join([column.header, *column.cells]) + SEPARATOR  # checked in C, not text by text
    if not joined.replace(SEPARATOR, "").isprintable():
        return False
    return column.justify != "right" or " " + SEPARATOR not in joined


def _pad(text: str, width: int, justify: str) -> str:
    """``text`` padded with blanks to ``width`` terminal cells, as Rich justifies one line."""
    blanks = " " * (width - cell_len(text))
    return text + blanks if justify == "left" else blanks + text


def _min_width(text: str) -> int:
    """Rich's minimum width of one line of text: its longest word (``Text.__rich_measure__``)."""
    words = text.split()
    return max(map(cell_len, words)) if words else cell_len(text)


@dataclass(frozen=True)
class _Part:
    """A piece of one row: a run of unstyled text (``style`` None) or one styled cell, as a format string."""

    template: str
    style: Style | None


class BoxTable:
    """``columns`` (keys first) under ``title`` (a Text, or a str Rich reads as markup), ``width`` wide
    (borders included): what the Rich table ``rich_table()`` builds prints, row by row.

    Every column must be :func:`supported` and fit in ``width``; ``rich_table`` is called only when Rich
    must do the work (given less room than ``width``).
    """

    def __init__(
        self, title: RenderableType | None, columns: Sequence[Column], width: int, rich_table: Callable[[], Table]
    ) -> None:
        self.title = title
        self.columns = list(columns)
        self.width = width
        self._rich_table = rich_table

    @cached_property
    def rich(self) -> Table:
        """The Rich table this one stands for."""
        return self._rich_table()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        if options.max_width < self.width:
            return self.rich.__rich_measure__(console, options)
        return Measurement(self._minimum, self.width)

    @cached_property
    def _minimum(self) -> int:
        """The table's minimum width as Rich measures it (the longest word of each column)."""
        widths = [max(map(_min_width, [c.header, *c.cells])) + 2 for c in self.columns]
        return sum(widths) + len(widths) + 1

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Any]:
        border = console.get_style("none") + console.get_style("")  # Rich's border style for a table
        if options.max_width < self.width or border:  # Rich shrinks it (or styles its border)
            yield self.rich
            return
        from rich import box

        render_options = options.update(width=self.width, highlight=False, height=None)
        title = self.title
        if title:
            if isinstance(title, str):
                title = console.render_str(title, style=Style.pick_first("bold", "table.title"), highlight=False)
            yield from console.render(title, options=render_options.update(justify="left"))
        yield from self._body(console, box.ROUNDED.substitute(options, safe=console.safe_box), border)

    def _body(self, console: Console, frame: Box, border: Style) -> Iterator[Segment]:
        widths = [c.width + 2 for c in self.columns]
        merge_all = console.color_system is None and not console.record  # no Segment prints a style
        specs, texts = self._specs_and_texts()
        new_line = Segment.line()
        yield Segment(frame.get_top(widths), border)
        yield new_line
        header_styles = [
            console.get_style("table.header") + console.get_style(c.header_style or "") for c in self.columns
        ]
        cell_styles = [console.get_style(c.style or "") for c in self.columns]
        rows = list(zip(*texts, strict=True))  # the header row first
        last = len(rows) - 1
        plans = {
            "head": self._plan(specs, header_styles, frame.head_left, frame.head_vertical, frame.head_right, merge_all),
            "mid": self._plan(specs, cell_styles, frame.mid_left, frame.mid_vertical, frame.mid_right, merge_all),
            "foot": self._plan(specs, cell_styles, frame.foot_left, frame.foot_vertical, frame.foot_right, merge_all),
        }
        for index, row in enumerate(rows):
            plan = plans["head" if index == 0 else "foot" if index == last else "mid"]
            yield from _row_segments(plan, row)
            yield new_line
            if index == 0:
                yield Segment(frame.get_row(widths, "head", edge=True), border)
                yield new_line
        yield Segment(frame.get_bottom(widths), border)
        yield new_line

    def _specs_and_texts(self) -> tuple[list[str], list[list[str]]]:
        """Per column, a format spec and its texts (header first): ASCII padded by ``str.format``, others by cells."""
        specs, columns = [], []
        for column in self.columns:
            texts = [column.header, *column.cells]
            if column.printable_ascii:  # one cell a character: ``str.format`` pads exactly
                specs.append(f"{'<' if column.justify == 'left' else '>'}{column.width}")
                columns.append(texts)
            else:  # wide or zero-width characters: padded by their terminal cells
                specs.append("")
                columns.append([_pad(text, column.width, column.justify) for text in texts])
        return specs, columns

    def _plan(
        self, specs: list[str], styles: list[Style], left: str, vertical: str, right: str, merge_all: bool
    ) -> list[_Part]:
        """One kind of row (header, middle, last) as parts: unstyled runs joined, each styled cell alone."""
        parts: list[_Part] = []
        run: list[str] = []

        def text(value: str) -> str:
            return value.replace("{", "{{").replace("}", "}}")

        def end_run() -> None:
            if run:
                parts.append(_Part("".join(run), None))
                run.clear()

        run.append(text(left))
        for index, (spec, style) in enumerate(zip(specs, styles, strict=True)):
            if index:
                run.append(text(vertical))
            field = f"{{{index}:{spec}}}" if spec else f"{{{index}}}"
            if merge_all or not style:
                run.append(f" {field} ")
            else:
                end_run()
                parts.append(_Part(field, style))
        run.append(text(right))
        end_run()
        return parts


def _row_segments(plan: list[_Part], row: Sequence[str]) -> Iterator[Segment]:
    """One row's Segments: a styled cell as Rich renders it (pad, text, pad), an unstyled run as one."""
    for part in plan:
        if part.style is None:
            yield Segment(part.template.format(*row))
        else:
            pad = Segment(" ", part.style)
            yield pad
            yield Segment(part.template.format(*row), part.style)
            yield pad
