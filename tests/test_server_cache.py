"""The warm server's program cache through a real server: a repeated big expression is a cache hit,
with the very bytes of a miss in every format; the status shows the counters; a stale server
(another fingerprint) is still replaced, and the new one starts with an empty cache.

In-process tests of the registry and the replay bounds: tests/test_warm_cache.py.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_server import SEED, SEED_JSON, Running, in_process, module_server

from jacli import problem
from jacli.server import client, protocol

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
from scale import rosenbrock

N = 300  # big enough that building its program is a slow miss (well over WARM_CACHE_MIN_SECONDS)
TEXT = rosenbrock(N).encode()
AT = ",".join(["1.1"] * N)
HESSIAN = ["hessian", "-", "--at", AT, "--no-symbolic"]
NOTE = (
    "jacli: note: started a warm server for faster answers (it exits after 15m 00s idle); "
    "JACLI_SERVER=off turns this off\n"
)


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    yield from module_server()


def _replayed(running: Running, entries: int) -> dict:
    """The status once the server holds ``entries`` replayed builds and nothing waits for a replay."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        info = running.status()
        if info["cache_entries"] >= entries and not info["cache_pending"] and info["spare_pid"]:
            return info
        time.sleep(0.2)
    raise AssertionError(f"no replay: {running.status()}")


def _miss_in_process(argv: list[str]) -> tuple[int, str, str]:
    """The command in this process with every program cache empty: a miss."""
    for cache in (problem._parse, problem.program_for, problem.compiled_for):
        cache.cache_clear()
    return in_process(argv, TEXT, {})


def test_a_repeated_big_call_is_a_cache_hit_with_the_same_bytes(server: Running) -> None:
    first = server.run(*HESSIAN, "-f", "json", input=TEXT)
    assert first.returncode == 0 and first.stderr == b""
    info = _replayed(server, 1)
    assert (info["cache_hits"], info["cache_misses"], info["cache_dropped"]) == (0, 1, 0)
    for fmt in ("json", "csv", "table", "latex"):
        argv = [*HESSIAN, "-f", fmt]
        hit = server.run(*argv, input=TEXT)
        assert (hit.returncode, hit.stdout.decode(), hit.stderr.decode()) == _miss_in_process(argv)
    assert server.run(*HESSIAN, "-f", "json", input=TEXT).stdout == first.stdout
    info = server.settled("cache_hits", 5)
    assert info["cache_hits"] == 5  # every call found the first call's builds
    assert info["cache_misses"] >= 1  # the table and LaTeX renderings may build something of their own once
    # float32 and another point: the same programs (dtype and point are not part of the key)
    argv = [*HESSIAN[:3], ",".join(["0.5"] * N), "--no-symbolic", "-f", "json", "--dtype", "float32"]
    hit = server.run(*argv, input=TEXT)
    assert (hit.returncode, hit.stdout.decode(), hit.stderr.decode()) == _miss_in_process(argv)
    assert server.settled("cache_hits", 6)["cache_hits"] == 6
    status = server.run("server", "status").stdout.decode().splitlines()
    info = server.status()
    assert [line for line in status if "cache" in line] == [
        f"  cache         {info['cache_entries']} builds kept, 6 hits, {info['cache_misses']} misses, 0 dropped"
    ]


def _quiet(server: Running, timeout: float = 30.0) -> dict:
    """The status once no child runs and nothing waits for a replay (every report counted)."""
    deadline = time.monotonic() + timeout
    info = server.status()
    while (info["running"] or info["cache_pending"]) and time.monotonic() < deadline:
        time.sleep(0.05)
        info = server.status()
    return info


def test_small_commands_leave_the_cache_alone(server: Running) -> None:
    before = _quiet(server)
    result = server.run(*SEED, "-f", "json")
    assert (result.returncode, result.stdout.decode()) == (0, SEED_JSON)
    after = _quiet(server)
    assert [after[k] for k in ("cache_entries", "cache_misses", "cache_pending")] == [
        before[k] for k in ("cache_entries", "cache_misses", "cache_pending")
    ]


def test_a_stale_server_is_still_replaced(server: Running, monkeypatch: pytest.MonkeyPatch,
                                          capfd: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert server.status()["cache_entries"] >= 1
    old = server.pid
    real = protocol.fingerprint
    calls = []

    def upgraded_since() -> str:  # only the first look sees the old version
        calls.append(1)
        return "jacli from before the upgrade" if len(calls) == 1 else real()

    monkeypatch.setenv(protocol.ENV_DIR, server.dir)
    monkeypatch.delenv(protocol.ENV_MODE, raising=False)
    monkeypatch.setattr(protocol, "fingerprint", upgraded_since)
    capfd.readouterr()
    assert client.try_server([*SEED, "-f", "json"]) == 0
    out, err = capfd.readouterr()
    assert out == SEED_JSON
    assert err in ("", NOTE)  # a first automatic start in this directory says so once
    info = server.status()
    server.pids.append(int(info["pid"]))
    assert info["pid"] != old and info["served"] == 1
    assert (info["cache_entries"], info["cache_hits"], info["cache_misses"]) == (0, 0, 0)
