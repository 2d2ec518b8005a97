"""The warm server's program cache: what its children built slowly, replayed in the parent when idle.

A child's caches (:mod:`jacli.warm_cache`: the parsed expression, the SymPy
program, the torch program) die with it. So each child reports, when its
command ends, the keys of its slow outermost misses (a few KiB, compressed) on
its control socket; the parent reads the report once it has reaped the child,
and, when nobody waits for an answer, replays each key: it calls the same
cached function with the same arguments (the child's code, no second
implementation). Children forked afterwards inherit the filled entries, so a
shell loop over one big expression pays its build once.

Bounds (named in :mod:`jacli.limits`): a replay runs at most
:data:`~jacli.limits.WARM_CACHE_REPLAY_SECONDS` (``SIGALRM``; a request that
arrives meanwhile waits at most that long) and may add at most
:data:`~jacli.limits.WARM_CACHE_REPLAY_MEMORY` MiB of address space
(``RLIMIT_AS``); one that raises anything, runs long or runs out of memory is
dropped and never retried, and the server goes on. The server keeps at most
:data:`~jacli.limits.WARM_CACHE_MAX_ENTRIES` replayed keys adding at most
:data:`~jacli.limits.WARM_CACHE_MAX_MEMORY` MiB (the least recently replayed
evicted first), and at most :data:`~jacli.limits.WARM_CACHE_MAX_PENDING` keys
wait for a replay.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import os
import resource
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from jacli import limits, warm_cache
from jacli.server.child import address_space

Key = warm_cache.Key


class ReplayTimeout(BaseException):
    """Raised by ``SIGALRM`` in a replay that ran past its time (a BaseException: no ``except Exception`` eats it)."""


class Replays:
    """The keys waiting for a replay, the keys replayed (with what they added), and the counters."""

    def __init__(self) -> None:
        self.pending: collections.deque[Key] = collections.deque()
        self.entries: collections.OrderedDict[Key, tuple[list[Key], int]] = collections.OrderedDict()
        self.hits = self.misses = self.replayed = self.dropped = 0
        self.changed = False  # a replay succeeded since the spare was forked
        self.threads_started = False

    def counters(self) -> dict[str, int]:
        return {"cache_entries": len(self.entries), "cache_hits": self.hits, "cache_misses": self.misses,
                "cache_replayed": self.replayed, "cache_dropped": self.dropped,
                "cache_pending": len(self.pending)}  # fmt: skip

    def take(self, sock: socket.socket) -> None:
        """Read the report of a reaped child from ``sock`` (never blocks); queue its keys for a replay."""
        data = b""
        with contextlib.suppress(OSError):
            sock.setblocking(False)
            while len(data) <= limits.WARM_CACHE_MAX_REPORT_BYTES:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                data += chunk
        if not data or len(data) > limits.WARM_CACHE_MAX_REPORT_BYTES:
            return
        try:
            hits, misses, keys = warm_cache.read_report(data)
        except ValueError as err:
            _log(f"a cache report was dropped: {err}")
            return
        self.hits += max(hits, 0)
        self.misses += max(misses, 0)
        for key in keys:
            if key in self.entries or key in self.pending:
                continue
            if len(self.pending) >= limits.WARM_CACHE_MAX_PENDING:
                self.pending.popleft()
                self.dropped += 1
            self.pending.append(key)

    def replay_next(self) -> bool:
        """Replay the oldest pending key, within the bounds; whether it was replayed."""
        key = self.pending.popleft()
        if key in self.entries:
            return False
        threads = _threads()
        before = address_space()
        started = time.monotonic()
        try:
            added = _bounded(lambda: warm_cache.replay(*key), limits.WARM_CACHE_REPLAY_SECONDS,
                             before + limits.WARM_CACHE_REPLAY_MEMORY * 1024 * 1024)  # fmt: skip
        except BaseException as err:  # a replay must never end the server
            self.dropped += 1
            _log(f"a cache replay of {key[0]} was dropped: {_why(err)}")
            return False
        gc.collect()
        gc.freeze()  # as after the preload: fewer pages copied per fork
        self.threads_started = _threads() > threads
        self.replayed += 1
        self.changed = True
        grown = max(address_space() - before, 0)
        self.entries[key] = (added, grown)
        _log(f"replayed {key[0]} ({len(added)} entries, {grown >> 20} MiB) in {time.monotonic() - started:.2f} s")
        self._evict()
        return True

    def _evict(self) -> None:
        """Drop the least recently replayed keys (and every entry their replay filled) over the bounds
        (what each replay added to the address space, measured around it)."""
        budget = limits.WARM_CACHE_MAX_MEMORY * 1024 * 1024
        while self.entries and (
            len(self.entries) > limits.WARM_CACHE_MAX_ENTRIES or sum(size for _, size in self.entries.values()) > budget
        ):
            _, (added, _) = self.entries.popitem(last=False)
            for name, key in added:
                warm_cache.evict_entry(name, key)


def _bounded(replay: Callable[[], list[Key]], seconds: float, memory: int) -> list[Key]:
    """``replay()`` under a wall-clock alarm of ``seconds`` and an address-space limit of ``memory`` bytes."""

    def expire(*_: Any) -> None:
        raise ReplayTimeout(f"it took longer than {seconds:g} s")

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
    previous = signal.signal(signal.SIGALRM, expire)
    try:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        signal.setitimer(signal.ITIMER_REAL, seconds)
        return replay()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _why(err: BaseException) -> str:
    if isinstance(err, MemoryError):
        return f"out of memory (over {limits.WARM_CACHE_REPLAY_MEMORY} MiB)"
    return str(err) if isinstance(err, ReplayTimeout) else f"{type(err).__name__}: {err}"[:200]


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def _log(line: str) -> None:
    print(f"jacli server {os.getpid()}: {line}", file=sys.stderr, flush=True)
