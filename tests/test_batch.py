"""Vectorised evaluation at many points: equal to one point at a time, streamed in order, bounded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import Invoke, assert_usage_error
from hypothesis import given, settings
from hypothesis import strategies as st

from jacli import api, batch
from jacli.points import PointsReader
from jacli.render.csv import render_csv_points
from jacli.render.points import TABLE_MAX_POINTS

SEED = "2*x0+x1**2, x0**2+2*x1**3"

# (expression, variables) of two scalar variables, smooth on [-2, 2]^2 (where keeps its branch rule)
EXPRESSIONS = [
    ("2*x0+x1**2, x0**2+2*x1**3", "vector"),
    ("sin(x0)*exp(x1/3) + x0*x1**3", "scalar"),
    ("tanh(x0 - x1), sigmoid(x0*x1), atan2(x1, x0 + 5)", "vector"),
    ("c = x0 + x1; d = x1 + 1; c*d + log(1 + c**2)", "scalar"),
    ("where(x0 > 0, x0**3, -x0) + softplus(x1) * cos(x0)", "scalar"),
    ("x0**2 / (1 + x1**2) + sqrt(4 + x0)", "scalar"),
    ("x0*sin(x1), 2.5, x1", "vector"),  # a constant output: the torch.func.vmap path, not the columnar one
]
coordinate = st.floats(min_value=-2, max_value=2, allow_nan=False, allow_subnormal=False)
point_lists = st.lists(st.tuples(coordinate, coordinate), min_size=1, max_size=7)


def _batch(command: str, expr: str, points: list[tuple[float, float]], **kwargs: object) -> tuple[list, list]:
    ev = api.evaluate_points(command, expr, [list(p) for p in points], chunk_size=3, **kwargs)
    chunks = list(ev.chunks)
    return (
        [row for c in chunks for row in c.value.tolist()],
        [row for c in chunks for row in c.result.tolist()],
    )


@settings(deadline=None, max_examples=25)
@given(case=st.sampled_from(EXPRESSIONS), points=point_lists, data=st.data())
def test_batch_equals_per_point(case: tuple[str, str], points: list[tuple[float, float]], data: st.DataObject) -> None:
    expr, kind = case
    commands = ["jacobian", "hessian", "jvp"] + (["gradient"] if kind == "scalar" else ["vjp"])
    command = data.draw(st.sampled_from(commands))
    kwargs: dict[str, object] = {"symbolic_form": False}
    if command in ("vjp", "jvp"):
        m = len(api.problem(expr, list(points[0])).program.outputs)
        size = 2 if command == "jvp" else m
        kwargs["v"] = data.draw(st.lists(coordinate, min_size=size, max_size=size))
    if command == "jacobian":
        kwargs["mode"] = data.draw(st.sampled_from(["forward", "reverse"]))
    values, results = _batch(command, expr, points, **kwargs)
    assert len(values) == len(results) == len(points)
    one = getattr(api, command)
    for point, value, result in zip(points, values, results, strict=True):
        if command in ("vjp", "jvp"):
            expected = one(expr, list(point), kwargs["v"], symbolic_form=False)
        else:
            extra = {"mode": kwargs["mode"]} if command == "jacobian" else {}
            expected = one(expr, list(point), symbolic_form=False, **extra)
        np.testing.assert_allclose(value, expected.value, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(result, expected.result, rtol=1e-10, atol=1e-12)


def test_several_at_json_and_csv_match_the_per_point_output(jacli: Invoke) -> None:
    """Several --at go through the batch path with json/csv; the output is what one point at a time gives."""
    points = ["1,2", "x0=pi/4, x1=-1/3", "0,0"]
    for fmt in ("json", "csv"):
        many = jacli("jacobian", SEED, *(a for p in points for a in ("--at", p)), "--format", fmt)
        assert many.exit_code == 0, many.stderr
        if fmt == "json":
            single = [jacli("jacobian", SEED, "--at", p, "--format", fmt).stdout for p in points]
            assert [json.loads(line) for line in many.stdout.splitlines()] == [json.loads(s) for s in single]
        else:  # the per-point renderer's rows: the point, then the flattened result
            assert many.stdout == render_csv_points([api.jacobian(SEED, p) for p in points])
    vjp = jacli("vjp", SEED, "--at", "1,2", "--at", "0,1", "--v", "1,2", "--format", "json")
    assert [json.loads(line)["result"] for line in vjp.stdout.splitlines()] == [[6.0, 52.0], [2.0, 14.0]]


def test_streaming_many_chunks_keeps_count_and_order(jacli: Invoke, tmp_path: Path) -> None:
    rows = 20_000
    x = np.linspace(-3, 3, rows)
    y = np.arange(rows, dtype=np.float64)
    path = tmp_path / "big.tsv"
    np.savetxt(path, np.column_stack([y, x]), delimiter="\t", header="x1\tx0", comments="")
    r = jacli("jacobian", SEED, "--points", str(path), "--chunk-size", "512", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    out = np.loadtxt(r.stdout.splitlines(), delimiter=",")
    assert out.shape == (rows, 2 + 4)
    np.testing.assert_array_equal(out[:, 0], x)  # in order, variable order x0, x1
    np.testing.assert_array_equal(out[:, 1], y)
    np.testing.assert_allclose(out[:, 2:], np.column_stack([2 + 0 * x, 2 * y, 2 * x, 6 * y**2]), rtol=1e-15)


def test_streaming_reads_one_chunk_at_a_time(tmp_path: Path) -> None:
    """Memory stays bounded: when the first chunk is out, the reader has read about one chunk of the file."""
    path = tmp_path / "big.csv"
    path.write_text("".join(f"{i},{i % 7}\n" for i in range(50_000)))
    ev = api.evaluate_points("gradient", "x*y", str(path), chunk_size=1000, symbolic_form=False)
    first = next(ev.chunks)
    assert first.rows == 1000
    assert ev.source.bytes_read < ev.source.size / 20
    seen = first.rows + sum(c.rows for c in ev.chunks)
    assert seen == 50_000 and ev.source.bytes_read == ev.source.size


def test_chunk_size_is_bounded_by_default() -> None:
    ev = api.evaluate_points("hessian", "+".join(f"x{i}**2*x{i + 1}" for i in range(30)), [[1.0] * 31])
    (chunk,) = list(ev.chunks)
    assert chunk.result.shape == (1, 31, 31)
    from jacli.batch import MAX_CHUNK_ROWS, chunk_rows

    assert chunk_rows(10, 2) == MAX_CHUNK_ROWS
    assert chunk_rows(10_000, 1_000) == 1


def test_stdin_json_lines_with_nonfinite_values(jacli: Invoke) -> None:
    r = jacli("gradient", "sqrt(x)*y", "--points", "-", "--format", "json", input="x y\n4 1\n-1 2\n")
    assert r.exit_code == 0
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert lines[0]["result"] == [0.25, 2.0] and lines[0]["symbolic"] == ["y/(2*sqrt(x))", "sqrt(x)"]
    assert lines[1]["value"] == [None] and lines[1]["result"] == [None, None]
    assert "null" in r.stdout.splitlines()[1]
    assert r.stderr.startswith("jacli: warning: non-finite values (nan/inf) at 1 of 2 points, first at point 2 (x=-1.0")


def test_no_symbolic_json_has_no_symbolic_key(jacli: Invoke) -> None:
    r = jacli("hessian", "x**2*y", "--points", "-", "--no-symbolic", "--format", "json", input="1 2\n")
    obj = json.loads(r.stdout)
    assert "symbolic" not in obj and obj["result"] == [[4.0, 2.0], [2.0, 0.0]]


def test_table_is_compact_and_capped(jacli: Invoke) -> None:
    text = "".join(f"{i} {i}\n" for i in range(TABLE_MAX_POINTS + 5))
    r = jacli("jacobian", SEED, "--points", "-", input=text)
    assert r.exit_code == 0, r.stderr
    assert "J[f1,x1]" in r.stdout
    assert f"│ {TABLE_MAX_POINTS} │" in r.stdout and f"│ {TABLE_MAX_POINTS + 1} │" not in r.stdout
    assert f"showing the first {TABLE_MAX_POINTS} points" in r.stdout
    small = jacli("gradient", "x*y", "--points", "-", input="1 2\n")
    assert "showing" not in small.stdout and "∇f[y]" in small.stdout


def test_gradient_of_a_vector_expression_is_a_usage_error(jacli: Invoke) -> None:
    assert_usage_error(jacli("gradient", SEED, "--points", "-", input="1 2\n"))


def test_float32(jacli: Invoke) -> None:
    r = jacli("gradient", "x*y", "--points", "-", "--dtype", "float32", "--format", "csv", input="0.1 3\n")
    assert r.stdout.strip() == f"0.1,3.0,3.0,{float(np.float32(0.1))!r}"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the error path cannot be reached")
def test_device_cuda_without_a_gpu_is_a_usage_error(jacli: Invoke) -> None:
    r = jacli("jacobian", SEED, "--points", "-", "--device", "cuda", input="1 2\n")
    assert_usage_error(r)
    assert "--device cuda: torch sees no CUDA device" in r.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_device_cuda_agrees_with_cpu() -> None:
    points = np.random.default_rng(0).uniform(-2, 2, size=(5000, 2)).tolist()
    results = {}
    for device in ("cpu", "cuda"):
        ev = api.evaluate_points("hessian", "sin(x0)*exp(x1/3) + x0*x1**3", points, device=device, chunk_size=999)
        results[device] = np.concatenate([c.result for c in ev.chunks])
    np.testing.assert_allclose(results["cuda"], results["cpu"], rtol=1e-12, atol=1e-12)


def test_reader_object_can_be_passed_to_the_api() -> None:
    reader = PointsReader.from_lines(["b,a", "1,2"], "mem")
    ev = api.evaluate_points("gradient", "a*b**2", reader, symbolic_form=False)
    (chunk,) = list(ev.chunks)
    assert ev.point_labels == ("a", "b") and chunk.points.tolist() == [[2.0, 1.0]]
    assert chunk.result.tolist() == [[1.0, 4.0]]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("parallel") is None, reason="GNU parallel is not installed")
def test_gnu_parallel_pipe_keep_order_shards_a_big_file(tmp_path: Path) -> None:
    rows = 30_000
    path = tmp_path / "pts.csv"
    path.write_text("".join(f"{i},{(i % 13) / 7}\n" for i in range(rows)))
    command = [sys.executable, "-m", "jacli", "jacobian", SEED, "--points", "-", "--format", "csv"]
    env = {**os.environ, "JACLI_SERVER": "off"}
    parallel = ["parallel", "-q", "--pipe", "--keep-order", "--block", "200k", "-j", "2"]  # -q: quote EXPR
    with path.open("rb") as stdin:
        sharded = subprocess.run(
            parallel + command, check=False, stdin=stdin, capture_output=True, text=True, env=env, timeout=300
        )
    assert sharded.returncode == 0, sharded.stderr
    with path.open("rb") as stdin:
        direct = subprocess.run(command, check=False, stdin=stdin, capture_output=True, text=True, env=env, timeout=300)
    assert sharded.stdout.count("\n") == rows
    assert sharded.stdout == direct.stdout


@pytest.mark.parametrize(
    "text",
    [
        "+".join(f"100*(x{i + 1}-x{i}**2)**2+(1-x{i})**2" for i in range(59)),  # banded: 3 colours
        "c = x0*x1; " + "+".join(f"sin(x{i})*x{i + 1}*c + exp(x{i}/9)" for i in range(50)),  # through a binding
        "+".join(f"where(x{i} > 0, x{i}**3, x{i + 2}*x{i}) + log(1+x{i}**2)*x{i + 1}" for i in range(60)),
        "(" + "+".join(f"x{i}" for i in range(50)) + ")**2 + x3*x7",  # dense: torch.func
        "+".join(f"a*x{i}**2 + x{i}*x{i + 1}" for i in range(55)),  # a parameter factor
    ],
)
def test_large_hessians_equal_the_dense_autograd_hessian(text: str) -> None:
    from jacli import calculus

    names = api.parse(text).names
    rng = np.random.default_rng(len(text))
    point = {name: float(rng.uniform(-1, 1)) for name in names}
    wrt = [n for n in names if n != "a"]
    fast = api.hessian(text, point, wrt=wrt, symbolic_form=False).tensor
    prob = api.problem(text, point, wrt=wrt)
    np.testing.assert_allclose(fast, calculus.hessian(prob.bound(), prob.inputs_tensor)[0], rtol=1e-12, atol=1e-12)


def test_progress_bar_only_for_a_file_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from jacli import cli

    class Source:
        size, bytes_read = 1000, 0

    with cli._progress(Source()) as on_chunk:  # stderr is not a terminal under pytest
        assert on_chunk is None
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    with cli._progress(None) as on_chunk:  # stdin: no size, no bar
        assert on_chunk is None
    source = Source()
    with cli._progress(source) as on_chunk:
        assert on_chunk is not None
        source.bytes_read = 500
        on_chunk()


def test_symbolic_too_large_is_skipped_with_a_warning(jacli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    from jacli import symbolic

    monkeypatch.setattr(symbolic, "MAX_DERIVATIVE_WORK", 1)
    r = jacli("gradient", "sin(x*y)", "--points", "-", "--format", "json", input="1 2\n")
    assert r.exit_code == 0, r.stderr
    obj = json.loads(r.stdout)
    assert "symbolic" not in obj and obj["result"] == pytest.approx([2 * np.cos(2), np.cos(2)])
    assert r.stderr.startswith("jacli: warning: symbolic form skipped")


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(1, 6),
    st.lists(st.sampled_from([float("inf"), float("-inf"), float("nan"), -0.0, 1e308]), max_size=4),
    st.integers(0, 2**31),
)
def test_symmetric_parts_are_the_where_formula_s_bits(rows: int, n: int, odd: list[float], seed: int) -> None:
    """batch.symmetric_parts (in place) gives the bits of torch.where(finite, (H + Hᵀ) / 2, 0)."""
    generator = torch.Generator().manual_seed(seed)
    h = torch.randn(rows, n, n, generator=generator, dtype=torch.float64) * 1e300
    for k, value in enumerate(odd):
        h.view(-1)[(k * 7919 + seed) % h.numel()] = value
    finite, symmetric = batch.symmetric_parts(h)
    expected_finite = torch.isfinite(h).flatten(1).all(dim=1)
    expected = torch.where(expected_finite[:, None, None], (h + h.transpose(1, 2)) / 2, 0)
    assert torch.equal(finite, expected_finite)
    assert symmetric.dtype == expected.dtype
    assert symmetric.numpy().tobytes() == expected.numpy().tobytes()
