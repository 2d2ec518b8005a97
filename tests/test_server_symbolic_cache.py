"""The symbolic form through a real warm server: the derivation of a first call is replayed, so an
identical second call (a fresh client, a fresh child) is a cache hit with the very same bytes.

In-process tests of the key and the replay: tests/test_symbolic_warm_cache.py.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_server import Running, in_process, module_server

from jacli import problem, symbolic, symbolic_result

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
from scale import rosenbrock


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    yield from module_server()


def _replayed(running: Running, misses: int) -> dict:
    """The status once the server has read a report of more than ``misses`` slow misses and replayed it."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        info = running.status()
        if info["cache_misses"] > misses and not info["cache_pending"] and info["spare_pid"]:
            return info
        time.sleep(0.2)
    raise AssertionError(f"no replay: {running.status()}")


def _in_process(argv: list[str], text: bytes) -> tuple[int, str, str]:
    for cache in (problem._parse, problem.program_for, problem.compiled_for):
        cache.cache_clear()
    symbolic_result.clear_caches()
    symbolic._text_of.cache_clear()
    return in_process(argv, text, {})


@pytest.mark.parametrize(("n", "sparse"), [(300, False), (301, True)])  # two sizes: each first call a miss
def test_a_repeated_symbolic_call_is_a_cache_hit_with_the_same_bytes(server: Running, n: int, sparse: bool) -> None:
    text = rosenbrock(n).encode()
    argv = ["hessian", "-", "--at", ",".join(["1.1"] * n), "-f", "json", *(["--sparse"] if sparse else [])]
    before = server.status()
    first = server.run(*argv, input=text)
    assert first.returncode == 0 and first.stderr == b""
    assert b'"symbolic"' in first.stdout
    info = _replayed(server, before["cache_misses"])
    assert info["cache_dropped"] == before["cache_dropped"]  # the derivation's replay fitted its bounds
    for _ in range(2):  # under a budget far too small to derive it: only a cache hit has the symbolic form
        hit = server.run(*argv, input=text, JACLI_TIME_BUDGET="0.05")
        assert hit.stdout == first.stdout and hit.returncode == 0
    assert server.settled("cache_hits", info["cache_hits"] + 2)["cache_hits"] - info["cache_hits"] == 2  # both hit
    bigger = [*argv[:3], ",".join(["1.1"] * (n + 10)), *argv[4:]]
    slow = server.run(*bigger, input=rosenbrock(n + 10).encode(), JACLI_TIME_BUDGET="0.05")
    assert b"symbolic form skipped: took longer than 0.05 s" in slow.stderr  # what a miss under it gives
    assert (hit.returncode, hit.stdout.decode(), hit.stderr.decode()) == _in_process(argv, text)
