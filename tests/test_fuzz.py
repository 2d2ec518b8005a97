"""Fuzzing (issue 4): random text and token soups against the parser and the CLI.

The only outcomes allowed: success, or a clean usage error (exit 2, ``jacli:
error: …``, no traceback); every case bounded in time. ``JACLI_FUZZ_EXAMPLES``
raises the number of examples for a long session, e.g.
``JACLI_FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py``.
"""

from __future__ import annotations

import os
import time

from conftest import Outcome, invoke_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jacli import language
from jacli.errors import JacliError, UsageError

EXAMPLES = int(os.environ.get("JACLI_FUZZ_EXAMPLES", "30"))
SECONDS = 30.0
"""Generous bound per case: the guards keep real cases to a few seconds."""

FUZZ = settings(
    deadline=None,
    max_examples=EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TOKENS = [
    # the language
    "x", "y", "x0", "x10", "A", "e", "pi", "0", "1", "2", "0.5", "3e2", "1e308", "1e-308", "10**30",
    "+", "-", "*", "/", "**", "^", "@", "(", ")", "[", "]", ",", ";", "\n", "=", "<", ">=", "==", "and", "or", "not",
    "sin", "exp", "log", "sqrt", "tan", "acos", "where", "sum", "dot", "max", "min", "detach", "floor", "abs",
    "sign", "relu", "atan2", "sigmoid", "softplus", "erf",
    # outside it
    "lambda", "import", "__import__", "__class__", ".", "'s'", "b'b'", "f'{x}'", ":", ":=", "if", "else", "for",
    "in", "%", "//", "~", "&", "|", "<<", "{", "}", "#", "\\", "0x1", "1j", "_", "...", "None", "True", "*", "**",
    "9**9**9", "exp(exp(exp(", "Symbol", "sympify", "open", "x.real", "2x",
    # look-alikes and control characters
    "×", "−", "１", "π", "²", "\x00", "\t", "\x1b", "\u200b", "х",
]  # fmt: skip

SEPARATORS = ["", " ", "", "(", ")", ","]


@st.composite
def token_soups(draw: st.DrawFn) -> str:
    tokens = draw(st.lists(st.sampled_from(TOKENS), max_size=30))
    separators = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(tokens), max_size=len(tokens)))
    return "".join(t + s for t, s in zip(tokens, separators, strict=True))


LEAVES = ["x", "y", "x", "y", "0", "1", "2", "-1", "0.5", "pi", "e", "1e300", "10**30", "2**1000"]
UNARY = sorted(name for name, spec in language.FUNCTIONS.items() if spec.min_args == 1 and not spec.condition_arg)


def expressions() -> st.SearchStrategy[str]:
    """Mostly well-formed expressions that go deep: nested functions, powers, huge and tiny numbers."""

    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**", "^"]), children)
        return st.one_of(
            binary.map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
            st.tuples(st.sampled_from(UNARY), children).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(children, children).map(lambda t: f"where({t[0]} > {t[1]}, {t[0]}, {t[1]})"),
            st.tuples(children, children).map(lambda t: f"atan2({t[0]}, {t[1]})"),
            st.tuples(children, children).map(lambda t: f"log({t[0]}, {t[1]})"),
        )

    return st.recursive(st.sampled_from(LEAVES), extend, max_leaves=12)


VALUES = ["0", "1", "-1", "0.5", "2", "-3", "1e300", "-1e-300", "pi/4", "[1, 2]", "[[1, 0], [0, 1]]"]


def assert_clean(outcome: Outcome, seconds: float) -> None:
    """Success (maybe with warnings) or a clean usage error; never a traceback; bounded."""
    assert seconds < SECONDS, f"took {seconds:.1f} s"
    assert "Traceback" not in outcome.stderr
    if outcome.exit_code == 0:  # diagnostics only: warnings, and notes such as a skipped symbolic form
        lines = outcome.stderr.splitlines()
        assert all(line.startswith(("jacli: warning: ", "jacli: note: ")) for line in lines), outcome.stderr
    else:
        assert outcome.exit_code == 2, outcome
        assert outcome.stderr.startswith("jacli: error: "), outcome.stderr
        assert outcome.stdout == ""


def run(*argv: str, stdin: str | None = None) -> None:
    started = time.perf_counter()
    outcome = invoke_cli(*argv, input=stdin)
    assert_clean(outcome, time.perf_counter() - started)


def point_for(text: str, values: list[str]) -> str:
    """``--at`` for the names that ``text`` parses to (or a plain value if it does not parse)."""
    try:
        names = language.parse_expression(text).names
    except UsageError:
        return values[0]
    return ", ".join(f"{name}={values[i % len(values)]}" for i, name in enumerate(names))


# ---------------------------------------------------------------------------
# The parser alone.
# ---------------------------------------------------------------------------


def _parse_only(text: str) -> None:
    started = time.perf_counter()
    try:
        parsed = language.parse_expression(text)
    except JacliError as err:
        assert isinstance(err, UsageError)
    else:
        assert all(isinstance(n, str) and n.isidentifier() for n in parsed.names)
    assert time.perf_counter() - started < SECONDS


@FUZZ
@given(text=st.text(max_size=80))
def test_parser_on_random_text(text: str) -> None:
    _parse_only(text)


@FUZZ
@given(text=token_soups())
def test_parser_on_token_soups(text: str) -> None:
    _parse_only(text)


@FUZZ
@given(text=st.one_of(st.text(max_size=40), token_soups()))
def test_point_parser_on_random_text(text: str) -> None:
    try:
        assignments = language.parse_assignments(text)
    except JacliError as err:
        assert isinstance(err, UsageError)
    else:
        for value in list(assignments.positional) + list(assignments.named.values()):
            assert all(element.is_number for element in value.flat)


# ---------------------------------------------------------------------------
# The whole CLI.
# ---------------------------------------------------------------------------


@FUZZ
@given(
    text=token_soups(),
    command=st.sampled_from(["gradient", "jacobian", "hessian"]),
    values=st.lists(st.sampled_from(VALUES), min_size=1, max_size=3),
)
def test_cli_on_token_soups(text: str, command: str, values: list[str]) -> None:
    run(command, "-", "--at", point_for(text, values), "--format", "json", stdin=text)


@FUZZ
@given(
    text=expressions(),
    command=st.sampled_from(["gradient", "jacobian", "hessian", "vjp", "jvp"]),
    values=st.lists(st.sampled_from(VALUES[:8]), min_size=2, max_size=2),
    exact=st.booleans(),
    output=st.sampled_from(["json", "table", "csv"]),
)
def test_cli_on_deep_expressions(text: str, command: str, values: list[str], exact: bool, output: str) -> None:
    argv = [command, text, "--at", point_for(text, values), "--format", output]
    if command in ("vjp", "jvp"):
        argv += ["--v", "ones"]
    if exact:
        argv.append("--exact")
    run(*argv)


@FUZZ
@given(at=st.one_of(st.text(max_size=40), token_soups()), v=st.one_of(st.text(max_size=20), token_soups()))
def test_cli_on_random_points_and_vectors(at: str, v: str) -> None:
    run("vjp", "x*y, x+y", "--at", at, "--v", v, "--format", "json")


@FUZZ
@given(wrt=st.one_of(st.text(max_size=20), token_soups()))
def test_cli_on_random_wrt(wrt: str) -> None:
    run("gradient", "x*y + z", "--at", "x=1, y=2, z=3", "--wrt", wrt, "--format", "json")
