"""The SPEC's seed examples, whole output compared in every format (tests/golden/).

Regenerate after an intended change with ``pytest tests/test_golden.py --update-goldens``
and review the diff: the numbers themselves are asserted in test_seed.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Invoke

GOLDEN = Path(__file__).parent / "golden"
AB = "A=[[1,2],[3,4]], B=[[1,2,3],[4,5,6]]"
SEED = "2*x0+x1**2, x0**2+2*x1**3"

CASES = {
    "jacobian_seed": ["jacobian", SEED, "--at", "1,2"],
    "vjp_seed": ["vjp", SEED, "--at", "1,2", "--v", "1,2"],
    "jacobian_three_outputs": ["jacobian", "x0**2, x0*x1, x1**2", "--at", "2,3"],
    "vjp_three_outputs": ["vjp", "x0**2, x0*x1, x1**2", "--at", "2,3", "--v", "1,2,3"],
    "gradient_powers": ["gradient", "x1**2 + x2**3 + x3**4", "--at", "1,2,3"],
    "hessian_powers": ["hessian", "x1**2 + x2**3 + x3**4", "--at", "1,2,3"],
    "gradient_dot": ["gradient", "2*dot(x,x)", "--at", "x=[0,1,2,3]"],
    "vjp_two_tensors": ["vjp", "3*a**3 - b**2", "--at", "a=[1,2], b=[2,3]", "--v", "1,1"],
    "gradient_detach": ["gradient", "sum(detach(x*x)*x)", "--at", "x=[0,1,2,3]"],
    "hessian_elementwise": ["hessian", "x*x*[0,1,2,3]", "--at", "x=[1,1,1,1]"],
    "vjp_matmul": ["vjp", "A@B", "--at", AB, "--v", "ones"],
    "jacobian_matmul": ["jacobian", "A@B", "--at", AB],
    "gradient_bindings": ["gradient", "c = a+b; d = b+1; c*d", "--at", "a=2, b=1"],
    "jvp_seed": ["jvp", SEED, "--at", "1,2", "--v", "1,0"],
    "hessian_vector_valued": ["hessian", "x0**2*x1, x0*x1**3", "--at", "1,2"],
    "gradient_parameter": ["gradient", "a*x**2 + y", "--wrt", "x,y", "--at", "x=1, y=2, a=3"],
    "jacobian_exact": ["jacobian", "sin(x)*exp(y), x^2", "--at", "x=pi/4, y=0", "--exact"],
    "laplacian_vector_valued": ["laplacian", "x**2*y + y**3, x*y", "--at", "x=1, y=2"],
    # issue 14: derivatives of any order, Taylor polynomials
    "derivative_third": ["derivative", "x**3*y + x*y**2", "--order", "3", "--at", "x=1, y=2"],
    "taylor_second": ["taylor", "exp(x)*y, x**2*y", "--at", "x=0, y=1", "--order", "2"],
    "divergence_field": ["divergence", "x*y, y*z, z*x", "--at", "x=1, y=2, z=3"],
    "curl_field": ["curl", "x*y, y*z, z*x", "--at", "x=1, y=2, z=3"],
    "curl_plane": ["curl", "x*y**2, x**2", "--at", "x=1, y=2"],
    "hessian_saddle": ["hessian", "x**2 - y**2 + x*y", "--at", "x=0, y=0"],
}
FORMATS = ["table", "json", "csv", "latex"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(jacli: Invoke, request: pytest.FixtureRequest, name: str, fmt: str) -> None:
    out = jacli(*CASES[name], "--format", fmt, env={"COLUMNS": "100", "NO_COLOR": "1"})
    assert out.exit_code == 0 and out.stderr == "", out.stderr
    path = GOLDEN / f"{name}.{fmt}"
    if request.config.getoption("--update-goldens"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(out.stdout)
    assert out.stdout == path.read_text()
