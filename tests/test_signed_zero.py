"""Signed zero: ``--at`` values are exact numbers (0 has no sign), ``--points`` rows are IEEE floats.

The decision (README, "Signed zero"): ``--at x=-0.0`` is the exact number 0, the same point as
``--at x=0`` (``--exact`` and the symbolic answers need exact points, and SymPy's numbers have no
signed zero); a points file's ``-0.0`` is the float -0.0 and reaches torch with its sign, as NumPy,
pandas and torch read it. ``atan2(x, -1)`` tells them apart: -pi at -0.0, pi at +0.
"""

from __future__ import annotations

import json
import math

from conftest import Invoke

ARGS = ("gradient", "atan2(x, -1)", "--format", "json", "--no-symbolic")


def _rows(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_at_negative_zero_is_the_exact_zero(jacli: Invoke) -> None:
    negative = jacli(*ARGS, "--at", "x=-0.0")
    positive = jacli(*ARGS, "--at", "x=0")
    assert negative.exit_code == positive.exit_code == 0
    assert negative.stdout == positive.stdout
    (row,) = _rows(negative.stdout)
    assert math.copysign(1.0, row["point"]["x"]) == 1.0
    assert row["value"] == [math.pi] and row["result"] == [-1.0]


def test_points_file_keeps_the_sign_of_zero(jacli: Invoke) -> None:
    outcome = jacli(*ARGS, "--points", "-", input="x\n-0.0\n0.0\n")
    assert outcome.exit_code == 0, outcome.stderr
    negative, positive = _rows(outcome.stdout)
    assert math.copysign(1.0, negative["point"]["x"]) == -1.0
    assert negative["value"] == [-math.pi] and positive["value"] == [math.pi]
    assert negative["result"] == positive["result"] == [-1.0]


def test_points_csv_writes_negative_zero_back(jacli: Invoke) -> None:
    outcome = jacli("gradient", "x", "--points", "-", "--format", "csv", "--no-symbolic", input="x\n-0.0\n")
    assert outcome.exit_code == 0, outcome.stderr
    assert outcome.stdout.splitlines() == ["-0.0,1.0"]
