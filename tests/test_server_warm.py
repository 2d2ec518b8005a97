"""Warm by default: the first call starts the server (one note, once), later calls use it, concurrent
first calls start one server, ``JACLI_SERVER=off`` never starts one; the goldens through the server.

One server is started the way a user gets it (eight concurrent first calls in a fresh private
directory) and reused by every test of the module; it is stopped and killed by pid at the end.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_golden import CASES as GOLDEN_CASES
from test_golden import FORMATS, GOLDEN
from test_server import SEED, SEED_JSON, _alive, _client_command, _env, _kill

from jacli import limits
from jacli.server import client, control, protocol

pytestmark = pytest.mark.slow

NOTE = (
    "jacli: note: started a warm server for faster answers (it exits after 5m 00s idle); "
    "JACLI_SERVER=off turns this off\n"
)
FIRST_CALLS = 8


@dataclass
class AutoStarted:
    """The server that :data:`FIRST_CALLS` concurrent first calls started, and what those calls printed."""

    dir: str
    first: list[tuple[int, bytes, bytes]]
    pid: int = 0

    def status(self) -> dict:
        info = control.status(self.dir)
        assert info is not None, "the server is not answering"
        return info

    def run(self, *argv: str, **env: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*_client_command(), *argv], capture_output=True, env=self.env(**env),
                              timeout=120, check=False)  # fmt: skip

    def env(self, **extra: str) -> dict[str, str]:
        return _env(self.dir, **{protocol.ENV_IDLE: "300", **extra})  # JACLI_SERVER unset: the default


@pytest.fixture(scope="module")
def auto() -> Iterator[AutoStarted]:
    directory = tempfile.mkdtemp(prefix="jsw-", dir="/tmp")  # short: Unix socket paths max out at 107 bytes
    started = AutoStarted(directory, [])
    try:
        procs = [
            subprocess.Popen(
                [*_client_command(), *SEED, "-f", "json"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=started.env(),
            )
            for _ in range(FIRST_CALLS)
        ]
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            started.first.append((proc.returncode, out, err))
        info = control.status(directory)
        started.pid = int(info["pid"]) if info else 0
        yield started
    finally:
        control.stop(directory, timeout=5)
        _kill(started.pid)
        shutil.rmtree(directory, ignore_errors=True)


def test_concurrent_first_calls_start_one_server_and_note_it_once(auto: AutoStarted) -> None:
    assert [(code, out) for code, out, _ in auto.first] == [(0, SEED_JSON.encode())] * FIRST_CALLS
    assert sorted(err for _, _, err in auto.first) == [b""] * (FIRST_CALLS - 1) + [NOTE.encode()]
    log = Path(auto.dir, "server.log").read_text()
    assert log.count(": listening on ") == 1  # one server was started, not eight
    info = auto.status()
    assert info["pid"] == auto.pid and info["same_code"] and info["idle_timeout"] == 300
    assert info["served"] == FIRST_CALLS  # each first call was answered by it, after waiting for it to start


def test_later_calls_are_served_without_a_note(auto: AutoStarted) -> None:
    served = auto.status()["served"]
    later = auto.run(*SEED, "-f", "json")
    assert (later.returncode, later.stdout.decode(), later.stderr) == (0, SEED_JSON, b"")
    assert auto.status()["served"] == served + 1
    assert auto.status()["pid"] == auto.pid


def test_off_never_uses_a_server(auto: AutoStarted) -> None:
    """(Nor starts one: test_server.py's test_auto_is_the_default_and_off_never_starts_one.)"""
    served = auto.status()["served"]
    off = auto.run(*SEED, "-f", "json", JACLI_SERVER="off")
    assert (off.returncode, off.stdout.decode(), off.stderr) == (0, SEED_JSON, b"")
    assert auto.status()["served"] == served


@pytest.mark.parametrize("value", ["0", "no", "sometimes"])
def test_an_unknown_setting_is_noted_and_starts_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(protocol.ENV_DIR, str(tmp_path))
    monkeypatch.setenv(protocol.ENV_MODE, value)
    notes: list[str] = []
    assert client.try_server(SEED, notes) is None  # run in-process
    assert notes == [f"jacli: note: ignored JACLI_SERVER={value!r} (use auto or off); ran in-process"]
    assert list(tmp_path.iterdir()) == []


def test_a_failed_start_is_noted_once_then_not_retried_for_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "s"
    monkeypatch.setenv(protocol.ENV_DIR, str(directory))
    monkeypatch.delenv(protocol.ENV_MODE, raising=False)
    spawned: list[str] = []

    def broken(where: str, _limits: control.Limits) -> int:
        spawned.append(where)
        raise control.StartError("the server did not start: No module named 'torch' (log: …)")

    monkeypatch.setattr(control, "_spawn", broken)
    notes: list[str] = []
    assert client.try_server(SEED, notes) is None
    assert notes == [
        "jacli: note: could not start the warm server: the server did not start: No module named 'torch' "
        "(log: …); ran in-process"
    ]
    notes.clear()
    assert client.try_server(SEED, notes) is None  # within RETRY_AFTER: in-process at once, quietly
    assert (notes, len(spawned)) == ([], 1)
    failed = directory / control.FAILED
    os.utime(failed, (0, 0))  # long ago
    assert client.try_server(SEED, notes) is None
    assert len(spawned) == 2


def _via_server(directory: str, argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """``jacli ARGV`` forwarded from this process (:func:`client.forward`) with stdout and stderr in files."""
    saved_fds = [os.dup(fd) for fd in (0, 1, 2)]
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    saved_env = dict(os.environ)
    files = [tempfile.TemporaryFile() for _ in range(3)]
    try:
        for fd, file in enumerate(files):
            os.dup2(file.fileno(), fd)
        os.environ.clear()
        os.environ.update(env)
        sys.stdin, sys.stdout, sys.stderr = (io.TextIOWrapper(open(fd, "rb" if fd == 0 else "wb", closefd=False),
                                                              encoding="utf-8") for fd in (0, 1, 2))  # fmt: skip
        code = client.forward(argv, directory)
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        sys.stdin, sys.stdout, sys.stderr = saved_streams
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
    return code, outputs[0], outputs[1]


def test_goldens_are_byte_identical_through_the_server(auto: AutoStarted) -> None:
    env = auto.env(COLUMNS="100", NO_COLOR="1")
    served = auto.status()["served"]
    differing = []
    for name in sorted(GOLDEN_CASES):
        for fmt in FORMATS:
            got = _via_server(auto.dir, [*GOLDEN_CASES[name], "--format", fmt], env)
            if got != (0, (GOLDEN / f"{name}.{fmt}").read_text(), ""):
                differing.append(f"{name}.{fmt}")
    assert differing == []
    assert auto.status()["served"] == served + len(GOLDEN_CASES) * len(FORMATS)
    assert _alive(auto.pid)


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        ([], {}),
        (["--help"], {}),
        (["jacobian", "--help"], {}),
        (["hessian", "x", "-h"], {}),
        (["--version"], {}),
        (["language"], {}),
        (["jacobian"], {"_JACLI_COMPLETE": "complete_bash", "COMP_WORDS": "jacli ja", "COMP_CWORD": "1"}),
    ],
)
def test_help_version_and_tab_never_wait_for_a_server_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], env: dict[str, str]
) -> None:
    """They need no torch and answer in a tenth of a second in-process: a Tab press must not start a server."""
    monkeypatch.setenv(protocol.ENV_DIR, str(tmp_path))
    monkeypatch.delenv(protocol.ENV_MODE, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    starts: list[int] = []
    monkeypatch.setattr(control, "auto_start", lambda: starts.append(1) or (False, ""))
    notes: list[str] = []
    assert client.try_server(argv, notes) is None
    assert (starts, notes) == ([], [])
    for name in env:
        monkeypatch.delenv(name)
    assert client.try_server(SEED, notes) is None  # a computation would start one
    assert starts == [1]
