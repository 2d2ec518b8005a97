"""The warm server under abuse: malformed messages, silent and slow clients,
bursts, a stopped server, a killed client, bad limits, Ctrl-C at start-up.

Every server here lives in a private directory under ``tmp_path`` and is
stopped (and killed by pid, as a safety net) when its fixture ends.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_server import SEED, SEED_JSON, _alive, _client_command, _env, _kill, _reading_stdin, _wait_for

from jacli.limits import reset as reset_settings
from jacli.server import client, control, daemon, protocol

pytestmark = pytest.mark.slow

BAD = ["jacobian", "x +* y", "--at", "1,2"]


class Served:
    """A server in its own private directory (short: socket paths max out at 107 bytes)."""

    def __init__(self, directory: Path, limits: control.Limits) -> None:
        directory.mkdir(mode=0o700, exist_ok=True)
        directory.chmod(0o700)
        self.dir = str(directory)
        self.pid = int(control.start(limits, directory=self.dir)["pid"])
        self.path = protocol.socket_path(self.dir)

    def status(self) -> dict[str, Any]:
        info = control.status(self.dir)
        assert info is not None, "the server is not answering"
        return info

    def run(self, *argv: str, input: bytes = b"", **env: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*_client_command(), *argv], input=input, capture_output=True,
                              env=_env(self.dir, **env), timeout=60, check=False)  # fmt: skip

    def popen(self, *argv: str, **env: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([*_client_command(), *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=_env(self.dir, **env))  # fmt: skip

    def close(self) -> None:
        if _alive(self.pid):
            os.kill(self.pid, signal.SIGCONT)  # a test may have stopped it
        control.stop(self.dir, timeout=5)
        _kill(self.pid)


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = Served(tmp_path_factory.mktemp("sv"), control.Limits(idle_timeout=300, time_limit=60, memory_limit=4096))
    try:
        yield served
    finally:
        served.close()


@pytest.fixture
def own(tmp_path: Path) -> Iterator[list[Served]]:
    """Servers one test starts for itself (special limits, or to stop or kill)."""
    started: list[Served] = []
    try:
        yield started
    finally:
        for served in started:
            served.close()


def _still_serves(served: Served, pid: int) -> None:
    """The same server process answers a real command with the right bytes."""
    result = served.run(*SEED, "-f", "json")
    assert (result.returncode, result.stdout.decode(), result.stderr) == (0, SEED_JSON, b"")
    assert served.status()["pid"] == pid


# ---------------------------------------------------------------------------
# 1. Malformed messages: refused, and the server stays up.
# ---------------------------------------------------------------------------


def _frame(body: bytes) -> bytes:
    return struct.pack("!I", len(body)) + body


def _run_request(**override: Any) -> dict[str, Any]:
    """A run request right in every field but those overridden."""
    message = {
        "protocol": protocol.PROTOCOL,
        "op": "run",
        "fingerprint": protocol.fingerprint(),
        "argv": list(SEED),
        "env": {"PATH": "/usr/bin"},
        "umask": 0o22,
        "streams": [{"encoding": "utf-8", "errors": "strict", "line_buffering": False, "write_through": False}] * 3,
    }
    message.update(override)
    return {k: v for k, v in message.items() if v is not _MISSING}


_MISSING = object()
_STREAM = {"encoding": "utf-8", "errors": "strict", "line_buffering": False, "write_through": False}
DEEP = "[" * 100_000 + "]" * 100_000

# A run request with exactly one field wrong: each must be refused before anything runs.
WRONG_FIELDS = [
    {"protocol": "2"}, {"protocol": True}, {"protocol": 2.5}, {"protocol": None}, {"protocol": _MISSING},
    {"op": 5}, {"op": "RUN"}, {"op": ["run"]}, {"op": _MISSING}, {"fingerprint": 7}, {"fingerprint": _MISSING},
    {"argv": "jacobian x"}, {"argv": [1, 2]}, {"argv": None}, {"argv": {"a": "b"}}, {"argv": [[["x"]]]},
    {"env": []}, {"env": {"A": 1}}, {"env": {"": "x"}}, {"env": {"A=B": "x"}}, {"env": {"A": "x\0y"}},
    {"env": {"A\0": "x"}}, {"env": "PATH=/bin"}, {"umask": "022"}, {"umask": -1}, {"umask": 2**70},
    {"umask": 0o1000}, {"umask": 1.5}, {"umask": False}, {"streams": []}, {"streams": [_STREAM] * 2},
    {"streams": [_STREAM] * 4}, {"streams": {"0": _STREAM}}, {"streams": [None, _STREAM, _STREAM]},
    {"streams": [{**_STREAM, "encoding": "no-such-codec"}] * 3}, {"streams": [{**_STREAM, "encoding": "rot13"}] * 3},
    {"streams": [{**_STREAM, "encoding": 8}] * 3}, {"streams": [{**_STREAM, "errors": "no-such-handler"}] * 3},
    {"streams": [{**_STREAM, "line_buffering": "yes"}] * 3}, {"streams": [{**_STREAM, "write_through": 1}] * 3},
    {"streams": [{"encoding": "utf-8"}] * 3}, {"streams": [{**_STREAM, "extra": 1}] * 3}, {"extra": "field"},
    {"argv": json.loads("[" * 50 + "]" * 50)}, {"env": {"A": {"B": {"C": "D"}}}},
]  # fmt: skip


def _malformed_frames() -> list[tuple[str, bytes, int]]:
    """(what, bytes, number of descriptors to attach): the fuzz corpus, seeded so it is the same every run."""
    rng = random.Random(11)
    frames: list[tuple[str, bytes, int]] = [
        ("array", _frame(b"[1,2]"), 0),
        ("bare number", _frame(b"5"), 0),
        ("200,000 [ unframed", b"[" * 200_000, 0),
        ("200,000 [ framed", _frame(b"[" * 200_000), 0),
        ("deep JSON", _frame(DEEP.encode()), 0),
        ("deep JSON in a field", _frame(b'{"protocol": 2, "op": "status", "x": ' + DEEP.encode() + b"}"), 0),
        ("null", _frame(b"null"), 0),
        ("string", _frame(b'"status"'), 0),
        ("empty body", _frame(b""), 0),
        ("not UTF-8", _frame(b"\xff\xfe{}"), 0),
        ("NaN", _frame(b'{"protocol": NaN, "op": "status"}'), 0),
        ("huge size", struct.pack("!I", 0xFFFFFFFF) + b"{}", 0),
        ("too large", struct.pack("!I", protocol.MAX_MESSAGE + 1), 0),
        ("status with descriptors", _frame(json.dumps({"protocol": 2, "op": "status"}).encode()), 2),
        ("unknown op", _frame(json.dumps({"protocol": 2, "op": "reboot"}).encode()), 0),
        ("run without descriptors", _frame(json.dumps(_run_request()).encode()), 0),
        ("run with 3 descriptors", _frame(json.dumps(_run_request()).encode()), 3),
        ("run with 5 descriptors", _frame(json.dumps(_run_request()).encode()), 5),
        ("run with 12 descriptors", _frame(json.dumps(_run_request()).encode()), 12),
        ("run whose directory is a file", _frame(json.dumps(_run_request()).encode()), -4),
    ]
    for wrong in WRONG_FIELDS:
        shown = {k: ("<missing>" if v is _MISSING else v) for k, v in wrong.items()}
        frames.append((f"run with {str(shown)[:60]}", _frame(json.dumps(_run_request(**wrong)).encode()), 4))
    for size in range(1, 4):
        frames.append((f"truncated header ({size} bytes)", struct.pack("!I", 10)[:size], 0))
    for index in range(60):
        body = rng.randbytes(rng.randrange(0, 40))
        frames.append((f"random bytes #{index}", body, 0))
        frames.append((f"random body #{index}", _frame(body), rng.choice((0, 0, 1, 4))))
        frames.append((f"short body #{index}", struct.pack("!I", len(body) + rng.randrange(1, 100)) + body, 0))
    return frames


def _exchange_raw(path: str, data: bytes, fds: list[int]) -> bytes:
    """Send ``data`` (with ``fds``), half-close, and return everything the server answered."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(30)  # a request the server forgets would fail here, not hang
        sock.connect(path)
        try:
            if fds:
                socket.send_fds(sock, [data[:1] or b"\0"], fds)
                data = data[1:]
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):  # it already refused and closed
            pass
        answer = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:  # closed with part of our data unread
                break
            if not chunk:
                break
            answer += chunk
    return answer


def _descriptors(count: int, tmp: Path) -> list[int]:
    """``count`` descriptors to attach: /dev/null three times then a directory (a file if negative)."""
    if count < 0:
        return [os.open(os.devnull, os.O_RDWR) for _ in range(3)] + [os.open(tmp / "file", os.O_RDWR | os.O_CREAT)]
    fds = [os.open(os.devnull, os.O_RDWR) for _ in range(min(count, 3))]
    return fds + [os.open(tmp, os.O_RDONLY | os.O_DIRECTORY) for _ in range(count - len(fds))]


def test_malformed_messages_are_refused_and_the_server_stays_up(warm: Served, tmp_path: Path) -> None:
    pid, served = warm.pid, warm.status()["served"]
    for what, data, count in _malformed_frames():
        fds = _descriptors(count, tmp_path)
        try:
            answer = _exchange_raw(warm.path, data, fds)
        finally:
            protocol.close_all(fds)
        if answer:  # a refusal, never a command run: nothing was started
            reply = protocol.decode(answer[protocol.HEADER_SIZE :])
            assert set(reply) == {"refused"} or reply.get("mismatch") is True, (what, reply)
            assert "started" not in reply, what
        assert control.status(warm.dir) is not None, f"the server died on: {what}"
    info = warm.status()
    assert (info["pid"], info["served"], info["running"]) == (pid, served, 0)
    _still_serves(warm, pid)


def test_each_wrong_field_is_named_in_the_refusal(warm: Served, tmp_path: Path) -> None:
    for wrong in WRONG_FIELDS:
        fds = _descriptors(4, tmp_path)
        try:
            answer = _exchange_raw(warm.path, _frame(json.dumps(_run_request(**wrong)).encode()), fds)
        finally:
            protocol.close_all(fds)
        reply = protocol.decode(answer[protocol.HEADER_SIZE :])
        assert str(reply.get("refused", "")).startswith("protocol mismatch"), (wrong, reply)


def test_decode_refuses_everything_but_an_object() -> None:
    for body in (b"[1,2]", b"5", b"[" * 200_000, DEEP.encode(), b"", b"\xff", b"null", b'"x"', b"{"):
        with pytest.raises(protocol.ServerUnavailable, match="protocol mismatch"):
            protocol.decode(body)
    assert protocol.decode(b'{"a": [1]}') == {"a": [1]}


def test_check_request_accepts_what_the_client_sends(tmp_path: Path) -> None:
    fds = _descriptors(4, tmp_path)
    try:
        assert protocol.check_request(_run_request(), fds) == ""
        assert protocol.check_request({"protocol": 2, "op": "status"}, []) == ""
        for wrong in WRONG_FIELDS:
            if "protocol" not in wrong:
                assert protocol.check_request(_run_request(**wrong), fds) != "", wrong
    finally:
        protocol.close_all(fds)


# ---------------------------------------------------------------------------
# 2. Silent and slow clients delay nobody.
# ---------------------------------------------------------------------------


def test_idle_and_trickling_connections_delay_nobody(warm: Served) -> None:
    served = warm.status()["served"]
    idle = [socket.socket(socket.AF_UNIX) for _ in range(20)]
    stop = threading.Event()

    def trickle() -> None:  # a valid header, then one byte every 0.2 s: never a whole request
        with socket.socket(socket.AF_UNIX) as slow:
            slow.connect(warm.path)
            try:
                for byte in struct.pack("!I", 1000) + b"x" * 1000:
                    if stop.wait(0.2):
                        return
                    slow.send(bytes([byte]))
            except OSError:  # the server gave up on it: what it should do
                return

    trickler = threading.Thread(target=trickle)
    try:
        for sock in idle:
            sock.connect(warm.path)
        half = socket.socket(socket.AF_UNIX)
        idle.append(half)
        half.connect(warm.path)
        half.send(_frame(b'{"protocol": 2, "op": "status"}')[:10])
        trickler.start()
        time.sleep(0.5)  # all of them are waiting in the server now
        began = time.monotonic()
        result = warm.run(*SEED, "-f", "json")
        took = time.monotonic() - began
        assert (result.returncode, result.stdout.decode(), result.stderr) == (0, SEED_JSON, b"")
        assert took < 10, f"a real request waited {took:.1f} s behind idle connections (was 40+ s)"
        assert warm.status()["served"] == served + 1
        # The silent ones are closed once their request deadline has passed, with a refusal.
        for sock in idle:
            sock.settimeout(30)
            answer = sock.recv(4096)
            assert answer == b"" or b"took longer than" in answer
    finally:
        stop.set()
        if trickler.is_alive() or trickler.ident:
            trickler.join(timeout=30)
        for sock in idle:
            sock.close()


# ---------------------------------------------------------------------------
# 3. Bursts: every client is answered by the server; errors come first on stderr.
# ---------------------------------------------------------------------------


def test_thirty_concurrent_clients_are_all_served(warm: Served) -> None:
    served = warm.status()["served"]
    commands = [BAD if index % 3 == 0 else [*SEED, "-f", "json"] for index in range(30)]
    processes = [warm.popen(*argv) for argv in commands]
    results = [(*process.communicate(b"", timeout=120), process.returncode) for process in processes]
    for argv, (out, err, code) in zip(commands, results, strict=True):
        if argv is BAD:
            lines = err.decode().splitlines()
            assert (code, out) == (2, b"")
            assert lines[0].startswith("jacli: error:"), lines
            assert not any("note" in line for line in lines), lines
        else:
            assert (code, out.decode(), err) == (0, SEED_JSON, b"")
    assert warm.status()["served"] == served + 30  # not one fell back to in-process


def test_more_clients_than_slots_wait_in_the_queue(warm: Served) -> None:
    served = warm.status()["served"]
    count = daemon.MAX_CHILDREN + 6
    processes = [warm.popen("jacobian", "-", "--at", "1,2", "-f", "json") for _ in range(count)]
    try:
        _wait_for(lambda: warm.status()["running"] == daemon.MAX_CHILDREN, timeout=60)
        _wait_for(lambda: warm.status()["queued"] == count - daemon.MAX_CHILDREN, timeout=60)
        for process in processes:  # each command waits for its expression on stdin
            out, err = process.communicate(b"2*x0+x1**2, x0**2+2*x1**3", timeout=120)
            assert (process.returncode, out.decode(), err) == (0, SEED_JSON, b"")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=60)  # closes its pipes
    assert warm.status()["served"] == served + count


def test_a_note_never_comes_before_the_error(warm: Served) -> None:
    # A fallback note (here: an ignored JACLI_SERVER value) comes after the command's own output.
    result = warm.run(*BAD, JACLI_SERVER="sometimes")
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 2
    assert lines[0].startswith("jacli: error:"), lines
    assert lines[-1] == "jacli: note: ignored JACLI_SERVER='sometimes' (use auto or off); ran in-process"


# ---------------------------------------------------------------------------
# 4. A stopped server does not hang the client; a killed client ends its command.
# ---------------------------------------------------------------------------


def test_a_stopped_server_does_not_hang_the_client(
    warm: Served, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    stopped = warm
    served = stopped.status()["served"]
    monkeypatch.setenv(protocol.ENV_DIR, stopped.dir)
    monkeypatch.delenv(protocol.ENV_MODE, raising=False)
    monkeypatch.setattr(client, "START_TIMEOUT", 1.0)
    capfd.readouterr()
    os.kill(stopped.pid, signal.SIGSTOP)
    try:
        notes: list[str] = []
        began = time.monotonic()
        assert client.try_server([*SEED, "-f", "json"], notes) is None  # the caller runs it in-process
        assert time.monotonic() - began < 20
        assert notes == ["jacli: note: the server did not start the command within 1 s; ran in-process"]
    finally:
        os.kill(stopped.pid, signal.SIGCONT)
    # Resumed, the server finds the request of a client that has gone: it never runs it (no double output).
    _wait_for(lambda: stopped.status()["running"] == 0)
    time.sleep(0.5)
    assert stopped.status()["served"] == served
    assert capfd.readouterr() == ("", "")
    _still_serves(stopped, stopped.pid)


def _hanging(served: Served) -> tuple[subprocess.Popen[bytes], int]:
    """A client whose command waits for its expression on stdin; (process, the server's child)."""
    process = served.popen("jacobian", "-", "--at", "1,2", "-f", "json")
    _wait_for(lambda: _reading_stdin(served.status))
    return process, _reading_stdin(served.status)


def test_a_killed_client_ends_its_command(warm: Served) -> None:
    running = warm  # its time limit (60 s) is far beyond the bound below
    process, child = _hanging(running)
    with process:
        process.kill()
        process.wait(timeout=30)
        _wait_for(lambda: not _alive(child), timeout=15)  # not after the 300 s time limit
    assert running.status()["running"] == 0
    _still_serves(running, running.pid)


def test_a_lost_reply_is_a_clear_error(own: list[Served], tmp_path: Path) -> None:
    running = Served(tmp_path / "lr", control.Limits(idle_timeout=120, time_limit=300, memory_limit=4096))
    own.append(running)
    process, child = _hanging(running)
    with process:
        os.kill(running.pid, signal.SIGKILL)  # nobody is left to report how the child ends
        _wait_for(lambda: not _alive(running.pid))
        os.kill(child, signal.SIGKILL)
        out, err = process.communicate(timeout=30)
    assert (process.returncode, out) == (1, b"")
    assert err.decode() == "jacli: error: the server stopped during the request; its exit status is unknown\n"


# ---------------------------------------------------------------------------
# 5. Limits out of range are refused (exit 2), from the option and the environment.
# ---------------------------------------------------------------------------

RANGE = "use a number from 0 to 604800 seconds (0: never exit when idle)"


@pytest.mark.parametrize("value", ["nan", "inf", "1e308", "-inf", "604801"])
def test_idle_timeout_out_of_range_is_refused(tmp_path: Path, value: str) -> None:
    directory = tmp_path / "lim"
    directory.mkdir(mode=0o700)
    env = _env(str(directory))
    result = subprocess.run([*_client_command(), "server", "start", "--idle-timeout", value],
                            capture_output=True, env=env, timeout=60, check=False)  # fmt: skip
    shown = str(float(value))
    assert (result.returncode, result.stdout) == (2, b""), result
    if value.startswith("-"):  # below the option's min=0: Click's own range message
        assert result.stderr.decode().startswith("jacli: error: Invalid value for '--idle-timeout': -inf")
    else:
        assert result.stderr.decode() == f"jacli: error: --idle-timeout {shown} is not allowed: {RANGE}\n"
    assert control.status(str(directory)) is None  # nothing was started


@pytest.mark.parametrize("value", ["nan", "inf", "1e308", "-1", "soon"])
def test_idle_timeout_from_the_environment_out_of_range_is_refused(tmp_path: Path, value: str) -> None:
    directory = tmp_path / "lim"
    directory.mkdir(mode=0o700)
    env = _env(str(directory), JACLI_SERVER_IDLE_TIMEOUT=value)
    result = subprocess.run([*_client_command(), "server", "start"], capture_output=True, env=env, timeout=60,
                            check=False)  # fmt: skip
    assert (result.returncode, result.stdout) == (2, b""), result
    assert result.stderr.decode() == f"jacli: error: JACLI_SERVER_IDLE_TIMEOUT={value} is not allowed: {RANGE}\n"
    assert control.status(str(directory)) is None
    # A first call cannot start one either (warm by default): the command runs in-process, the note comes
    # last, and nothing remembers the failure (fixing the variable is enough).
    auto = subprocess.run([*_client_command(), *SEED, "-f", "json"], capture_output=True, env=env, timeout=120,
                          check=False)  # fmt: skip
    assert (auto.returncode, auto.stdout.decode()) == (0, SEED_JSON)
    assert auto.stderr.decode() == (
        f"jacli: note: could not start the warm server: JACLI_SERVER_IDLE_TIMEOUT={value} is not allowed: "
        f"{RANGE}; ran in-process\n"
    )
    assert not (directory / control.FAILED).exists()


def test_limits_are_checked_in_one_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(protocol.ENV_IDLE, raising=False)
    assert control.idle_timeout() == control.DEFAULT_IDLE_TIMEOUT
    assert control.idle_timeout(0) == 0
    assert control.idle_timeout(604800) == 604800
    monkeypatch.setenv(protocol.ENV_IDLE, " 60 ")
    reset_settings()  # the environment is read once per command
    assert control.idle_timeout() == 60
    assert control.checked(control.Limits(None, 10, 20)) == control.Limits(60, 10, 20)
    for limits in (control.Limits(1, 10**30, 1), control.Limits(1, 1, 2**60), control.Limits(1, -1, 1)):
        with pytest.raises(control.LimitError) as caught:
            control.checked(limits)
        assert caught.value.exit_code == 2
    with pytest.raises(control.LimitError, match=r"^--idle-timeout nan is not allowed"):
        control.idle_timeout(float("nan"))


def test_time_limit_out_of_range_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "lim"
    directory.mkdir(mode=0o700)
    result = subprocess.run([*_client_command(), "server", "start", "--time-limit", str(10**30)],
                            capture_output=True, env=_env(str(directory)), timeout=60, check=False)  # fmt: skip
    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr.decode().startswith(f"jacli: error: --time-limit {10**30} is not allowed: use a number")
    assert control.status(str(directory)) is None


# ---------------------------------------------------------------------------
# 6. Out of memory: exit 2 through the server, as in-process.
# ---------------------------------------------------------------------------

BIG = ["jacobian", "x*x", "--at", "x=[" + ",".join(["1"] * 300) + "]", "--no-symbolic", "-f", "csv"]

IN_PROCESS_UNDER_A_LIMIT = """
import contextlib, io, resource, sys
from jacli import cli, entry
from jacli.server import daemon
with contextlib.redirect_stdout(io.StringIO()):
    cli.run(["jacobian", "x*x", "--at", "x=[1,2]", "--no-symbolic", "-f", "csv"])  # what the server preloads
limit = daemon._address_space() + 2 * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.argv = ["jacli", *sys.argv[1:]]
entry.main()
"""


def test_out_of_memory_is_status_2_both_ways(own: list[Served], tmp_path: Path) -> None:
    running = Served(tmp_path / "oom", control.Limits(idle_timeout=120, time_limit=60, memory_limit=2))
    own.append(running)
    env = _env(running.dir, JACLI_SERVER="off")
    local = subprocess.run([sys.executable, "-c", IN_PROCESS_UNDER_A_LIMIT, *BIG], capture_output=True, env=env,
                           timeout=120, check=False)  # fmt: skip
    served = running.status()["served"]
    remote = running.run(*BIG)
    assert running.status()["served"] == served + 1
    for result in (local, remote):
        lines = result.stderr.decode().splitlines()
        assert (result.returncode, result.stdout, len(lines)) == (2, b"", 1), result
        assert lines[0].startswith("jacli: error: out of memory"), lines
    _still_serves(running, running.pid)


# ---------------------------------------------------------------------------
# 7. Ctrl-C at start-up: 130, quietly.
# ---------------------------------------------------------------------------


def _interrupt_at_start(command: list[str], env: dict[str, str], delay: float) -> tuple[int, list[str]]:
    """Start ``command``, wait until it has imported jacli.entry, plus ``delay`` s, then Ctrl-C.

    ``-X importtime`` (via its environment variable) marks the moment: before
    it, the interpreter itself is starting up, which no code of ours can
    intercept. Returns the exit status and stderr without the import lines.
    """
    env = {**env, "PYTHONPROFILEIMPORTTIME": "1"}
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env) as process:  # fmt: skip
        assert process.stderr is not None and process.stdin is not None
        lines: list[str] = []
        while not any(line.rstrip().endswith("| jacli.entry") for line in lines):
            line = process.stderr.readline().decode()
            assert line, f"exited early: {lines[-5:]}"
            lines.append(line)
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        rest = process.stderr.read().decode()  # until it exits; stdin stays open: only Ctrl-C ends it
        code = process.wait(timeout=60)
    messages = [line for line in (*lines, *rest.splitlines()) if not line.startswith("import time:")]
    return code, [line.rstrip("\n") for line in messages]


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.3, 1.0])
def test_ctrl_c_during_in_process_start_up_exits_130_quietly(tmp_path: Path, delay: float) -> None:
    env = _env(str(tmp_path), JACLI_SERVER="off")
    code, stderr = _interrupt_at_start([*_client_command(), "jacobian", "-", "--at", "1,2"], env, delay)
    assert (code, stderr) == (130, []), stderr


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.2])
def test_ctrl_c_while_using_the_server_exits_130_quietly(warm: Served, delay: float) -> None:
    code, stderr = _interrupt_at_start([*_client_command(), "jacobian", "-", "--at", "1,2"], _env(warm.dir), delay)
    assert (code, stderr) == (130, []), stderr
    _wait_for(lambda: warm.status()["running"] == 0)


# ---------------------------------------------------------------------------
# Output-stream statuses are relayed exactly: the same as in-process.
# ---------------------------------------------------------------------------


def _with_stdout(served: Served, stdout: str, **env: str) -> tuple[int, bytes]:
    """Run the seed Jacobian (a big table) with stdout ``closed-pipe`` or ``/dev/full``; (status, stderr)."""
    argv = ["vjp", "x*x", "--at", "x=[" + ",".join(["1"] * 400) + "]", "--v", "ones", "--no-symbolic"]
    if stdout == "/dev/full":
        target = os.open("/dev/full", os.O_WRONLY)
    else:
        read, target = os.pipe()
        os.close(read)  # the reader is gone before the first byte: EPIPE
    try:
        result = subprocess.run([*_client_command(), *argv], stdin=subprocess.DEVNULL, stdout=target,
                                capture_output=False, stderr=subprocess.PIPE, env=_env(served.dir, **env),
                                timeout=120, check=False)  # fmt: skip
    finally:
        os.close(target)
    return result.returncode, result.stderr


@pytest.mark.parametrize("stdout", ["closed-pipe", "/dev/full"])
def test_output_errors_give_the_same_status_through_the_server(warm: Served, stdout: str) -> None:
    served = warm.status()["served"]
    remote = _with_stdout(warm, stdout)
    assert warm.status()["served"] == served + 1
    local = _with_stdout(warm, stdout, JACLI_SERVER="off")
    # The status, and the diagnostic (the last line: a traceback's frames differ), are those of an in-process run.
    assert remote[0] == local[0]
    assert remote[1].splitlines()[-1:] == local[1].splitlines()[-1:]
