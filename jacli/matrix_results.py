"""The matrix form of each quantity, checked against the elementwise numbers before it is shown.

:func:`matrix_form_with_notes` derives and checks a form; :func:`attach` puts it on a one-point
:class:`~jacli.results.Result`. The seam for shapes with named dimensions and no point is
:func:`jacli.matrix_api.matrix_form` (it adds the numeric path the random check needs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from jacli import matrix_expr as mx
from jacli.errors import JacliError
from jacli.matrix_expr import Node

if TYPE_CHECKING:
    from jacli.quantities import Quantity
from jacli import matrix_readback
from jacli.matrix_form import MatrixForm, TooLarge, Unsupported, backward, build_with_kind, coefficient, forward

RTOL = 1e-7
"""How closely the matrix form's numbers must match the elementwise result (relative, and absolute near 0;
1000 machine epsilons of the result's dtype when that is looser: float32)."""


def _direction_name(taken: set[str], base: str) -> str:
    name = base
    while name in taken:
        name += "_"
    return name


def weight_name(v: Any, variables: Mapping[str, Any]) -> str:
    """The name of the weights in the form: ``--v``'s one name (a symbolic ``--v p``), else ``v``."""
    if isinstance(v, str) and v.strip() != "ones":
        return v.strip()
    return _direction_name(set(variables), "v")


def _weights(v: Any, shape: mx.Shape, name: str) -> Node:
    """``--v``: ``ones`` when every weight is 1, else the array ``v`` shaped like the output (or input)."""
    if isinstance(v, str) and v.strip() == "ones":
        return mx.ones(shape)
    if v is not None and not isinstance(v, str) and all(float(w) == 1.0 for w in v):
        return mx.ones(shape)
    return mx.var(name, shape)


def _single(wrt: Sequence[str], variables: Mapping[str, Node]) -> Node:
    if len(wrt) != 1:
        raise Unsupported("this matrix form is for one variable")
    return variables[wrt[0]]


def _vector_output(f: Node) -> Node:
    if len(f.shape) == 2 and f.shape[1] != 1:
        raise Unsupported("a matrix-valued expression has a Jacobian of four axes")
    return f


def _scalar(f: Node) -> Node:
    if not f.scalar:
        raise Unsupported("this matrix form is for a scalar expression")
    return f


def _adjoints(f: Node, seed: Node, wrt: Sequence[str], variables: Mapping[str, Node]) -> dict[str, Node]:
    found = backward(f, seed, tuple(wrt))
    return {k: g if g is not None else mx.zero(variables[k].shape) for k, g in found.items()}


def gradient(f: Node, wrt: Sequence[str], variables: Mapping[str, Node], v: Any) -> Node | dict[str, Node]:
    """The gradient, shaped like its variable (a dict for several variables)."""
    found = _adjoints(_scalar(f), mx.ONE, wrt, variables)
    return found[wrt[0]] if len(wrt) == 1 else found


def vjp(f: Node, wrt: Sequence[str], variables: Mapping[str, Node], v: Any) -> dict[str, Node]:
    """vᵀJ: the adjoint of each input for the output weights ``v`` (``ones``, or ``v`` shaped like f)."""
    return _adjoints(f, _weights(v, f.shape, weight_name(v, variables)), wrt, variables)


def jvp(f: Node, wrt: Sequence[str], variables: Mapping[str, Node], v: Any) -> Node:
    """J·v: the forward derivative in the direction ``v`` (shaped like the one input)."""
    x = _single(wrt, variables)
    return forward(_vector_output(f), {x.data: _weights(v, x.shape, weight_name(v, variables))})


def jacobian(f: Node, wrt: Sequence[str], variables: Mapping[str, Node], v: Any) -> Node:
    """The Jacobian, outputs × inputs: the matrix of the forward derivative (d(Ax)/dx = A)."""
    x = _single(wrt, variables)
    f = _vector_output(f)
    if x.scalar:
        return forward(f, {x.data: mx.ONE})
    if x.shape[1] != 1:
        raise Unsupported("a Jacobian with respect to a matrix has four axes")
    d = mx.var(_direction_name(set(variables), "dx"), x.shape)
    return coefficient(forward(f, {x.data: d}), d)


def _gradient_of_one(f: Node, wrt: Sequence[str], variables: Mapping[str, Node]) -> Node:
    x = _single(wrt, variables)
    return backward(_scalar(f), mx.ONE, (x.data,))[x.data] or mx.zero(x.shape)


def hessian(f: Node, wrt: Sequence[str], variables: Mapping[str, Node], v: Any) -> Node:
    """The Hessian of a scalar f: the Jacobian of its gradient."""
    return jacobian(_gradient_of_one(f, wrt, variables), wrt, variables, v)


def hvp(f: Node, wrt: Sequence[str], variables: Mapping[str, Node], v: Any) -> Node:
    """H·v: the forward derivative of the gradient in the direction ``v``."""
    return jvp(_gradient_of_one(f, wrt, variables), wrt, variables, v)


# ---------------------------------------------------------------------------
# Trust: the numbers of the form against the elementwise result.
# ---------------------------------------------------------------------------


def _array(value: Any, shape: mx.Shape) -> np.ndarray:
    a = np.asarray(value, dtype=float)
    return a.reshape(-1, 1) if a.ndim == 1 else a


def _sizes(shapes: Mapping[str, tuple[Any, ...]]) -> dict[str, int]:
    """A size for each named dimension: 2, 3, 4, … in order of appearance (distinct, so mix-ups show)."""
    dims: dict[str, int] = {}
    for shape in shapes.values():
        for d in shape:
            if isinstance(d, str) and d not in dims:
                dims[d] = 2 + len(dims)
    return dims


def random_point(shapes: Mapping[str, tuple[Any, ...]], dims: Mapping[str, int], seed: int = 0) -> dict[str, Any]:
    """Values for the check without a point: entries in [0.5, 1.5]; square matrices well conditioned, det > 0."""
    rng = np.random.default_rng(seed)
    point = {}
    for name, shape in shapes.items():
        sizes = tuple(dims[d] if isinstance(d, str) else int(d) for d in shape)
        value = rng.uniform(0.5, 1.5, size=sizes)
        if len(sizes) == 2 and sizes[0] == sizes[1]:
            value = value + sizes[0] * np.eye(sizes[0])
        point[name] = value.tolist() if sizes else float(value)
    return point


def _numbers(form: Node | dict[str, Node], wrt: Sequence[str], values: dict[str, Any], dims: dict[str, int]) -> Any:
    parts = [form[k] for k in wrt] if isinstance(form, dict) else [form]
    return np.concatenate([np.ravel(mx.evaluate(p, values, dims)) for p in parts])


def _values(
    point: Mapping[str, Any],
    variables: Mapping[str, Node],
    v: Any,
    wrt: Sequence[str],
    weights: str | None,
    out: Node,
    dims: dict[str, int],
    label: str = "v",
) -> dict[str, Any]:
    values = {name: _array(point[name], node.shape) for name, node in variables.items()}
    if v is not None and not isinstance(v, str):
        name = label
        flat = np.asarray(v, dtype=float)
        if weights == "out":
            values[name] = flat.reshape(np.shape(mx.evaluate(out, values, dims)) or ())
        else:
            values[name] = flat.reshape(values[wrt[0]].shape)
    return values


def matrix_form_with_notes(
    quantity: Quantity,
    parsed: Any,
    wrt: Sequence[str],
    shapes: Mapping[str, tuple[Any, ...]],
    v: Any = "ones",
    point: Mapping[str, Any] | None = None,
    expected: Any = None,
    eps: float = 2.0**-52,
    elementwise: Callable[[str, str, dict[str, Any], Any, Sequence[str]], Any] | None = None,
) -> tuple[MatrixForm | None, tuple[str, ...]]:
    """The matrix form of ``quantity`` (checked), or None, and the note that says why a form found was left out.

    ``expected``: the elementwise result at ``point``. Without a point the check is at random
    values, whose elementwise result ``elementwise(quantity, text, point, v, wrt)`` computes
    (:func:`jacli.matrix_api.matrix_form` passes the one numeric path). ``eps``: the machine
    epsilon of the numbers (float32's is looser).
    """
    if quantity.matrix_form is None or all(len(s) == 0 for s in shapes.values()):
        return None, ()
    try:
        variables = {name: mx.var(name, _shape_of(shape)) for name, shape in shapes.items()}
        f, flat = build_with_kind(parsed, dict(shapes))
        form = quantity.matrix_form(f, list(wrt), variables, v)
    except TooLarge as err:
        return None, (f"matrix form skipped: {err}",)
    except (Unsupported, KeyError, IndexError, ValueError, ZeroDivisionError, RecursionError):
        return None, ()
    label = weight_name(v, variables)
    language = _Language(dict(shapes), frozenset(n for n, s in shapes.items() if len(s) == 2 and 1 in s), flat)
    if point is not None:
        dims = _dims_of(shapes, point)
        return _checked(form, quantity, wrt, variables, f, v, label, point, expected, dims, eps, language)
    if elementwise is None:
        return None, ()
    notes: tuple[str, ...] = ()
    for dims in _size_choices(shapes):  # a second choice of sizes where the first made a matrix singular
        at = random_point(shapes, dims)
        weights = v
        if not (isinstance(v, str) and v.strip() == "ones"):
            count = _weight_count(quantity.weights, f, wrt, shapes, dims)
            weights = np.random.default_rng(1).uniform(0.5, 1.5, size=count).tolist()
        try:
            expected = elementwise(quantity.name, parsed.text, at, weights, wrt)
        except JacliError:  # no elementwise result to check against: no form
            return None, ()
        found, notes = _checked(form, quantity, wrt, variables, f, weights, label, at, expected, dims, eps, language)
        if found is not None:
            return found, ()
    return None, notes


@dataclass(frozen=True)
class _Language:
    """What the read-back needs: the variables' shapes as given (1-D vectors ``(n,)``), the names that are
    n×1 columns, and whether the expression's value is a 1-D vector."""

    shapes: dict[str, tuple[Any, ...]]
    columns: frozenset[str]
    flat_output: bool

    def shape(self, name: str, dims: Mapping[str, int]) -> tuple[int, ...]:
        return tuple(dims[d] if isinstance(d, str) else int(d) for d in self.shapes[name])


def _reads_back(
    form: Node | dict[str, Node],
    wrt: Sequence[str],
    want: np.ndarray,
    values: dict[str, Any],
    weights: tuple[str, str | None, Node] | None,
    dims: dict[str, int],
    rtol: float,
    language: _Language,
) -> bool:
    """Whether the printed text of each part of ``form``, read back by the language, is its part of ``want``."""
    shapes = {name: language.shape(name, dims) for name in language.shapes}
    point = {name: np.reshape(values[name], shapes[name]) for name in shapes}
    if weights is not None:  # the weights of vjp (shaped like the output) or jvp and hvp (like the input)
        label, side, out = weights
        if side == "out":
            size = np.size(values[label])
            shapes[label] = () if out.scalar else (size,) if language.flat_output else np.shape(values[label])
        else:
            shapes[label] = shapes[wrt[0]]
        point[label] = np.reshape(values[label], shapes[label])
    parts = [form[k] for k in wrt] if isinstance(form, dict) else [form]
    sizes = [int(np.prod(shapes[k])) for k in wrt] if isinstance(form, dict) else [want.size]
    pieces = np.split(want, np.cumsum(sizes)[:-1]) if sum(sizes) == want.size else None
    return pieces is not None and all(
        matrix_readback.reads_back(p, w, shapes, point, dims, rtol, language.columns)
        for p, w in zip(parts, pieces, strict=True)
    )


def _size_choices(shapes: Mapping[str, tuple[Any, ...]]) -> list[dict[str, int]]:
    """Sizes for the named dimensions: 2, 3, 4, … in order of appearance, then (for two or more) the reverse,
    so that a product like ``X.T@X`` is tried both wide (singular) and tall."""
    first = _sizes(shapes)
    if len(first) < 2:
        return [first]
    return [first, dict(zip(first, reversed(first.values()), strict=True))]


def _checked(
    form: Any,
    quantity: Quantity,
    wrt: Sequence[str],
    variables: Mapping[str, Node],
    f: Node,
    v: Any,
    label: str,
    point: Mapping[str, Any],
    expected: Any,
    dims: dict[str, int],
    eps: float,
    language: _Language,
) -> tuple[MatrixForm | None, tuple[str, ...]]:
    """The form when its numbers at ``point`` match ``expected`` (the elementwise result), and its printed text
    read back by the language matches too; else the note why not."""
    want = np.ravel(np.asarray(expected, dtype=float))
    if not np.isfinite(want).all():  # nothing to check against (the non-finite warning says so): no form
        return None, ()
    try:
        with np.errstate(all="ignore"):
            values = _values(point, variables, v, wrt, quantity.weights, f, dims, label)
            got = _numbers(form, wrt, values, dims)
        if not np.isfinite(got).all():  # e.g. det(A)*inv(A).T at a singular A, where the cofactors are finite
            return None, ("matrix form left out: its numbers are not finite at this point",)
        rtol = max(RTOL, 1000 * eps)
        agrees = got.shape == want.shape and bool(np.allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True))
    except np.linalg.LinAlgError:  # a singular matrix where the elementwise result is finite
        return None, ("matrix form left out: its numbers are not finite at this point",)
    except (ValueError, KeyError, TypeError):
        agrees = False
    if not agrees:
        return None, ("matrix form left out: its numbers do not match the elementwise result",)
    weights = (label, quantity.weights, f) if label in values else None
    if not _reads_back(form, wrt, want, values, weights, dims, rtol, language):
        return None, ("matrix form left out: its text, read back, does not match the elementwise result",)
    return _forms(form, language.columns), ()


def _dims_of(shapes: Mapping[str, tuple[Any, ...]], point: Mapping[str, Any]) -> dict[str, int]:
    """The named dimensions' sizes, read from the point's arrays."""
    dims: dict[str, int] = {}
    for name, shape in shapes.items():
        for d, size in zip(shape, np.shape(point[name]), strict=False):
            if isinstance(d, str):
                dims[d] = int(size)
    return dims


def _shape_of(shape: tuple[Any, ...]) -> mx.Shape:
    from jacli.matrix_form import _shape_of as shape_of  # noqa: PLC0415

    return shape_of(shape)


def _weight_count(
    weights: str | None, f: Node, wrt: Sequence[str], shapes: Mapping[str, Any], dims: dict[str, int]
) -> int:
    def size(shape: Sequence[Any]) -> int:
        return int(np.prod([dims[d] if isinstance(d, str) else int(d) for d in shape]))

    if weights == "out":
        return size(f.shape) if f.shape else 1
    return sum(size(shapes[name]) for name in wrt)


def _forms(form: Node | dict[str, Node], columns: frozenset[str]) -> MatrixForm:
    if isinstance(form, dict):
        return MatrixForm(
            {k: matrix_readback.text(n, columns) for k, n in form.items()},
            {k: mx.to_text(n, mx.UNICODE) for k, n in form.items()},
            {k: mx.to_text(n, mx.LATEX) for k, n in form.items()},
            form,
        )
    return MatrixForm(
        matrix_readback.text(form, columns), mx.to_text(form, mx.UNICODE), mx.to_text(form, mx.LATEX), form
    )


def torch_eps(tensor: Any) -> float:
    """The machine epsilon of ``tensor``'s dtype (float64's when there is no tensor)."""
    import torch

    dtype = getattr(tensor, "dtype", torch.float64)
    return torch.finfo(dtype).eps if dtype.is_floating_point else 2.0**-52


def attach(result: Any, quantity: Quantity, parsed: Any, wrt: Sequence[str], shapes: Mapping[str, Any], v: Any) -> Any:
    """``result`` with its matrix form (and a note when one was left out)."""
    eps = float(torch_eps(result.tensor))
    form, notes = matrix_form_with_notes(quantity, parsed, wrt, shapes, v, result.point, result.result, eps)
    if form is None and not notes:
        return result
    return dataclasses.replace(result, symbolic_matrix=None if form is None else form, notes=result.notes + notes)
