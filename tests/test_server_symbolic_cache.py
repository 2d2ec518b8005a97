"""The symbolic form through a real warm server: the derivation of a first call is replayed, so an
identical second call (a fresh client, a fresh child) is a cache hit with the very same bytes.

In-process tests of the key and the replay: tests/test_symbolic_warm_cache.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_server import Running, in_process
from test_server_cache import AT, TEXT, _replayed

from jacli import problem, symbolic, symbolic_result
from jacli.server import control

SYMBOLIC = ["hessian", "-", "--at", AT, "-f", "json"]


@pytest.fixture(scope="module")
def server() -> Iterator[Running]:
    running = Running(control.Limits(idle_timeout=300, time_limit=120, memory_limit=4096))
    try:
        yield running
    finally:
        running.close()


def _in_process(argv: list[str]) -> tuple[int, str, str]:
    for cache in (problem._parse, problem.program_for, problem.compiled_for):
        cache.cache_clear()
    symbolic_result.clear_caches()
    symbolic._text_of.cache_clear()
    return in_process(argv, TEXT, {})


@pytest.mark.parametrize("sparse", [False, True])
def test_a_repeated_symbolic_call_is_a_cache_hit_with_the_same_bytes(server: Running, sparse: bool) -> None:
    argv = [*SYMBOLIC, *(["--sparse"] if sparse else [])]
    before = server.status()
    first = server.run(*argv, input=TEXT)
    assert first.returncode == 0 and first.stderr == b""
    assert b'"symbolic"' in first.stdout
    info = _replayed(server, 1)
    assert info["cache_dropped"] == before["cache_dropped"]  # the derivation's replay fitted its bounds
    for _ in range(2):
        hit = server.run(*argv, input=TEXT)
        assert hit.stdout == first.stdout and hit.returncode == 0
    after = server.status()
    assert after["cache_hits"] - info["cache_hits"] == 2  # both found the replayed entries
    assert after["cache_misses"] == info["cache_misses"]  # and built nothing slowly: no derivation
    assert (hit.returncode, hit.stdout.decode(), hit.stderr.decode()) == _in_process(argv)
