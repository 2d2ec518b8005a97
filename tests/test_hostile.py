"""Hostile and broken input (issue 4): every case is a clean usage error, fast, and runs nothing.

Each row is a full command line. The expectation: exit status 2, a first stderr
line ``jacli: error: …`` that contains the row's key phrase, nothing on stdout,
no traceback, within a generous time bound. Rows that try to run code write to a
canary path if they ever succeed; the canary must not exist afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import Outcome, assert_usage_error, invoke_cli

SECONDS = 20.0
"""Generous bound per case (they take milliseconds; CI machines are slow and shared)."""


@dataclass(frozen=True)
class Case:
    """One hostile command line; ``{canary}`` and ``{dir}`` are filled in per test."""

    argv: tuple[str, ...]
    needle: str  # a phrase the error line must contain (case-insensitive)
    stdin: str | bytes | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


def grad(expr: str, *rest: str, needle: str, at: str = "1", stdin: str | bytes | None = None) -> Case:
    return Case(("gradient", expr, "--at", at, *rest), needle, stdin)


def at(point: str, needle: str, expr: str = "x") -> Case:
    return Case(("gradient", expr, "--at", point), needle)


# ---------------------------------------------------------------------------
# Code injection: through the expression, --at, --v, --wrt and points files.
# ---------------------------------------------------------------------------

INJECTIONS: dict[str, Case] = {
    "import-call": grad("__import__('os').system('touch {canary}')", needle="only the functions"),
    "open": grad("open('{canary}', 'w')", needle="unknown function 'open'"),
    "exec": grad("exec(\"open('{canary}', 'w')\")", needle="unknown function 'exec'"),
    "eval": grad("eval(\"open('{canary}', 'w')\")", needle="unknown function 'eval'"),
    "compile": grad("compile('1', 'f', 'eval')", needle="unknown function 'compile'"),
    "dunder-class": grad("x.__class__", needle="attribute access"),
    "subclasses": grad("().__class__.__bases__[0].__subclasses__()", needle="only the functions"),
    "function-globals": grad("sin.__globals__['os']", needle="attribute access"),
    "attribute": grad("x.real", needle="attribute access"),
    # issue 13: attributes are .T and the method form x.f(...) of a function of the table, nothing else
    "attribute-grad": grad("x.grad", needle="attribute 'grad' is not part of the language"),
    "attribute-of-T": grad("x.T.__dict__", needle="attribute '__dict__' is not part of the language"),
    "attribute-of-number": grad("(1).real + x", needle="attribute 'real' is not part of the language"),
    "method-self": grad("x.sum.__self__", needle="attribute '__self__' is not part of the language"),
    "method-uncalled": grad("x.sum", needle="x.sum is a function; call it as x.sum(...)"),
    "method-unknown": grad("x.system('touch {canary}')", needle="'system' is not one"),
    "method-dunder": grad("x.__class__.__subclasses__()", needle="'__subclasses__' is not one"),
    "method-of-module": grad("torch.sum(2)", needle="axis 2 is out of range for an array of shape ()"),  # sum(torch, 2)
    "method-on-function": grad("sin.sum() + x", needle="'sin' is a function"),
    "method-keyword": grad("x.sum(dim=0)", needle="sum() takes only the keyword axis arguments, not 'dim'"),
    "method-kwargs": grad("x.sum(**{'axis': 0})", needle="sum() takes only the keyword axis arguments"),
    "method-axis-code": grad("x.sum(axis=__import__('os').system('touch {canary}'))", needle="only the functions"),
    "transpose-call": grad("x.T()", needle="only the functions"),
    "dunder-name": grad("__builtins__", needle="names starting with '__'"),
    "dunder-binding": grad("__x = 1; __x", needle="names starting with '__'"),
    "lambda": grad("(lambda: open('{canary}', 'w'))()", needle="only the functions"),
    "bare-lambda": grad("lambda: 1", needle="lambda"),
    "list-comprehension": grad("[open('{canary}', 'w') for i in [1]]", needle="comprehension"),
    "generator": grad("sum(open('{canary}', 'w') for i in [1])", needle="generator"),
    "set-comprehension": grad("{i for i in [1]}", needle="comprehension"),
    "dict-comprehension": grad("{i: i for i in [1]}", needle="comprehension"),
    "walrus": grad("(y := open('{canary}', 'w')) + x", needle="':='"),
    "string": grad("'{canary}'", needle="string literals"),
    "bytes": grad("b'abc'", needle="bytes literals"),
    "f-string": grad('f\'{{open("{canary}", "w")}}\'', needle="f-strings"),
    "import": grad("import os", needle="import"),
    "import-then-expr": grad("import os; x", needle="import"),
    "from-import": grad("from os import system", needle="import"),
    "def": grad("def f(): pass", needle="def"),
    "class": grad("class A: pass", needle="class"),
    "with-open": grad("with open('{canary}', 'w'): pass", needle="with"),
    "for-loop": grad("for i in [1]: open('{canary}', 'w')", needle="a for loop runs over range(k) only"),
    "while-loop": grad("while 1: pass", needle="pass is not part of the language"),
    "try": grad("try: x\nexcept: x", needle="try"),
    "if-statement": grad("if x: x", needle="a bare expression does nothing here"),
    "if-expression": grad("x if x else 1", needle="'if' expressions"),
    "del": grad("del x", needle="del"),
    "global": grad("global x", needle="global"),
    "assert": grad("assert x", needle="assert"),
    "raise": grad("raise x", needle="raise"),
    "augmented": grad("x += 1; x", needle="augmented assignment"),
    "await": grad("await x", needle="await"),
    "yield": grad("yield x", needle="yield"),
    "starred": grad("sin(*x)", needle="'*' unpacking"),
    "double-starred": grad("sin(**x)", needle="keyword arguments"),
    "keyword-argument": grad("sin(x, key=1)", needle="keyword arguments"),
    "dict": grad("{'a': x}", needle="braces"),
    "set": grad("{x, 1}", needle="braces"),
    "sympy-Symbol": grad("Symbol('x')", needle="unknown function 'Symbol'"),
    "sympy-S": grad("S('x')", needle="unknown function 'S'"),
    "sympy-Lambda": grad("Lambda(x, x)", needle="unknown function 'Lambda'"),
    "sympy-Function": grad("Function('f')(x)", needle="only the functions"),
    "sympy-Integral": grad("Integral(x, x)", needle="unknown function 'Integral'"),
    "sympify": grad("sympify('x')", needle="unknown function 'sympify'"),
    "parse_expr": grad("parse_expr('x')", needle="unknown function 'parse_expr'"),
    "getattr": grad("getattr(x, 'real')", needle="unknown function 'getattr'"),
    "globals": grad("globals()", needle="unknown function 'globals'"),
    "print": grad("print(x)", needle="unknown function 'print'"),
    "call-of-call": grad("sin(x)(x)", needle="only the functions"),
    "call-of-subscript": grad("[sin][0](x)", needle="only the functions"),
    "at-import": at("x=__import__('os').system('touch {canary}')", "only the functions"),
    "at-open": at("x=open('{canary}', 'w')", "unknown function 'open'"),
    "at-attribute": at("x=().__class__", "attribute access"),
    "at-string": at("x='{canary}'", "string literals"),
    "at-lambda": at("x=(lambda: 1)()", "only the functions"),
    "at-comprehension": at("x=[open('{canary}', 'w') for i in [1]]", "comprehension"),
    "at-double-star": at("**{'x': 1}", "not part of the language"),
    "at-dunder-name": at("__class__=1", "names starting with '__'"),
    "at-walrus": at("(x := 1)", "':='"),
    "v-import": Case(
        ("vjp", "x", "--at", "1", "--v", "__import__('os').system('touch {canary}')"), "only the functions"
    ),
    "v-open": Case(("jvp", "x", "--at", "1", "--v", "open('{canary}', 'w')"), "unknown function 'open'"),
    "v-named": Case(("vjp", "x", "--at", "1", "--v", "x=1"), "--v takes values in order"),
    "wrt-import": Case(("gradient", "x", "--at", "1", "--wrt", "__import__('os')"), "not a variable"),
    "wrt-statement": Case(("gradient", "x", "--at", "1", "--wrt", "x; open('{canary}', 'w')"), "not a variable"),
}

# ---------------------------------------------------------------------------
# Resource guards: each must fail fast, in bounded memory.
# ---------------------------------------------------------------------------

BIG_VECTOR = "x=[" + ",".join(["1"] * 3000) + "]"

RESOURCES: dict[str, Case] = {
    "tower-9": grad("x*9**9**9**9", needle="too large to compute exactly"),
    "tower-2": grad("x*2**10**10", needle="too large to compute exactly"),
    "constant-only": Case(("gradient", "9**9**9**9"), "no variables"),
    "huge-integer-exponent": grad("x**(2**100)", needle="integer powers up to 2**53"),
    "huge-power-exact": grad("x**(10**9)", "--exact", needle="too large for exact arithmetic"),
    "huge-power-exact-hessian": Case(("hessian", "x**(10**9)", "--at", "2", "--exact"), "too large for exact"),
    "huge-integer-literal": grad("x*" + "9" * 5000, needle="integer literal too long"),
    "huge-decimal-exponent": grad("x*1e100000", needle="out of range"),
    "huge-rational-power": grad("x*(10**3000)**10", needle="too large"),
    "exp-tower": grad("x*exp(exp(exp(exp(100))))", needle="too large"),
    "exp-tower-in-floor": grad("x*floor(exp(exp(exp(100))))", needle="too large"),
    "exp-tower-in-max": grad("x*max(exp(exp(exp(100))), 1)", needle="too large"),
    "exp-tower-in-abs": grad("x*abs(1 - exp(exp(exp(100))))", needle="too large"),
    "exp-tower-in-sign": grad("x*sign(exp(exp(exp(100))) - 1)", needle="too large"),
    "exp-tower-in-condition": grad("where(exp(exp(exp(100))) > 1, x, 0)", needle="too large"),
    "sinh-tower": grad("x*sinh(cosh(exp(1000)))", needle="too large"),
    "power-tower-irrational": grad("x*pi**pi**pi**pi**pi", needle="too large"),
    "at-exp-tower": at("x=exp(exp(exp(100)))", "too large"),
    "at-tower": at("x=9**9**9**9", "too large to compute exactly"),
    "parentheses-10000": grad("(" * 10_000 + "x" + ")" * 10_000, needle="nested more than"),
    "brackets-10000": grad("sum(" + "[" * 10_000 + "x" + "]" * 10_000 + ")", needle="nested more than"),
    "calls-10000": grad("sin(" * 10_000 + "x" + ")" * 10_000, needle="nested more than"),
    "at-brackets-10000": at("x=" + "[" * 10_000 + "1" + "]" * 10_000, "nested more than"),
    "unary-chain": Case(("gradient", "-", "--at", "1"), "nested too deeply", stdin="-" * 100_000 + "x"),
    "power-chain": grad("x**" * 5_000 + "x", needle="nested too deeply"),
    "sum-chain": grad("+".join(["x"] * 100_000), needle="nested too deeply"),
    "stdin-10MB": Case(("gradient", "-", "--at", "1"), "characters long", stdin="x+" * 5_000_000 + "x"),
    "argv-2MB": grad("x" + "+x" * 1_000_000, needle="characters long"),
    "100000-components": Case(("jacobian", ",".join(["x"] * 100_000), "--at", "1"), "100,000 elements"),
    "huge-array-literal": grad("sum([" + ",".join(["x"] * 100_000) + "])", needle="100,000 elements"),
    "huge-at-array": at("x=[" + ",".join(["1"] * 100_000) + "]", "100,000 elements", expr="sum(x)"),
    "broadcast-blowup": Case(
        ("jacobian", "x + y", "--at", "x=[" + ",".join(["1"] * 5000) + "], y=[" + ",".join(["[1]"] * 5000) + "]"),
        "25,000,000 elements",
    ),
    "matmul-blowup": Case(("jacobian", "sum(A@A@A@A@A@A@A@A)", "--at", "A=" + str([[1] * 12] * 12)), "symbolic terms"),
    "jacobian-too-big": Case(("jacobian", "x*2", "--at", BIG_VECTOR), "9,000,000 entries"),
    "hessian-too-big": Case(("hessian", "sum(x*x)", "--at", BIG_VECTOR), "entries"),
    "long-name": grad("x" * 10_000, needle="name is 10000 characters long"),
    "long-name-at": at("x" * 10_000 + "=1", "name is 10000 characters long"),
    "env-length-limit": Case(("gradient", "x+x+x", "--at", "1"), "limit is 3", env={"JACLI_MAX_LENGTH": "3"}),
    "env-elements-limit": Case(
        ("gradient", "sum(x)", "--at", "x=[1,2,3]"), "limit is 2", env={"JACLI_MAX_ELEMENTS": "2"}
    ),
    "env-bad-limit": Case(("gradient", "x", "--at", "1"), "JACLI_MAX_LENGTH must be", env={"JACLI_MAX_LENGTH": "big"}),
}

# ---------------------------------------------------------------------------
# Malformed text: each message points at the problem.
# ---------------------------------------------------------------------------

MALFORMED: dict[str, Case] = {
    "unbalanced-open": grad("(x + 1", needle="syntax error"),
    "unbalanced-close": grad("x + 1)", needle="syntax error"),
    "unbalanced-bracket": grad("sum([x, 1)", needle="syntax error"),
    "unclosed-call": grad("sin(x", needle="syntax error"),
    "dangling-plus": grad("x +", needle="syntax error"),
    "dangling-times": grad("x *", needle="syntax error"),
    "leading-times": grad("* x", needle="not part of the language"),
    "double-operator": grad("x +* 1", needle="syntax error"),
    "dangling-power": grad("x **", needle="syntax error"),
    "dangling-caret": grad("x ^", needle="syntax error"),
    "double-comma": grad("x,, 1", needle="syntax error"),
    "juxtaposition": grad("x y", needle="syntax error"),
    "number-then-name": grad("2x", needle="syntax error"),
    "empty": grad("", needle="empty expression"),
    "whitespace": grad("   \t ", needle="empty expression"),
    "newlines": grad("\n\n", needle="empty expression"),
    "semicolons": grad(";;", needle="empty expression"),
    "trailing-semicolons": grad(";", needle="empty expression"),
    "only-binding": grad("y = x", needle="end with the expression"),
    "times-sign": grad("2×x", needle="use '*'"),
    "minus-sign": grad("2−x", needle="use '-'"),
    "division-sign": grad("x÷2", needle="use '/'"),
    "full-width-digit": grad("\uff12*x", needle="use '2'"),
    "superscript": grad("x²", needle="use '**2'"),
    "greek-pi": grad("π*x", needle="use 'pi'"),
    "cyrillic-x": grad("\u0445 + 1", needle="only ASCII"),
    "zero-width-space": grad("x\u200b+1", needle="U+200B"),
    "escape-sequence": grad("x\x1b[31m", needle="control character"),
    "bell": grad("x\x07", needle="control character"),
    "nul-stdin": Case(("gradient", "-", "--at", "1"), "NUL byte", stdin="x\x00+1"),
    "nul-at-stdin-expression": Case(("gradient", "-", "--at", "1"), "NUL byte", stdin=b"x\x00"),
    "binary-stdin": Case(("gradient", "-", "--at", "1"), "not UTF-8", stdin=b"\xff\xfe\x00x"),
    "at-nul-like": at("x=1\x01", "control character"),
    "hex": grad("0x10*x", needle="hexadecimal"),
    "complex-literal": grad("1j*x", needle="complex literals"),
    "ellipsis": grad("...", needle="literals"),
    "true": grad("True*x", needle="True/False"),
    "none": grad("None", needle="literals"),
    "bad-decimal": grad("1..2*x", needle="syntax error"),
    "bad-exponent": grad("1e*x", needle="syntax error"),
    "at-empty": at("", "no value for 'x'"),
    "at-syntax": at("x=(1", "syntax error"),
    "at-dangling": at("x=1,,", "syntax error"),
    "v-empty": Case(("vjp", "x, x", "--at", "1", "--v", ""), "--v has 0 values"),
}

# ---------------------------------------------------------------------------
# Semantic errors.
# ---------------------------------------------------------------------------

SEMANTIC: dict[str, Case] = {
    "unknown-function-suggestion": grad("sni(x)", needle="did you mean 'sin'"),
    "unknown-function-list": grad("gamma(x)", needle="the functions are"),
    "undefined-max": grad("max(log(x, 1))", needle="undefined"),
    "non-real-comparison": grad("where(x > acos(2), x, 0)", needle="needs real numbers"),
    "arity-sin": grad("sin(x, x)", needle="sin() takes 1 argument, got 2"),
    "arity-atan2": grad("atan2(x)", needle="atan2() takes 2 arguments"),
    "arity-log": grad("log(x, 2, 3)", needle="log() takes 1 to 2 arguments"),
    "arity-where": grad("where(x > 0, x)", needle="where() takes 3 arguments"),
    "function-as-value": grad("sin * x", needle="'sin' is a function"),
    "comparison-outside-where": grad("x > 1", needle="only allowed as the condition"),
    "not-outside-where": grad("not x", needle="only allowed in the condition"),
    "modulo": grad("x % 2", needle="operator '%'"),
    "floor-division": grad("x // 2", needle="operator '//'"),
    "shift": grad("x << 1", needle="operator '<<'"),
    "bitand": grad("x & 1", needle="operator '&'"),
    "invert": grad("~x", needle="'~'"),
    "gradient-of-vector": Case(("gradient", "x, x**2", "--at", "1"), "needs a scalar expression"),
    "gradient-of-array": Case(("gradient", "[[x], [x]]", "--at", "1"), "needs a scalar expression"),
    "reserved-binding": grad("e = x; e", needle="reserved name"),
    "double-binding": grad("y = x; y = 2*x; y", needle="bound twice"),
    "use-before-binding": grad("z = y; y = x; z", needle="used before it is bound"),
    "bare-statement-first": grad("x; x", needle="only the last statement"),
    "index-scalar": grad("x[0]", needle="cannot index a scalar"),
    "index-out-of-range": at("x=[1,2]", "index out of range", expr="x[5]"),
    "index-non-integer": at("x=[1,2]", "indices must be integer constants", expr="x[0.5]"),
    "index-variable": at("x=[1,2]", "not a constant", expr="x[x]"),
    "dot-shapes": at("a=[1,2], b=[1,2,3]", "dot needs two vectors", expr="dot(a, b)"),
    "matmul-shapes": at("A=[[1,2],[3,4]], B=[[1,2,3]]", "do not match", expr="sum(A@B)"),
    "matmul-scalar": grad("x@x", needle="@ needs arrays"),
    "broadcast-shapes": at("a=[1,2], b=[1,2,3]", "do not broadcast", expr="sum(a+b)"),
    "ragged-array": at("x=[[1,2],[3]]", "element 2 has shape"),
    "empty-array": at("x=[]", "empty array"),
    "at-too-many": at("1,2", "2 positional values but there are 1 variables"),
    "at-missing": Case(("gradient", "x*y", "--at", "1"), "no value for 'y'"),
    "at-unknown-name": at("z=1", "not a variable of the expression"),
    "at-duplicate-name": at("x=1, x=2", "gives 'x' twice"),
    "at-position-and-name": Case(("gradient", "x*y", "--at", "1, x=2"), "twice"),
    "at-non-numeric": at("x=abc", "not a constant"),
    "at-division-by-zero": at("x=1/0", "infinite or undefined"),
    "at-log-zero": at("x=log(0)", "infinite or undefined"),
    "at-complex": at("x=sqrt(-1)", "not real"),
    "at-log-negative": at("x=log(-1)", "not real"),
    "at-wrong-shape": Case(("gradient", "dot(a, a)", "--at", "a=1"), "dot needs two vectors"),
    "v-too-short": Case(("vjp", "x, y", "--at", "1,2", "--v", "1"), "--v has 1 value but vjp needs 2"),
    "v-too-long": Case(("jvp", "x*y", "--at", "1,2", "--v", "1,2,3"), "--v has 3 values but jvp needs 2"),
    "v-non-numeric": Case(("vjp", "x", "--at", "1", "--v", "y"), "not a constant"),
    "v-infinite": Case(("vjp", "x", "--at", "1", "--v", "1/0"), "infinite or undefined"),
    "wrt-absent": Case(("gradient", "x", "--at", "1", "--wrt", "z"), "not a variable of the expression"),
    "wrt-duplicate": Case(("gradient", "x*y", "--at", "1,2", "--wrt", "x,x"), "more than once"),
    "wrt-empty": Case(("gradient", "x", "--at", "1", "--wrt", ""), "not a variable"),
    "format-xml": Case(("gradient", "x", "--at", "1", "--format", "xml"), "'xml' is not one of"),
    "digits-negative": Case(("gradient", "x", "--at", "1", "--digits", "-3"), "--digits"),
    "digits-huge": Case(("gradient", "x", "--at", "1", "--digits", "1000"), "--digits"),
    "digits-text": Case(("gradient", "x", "--at", "1", "--digits", "many"), "--digits"),
    "dtype-int8": Case(("gradient", "x", "--at", "1", "--dtype", "int8"), "'int8' is not one of"),
    "mode-sideways": Case(("jacobian", "x", "--at", "1", "--mode", "sideways"), "'sideways' is not one of"),
    "device-tpu": Case(("gradient", "x", "--at", "1", "--device", "tpu"), "'tpu' is not one of"),
    "unknown-command": Case(("frobnicate", "x"), "No such command"),
    "unknown-option": Case(("gradient", "x", "--at", "1", "--bogus"), "No such option"),
    "missing-expression": Case(("gradient",), "Missing argument"),
    "missing-v": Case(("vjp", "x", "--at", "1"), "Missing option"),
    "exact-without-symbolic": Case(("gradient", "x", "--at", "1", "--exact", "--no-symbolic"), "--exact needs"),
}

# ---------------------------------------------------------------------------
# Points files (--points).
# ---------------------------------------------------------------------------

POINTS: dict[str, Case] = {
    "points-missing-file": Case(("gradient", "x*y", "--points", "{dir}/absent.csv"), "absent.csv"),
    "points-directory": Case(("gradient", "x*y", "--points", "{dir}"), "points"),
    "points-binary": Case(
        ("gradient", "x*y", "--points", "{dir}/p.bin"), "not a text file", files={"p.bin": b"\x00\xff\xfe\x01" * 100}
    ),
    "points-ragged": Case(("gradient", "x*y", "--points", "{dir}/p.csv"), "row", files={"p.csv": b"1,2\n3\n"}),
    "points-injection": Case(
        ("gradient", "x*y", "--points", "{dir}/p.csv"),
        "is not a number",
        files={"p.csv": b"x,y\n__import__('os').system('touch {canary}'),1\n"},
    ),
    "points-unknown-header": Case(("gradient", "x*y", "--points", "{dir}/p.csv"), "z", files={"p.csv": b"x,z\n1,2\n"}),
    "points-text-value": Case(
        ("gradient", "x*y", "--points", "{dir}/p.csv"), "neither a number", files={"p.csv": b"1,abc\n"}
    ),
}

CORPUS: dict[str, Case] = INJECTIONS | RESOURCES | MALFORMED | SEMANTIC | POINTS


def _fill(text: str, canary: Path, directory: Path) -> str:
    return text.replace("{canary}", str(canary)).replace("{dir}", str(directory))


def run_case(case: Case, tmp_path: Path) -> tuple[Outcome, float, Path]:
    canary = tmp_path / "canary"
    for name, data in case.files.items():
        (tmp_path / name).write_bytes(data.replace(b"{canary}", str(canary).encode()))
    argv = [_fill(a, canary, tmp_path) for a in case.argv]
    started = time.perf_counter()
    outcome = invoke_cli(*argv, input=case.stdin, env=case.env or None)
    return outcome, time.perf_counter() - started, canary


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 100
    assert len(INJECTIONS) + len(RESOURCES) + len(MALFORMED) + len(SEMANTIC) + len(POINTS) == len(CORPUS)


@pytest.mark.parametrize("name", list(CORPUS))
def test_hostile_input_is_a_clean_usage_error(name: str, tmp_path: Path) -> None:
    case = CORPUS[name]
    outcome, seconds, canary = run_case(case, tmp_path)
    assert_usage_error(outcome)
    first_line = outcome.stderr.splitlines()[0]
    assert case.needle.lower() in first_line.lower(), outcome.stderr[:2000]
    assert len(first_line) < 2000, "messages stay readable; huge input is never echoed whole"
    assert seconds < SECONDS, f"{name} took {seconds:.1f} s"
    assert not canary.exists(), "an injection attempt ran code"


@pytest.mark.parametrize("name", [n for n, c in CORPUS.items() if "{canary}" in "".join(c.argv) + str(c.files)])
def test_injection_cases_really_aim_at_the_canary(name: str, tmp_path: Path) -> None:
    """The canary check is only meaningful if the attempt names the canary path."""
    case = CORPUS[name]
    text = " ".join(_fill(a, tmp_path / "canary", tmp_path) for a in case.argv) + str(case.files)
    assert "canary" in text


def test_the_canary_would_be_seen(tmp_path: Path) -> None:
    """Control: the same file operation, done by Python itself, trips the check."""
    canary = tmp_path / "canary"
    with open(canary, "w"):
        pass
    assert canary.exists()


# ---------------------------------------------------------------------------
# Carets: where a column makes sense, the caret is under it.
# ---------------------------------------------------------------------------

CARETS = [
    ("x +* y", "1,2", 3),
    ("2×x", "1", 1),
    ("sin(x) + gamma(x)", "1", 9),
    ("x + y.real", "1,2", 4),
    ("x*9**9**9**9", "1", 5),  # 9**9**9 = 9**387420489 is the first part too large
    ("x + 'abc'", "1", 4),
    ("x*exp(exp(exp(100)))", "1", 6),
    ("[x, [x]]", "1", 4),
    ("sum(x) + x[7]", "x=[1,2]", 9),
]


@pytest.mark.parametrize(("expr", "point", "column"), CARETS)
def test_caret_points_at_the_problem(expr: str, point: str, column: int) -> None:
    outcome = invoke_cli("gradient", expr, "--at", point)
    assert_usage_error(outcome)
    lines = outcome.stderr.splitlines()
    assert lines[1] == f"  {expr}"
    assert lines[2] == "  " + " " * column + "^", outcome.stderr


def test_control_characters_are_not_echoed_raw() -> None:
    """An escape sequence in the expression must not reach the terminal through the error message."""
    outcome = invoke_cli("gradient", "x\x1b]0;pwned\x07+1", "--at", "1")
    assert_usage_error(outcome)
    assert "\x1b" not in outcome.stderr and "\x07" not in outcome.stderr
    assert outcome.stderr.splitlines()[1:] == ["  x?]0;pwned?+1", "   ^"]


def test_invisible_characters_are_shown_where_they_are() -> None:
    outcome = invoke_cli("gradient", "x\u200b+1", "--at", "1")
    assert_usage_error(outcome)
    assert "U+200B" in outcome.stderr.splitlines()[0]
    assert outcome.stderr.splitlines()[1:] == ["  x?+1", "   ^"]


# ---------------------------------------------------------------------------
# Domain problems are not errors: nan/inf, a warning, exit 0.
# ---------------------------------------------------------------------------

DOMAIN = [
    ("gradient", "log(x)", "-1"),
    ("gradient", "1/x", "0"),
    ("gradient", "sqrt(x)", "-4"),
    ("hessian", "log(x)*y", "-1,2"),
    ("jacobian", "x/y, log(y)", "1,0"),
    ("gradient", "exp(exp(x))", "1000"),
    ("gradient", "x*exp(1000)", "1"),
    ("gradient", "acos(x)", "2"),
]


@pytest.mark.parametrize(("command", "expr", "point"), DOMAIN)
def test_domain_problems_give_nan_or_inf_and_a_warning(command: str, expr: str, point: str) -> None:
    outcome = invoke_cli(command, expr, "--at", point, "--format", "json")
    assert outcome.exit_code == 0, outcome
    assert "null" in outcome.stdout
    assert outcome.stderr.startswith("jacli: warning:"), outcome.stderr
    assert "Traceback" not in outcome.stderr


# ---------------------------------------------------------------------------
# End to end: the real process, its real stdin.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "stdin", "needle"),
    [
        (("gradient", "__import__('os').system('touch {canary}')", "--at", "1"), b"", "only the functions"),
        (("gradient", "-", "--at", "1"), b"x\x00+1", "NUL byte"),
        (("gradient", "-", "--at", "x=open('{canary}', 'w')"), b"x\n", "unknown function 'open'"),
    ],
)
@pytest.mark.slow
def test_a_real_process_reports_cleanly(argv: tuple[str, ...], stdin: bytes, needle: str, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    done = subprocess.run(
        [sys.executable, "-m", "jacli", *(_fill(a, canary, tmp_path) for a in argv)],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
        env={**os.environ, "JACLI_SERVER": "off", "NO_COLOR": "1"},
    )
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert stderr.startswith("jacli: error: ") and needle in stderr.splitlines()[0], stderr
    assert "Traceback" not in stderr and done.stdout == b""
    assert not canary.exists()
