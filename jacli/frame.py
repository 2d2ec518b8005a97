"""The quantities over data frames: one row per point in, one row per point out.

``jacli.frame.jacobian(expr, df, wrt=None, at=None, ...)`` and one function for every
quantity of :data:`jacli.quantities.QUANTITIES` (generated from the table) take a
pandas DataFrame of points, columns named by the variables' labels (``x``, ``a[0]``,
``A[0,1]``, or one list column per array variable), parameters as columns or
given by ``at=`` (``"y=2"`` or ``{"y": 2}``), and return a DataFrame with the
columns of ``--format csv --header`` (:mod:`jacli.columns`), the input's index
kept. Given a Dask DataFrame they return a Dask DataFrame at once, computed
partition by partition (``map_partitions`` with ``meta``), so the same call runs
on a Dask cluster. Each process compiles an expression once for all its
partitions: :func:`_evaluator` is cached by expression and options (and the
compiled program below it by expression and shapes).

>>> import pandas as pd
>>> jacobian("x0**2*x1", pd.DataFrame({"x0": [1.0, 2.0], "x1": [3.0, 4.0]}))
    x0   x1  value[f]  jacobian[f,x0]  jacobian[f,x1]
0  1.0  3.0       3.0             6.0             1.0
1  2.0  4.0      16.0            16.0             4.0
"""

from __future__ import annotations

import collections
import functools
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jacli.extras import require
from jacli.quantities import QUANTITIES, Quantity

__all__ = sorted(QUANTITIES)  # noqa: PLE0605 - filled in below, one function per quantity

_SETTINGS = ("v", "mode", "dtype", "device", "chunk_size")
"""Keyword arguments passed on to :func:`jacli.evaluation.evaluate` as they are."""


def _key(value: Any) -> Any:
    """A hashable, exact form of an option (``at={"A": [[1, 2]]}``)."""
    if isinstance(value, Mapping):
        return ("mapping", json.dumps({str(k): v for k, v in value.items()}, sort_keys=True, default=repr))
    if isinstance(value, list | tuple):
        return ("sequence", json.dumps(list(value), default=repr))
    return value


def compute(quantity: str, expr: str, frame: Any, *, wrt: str | Sequence[str] | None = None, at: Any = None,
            options: Mapping[str, Any] | None = None, **settings: Any) -> Any:  # fmt: skip
    """``quantity`` of ``expr`` at every row of ``frame`` (pandas, or Dask: lazily); see the module's text."""
    unknown = sorted(set(settings) - set(_SETTINGS))
    if unknown:
        raise TypeError(f"jacli.frame.{quantity}() got an unexpected keyword argument {unknown[0]!r}")
    key = (
        quantity, expr, _key(wrt), _key(at), _key(options), tuple((k, _key(settings[k])) for k in sorted(settings)),
    )  # fmt: skip
    if hasattr(frame, "map_partitions") and hasattr(frame, "npartitions"):
        require("dask.dataframe", "jacli.frame over a Dask DataFrame")
        meta = _partition(frame._meta_nonempty, key, (wrt, at, options, settings)).iloc[:0]
        return frame.map_partitions(_partition, key, (wrt, at, options, settings), meta=meta)
    pd = require("pandas", "jacli.frame")
    if not isinstance(frame, pd.DataFrame):
        kind = type(frame)
        name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        raise TypeError(
            f"jacli.frame.{quantity}() takes a pandas DataFrame or a Dask DataFrame of points "
            f"(one row per point, a column per variable), not {name}"
        )
    return _partition(frame, key, (wrt, at, options, settings))


def _partition(frame: Any, key: tuple[Any, ...], given: tuple[Any, ...]) -> Any:
    """One pandas frame (a Dask partition): its result frame, by the evaluator cached for ``key``."""
    return _evaluator(key, tuple(map(str, frame.columns)), given)(frame)


_COMPILED: collections.OrderedDict[tuple[Any, ...], Callable[[Any], Any]] = collections.OrderedDict()
"""Evaluators of this process, by expression, options and columns (the latest :data:`CACHED` kept)."""
CACHED = 64


def _evaluator(key: tuple[Any, ...], columns: tuple[str, ...], given: tuple[Any, ...]) -> Callable[[Any], Any]:
    """The evaluator of ``key`` for frames with these columns, built (and its expression compiled) once."""
    full = (*key, columns)
    if full not in _COMPILED:
        _COMPILED[full] = functools.partial(_evaluate, key[0], key[1], *given)
        if len(_COMPILED) > CACHED:
            _COMPILED.popitem(last=False)
    _COMPILED.move_to_end(full)
    return _COMPILED[full]


def _evaluate(
    quantity: str,
    expr: str,
    wrt: Any,
    at: Any,
    options: Mapping[str, Any] | None,
    settings: Mapping[str, Any],
    frame: Any,
) -> Any:
    import numpy as np  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    from jacli.arrow_points import frame_reader  # noqa: PLC0415
    from jacli.columns import names  # noqa: PLC0415
    from jacli.evaluation import evaluate  # noqa: PLC0415

    ev = evaluate(quantity, expr, frame_reader(frame), at=at, wrt=wrt, options=options, symbolic_form=False, **settings)
    columns = names(ev)
    if ev.present is not None:  # a Taylor polynomial: text per output
        from jacli.higher import results_at_points  # noqa: PLC0415
        from jacli.results import flatten  # noqa: PLC0415

        rows = [[*flatten(list(r.point.values())), *r.value, *flatten(r.result)] for r in results_at_points(ev)]
        return pd.DataFrame(rows, columns=columns, index=frame.index) if rows else pd.DataFrame(
            {c: pd.Series([], dtype=object) for c in columns}, index=frame.index)  # fmt: skip
    parts = [chunk.flat(value=True) for chunk in ev.chunks]
    table = np.concatenate(parts) if parts else np.empty((0, len(columns)))
    return pd.DataFrame(table, columns=columns, index=frame.index)


def _function(quantity: Quantity) -> Callable[..., Any]:
    """``jacli.frame.NAME(expr, df, wrt=None, *, at=None, ...)`` for one quantity of the table."""
    parameters = [
        inspect.Parameter("expr", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("df", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("wrt", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None),
        inspect.Parameter("at", inspect.Parameter.KEYWORD_ONLY, default=None),
    ]
    if quantity.weights is not None:
        parameters.append(inspect.Parameter("v", inspect.Parameter.KEYWORD_ONLY, default="ones"))
    if quantity.modes:
        parameters.append(inspect.Parameter("mode", inspect.Parameter.KEYWORD_ONLY, default="auto"))
    for option in quantity.options:
        parameters.append(inspect.Parameter(option.name, inspect.Parameter.KEYWORD_ONLY, default=option.default))
    for name, default in (("dtype", "float64"), ("device", "cpu"), ("chunk_size", None)):
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default))
    signature = inspect.Signature(parameters)
    option_names = {option.name for option in quantity.options}

    def function(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        given = dict(bound.arguments)
        expr, df, wrt, at = given.pop("expr"), given.pop("df"), given.pop("wrt"), given.pop("at")
        options = {name: given.pop(name) for name in option_names} or None
        return compute(quantity.name, expr, df, wrt=wrt, at=at, options=options, **given)

    function.__name__ = function.__qualname__ = quantity.name
    function.__module__ = __name__
    function.__doc__ = (
        f"{quantity.help.rstrip('.')}, at every row of a pandas or Dask DataFrame.\n\n"
        "Returns a DataFrame: the point's columns, value[…], then the result's entries "
        f"({quantity.name}[…], as ``--format csv --header`` names them)."
    )
    function.__signature__ = signature  # type: ignore[attr-defined]
    return function


for _name, _quantity in QUANTITIES.items():
    globals()[_name] = _function(_quantity)
