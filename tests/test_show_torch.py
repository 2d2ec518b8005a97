"""``--show-torch``: the printed PyTorch program runs and prints jacli's numbers."""

from __future__ import annotations

import ast
import itertools
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import Invoke, assert_usage_error

from jacli import language
from jacli import torch_program as torch_programs

# (command, expression, --at, --v or None, extra options)
CASES = [
    ("jacobian", "2*x0+x1**2, x0**2+2*x1**3", "1,2", None, ()),
    ("jacobian", "x0**2, x0*x1, x1**2", "2,3", None, ("--mode", "forward")),
    ("jacobian", "A@B", "A=[[1,2],[3,4]], B=[[1,2,3],[4,5,6]]", None, ()),
    ("gradient", "x1**2 + x2**3 + x3**4", "1,2,3", None, ()),
    ("gradient", "sum(detach(x*x)*x)", "x=[0,1,2,3]", None, ()),
    ("gradient", "2*dot(x,x)", "x=[0,1,2,3]", None, ()),
    ("gradient", "torch*f + inputs*sin(pi*dtype)", "1,2,3,0.25", None, ()),  # names the program uses itself
    ("hessian", "x1**2 + x2**3 + x3**4", "1,2,3", None, ()),
    ("hessian", "x*x*[0,1,2,3]", "x=[1,1,1,1]", None, ()),
    ("hessian", "x**2*y, e*y**3", "1,2", None, ()),
    ("vjp", "2*x0+x1**2, x0**2+2*x1**3", "1,2", "1,2", ()),
    ("vjp", "3*a**3 - b**2", "a=[1,2], b=[2,3]", "1,1", ()),
    ("vjp", "A@B", "A=[[1,2],[3,4]], B=[[1,2,3],[4,5,6]]", "ones", ()),
    ("jvp", "c = x*y; d = sin(c); [d, c**2, max(x, y, 0.5)]", "x=1, y=2", "1,-1", ()),
    (
        "jvp",
        "where(0 < x[0] < 1, x[0]**2, log(x[1], 2)), atan2(y, x[1]), abs(x[0] - y)",
        "x=[0.5, 3], y=0.25",
        "1,2,3",
        (),
    ),
    ("hvp", "x**2*y + sigmoid(x)*softplus(y) + min(x, y)**2", "x=1, y=2", "1,2", ()),
    ("hvp", "sum(a**3) + dot(a, a)*b", "a=[1,2], b=3", "ones", ()),
    ("gradient", "x*y*z", "x=1, y=2, z=3", None, ("--wrt", "z,x")),  # y is a parameter
    ("laplacian", "x**2*y + y**3, x*y", "x=1, y=2", None, ()),
    ("laplacian", "sum(a**3) + dot(a, a)*b", "a=[1,2], b=3", None, ()),
    ("divergence", "x*y**2, sin(y*z), z*x", "x=1, y=2, z=3", None, ()),
    ("curl", "x*y**2, sin(y*z), z*x", "x=1, y=2, z=3", None, ()),
    ("curl", "x*y**2, x**2", "x=1, y=2", None, ()),
    # issue 13, part A: .T, methods, axes, templates of functions torch lacks
    ("gradient", "x.T@A@x + logsumexp(x) + x.norm() + norm(x, 3)", "x=[1,2], A=[[1,2],[3,4]]", None, ("--wrt", "x")),
    ("jacobian", "sum(A, 0) + mean(A, axis=-2) + max(A, axis=0) + prod(A.T, 1)", "A=[[1,2],[3,5]]", None, ()),
    ("jacobian", "softmax(A, 0)[0] + log_softmax(A)[1] + logsumexp(A, axis=1)", "A=[[1,2],[3,5]]", None, ()),
    ("hessian", "sec(x) + csc(y) + cot(y) + sech(x) + csch(y) + coth(y) + cbrt(x - 3)", "x=0.5, y=1", None, ()),
    ("hessian", "asinh(x) + acosh(y) + atanh(x/2) + sinc(x) + expm1(x) + log1p(y) + exp2(x)", "x=0.5, y=2", None, ()),
    ("vjp", "[square(x), hypot(x, y), transpose([[x, y]])[1, 0], (x*y).exp()]", "x=0.5, y=2", "1,2,3,4", ()),
]


Case = tuple[str, str, str, str | None, tuple[str, ...]]


def _jacli_result(jacli: Invoke, case: Case) -> list:
    command, expr, at, v, extra = case
    args = [command, expr, "--at", at, *(("--v", v) if v else ()), *extra]
    out = jacli(*args, "--format", "json", "--no-symbolic")
    assert out.exit_code == 0, out.stderr
    return json.loads(out.stdout)["result"]


def _program(jacli: Invoke, case: Case) -> str:
    command, expr, at, v, extra = case
    out = jacli(command, expr, "--at", at, *(("--v", v) if v else ()), *extra, "--show-torch")
    assert out.exit_code == 0, out.stderr
    assert out.stderr == ""
    compile(out.stdout, "<show-torch>", "exec")  # valid Python
    return out.stdout


def _assert_programs_print_jacli_numbers(jacli: Invoke, tmp_path: Path, cases: list[Case]) -> None:
    """Write each case's program, run them all in one subprocess, compare the printed lists with jacli."""
    programs = []
    for index, case in enumerate(cases):
        path = tmp_path / f"program_{index}.py"
        path.write_text(_program(jacli, case))
        programs.append(str(path))
    # one interpreter runs every program, each in a fresh namespace (torch imports once)
    runner = (
        "import contextlib, io, json, runpy, sys\n"
        "outputs = []\n"
        "for path in sys.argv[1:]:\n"
        "    buffer = io.StringIO()\n"
        "    with contextlib.redirect_stdout(buffer):\n"
        "        runpy.run_path(path, run_name='__main__')\n"
        "    outputs.append(buffer.getvalue())\n"
        "print(json.dumps(outputs))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", runner, *programs], check=False, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    outputs = json.loads(done.stdout.splitlines()[-1])
    for case, printed in zip(cases, outputs, strict=True):
        got = ast.literal_eval(printed.strip().splitlines()[-1])
        expected = _jacli_result(jacli, case)
        torch.testing.assert_close(
            torch.tensor(got, dtype=torch.float64).flatten(),
            torch.tensor(expected, dtype=torch.float64).flatten(),
            rtol=1e-12,
            atol=1e-12,
            msg=lambda m, case=case: f"{case}: {m}",
        )


@pytest.mark.slow
def test_programs_run_and_print_jacli_numbers(jacli: Invoke, tmp_path: Path) -> None:
    _assert_programs_print_jacli_numbers(jacli, tmp_path, CASES)


@pytest.mark.slow
def test_a_program_runs_as_a_script(jacli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "vjp.py"
    path.write_text(_program(jacli, ("vjp", "2*x0+x1**2, x0**2+2*x1**3", "1,2", "1,2", ())))
    done = subprocess.run([sys.executable, str(path)], check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[6.0, 52.0]\n"


def test_program_shape(jacli: Invoke) -> None:
    text = _program(jacli, ("vjp", "2*x0+x1**2, x0**2+2*x1**3", "1,2", "1,2", ()))
    assert text.startswith("# jacli vjp '2*x0+x1**2, x0**2+2*x1**3' --at 1,2 --v 1,2\n")
    assert "def f(x0, x1):\n    return torch.stack([2 * x0 + x1 ** 2, x0 ** 2 + 2 * x1 ** 3])" in text
    assert "x0 = torch.tensor(1.0, dtype=dtype, requires_grad=True)" in text
    assert "y.backward(gradient=v.reshape(y.shape))" in text
    assert text.rstrip().splitlines()[-1].endswith("# shape (2,): one entry per input element (x0, x1)")
    assert "import math" not in text


IDIOMS: list[tuple[Case, list[str]]] = [
    (("jacobian", "x0**2, x0*x1, x1**2", "2,3", None, ()), ["torch.func.jacfwd(", "--mode forward"]),
    (("jacobian", "x*y", "2,3", None, ()), ["torch.func.jacrev("]),
    (("gradient", "sum(detach(x*x)*x)", "x=[0,1,2,3]", None, ()), ["torch.sum((x * x).detach() * x)", "y.backward()"]),
    (("hessian", "x**2*y, y**3", "1,2", None, ()), ["create_graph=True"]),
    (("hessian", "x**2*y", "1,2", None, ()), ["torch.autograd.functional.hessian(f, inputs)"]),
    (("hvp", "x**2*y", "1,2", "1,0", ()), ["torch.func.grad(f", "torch.func.jvp(grad_f"]),
    (
        ("jvp", "where(x > 0, sqrt(x), 0)", "1", "1", ()),
        ["torch.where(x > 0, torch.sqrt(x), 0)", "# note: torch.where"],
    ),
    (("gradient", "x*sin(pi*y)", "x=1, y=2", None, ("--wrt", "x")), ["import math", "a parameter: held constant"]),
    (("gradient", "f*y + v", "1,2,3", None, ()), ["def func(f, v, y):", "out = func(*inputs)"]),
]


@pytest.mark.parametrize(("case", "snippets"), IDIOMS)
def test_program_uses_the_idioms(jacli: Invoke, case: Case, snippets: list[str]) -> None:
    text = _program(jacli, case)
    for snippet in snippets:
        assert snippet in text, (snippet, text)


def test_show_torch_usage_errors(jacli: Invoke) -> None:
    assert_usage_error(jacli("gradient", "x*y", "--at", "1,2", "--show-torch", "--format", "json"))
    assert_usage_error(jacli("gradient", "x*y", "--at", "1,2", "--at", "3,4", "--show-torch"))
    assert_usage_error(jacli("gradient", "x, y", "--at", "1,2", "--show-torch"))  # not scalar
    assert_usage_error(jacli("vjp", "x, y", "--at", "1,2", "--v", "1", "--show-torch"))  # wrong length
    assert_usage_error(jacli("hvp", "x +* y", "--at", "1,2", "--v", "1,1", "--show-torch"))


# ---------------------------------------------------------------------------
# Names: a user variable may be called like anything the program uses itself.
# ---------------------------------------------------------------------------

LONG_SUM = " + ".join(f"{k}*s1" for k in range(1, 60))  # a chain long enough to be cut into temporaries s1, s2, …
COLLIDING: list[Case] = [
    ("gradient", "torch*torch_", "2,3", None, ()),
    ("gradient", "torch_*torch*torch__", "2,3,5", None, ()),
    ("gradient", "dtype*dtype_ + sin(dtype)", "2,3", None, ()),
    ("gradient", "print*math + len*range", "2,3,5,7", None, ()),
    ("gradient", "f*func*f_", "2,3,5", None, ()),
    ("gradient", "f*func*f_*f__*y*out*y_", "1,2,3,4,5,6,7", None, ()),
    ("vjp", "v*vec*v_, y*out*y_", "1,2,3,4,5,6", "1,2", ()),
    ("jvp", "tangents*result, _*xs", "1,2,3,4", "1,0,2,1", ()),
    ("hessian", "blocks*sizes*rows*span + jacobian_f*grad_f", "1,2,3,4,5,6", None, ()),
    ("hessian", "inputs*grads, s1*s2", "1,2,3,4", None, ()),
    ("hvp", "t*b*g*i*j*row", "1,2,3,4,5,6", "ones", ()),
    ("jacobian", "torch, torch_*2, torch__**2", "2,3,5", None, ()),
    ("gradient", f"s2 = {LONG_SUM}; s2*s3", "s1=2, s3=3", None, ()),
    ("gradient", "type*match*case*id*object", "1,2,3,4,5", None, ()),
    ("gradient", "math*x + pi*e", "math=2, x=3", None, ("--wrt", "x")),  # math is a parameter
    ("gradient", "print = x*dtype; len = print + torch; len*print", "x=2, dtype=3, torch=5", None, ()),
]
"""Names the program uses itself: globals, builtins, soft keywords, its temporaries, and their ``_`` variants."""

NAME_POOL = [
    *sorted(torch_programs.GENERATED), "_", "print", "len", "range", "type", "match", "case", "id", "object",
    "xs", "t", "b", "g", "i", "j", "row", "s1", "s2", "f", "func", "f_", "f__", "y", "out", "y_", "v", "vec", "v_",
    "torch_", "torch__", "dtype_", "math_", "print_", "inputs_", "x", "x_",
]  # fmt: skip


def _fuzz_cases(count: int, seed: int = 11) -> list[Case]:
    """Random expressions over random names of :data:`NAME_POOL` (seeded: the same cases every run)."""
    rng = random.Random(seed)
    cases: list[Case] = []
    for _ in range(count):
        names = rng.sample(NAME_POOL, rng.randint(2, 6))
        terms = [f"{a}*{b}" for a, b in itertools.pairwise(names)] + [f"sin({names[0]})"]
        command = rng.choice(["gradient", "jacobian", "vjp", "hessian"])
        at = ", ".join(f"{name}={1 + k / 4}" for k, name in enumerate(names))
        if command in ("gradient", "hessian"):
            cases.append((command, " + ".join(terms), at, None, ()))
        else:
            cases.append((command, ", ".join(terms), at, "ones" if command == "vjp" else None, ()))
    return cases


@pytest.mark.parametrize("case", [*COLLIDING, *_fuzz_cases(12)], ids=lambda c: f"{c[0]}:{c[1][:40]}")
def test_colliding_names_give_a_valid_program(jacli: Invoke, case: Case) -> None:
    text = _program(jacli, case)  # compiles: no duplicate argument, no keyword as a name
    tree = ast.parse(text)
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef))
    arguments = [a.arg for a in function.args.args]
    assert len(set(arguments)) == len(arguments)
    assert not set(arguments) & torch_programs.RESERVED


@pytest.mark.slow
def test_colliding_names_programs_run_and_print_jacli_numbers(jacli: Invoke, tmp_path: Path) -> None:
    _assert_programs_print_jacli_numbers(jacli, tmp_path, [*COLLIDING, *_fuzz_cases(12)])


def test_program_names_are_distinct_and_free() -> None:
    rng = random.Random(5)
    for _ in range(200):
        chosen = rng.sample(NAME_POOL, rng.randint(1, 12))
        parsed = language.parse_expression(" + ".join(chosen))
        names = torch_programs._program_names(parsed)
        assert len(set(names.values())) == len(names), names
        assert not set(names.values()) & torch_programs.RESERVED, names
        assert all(new == old or new not in chosen for old, new in names.items()), names


def test_long_sums_are_cut_into_statements(jacli: Invoke) -> None:
    terms = " + ".join(f"x{k}**2" for k in range(60))
    at = ",".join(["1"] * 60)
    text = _program(jacli, ("gradient", terms, at, None, ()))
    assert "    s1 = x0 ** 2 + x1 ** 2 + " in text and "    s2 = s1 + x25 ** 2 + " in text
    assert "    return s2 + x50 ** 2 + " in text
    short = _program(jacli, ("gradient", "x0**2 + x1**2", "1,2", None, ()))
    assert "s1" not in short


@pytest.mark.slow
def test_thousand_variable_rosenbrock_program_runs(jacli: Invoke, tmp_path: Path) -> None:
    """The README's scale example (bench/scale.py's expression): printed flat, it runs and agrees."""
    expr = "+".join(f"100*(x{i + 1}-x{i}**2)**2+(1-x{i})**2" for i in range(999))
    at = ",".join(str(1 + (k % 7) / 10) for k in range(1000))
    _assert_programs_print_jacli_numbers(jacli, tmp_path, [("gradient", expr, at, None, ("--dtype", "float64"))])


# tensor language, part B (issue 13): linear algebra, shapes and constructors
TENSOR_B_CASES = [
    ("gradient", "det(A) + trace(A@A)", "A=[[3,1,0],[1,4,1],[0,2,5]]", None, ()),
    ("jacobian", "inv(A)", "A=[[3,1],[1,4]]", None, ()),
    ("jacobian", "solve(A, b)", "A=[[3,1],[1,4]], b=[1,2]", None, ()),
    ("jacobian", "solve(A, B)", "A=[[3,1],[1,4]], B=[[1,2],[3,4]]", None, ("--mode", "forward")),
    ("hessian", "sum(outer(x, diag(A))) + sum(diag(x)@A)", "x=[1,2], A=[[3,1],[1,4]]", None, ()),
    ("vjp", "reshape(x, 2, -1)", "x=[1,2,3,4]", "ones", ()),
    ("gradient", "sum(concat(x, ones(2), [x[0]])*arange(5))", "x=[1,2]", None, ()),
    ("jvp", "stack(x, 2*x)*linspace(0, 1, 2) + eye(2) + zeros(2, 2)", "x=[1,2]", "1,-1", ()),
]


@pytest.mark.slow
def test_tensor_b_programs_run_and_print_jacli_numbers(jacli: Invoke, tmp_path: Path) -> None:
    _assert_programs_print_jacli_numbers(jacli, tmp_path, TENSOR_B_CASES)
