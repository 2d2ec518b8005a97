"""A compiled tape run level by level: many same-kind scalar steps as one torch op (issue 16).

:class:`~jacli.compile.TorchFunction` records a tape of scalar steps; the n=1000 Rosenbrock
function has about 15,000 of them, each a torch call and an autograd node of its own, so at one
point the Hessian's backward passes cost far more in per-node overhead than in arithmetic.
Here the steps are put on *levels* (one more than the highest level of their arguments; leaves and
constants are level 0): no step depends on another of its level, so all the additions of a level,
all its multiplications, all its squares, … are each one op on a stack of their arguments,
gathered by index from the leaves, the constants and lower levels. The Rosenbrock tape becomes
about 40 ops.

Only steps whose every element is computed as the scalar op would be are fused: ``+`` and ``*``
folded over their arguments in order (:func:`jacli.compile._add` of up to 4, :func:`jacli.compile._mul`),
a long sum (one ``sum`` of its stacked arguments, as the scalar tape does it), square, reciprocal and
square root (all correctly rounded, so the same bits at any vector width), and only when all their
arguments are leaves, constants or fused steps. Every other step (comparisons, ``where`` and its
guards, transcendental functions, matrix lowerings) runs as before, one call, its arguments looked up.
So f's values are the scalar tape's to the last bit. A derivative may not be: where one value feeds
several steps, its gradient's contributions are summed in another order (the backward of each
gather adds into a block of zeros, so a ``-0.0`` contribution can also come out as ``0.0``). That is
why the tape is fused only when it is long (:data:`FUSE_MIN_STEPS`) and the batch is narrow
(:data:`FUSE_MAX_COLUMNS`: one point, or the few columns of a sparse Hessian): where per-step
overhead dominates. Every smaller computation (and every chunk of many points) is unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from torch import Tensor

    from jacli.compile import _Step

FUSE_MIN_STEPS = 1000
"""Tapes shorter than this run step by step (the per-step cost is small; results stay bit for bit)."""
FUSE_MAX_COLUMNS = 64
"""Batches wider than this (chunks of many points) run step by step: each op is then already wide."""

LEAVES, CONSTANTS = 0, 1
"""Sources of gathered values: the leaves (inputs, then parameters), the constants; level l is source l + 1."""


@dataclass(frozen=True)
class _Gather:
    """One argument position of a fused unit: which rows of which sources, in the unit's order."""

    parts: tuple[tuple[int, Tensor], ...]
    """(source, rows) for each source used, in the order the rows are concatenated."""
    order: Tensor | None
    """The permutation that puts the concatenated rows in the unit's order (None: already so)."""


@dataclass(frozen=True)
class _Unit:
    """Steps of one level computed by one op: ``kind`` over ``gathers`` (one per argument position)."""

    kind: str
    gathers: tuple[_Gather, ...]


def worth_fusing(steps: int, x: Tensor) -> bool:
    """Whether a tape of ``steps`` steps on inputs ``x`` (n, *batch) is run fused."""
    return steps >= FUSE_MIN_STEPS and x[:1].numel() <= FUSE_MAX_COLUMNS and x.dim() <= 2


def sources(x: Tensor, p: Tensor | None, n_params: int, constants: Sequence[float]) -> tuple[Tensor, Tensor]:
    """The leaves (inputs, then parameters: (n + k, *batch)) and the constants ((C, *batch), expanded)."""
    parts = [x]
    if n_params:
        assert p is not None
        parts.append(p)
    batch = _broadcast_shapes([t.shape[1:] for t in parts])
    leaves = torch.cat([t.expand(t.shape[0], *batch) for t in parts]) if len(parts) > 1 else x
    values = torch.tensor(list(constants), dtype=x.dtype, device=x.device)
    expanded = values.reshape(len(values), *([1] * len(batch))).expand(len(values), *batch)
    return leaves, expanded


def _broadcast_shapes(shapes: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """``torch.broadcast_shapes(*shapes)`` by NumPy's (torch's first call imports its symbolic shapes: 25 ms)."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError as err:
        raise RuntimeError(str(err)) from None


def _fold(op: Callable[[Tensor, Tensor], Tensor]) -> Callable[..., Tensor]:
    return lambda *args: functools.reduce(op, args)


KINDS: dict[str, Callable[..., Tensor]] = {
    "add": _fold(torch.add),
    "mul": _fold(torch.mul),
    "square": torch.square,
    "reciprocal": torch.reciprocal,
    "sqrt": torch.sqrt,
}


class FusedTape:
    """The steps of a tape grouped into levels; ``run`` computes every slot's value, levels at a time."""

    def __init__(
        self, steps: Sequence[_Step], n_leaves: int, outputs: Sequence[int], kinds: dict[Callable[..., Tensor], str]
    ) -> None:
        """``kinds``: the step functions that may be fused, each with its kind (a key of :data:`KINDS`)."""
        self.n_leaves = n_leaves
        self.outputs = tuple(outputs)
        level = [0] * (n_leaves + len(steps))
        fused = [True] * n_leaves + [False] * len(steps)  # a value in a source: a leaf or a fused step
        kind_of: list[str | None] = []
        for index, step in enumerate(steps):
            slot = n_leaves + index
            level[slot] = 1 + max((level[a] for a in step.args if a >= 0), default=0)
            kind = kinds.get(step.fn)
            if kind == "add" and len(step.args) > 4:
                kind = "sum"  # compile._add: one sum over the stacked arguments
            if kind is not None and all(a < 0 or fused[a] for a in step.args):
                fused[slot] = True
            else:
                kind = None
            kind_of.append(kind)
        # per level: the loose steps (one call each) and the fused units (one op each)
        levels: dict[int, tuple[list[int], dict[tuple[str, int], list[int]]]] = {}
        for index, kind in enumerate(kind_of):
            slot = n_leaves + index
            loose, groups = levels.setdefault(level[slot], ([], {}))
            if kind is None:
                loose.append(slot)
            elif kind == "sum":
                groups[("sum", slot)] = [slot]
            else:
                groups.setdefault((kind, len(steps[index].args)), []).append(slot)
        self.where: dict[int, tuple[int, int]] = {i: (LEAVES, i) for i in range(n_leaves)}
        """Slot -> (source, row) for every fused value."""
        self.plan: list[tuple[list[tuple[int, _Step]], list[tuple[_Unit, list[int]]]]] = []
        for number in sorted(levels):
            loose, groups = levels[number]
            units: list[tuple[_Unit, list[int]]] = []
            row = 0
            for (kind, _), slots in groups.items():
                units.append((self._unit(kind, [steps[s - n_leaves] for s in slots]), slots))
                for s in slots:
                    self.where[s] = (number + 1, row)
                    row += 1
            self.plan.append(([(s, steps[s - n_leaves]) for s in loose], units))
        self.ops = sum(len(loose) + len(units) for loose, units in self.plan)
        """Torch calls per run (besides gathers): the tape had one per step."""

    def _unit(self, kind: str, steps: Sequence[_Step]) -> _Unit:
        if kind == "sum":  # one step: all its arguments, stacked, are one gather
            (step,) = steps
            return _Unit(kind, (self._gather(list(step.args)),))
        width = len(steps[0].args)
        return _Unit(kind, tuple(self._gather([s.args[k] for s in steps]) for k in range(width)))

    def _gather(self, slots: Sequence[int]) -> _Gather:
        by_source: dict[int, list[tuple[int, int]]] = {}
        for position, slot in enumerate(slots):
            source, row = (CONSTANTS, -slot - 1) if slot < 0 else self.where[slot]
            by_source.setdefault(source, []).append((position, row))
        parts, positions = [], []
        for source, entries in by_source.items():
            parts.append((source, torch.tensor([row for _, row in entries], dtype=torch.int64)))
            positions.extend(position for position, _ in entries)
        order = None
        if positions != sorted(positions):
            order = torch.argsort(torch.tensor(positions, dtype=torch.int64))
        return _Gather(tuple(parts), order)

    def run(self, leaves: Tensor, constants: Tensor, scalars: Sequence[Tensor]) -> list[Tensor]:
        """The outputs' values: ``leaves`` (n_leaves, *batch), ``constants`` (C, *batch) expanded.

        A loose step gets a constant as the step-by-step tape gives it: 0-d, from ``scalars``.
        """
        sources: list[Tensor] = [leaves, constants]
        loose_values: dict[int, Tensor] = {}

        def get(slot: int) -> Tensor:
            if slot < 0:
                return scalars[-slot - 1]
            if slot in loose_values:
                return loose_values[slot]
            source, row = self.where[slot]
            return sources[source][row]

        def gathered(g: _Gather) -> Tensor:
            device = leaves.device
            pieces = [sources[s].index_select(0, rows.to(device)) for s, rows in g.parts]
            stacked = pieces[0] if len(pieces) == 1 else torch.cat(pieces)
            return stacked if g.order is None else stacked.index_select(0, g.order.to(device))

        for loose, units in self.plan:
            for slot, step in loose:
                loose_values[slot] = step.fn(*(get(i) for i in step.args))
            values = []
            for unit, _ in units:
                args = [gathered(g) for g in unit.gathers]
                values.append(args[0].sum(0, keepdim=True) if unit.kind == "sum" else KINDS[unit.kind](*args))
            if values:
                sources.append(values[0] if len(values) == 1 else torch.cat(values))
            else:
                sources.append(leaves[:0])
        return [get(i) for i in self.outputs]
