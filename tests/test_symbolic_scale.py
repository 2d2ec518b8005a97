"""The symbolic form at scale (issue 16): derived once per program, printed once per expression, JSON by orjson.

Every output must stay byte for byte what it was: the cached derivative is the one derived
afresh, each text is SymPy's, and the JSON is the standard library's.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import sympy
from conftest import Invoke
from hypothesis import given, settings
from hypothesis import strategies as st

from jacli import api, symbolic, symbolic_result
from jacli.render import finite_or_null
from jacli.render.json import FAST_NUMBERS, _texts_text, render_json, result_object


def rosenbrock(n: int) -> str:
    """bench/scale.py's function, written out in full."""
    return "+".join(f"100*(x{i + 1}-x{i}**2)**2+(1-x{i})**2" for i in range(n - 1))


def _at(n: int) -> str:
    return ",".join(["1.1"] * n)


def _standard_json(result: Any) -> str:
    return json.dumps(result_object(result), allow_nan=False, ensure_ascii=False)


def test_the_symbolic_form_is_derived_once_per_program(monkeypatch: pytest.MonkeyPatch) -> None:
    symbolic_result.cached_symbolic_form.cache_clear()
    made = []
    real = symbolic.Differentiator

    def counted(program: Any) -> Any:
        made.append(program)
        return real(program)

    monkeypatch.setattr(symbolic, "Differentiator", counted)
    first = api.hessian("x**2*y + sin(y)", at="x=1, y=2")
    again = api.hessian("x**2*y + sin(y)", at="x=3, y=-1")  # another point: the same derivative
    assert len(made) == 1 and first.symbolic == again.symbolic == [["2*y", "2*x"], ["2*x", "-sin(y)"]]
    api.gradient("x**2*y + sin(y)", at="x=1, y=2")  # another quantity: derived
    api.hessian("x**2*y + sin(y)", at="x=1, y=2", wrt="x")  # other inputs: derived
    assert len(made) == 3
    api.hvp("x**2*y + sin(y)", at="x=1, y=2", v="1,0")
    api.hvp("x**2*y + sin(y)", at="x=1, y=2", v="0,1")  # other weights: derived
    assert len(made) == 5
    assert "cached_symbolic_form" in symbolic_result.cached_symbolic_form.__qualname__


def test_each_call_gets_its_own_lists() -> None:
    symbolic_result.cached_symbolic_form.cache_clear()
    first = api.hessian("x**3*y", at="x=1, y=2")
    first.symbolic_exprs[0][0] = sympy.Symbol("spoiled")
    first.symbolic_exprs[1].clear()
    again = api.hessian("x**3*y", at="x=1, y=2")
    x, y = sympy.symbols("x y", real=True)
    assert again.symbolic_exprs == [[6 * x * y, 3 * x**2], [3 * x**2, 0]]


def test_a_skipped_form_is_not_kept_and_the_limits_are_part_of_the_key(
    jacli: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    symbolic_result.cached_symbolic_form.cache_clear()
    monkeypatch.setattr(symbolic, "MAX_DERIVATIVE_WORK", 1)
    out = jacli("gradient", "sin(x*y)", "--at", "1,2", "--format", "json")
    assert out.exit_code == 0 and "symbolic" not in json.loads(out.stdout)
    assert out.stderr.startswith("jacli: note: symbolic form skipped: the symbolic derivative is too large")
    monkeypatch.undo()
    out = jacli("gradient", "sin(x*y)", "--at", "1,2", "--format", "json")
    assert json.loads(out.stdout)["symbolic"] == ["y*cos(x*y)", "x*cos(x*y)"] and out.stderr == ""
    monkeypatch.setattr(symbolic, "MAX_DERIVATIVE_WORK", 1)  # derived before, but not under this limit
    out = jacli("gradient", "sin(x*y)", "--at", "1,2", "--format", "json")
    assert "symbolic" not in json.loads(out.stdout) and "symbolic form skipped" in out.stderr


def test_the_cached_form_is_the_fresh_one(jacli: Invoke) -> None:
    symbolic_result.cached_symbolic_form.cache_clear()
    argv = ("hessian", rosenbrock(40), "--at", _at(40), "--format", "json")
    fresh = jacli(*argv)
    again = jacli(*argv)
    assert fresh.exit_code == again.exit_code == 0 and fresh.stdout == again.stdout
    obj = json.loads(fresh.stdout)
    assert obj["symbolic"][3][3] == "1200*x3**2 - 400*x4 + 202" and obj["symbolic"][3][4] == "-400*x3"
    assert obj["symbolic"][0][5] == "0"


def test_texts_are_sympys_and_zeros_are_zero() -> None:
    x, y = sympy.symbols("x y", real=True)
    exprs = [[x**2 + y, sympy.S.Zero, sympy.Integer(3)], [sympy.S.Zero, 2 * x, sympy.E * x], [x**2 + y, 0, -x]]
    assert symbolic.to_text(exprs) == [["x**2 + y", "0", "3"], ["0", "2*x", "e*x"], ["x**2 + y", "0", "-x"]]
    assert symbolic.to_text([[[x]], [[sympy.S.Zero]]]) == [[["x"]], [["0"]]] and symbolic.to_text(x * y) == "x*y"
    # equal-looking values of other types are printed as themselves, never as a memoised neighbour
    assert symbolic.to_text([sympy.Integer(2), sympy.Float(2.0), 2.0, sympy.Float(2.0, 30)]) == [
        "2", "2.00000000000000", "2.0", "2.00000000000000000000000000000"
    ]  # fmt: skip


def test_finite_or_null_passes_rows_of_texts() -> None:
    assert finite_or_null([["a", "b"], ("c",), [1.0, float("nan")], ["x", float("inf")]]) == [
        ["a", "b"], ["c"], [1.0, None], ["x", None]
    ]  # fmt: skip


def test_big_symbolic_json_is_the_standard_librarys(jacli: Invoke) -> None:
    n = 70  # 4,900 entries: past FAST_NUMBERS, both the numbers and the texts go through orjson
    assert n * n >= FAST_NUMBERS
    result = api.hessian(rosenbrock(n), at=_at(n))
    assert render_json(result) == _standard_json(result)
    out = jacli("hessian", rosenbrock(n), "--at", _at(n), "--format", "json")
    assert out.stdout == _standard_json(result) + "\n"


TEXTS = st.lists(
    st.sampled_from(["a", '"', "\\", "\n", "\x01", "\x1f", "é", ",", '","', "[", "]", ", ", "💡", "\u2028", "x**2"]),
    max_size=4,
).map("".join)


@settings(max_examples=60)
@given(st.lists(TEXTS, min_size=1, max_size=4), st.sampled_from([(64, 64), (8, 8, 64)]))
def test_symbolic_texts_in_json_are_the_standard_librarys(samples: list[str], shape: tuple[int, ...]) -> None:
    base = api.hessian("x*y", at="x=1, y=2")

    def grid(shape: tuple[int, ...], start: int) -> Any:
        if len(shape) == 1:
            return [samples[(start + i) % len(samples)] for i in range(shape[0])]
        return [grid(shape[1:], start + i * 7) for i in range(shape[0])]

    result = dataclasses.replace(base, symbolic=grid(shape, 0))
    assert _texts_text(result.symbolic) is not None  # the orjson path, row by row where it escapes
    assert render_json(result) == _standard_json(result)


def test_a_lone_surrogate_is_left_to_the_standard_library() -> None:
    base = api.hessian("x*y", at="x=1, y=2")
    result = dataclasses.replace(base, symbolic=[["\ud800"] * 64 for _ in range(64)])
    assert _texts_text(result.symbolic) is None
    assert render_json(result) == _standard_json(result)
