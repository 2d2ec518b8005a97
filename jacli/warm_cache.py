"""Named caches whose slow misses the warm server replays, so later children inherit them filled.

:func:`cached` is a drop-in for ``functools.lru_cache(maxsize=N)`` (same
hits, same ``cache_clear``/``cache_info``). It also remembers, per process,
the arguments of each *outermost* miss that took at least
:data:`~jacli.limits.WARM_CACHE_MIN_SECONDS` of CPU time, so that a loaded machine does not
make small builds look slow (a nested miss is refilled by
replaying the outer call), when those arguments are plain data (strings,
numbers, tuples) of at most :data:`~jacli.limits.WARM_CACHE_MAX_KEY_BYTES`.

A server child sends :func:`report` to its parent when its command ends; the
parent (:mod:`jacli.server.daemon`) calls :func:`replay` for each key while it
is idle, which runs the very same cached function (no second implementation),
so every child forked afterwards finds the entry. Entries filled by a replay
are *warm*: a later call that hits one counts as a server cache hit.

Standard library and :mod:`jacli.limits` only.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any, TypeVar

from jacli import limits

F = TypeVar("F", bound=Callable[..., Any])

_REGISTRY: dict[str, WarmCache] = {}

BUILD_ENV = ("JACLI_MAX_LENGTH", "JACLI_MAX_ELEMENTS")
"""The environment variables parsing and building read (:mod:`jacli.language.source`): part of every key of
the program caches, so a build refused under a client's smaller limit is never answered from the cache."""

Key = tuple[str, tuple[Any, ...], tuple[str | None, ...]]
"""What a report carries and a replay needs: the cache's name, the arguments, the environment's values."""
_state = threading.local()  # depth of registered calls in progress (outermost-miss detection)


class _Counts:
    """This process's slow outermost misses (name, args), and its hits on warm entries, since :func:`report`."""

    def __init__(self) -> None:
        self.built: list[Key] = []
        self.hits = 0
        self.misses = 0
        self.replaying = False
        self.added: list[tuple[str, Any]] = []  # (cache name, key) of every entry a replay filled


_counts = _Counts()


class WarmCache:
    """A bounded LRU cache around ``fn``, registered under ``name`` (see the module's docstring)."""

    def __init__(self, fn: Callable[..., Any], maxsize: int, name: str, env: tuple[str, ...] = ()) -> None:
        self.fn = fn
        self.env = env  # variables the result depends on: their values are part of the key
        self.maxsize = maxsize
        self.name = name
        self.entries: collections.OrderedDict[Any, Any] = collections.OrderedDict()
        self.warm: set[Any] = set()  # keys filled by a replay
        self.lock = threading.Lock()  # held only around the dictionary, never across fn (fork-safe)
        self.hits = self.misses = 0
        functools.update_wrapper(self, fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        context = tuple(os.environ.get(name) for name in self.env)
        key = (args, tuple(sorted(kwargs.items())), context)
        outermost = not getattr(_state, "depth", 0)
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                self.hits += 1
                if outermost and key in self.warm:
                    _counts.hits += 1
                return self.entries[key]
            self.misses += 1
        _state.depth = getattr(_state, "depth", 0) + 1
        started = time.thread_time()  # CPU time: what a build costs, not how long it waited for a CPU
        try:
            value = self.fn(*args, **kwargs)
        finally:
            _state.depth -= 1
        slow = time.thread_time() - started >= limits.WARM_CACHE_MIN_SECONDS
        with self.lock:
            self.entries[key] = value
            self.entries.move_to_end(key)
            if _counts.replaying:
                _counts.added.append((self.name, key))
                if outermost:
                    self.warm.add(key)
            else:
                self.warm.discard(key)
            while len(self.entries) > self.maxsize:
                old, _ = self.entries.popitem(last=False)
                self.warm.discard(old)
        if outermost and slow and not _counts.replaying:
            _counts.misses += 1
            if not kwargs and _plain(args):
                _counts.built.append((self.name, args, context))
        return value

    def key(self, args: tuple[Any, ...]) -> Any:
        """The entry a call with ``args`` (no keywords) uses in this environment."""
        return (args, (), tuple(os.environ.get(name) for name in self.env))

    def evict(self, key: Any) -> None:
        with self.lock:
            self.entries.pop(key, None)
            self.warm.discard(key)

    def cache_clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.warm.clear()
            self.hits = self.misses = 0

    def cache_info(self) -> functools._CacheInfo:
        return functools._CacheInfo(self.hits, self.misses, self.maxsize, len(self.entries))


def cached(maxsize: int, name: str | None = None, env: tuple[str, ...] = ()) -> Callable[[F], F]:
    """``functools.lru_cache(maxsize=maxsize)``, registered for replay under ``name`` (default: module.qualname).

    ``env``: the environment variables the function's result depends on (their values join the key, and
    a replay runs with the values the reporting command had).
    """

    def decorate(fn: F) -> F:
        key = name or f"{fn.__module__}.{fn.__qualname__}"
        cache = WarmCache(fn, maxsize, key, env)
        _REGISTRY[key] = cache
        return cache  # type: ignore[return-value]

    return decorate


def _plain(value: Any) -> bool:
    """Whether ``value`` survives JSON as itself once lists are read back as tuples."""
    if isinstance(value, tuple):
        return all(_plain(item) for item in value)
    return value is None or isinstance(value, (str, int, float))


def _tuples(value: Any) -> Any:
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


def forget() -> None:
    """Forget what this process built and hit so far: a warm-up's calls are no client's command."""
    _counts.built, _counts.hits, _counts.misses = [], 0, 0


def report() -> bytes:
    """What this process built and hit since the last report, compressed (b'' when nothing), and forget it.

    ``hits``: 1 when a call found an entry a replay filled; ``misses``: 1 when one built slowly (counts per command).

    Keys over :data:`~jacli.limits.WARM_CACHE_MAX_KEY_BYTES` are left out (still counted as misses).
    """
    built = []
    for name, args, context in _counts.built:
        text = json.dumps([name, args, context], separators=(",", ":"))
        if len(text) <= limits.WARM_CACHE_MAX_KEY_BYTES:
            built.append(text)
    body = {"hits": int(bool(_counts.hits)), "misses": int(bool(_counts.misses))}  # per command
    forget()
    if not built and not body["hits"] and not body["misses"]:
        return b""
    return zlib.compress(("[" + ",".join([json.dumps(body), *built]) + "]").encode(), 6)


def read_report(data: bytes) -> tuple[int, int, list[Key]]:
    """``(hits, misses, keys)`` of a :func:`report`; ValueError for anything else (a truncated report, say)."""
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(data, limits.WARM_CACHE_MAX_REPORT_TEXT)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ValueError("a cache report is too large or truncated")
        head, *keys = json.loads(text)
        hits, misses = int(head["hits"]), int(head["misses"])
        parsed = [(str(name), _tuples(args), tuple(context)) for name, args, context in keys
                  if isinstance(args, list) and isinstance(context, list)]  # fmt: skip
    except (zlib.error, ValueError, TypeError, KeyError, AttributeError, RecursionError) as err:
        raise ValueError(f"an unreadable cache report: {err}") from None
    return hits, misses, [key for key in parsed if _known(key)]


def _known(key: Key) -> bool:
    """Whether ``key`` names a registered cache, with one value (text or null) per variable it reads."""
    cache = _REGISTRY.get(key[0])
    return (cache is not None and len(key[2]) == len(cache.env)
            and all(value is None or isinstance(value, str) for value in key[2]))  # fmt: skip


def replay(name: str, args: tuple[Any, ...], context: tuple[str | None, ...] = ()) -> list[tuple[str, Any]]:
    """Call the cache ``name`` with ``args`` (the same code a command runs), in the environment ``context``
    (the values of its ``env`` variables) the reporting command had; its entry becomes warm.

    The (cache name, key) of every entry it filled, nested ones included (:func:`evict_entry` them together).
    """
    cache = _REGISTRY[name]
    saved = {var: os.environ.get(var) for var in cache.env}
    _counts.replaying, _counts.added = True, []
    try:
        _set_environ(dict(zip(cache.env, context, strict=True)))
        cache(*args)
        return _counts.added
    finally:
        _counts.replaying, _counts.added = False, []
        _state.depth = 0  # an alarm may have cut a call short between its two updates
        _set_environ(saved)


def _set_environ(values: dict[str, str | None]) -> None:
    for var, value in values.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value


def evict_entry(name: str, key: Any) -> None:
    """Drop the entry ``key`` (as :func:`replay` lists it) of the cache ``name``."""
    cache = _REGISTRY.get(name)
    if cache is not None:
        cache.evict(key)


def replaying() -> bool:
    """Whether a :func:`replay` is running (a cached function may then prepare more for the children)."""
    return _counts.replaying


def has(name: str, args: tuple[Any, ...]) -> bool:
    """Whether the cache ``name`` holds the entry a call with ``args`` would use now."""
    cache = _REGISTRY.get(name)
    return cache is not None and cache.key(args) in cache.entries
