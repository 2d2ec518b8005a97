"""Jupyter's views of results: HTML (the terminal's tables, in colour) and LaTeX.

The HTML is what ``jacli`` prints in a terminal, recorded by Rich and exported with
inline styles, so a notebook shows the same tables, symbolic form, notes and verdict
as the shell and there is one layout to keep. The LaTeX of ``check`` is the three
Jacobians side by side and the verdict; that of ``graph`` one line per node.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from jacli.render import full_precision

if TYPE_CHECKING:
    from jacli.results import CheckResult, GraphResult, Nested

NOTEBOOK_WIDTH = 110
"""Columns of the recorded console: a notebook cell's width in characters, about."""

PRE_STYLE = "font-family: Menlo, 'DejaVu Sans Mono', Consolas, monospace; font-size: 12px; line-height: 1.35"


def html_of(result: Any, digits: int = 6) -> str:
    """The terminal rendering of a ``Result``, ``CheckResult`` or ``GraphResult`` as HTML."""
    from rich.console import Console
    from rich.text import Text

    def console(**options: Any) -> Console:
        return Console(
            width=NOTEBOOK_WIDTH, color_system="truecolor", highlight=False, force_terminal=True,
            force_jupyter=False, **options,
        )  # fmt: skip

    terminal = console(file=io.StringIO())  # the renderers write trimmed lines to its file
    _table_renderer(result)(result, terminal, digits)
    recorder = console(file=io.StringIO(), record=True)
    recorder.print(Text.from_ansi(terminal.file.getvalue()), end="", soft_wrap=True)
    code_format = f'<pre style="{PRE_STYLE}">{{code}}</pre>'
    return recorder.export_html(inline_styles=True, code_format=code_format)


def _table_renderer(result: Any) -> Any:
    from jacli.results import CheckResult, GraphResult  # noqa: PLC0415

    if isinstance(result, CheckResult):
        from jacli.render.check import render_check_table  # noqa: PLC0415

        return render_check_table
    if isinstance(result, GraphResult):
        from jacli.render.graph import render_graph_table  # noqa: PLC0415

        return render_graph_table
    from jacli.render.table import render_table  # noqa: PLC0415

    return render_table


def _number(x: float) -> str:
    text = full_precision(x)
    text = text[:-2] if text.endswith(".0") else text
    return {"nan": r"\mathrm{nan}", "inf": r"\infty", "-inf": r"-\infty"}.get(text, text)


def _matrix(rows: Nested) -> str:
    from jacli.render.latex import bmatrix  # noqa: PLC0415

    return bmatrix([[_number(x) for x in row] for row in rows])


def _text(text: str) -> str:
    r"""``\text{…}`` with TeX's special characters escaped."""
    specials = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
                "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\~{}"}  # fmt: skip
    return r"\text{" + "".join(specials.get(c, c) for c in text) + "}"


def check_latex(result: CheckResult) -> str:
    """``J_autodiff = … , J_exact = … , J_fd = …`` and the verdict, for Jupyter (``$$…$$``)."""
    parts = [
        rf"J_{{\mathrm{{autodiff}}}} = {_matrix(result.autodiff)}",
        rf"J_{{\mathrm{{exact}}}} = {_matrix(result.exact)}",
        rf"J_{{\mathrm{{fd}}}} = {_matrix(result.finite_difference)}",
    ]
    body = r",\quad ".join(parts) + r" \\ " + _text(result.verdict)
    return r"$$\begin{gathered} " + body + r" \end{gathered}$$"


def graph_latex(result: GraphResult) -> str:
    """One row per node: label, definition, value and adjoint (or tangent), for Jupyter (``$$…$$``)."""
    forward = result.mode == "forward"
    last = r"\dot{v}" if forward else r"\bar{v}"
    rows = [rf"\text{{node}} & \text{{definition}} & v & {last} \\ \hline"]
    for node in result.nodes:
        seed = node.tangent if forward else node.adjoint
        definition = node.op if node.op in ("input", "parameter", "const") else node.definition
        rows.append(
            f"{_text(node.label)} & {_text(definition)} & {_number(node.value)} & "
            f"{_number(seed) if seed is not None else ''} \\\\"
        )
    return r"$$\begin{array}{llrr} " + " ".join(rows) + r" \end{array}$$"
