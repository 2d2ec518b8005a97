"""``jacli NAME …`` builds a root holding only that command (issue 16's cold start): byte-identical runs.

Each case runs in-process through the funnel twice, once through the one-command root that
:func:`jacli.cli.program` now builds and once through the whole tree, and must print the same
bytes with the same status: help, Click's usage errors and suggestions, a real answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
import pytest
from click.testing import CliRunner

from jacli import cli, limits, terminal, typer_compat

FULL = cli.click_command()
NAMES = [name for name, command in FULL.commands.items() if not isinstance(command, click.Group)]
GROUPS = [name for name, command in FULL.commands.items() if isinstance(command, click.Group)]


def _whole_tree(args: list[str]) -> Any:
    if typer_compat.completion_option(args):
        return typer_compat.completion_request(args)
    return typer_compat.main(cli.click_command(), args)


def _outcome(program: Callable[[list[str]], Any], args: list[str]) -> tuple[int, str, str]:
    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        limits.reset()
        try:
            code = terminal.run(args, program=program)
        finally:
            limits.reset()
    return int(code), out.getvalue().decode(), err.getvalue().decode()


CASES = [["--help"], ["-h"], [], ["--bogus"], ["x", "--format", "xml"], ["x", "--fo", "json"], ["x", "--at"],
         ["x", "y", "--at", "1"], ["x", "--version"]]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_a_command_alone_prints_what_the_whole_tree_prints(name: str) -> None:
    assert set(cli.click_command([name]).commands) == {name}
    for case in CASES:
        args = [name, *case]
        assert _outcome(cli.program, args) == _outcome(_whole_tree, args), args


@pytest.mark.parametrize(
    "args",
    [
        ["jacobian", "2*x0+x1**2, x0**2+2*x1**3", "--at", "1,2"],
        ["hessian", "x*y**2", "--at", "1,2", "--format", "json"],
        ["taylor", "exp(x)", "--at", "0", "--order", "2"],
        ["jacobian", "x*y", "--at", "1,2", "--at", "3,4", "--format", "csv"],
        ["jvp", "x*y, x+y", "--v", "1,0", "--at", "1,2", "--exact"],
    ],
    ids=["seed table", "hessian json", "taylor", "two --at csv", "jvp exact"],
)
def test_answers_are_the_same_bytes(args: list[str]) -> None:
    single = _outcome(cli.program, args)
    assert single[0] == 0 and single == _outcome(_whole_tree, args)


@pytest.mark.parametrize(
    "args", [["--no-color", "jacobian"], ["--help"], ["jacobain"], *([name] for name in GROUPS)], ids=" ".join
)
def test_anything_else_gets_the_whole_tree(args: list[str]) -> None:
    """Root options first, a mistyped name (Click suggests from every name) or a group: all commands."""
    assert set(cli.click_command(args).commands) == set(FULL.commands)


def test_a_mistyped_name_is_still_suggested_from_every_command() -> None:
    status, out, err = _outcome(cli.program, ["jacobain", "x", "--at", "1"])
    assert (status, out) == (2, "") and "jacli: error: " in err and "jacobian" in err
