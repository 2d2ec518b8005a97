"""The symbolic form drawn in the layout of the numeric tables (issue 15).

A vector over the inputs is one block per variable in its own shape (``vᵀJ w.r.t. A``
as a matrix, as ``A.grad`` is shown); a vector-valued f's Hessian is one labelled matrix
per output (``Hessian of f0``); a tensor of order 3 or more one labelled matrix per
leading index (``D³f of f0, ∂x1``), exactly as :func:`jacli.render.table.numeric_tables` titles them.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from typing import Any

from jacli import symbolic
from jacli.operation_count import operation_count
from jacli.results import InputBlock, SymbolicDisplay

Blocks = list[tuple[str, str]]
"""(title, pretty-printed block) pairs, in the order of the numeric tables."""


def pretty_blocks(
    exprs: Any,
    *,
    axes: Sequence[str],
    blocks: Sequence[InputBlock],
    outputs: Sequence[str],
    inputs: Sequence[str],
    label: str,
    title: str,
) -> Blocks | None:
    """The labelled blocks, or None where the plain symbolic form already has the tables' layout."""
    axes = tuple(axes)
    arrays = any(b.shape for b in blocks)  # the numeric tables then have one table per variable
    if axes == ("in",) and arrays and (len(blocks) > 1 or any(len(b.shape) > 1 for b in blocks)):
        return [(f"{label} w.r.t. {b.name}", symbolic.to_pretty(_shaped(exprs[b.start : b.stop], b))) for b in blocks]
    if len(axes) == 3 and axes[0] == "out":  # one matrix per output: "Hessian of f0"
        noun = title.split(maxsplit=1)[0]
        return [(f"{noun} of {key}", symbolic.to_pretty(block)) for key, block in zip(outputs, exprs, strict=True)]
    if len(axes) > 3:  # one matrix per leading index: "D³f of f0, ∂x1"
        labels = {"out": list(outputs), "in": list(inputs)}
        leading = axes[:-2]
        shown = []
        for keys in itertools.product(*(range(len(labels[axis])) for axis in leading)):
            block = exprs
            for key in keys:
                block = block[key]
            out, *ins = (labels[axis][key] for axis, key in zip(leading, keys, strict=True))
            shown.append((f"{label} of {out}, " + "".join(f"∂{name}" for name in ins), symbolic.to_pretty(block)))
        return shown
    return None


def _shaped(flat: list[Any], block: InputBlock) -> list[list[Any]]:
    """A variable's entries as its table shows them: a matrix for a matrix, else one row."""
    if len(block.shape) == 2:
        rows, columns = block.shape
        return [flat[i * columns : (i + 1) * columns] for i in range(rows)]
    return [flat]


def display(
    exprs: Any,
    presentation: dict[str, Any],
    blocks: Sequence[InputBlock],
    outputs: Sequence[str],
    inputs: Sequence[str],
) -> SymbolicDisplay:
    """The :class:`~jacli.results.SymbolicDisplay` of a symbolic result: each form made on first use."""
    return SymbolicDisplay(
        pretty=functools.cache(lambda: symbolic.to_pretty(exprs)),
        latex=functools.cache(lambda: symbolic.to_latex(exprs)),
        operations=functools.cache(lambda: operation_count(exprs)),
        blocks=functools.cache(
            lambda: pretty_blocks(
                exprs, axes=presentation["axes"], blocks=blocks, outputs=outputs, inputs=inputs,
                label=presentation["label"], title=presentation["title"],
            )
        ),
    )  # fmt: skip
