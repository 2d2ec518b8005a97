# ruff: noqa: N803 - the variables are named as the Matrix Cookbook names them (A, X, M)
"""The matrix form on the command line (issue 15): Matrix Cookbook identities in table, JSON and LaTeX.

Each identity runs three times: with named dimensions and no point (only the matrix form
exists), with numeric shapes and no point (both forms, the matrix form checked at random
values), and at a point. At the point the numbers are verified three ways: jacli's autodiff
result, central finite differences of f written in NumPy here, and the expected matrix form
written in NumPy here (so the printed text means what it says).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from conftest import Invoke

from jacli.evaluation import evaluate_at

ENV = {"COLUMNS": "200", "NO_COLOR": "1", "JACLI_SERVER": "off"}

POINT: dict[str, Any] = {
    "x": [1.0, 2.0], "y": [0.5, -1.0], "a": [2.0, 1.0], "b": [1.0, -1.0], "c": [0.5, 2.0],
    "A": [[3.0, 1.0], [2.0, 4.0]], "X": [[2.0, 1.0], [1.0, 3.0]], "S": [[2.0, 1.0], [1.0, 3.0]],
    "M": [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], "z": [0.5, 1.0, 2.0], "t": [1.0, -1.0, 0.5],
    "B": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], "Y": [[1.0, 2.0, 0.5], [0.5, 1.0, 1.5]],
    "P": [[3.0, 1.0, 0.0], [2.0, 4.0, 1.0], [0.0, 1.0, 5.0]],
}  # fmt: skip

NAMED = {
    "x": "n", "y": "n", "a": "n", "b": "n", "c": "n", "A": "n x n", "X": "n x n", "S": "n x n",
    "M": "m x n", "z": "m", "t": "m", "B": "n x k", "Y": "n x m", "P": "m x m",
}  # fmt: skip

inv, det, norm, tr = np.linalg.inv, np.linalg.det, np.linalg.norm, np.trace


def softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max())
    return e / e.sum()


@dataclass(frozen=True)
class Identity:
    quantity: str
    expr: str
    wrt: str
    text: str | dict[str, str]
    unicode: str
    latex: str | dict[str, str]
    f: Callable[..., Any]
    """f in NumPy, over the variables in alphabetical order (1-D vectors as 1-D arrays)."""
    form: Callable[..., Any]
    """The expected matrix form in NumPy (a tuple for several inputs), same arguments."""
    v: str | None = None


def _sym(a: np.ndarray) -> np.ndarray:
    return a + a.T


IDENTITIES = [
    Identity("gradient", "x.T@A@x", "x", "(A + A.T)@x", "(A + Aᵀ)·x", r"\left(A + A^\top\right) x",
             lambda A, x: x @ A @ x, lambda A, x: _sym(A) @ x),
    Identity("hessian", "x.T@A@x", "x", "A + A.T", "A + Aᵀ", r"A + A^\top",
             lambda A, x: x @ A @ x, lambda A, x: _sym(A)),
    Identity("gradient", "x.T@A@x", "A", "outer(x, x)", "x·xᵀ", r"x x^\top",
             lambda A, x: x @ A @ x, lambda A, x: np.outer(x, x)),
    Identity("hvp", "x.T@A@x", "x", "(A + A.T)@v", "(A + Aᵀ)·v", r"\left(A + A^\top\right) v",
             lambda A, x: x @ A @ x, lambda A, x: _sym(A) @ np.array([1.0, 2.0]), v="1,2"),
    Identity("jacobian", "A@x + b", "x", "A", "A", "A", lambda A, b, x: A @ x + b, lambda A, b, x: A),
    Identity("jvp", "A@x", "x", "A@v", "A·v", "A v", lambda A, x: A @ x,
             lambda A, x: A @ np.array([1.0, 2.0]), v="1,2"),
    Identity("gradient", "2*dot(x,x)", "x", "4*x", "4*x", "4 x", lambda x: 2 * x @ x, lambda x: 4 * x),
    Identity("gradient", "dot(a, x)", "x", "a", "a", "a", lambda a, x: a @ x, lambda a, x: a),
    Identity("gradient", "sum((M@x - z)**2)", "x", "2*M.T@(M@x - z)", "2*Mᵀ·(M·x - z)",
             r"2 M^\top \left(M x - z\right)",
             lambda M, x, z: np.sum((M @ x - z) ** 2), lambda M, x, z: 2 * M.T @ (M @ x - z)),
    Identity("hessian", "sum((M@x - z)**2)", "x", "2*M.T@M", "2*Mᵀ·M", r"2 M^\top M",
             lambda M, x, z: np.sum((M @ x - z) ** 2), lambda M, x, z: 2 * M.T @ M),
    Identity("gradient", "sum((M@x - z)**2)", "M", "2*outer(M@x - z, x)", "2*(M·x - z)·xᵀ",
             r"2 \left(M x - z\right) x^\top",
             lambda M, x, z: np.sum((M @ x - z) ** 2), lambda M, x, z: 2 * np.outer(M @ x - z, x)),
    Identity("gradient", "sum((M@x + t - z)**2)", "M,t", {"M": "2*outer(M@x + t - z, x)", "t": "2*(M@x + t - z)"},
             "M: 2*(M·x + t - z)·xᵀ; t: 2*(M·x + t - z)",
             {"M": r"2 \left(M x + t - z\right) x^\top", "t": r"2 \left(M x + t - z\right)"},
             lambda M, t, x, z: np.sum((M @ x + t - z) ** 2),
             lambda M, t, x, z: (2 * np.outer(M @ x + t - z, x), 2 * (M @ x + t - z))),
    Identity("vjp", "A@B", "A,B", {"A": "ones@B.T", "B": "A.T@ones"}, "A: 1·Bᵀ; B: Aᵀ·1",
             {"A": r"\mathbf{1} B^\top", "B": r"A^\top \mathbf{1}"},
             lambda A, B: A @ B, lambda A, B: (np.ones((2, 3)) @ B.T, A.T @ np.ones((2, 3))), v="ones"),
    Identity("gradient", "trace(A@X)", "X", "A.T", "Aᵀ", r"A^\top", lambda A, X: tr(A @ X), lambda A, X: A.T),
    Identity("gradient", "trace(Y.T@Y)", "Y", "2*Y", "2*Y", "2 Y", lambda Y: tr(Y.T @ Y), lambda Y: 2 * Y),
    Identity("gradient", "trace(Y@P@Y.T)", "Y", "Y@(P + P.T)", "Y·(P + Pᵀ)", r"Y \left(P + P^\top\right)",
             lambda P, Y: tr(Y @ P @ Y.T), lambda P, Y: Y @ _sym(P)),
    Identity("gradient", "trace(X.T@A)", "X", "A", "A", "A", lambda A, X: tr(X.T @ A), lambda A, X: A),
    Identity("gradient", "log(det(X))", "X", "inv(X).T", "X⁻ᵀ", r"X^{-\top}",
             lambda X: np.log(det(X)), lambda X: inv(X).T),
    Identity("gradient", "det(X)", "X", "det(X)*inv(X).T", "det(X)*X⁻ᵀ", r"\det\left(X\right) X^{-\top}",
             det, lambda X: det(X) * inv(X).T),
    Identity("gradient", "sum(inv(X))", "X", "-inv(X).T@ones@inv(X).T", "-X⁻ᵀ·1·X⁻ᵀ",
             r"-X^{-\top} \mathbf{1} X^{-\top}",
             lambda X: np.sum(inv(X)), lambda X: -inv(X).T @ np.ones((2, 2)) @ inv(X).T),
    Identity("gradient", "a.T@inv(X)@b", "X", "-inv(X).T@outer(a, b)@inv(X).T", "-X⁻ᵀ·a·bᵀ·X⁻ᵀ",
             r"-X^{-\top} a b^\top X^{-\top}",
             lambda X, a, b: a @ inv(X) @ b, lambda X, a, b: -inv(X).T @ np.outer(a, b) @ inv(X).T),
    Identity("gradient", "trace(inv(X)@A)", "X", "-inv(X).T@A.T@inv(X).T", "-X⁻ᵀ·Aᵀ·X⁻ᵀ",
             r"-X^{-\top} A^\top X^{-\top}",
             lambda A, X: tr(inv(X) @ A), lambda A, X: -inv(X).T @ A.T @ inv(X).T),
    Identity("gradient", "norm(x)", "x", "x/norm(x)", "x/norm(x)", r"\frac{x}{\lVert x \rVert}",
             norm, lambda x: x / norm(x)),
    Identity("gradient", "norm(x - a)", "x", "(x - a)/norm(x - a)", "(x - a)/norm(x - a)",
             r"\frac{x - a}{\lVert x - a \rVert}", lambda a, x: norm(x - a), lambda a, x: (x - a) / norm(x - a)),
    Identity("gradient", "0 - dot(y, log(softmax(x)))", "x", "sum(y)*softmax(x) - y", "sum(y)*softmax(x) - y",
             r"\operatorname{sum}\left(y\right) \operatorname{softmax}\left(x\right) - y",
             lambda x, y: -y @ np.log(softmax(x)), lambda x, y: y.sum() * softmax(x) - y),
    Identity("jacobian", "softmax(x)", "x", "diag(softmax(x)) - outer(softmax(x), softmax(x))",
             "diag(softmax(x)) - softmax(x)·softmax(x)ᵀ",
             r"\operatorname{diag}\left(\operatorname{softmax}\left(x\right)\right) - "
             r"\operatorname{softmax}\left(x\right) \operatorname{softmax}\left(x\right)^\top",
             softmax, lambda x: np.diag(softmax(x)) - np.outer(softmax(x), softmax(x))),
    Identity("gradient", "logsumexp(x)", "x", "softmax(x)", "softmax(x)", r"\operatorname{softmax}\left(x\right)",
             lambda x: np.log(np.sum(np.exp(x))), softmax),
    Identity("gradient", "sum(outer(a, c)*S)", "S", "outer(a, c)", "a·cᵀ", r"a c^\top",
             lambda S, a, c: np.sum(np.outer(a, c) * S), lambda S, a, c: np.outer(a, c)),
    Identity("gradient", "dot(c, solve(A, b))", "b", "inv(A).T@c", "A⁻ᵀ·c", r"A^{-\top} c",
             lambda A, b, c: c @ np.linalg.solve(A, b), lambda A, b, c: inv(A).T @ c),
    Identity("hessian", "sum(exp(x))", "x", "diag(exp(x))", "diag(exp(x))",
             r"\operatorname{diag}\left(\exp\left(x\right)\right)",
             lambda x: np.sum(np.exp(x)), lambda x: np.diag(np.exp(x))),
    Identity("jacobian", "sin(A@x)", "x", "diag(cos(A@x))@A", "diag(cos(A·x))·A",
             r"\operatorname{diag}\left(\cos\left(A x\right)\right) A",
             lambda A, x: np.sin(A @ x), lambda A, x: np.diag(np.cos(A @ x)) @ A),
    Identity("gradient", "sum(tanh(M@x))", "x", "M.T@(1 - tanh(M@x)**2)", "Mᵀ·(1 - tanh(M·x)²)",
             r"M^\top \left(1 - \tanh\left(M x\right)^{2}\right)",
             lambda M, x: np.sum(np.tanh(M @ x)), lambda M, x: M.T @ (1 - np.tanh(M @ x) ** 2)),
    Identity("gradient", "log(det(M.T@M))", "M", "2*M@inv(M.T@M)", "2*M·(Mᵀ·M)⁻¹", r"2 M \left(M^\top M\right)^{-1}",
             lambda M: np.log(det(M.T @ M)), lambda M: 2 * M @ inv(M.T @ M)),
    Identity("gradient", "trace(X@X)", "X", "2*X.T", "2*Xᵀ", r"2 X^\top", lambda X: tr(X @ X), lambda X: 2 * X.T),
    Identity("gradient", "trace(inv(X))", "X", "-inv(X).T@inv(X).T", "-X⁻ᵀ·X⁻ᵀ", r"-X^{-\top} X^{-\top}",
             lambda X: tr(inv(X)), lambda X: -inv(X).T @ inv(X).T),
    Identity("gradient", "x.T@inv(A)@x", "x", "(inv(A) + inv(A).T)@x", "(A⁻¹ + A⁻ᵀ)·x",
             r"\left(A^{-1} + A^{-\top}\right) x",
             lambda A, x: x @ inv(A) @ x, lambda A, x: (inv(A) + inv(A).T) @ x),
    Identity("gradient", "a.T@Y@t", "Y", "outer(a, t)", "a·tᵀ", r"a t^\top",
             lambda Y, a, t: a @ Y @ t, lambda Y, a, t: np.outer(a, t)),
    Identity("gradient", "norm(Y)", "Y", "Y/norm(Y)", "Y/norm(Y)", r"\frac{Y}{\lVert Y \rVert}",
             norm, lambda Y: Y / norm(Y)),
    Identity("gradient", "trace(Y.T@A@Y)", "Y", "(A + A.T)@Y", "(A + Aᵀ)·Y", r"\left(A + A^\top\right) Y",
             lambda A, Y: tr(Y.T @ A @ Y), lambda A, Y: _sym(A) @ Y),
]  # fmt: skip


def _names(identity: Identity) -> list[str]:
    return sorted({n for n in POINT if _uses(identity.expr, n)})


def _uses(expr: str, name: str) -> bool:
    return re.search(rf"\b{name}\b", expr) is not None


def _run(jacli: Invoke, identity: Identity, *args: str, v: str | None = None) -> str:
    v = v or identity.v
    extra = ["--v", v] if v else []
    out = jacli(identity.quantity, identity.expr, "--wrt", identity.wrt, *extra, *args, env=ENV)
    assert out.exit_code == 0 and out.stderr == "", out
    return out.stdout


def _numeric_jacobian(fun: Callable[[dict], Any], values: dict[str, np.ndarray], name: str, h: float) -> np.ndarray:
    columns = []
    for index in np.ndindex(values[name].shape):
        plus, minus = values[name].copy(), values[name].copy()
        plus[index] += h
        minus[index] -= h
        up, down = fun({**values, name: plus}), fun({**values, name: minus})
        columns.append(np.ravel((np.asarray(up) - np.asarray(down)) / (2 * h)))
    return np.array(columns).T  # outputs × inputs


def _differences(identity: Identity, values: dict[str, np.ndarray]) -> np.ndarray:
    """The quantity by central finite differences of the NumPy f, flattened as jacli's ``result``."""
    names = sorted(values)

    def f(vals: dict) -> Any:
        return identity.f(*(vals[n] for n in names))

    wrt = identity.wrt.split(",")
    weights = None if identity.v in (None, "ones") else np.array([float(w) for w in identity.v.split(",")])
    q = identity.quantity
    if q in ("gradient", "vjp"):
        return np.concatenate([np.ravel(_numeric_jacobian(f, values, n, 1e-6).sum(axis=0)) for n in wrt])
    (name,) = wrt
    if q == "jacobian":
        return np.ravel(_numeric_jacobian(f, values, name, 1e-6))
    if q == "jvp":
        return _numeric_jacobian(f, values, name, 1e-6) @ weights

    def gradient(vals: dict) -> np.ndarray:
        return _numeric_jacobian(f, vals, name, 1e-5).sum(axis=0)

    hessian = _numeric_jacobian(gradient, values, name, 1e-4)
    return np.ravel(hessian @ weights if q == "hvp" else hessian)


def _shown(identity: Identity) -> list[str]:
    latex = identity.latex
    if isinstance(latex, str):
        return [latex]
    return list(latex.values())


def _check_latex(stdout: str, identity: Identity) -> None:
    lines = stdout.splitlines()
    tails = [line.split(" = ", 1)[1] for line in lines[-len(_shown(identity)) :]]
    assert tails == _shown(identity)


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda i: f"{i.quantity}-{i.expr}-{i.wrt}")
def test_identity_with_named_dimensions(jacli: Invoke, identity: Identity) -> None:
    """Named dimensions, no point: only the matrix form, in all three formats."""
    shape = ", ".join(f"{n}={NAMED[n]}" for n in _names(identity))
    v = "v" if identity.v not in (None, "ones") else None  # named dimensions: the weights by name
    obj = json.loads(_run(jacli, identity, "--shape", shape, "--format", "json", v=v))
    assert obj["symbolic_matrix"] == identity.text
    assert "symbolic" not in obj and "result" not in obj and "point" not in obj
    table = _run(jacli, identity, "--shape", shape, v=v).splitlines()
    assert table[-1] == "matrix form  " + identity.unicode
    assert "symbolic" not in table[:-1]
    _check_latex(_run(jacli, identity, "--shape", shape, "--format", "latex", v=v), identity)


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda i: f"{i.quantity}-{i.expr}-{i.wrt}")
def test_identity_at_a_point_verified_three_ways(jacli: Invoke, identity: Identity) -> None:
    names = _names(identity)
    at = ", ".join(f"{n}={json.dumps(POINT[n])}" for n in names)
    obj = json.loads(_run(jacli, identity, "--at", at, "--format", "json"))
    assert obj["symbolic_matrix"] == identity.text
    values = {n: np.array(POINT[n]) for n in names}
    form = identity.form(*(values[n] for n in names))
    expected = np.concatenate([np.ravel(p) for p in (form if isinstance(form, tuple) else (form,))])
    got = np.ravel(np.array(obj["result"], dtype=float))
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)  # the form's meaning = autodiff
    np.testing.assert_allclose(got, _differences(identity, values), rtol=1e-5, atol=1e-5)  # = finite differences
    assert _run(jacli, identity, "--at", at).splitlines()[-1] == "matrix form  " + identity.unicode
    _check_latex(_run(jacli, identity, "--at", at, "--format", "latex"), identity)


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda i: f"{i.quantity}-{i.expr}-{i.wrt}")
def test_identity_with_numeric_shapes_gives_both_forms(jacli: Invoke, identity: Identity) -> None:
    shape = ", ".join(f"{n}={'x'.join(map(str, np.shape(POINT[n])))}" for n in _names(identity))
    obj = json.loads(_run(jacli, identity, "--shape", shape, "--format", "json"))
    assert obj["symbolic_matrix"] == identity.text and obj["symbolic"]


ONES = {"A@B": "ones(2, 3)", "sum(inv(X))": "ones(2, 2)"}
"""``ones`` takes its size from where it stands; evaluated on its own it is written with it."""


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda i: f"{i.quantity}-{i.expr}-{i.wrt}")
def test_identity_text_reads_back_in_the_language(identity: Identity) -> None:
    """The printed text is an expression of the language (1-D vectors as 1-D arrays, ``outer`` for u·wᵀ):
    evaluated by jacli at the point, it is the form in NumPy (so it also equals autodiff, as above)."""
    names = _names(identity)
    values = {n: np.array(POINT[n]) for n in names}
    form = identity.form(*(values[n] for n in names))
    texts = list(identity.text.values()) if isinstance(identity.text, dict) else [identity.text]
    for text, want in zip(texts, form if isinstance(form, tuple) else (form,), strict=True):
        source = re.sub(r"\bones\b", ONES.get(identity.expr, "ones"), text)
        given = {n: POINT[n] for n in names if _uses(source, n)}
        if identity.v not in (None, "ones"):
            given["v"] = [float(w) for w in identity.v.split(",")]
        at = ", ".join(f"{n}={json.dumps(value)}" for n, value in given.items())
        value = evaluate_at("jacobian", source, at, symbolic_form=False).value
        np.testing.assert_allclose(np.array(value), np.ravel(want), rtol=1e-10, atol=1e-12)


def test_at_least_25_identities() -> None:
    assert len({(i.quantity, i.expr, i.wrt) for i in IDENTITIES}) >= 25


# ---------------------------------------------------------------------------
# The SPEC's examples, as the SPEC writes them, with and without a point, in every format.
# ---------------------------------------------------------------------------

SPEC = [
    (["gradient", "x.T@A@x", "--wrt", "x"], "x=n, A=n x n", "x=[1,2], A=[[1,2],[3,4]]",
     "(A + A.T)@x", "(A + Aᵀ)·x", r"\nabla f = \left(A + A^\top\right) x"),
    (["jacobian", "A@x + b", "--wrt", "x"], "x=n, A=n x n, b=n", "x=[1,2], A=[[1,2],[3,4]], b=[1,1]",
     "A", "A", "J = A"),
    (["gradient", "2*dot(x,x)"], "x=n", "x=[0,1,2,3]", "4*x", "4*x", r"\nabla f = 4 x"),
    (["gradient", "sum((A@x - y)**2)", "--wrt", "x"], "x=n, A=m x n, y=m", "x=[1,2], A=[[1,2],[3,4]], y=[0,1]",
     "2*A.T@(A@x - y)", "2*Aᵀ·(A·x - y)", r"\nabla f = 2 A^\top \left(A x - y\right)"),
    (["vjp", "A@B", "--v", "ones"], "A=m x n, B=n x k", "A=[[1,2],[3,4]], B=[[1,2,3],[4,5,6]]",
     {"A": "ones@B.T", "B": "A.T@ones"}, "A: 1·Bᵀ; B: Aᵀ·1",
     "v^T J_{A} = \\mathbf{1} B^\\top\nv^T J_{B} = A^\\top \\mathbf{1}"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "named", "at", "text", "unicode", "latex"), SPEC, ids=lambda a: str(a)[:30])
@pytest.mark.parametrize("where", ["named", "numeric", "point"])
def test_spec_examples(jacli: Invoke, argv, named, at, text, unicode, latex, where) -> None:
    numeric = ", ".join(f"{k}={'x'.join(map(str, np.shape(json.loads(v))))}" for k, v in _split(at).items())
    given = {"named": ["--shape", named], "numeric": ["--shape", numeric], "point": ["--at", at]}[where]

    def run(*fmt: str) -> str:
        out = jacli(*argv, *given, *fmt, env=ENV)
        assert out.exit_code == 0 and out.stderr == "", out
        return out.stdout

    obj = json.loads(run("--format", "json"))
    assert obj["symbolic_matrix"] == text
    assert ("symbolic" in obj) == (where != "named") and ("result" in obj) == (where == "point")
    assert run().splitlines()[-1] == "matrix form  " + unicode
    assert run("--format", "latex").rstrip("\n").endswith(latex)


def _split(at: str) -> dict[str, str]:
    """``x=[1,2], A=[[1,2],[3,4]]`` -> name -> value text."""
    parts = re.split(r",\s*(?=[A-Za-z_]\w*=)", at)
    return dict(p.split("=", 1) for p in parts)


# ---------------------------------------------------------------------------
# A column x (n×1) is a matrix: its .T is a row, x.T@A@x is 1×1; a 1-D vector's .T is itself.
# ---------------------------------------------------------------------------

COLUMN_AT = "x=[[1],[2]], A=[[1,2],[3,4]]"


def test_a_column_quadratic_form_is_one_by_one(jacli: Invoke) -> None:
    out = jacli("gradient", "x.T@A@x", "--wrt", "x", "--at", COLUMN_AT, "--format", "json", env=ENV)
    obj = json.loads(out.stdout)
    assert obj["outputs"] == ["f[0,0]"] and obj["value"] == [27.0]
    assert obj["symbolic_matrix"] == "(A + A.T)@x"
    x, a = np.array([1.0, 2.0]), np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(obj["result"], (a + a.T) @ x)
    out = jacli("jacobian", "x.T@A@x", "--wrt", "x", "--at", COLUMN_AT, "--format", "json", env=ENV)
    obj = json.loads(out.stdout)
    assert obj["symbolic_matrix"] == "x.T@(A + A.T)"
    np.testing.assert_allclose(obj["result"], [(x @ (a + a.T)).tolist()])
    out = jacli("gradient", "x.T@A@x", "--wrt", "x", "--shape", "x=n x 1, A=n x n", "--format", "json", env=ENV)
    assert json.loads(out.stdout)["symbolic_matrix"] == "(A + A.T)@x"


def test_a_column_times_its_transpose_is_the_outer_product(jacli: Invoke) -> None:
    out = jacli("gradient", "sum(x@x.T)", "--wrt", "x", "--at", "x=[[1],[2]]", "--format", "json", env=ENV)
    obj = json.loads(out.stdout)
    assert obj["value"] == [9.0] and obj["result"] == [6.0, 6.0]  # (x0 + x1)**2
    assert obj["symbolic_matrix"] == "2*ones@x"
    out = jacli("gradient", "sum(x@x.T)", "--wrt", "x", "--at", "x=[1,2]", "--format", "json", env=ENV)
    obj = json.loads(out.stdout)
    assert obj["value"] == [5.0] and obj["result"] == [2.0, 4.0]  # a 1-D x: x@x.T is x@x
    assert obj["symbolic_matrix"] == "2*x"


def test_columns_keep_the_cookbook_outer_product(jacli: Invoke) -> None:
    """n×1 columns: ``u@w.T`` is their outer product in the language too; 1-D vectors: ``outer(u, w)``."""
    for at, text in (("a=[[1],[2]], b=[[3],[4]]", "a@b.T"), ("a=[1,2], b=[3,4]", "outer(a, b)")):
        out = jacli("gradient", "a.T@A@b", "--wrt", "A", "--at", at + ", A=[[1,2],[3,4]]", "--format", "json", env=ENV)
        obj = json.loads(out.stdout)
        assert (obj["symbolic_matrix"], obj["result"]) == (text, [3.0, 4.0, 6.0, 8.0])
    out = jacli("gradient", "sum((A@x - y)**2)", "--wrt", "A", "--shape", "x=n x 1, y=m x 1, A=m x n", env=ENV)
    assert out.stdout.splitlines()[-1] == "matrix form  2*(A·x - y)·xᵀ"
    out = jacli("gradient", "sum((A@x - y)**2)", "--wrt", "A", "--shape", "x=n x 1, y=m x 1, A=m x n",
                "--format", "json", env=ENV)  # fmt: skip
    assert json.loads(out.stdout)["symbolic_matrix"] == "2*(A@x - y)@x.T"
    out = jacli("vjp", "A@x", "--v", "ones", "--wrt", "x", "--shape", "x=n x 1, A=n x n", "--format", "json", env=ENV)
    assert json.loads(out.stdout)["symbolic_matrix"] == {"x": "A.T@ones"}


def test_a_vector_against_a_column_has_no_matrix_form(jacli: Invoke) -> None:
    """``(n,) + (n, 1)`` broadcasts to n×n: no matrix notation for it, and no note (nothing was left out)."""
    out = jacli("gradient", "sum(x + c)", "--wrt", "x", "--at", "x=[1,2], c=[[1],[2]]", "--format", "json", env=ENV)
    obj = json.loads(out.stdout)
    assert out.exit_code == 0 and "symbolic_matrix" not in obj and obj["result"] == [2.0, 2.0]
    assert out.stderr == ""


# ---------------------------------------------------------------------------
# --v beside a matrix form without a point: ones, or one name (the form uses it).
# ---------------------------------------------------------------------------


def test_a_named_v_names_the_weights_of_the_form(jacli: Invoke) -> None:
    out = jacli("vjp", "A@B", "--v", "p", "--shape", "A=m x n, B=n x k", "--format", "json", env=ENV)
    assert json.loads(out.stdout) == {
        "command": "vjp", "inputs": ["A", "B"], "outputs": ["f"], "v": ["p"],
        "symbolic_matrix": {"A": "p@B.T", "B": "A.T@p"},
    }  # fmt: skip
    out = jacli("hvp", "x.T@A@x", "--wrt", "x", "--v", "w", "--shape", "A=n x n, x=n", "--format", "latex", env=ENV)
    assert out.stdout == "% jacli hvp: x.T@A@x\nH v = \\left(A + A^\\top\\right) w\n"
    out = jacli("vjp", "3*a**3 - b**2", "--v", "p", "--shape", "a=2, b=2", "--format", "json", env=ENV)
    obj = json.loads(out.stdout)
    assert obj["v"] == ["p0", "p1"] and obj["symbolic_matrix"] == {"a": "9*p*a**2", "b": "-2*p*b"}


NAMED_ERRORS = [
    (["vjp", "A@B", "--v", "1,2", "--shape", "A=m x n, B=n x k"],
     "--v 1,2: with named dimensions there are no entries to weight one by one; give --v ones or one name (--v v)"),
    (["vjp", "A@B", "--v", "p0,p1", "--shape", "A=m x n, B=n x k"],
     "--v p0,p1: with named dimensions there are no entries to weight one by one; give --v ones or one name (--v v)"),
    (["vjp", "A@B", "--v", "A", "--shape", "A=m x n, B=n x k"],
     "--v names 'A', a variable of the expression; give v another name"),
    (["jacobian", "sum(x)*A", "--wrt", "A", "--shape", "A=n x n, x=n"],
     "no matrix form was found for this Jacobian, and named dimensions (A=n x n, x=n) give only the matrix form; "
     'give numeric shapes (--shape "x=3, A=3x3") for the elementwise result'),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "message"), NAMED_ERRORS)
def test_named_dimensions_errors(jacli: Invoke, argv: list[str], message: str) -> None:
    for fmt in ("table", "json", "latex"):
        out = jacli(*argv, "--format", fmt, env=ENV)
        assert (out.exit_code, out.stdout, out.stderr) == (2, "", f"jacli: error: {message}\n")


def test_python_api_and_notebook_display_with_named_dimensions() -> None:
    from jacli import api

    result = api.gradient("x.T@A@x", wrt="x", shape={"x": ("n",), "A": ("n", "n")})
    assert (result.symbolic_matrix.text, str(result.symbolic_matrix.sympy())) == ("(A + A.T)@x", "(A + A.T)*x")
    assert result._repr_latex_() == r"$$\nabla f = \left(A + A^\top\right) x$$"
    assert "matrix form  (A + Aᵀ)·x" in result._repr_html_()
    result = api.vjp("A@B", v="ones", shape="A=m x n, B=n x k")
    assert result._repr_latex_() == (
        r"$$\begin{gathered} v^T J_{A} = \mathbf{1} B^\top \\ v^T J_{B} = A^\top \mathbf{1} \end{gathered}$$"
    )
