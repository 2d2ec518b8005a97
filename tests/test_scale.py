"""Issue 16, scale and throughput: ``--sparse``, and the vectorised number formatting and finite
checks (the same bytes and answers as before)."""

from __future__ import annotations

import json
import math
import struct

import numpy as np
import pytest
from conftest import Invoke, assert_usage_error
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from jacli.render import finite_or_null
from jacli.render.numbers import csv_lines, texts
from jacli.results import _all_finite

# -- --sparse -------------------------------------------------------------------------------------

HESSIAN = ["hessian", "x0**2*x1 + x2**3", "--at", "1,2,3", "--sparse"]


def test_sparse_json_replaces_result_in_place(jacli: Invoke) -> None:
    out = jacli(*HESSIAN, "--format", "json", "--no-symbolic")
    assert out.exit_code == 0, out
    obj = json.loads(out.stdout)
    assert list(obj) == ["command", "inputs", "outputs", "point", "value", "result_sparse", "eigenvalues",
                         "definiteness"]  # fmt: skip
    assert obj["result_sparse"] == {"shape": [3, 3], "indices": [[0, 0], [0, 1], [1, 0], [2, 2]],
                                    "values": [4.0, 2.0, 2.0, 18.0]}  # fmt: skip
    assert "result" not in obj


def test_sparse_json_keeps_the_symbolic_form(jacli: Invoke) -> None:
    obj = json.loads(jacli(*HESSIAN, "--format", "json").stdout)
    assert obj["symbolic"] == [["2*x1", "2*x0", "0"], ["2*x0", "0", "0"], ["0", "0", "6*x2"]]


def test_sparse_csv_is_row_col_value(jacli: Invoke) -> None:
    out = jacli(*HESSIAN, "--format", "csv")
    assert (out.exit_code, out.stdout) == (0, "0,0,4.0\n0,1,2.0\n1,0,2.0\n2,2,18.0\n")


def test_sparse_csv_of_an_order_3_hessian_has_an_index_per_axis(jacli: Invoke) -> None:
    out = jacli("hessian", "x0**2, x0*x1", "--at", "2,3", "--sparse", "--format", "csv")
    assert (out.exit_code, out.stdout) == (0, "0,0,0,2.0\n1,0,1,1.0\n1,1,0,1.0\n")


def test_sparse_vector_and_several_points(jacli: Invoke) -> None:
    out = jacli("jacobian", "x0**2, x0*x1, x1**2", "--at", "2,3", "--at", "0,0", "--sparse", "-f", "json")
    assert out.exit_code == 0, out
    first, second = (json.loads(line)["result_sparse"] for line in out.stdout.splitlines())
    assert first == {"shape": [3, 2], "indices": [[0, 0], [1, 0], [1, 1], [2, 1]], "values": [4.0, 3.0, 2.0, 6.0]}
    assert second == {"shape": [3, 2], "indices": [], "values": []}
    grad = jacli("gradient", "2*dot(x,x)", "--at", "x=[0,1,2,3]", "--sparse", "-f", "csv")
    assert grad.stdout == "1,4.0\n2,8.0\n3,12.0\n"


def test_sparse_nonfinite_entries_are_kept_as_null(jacli: Invoke) -> None:
    out = jacli("gradient", "sqrt(x0) + x1", "--at", "0,1", "--sparse", "-f", "json")
    assert json.loads(out.stdout)["result_sparse"]["values"] == [None, 1.0]


def test_sparse_table(jacli: Invoke) -> None:
    out = jacli(*HESSIAN)
    assert out.exit_code == 0, out
    assert out.stdout == (
        "Hessian ∂²f/∂x² of f = x0**2*x1 + x2**3: 4 nonzero of 9 entries (55.6% zero)\n"
        "at x0 = 1, x1 = 2, x2 = 3\n"
        "╭──────────┬───────╮\n"
        "│          │ value │\n"
        "├──────────┼───────┤\n"
        "│ H[x0,x0] │     4 │\n"
        "│ H[x0,x1] │     2 │\n"
        "│ H[x1,x0] │     2 │\n"
        "│ H[x2,x2] │    18 │\n"
        "╰──────────┴───────╯\n"
        "indefinite\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["jacobian", "x0", "--points", "-", "--sparse"],
            "--sparse writes one result per --at; drop --points (or drop --sparse)",
        ),
        (
            ["jacobian", "x0", "--at", "1", "--at", "2", "--sparse", "-f", "csv"],
            "--sparse --format csv writes one result; give one --at (or use --format json)",
        ),
        (
            ["jacobian", "x0", "--at", "1", "--sparse", "-f", "latex"],
            "--sparse writes table, json or csv; drop --format latex",
        ),
        (
            ["taylor", "sin(x0)", "--at", "0", "--order", "3", "--sparse"],
            "--sparse needs numbers; taylor's result is not an array of numbers",
        ),
        (
            ["curl", "x1, x0**2", "--at", "1,2", "--sparse"],
            "--sparse needs a vector, matrix or tensor result; curl gives one number",
        ),
    ],
)
def test_sparse_refusals(jacli: Invoke, args: list[str], message: str) -> None:
    out = jacli(*args, input="1\n")
    assert_usage_error(out)
    assert out.stderr == f"jacli: error: {message}\n"


def test_sparse_of_a_big_sparse_hessian_lists_only_its_band(jacli: Invoke) -> None:
    n = 40
    expr = "+".join(f"100*(x{i + 1}-x{i}**2)**2+(1-x{i})**2" for i in range(n - 1))
    out = jacli("hessian", expr, "--at", ",".join(["1.1"] * n), "--sparse", "-f", "json", "--no-symbolic")
    sparse = json.loads(out.stdout)["result_sparse"]
    assert len(sparse["values"]) == 3 * n - 2
    dense = json.loads(jacli("hessian", expr, "--at", ",".join(["1.1"] * n), "-f", "json", "--no-symbolic").stdout)
    rebuilt = np.zeros((n, n))
    rebuilt[tuple(np.array(sparse["indices"]).T)] = sparse["values"]
    assert rebuilt.tolist() == dense["result"]
    assert sparse["indices"] == sorted(sparse["indices"])  # row-major


# -- the formatter: the same text as % (repr) --------------------------------------------------------


def old_csv(rows: np.ndarray) -> str:
    """The formatter before issue 16, verbatim."""
    count, width = rows.shape
    if count == 0:
        return ""
    line = ",".join(["%s"] * width) + "\n"
    return (line * count) % tuple(rows.ravel().tolist())


EDGES = [
    0.0,
    -0.0,
    math.inf,
    -math.inf,
    math.nan,
    1e16,
    -1e16,
    1e-4,
    -1e-4,
    9.999999999999998e15,
    1e-5,
    5e-324,
    -5e-324,
    1.7976931348623157e308,
    2.2250738585072014e-308,
    0.1,
    1.0,
    123456.0,
    1e15,
    0.00012,
    2.5e-5,
]


@given(arrays(np.float64, st.tuples(st.integers(0, 6), st.integers(0, 5)), elements=st.floats(width=64)))
def test_csv_lines_match_repr(rows: np.ndarray) -> None:
    assert csv_lines(rows) == old_csv(rows)
    assert texts(rows) == [repr(x) if math.isfinite(x) else str(x) for x in rows.ravel().tolist()]


@given(st.lists(st.sampled_from(EDGES), min_size=1, max_size=30))
def test_csv_lines_on_the_edges(values: list[float]) -> None:
    rows = np.array(values).reshape(-1, 1)
    assert csv_lines(rows) == old_csv(rows) == "".join(f"{x!r}\n" for x in values)


def test_csv_lines_on_random_bit_patterns_and_float32() -> None:
    rng = np.random.default_rng(16)
    bits = rng.integers(0, 2**64, size=(5000, 4), dtype=np.uint64)
    rows = bits.view(np.float64)
    assert csv_lines(rows) == old_csv(rows)
    small = rng.uniform(-2, 2, size=(5000, 4)).astype(np.float32)
    assert csv_lines(small) == old_csv(small)  # float32 numbers written as the doubles they are


def test_repr_and_orjson_agree_where_orjson_is_trusted() -> None:
    import orjson

    for word in range(0, 2**64, 2**64 // 20011):
        (x,) = struct.unpack("d", struct.pack("Q", word))
        if math.isfinite(x) and (x == 0 or 1e-4 <= abs(x) < 1e16):
            assert orjson.dumps(x).decode() == repr(x), repr(x)


# -- fast finiteness checks: the same answers --------------------------------------------------------


@pytest.mark.parametrize(
    "nested",
    [[[1.0, 2.0], [3.0, math.nan]], [1.0, "x**2", 2.0], [[1, 2], [3, 4]], [], [[math.inf]], ["1/x", [0.5, -math.inf]]],
)
def test_finite_helpers(nested: list) -> None:
    leaves = [x for x in _flat(nested) if not isinstance(x, str)]
    assert _all_finite(nested) == all(math.isfinite(x) for x in leaves)
    assert finite_or_null(nested) == _old_finite_or_null(nested)


def _flat(nested):
    return [y for x in nested for y in _flat(x)] if isinstance(nested, list) else [nested]


def _old_finite_or_null(nested):
    if isinstance(nested, list):
        return [_old_finite_or_null(x) for x in nested]
    return None if isinstance(nested, float) and not math.isfinite(nested) else nested
