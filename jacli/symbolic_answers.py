"""Symbolic answers without a point (issue 15): no ``--at``, a symbolic ``--v``, ``--shape``.

Without a point there are no numbers: the quantity is derived symbolically over the
variables (scalars, or arrays of the shapes ``--shape`` gives) and the result carries
``point``/``value``/``result`` as ``None``. :mod:`jacli.evaluation` calls in here at two
places: :func:`program_without_point` (instead of reading a point) and
:func:`symbolic_weights` (before reading ``--v`` as numbers).

With named dimensions (``--shape "x=n"``) only the matrix form exists (:func:`matrix_form_only`);
with numeric shapes both, the matrix form checked at random values (:func:`with_matrix_form`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import sympy

from jacli import language, shapes, symbolic, symbolic_layout, symbolic_result
from jacli.errors import ShapeError, UsageError
from jacli.language.functions import is_reserved
from jacli.problem import parse, program_for
from jacli.quantities import Quantity
from jacli.values import wrt_names

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def variables_without_point(
    quantity: Quantity, expr: str, wrt: Any, shape: Any, *, symbolic_form: bool, exact: bool
) -> tuple[tuple[str, ...], dict[str, shapes.Shape]]:
    """The ``--wrt`` order and every variable's shape (``--shape``'s, scalars otherwise; a dimension may be
    a name); refuses what needs numbers."""
    if quantity.present is not None:  # its shown result is built from the numbers at the point (a Taylor polynomial)
        raise UsageError(f"the {quantity.noun} is built around a point: give --at")
    if exact:
        raise UsageError("--exact evaluates the symbolic result at a point: give --at")
    if not symbolic_form:
        raise UsageError("without --at there are no numbers, only the symbolic result: drop --no-symbolic or give --at")
    parsed = parse(expr)
    order = wrt_names(parsed, wrt)
    given = shapes.parse_shapes(shape)
    shapes.check_names(given, parsed.names, language.MAX_DIMENSIONS, language.max_elements())
    return order, {name: given.get(name, ()) for name in parsed.names}


def program_without_point(expr: str, every: Mapping[str, shapes.Shape]) -> language.Program:
    """The program over symbolic variables of these (numeric) shapes."""
    return program_for(expr, tuple((name, tuple(int(d) for d in shape)) for name, shape in every.items()))


def named_dimensions(every: Mapping[str, shapes.Shape]) -> bool:
    """Some dimension is a name (``--shape "x=n"``): only the matrix form exists."""
    return shapes.named(every)


def matrix_form_only(
    quantity: Quantity, expr: str, order: Sequence[str], every: Mapping[str, shapes.Shape], v: Any, elementwise: Any
) -> dict[str, Any]:
    """Named dimensions: only the matrix form exists, there is no elementwise result to build.

    The :class:`~jacli.results.Result` fields of an answer that carries only ``symbolic_matrix``
    (``symbolic`` None, ``point``/``value``/``result`` None, ``shapes=every``), checked at random
    values (``elementwise``: the numeric path, :func:`jacli.evaluation.elementwise_result`); a clear error
    when no matrix form is found.
    """
    from jacli import matrix_form  # noqa: PLC0415

    _check_named_weights(quantity, v, every)
    parsed = parse(expr)
    form, notes = _matrix_form(quantity, parsed, order, every, v, elementwise)
    if form is None:
        named = ", ".join(f"{n}={shapes.describe(s)}" for n, s in every.items() if shapes.named({n: s}))
        why = f" ({notes[0]})" if notes else ""
        raise UsageError(
            f"no matrix form was found for this {quantity.noun}{why}, and named dimensions ({named}) "
            'give only the matrix form; give numeric shapes (--shape "x=3, A=3x3") for the elementwise result'
        )
    scalar_output = matrix_form.build(parsed, dict(every)).scalar
    presentation = quantity.presentation(scalar_output=scalar_output, outputs=1 if scalar_output else 2, inputs=2)
    return dict(
        **presentation,
        expression=parsed.text,
        inputs=tuple(order),
        outputs=("f",),
        blocks=(),
        point=None,
        value=None,
        result=None,
        shape=(),
        v=_matrix_weights(v) if quantity.weights is not None else None,
        symbolic_matrix=form,
        shapes=dict(every),
    )


def _matrix_weights(v: Any) -> tuple[str, ...] | None:
    """``--v`` beside a matrix form only: ``ones``, or its one name."""
    return None if v is None else (_form_weights(v) or "v",)


def _form_weights(v: Any) -> str | None:
    """What the matrix form weights by: ``"ones"``, ``--v``'s one name, or None (numbers: the form's ``v``)."""
    if isinstance(v, str) and v.strip() == "ones":
        return "ones"
    names = _weight_names(v)
    return names[0] if names is not None and len(names) == 1 else None


def _check_named_weights(quantity: Quantity, v: Any, every: Mapping[str, shapes.Shape]) -> None:
    """Named dimensions have no entries to weight one by one: ``--v ones`` or one name."""
    if quantity.weights is None:
        return
    name = _form_weights(v)
    if name is None:
        raise UsageError(
            f"--v {v if isinstance(v, str) else ','.join(map(str, v))}: with named dimensions there are no entries "
            "to weight one by one; give --v ones or one name (--v v)"
        )
    if name in every:
        raise UsageError(f"--v names {name!r}, a variable of the expression; give v another name")


def _matrix_form(
    quantity: Quantity, parsed: Any, order: Sequence[str], every: Mapping[str, shapes.Shape], v: Any, elementwise: Any
) -> tuple[Any, tuple[str, ...]]:
    """The matrix form checked at random values (``v``: ``ones``, one name, else the form's own weights ``v``)."""
    from jacli.matrix_results import matrix_form_with_notes  # noqa: PLC0415

    weights = _form_weights(v) if quantity.weights is not None else "ones"
    if weights is not None and weights in every:
        weights = None
    return matrix_form_with_notes(quantity, parsed, order, every, weights, None, elementwise=elementwise)


def with_matrix_form(
    answer: dict[str, Any],
    quantity: Quantity,
    expr: str,
    order: Sequence[str],
    every: Mapping[str, Any],
    v: Any,
    elementwise: Any,
) -> dict[str, Any]:
    """No point, numeric shapes: the elementwise symbolic answer and, when there is one, its matrix form
    (checked at random values), with the note when a form found was left out."""
    form, notes = _matrix_form(quantity, parse(expr), order, every, v, elementwise)
    return {**answer, "symbolic_matrix": form, "notes": answer.get("notes", ()) + notes}


def check_point_shapes(shape: Any, program: language.Program) -> None:
    """``--shape`` beside ``--at``: each shape it names must be its value's."""
    given = shapes.parse_shapes(shape)
    if given:
        names = [v.name for v in program.variables]
        shapes.check_names(given, names, language.MAX_DIMENSIONS, language.max_elements())
        shapes.check_against(given, {v.name: v.shape for v in program.variables})


def symbolic_weights(
    v: Any, labels: Sequence[str], quantity: Quantity, program: language.Program, *, allowed: bool
) -> list[sympy.Expr] | None:
    """``--v v0,v1`` (names, or one name ``v`` for ``v0, v1, …``) as symbols; None when ``v`` is not names."""
    names = _weight_names(v)
    if names is None:
        return None
    if not allowed:
        raise UsageError(
            f"--v: {names[0]!r} is not a constant; names (a symbolic v) give only the symbolic answer, "
            "without --at or --points"
        )
    given = names
    if len(names) == 1 and len(labels) > 1:
        names = [f"{names[0]}{i}" for i in range(len(labels))]
    if len(names) != len(labels):
        per = "output" if quantity.weights == "out" else "input"
        raise ShapeError(
            f"--v has {len(names)} names but {quantity.name} needs {len(labels)} "
            f"(one per {per}: {', '.join(labels[:8])}{', …' if len(labels) > 8 else ''})"
        )
    variables = {s.name for var in program.variables for s in var.symbols} | {var.name for var in program.variables}
    clash = [n for n in [*given, *names] if n in variables]
    if clash:
        raise UsageError(f"--v names {clash[0]!r}, a variable of the expression; give v other names")
    return [sympy.Symbol(n, real=True) for n in names]


def _weight_names(v: Any) -> list[str] | None:
    if isinstance(v, list | tuple) and v and all(isinstance(x, str) for x in v):
        items = [x.strip() for x in v]
    elif isinstance(v, str):
        text = v.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        items = [x.strip() for x in text.split(",")]
    else:
        return None
    if not all(_NAME.fullmatch(x) and not is_reserved(x) and x != "ones" for x in items):
        return None
    return items


def weights_text(weights: Sequence[sympy.Expr]) -> tuple[float | str, ...]:
    """``v`` as JSON has it: numbers, or names for a symbolic ``--v``."""
    if all(w.is_number for w in weights):
        return tuple(language.constant_value(w) for w in weights)
    return tuple(sympy.sstr(w) for w in weights)


def fields(
    plan: Any, program: language.Program, exprs: Any, every: Mapping[str, shapes.Shape], blocks: Any
) -> dict[str, Any]:
    """The :class:`~jacli.results.Result` fields of a symbolic answer: no point, no numbers."""
    if isinstance(exprs, symbolic_result.Skipped):
        raise UsageError(f"symbolic form skipped: {exprs.reason}; without --at there is nothing else to show")
    inputs = tuple(s.name for s in plan.inputs)
    display = symbolic_layout.display(exprs, plan.presentation, blocks, program.output_labels, inputs)
    return dict(
        **plan.presentation,
        expression=program.text,
        inputs=inputs,
        outputs=program.output_labels,
        blocks=blocks,
        point=None,
        value=None,
        result=None,
        shape=plan.shape,
        symbolic=symbolic.to_text(exprs),
        v=None if plan.weights is None else weights_text(plan.weights),
        bindings=symbolic_result.used_bindings(program, exprs),
        symbolic_display=display,
        symbolic_exprs=exprs,
        shapes=dict(every),
    )
