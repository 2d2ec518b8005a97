"""``--sparse`` as fast as the dense output (issue 16): the same bytes as writing the whole object with
the standard library, without walking or writing the 10⁶ dense numbers it replaces."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from jacli import api
from jacli.render import finite_or_null
from jacli.render.json import result_object
from jacli.render.sparse import parts, render_sparse_json
from jacli.sparse_output import _has_text

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
from scale import rosenbrock


def _slow_sparse_json(result) -> str:
    """What ``render_sparse_json`` wrote before: the standard library over the whole object, renamed in place."""
    shape, indices, values = parts(result.result)
    sparse = {"shape": list(shape), "indices": indices, "values": finite_or_null(values)}
    obj = {("result_sparse" if key == "result" else key): (sparse if key == "result" else value)
           for key, value in result_object(result).items()}  # fmt: skip
    return json.dumps(obj, allow_nan=False, ensure_ascii=False)


@pytest.mark.parametrize("n", [3, 80])  # 80: 6,400 entries, the large-form paths of render_json
def test_sparse_json_is_the_standard_librarys_bytes(n: int) -> None:
    result = api.hessian(rosenbrock(n), at=[1.1] * n)
    assert render_sparse_json(result) == _slow_sparse_json(result)
    bare = api.hessian(rosenbrock(n), at=[1.1] * n, symbolic_form=False)
    assert render_sparse_json(bare) == _slow_sparse_json(bare)


def test_sparse_json_with_nonfinite_and_exact_values() -> None:
    result = api.gradient("sqrt(x0) + x1", at=[0.0, 1.0], exact=True)
    assert render_sparse_json(result) == _slow_sparse_json(result)
    assert json.loads(render_sparse_json(result))["result_sparse"]["values"] == [None, 1.0]


@pytest.mark.parametrize(
    ("nested", "has"),
    [
        ([[1.0, 2.0], [0.0, math.nan]], False),
        ([[1, 2], [3, 4]], False),
        ([[True, 0.5]], False),
        ([[1.0, "x"], [2.0, 3.0]], True),
        ([["1.5", 2.0]], True),  # a text that looks like a number is still a text
        ([[1.0], [2.0, 3.0]], False),  # ragged: walked
        ([[1.0], [2.0, "y"]], True),
        ("x + 1", True),
        (2.0, False),
        ([[[1.0, 2.0]], [["z", 2.0]]], True),
        ([None, 1.0], False),
    ],
)
def test_has_text_finds_a_text_anywhere(nested, has: bool) -> None:
    assert _has_text(nested) is has
