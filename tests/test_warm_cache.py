"""The program cache the warm server shares with its children (jacli/warm_cache.py, jacli/server/replay.py), in-process.

The registry is a drop-in for ``functools.lru_cache``; its slow outermost misses make a report; the
server's :class:`~jacli.server.replay.Replays` replays reported keys within their bounds and drops a
replay that raises, runs long or runs out of memory. The real server is in tests/test_server_cache.py.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import time
import zlib

import pytest

from jacli import api, limits, problem, symbolic_result, warm_cache
from jacli.errors import JacliError
from jacli.server import replay

CALLS: list[tuple] = []


@warm_cache.cached(maxsize=2, name="tests.square")
def square(x, *rest):
    CALLS.append((x, *rest))
    return [x * x if isinstance(x, int) else x]


@warm_cache.cached(maxsize=4, name="tests.outer")
def outer(x):
    return square(x)[0] + 1


@warm_cache.cached(maxsize=4, name="tests.fails")
def fails(x):
    raise ValueError(f"no {x}")


@warm_cache.cached(maxsize=4, name="tests.sleeps")
def sleeps(seconds):
    time.sleep(seconds)


ALLOCATED = [0]  # bytes allocated by ``allocates`` in this process


@warm_cache.cached(maxsize=4, name="tests.allocates")
def allocates(mib):
    ALLOCATED[0] += mib << 20
    return bytearray(mib << 20)


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch):
    """Empty test caches, every miss counted as slow, nothing reported yet."""
    for cache in (square, outer, fails, sleeps, allocates):
        cache.cache_clear()
    CALLS.clear()
    warm_cache.report()
    monkeypatch.setattr(limits, "WARM_CACHE_MIN_SECONDS", 0.0)
    yield
    warm_cache.report()


def _report() -> tuple[int, int, list]:
    data = warm_cache.report()
    return warm_cache.read_report(data) if data else (0, 0, [])


def test_a_drop_in_for_lru_cache() -> None:
    assert square(3) is square(3)
    assert CALLS == [(3,)]
    assert square.cache_info() == (1, 1, 2, 1)
    square(4), square(5)  # maxsize 2: 3 is evicted (least recently used)
    square(3)
    assert CALLS == [(3,), (4,), (5,), (3,)]
    assert square.__name__ == "square" and square.__wrapped__ is not None
    square.cache_clear()
    assert square.cache_info() == (0, 0, 2, 0)


def test_outermost_slow_misses_are_reported_nested_ones_are_not() -> None:
    outer(2)
    outer(2)
    assert _report() == (0, 1, [("tests.outer", (2,), ())])
    square(("a", (1, 2)), None, 1.5)  # plain data survives JSON: tuples come back as tuples
    assert _report() == (0, 1, [("tests.square", (("a", (1, 2)), None, 1.5), ())])
    assert warm_cache.report() == b""  # reported once


def test_keys_that_cannot_travel_are_counted_not_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    square(frozenset({1}))  # not plain data
    assert _report() == (0, 1, [])
    monkeypatch.setattr(limits, "WARM_CACHE_MAX_KEY_BYTES", 40)
    square("x" * 41)
    assert _report() == (0, 1, [])
    monkeypatch.setattr(limits, "WARM_CACHE_MIN_SECONDS", 60.0)
    square(7)  # fast: not worth a replay
    assert warm_cache.report() == b""


def test_fast_misses_and_kwargs_are_cached_but_not_reported() -> None:
    square(2, **{})
    assert _report() == (0, 1, [("tests.square", (2,), ())])
    with pytest.raises(TypeError):
        square(x=2, y=3)


def test_unreadable_reports_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    outer(1)
    data = warm_cache.report()
    for bad in (data[:-3], b"not zlib", zlib.compress(b"[1, 2]"), zlib.compress(b"{}")):
        with pytest.raises(ValueError, match="cache report"):
            warm_cache.read_report(bad)
    keys = [["nobody.registered", [1], []], ["tests.outer", [1], [None]]]  # unknown; a context it does not read
    unknown = zlib.compress(json.dumps([{"hits": 0, "misses": 1}, *keys]).encode())
    assert warm_cache.read_report(unknown) == (0, 1, [])
    monkeypatch.setattr(limits, "WARM_CACHE_MAX_REPORT_TEXT", 10)
    with pytest.raises(ValueError, match="too large or truncated"):
        warm_cache.read_report(data)


def test_a_replay_fills_warm_entries_that_count_as_hits() -> None:
    added = warm_cache.replay("tests.outer", (5,))
    assert sorted(added) == [("tests.outer", ((5,), (), ())), ("tests.square", ((5,), (), ()))]
    assert warm_cache.report() == b""  # a replay is no miss
    assert outer(5) == 26 and CALLS == [(5,)]
    assert _report() == (1, 0, [])
    square(5)  # filled by the replay, but nested there: not a server hit
    assert warm_cache.report() == b""
    warm_cache.evict_entry("tests.outer", ((5,), (), ()))
    assert not warm_cache.has("tests.outer", (5,)) and warm_cache.has("tests.square", (5,))


def _replays_of(*keys: tuple) -> replay.Replays:
    replays = replay.Replays()
    for name, args in keys:
        replays.pending.append((name, args, ()))
    return replays


def test_the_server_reads_a_report_from_the_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "WARM_CACHE_MAX_PENDING", 2)
    for x in (1, 2, 3):
        outer(x)
    ours, theirs = socket.socketpair()
    theirs.send(warm_cache.report())
    theirs.close()
    replays = replay.Replays()
    with ours:
        replays.take(ours)
    assert list(replays.pending) == [("tests.outer", (2,), ()), ("tests.outer", (3,), ())]  # the oldest dropped
    assert replays.counters() == {"cache_entries": 0, "cache_hits": 0, "cache_misses": 1, "cache_replayed": 0,
                                  "cache_dropped": 1, "cache_pending": 2}  # fmt: skip
    ours, theirs = socket.socketpair()
    theirs.send(b"garbage")
    theirs.close()
    with ours:
        replays.take(ours)
    assert replays.counters()["cache_misses"] == 1


def test_replays_are_bounded_in_count_and_keep_the_newest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "WARM_CACHE_MAX_ENTRIES", 2)
    replays = _replays_of(("tests.outer", (1,)), ("tests.outer", (2,)), ("tests.outer", (3,)), ("tests.outer", (3,)))
    assert [replays.replay_next() for _ in range(4)] == [True, True, True, False]
    assert list(replays.entries) == [("tests.outer", (2,), ()), ("tests.outer", (3,), ())]
    assert not warm_cache.has("tests.outer", (1,)) and not warm_cache.has("tests.square", (1,))
    assert warm_cache.has("tests.outer", (3,)) and replays.changed


def test_replays_are_bounded_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "WARM_CACHE_MAX_MEMORY", 48)
    # the growth as measured around each replay, without what freed memory the allocator reuses hides
    base = replay.address_space()
    monkeypatch.setattr(replay, "address_space", lambda: base + ALLOCATED[0])
    replays = _replays_of(("tests.allocates", (32,)), ("tests.allocates", (33,)))
    assert replays.replay_next() and replays.replay_next()
    assert list(replays.entries) == [("tests.allocates", (33,), ())]
    assert not warm_cache.has("tests.allocates", (32,))


def test_a_failing_replay_is_dropped(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(limits, "WARM_CACHE_REPLAY_SECONDS", 0.2)
    monkeypatch.setattr(limits, "WARM_CACHE_REPLAY_MEMORY", 64)
    handler, memory = signal.getsignal(signal.SIGALRM), resource.getrlimit(resource.RLIMIT_AS)
    replays = _replays_of(("tests.fails", (1,)), ("tests.sleeps", (5,)), ("tests.allocates", (512,)))
    started = time.monotonic()
    assert [replays.replay_next() for _ in range(3)] == [False, False, False]
    assert time.monotonic() - started < 3
    assert replays.counters()["cache_dropped"] == 3 and not replays.entries and not replays.changed
    log = capfd.readouterr().err.splitlines()
    assert [line.split(": ", 1)[1] for line in log] == [
        "a cache replay of tests.fails was dropped: ValueError: no 1",
        "a cache replay of tests.sleeps was dropped: it took longer than 0.2 s",
        "a cache replay of tests.allocates was dropped: out of memory (over 64 MiB)",
    ]
    assert (signal.getsignal(signal.SIGALRM), resource.getrlimit(resource.RLIMIT_AS)) == (handler, memory)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert outer(4) == 17  # calls still work after an interrupted replay


def test_the_program_caches_are_warm_caches() -> None:
    expr = "x**2*y + sin(x)"
    for cache in (problem._parse, problem.program_for, problem.compiled_for):
        assert isinstance(cache, warm_cache.WarmCache)
        cache.cache_clear()
    before = api.hessian(expr, at=[1.0, 2.0])
    reported = _report()
    assert {name for name, _, _ in reported[2]} == {
        "jacli.problem._parse", "jacli.problem.program_for", "jacli.problem.compiled_for",
        "jacli.symbolic_result.warm_symbolic_form"}  # fmt: skip
    for cache in (problem._parse, problem.program_for, problem.compiled_for):
        cache.cache_clear()
    symbolic_result.clear_caches()
    for key in reported[2]:
        assert set(key[2]) == {None}  # JACLI_MAX_LENGTH, JACLI_MAX_ELEMENTS (and JACLI_SYMENGINE) unset
        warm_cache.replay(*key)
    after = api.hessian(expr, at=[1.0, 2.0])
    assert _report()[:2] == (1, 0)
    assert after.result == before.result == [[4.0 - 0.8414709848078965, 2.0], [2.0, 0.0]]


@warm_cache.cached(maxsize=4, name="tests.reads_env", env=("JACLI_TEST_WARM",))
def reads_env(x):
    return (x, os.environ.get("JACLI_TEST_WARM"))


def test_the_environment_a_build_reads_is_part_of_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    reads_env.cache_clear()
    monkeypatch.setenv("JACLI_TEST_WARM", "a")
    assert reads_env(1) == (1, "a")
    assert _report() == (0, 1, [("tests.reads_env", (1,), ("a",))])
    monkeypatch.setenv("JACLI_TEST_WARM", "b")
    assert reads_env(1) == (1, "b")  # not the entry built under "a"
    warm_cache.report()
    monkeypatch.delenv("JACLI_TEST_WARM")
    warm_cache.replay("tests.reads_env", (2,), ("c",))  # replayed with the reporting command's value ...
    assert "JACLI_TEST_WARM" not in os.environ  # ... which is not left behind
    assert not warm_cache.has("tests.reads_env", (2,))
    monkeypatch.setenv("JACLI_TEST_WARM", "c")
    assert warm_cache.has("tests.reads_env", (2,)) and reads_env(2) == (2, "c")
    assert _report() == (1, 0, [])


def test_a_smaller_element_limit_is_not_bypassed_by_a_cached_build(monkeypatch: pytest.MonkeyPatch) -> None:
    expr = "sum(ones(50) * x)"
    assert api.gradient(expr, at=[1.0]).result == [50.0]
    monkeypatch.setenv("JACLI_MAX_ELEMENTS", "10")
    with pytest.raises(JacliError, match="the limit is 10 "):
        api.gradient(expr, at=[1.0])


def test_a_spare_s_warm_up_leaves_nothing_to_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """The spare's warm-up commands build (slowly, at idle priority): that is no client's miss."""
    from jacli.server import child

    monkeypatch.setattr(child, "idle_is_reversible", lambda: True)
    monkeypatch.setattr(child.os, "sched_setscheduler", lambda *args: None)  # the test process keeps its priority
    ours, theirs = socket.socketpair()
    with ours, theirs:
        priority = (os.sched_getscheduler(0), os.sched_getparam(0))
        assert child.warm_up([lambda: square(41)], theirs, priority)
    assert CALLS == [(41,)]  # the step ran, and built
    assert warm_cache.report() == b""
    square(42)
    assert _report()[1] == 1  # a command's own miss after the warm-up is reported


def test_the_server_preload_leaves_nothing_to_report(monkeypatch: pytest.MonkeyPatch) -> None:
    from jacli.server import __main__ as server_main

    monkeypatch.setattr(server_main, "_warm_up", lambda run: square(43))
    monkeypatch.setattr(server_main.gc, "freeze", lambda: None)  # not this test process's heap
    server_main._preload(lambda argv: 0)
    assert CALLS == [(43,)]
    assert warm_cache.report() == b""
