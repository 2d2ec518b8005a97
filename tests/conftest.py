"""Shared fixtures: run the CLI in-process with captured stdout, stderr and stdin.

Property tests are deterministic by default (hypothesis profile ``deterministic``:
the same examples on every run and machine, no example database to replay an old
failure, the reproducing blob printed on failure). ``JACLI_HYPOTHESIS=random``
opts into random exploration (fresh examples each run, still no database).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pytest
from click.testing import CliRunner
from hypothesis import settings

from jacli import cli

HYPOTHESIS_ENV = "JACLI_HYPOTHESIS"
settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True, deadline=None)
settings.register_profile("random", derandomize=False, database=None, print_blob=True, deadline=None)
settings.load_profile(os.environ.get(HYPOTHESIS_ENV, "deterministic"))


@dataclass(frozen=True)
class Outcome:
    """What one ``jacli`` invocation printed and returned."""

    exit_code: int
    stdout: str
    stderr: str


Invoke = Callable[..., Outcome]


def invoke_cli(*args: str, input: str | bytes | None = None, env: Mapping[str, str | None] | None = None) -> Outcome:
    """Run ``jacli ARGS`` through :func:`jacli.cli.run`, exactly as the console script does."""
    runner = CliRunner()
    with runner.isolation(input=input, env=env) as (out, err, _):
        code = cli.run(list(args))
    return Outcome(int(code), out.getvalue().decode(), err.getvalue().decode())


@pytest.fixture
def jacli() -> Invoke:
    """``jacli("jacobian", "x*y", "--at", "1,2")`` -> :class:`Outcome`."""
    return invoke_cli


def assert_usage_error(outcome: Outcome) -> None:
    """Exit 2, a first stderr line ``jacli: error: …``, no traceback, nothing on stdout."""
    assert outcome.exit_code == 2, outcome
    assert outcome.stderr.startswith("jacli: error: "), outcome.stderr
    assert "Traceback" not in outcome.stderr
    assert outcome.stdout == ""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite tests/golden/* from current output")


# Modules whose every test starts real processes (a warm server, a fresh interpreter): the slow tier.
_SLOW_MODULES = frozenset({"test_server.py", "test_server_robust.py"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of :data:`_SLOW_MODULES` ``slow``, so ``pytest -m "not slow"`` is the fast tier."""
    for item in items:
        if item.path.name in _SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
