"""Scripting conventions: data on stdout, diagnostics on stderr, colour only on a terminal,
`-` for stdin, Ctrl-C exits 130, a closed pipe exits quietly, and help on every command."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from conftest import Invoke, read_pty

from jacli import cli
from jacli.language import CONSTANTS, FUNCTIONS
from jacli.language.functions import reference_page
from jacli.quantities import QUANTITIES

LANGUAGE = reference_page()

ROOT = Path(__file__).resolve().parent.parent
ESC = "\x1b["
SEED = "2*x0+x1**2, x0**2+2*x1**3"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "TERM")}
    # JACLI_SERVER=off: these are about this process, not a warm server that may be running
    return {**env, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color", "JACLI_SERVER": "off", **extra}


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, command)] if path else []
    for name, sub in getattr(command, "commands", {}).items():
        found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(cli.click_command())
LEAVES = [(path, command) for path, command in COMMANDS if not isinstance(command, click.Group)]

# ---------------------------------------------------------------------------
# stdout is for data, stderr for diagnostics.
# ---------------------------------------------------------------------------


def test_data_on_stdout_warnings_on_stderr(jacli: Invoke) -> None:
    out = jacli("gradient", "sqrt(x)", "--at", "-1", "--format", "json")
    assert out.exit_code == 0
    assert json.loads(out.stdout)["result"] == [None]  # the data, still parseable
    assert out.stderr.startswith("jacli: warning: ") and "nan" in out.stderr


def test_errors_leave_stdout_empty(jacli: Invoke) -> None:
    out = jacli("gradient", "x +* y", "--at", "1,2", "--format", "json")
    assert out.exit_code == 2 and out.stdout == "" and out.stderr.startswith("jacli: error: ")


def test_bare_jacli_is_a_usage_error_with_the_help_on_stderr(jacli: Invoke) -> None:
    out = jacli()
    assert out.exit_code == 2 and out.stdout == ""
    assert out.stderr.startswith("jacli: error: missing command\n") and "Usage: jacli" in out.stderr


def test_help_and_version_go_to_stdout(jacli: Invoke) -> None:
    for args in (["--help"], ["jacobian", "--help"], ["--version"], ["language"]):
        out = jacli(*args)
        assert out.exit_code == 0 and out.stdout and out.stderr == "", args


# ---------------------------------------------------------------------------
# Colour: none through a pipe or with NO_COLOR; --color/--no-color force it.
# ---------------------------------------------------------------------------


def test_no_escape_codes_through_a_pipe(jacli: Invoke) -> None:
    out = jacli("jacobian", SEED, "--at", "1,2")
    assert out.exit_code == 0 and "24" in out.stdout
    assert ESC not in out.stdout and ESC not in out.stderr


def test_color_forces_escape_codes_and_no_color_wins_over_it(jacli: Invoke) -> None:
    forced = jacli("--color", "jacobian", SEED, "--at", "1,2", env={"NO_COLOR": "1"})
    assert forced.exit_code == 0 and ESC in forced.stdout
    plain = jacli("--no-color", "jacobian", SEED, "--at", "1,2")
    assert plain.exit_code == 0 and ESC not in plain.stdout
    # the same text, only coloured (trailing blanks may sit inside escape codes)
    assert [line.rstrip() for line in _strip_ansi(forced.stdout).splitlines()] == plain.stdout.splitlines()


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _on_a_terminal(args: list[str], **env: str) -> str:
    """stdout (a pseudo-terminal) of ``python -m jacli ARGS``; stderr is a pipe."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "jacli", *args], stdout=terminal, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, env=_env(COLUMNS="100", **env), cwd=ROOT)  # fmt: skip
    os.close(terminal)
    output = read_pty(controller)
    assert process.wait(timeout=120) == 0, process.stderr.read() if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    return output.decode()


@pytest.mark.slow
def test_colour_on_a_terminal_unless_no_color_or_no_color_flag() -> None:
    args = ["gradient", "x*y", "--at", "1,2"]
    assert ESC in _on_a_terminal(args)
    assert ESC not in _on_a_terminal(args, NO_COLOR="1")
    assert ESC not in _on_a_terminal(["--no-color", *args])
    assert ESC not in _on_a_terminal(args, TERM="dumb")


@pytest.mark.slow
def test_help_is_rich_on_a_colour_terminal_and_plain_otherwise(jacli: Invoke) -> None:
    rich_help = _on_a_terminal(["jacobian", "--help"])
    assert "╭" in rich_help and ESC in rich_help  # Typer's panels
    for plain in (_on_a_terminal(["jacobian", "--help"], NO_COLOR="1"), _on_a_terminal(["--no-color", "--help"])):
        assert "╭" not in plain and ESC not in plain and plain.lstrip().startswith("Usage: jacli")
    piped = jacli("jacobian", "--help").stdout
    assert piped.startswith("Usage: jacli jacobian [OPTIONS] EXPR") and "╭" not in piped and ESC not in piped


# ---------------------------------------------------------------------------
# `-` reads stdin wherever an expression or a file is read.
# ---------------------------------------------------------------------------


def _minimal_args(command: click.Command) -> list[str]:
    names = {param.name for param in command.params}
    args = ["--at", "1,2", "--format", "json"] if "output" in names else ["--at", "1,2"]
    args += ["--order", "2"] if "order" in names else []  # derivative needs its order
    return [*args, "--v", "ones"] if "v" in names else args


def test_dash_reads_the_expression_from_stdin_in_every_command(jacli: Invoke) -> None:
    with_expr = [(path, command) for path, command in LEAVES if any(p.name == "expr" for p in command.params)]
    assert {path[-1] for path, _ in with_expr} >= {"jacobian", "gradient", "hessian", "vjp", "jvp"}
    for path, command in with_expr:
        args = _minimal_args(command)
        quantity = QUANTITIES.get(path[-1])
        # a field (divergence, curl) for a quantity whose shape rule refuses a scalar f
        field = quantity is not None and quantity.misfit(outputs=1, inputs=2) is not None
        expr = "x0*x1 + x1**2, x0**2" if field else "x0*x1 + x1**2"
        literal = jacli(*path, expr, *args)
        piped = jacli(*path, "-", *args, input=expr + "\n")
        assert literal.exit_code in (0, 1) and literal.stdout, (path, literal)
        assert (piped.exit_code, piped.stdout, piped.stderr) == (literal.exit_code, literal.stdout, literal.stderr), (
            path
        )


def test_dash_reads_points_from_stdin(jacli: Invoke) -> None:
    jacobian = dict(LEAVES)[("jacobian",)]
    if not any(p.name == "points" for p in jacobian.params):
        pytest.skip("no --points option yet")
    out = jacli("jacobian", "x0*x1", "--points", "-", "--format", "json", input="x0,x1\n1,2\n3,4\n")
    assert out.exit_code == 0, out
    assert [json.loads(line)["result"] for line in out.stdout.splitlines()] == [[[2.0, 1.0]], [[4.0, 3.0]]]


# ---------------------------------------------------------------------------
# Ctrl-C and closed pipes, in real processes.
# ---------------------------------------------------------------------------


def _blocked_reading_stdin(pid: int, timeout: float = 120.0) -> bool:
    """Linux: wait until ``pid`` sits in read(0, …), i.e. has finished starting up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            syscall = Path(f"/proc/{pid}/syscall").read_text()
        except OSError:
            return False
        if syscall.startswith("0 0x0 "):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("entry", ["console", "python -m"])
def test_ctrl_c_exits_130_without_a_traceback(entry: str) -> None:
    script = Path(sys.executable).parent / "jacli"
    if entry == "console" and not script.exists():
        pytest.skip("console script not installed")
    argv = [str(script)] if entry == "console" else [sys.executable, "-m", "jacli"]
    process = subprocess.Popen([*argv, "gradient", "-", "--at", "1,2"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), cwd=ROOT)  # fmt: skip
    try:
        if not _blocked_reading_stdin(process.pid):
            pytest.skip("cannot see the process block on stdin (/proc/PID/syscall)")
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130
    assert b"Traceback" not in stderr and b"KeyboardInterrupt" not in stderr
    assert stdout == b""


def _into_a_closed_pipe(args: list[str]) -> tuple[int, str]:
    """Run jacli with stdout a pipe whose reader has already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    done = subprocess.run([sys.executable, "-m", "jacli", *args], stdout=write_end, stderr=subprocess.PIPE,
                          env=_env(), cwd=ROOT, check=False)  # fmt: skip
    os.close(write_end)
    return done.returncode, done.stderr.decode()


BIG_POINT = "x=[" + ",".join(str(i) for i in range(200)) + "]"


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["jacobian", "x*x", "--at", BIG_POINT, "--format", "json", "--no-symbolic"],  # fails while writing
        ["gradient", "x*y", "--at", "1,2", "--format", "json"],  # fails at the final flush
        ["--help"],
        ["language"],
    ],
    ids=["large json", "small json", "--help", "language"],
)
def test_a_closed_pipe_exits_quietly(args: list[str]) -> None:
    status, stderr = _into_a_closed_pipe(args)
    assert stderr == ""
    assert status == 141  # 128 + SIGPIPE, what `yes | head -1` reports for yes


@pytest.mark.slow
def test_head_dash_1_in_a_shell() -> None:
    quoted = f"'{sys.executable}' -m jacli jacobian 'x*x' --at '{BIG_POINT}' --format csv --no-symbolic"
    done = subprocess.run(["sh", "-c", f"{quoted} 2>&1 | head -1"], capture_output=True, text=True, env=_env(),
                          cwd=ROOT, check=False)  # fmt: skip
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("0") and len(done.stdout.splitlines()) == 1  # only the data, no complaint


# ---------------------------------------------------------------------------
# Help text: a summary and an example on every command; the language reachable.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_a_summary_and_an_example(path: tuple[str, ...], command: click.Command) -> None:
    summary = command.get_short_help_str(limit=200)
    assert summary and not summary.endswith("..."), f"{' '.join(path)}: no one-line summary"
    assert command.epilog and f"Example: jacli {' '.join(path)}" in command.epilog, (
        f"{' '.join(path)}: the epilog needs 'Example: jacli {' '.join(path)} …'"
    )


def test_arguments_have_help(jacli: Invoke) -> None:
    """Typer < 0.26 loses Argument(help=…) under Click 8.5; the CLI restores it, once."""
    out = jacli("jacobian", "--help")
    assert "The expression, or - to read it from stdin." in out.stdout
    assert out.stdout.count("EXPR  ") == 1


def test_the_language_reference_is_reachable_and_complete(jacli: Invoke) -> None:
    assert "jacli language" in jacli("--help").stdout
    page = jacli("language")
    assert page.exit_code == 0 and page.stdout == LANGUAGE
    # the page generated from the function table, byte for byte as it was written by hand
    assert LANGUAGE == (ROOT / "tests" / "golden" / "language.txt").read_text(encoding="utf-8")

    words = set(LANGUAGE.replace("(", " ").replace(")", " ").replace(",", " ").split())
    assert set(FUNCTIONS) - words == set(), "functions missing from `jacli language`"
    assert set(CONSTANTS) <= words


def test_the_language_examples_run(jacli: Invoke) -> None:
    import shlex

    lines = [line.strip() for line in LANGUAGE.splitlines()]
    examples = [(line, None) for line in lines if line.startswith("jacli ")]
    for line in lines:
        if line.startswith("echo ") and "| jacli " in line:
            echo, command = line.split("|", 1)
            examples.append((command.strip(), shlex.split(echo)[1] + "\n"))
    assert len(examples) >= 6 and any(stdin for _, stdin in examples)
    for example, stdin in examples:
        command, *args = shlex.split(example)[1:]
        out = jacli(command, "--format", "json", *args, input=stdin)
        assert out.exit_code == 0 and out.stderr == "", (example, out)
