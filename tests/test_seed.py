"""Every row of the SPEC's seed table, checked numerically through the CLI's JSON."""

from __future__ import annotations

import json

import pytest
from conftest import Invoke

SEED = "2*x0+x1**2, x0**2+2*x1**3"
AB = "A=[[1,2],[3,4]], B=[[1,2,3],[4,5,6]]"


def run_json(jacli: Invoke, *args: str) -> dict:
    out = jacli(*args, "--format", "json")
    assert out.exit_code == 0, out.stderr
    assert out.stderr == ""
    (line,) = out.stdout.splitlines()
    return json.loads(line)


def test_seed_jacobian(jacli: Invoke) -> None:
    obj = run_json(jacli, "jacobian", SEED, "--at", "1,2")
    assert obj["result"] == [[2, 4], [2, 24]]
    assert obj["value"] == [6, 17]


@pytest.mark.parametrize(("v", "expected"), [("1,2", [6, 52]), ("2,1", [6, 32]), ("1,1", [4, 28])])
def test_seed_vjp(jacli: Invoke, v: str, expected: list[float]) -> None:
    assert run_json(jacli, "vjp", SEED, "--at", "1,2", "--v", v)["result"] == expected


def test_three_outputs(jacli: Invoke) -> None:
    assert run_json(jacli, "jacobian", "x0**2, x0*x1, x1**2", "--at", "2,3")["result"] == [[4, 0], [3, 2], [0, 6]]
    assert run_json(jacli, "vjp", "x0**2, x0*x1, x1**2", "--at", "2,3", "--v", "1,2,3")["result"] == [10, 22]


def test_gradient_and_hessian_of_a_sum_of_powers(jacli: Invoke) -> None:
    expr = "x1**2 + x2**3 + x3**4"
    assert run_json(jacli, "gradient", expr, "--at", "1,2,3")["result"] == [2, 12, 108]
    assert run_json(jacli, "hessian", expr, "--at", "1,2,3")["result"] == [[2, 0, 0], [0, 12, 0], [0, 0, 108]]


def test_gradient_of_dot(jacli: Invoke) -> None:
    obj = run_json(jacli, "gradient", "2*dot(x,x)", "--at", "x=[0,1,2,3]")
    assert obj["result"] == [0, 4, 8, 12]
    assert obj["inputs"] == ["x[0]", "x[1]", "x[2]", "x[3]"]
    assert obj["point"] == {"x": [0, 1, 2, 3]}


def test_vjp_of_two_tensors(jacli: Invoke) -> None:
    obj = run_json(jacli, "vjp", "3*a**3 - b**2", "--at", "a=[1,2], b=[2,3]", "--v", "1,1")
    assert obj["result"] == [9, 36, -4, -6]
    assert obj["inputs"] == ["a[0]", "a[1]", "b[0]", "b[1]"]
    assert obj["outputs"] == ["f0", "f1"]


@pytest.mark.parametrize(("expr", "expected"), [("sum(detach(x*x)*x)", [0, 1, 4, 9]), ("sum(x*x*x)", [0, 3, 12, 27])])
def test_detach(jacli: Invoke, expr: str, expected: list[float]) -> None:
    assert run_json(jacli, "gradient", expr, "--at", "x=[0,1,2,3]")["result"] == expected


def test_hessian_of_vector_valued_elementwise(jacli: Invoke) -> None:
    result = run_json(jacli, "hessian", "x*x*[0,1,2,3]", "--at", "x=[1,1,1,1]")["result"]
    expected = [[[2.0 * k if i == j == k else 0.0 for j in range(4)] for i in range(4)] for k in range(4)]
    assert result == expected


def test_vjp_of_a_matrix_product(jacli: Invoke) -> None:
    obj = run_json(jacli, "vjp", "A@B", "--at", AB, "--v", "ones")
    assert obj["result"] == [6, 15, 6, 15, 4, 4, 4, 6, 6, 6]  # A.grad [[6,15],[6,15]], B.grad [[4,4,4],[6,6,6]]
    assert obj["inputs"][:4] == ["A[0,0]", "A[0,1]", "A[1,0]", "A[1,1]"]
    assert obj["v"] == [1.0] * 6


def test_jacobian_of_a_matrix_product_is_6_by_10(jacli: Invoke) -> None:
    obj = run_json(jacli, "jacobian", "A@B", "--at", AB)
    assert len(obj["result"]) == 6 and all(len(row) == 10 for row in obj["result"])
    assert obj["outputs"] == ["f[0,0]", "f[0,1]", "f[0,2]", "f[1,0]", "f[1,1]", "f[1,2]"]
    # d C[0,1] / d A[0,1] = B[1,1] = 5 ; d C[0,1] / d B[1,1] = A[0,1] = 2
    assert obj["result"][1][1] == 5 and obj["result"][1][4 + 4] == 2
    assert obj["symbolic"][0][0] == "B[0,0]"


def test_graph_example_through_gradient(jacli: Invoke) -> None:
    # graph "(a+b)*(b+1)" at a=2, b=1: e = 6, de/da = 2, de/db = 5
    obj = run_json(jacli, "gradient", "c = a+b; d = b+1; c*d", "--at", "a=2, b=1")
    assert obj["value"] == [6] and obj["result"] == [2, 5]
    assert obj["bindings"] == {"c": "a + b", "d": "b + 1"}
