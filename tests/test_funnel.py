"""The one run funnel (jacli.terminal.run): every exit status decided in one table, the same everywhere.

The table is checked three ways: :func:`jacli.terminal.status_of` itself, a
command that raises in-process (``cli.run``, what tests and the server call),
and the console script's own path (``jacli.entry.main`` in a fresh interpreter).
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from conftest import Invoke

from jacli import terminal
from jacli.errors import CheckFailed, ExitCode, OutputError, ServerKilled, ServerLost, UsageError
from jacli.server import child, client, protocol

ROOT = Path(__file__).resolve().parent.parent
TORCH_OOM = "DefaultCPUAllocator: can't allocate memory: you tried to allocate 80000000000 bytes"
NESTED = "jacli: error: the expression is nested too deeply to differentiate\n"
OOM = f"jacli: error: {terminal.OUT_OF_MEMORY}\n"

# What a command may raise -> (exit status, stderr). Written as source, so a fresh interpreter can raise it too.
TABLE = {
    "usage": ("UsageError(\"no value for 'y'\")", ExitCode.USAGE, "jacli: error: no value for 'y'\n"),
    "usage-details": ('UsageError("bad", details=["  x", "  ^"])', ExitCode.USAGE, "jacli: error: bad\n  x\n  ^\n"),
    "check-failed": (
        'CheckFailed("check failed")',
        ExitCode.CHECK_FAILED,
        "jacli: error: check failed\n",
    ),
    "output": (
        'OutputError("cannot write output")',
        ExitCode.USAGE,
        "jacli: error: cannot write output\n",
    ),
    "memory": ("MemoryError()", ExitCode.USAGE, OOM),
    "torch-memory": (f"RuntimeError({TORCH_OOM!r})", ExitCode.USAGE, OOM),
    "recursion": ("RecursionError()", ExitCode.USAGE, NESTED),
    "broken-pipe": ("BrokenPipeError(errno.EPIPE, 'Broken pipe')", ExitCode.BROKEN_PIPE, ""),
    "server-lost": (
        'ServerLost("the server stopped; its exit status is unknown")',
        ExitCode.UNKNOWN,
        "jacli: error: the server stopped; its exit status is unknown\n",
    ),
    "server-killed": (
        'ServerKilled("the command ran too long", signal.SIGALRM)',
        128 + signal.SIGALRM,
        "jacli: error: the command ran too long\n",
    ),
    "ctrl-c-in-server": ('ServerKilled("", signal.SIGINT)', ExitCode.INTERRUPTED, ""),
}
NAMESPACE = {"UsageError": UsageError, "CheckFailed": CheckFailed, "OutputError": OutputError, "errno": errno,
             "ServerLost": ServerLost, "ServerKilled": ServerKilled, "signal": signal}  # fmt: skip


def _error(kind: str) -> BaseException:
    return eval(TABLE[kind][0], NAMESPACE)  # our own table


@pytest.mark.parametrize("kind", sorted(TABLE))
def test_status_of_is_the_table(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, status, stderr = TABLE[kind]
    assert terminal.status_of(_error(kind)) == status
    assert capsys.readouterr() == ("", stderr)


@pytest.mark.parametrize("kind", sorted(TABLE))
def test_a_command_raising_it_in_process(kind: str, jacli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise _error(kind)

    monkeypatch.setattr("jacli.api.evaluate_at", refuse)
    out = jacli("gradient", "x*y", "--at", "1,2", "--format", "json")
    assert (out.exit_code, out.stdout, out.stderr) == (TABLE[kind][1], "", TABLE[kind][2])


THROUGH_ENTRY = """
import errno, signal, sys
import jacli.api
from jacli.errors import CheckFailed, OutputError, ServerKilled, ServerLost, UsageError
error = sys.argv[1]
def refuse(*_, **__):
    raise eval(error)
jacli.api.evaluate_at = refuse
sys.argv = ["jacli", "gradient", "x*y", "--at", "1,2", "--format", "json"]
from jacli import entry
entry.main()
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(TABLE))
def test_a_command_raising_it_through_the_console_script(kind: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JACLI_SERVER": "off"}
    done = subprocess.run([sys.executable, "-c", THROUGH_ENTRY, TABLE[kind][0]], capture_output=True, text=True,
                          env=env, timeout=120, check=False)  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (TABLE[kind][1], "", TABLE[kind][2])


@pytest.mark.parametrize(
    ("error", "status", "stderr"),
    [
        (
            click.UsageError("No such command 'jac'."),
            ExitCode.USAGE,
            "jacli: error: No such command 'jac'.\n",
        ),
        (click.BadParameter("xml"), ExitCode.USAGE, "jacli: error: Invalid value: xml\n"),
        (click.Abort(), ExitCode.INTERRUPTED, ""),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED, ""),
        (SystemExit(0), ExitCode.OK, ""),
        (SystemExit(3), 3, ""),
        (SystemExit("bye"), 1, ""),
    ],
)
def test_click_and_exits_are_in_the_table(
    error: BaseException, status: int, stderr: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert terminal.status_of(error) == status
    assert capsys.readouterr() == ("", stderr)


def test_a_bug_is_not_in_the_table() -> None:
    with pytest.raises(ZeroDivisionError):
        terminal.status_of(ZeroDivisionError("a bug"))
    with pytest.raises(RuntimeError, match="a bug"):
        terminal.status_of(RuntimeError("a bug"))


# ---------------------------------------------------------------------------
# Out of memory: the same status in-process and through the server's runner.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("error", [MemoryError(), RuntimeError(TORCH_OOM)], ids=["python", "torch"])
def test_out_of_memory_is_the_same_status_in_the_server(
    error: Exception, jacli: Invoke, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The server's child runs the same funnel (its message names the server's limit)."""
    from jacli.server.__main__ import _runner

    def refuse(*_: Any, **__: Any) -> Any:
        raise error

    monkeypatch.setattr("jacli.api.evaluate_at", refuse)
    argv = ["gradient", "x*y", "--at", "1,2", "--format", "json"]
    local = jacli(*argv)
    capfd.readouterr()
    served = _runner(2)(argv)
    out, err = capfd.readouterr()
    assert served == local.exit_code == ExitCode.USAGE
    assert (out, local.stdout) == ("", "")
    why = "the server allows 2 MiB per command (jacli server start --memory-limit MiB)"
    assert err == f"jacli: error: out of memory: {why}\n"
    assert local.stderr == OOM


def test_a_bug_in_a_server_child_is_a_traceback_and_1(capfd: pytest.CaptureFixture[str]) -> None:
    def broken(_argv: list[str]) -> int:
        raise ZeroDivisionError("a bug")

    assert child._as_a_script(broken, []) == 1
    assert "ZeroDivisionError: a bug" in capfd.readouterr().err
    assert child._as_a_script(lambda _argv: 7, []) == 7


# ---------------------------------------------------------------------------
# A lost or killed server command reaches the funnel as an error, not as a status.
# ---------------------------------------------------------------------------


def _finished_after(reply: dict[str, Any] | None) -> int:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        if reply is not None:
            protocol.send_message(theirs, reply)
        theirs.shutdown(socket.SHUT_WR)
        return client._wait_finished(ours)


def test_the_client_reports_how_a_command_ended() -> None:
    assert _finished_after({"exit": 3}) == 3
    with pytest.raises(ServerLost, match=r"^the server stopped during the request; its exit status is unknown$"):
        _finished_after(None)
    with pytest.raises(ServerLost, match="protocol mismatch"):
        _finished_after({"exit": "three"})
    with pytest.raises(ServerKilled) as killed:
        _finished_after({"signal": signal.SIGSEGV, "memory": 4096})
    assert killed.value.exit_code == 128 + signal.SIGSEGV
    assert str(killed.value) == "the command was killed by SIGSEGV in the server (its memory limit is 4096 MiB)"
    with pytest.raises(ServerKilled) as interrupted:
        _finished_after({"signal": signal.SIGINT})
    assert (interrupted.value.exit_code, str(interrupted.value)) == (ExitCode.INTERRUPTED, "")


# ---------------------------------------------------------------------------
# The Environment a run sees.
# ---------------------------------------------------------------------------


def test_colour_follows_the_environment_of_the_run() -> None:
    tty = terminal.Environment(stdin=None, stdout=None, stderr=None, environ={}, stdout_isatty=True)
    assert tty.colors and terminal.color_wanted(False) is False
    assert not terminal.Environment(None, None, None, environ={"NO_COLOR": "1"}, stdout_isatty=True).colors
    assert not terminal.Environment(None, None, None, environ={"TERM": "dumb"}, stdout_isatty=True).colors
    assert not terminal.Environment(None, None, None, environ={}, stdout_isatty=False).colors


def test_run_uses_the_streams_of_its_environment(tmp_path: Path) -> None:
    """Whatever ``sys.stdout`` is, the run writes to its environment's stdout, and puts ``sys`` back."""
    import io

    out, err = io.StringIO(), io.StringIO()
    env = terminal.Environment(stdin=io.StringIO("x\n"), stdout=out, stderr=err, environ={})
    seen: list[Any] = []

    def program(args: list[str]) -> int:
        seen.append((terminal.current() is env, terminal.read_expression("-")))
        sys.stdout.write(" ".join(args) + "\n")
        terminal.warn("careful")
        raise UsageError("stop")

    saved = sys.stdout, sys.stderr, sys.stdin
    assert terminal.run(["a", "b"], env, program=program) == ExitCode.USAGE
    assert (sys.stdout, sys.stderr, sys.stdin) == saved
    assert seen == [(True, "x")]
    assert (out.getvalue(), err.getvalue()) == ("a b\n", "jacli: warning: careful\njacli: error: stop\n")
