"""Every ```console block of README.md is run, and its output must match.

A block holds one or more ``$ command`` lines, each followed by what it prints
(stdout, then stderr). Commands are ``jacli …``, optionally fed by ``echo``,
``printf`` or ``seq`` through a pipe or by ``< FILE``; ``$ cat FILE`` followed by
lines creates that file for the commands after it. Blocks run in order in
one directory. Regenerate after an intended change with
``JACLI_UPDATE_README=1 pytest tests/test_readme.py``.
"""

from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import invoke_cli

README = Path(__file__).parent.parent / "README.md"
BLOCK = re.compile(r"```console\n(.*?)```", re.DOTALL)
ENV = {"COLUMNS": "80", "NO_COLOR": "1"}  # README examples fit an 80-column terminal


def console_blocks() -> list[str]:
    return BLOCK.findall(README.read_text())


def commands(block: str) -> list[tuple[str, str]]:
    """``[(command, expected output)]`` of one block."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines(keepends=True):
        if line.startswith("$ "):
            steps.append((line[2:].rstrip("\n"), []))
        else:
            assert steps, f"output before any command in:\n{block}"
            steps[-1][1].append(line)
    return [(command, "".join(lines)) for command, lines in steps]


def run_command(command: str, expected: str, directory: Path) -> str:
    """Run one README command in ``directory``; return what it printed."""
    if command.startswith("cat "):
        (directory / command[4:].strip()).write_text(expected)
        return expected
    stdin = None
    if " | jacli " in command:
        producer, _, command = command.partition(" | ")
        assert producer.split()[0] in {"echo", "printf", "seq"}, producer
        stdin = subprocess.run(["bash", "-c", producer], capture_output=True, check=True, cwd=directory).stdout
    args = shlex.split(command)
    if "<" in args:
        position = args.index("<")
        stdin = (directory / args[position + 1]).read_bytes()
        args = args[:position] + args[position + 2 :]
    assert args[0] == "jacli", command
    outcome = invoke_cli(*args[1:], input=stdin, env=ENV)
    return outcome.stdout + outcome.stderr


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for the whole README: a file made by one block serves the blocks after it."""
    return tmp_path_factory.mktemp("readme")


@pytest.mark.parametrize("block", console_blocks(), ids=lambda b: b.partition("\n")[0][2:60])
def test_readme_block(block: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    steps = commands(block)
    actual = [(command, run_command(command, expected, workdir)) for command, expected in steps]
    if os.environ.get("JACLI_UPDATE_README"):
        rebuilt = "".join(f"$ {command}\n{output}" for command, output in actual)
        README.write_text(README.read_text().replace(block, rebuilt, 1))
        return
    for (command, expected), (_, output) in zip(steps, actual, strict=True):
        assert output == expected, command


def test_readme_has_examples() -> None:
    assert len(console_blocks()) >= 20


def test_readme_python_examples() -> None:
    failures, tried = doctest.testfile(str(README), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried >= 5 and failures == 0
