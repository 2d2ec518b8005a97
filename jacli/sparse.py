"""Sparse Hessians: a few Hessian-vector products instead of n, when the structure allows.

The sparsity pattern comes from the SymPy expression: a sum adds the patterns of
its terms, a constant factor keeps its factor's pattern, an unbound variable is
linear; any other node couples every input it depends on (a conservative
superset of the true pattern). Columns that share no row are given one colour
(greedy distance-2 colouring, Curtis-Powell-Reid); one reverse-over-reverse
Hessian-vector product per colour recovers all of them. The Rosenbrock function
needs 3 products at any n, where the dense Hessian needs n.

>>> import torch
>>> from jacli import language
>>> from jacli.compile import to_torch
>>> text = "+".join(f"(x{i + 1} - x{i}**2)**2" for i in range(99))
>>> program = language.build_program(language.parse_expression(text), {f"x{i}": () for i in range(100)})
>>> inputs = [s for v in program.variables for s in v.symbols]
>>> pattern = hessian_pattern(program.outputs[0], inputs, program)
>>> max(colour_columns(pattern)) + 1
3
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import sympy
import torch

from jacli import language, symbolic
from jacli.limits import DENSE_FRACTION, SPARSE_MIN_INPUTS

if TYPE_CHECKING:
    from torch import Tensor


def hessian_pattern(
    expr: sympy.Expr, inputs: Sequence[sympy.Symbol], program: language.Program
) -> list[set[int]] | None:
    """Row patterns of the Hessian of ``expr``: ``pattern[i]`` holds every j with H[i, j] possibly non-zero.

    None when the pattern is dense (more than :data:`DENSE_FRACTION` of the entries).
    """
    n = len(inputs)
    position = {x: i for i, x in enumerate(inputs)}
    deps = symbolic.Differentiator(program)
    bindings = deps.bindings
    limit = DENSE_FRACTION * n * n
    rows: list[set[int]] = [set() for _ in inputs]
    count = 0
    seen: set[sympy.Basic] = set()
    stack = [symbolic.as_expr(expr)]
    while stack:
        node = stack.pop()
        if isinstance(node, sympy.Add):
            stack.extend(node.args)
            continue
        if isinstance(node, sympy.Symbol):
            if node in bindings and node not in seen:
                seen.add(node)
                stack.append(bindings[node])
            continue
        if isinstance(node, sympy.Mul):
            varying = [a for a in node.args if any(s in position for s in deps.dependencies(a))]
            if len(varying) <= 1:
                stack.extend(varying)
                continue
        clique = sorted(position[s] for s in deps.dependencies(node) if s in position)
        if len(clique) ** 2 > limit:
            return None
        for i in clique:
            before = len(rows[i])
            rows[i].update(clique)
            count += len(rows[i]) - before
        if count > limit:
            return None
    return rows


def colour_columns(pattern: Sequence[set[int]]) -> list[int]:
    """Greedy distance-2 colouring: columns of one colour share no row of ``pattern``."""
    colours = [-1] * len(pattern)
    for j, rows in enumerate(pattern):
        taken = {colours[k] for i in rows for k in pattern[i]}
        colour = 0
        while colour in taken:
            colour += 1
        colours[j] = colour
    return colours


def hessian(fn: Callable[[Tensor], Tensor], point: Tensor, patterns: Sequence[Sequence[set[int]]]) -> Tensor:
    """Hessian of every output of ``fn`` (shape (m, n, n)) from one HVP per colour of each output's pattern.

    The colours' products come from one reverse-over-reverse pass, not one pass each: ``fn`` runs
    on columns (n, colours), every column a copy of the point (the tape's cost is per step, not per
    column), and column c of the second pass is H @ (indicator of colour c).
    """
    n = point.numel()
    colourings = [colour_columns(pattern) for pattern in patterns]
    width = max((max(c) + 1 for c in colourings if c), default=1)
    x = point.detach().reshape(n, 1).expand(n, width).clone().requires_grad_(True)
    y = fn(x)  # (m, width)
    blocks = []
    for k, (pattern, colours) in enumerate(zip(patterns, colourings, strict=True)):
        block = point.new_zeros(n, n)
        if y[k].requires_grad:
            (grad,) = torch.autograd.grad(y[k].sum(), x, create_graph=True, retain_graph=True)
            rows = [i for i, cols in enumerate(pattern) for _ in cols]
            cols = [j for cols in pattern for j in sorted(cols)]
            if grad.requires_grad and rows:
                colour_index = torch.tensor(colours, device=point.device)
                chosen = colour_index[:, None] == torch.arange(width, device=point.device)
                v = chosen.to(point.dtype)  # (n, width): column c indicates colour c
                (hv,) = torch.autograd.grad(grad, x, grad_outputs=v, retain_graph=True, allow_unused=True)
                hv_all = torch.zeros_like(x).T if hv is None else hv.T  # (width, n): row c is H @ v_c
                row_index = torch.tensor(rows, device=point.device)
                col_index = torch.tensor(cols, device=point.device)
                block[row_index, col_index] = hv_all[colour_index[col_index], row_index].detach()
        blocks.append(block)
    return blocks[0][None] if len(blocks) == 1 else torch.stack(blocks)  # one output: no n × n copy


def sparse_patterns(program: language.Program, inputs: Sequence[sympy.Symbol]) -> list[list[set[int]]] | None:
    """Each output's Hessian pattern, or None when the dense Hessian is the better choice."""
    if len(inputs) < SPARSE_MIN_INPUTS:
        return None
    return _patterns(program, tuple(inputs))


@functools.lru_cache(maxsize=16)
def _patterns(program: language.Program, inputs: tuple[sympy.Symbol, ...]) -> list[list[set[int]]] | None:
    """:func:`sparse_patterns`, once per program (a warm server's second call: 0.1 s at n=1000 saved)."""
    patterns = []
    for output in program.outputs:
        pattern = hessian_pattern(output, inputs, program)
        if pattern is None:
            return None
        patterns.append(pattern)
    return patterns
