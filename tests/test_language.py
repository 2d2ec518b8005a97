"""The expression language: accept/reject tables, natural order, column and caret mapping."""

from __future__ import annotations

import pytest
import sympy

from jacli import language
from jacli.errors import ExpressionError, UsageError

x, y = sympy.symbols("x y", real=True)


def build(text: str, **shapes: tuple[int, ...]) -> language.Program:
    parsed = language.parse_expression(text)
    return language.build_program(parsed, {n: shapes.get(n, ()) for n in parsed.names})


def error_of(text: str, **shapes: tuple[int, ...]) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        build(text, **shapes)
    return info.value


# ---------------------------------------------------------------------------
# Accepted: text -> SymPy.
# ---------------------------------------------------------------------------

ACCEPT = [
    ("x^2", (x**2,)),
    ("2*x^2", (2 * x**2,)),
    ("2^3^2", (sympy.Integer(512),)),
    ("-x^2", (-(x**2),)),
    ("x**-1", (1 / x,)),
    ("x - y - 1", (x - y - 1,)),
    ("x / y / 2", (x / y / 2,)),
    ("2*x+y**2, x**2+2*y**3", (2 * x + y**2, x**2 + 2 * y**3)),
    ("[x, y]", (x, y)),
    ("1e-3*x", (sympy.Rational(1, 1000) * x,)),
    ("0.1*x", (sympy.Rational(1, 10) * x,)),
    ("1_000*x", (1000 * x,)),
    ("e*pi*x", (sympy.E * sympy.pi * x,)),
    ("log(x, 2)", (sympy.log(x, 2),)),
    ("c = x+y; d = y+1; c*d", None),  # bindings: checked below
    ("x;", (x,)),
    ("x\n\n", (x,)),
    ("  x +\ty", (x + y,)),
    ("x*1e1000", (x * sympy.Integer(10) ** 1000,)),
    ("x*exp(1000)", (x * sympy.exp(1000),)),
    ("x*2**9000", (x * sympy.Integer(2) ** 9000,)),
    ("x*sin(10**3000)", None),
    ("where(x > 0, x, -x)", (sympy.Piecewise((x, x > 0), (-x, True)),)),
    ("where(x > 0 and not y < 1, x, y)", None),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPT)
def test_accepted(text: str, expected: tuple[sympy.Expr, ...] | None) -> None:
    program = build(text)
    if expected is not None:
        assert program.outputs == expected


def test_bindings_stay_symbols() -> None:
    program = build("c = x+y; d = y+1; c*d")
    c, d = (b.symbol for b in program.bindings)
    assert program.outputs == (c * d,)
    assert [b.value for b in program.bindings] == [x + y, y + 1]


# ---------------------------------------------------------------------------
# Rejected: (text, phrase in the message, 0-based column or None).
# ---------------------------------------------------------------------------

REJECT = [
    ("x +* y", "syntax error", 3),
    ("(x", "syntax error", 0),
    ("x)", "syntax error", 1),
    ("", "empty expression", None),
    (" ; \n ;", "empty expression", None),
    ("x.real", "attribute access", 0),
    ("y + __import__('os')", "unknown function '__import__'", 4),
    ("y + __import__('os').system('ls')", "only the functions", 4),
    ("y + __x", "names starting with '__'", 4),
    ("x + 'a'", "string literals", 4),
    ("x % 2", "operator '%'", 0),
    ("x ^ 2 ^ 3 % 2", "operator '%'", 0),
    ("foo(x)", "unknown function 'foo'", 0),
    ("x + sinn(x)", "did you mean 'sin'", 4),
    ("sin(x, y)", "takes 1 argument, got 2", 0),
    ("x > 0", "only allowed as the condition", 0),
    ("0x1f * x", "hexadecimal", 0),
    ("x*9**9**9", "too large to compute exactly", 2),
    ("x*2**10001", "too large to compute exactly", 2),
    ("y + x**(2**60)", "integer powers up to 2**53", 4),
    ("x*1e1001", "out of range", 2),
    ("x*exp(exp(100))", "too large", 2),
    ("x*cosh(10**6)", "too large", 2),
    ("x*2**(2**20)", "too large", 2),
    ("where(x > acos(2), x, 0)", "needs real numbers", 6),
    ("y = x; y = x; y", "bound twice", 11),
    ("x + max(log(x, 1))", "undefined", 4),
    ("x\x00", "NUL byte", 1),
    ("x × y", "use '*'", 2),
    ("x ^ １", "use '1'", 4),
    ("x" * 65, "limit is 64", 0),
    ("(" * 101 + "x" + ")" * 101, "nested more than 100", 100),
]


@pytest.mark.parametrize(("text", "phrase", "column"), REJECT)
def test_rejected_with_a_column(text: str, phrase: str, column: int | None) -> None:
    err = error_of(text)
    assert phrase in str(err)
    assert err.col == column
    if column is not None and "\n" not in text:
        assert f"at column {column + 1}" in str(err)


def test_caret_line_sits_under_the_column() -> None:
    err = error_of("x + y.real")
    assert err.caret_lines() == ["  x + y.real", "      ^"]


def test_caret_follows_the_caret_rewrite() -> None:
    """``^`` becomes ``**`` (one character more) before ``ast``; columns stay the user's."""
    err = error_of("x^2^2^2 + 'a'")
    assert err.col == 10
    err = error_of("x^9^9^9")
    assert err.col == 2  # 9^9^9 is the part too large, though the rewritten text is longer


def test_caret_on_a_later_line() -> None:
    err = error_of("a = x\nb = a +* 2\nb")
    assert err.col == len("a = x\nb = a +")
    assert err.caret_lines() == ["  b = a +* 2", "         ^"]


def test_long_lines_are_cut_around_the_caret() -> None:
    text = "x + " * 200 + "'s'"
    lines = error_of(text).caret_lines()
    assert len(lines[0]) <= 124 and lines[0].rstrip().endswith("'s'")
    assert lines[1].index("^") == lines[0].index("'s'")


def test_shape_errors_are_located() -> None:
    err = error_of("x + dot(a, b)", a=(2,), b=(3,))
    assert "dot needs two vectors" in str(err)
    assert err.col == 4


# ---------------------------------------------------------------------------
# Natural order.
# ---------------------------------------------------------------------------


def test_natural_order() -> None:
    names = ["x10", "y", "x2", "x", "A", "a", "x0", "x1a", "x1b", "b2c10", "b2c9"]
    assert sorted(names, key=language.natural_key) == [
        "A", "a", "b2c9", "b2c10", "x", "x0", "x1a", "x1b", "x2", "x10", "y",
    ]  # fmt: skip


def test_variables_come_out_in_natural_order() -> None:
    assert language.parse_expression("x10 + x2 + x1 + E + N + gamma").names == ("E", "N", "gamma", "x1", "x2", "x10")


def test_bound_names_are_not_variables() -> None:
    parsed = language.parse_expression("c = a + b; c * a")
    assert parsed.names == ("a", "b") and parsed.bound == ("c",)


# ---------------------------------------------------------------------------
# Values typed by the user (--at, --v).
# ---------------------------------------------------------------------------


def test_assignments_positional_and_named() -> None:
    values = language.parse_assignments("1, -2.5, x=pi/4, A=[[1, 2], [3, 4]]")
    assert [v[()] for v in values.positional] == [1, sympy.Rational(-5, 2)]
    assert values.named["x"][()] == sympy.pi / 4
    assert values.named["A"].shape == (2, 2)


ASSIGNMENT_ERRORS = [
    ("x=1, x=2", "gives 'x' twice"),
    ("x=y", "not a constant"),
    ("x=1/0", "infinite or undefined"),
    ("x=sqrt(-1)", "not real"),
    ("x=exp(exp(100))", "too large"),
    ("x=open('f')", "unknown function"),
    ("x=[1, [2]]", "element 2 has shape"),
    ("__x=1", "names starting with '__'"),
    ("x=1\x1b", "control character"),
]


@pytest.mark.parametrize(("text", "phrase"), ASSIGNMENT_ERRORS)
def test_assignment_errors(text: str, phrase: str) -> None:
    with pytest.raises(UsageError, match=None) as info:
        language.parse_assignments(text)
    assert phrase in str(info.value)


def test_assignment_error_columns_are_the_users() -> None:
    with pytest.raises(ExpressionError) as info:
        language.parse_assignments("x=1, y=foo(2)")
    assert info.value.col == 7
    assert info.value.caret_lines() == ["  x=1, y=foo(2)", "         ^"]


# ---------------------------------------------------------------------------
# Limits through the environment.
# ---------------------------------------------------------------------------


def test_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JACLI_MAX_LENGTH", "4")
    with pytest.raises(UsageError, match="limit is 4"):
        language.parse_expression("x + y")
    monkeypatch.setenv("JACLI_MAX_LENGTH", "0")
    with pytest.raises(UsageError, match="JACLI_MAX_LENGTH must be a positive integer"):
        language.parse_expression("x")
    monkeypatch.delenv("JACLI_MAX_LENGTH")
    monkeypatch.setenv("JACLI_MAX_ELEMENTS", "3")
    with pytest.raises(ExpressionError, match="limit is 3"):
        build("sum([x, x, x, x])")
    with pytest.raises(ExpressionError, match="4 elements"):
        build("x, x, y, y")
    with pytest.raises(ExpressionError, match="the result would have 4 elements"):
        build("a + b", a=(2,), b=(2, 1))
