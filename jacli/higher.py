"""Derivatives of any order and Taylor polynomials: the symbolic tensors and the polynomial's text.

A K-th derivative tensor is symmetric in its K input axes, so each distinct mixed
partial (a sorted index tuple) is derived once, from its parent one order lower,
and the symmetric entries are filled from it. Only the inputs a partial depends on
(through the bindings) are differentiated further: the zeros cost nothing.

>>> from jacli import language, symbolic
>>> program = language.build_program(language.parse_expression("x**3*y"), {"x": (), "y": ()})
>>> d, inputs = symbolic.Differentiator(program), [s for v in program.variables for s in v.symbols]
>>> symbolic.to_text(derivative_tensor(d, program.outputs, inputs, 3))
[[[['6*y', '6*x'], ['6*x', '0']], [['6*x', '0'], ['0', '0']]]]
>>> polynomial_text([1.0, [2.0], [[2.0]]], ["x"], [1.0])
'1 + 2*(x - 1) + (x - 1)**2'
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import sympy

from jacli import symbolic
from jacli.limits import MAX_SYMBOLIC_ENTRIES


def sorted_partials(
    d: symbolic.Differentiator, f: sympy.Expr, inputs: Sequence[sympy.Symbol], order: int
) -> list[dict[tuple[int, ...], sympy.Expr]]:
    """For k = 0..order, the non-zero k-th partials of ``f`` keyed by sorted index tuples, each derived once."""
    position = {x: j for j, x in enumerate(inputs)}
    levels: list[dict[tuple[int, ...], sympy.Expr]] = [{(): f} if f != 0 else {}]
    for _ in range(order):
        level: dict[tuple[int, ...], sympy.Expr] = {}
        for index, expr in levels[-1].items():
            start = index[-1] if index else 0
            for j in sorted(position[x] for x in d.dependencies(expr) if x in position):
                if j >= start:
                    partial = d.derivative(expr, inputs[j])
                    if partial != 0:
                        level[(*index, j)] = partial
        levels.append(level)
    return levels


def _check_size(entries: int) -> None:
    if entries > MAX_SYMBOLIC_ENTRIES:
        raise symbolic.SymbolicTooLarge(
            f"the symbolic tensor would have {entries:,} entries (over {MAX_SYMBOLIC_ENTRIES:,})"
        )


def _filled(partials: dict[tuple[int, ...], sympy.Expr], n: int, order: int, prefix: tuple[int, ...] = ()) -> Any:
    """The full n × … × n tensor (nested lists) of one order, each entry from its sorted index tuple."""
    if len(prefix) == order:
        return partials.get(tuple(sorted(prefix)), sympy.S.Zero)
    return [_filled(partials, n, order, (*prefix, j)) for j in range(n)]


def derivative_tensor(
    d: symbolic.Differentiator, outputs: Sequence[sympy.Expr], inputs: Sequence[sympy.Symbol], order: int
) -> list[Any]:
    """The ``order``-th derivative of every output: nested lists of shape (m, n, …, n)."""
    _check_size(len(outputs) * len(inputs) ** order)
    return [_filled(sorted_partials(d, f, inputs, order)[order], len(inputs), order) for f in outputs]


def taylor_terms(
    d: symbolic.Differentiator, outputs: Sequence[sympy.Expr], inputs: Sequence[sympy.Symbol], order: int
) -> list[Any]:
    """The derivative tensors of orders 0..``order``: ``[f (m,), J (m, n), H (m, n, n), …]``."""
    n = len(inputs)
    _check_size(sum(len(outputs) * n**k for k in range(order + 1)))
    levels = [sorted_partials(d, f, inputs, order) for f in outputs]
    return [[_filled(per_output[k], n, k) for per_output in levels] for k in range(order + 1)]


# ---------------------------------------------------------------------------
# The polynomial as text in jacli's language.
# ---------------------------------------------------------------------------


def number_text(x: Any) -> str:
    """A coefficient or a point's coordinate: an integral float as an integer, else its ``repr`` (round trip).

    Exact values (SymPy) are printed in jacli's syntax: ``sqrt(2)/2``.

    >>> number_text(2.0), number_text(0.1), number_text(-1e-20), number_text(sympy.Rational(1, 3))
    ('2', '0.1', '-1e-20', '1/3')
    """
    if isinstance(x, sympy.Basic):
        return symbolic.exact_text(x)
    x = float(x)
    if math.isfinite(x) and x == int(x) and abs(x) < 2**53:
        return str(int(x))
    return repr(x) if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))


def _shift(name: str, a: Any) -> str:
    """``(x - 1)``, ``(x + 2)``, or ``x`` around 0."""
    if a == 0:
        return name
    text = number_text(a)
    if " " in text:
        return f"({name} - ({text}))"
    return f"({name} + {text[1:]})" if text.startswith("-") else f"({name} - {text})"


def _coefficient(value: Any, counts: Counter[int]) -> Any:
    """A tensor entry's coefficient in the polynomial: D^k f[t] / Π counts! (t's permutations summed, / k!)."""
    divisor = math.prod(math.factorial(c) for c in counts.values())
    if isinstance(value, sympy.Basic):
        return sympy.nsimplify(value) / divisor if value.is_Float else value / divisor
    return float(value) / divisor


def _entry(tensor: Any, index: Sequence[int]) -> Any:
    for i in index:
        tensor = tensor[i]
    return tensor


def polynomial_text(terms: Sequence[Any], names: Sequence[str], point: Sequence[Any]) -> str:
    """One output's Taylor polynomial from its terms ``[f, ∇f, H, …]`` at ``point``, in powers of ``(x - a)``."""
    shifts = [_shift(name, a) for name, a in zip(names, point, strict=True)]
    pieces: list[tuple[bool, str]] = []
    for k, tensor in enumerate(terms):
        for index in _sorted_indices(len(names), k):
            counts = Counter(index)
            coefficient = _coefficient(_entry(tensor, index), counts)
            if coefficient == 0:
                continue
            powers = "*".join(shifts[j] + (f"**{c}" if c > 1 else "") for j, c in sorted(counts.items()))
            text = number_text(coefficient)
            negative = text.startswith("-")
            magnitude = text[1:] if negative else text
            if powers and magnitude == "1":
                body = powers
            elif powers:
                needs = isinstance(coefficient, sympy.Basic) and not (coefficient.is_Atom or coefficient.is_Rational)
                body = (f"({magnitude})" if needs else magnitude) + "*" + powers
            else:
                body = f"({magnitude})" if isinstance(coefficient, sympy.Add) else magnitude
            pieces.append((negative, body))
    if not pieces:
        return "0"
    first_negative, first = pieces[0]
    text = ("-" if first_negative else "") + first
    return text + "".join((" - " if negative else " + ") + body for negative, body in pieces[1:])


@functools.lru_cache(maxsize=64)
def _float_terms(m: int, n: int, order: int) -> tuple[tuple[tuple[int, float, tuple[tuple[int, str], ...]], ...], ...]:
    """Per output, the polynomial's terms in :func:`polynomial_text`'s order, once per shape and order.

    Each term: its entry's offset in the flat terms (orders 0..K one after another, each (m, n, …, n)),
    the divisor Π counts!, and its powers ``(input, "**c" or "")``.
    """
    per_output = []
    for i in range(m):
        terms, start = [], 0
        for k in range(order + 1):
            for index in _sorted_indices(n, k):
                counts = Counter(index)
                offset = start + i * n**k + sum(j * n ** (k - 1 - a) for a, j in enumerate(index))
                divisor = math.prod(math.factorial(c) for c in counts.values())
                powers = tuple((j, f"**{c}" if c > 1 else "") for j, c in sorted(counts.items()))
                terms.append((offset, float(divisor), powers))
            start += m * n**k
        per_output.append(tuple(terms))
    return tuple(per_output)


def float_polynomials(
    flat: Sequence[float], m: int, names: Sequence[str], point: Sequence[float], order: int
) -> list[str]:
    """Every output's polynomial from float terms (flat, orders 0..K): :func:`polynomial_text`'s text, faster.

    The terms' layout is derived once per shape and order (:func:`_float_terms`), so a chunk of
    points costs only each point's coefficients and shifts.

    >>> float_polynomials([1.0, 2.0, 2.0], 1, ["x"], [1.0], 2)
    ['1 + 2*(x - 1) + (x - 1)**2']
    """
    shifts = [_shift(name, a) for name, a in zip(names, point, strict=True)]
    texts = []
    for terms in _float_terms(m, len(names), order):
        pieces: list[str] = []
        for offset, divisor, powers in terms:
            coefficient = float(flat[offset]) / divisor
            if coefficient == 0:
                continue
            text = number_text(coefficient)
            negative = text.startswith("-")
            magnitude = text[1:] if negative else text
            if powers:
                product = "*".join(shifts[j] + suffix for j, suffix in powers)
                body = product if magnitude == "1" else magnitude + "*" + product
            else:
                body = magnitude
            if pieces:
                pieces.append((" - " if negative else " + ") + body)
            else:
                pieces.append(("-" if negative else "") + body)
        texts.append("".join(pieces) if pieces else "0")
    return texts


def _sorted_indices(n: int, k: int) -> list[tuple[int, ...]]:
    return list(itertools.combinations_with_replacement(range(n), k))


def _nest(flat: Sequence[Any], shape: Sequence[int]) -> Any:
    if not shape:
        return flat[0]
    step = math.prod(shape[1:])
    return [_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def _center(fields: dict[str, Any]) -> list[float]:
    """The point's coordinates of the inputs, in input order (from each variable's block)."""
    from jacli.results import flatten  # noqa: PLC0415

    center: list[float] = []
    for block in fields["blocks"]:
        center.extend(flatten(fields["point"][block.name]))
    return center


def _latex(text: str) -> str:
    import re  # noqa: PLC0415

    text = re.sub(r"\[([0-9, ]+)\]", lambda mt: "_{" + mt.group(1).replace(" ", "") + "}", text)
    text = re.sub(r"\*\*(\d+)", r"^{\1}", text)
    return text.replace("*", r" \, ")


def present_taylor(fields: dict[str, Any], order: int) -> dict[str, Any]:
    """The computed terms (flat numbers; symbolic and exact as a list of tensors) -> the polynomial shown.

    ``result`` becomes the polynomials, one string per output; JSON also gets ``polynomial`` and
    ``terms`` (the k-th derivative tensors, k = 0..order, each with a leading outputs axis).
    Coefficients are exact with ``--exact``, else floats printed to round-trip (``repr``).
    """
    from jacli.results import SymbolicDisplay  # noqa: PLC0415

    m, n = len(fields["outputs"]), len(fields["inputs"])
    flat, terms, start = list(fields["result"]), [], 0
    for k in range(order + 1):
        size = m * n**k
        terms.append(_nest(flat[start : start + size], (m,) + (n,) * k))
        start += size
    exact_point, exact_values = fields.pop("exact_point", None), fields.pop("exact_values", None)
    if exact_values is not None:  # exact: the SymPy values, never re-read text
        polynomials = [
            polynomial_text([exact_values[k][i] for k in range(order + 1)], fields["inputs"], exact_point)
            for i in range(m)
        ]
    else:
        polynomials = float_polynomials(flat, m, fields["inputs"], _center(fields), order)
    lines = [f"{out} ≈ {poly}" for out, poly in zip(fields["outputs"], polynomials, strict=True)]
    return {
        **fields,
        "result": polynomials,
        "shape": (m,),
        "extra": (("polynomial", polynomials), ("terms", terms)),
        "symbolic_display": SymbolicDisplay(
            pretty=lambda: "\n".join(lines), latex=lambda: [_latex(p) for p in polynomials], operations=lambda: 0
        ),
    }


def results_at_points(ev: Any) -> Any:
    """Each point of a :class:`~jacli.batch.PointsEvaluation` as a :class:`~jacli.results.Result` of its own,
    rewritten by the quantity's ``present`` (for quantities whose shown result is not a tensor of numbers)."""
    from jacli.results import Result  # noqa: PLC0415

    symbolic_cells = ev.symbolic
    for chunk in ev.chunks:
        points, values = chunk.points.tolist(), chunk.value.tolist()  # a chunk's numbers leave NumPy at once
        results = chunk.result.reshape(chunk.rows, -1).tolist()
        for flat, value, result in zip(points, values, results, strict=True):
            start, point = 0, {}
            for name, shape in ev.variables:
                size = math.prod(shape)
                point[name] = _nest(flat[start : start + size], shape) if shape else flat[start]
                start += size
            fields = {
                "command": ev.command, "title": ev.title, "label": ev.label, "symbol": ev.symbol, "axes": ev.axes,
                "expression": ev.expression, "inputs": ev.inputs, "outputs": ev.outputs, "blocks": ev.blocks,
                "point": point, "value": tuple(value), "result": result,
                "shape": ev.shape, "symbolic": symbolic_cells, "v": ev.v, "mode": ev.mode, "bindings": ev.bindings,
            }  # fmt: skip
            assert ev.present is not None
            yield Result(**ev.present(fields))
