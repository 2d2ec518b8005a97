"""Pictures of results (``--plot FILE.png|.svg``), drawn with matplotlib (the ``plot`` extra).

A result with two axes (a Jacobian, a Hessian) is a heatmap with labelled axes and a
colour bar, or its sparsity pattern beyond 50 × 50; one axis is a one-row heatmap;
a vector Hessian is one heatmap per output. For f: R² → R the picture also has the
contour plot of f around the point with the gradient arrow.

matplotlib is imported only here, and only when a picture is asked for. The figure
is a :class:`matplotlib.figure.Figure` (no pyplot, no global state), so it is safe in
the server's children and in notebooks.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from jacli.errors import UsageError
from jacli.limits import GRAPHVIZ_TIMEOUT
from jacli.limits import MAX_PLOT_PANELS as MAX_PANELS
from jacli.results import Result, flatten

PICTURE_TYPES = {".png": "png", ".svg": "svg"}
SPARSITY_ABOVE = 50
"""Beyond this many rows or columns a heatmap shows the sparsity pattern instead of colours."""
ANNOTATE_UP_TO = 8
"""Heatmaps at most this many cells wide and tall print each number in its cell."""
GRID = 81
"""Contour plots evaluate f on GRID × GRID points around the point."""

Surface = tuple[Any, Any, Any, tuple[float, float]]
"""A contour plot's grids X, Y, the values f(X, Y), and the gradient at the point (the grid's centre)."""


def picture_format(path: str) -> str:
    """``png`` or ``svg`` by the file's extension; anything else is a usage error."""
    kind = PICTURE_TYPES.get(Path(path).suffix.lower())
    if kind is None:
        raise UsageError(f"--plot writes .png or .svg files, not {Path(path).name!r}")
    return kind


def matplotlib_figure() -> Any:
    """matplotlib's Figure class, or a usage error naming the extra to install."""
    try:
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'jacli[plot]'") from None
    return Figure


def figure(result: Result, surface: Surface | None = None) -> Any:
    """The picture of ``result``: heatmap(s), and the contour plot when ``surface`` is given."""
    if any(isinstance(x, str) for x in flatten(result.result)):
        raise UsageError(f"--plot draws numbers; {result.command} gives a polynomial (use --format json)")
    import numpy as np  # noqa: PLC0415

    values = np.asarray(result.result, dtype=float)
    panels = _panels(result, values)
    new_figure = matplotlib_figure()
    count = len(panels) + (surface is not None)
    fig = new_figure(figsize=(min(5.2 * count, 16), 4.6), layout="constrained")
    axes = fig.subplots(1, count, squeeze=False)[0]
    finite = values[np.isfinite(values)]
    bound = float(np.abs(finite).max()) if finite.size else 0.0
    for ax, (title, matrix, rows, columns) in zip(axes, panels, strict=False):
        _heatmap(fig, ax, title, matrix, rows, columns, bound or 1.0)  # all zero: neutral, no division by 0
    if surface is not None:
        _contour(fig, axes[-1], result, surface)
    fig.suptitle(f"{result.title} of {_short(result.expression)}", fontsize=11)
    return fig


def save(result: Result, path: str, surface: Surface | None = None) -> None:
    """Write the picture of ``result`` to ``path`` (.png or .svg)."""
    kind = picture_format(path)
    import matplotlib  # noqa: PLC0415

    with matplotlib.rc_context({"svg.fonttype": "none"}):  # SVG text stays text: searchable, accessible
        fig = figure(result, surface)
    try:
        with matplotlib.rc_context({"svg.fonttype": "none"}):
            fig.savefig(path, format=kind, dpi=120)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def _panels(result: Result, values: Any) -> list[tuple[str, Any, list[str], list[str]]]:
    """(title, 2-D matrix, row labels, column labels) per heatmap, by the result's axes."""
    names = {"out": list(result.outputs), "in": list(result.inputs)}
    axes = result.axes
    if values.ndim == 0 or not axes:
        return [(result.label, values.reshape(1, 1), [result.label], [""])]
    if len(axes) == 1:
        return [(result.label, values.reshape(1, -1), [result.label], names[axes[0]])]
    if len(axes) == 2:
        return [(result.label, values, names[axes[0]], names[axes[1]])]
    if len(axes) == 3 and values.shape[0] <= MAX_PANELS:
        rows, columns = names[axes[1]], names[axes[2]]
        return [(f"{result.label}[{out}]", values[k], rows, columns) for k, out in enumerate(names[axes[0]])]
    raise UsageError(
        f"--plot draws results of at most 2 axes, or {MAX_PANELS} heatmaps of a vector Hessian; "
        f"this one has shape {tuple(values.shape)} (use --format json)"
    )


def _heatmap(fig: Any, ax: Any, title: str, matrix: Any, rows: list[str], columns: list[str], bound: float) -> None:
    """One heatmap, coloured on ±bound (one scale for all panels), or its sparsity pattern when big."""
    import numpy as np  # noqa: PLC0415

    height, width = matrix.shape
    if max(height, width) > SPARSITY_ABOVE:
        nonzero = np.count_nonzero(matrix)
        ax.spy(matrix, markersize=max(0.5, 300 / max(height, width)), aspect="equal" if height == width else "auto")
        ax.xaxis.set_ticks_position("bottom")  # spy puts them on top, under the title
        ax.set_title(f"{title}: sparsity, {nonzero:,} of {matrix.size:,} nonzero", fontsize=10)
        ax.set_xlabel(f"{len(columns)} columns")
        ax.set_ylabel(f"{len(rows)} rows")
        return
    square = height == width > 1
    image = ax.imshow(
        np.ma.masked_invalid(matrix), cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="equal" if square else "auto"
    )
    fig.colorbar(image, ax=ax, shrink=0.85)
    ax.set_title(title, fontsize=10)
    ax.set_xticks(range(width), columns, rotation=90 if width > 10 else 0, fontsize=8)
    ax.set_yticks(range(height), rows, fontsize=8)
    if height <= ANNOTATE_UP_TO and width <= ANNOTATE_UP_TO:
        for (i, j), x in np.ndenumerate(matrix):
            shade = "white" if math.isfinite(x) and abs(x) > 0.6 * bound else "black"
            ax.text(j, i, f"{x:.4g}", ha="center", va="center", fontsize=8, color=shade)


def _contour(fig: Any, ax: Any, result: Result, surface: Surface) -> None:
    import numpy as np  # noqa: PLC0415

    grid_x, grid_y, values, gradient = surface
    masked = np.ma.masked_invalid(values)
    filled = ax.contourf(grid_x, grid_y, masked, levels=20, cmap="viridis")
    ax.contour(grid_x, grid_y, masked, levels=20, colors="white", linewidths=0.4, alpha=0.6)
    fig.colorbar(filled, ax=ax, shrink=0.85, label=result.outputs[0])
    x0, y0 = grid_x[GRID // 2, GRID // 2], grid_y[GRID // 2, GRID // 2]
    ax.plot([x0], [y0], "o", color="red", markersize=5)
    gx, gy = gradient
    length = math.hypot(gx, gy)
    if math.isfinite(length) and length > 0:
        reach = 0.35 * (grid_x.max() - grid_x.min())
        ax.annotate(
            "", xy=(x0 + reach * gx / length, y0 + reach * gy / length), xytext=(x0, y0),
            arrowprops={"arrowstyle": "-|>", "color": "red", "lw": 2},
        )  # fmt: skip
    ax.set_title(f"{result.outputs[0]} near the point; arrow: ∇ = ({gx:.4g}, {gy:.4g})", fontsize=10)
    ax.set_xlabel(result.inputs[0])
    ax.set_ylabel(result.inputs[1])
    ax.set_aspect("equal")


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def contour_surface(result: Result) -> Surface | None:
    """For f: R² → R at a point, f on a grid around it and the gradient there; else None.

    The grid spans ± max(1, |x|/2) around the point in each input, the larger of the two.
    """
    if len(result.inputs) != 2 or len(result.outputs) != 1 or not result.point:
        return None
    import numpy as np  # noqa: PLC0415
    import torch

    from jacli import problem  # noqa: PLC0415 - the math, only for a contour plot

    prob = problem.problem(result.expression, result.point, wrt=[block.name for block in result.blocks])
    x, p = prob.inputs_tensor.detach(), prob.params_tensor.detach()
    half = max(1.0, 0.5 * float(x.abs().max()))
    axis = torch.linspace(-half, half, GRID, dtype=x.dtype)
    grid_y, grid_x = torch.meshgrid(axis + x[1], axis + x[0], indexing="ij")
    columns = torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)])
    with torch.no_grad():
        values = prob.compiled(columns, p[:, None].expand(-1, columns.shape[1]))[0]
    values = np.broadcast_to(values.cpu().numpy(), (columns.shape[1],)).reshape(GRID, GRID)
    point = x.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(prob.compiled(point, p)[0], point, allow_unused=True)
    gx, gy = (0.0, 0.0) if gradient is None else (float(gradient[0]), float(gradient[1]))
    return grid_x.cpu().numpy(), grid_y.cpu().numpy(), values, (gx, gy)


def save_graph(dot_text: str, path: str) -> None:
    """Draw a computation graph (DOT text) to ``path`` (.png or .svg) with Graphviz's ``dot``."""
    import shutil  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    kind = picture_format(path)
    dot = shutil.which("dot")
    if dot is None:
        raise UsageError(
            "graph --plot needs Graphviz's dot program on PATH (e.g. apt-get install graphviz); "
            "--format dot prints the graph as text"
        )
    try:
        done = subprocess.run(  # a fixed program; the DOT text on stdin
            [dot, f"-T{kind}", "-o", path], input=dot_text.encode(), capture_output=True, timeout=GRAPHVIZ_TIMEOUT,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise UsageError(f"dot took longer than {GRAPHVIZ_TIMEOUT:g} s to draw the graph; try --format dot") from None
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"dot could not write {path}: {reason[-1] if reason else f'exit {done.returncode}'}")


# -- what the CLI asks for ------------------------------------------------------------------------


def check_request(path: str, at: list[str] | None, points: str | None, show_torch: bool) -> None:
    """``--plot`` draws one point's result: refused before any work with several points or --show-torch."""
    picture_format(path)
    if points is not None or (at and len(at) > 1):
        raise UsageError("--plot draws one point; give one --at")
    if not at:
        raise UsageError("--plot draws the numbers at a point; give --at")
    if show_torch:
        raise UsageError("--plot draws the result and --show-torch prints a program instead of it; drop one")
    matplotlib_figure()


def draw(result: Result, path: str) -> None:
    """``--plot PATH``: the picture of one result, with the contour plot for f: R² → R."""
    save(result, path, contour_surface(result))


def draw_graph(results: list[Any], path: str) -> None:
    """``graph --plot PATH``: the computation graph of one point, drawn by Graphviz."""
    from jacli.render.graph import render_graph_dot  # noqa: PLC0415

    if len(results) > 1:
        raise UsageError("--plot draws one point; give one --at")
    save_graph(render_graph_dot(results[0]), path)
