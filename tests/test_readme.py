"""Every ```console block of README.md is run, and its output must match.

A block starts with ``$ jacli …`` (optionally ``echo …``/``printf …`` piped into
jacli); the lines after it are the expected stdout. Regenerate after an
intended change with ``JACLI_UPDATE_README=1 pytest tests/test_readme.py``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import invoke_cli

README = Path(__file__).parent.parent / "README.md"
BLOCK = re.compile(r"```console\n(.*?)```", re.DOTALL)
ENV = {"COLUMNS": "90", "NO_COLOR": "1"}


def console_blocks() -> list[str]:
    return BLOCK.findall(README.read_text())


def run_block(block: str) -> tuple[str, str]:
    """Run the command of a block; return (expected, actual) stdout."""
    command, _, expected = block.partition("\n")
    assert command.startswith("$ "), block
    pipeline = command[2:]
    stdin = None
    if " | jacli " in pipeline:
        producer, _, pipeline = pipeline.partition(" | ")
        stdin = subprocess.run(["bash", "-c", producer], capture_output=True, check=True).stdout
    args = shlex.split(pipeline)
    assert args[0] == "jacli", command
    outcome = invoke_cli(*args[1:], input=stdin, env=ENV)
    assert outcome.exit_code in (0, 1), outcome.stderr
    return expected, outcome.stdout


@pytest.mark.parametrize("block", console_blocks(), ids=lambda b: b.partition("\n")[0][2:60])
def test_readme_block(block: str) -> None:
    expected, actual = run_block(block)
    if os.environ.get("JACLI_UPDATE_README"):
        text = README.read_text()
        command = block.partition("\n")[0]
        README.write_text(text.replace(block, f"{command}\n{actual}", 1))
        return
    assert actual == expected


def test_readme_has_examples() -> None:
    assert len(console_blocks()) >= 10
