"""The warm server's spare child: forked ahead, warmed at idle priority, replaced when lost; the C socket.

A stand-in server (:func:`jacli.server.daemon.serve` with a recording ``run``
and ``warm``, no torch) shows the priorities; a real one (the module fixture)
shows that a killed spare costs nothing but a fork and that the server keeps
one spare, not more.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator

import pytest

from jacli.server import client, control, protocol

pytestmark = pytest.mark.slow

SEED_JSON_ARGV = ["jacobian", "2*x0+x1**2, x0**2+2*x1**3", "--at", "1,2", "-f", "json"]
SEED_JSON = (
    '{"command": "jacobian", "inputs": ["x0", "x1"], "outputs": ["f0", "f1"], "point": {"x0": 1.0, "x1": 2.0}, '
    '"value": [6.0, 17.0], "result": [[2.0, 4.0], [2.0, 24.0]], "mode": "reverse", '
    '"symbolic": [["2", "2*x1"], ["2*x0", "6*x1**2"]]}\n'
)

# A server whose commands and warm-up only record the scheduling policy they ran at.
STAND_IN = """
import os, sys, time
from jacli.server import control, daemon

directory, log, warm_up = sys.argv[1:4]

def note(what):
    with open(log, "a") as f:
        f.write(f"{os.getpid()} {what} {os.sched_getscheduler(0)}\\n")

def warm():
    note("warm")
    if warm_up == "fail":
        raise RuntimeError("a warm-up that fails")
    time.sleep(float(warm_up))
    note("warmed")

def run(argv):
    note("run")
    return 3

daemon.serve(directory, control.Limits(30, 10, 0), run, lambda: None, warm=[warm])
"""


def _wait_for(condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _children(pid: int) -> set[int]:
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
        return {int(child) for child in f.read().split()}


def _policy(pid: int) -> int:
    return os.sched_getscheduler(pid)


class StandIn:
    def __init__(self, warm_up: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="jsp-", dir="/tmp")  # short: Unix socket paths max out at 107 bytes
        self.log = os.path.join(self.dir, "log")
        self.process = subprocess.Popen([sys.executable, "-c", STAND_IN, self.dir, self.log, warm_up],
                                        stderr=subprocess.DEVNULL)  # fmt: skip
        _wait_for(lambda: os.path.exists(protocol.socket_path(self.dir)))

    def lines(self) -> list[str]:
        """What the children did and at which policy, in order, each child after the one before."""
        with open(self.log, encoding="ascii") as f:
            notes = [line.split(" ", 1) for line in f.read().splitlines()]
        pids = list(dict.fromkeys(pid for pid, _ in notes))
        return [note for pid in pids for child, note in notes if child == pid]

    def close(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def stand_ins() -> Iterator[list[StandIn]]:
    started: list[StandIn] = []
    try:
        yield started
    finally:
        for stand_in in started:
            stand_in.close()


def test_a_request_during_the_warm_up_runs_at_the_server_priority(stand_ins: list[StandIn]) -> None:
    server = StandIn("3")
    stand_ins.append(server)
    _wait_for(lambda: os.path.exists(server.log) and server.lines())
    assert server.lines() == [f"warm {os.SCHED_IDLE}"]  # the spare warms up at idle priority
    assert client.forward(["anything"], server.dir) == 3  # arrives during the 3 s warm-up
    # the parent put the spare back to normal priority at once: the rest of its warm-up and the command
    assert server.lines()[:3] == [f"warm {os.SCHED_IDLE}", f"warmed {os.SCHED_OTHER}", f"run {os.SCHED_OTHER}"]
    _wait_for(lambda: len(server.lines()) >= 4)  # the next spare
    assert server.lines()[3] == f"warm {os.SCHED_IDLE}"


def test_a_spare_whose_warm_up_fails_is_replaced_by_a_fresh_child(stand_ins: list[StandIn]) -> None:
    server = StandIn("fail")
    stand_ins.append(server)
    for _ in range(2):
        # its spare (forked at the start, then at each dispatch) failed and is gone: a fresh fork serves
        _wait_for(lambda: os.path.exists(server.log) and server.lines() and not _children(server.process.pid))
        assert client.forward(["anything"], server.dir) == 3
    runs = [line for line in server.lines() if line.startswith("run")]
    assert runs == [f"run {os.SCHED_OTHER}"] * 2
    assert control.status(server.dir)["served"] == 2  # type: ignore[index]


# ---------------------------------------------------------------------------
# A real server.
# ---------------------------------------------------------------------------


class Real:
    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="jsr-", dir="/tmp")
        self.pid = int(control.start(control.Limits(120, 30, 4096), directory=self.dir)["pid"])

    def run(self) -> subprocess.CompletedProcess[bytes]:
        env = {k: v for k, v in os.environ.items() if k not in (protocol.ENV_MODE, "COLUMNS", "LINES")}
        env[protocol.ENV_DIR] = self.dir
        return subprocess.run([sys.executable, "-m", "jacli", *SEED_JSON_ARGV], capture_output=True, env=env,
                              timeout=60, check=False)  # fmt: skip

    def spare(self) -> int:
        """The server's spare child, once it has warmed up (back at normal priority)."""

        def warmed() -> int:
            pid = control.status(self.dir)["spare_pid"]  # type: ignore[index]
            return pid if pid and _policy(pid) == os.SCHED_OTHER else 0

        _wait_for(warmed, 60)
        return warmed()


@pytest.fixture(scope="module")
def real() -> Iterator[Real]:
    server = Real()
    try:
        yield server
    finally:
        control.stop(server.dir, timeout=5)
        with pytest.raises(ProcessLookupError):
            for _ in range(500):
                os.kill(server.pid, 0)
                time.sleep(0.01)
            os.kill(server.pid, signal.SIGKILL)
        shutil.rmtree(server.dir, ignore_errors=True)


def test_a_request_after_the_spare_was_killed_still_works(real: Real) -> None:
    served = control.status(real.dir)["served"]  # type: ignore[index]
    spare = real.spare()
    os.kill(spare, signal.SIGKILL)
    _wait_for(lambda: spare not in _children(real.pid))  # reaped
    result = real.run()
    assert (result.returncode, result.stdout.decode(), result.stderr) == (0, SEED_JSON, b"")
    assert control.status(real.dir)["served"] == served + 1  # type: ignore[index]
    assert real.spare() != spare  # and a new spare waits for the next one


def test_the_server_keeps_one_spare_and_its_memory_stays_bounded(real: Real) -> None:
    for _ in range(6):
        result = real.run()
        assert (result.returncode, result.stdout.decode(), result.stderr) == (0, SEED_JSON, b"")
    spare = real.spare()
    _wait_for(lambda: _children(real.pid) == {spare})  # once idle, one child: every used one was reaped
    with open(f"/proc/{spare}/smaps_rollup", encoding="ascii") as f:
        fields = {line.split(":")[0]: line.split()[1] for line in f if line.split()[-1:] == ["kB"]}
    copied = int(fields["Private_Dirty"]) // 1024  # what the warm-up copied from the server: a few MiB
    assert copied < 64, f"the spare holds {copied} MiB of its own"


# ---------------------------------------------------------------------------
# The client's C socket (no `socket` import on the warm path) against the socket module.
# ---------------------------------------------------------------------------


def test_descriptors_pass_between_the_c_socket_and_the_socket_module() -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    read_fd, write_fd = os.pipe()
    try:
        protocol.send_message(ours, {"a": [1, "é"]}, [write_fd])
        data, fds, _flags, _addr = socket.recv_fds(theirs, 100, 4)
        assert protocol.decode(data[protocol.HEADER_SIZE :]) == {"a": [1, "é"]} and len(fds) == 1
        socket.send_fds(theirs, [protocol.encode({"b": True})], [fds[0], fds[0]])
        os.close(fds[0])
        message, back = protocol.recv_message(ours, max_fds=4)
        assert message == {"b": True} and len(back) == 2
        os.write(back[1], b"x")
        protocol.close_all(back)
        assert os.read(read_fd, 1) == b"x"
    finally:
        protocol.close_all([read_fd, write_fd])
        ours.close()
        theirs.close()


def test_an_unprivileged_spare_skips_the_idle_warm_up_and_can_still_serve() -> None:
    """Leaving SCHED_IDLE needs CAP_SYS_NICE (or RLIMIT_NICE): an ordinary user's spare that took it could never
    go back, and died, replaced forever by another. Run as nobody (when root) with the default RLIMIT_NICE 0."""
    from jacli.server import child

    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the forked child
        status = 3
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_NICE, (0, resource.getrlimit(resource.RLIMIT_NICE)[1]))
            if os.getuid() == 0:
                os.setgroups([])
                os.setresgid(65534, 65534, 65534)
                os.setresuid(65534, 65534, 65534)  # no capabilities left
            ran = []
            priority = os.sched_getscheduler(0), os.sched_getparam(0)
            served = child.warm_up([lambda: ran.append(1)], theirs, priority)
            back = os.sched_getscheduler(0) == priority[0]
            status = 0 if (served, back, ran, child.idle_is_reversible()) == (True, True, [], False) else 1
        finally:
            os._exit(status)
    ours.close()
    theirs.close()
    assert os.waitpid(pid, 0)[1] >> 8 == 0
