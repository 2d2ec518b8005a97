"""Issue 17: ``jacli.frame``: every quantity over pandas (and, in-process, Dask) DataFrames."""

from __future__ import annotations

import csv
import io
import shlex

import dask
import dask.dataframe as dd
import pandas as pd
import pytest
from conftest import invoke_cli

import jacli.frame
from jacli import problem
from jacli.errors import UsageError
from jacli.quantities import QUANTITIES


def csv_text(frame: pd.DataFrame) -> str:
    """A result frame as ``--format csv --header`` writes it."""
    from jacli.render import full_precision

    text = io.StringIO()
    rows = [[full_precision(x) for x in row] for row in frame.itertuples(index=False)]
    csv.writer(text, lineterminator="\n").writerows([list(frame.columns), *rows])
    return text.getvalue()


def example(name: str) -> tuple[list[str], dict[str, object]]:
    """The quantity's example from the table: its CLI arguments, and the keywords of ``jacli.frame``."""
    args = shlex.split(QUANTITIES[name].example)
    keywords: dict[str, object] = {}
    for flag, key in (("--v", "v"), ("--order", "order")):
        if flag in args:
            keywords[key] = int(args[args.index(flag) + 1]) if key == "order" else args[args.index(flag) + 1]
    return args, keywords


@pytest.mark.parametrize("name", sorted(QUANTITIES))
def test_every_quantity_equals_the_cli(name):
    """Generated from the table: the example's point, a second point, through the CLI and through the frame."""
    args, keywords = example(name)
    at = args[args.index("--at") + 1]
    cli = invoke_cli(name, *args, "--at", at, "--format", "csv", "--header")
    assert cli.exit_code == 0, cli
    header, *rows = list(csv.reader(io.StringIO(cli.stdout)))
    points = next(i for i, column in enumerate(header) if column.startswith("value["))
    frame = pd.DataFrame([[float(x) for x in row[:points]] for row in rows], columns=header[:points])
    assert csv_text(getattr(jacli.frame, name)(args[0], frame, **keywords)) == cli.stdout


def test_parameters_as_columns_or_by_at():
    frame = pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 3.0]})
    by_column = jacli.frame.gradient("x**2*y", frame, wrt="x")
    for at in ("y=3", {"y": 3}):
        by_at = jacli.frame.gradient("x**2*y", frame[["x"]], wrt="x", at=at)
        pd.testing.assert_frame_equal(by_at, by_column)
    assert list(by_column.columns) == ["x", "y", "value[f]", "gradient[x]"]


def test_the_index_is_kept_and_list_columns_expand():
    frame = pd.DataFrame({"a": [[1.0, 2.0], [3.0, 4.0]]}, index=["p", "q"])
    out = jacli.frame.gradient("sum(a**2)", frame)
    assert list(out.index) == ["p", "q"]
    assert out.to_dict("list") == {
        "a[0]": [1.0, 3.0], "a[1]": [2.0, 4.0], "value[f]": [5.0, 25.0],
        "gradient[a[0]]": [2.0, 6.0], "gradient[a[1]]": [4.0, 8.0],
    }  # fmt: skip


def test_empty_frames_float32_and_options():
    empty = jacli.frame.jacobian("x*y, y", pd.DataFrame({"x": [], "y": []}))
    assert list(empty.columns) == ["x", "y", "value[f0]", "value[f1]", "jacobian[f0,x]", "jacobian[f0,y]",
                                   "jacobian[f1,x]", "jacobian[f1,y]"] and len(empty) == 0  # fmt: skip
    out = jacli.frame.gradient("x**2", pd.DataFrame({"x": [0.1]}), dtype="float32")
    assert out["gradient[x]"].tolist() == [0.20000000298023224]
    out = jacli.frame.jacobian("x*y, y", pd.DataFrame({"x": [1.0], "y": [2.0]}), mode="forward", chunk_size=1)
    assert out.iloc[0].tolist() == [1.0, 2.0, 2.0, 2.0, 2.0, 1.0, 0.0, 1.0]


def test_errors_are_jacli_errors():
    with pytest.raises(UsageError, match=r"the header names 'z', not a variable of the expression \(x\)"):
        jacli.frame.gradient("x**2", pd.DataFrame({"z": [1.0]}))
    with pytest.raises(UsageError, match=r"^<data frame>: column 'x' holds large_string, not numbers$"):
        jacli.frame.gradient("x**2", pd.DataFrame({"x": ["1"]}))
    with pytest.raises(UsageError, match=r"gradient needs a scalar expression"):
        jacli.frame.gradient("x, x", pd.DataFrame({"x": [1.0]}))
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'order'"):
        jacli.frame.gradient("x**2", pd.DataFrame({"x": [1.0]}), order=2)


def test_functions_are_generated_from_the_table():
    assert sorted(jacli.frame.__all__) == sorted(QUANTITIES)
    for name in QUANTITIES:
        function = getattr(jacli.frame, name)
        assert function.__name__ == name and "DataFrame" in function.__doc__
    assert str(__import__("inspect").signature(jacli.frame.vjp)) == (
        "(expr, df, wrt=None, *, at=None, v='ones', dtype='float64', device='cpu', chunk_size=None)"
    )


@pytest.fixture
def compilations(monkeypatch):
    """Counts the expressions compiled to torch from here on (the compile caches emptied first)."""
    for cache in (problem._parse, problem.program_for, problem.compiled_for):
        cache.cache_clear()
    monkeypatch.setattr(jacli.frame, "_COMPILED", type(jacli.frame._COMPILED)())
    count = []
    real = problem.to_torch

    def counting(*args, **kwargs):
        count.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(problem, "to_torch", counting)
    return count


def test_an_expression_compiles_once_for_many_frames(compilations):
    for i in range(5):
        jacli.frame.hessian("x**3*y", pd.DataFrame({"x": [float(i)], "y": [1.0]}))
    assert len(compilations) == 1
    assert len(jacli.frame._COMPILED) == 1
    jacli.frame.hessian("x**3*y", pd.DataFrame({"x": [1.0]}), at="y=2")  # other options: another evaluator
    assert len(jacli.frame._COMPILED) == 2


def test_dask_frames_are_lazy_and_equal_pandas(compilations):
    points = pd.DataFrame({"x0": [i / 4 for i in range(40)], "x1": [1 - i / 8 for i in range(40)]})
    lazy = dd.from_pandas(points, npartitions=4)
    before = len(compilations)
    out = jacli.frame.jacobian("2*x0+x1**2, x0**2+2*x1**3", lazy)
    assert isinstance(out, dd.DataFrame) and out.npartitions == 4
    assert list(out.columns) == list(jacli.frame.jacobian("2*x0+x1**2, x0**2+2*x1**3", points.head(0)).columns)
    with dask.config.set(scheduler="synchronous"):
        computed = out.compute()
    pd.testing.assert_frame_equal(computed, jacli.frame.jacobian("2*x0+x1**2, x0**2+2*x1**3", points))
    assert len(compilations) - before <= 1  # meta and 4 partitions: one compilation
