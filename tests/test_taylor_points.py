"""``taylor --points``: the polynomials of a chunk from float terms (:func:`jacli.higher.float_polynomials`).

The chunk path must print exactly what the general :func:`jacli.higher.polynomial_text` prints
(it stays the path of ``--exact``), and ``--points`` exactly what ``--at`` prints at each point.
"""

from __future__ import annotations

import json
import math

from conftest import Invoke
from hypothesis import given
from hypothesis import strategies as st

from jacli import higher

COEFFICIENTS = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -3.0, 1e-20, 2.0**53, math.nan, math.inf, -math.inf]),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
)
POINT = st.one_of(st.sampled_from([0.0, -0.0, 1.0, -2.5, 1e300, 1e-20]), st.floats(allow_nan=False, width=64))


@st.composite
def taylor_case(draw: st.DrawFn) -> tuple[list[float], int, list[str], list[float], int]:
    m, n, order = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(0, 4))
    size = sum(m * n**k for k in range(order + 1))
    flat = draw(st.lists(COEFFICIENTS, min_size=size, max_size=size))
    point = draw(st.lists(POINT, min_size=n, max_size=n))
    return flat, m, [f"x{j}" for j in range(n)], point, order


def _nested(flat: list[float], m: int, n: int, order: int) -> list[list]:
    """Per order k, the (m, n, …, n) tensor, as present_taylor nests the flat terms."""
    terms, start = [], 0
    for k in range(order + 1):
        size = m * n**k
        terms.append(higher._nest(flat[start : start + size], (m,) + (n,) * k))
        start += size
    return terms


@given(taylor_case())
def test_float_polynomials_print_what_polynomial_text_prints(case) -> None:
    flat, m, names, point, order = case
    terms = _nested(flat, m, len(names), order)
    expected = [higher.polynomial_text([terms[k][i] for k in range(order + 1)], names, point) for i in range(m)]
    assert higher.float_polynomials(flat, m, names, point, order) == expected


def test_float_polynomials_exact_text() -> None:
    # f = 1 - x0 + 0.5*x1, ∇ = (2, -1), H = [[4, 6], [6, 0]] around (1, -0.0)
    flat = [1.0, 2.0, -1.0, 4.0, 6.0, 6.0, 0.0]
    assert higher.float_polynomials(flat, 1, ["x", "y"], [1.0, -0.0], 2) == [
        "1 + 2*(x - 1) - y + 2*(x - 1)**2 + 6*(x - 1)*y"
    ]
    assert higher.float_polynomials([0.0, -0.0], 1, ["x"], [3.0], 1) == ["0"]
    assert higher.float_polynomials([math.nan, 1.0], 1, ["x"], [-2.0], 1) == ["nan + (x + 2)"]


POINTS = "x,y\n1,2\n0,-0.5\n2.5,1e-20\n-3,0.25\n"


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_points_print_what_at_prints_at_each_point(jacli: Invoke, tmp_path) -> None:
    path = tmp_path / "p.csv"
    path.write_text(POINTS)
    for order in ("1", "2", "3", "4"):
        for extra in ((), ("--dtype", "float32")):
            args = ("taylor", "exp(x)*sin(y), x**2*y - 3", "--order", order, "--format", "json", *extra)
            many = jacli(*args, "--points", str(path))
            assert many.exit_code == 0, many.stderr
            ats = [f"x={row.split(',')[0]},y={row.split(',')[1]}" for row in POINTS.splitlines()[1:]]
            one_by_one = [jacli(*args, "--at", at).stdout for at in ats]
            assert many.stdout == "".join(one_by_one)
            assert len(_json_lines(many.stdout)) == 4


def test_points_with_parameters_and_csv(jacli: Invoke, tmp_path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("x,y,c\n1,2,3\n0,-0.5,1\n")
    out = jacli("taylor", "c*x**2 + y", "--points", str(path), "--wrt", "x,y", "--order", "2", "--format", "csv")
    assert out.exit_code == 0, out.stderr
    # the point's columns are the variables in their order (c, x, y), then the polynomial
    assert out.stdout == "3.0,1.0,2.0,5 + 6*(x - 1) + (y - 2) + 3*(x - 1)**2\n1.0,0.0,-0.5,-0.5 + (y + 0.5) + x**2\n"


def test_points_of_a_control_flow_program(jacli: Invoke, tmp_path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("x,y\n1,2\n-1,0.5\n")
    program = "def f(x, y):\n    if x > 0:\n        return x**3*y\n    return sin(y)*x\n"
    out = jacli("taylor", program, "--points", str(path), "--order", "2", "--format", "json", "--no-symbolic")
    assert out.exit_code == 0, out.stderr
    assert [line["polynomial"] for line in _json_lines(out.stdout)] == [
        ["2 + 6*(x - 1) + (y - 2) + 6*(x - 1)**2 + 3*(x - 1)*(y - 2)"],
        ["-0.479425538604203 + 0.479425538604203*(x + 1) - 0.8775825618903728*(y - 0.5)"
         " + 0.8775825618903728*(x + 1)*(y - 0.5) + 0.2397127693021015*(y - 0.5)**2"],
    ]  # fmt: skip
