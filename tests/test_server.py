"""The warm server (jacli/server/: daemon, control) and its thin client (jacli/server/client.py, jacli/entry.py).

Every server here lives in its own temporary directory and is stopped (and, as
a safety net, killed by pid) when its fixture ends, so no test leaves one
running.
"""

from __future__ import annotations

import contextlib
import io
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from jacli import cli, limits
from jacli.server import client, control, daemon, protocol

T = TypeVar("T")
SEED = ["jacobian", "2*x0+x1**2, x0**2+2*x1**3", "--at", "1,2"]
SEED_JSON = (
    '{"command": "jacobian", "inputs": ["x0", "x1"], "outputs": ["f0", "f1"], "point": {"x0": 1.0, "x1": 2.0}, '
    '"value": [6.0, 17.0], "result": [[2.0, 4.0], [2.0, 24.0]], "mode": "reverse", '
    '"symbolic": [["2", "2*x1"], ["2*x0", "6*x1**2"]]}\n'
)


def in_process(argv: list[str], stdin: bytes | None, env: dict[str, str]) -> tuple[int, str, str]:
    """``cli.run`` in this process on real file descriptors, as the console script runs it.

    (Click's ``CliRunner`` is no reference here: it forces an 80-column help
    layout and never flushes like a process exit does.)
    """
    saved_fds = [os.dup(fd) for fd in (0, 1, 2)]
    saved_streams = (sys.stdin, sys.stdout, sys.stderr, sys.__stdin__, sys.__stdout__, sys.__stderr__)
    saved_env = dict(os.environ)
    files = [tempfile.TemporaryFile() for _ in range(3)]
    try:
        files[0].write(stdin or b"")
        files[0].seek(0)
        for fd, file in enumerate(files):
            os.dup2(file.fileno(), fd)
        os.environ.clear()
        os.environ.update({k: v for k, v in saved_env.items() if k not in _HIDDEN_ENV}, **env)
        limits.reset()  # as a fresh process, the command reads this environment (once)
        sys.stdin = io.TextIOWrapper(open(0, "rb", closefd=False), encoding="utf-8", newline="\n")
        sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), encoding="utf-8", newline="\n")
        sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), encoding="utf-8", errors="backslashreplace",
                                      newline="\n", line_buffering=True)  # fmt: skip
        sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
        code = cli.run(argv)
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        sys.stdin, sys.stdout, sys.stderr, sys.__stdin__, sys.__stdout__, sys.__stderr__ = saved_streams
        for fd, saved in enumerate(saved_fds):
            os.dup2(saved, fd)
            os.close(saved)
        os.environ.clear()
        os.environ.update(saved_env)
        limits.reset()
    outputs = []
    for file in files[1:]:
        file.seek(0)
        outputs.append(file.read().decode())
    for file in files:
        file.close()
    return int(code), outputs[0], outputs[1]


def _client_command() -> list[str]:
    script = Path(sys.executable).with_name("jacli")
    return [str(script)] if script.exists() else [sys.executable, "-m", "jacli"]


_HIDDEN_ENV = (protocol.ENV_MODE, protocol.ENV_DIR, "COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")


def _env(directory: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _HIDDEN_ENV}
    env[protocol.ENV_DIR] = directory
    env.update(extra)
    return env


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        done = 0
    if done:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _kill(pid: int) -> None:
    if pid and _alive(pid):
        os.kill(pid, signal.SIGKILL)
        for _ in range(200):
            if not _alive(pid):
                break
            time.sleep(0.01)


class Running:
    """A server started for a test, in its own directory."""

    def __init__(self, limits: control.Limits) -> None:
        self.dir = tempfile.mkdtemp(prefix="jsv-", dir="/tmp")  # short: Unix socket paths max out at 107 bytes
        info = control.start(limits, directory=self.dir)
        self.pid = int(info["pid"])
        self.pids = [self.pid]

    def status(self) -> dict:
        info = control.status(self.dir)
        assert info is not None, "the server is not answering"
        return info

    def settled(self, counter: str, expected: int, timeout: float = 30.0) -> dict:
        """The status once ``counter`` reaches ``expected`` (or the deadline passes).

        The server counts a command's cache hits and misses from its report, which it reads
        when it reaps the child: after the client has its answer, so a status asked right
        away may not count the last command yet.
        """
        deadline = time.monotonic() + timeout
        info = self.status()
        while info[counter] < expected and time.monotonic() < deadline:
            time.sleep(0.05)
            info = self.status()
        return info

    def restart_if_code_changed(self) -> None:
        """Other edits to the package change its fingerprint; start a server for the current code."""
        current = self.status()
        limits = control.Limits(current["idle_timeout"], current["time_limit"], current["memory_limit"])
        info = control.start(limits, directory=self.dir)
        self.pid = int(info["pid"])
        self.pids.append(self.pid)

    def run(self, *argv: str, input: bytes | None = None, **env: str) -> subprocess.CompletedProcess[bytes]:
        """``jacli ARGV`` as a real process: the console script, i.e. the client."""
        return subprocess.run([*_client_command(), *argv], input=input or b"", capture_output=True,
                              env=_env(self.dir, **env), timeout=60, check=False)  # fmt: skip

    def close(self) -> None:
        control.stop(self.dir, timeout=5)
        for pid in self.pids:
            _kill(pid)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def warm() -> Iterator[Running]:
    running = Running(control.Limits(idle_timeout=120, time_limit=30, memory_limit=4096))
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def own() -> Iterator[list[Running]]:
    """Servers a single test starts itself (with special limits)."""
    started: list[Running] = []
    try:
        yield started
    finally:
        for running in started:
            running.close()


# ---------------------------------------------------------------------------
# Transparency: the same bytes as in-process.
# ---------------------------------------------------------------------------

SEED_CELL = b"""def f(a):
    b = a * 2
    while b.norm() < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c
"""

CASES = [
    pytest.param(SEED, None, {}, id="jacobian-table"),
    pytest.param([*SEED, "--format", "json"], None, {}, id="jacobian-json"),
    pytest.param(["vjp", "x0**2, x0*x1, x1**2", "--at", "2,3", "--v", "1,2,3", "-f", "csv"], None, {}, id="vjp-csv"),
    pytest.param(["hessian", "x1**2 + x2**3 + x3**4", "--at", "1,2,3", "--format", "latex"], None, {}, id="latex"),
    pytest.param(["vjp", "A@B", "--at", "A=[[1,2],[3,4]], B=[[1,2,3],[4,5,6]]", "--v", "ones"], None, {}, id="arrays"),
    pytest.param(["gradient", "2*dot(x,x)", "--at", "x=[0,1,2,3]"], None, {"COLUMNS": "50"}, id="columns"),
    pytest.param(["jacobian", "-", "--at", "1,2", "-f", "json"], b"2*x0+x1**2, x0**2+2*x1**3\n", {}, id="stdin"),
    pytest.param(["gradient", "log(x)", "--at", "-1", "-f", "json"], None, {}, id="nan-warning"),
    pytest.param(["jacobian", "x +* y", "--at", "1,2"], None, {}, id="syntax-error"),
    pytest.param(["jacobian", "x*y", "--bogus"], None, {}, id="usage-error"),
    pytest.param(["gradient", "x*y", "--at", "1,2"], None, {"JACLI_TIME_BUDGET": "soon"}, id="client-environment"),
    pytest.param(["jacobian", "-", "--at", "1"], b"\xff\xfe", {}, id="stdin-not-utf8"),
    pytest.param(["--version"], None, {}, id="version"),
    pytest.param(["jacobian", "--help"], None, {}, id="help"),
    pytest.param(["gradient", "2*x0+x1**2"], None, {}, id="no-point"),
    pytest.param(["vjp", "A@B", "--v", "w", "--shape", "A=2x2, B=2x3", "-f", "json"], None, {}, id="symbolic-v-shape"),
    # version 2: the tensor language, control flow, the matrix form
    pytest.param(["gradient", "x.T@A@x", "--at", "x=[1,2], A=[[1,2],[3,4]]", "--wrt", "x"], None, {}, id="matrix-form"),
    pytest.param(["gradient", "x.T@A@x", "--wrt", "x", "--shape", "x=n, A=n x n", "-f", "json"], None, {}, id="named"),
    pytest.param(
        ["jacobian", "softmax(x), det(A), x.norm()", "--at", "x=[1,2], A=[[2,1],[1,3]]", "-f", "json"],
        None,
        {},
        id="tensor-language",
    ),
    pytest.param(["gradient", "-", "--at", "a=-0.7"], SEED_CELL, {}, id="control-flow"),
]


def module_server() -> Iterator[Running]:
    """A server shared by a module's tests, with room for big builds and their replays."""
    running = Running(control.Limits(idle_timeout=300, time_limit=120, memory_limit=4096))
    try:
        yield running
    finally:
        running.close()


def served_by(running: Running, command: Callable[[], T]) -> T:
    """``command()``, which must have gone through the server.

    The server refuses clients whose package files differ from its own; when
    the source tree is edited meanwhile, start a server for the new code and
    try again (the same thing the client does by default).
    """
    for _ in range(3):
        served = running.status()["served"]
        result = command()
        if running.status()["served"] == served + 1:
            return result
        running.restart_if_code_changed()
    raise AssertionError("the command did not go through the server")


@pytest.mark.parametrize(("argv", "stdin", "env"), CASES)
def test_same_bytes_as_in_process(warm: Running, argv: list[str], stdin: bytes | None, env: dict[str, str]) -> None:
    expected = in_process(argv, stdin, env)
    got = served_by(warm, lambda: warm.run(*argv, input=stdin, **env))
    assert (got.returncode, got.stdout.decode(), got.stderr.decode()) == expected


def _pty_run(command: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    """Run with stdout and stderr on a terminal; (exit status, everything it printed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    output = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's last writer closed it
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    return proc.wait(timeout=60), output


def test_terminal_colour_and_width_as_in_process(warm: Running) -> None:
    argv = ["hessian", "x0**2*x1, x0*x1**3", "--at", "1,2"]
    env = _env(warm.dir, COLUMNS="72", TERM="xterm-256color")
    via_server = served_by(warm, lambda: _pty_run([*_client_command(), *argv], env))
    in_process = _pty_run([*_client_command(), *argv], {**env, protocol.ENV_MODE: "off"})
    assert via_server == in_process
    assert via_server[0] == 0 and b"\x1b[" in via_server[1]  # a terminal: colour


def test_client_imports_no_heavy_module(warm: Running) -> None:
    command = [sys.executable, "-X", "importtime", "-m", "jacli", *SEED, "-f", "json"]
    env = _env(warm.dir)
    result = served_by(warm, lambda: subprocess.run(command, capture_output=True, env=env, timeout=60, check=False))
    assert result.returncode == 0 and result.stdout.decode() == SEED_JSON
    imported = {line.split("|")[-1].strip() for line in result.stderr.decode().splitlines() if "|" in line}
    assert "jacli" in imported and "jacli.server.protocol" in imported and "_socket" in imported
    heavy = {name for name in imported if name.split(".")[0] in ("torch", "sympy", "rich", "typer", "click", "numpy")}
    assert not heavy and "jacli.cli" not in imported
    # Nor the costlier parts of the standard library (beyond what this interpreter's start-up imports):
    # the client's imports cost less than the interpreter itself.
    bare = subprocess.run([sys.executable, "-X", "importtime", "-c", "pass"], capture_output=True, check=True)
    before = {line.split("|")[-1].strip() for line in bare.stderr.decode().splitlines() if "|" in line}
    costly = {"typing", "dataclasses", "inspect", "ast", "jacli.quantities", "jacli.server.control", "socket", "struct"}
    assert (imported - before) & costly == set()


def test_python_m_jacli_is_the_same_program(warm: Running) -> None:
    """``python -m jacli`` forwards to the warm server like the console script (both are jacli.entry)."""
    command = [sys.executable, "-m", "jacli", *SEED, "-f", "json"]
    env = _env(warm.dir)
    result = served_by(warm, lambda: subprocess.run(command, capture_output=True, env=env, timeout=60, check=False))
    assert (result.returncode, result.stdout.decode(), result.stderr) == (0, SEED_JSON, b"")


def test_status_command(warm: Running) -> None:
    result = warm.run("server", "status")
    text = result.stdout.decode()
    assert result.returncode == 0, result
    assert f"pid           {warm.pid}" in text
    for field in ("uptime", "requests", "idle timeout  2m 00s", "version       jacli ", "socket"):
        assert field in text


def test_status_and_stop_when_not_running() -> None:
    directory = tempfile.mkdtemp(prefix="jsv-", dir="/tmp")
    try:
        status = subprocess.run([*_client_command(), "server", "status"], capture_output=True,
                                env=_env(directory), timeout=60, check=False)  # fmt: skip
        assert (status.returncode, status.stdout) == (1, b"jacli server: not running\n")
        assert control.stop(directory) is None
    finally:
        shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------------------
# Isolation: a bad request dies alone.
# ---------------------------------------------------------------------------


def _wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _reading_stdin(status: Callable[[], dict]) -> int:
    """The pid of the server's one running child once its command is blocked reading stdin, else 0.

    ``running`` counts a child from the moment it is handed the request; a spare
    may still be finishing its warm-up then (the command has not started, and a
    client that loses the server meanwhile runs it in-process).
    """
    pids = status()["running_pids"]
    if len(pids) != 1:
        return 0
    try:
        with open(f"/proc/{pids[0]}/wchan", encoding="ascii") as f:
            return int(pids[0]) if "pipe_read" in f.read() else 0
    except OSError:
        return 0


@contextlib.contextmanager
def hanging_client(running: Running) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A client whose command waits for its expression on stdin; (process, pid of the server's child)."""
    running.restart_if_code_changed()
    command = [*_client_command(), "jacobian", "-", "--at", "1,2", "-f", "json"]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=_env(running.dir)) as process:  # fmt: skip
        try:
            _wait_for(lambda: _reading_stdin(running.status))
            yield process, _reading_stdin(running.status)
        finally:
            if process.poll() is None:
                process.kill()


def test_crashing_request_does_not_kill_the_server(warm: Running) -> None:
    with hanging_client(warm) as (client_process, child):
        os.kill(child, signal.SIGSEGV)
        _, err = client_process.communicate(timeout=30)
    assert client_process.returncode == 128 + signal.SIGSEGV
    assert err.decode().splitlines() == ["jacli: error: the command was killed by SIGSEGV in the server "
                                         "(its memory limit is 4096 MiB)"]  # fmt: skip
    after = warm.run(*SEED, "-f", "json")
    assert (after.returncode, after.stdout.decode(), after.stderr) == (0, SEED_JSON, b"")
    assert warm.status()["pid"] == warm.pid


def test_ctrl_c_reaches_the_command(warm: Running) -> None:
    with hanging_client(warm) as (client_process, child):
        client_process.send_signal(signal.SIGINT)
        assert client_process.wait(timeout=30) == 130  # stdin still open: only Ctrl-C can end it
        assert client_process.stdout is not None and client_process.stderr is not None
        out, err = client_process.stdout.read(), client_process.stderr.read()
    assert (out, err) == (b"", b"")
    _wait_for(lambda: not _alive(child))


def test_two_concurrent_clients(warm: Running) -> None:
    vjp = ["vjp", "2*x0+x1**2, x0**2+2*x1**3", "--at", "1,2", "--v", "1,2", "-f", "csv"]
    with hanging_client(warm) as (first, _):  # starts first, finishes last
        second = warm.run(*vjp)
        assert (second.returncode, second.stdout.decode(), second.stderr.decode()) == in_process(vjp, None, {})
        assert warm.status()["running"] == 1  # the first is still running
        out, err = first.communicate(b"2*x0+x1**2, x0**2+2*x1**3", timeout=30)
    assert (first.returncode, out.decode(), err) == (0, SEED_JSON, b"")


def test_time_limit_then_idle_timeout(own: list[Running]) -> None:
    running = Running(control.Limits(idle_timeout=3, time_limit=1, memory_limit=4096))
    own.append(running)
    with hanging_client(running) as (client_process, child):
        assert client_process.wait(timeout=30) == 128 + signal.SIGALRM  # its stdin is still open
        assert client_process.stderr is not None
        err = client_process.stderr.read()
    assert err.decode() == "jacli: error: the command ran longer than the server's time limit of 1 s\n"
    assert not _alive(child)
    after = running.run(*SEED, "-f", "json")
    assert (after.returncode, after.stdout.decode(), after.stderr) == (0, SEED_JSON, b"")
    info = running.status()
    assert (info["served"], info["idle_timeout"]) == (2, 3)
    # Now idle: the server exits on its own and removes its socket.
    _wait_for(lambda: not _alive(running.pid), timeout=30)
    assert not os.path.exists(protocol.socket_path(running.dir))
    assert control.status(running.dir) is None


# ---------------------------------------------------------------------------
# Life cycle: stale socket, auto start, version mismatch, stop.
# ---------------------------------------------------------------------------


def test_stale_socket_auto_start_version_mismatch_and_stop(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    directory = tempfile.mkdtemp(prefix="jsv-", dir="/tmp")
    running = Running.__new__(Running)
    running.dir, running.pid, running.pids = directory, 0, []
    try:
        _stale_auto_mismatch_stop(running, monkeypatch, capfd)
    finally:
        running.close()


def _stale_auto_mismatch_stop(
    running: Running, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    # What a SIGKILLed server leaves behind: its socket file, nobody listening.
    path = protocol.socket_path(running.dir)
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(path)
    assert os.path.exists(path)
    with pytest.raises(protocol.ServerUnavailable) as caught:
        protocol.connect(running.dir)
    assert getattr(caught.value, "stale", False) and not caught.value.note

    # The default (JACLI_SERVER unset) replaces the stale socket with a new server and uses it;
    # the first server started automatically in this directory says how to turn it off.
    result = running.run(*SEED, "-f", "json")
    assert (result.returncode, result.stdout.decode()) == (0, SEED_JSON)
    assert result.stderr.decode().startswith("jacli: note: started a warm server for faster answers")
    info = running.status()
    running.pids.append(int(info["pid"]))
    assert info["served"] == 1
    second = int(info["pid"])

    # A server from another version (a stale fingerprint): stopped, a new one started and used, quietly.
    real = protocol.fingerprint
    calls = []

    def upgraded_since() -> str:  # only the first look sees the old version
        calls.append(1)
        return "jacli from before the upgrade" if len(calls) == 1 else real()

    monkeypatch.setenv(protocol.ENV_DIR, running.dir)
    monkeypatch.delenv(protocol.ENV_MODE, raising=False)
    monkeypatch.setattr(protocol, "fingerprint", upgraded_since)
    capfd.readouterr()
    assert client.try_server([*SEED, "-f", "json"]) == 0
    assert capfd.readouterr() == (SEED_JSON, "")
    info = running.status()
    running.pids.append(int(info["pid"]))
    assert info["pid"] != second and info["served"] == 1
    assert not _alive(second)

    # `jacli server stop` is clean: process gone, socket removed.
    result = running.run("server", "stop")
    assert (result.returncode, result.stdout) == (0, f"jacli server {info['pid']} stopped\n".encode())
    assert not _alive(int(info["pid"]))
    assert not os.path.exists(protocol.socket_path(running.dir))
    assert running.run("server", "status").returncode == 1


# ---------------------------------------------------------------------------
# Safety: only this user, only a private directory.
# ---------------------------------------------------------------------------


def test_peer_check_refuses_other_uids() -> None:
    assert protocol.peer_allowed(1000, own_uid=1000)
    assert not protocol.peer_allowed(1001, own_uid=1000)
    assert not protocol.peer_allowed(0, own_uid=1000)  # not even root
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        assert protocol.peer_uid(left) == os.getuid()
        assert protocol.peer_allowed(protocol.peer_uid(left))


def test_server_drops_connections_from_another_uid(monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tempfile.mkdtemp(prefix="jsv-", dir="/tmp")
    accepting = daemon.Server(directory, control.Limits(), run=lambda _argv: 0)  # never runs a command
    try:
        accepting.bind()
        monkeypatch.setattr(daemon, "peer_uid", lambda _sock: os.getuid() + 1)
        with socket.socket(socket.AF_UNIX) as intruder:
            intruder.connect(protocol.socket_path(directory))
            protocol.send_message(intruder, {"protocol": protocol.PROTOCOL, "op": "status"})
            _wait_for(lambda: select.select([accepting.listener], [], [], 0)[0] != [])
            accepting._accept_all()
            intruder.settimeout(5)
            try:
                answer = intruder.recv(100)
            except ConnectionResetError:  # closed with our request unread
                answer = b""
            assert answer == b""  # closed without a word
        assert accepting.served == 0 and not accepting.children
    finally:
        accepting.close()
        shutil.rmtree(directory, ignore_errors=True)


def test_private_directory_is_required(tmp_path: Path) -> None:
    created = tmp_path / "made"
    protocol.check_private_dir(str(created), create=True)
    assert (created.stat().st_mode & 0o777) == 0o700
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o755)
    open_dir.chmod(0o755)
    with pytest.raises(protocol.ServerUnavailable, match="open to other users"):
        protocol.check_private_dir(str(open_dir))
    link = tmp_path / "link"
    link.symlink_to(created)
    with pytest.raises(protocol.ServerUnavailable, match="not a directory"):
        protocol.check_private_dir(str(link))
    if os.getuid() == 0:
        foreign = tmp_path / "foreign"
        foreign.mkdir(mode=0o700)
        os.chown(foreign, 65534, 65534)
        with pytest.raises(protocol.ServerUnavailable, match="another user"):
            protocol.check_private_dir(str(foreign))


def test_socket_is_private(warm: Running) -> None:
    path = protocol.socket_path(warm.dir)
    assert (os.stat(path).st_mode & 0o777) == 0o600
    assert (os.stat(warm.dir).st_mode & 0o777) == 0o700


def test_off_never_uses_the_server(warm: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(protocol.ENV_DIR, warm.dir)
    monkeypatch.setenv(protocol.ENV_MODE, "off")
    served = warm.status()["served"]
    assert client.try_server(SEED) is None
    monkeypatch.setenv(protocol.ENV_MODE, "")
    assert client.try_server(["server", "status"]) is None  # managed in-process, never forwarded
    assert warm.status()["served"] == served


def test_auto_is_the_default_and_off_never_starts_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "none"
    directory.mkdir(mode=0o700)
    monkeypatch.setenv(protocol.ENV_DIR, str(directory))
    for value in (None, "", " Auto ", "on"):
        if value is None:
            monkeypatch.delenv(protocol.ENV_MODE, raising=False)
        else:
            monkeypatch.setenv(protocol.ENV_MODE, value)
        assert client.mode() == "auto"
    monkeypatch.setenv(protocol.ENV_MODE, " OFF ")
    assert client.mode() == "off"
    assert client.try_server(SEED) is None
    assert capfd.readouterr() == ("", "")
    assert list(directory.iterdir()) == []
