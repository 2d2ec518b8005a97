"""``jacli.limits``: every limit named and documented in one module; the environment read once per command."""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest
from conftest import assert_usage_error, invoke_cli

from jacli import cli, limits
from jacli.errors import UsageError

PACKAGE = Path(limits.__file__).parent
SOURCE = Path(limits.__file__).read_text(encoding="utf-8")


def _constants(tree: ast.Module) -> dict[str, ast.stmt | None]:
    """Each module-level UPPER_CASE name assigned in ``tree`` -> the statement after it (None at the end)."""
    found: dict[str, ast.stmt | None] = {}
    for node, after in zip(tree.body, [*tree.body[1:], None], strict=True):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found.update((t.id, after) for t in targets if isinstance(t, ast.Name) and t.id.isupper())
    return found


def test_every_limit_has_a_docstring() -> None:
    constants = _constants(ast.parse(SOURCE))
    assert len(constants) > 40
    for name, after in constants.items():
        doc = after.value.value if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) else None
        assert isinstance(doc, str) and len(doc.split()) >= 4, f"{name} has no docstring"


# Names that say "this is a limit"; a module defining one of its own belongs in limits.py instead.
LIMIT_NAME = re.compile(r"^(MAX|DEFAULT)_|_(TIMEOUT|LIMIT|CHUNK|BYTES|ELEMENTS|ROWS|INPUTS|LINES|SECONDS)$")
# language's limits move in with the language package (their own section); the wire protocol stays stdlib-only.
OWN_LIMITS = {"language.py", "protocol.py"}


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_defines_its_own_limit(path: Path) -> None:
    if path.name in OWN_LIMITS or path.name == "limits.py":
        return
    own = sorted(name for name in _constants(ast.parse(path.read_text(encoding="utf-8"))) if LIMIT_NAME.search(name))
    assert own == [], f"{path.name} defines {own}: name them in jacli/limits.py and import them"


# ---------------------------------------------------------------------------
# Settings: the environment variables, checked where they are used.
# ---------------------------------------------------------------------------

BUDGET_ERROR = "JACLI_TIME_BUDGET must be a number of seconds in (0, 86400], not {!r}"


@pytest.mark.parametrize("text", ["abc", "0", "-1", "nan", "inf", "1e300", "86400.5"])
def test_a_bad_time_budget_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        _ = limits.Settings(time_budget_text=text).time_budget
    assert str(caught.value) == BUDGET_ERROR.format(text)


def test_time_budget_values() -> None:
    assert limits.Settings().time_budget is None  # unset: the default, MAX_SYMBOLIC_SECONDS
    assert limits.Settings(time_budget_text="  ").time_budget is None
    assert limits.Settings(time_budget_text=" 2.5 ").time_budget == 2.5
    assert limits.Settings(time_budget_text="86400").time_budget == limits.MAX_BUDGET_SECONDS


def test_one_bad_variable_fails_only_what_reads_it() -> None:
    both = limits.Settings.from_environ({"JACLI_TIME_BUDGET": "soon", "JACLI_SERVER_IDLE_TIMEOUT": " 60 "})
    assert both.server_idle_timeout == "60"  # `jacli server start` still works with a bad budget
    assert both.symengine is True
    assert limits.Settings(server_idle_timeout_text="  ").server_idle_timeout is None
    assert limits.Settings(symengine_text="off").symengine is False


def test_a_bad_time_budget_is_one_error_line_and_exit_2() -> None:
    outcome = invoke_cli("gradient", "x*y", "--at", "1,2", env={"JACLI_TIME_BUDGET": "soon"})
    assert_usage_error(outcome)
    assert outcome.stderr == "jacli: error: " + BUDGET_ERROR.format("soon") + "\n"


# ---------------------------------------------------------------------------
# Read once per command.
# ---------------------------------------------------------------------------

SETTINGS_NAMES = (limits.TIME_BUDGET_ENV, limits.SYMENGINE_ENV, limits.SERVER_IDLE_TIMEOUT_ENV)


class _ChangingEnviron(dict[str, str]):
    """An environment that counts the reads of jacli's settings and spoils each one once it is read."""

    def __init__(self, base: dict[str, str]) -> None:
        super().__init__(base)
        self.reads = dict.fromkeys(SETTINGS_NAMES, 0)

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        value = super().get(key, default)
        if key in self.reads:
            self.reads[key] += 1
            self[key] = "spoiled"  # a second read would find a bad value: exit 2
        return value


def test_one_command_reads_each_setting_once(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    # check uses the budget for its exact column and again for each derivative (before: one read each)
    environ = _ChangingEnviron({**os.environ, "JACLI_TIME_BUDGET": "600", "NO_COLOR": "1"})  # never spent here
    monkeypatch.setattr(os, "environ", environ)
    code = cli.run(["check", "sin(x)*y, x**2*exp(y)", "--at", "1,2", "--format", "json"])
    out = capsys.readouterr()
    assert (code, out.err) == (0, "")
    assert environ.reads[limits.TIME_BUDGET_ENV] == 1
    assert max(environ.reads.values()) == 1


def test_reset_reads_the_environment_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JACLI_TIME_BUDGET", "3")
    monkeypatch.setenv("JACLI_SYMENGINE", "off")
    first = limits.settings()
    monkeypatch.setenv("JACLI_TIME_BUDGET", "4")
    monkeypatch.delenv("JACLI_SYMENGINE")
    assert limits.settings() is first and (first.time_budget, first.symengine) == (3.0, False)
    limits.reset()  # the server's child, once it has taken the client's environment
    assert (limits.settings().time_budget, limits.settings().symengine) == (4.0, True)
