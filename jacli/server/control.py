"""``jacli server start|stop|status``: control of this user's warm server (no torch here).

:func:`start` spawns ``python -m jacli.server`` (:mod:`jacli.server.__main__`)
in the background and returns once it accepts requests; :func:`stop` and
:func:`status` are requests over the socket (:mod:`jacli.server.protocol`).
Imports the standard library, :mod:`jacli.errors`, :mod:`jacli.limits` and the protocol only.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import select
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jacli.errors import ExitCode, JacliError
from jacli.limits import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_TIME_LIMIT,
    MAX_IDLE_TIMEOUT,
    MAX_MEMORY_LIMIT,
    MAX_TIME_LIMIT,
    READY_TIMEOUT,
    STOP_TIMEOUT,
    settings,
)
from jacli.server import protocol
from jacli.server.protocol import ServerUnavailable


class StartError(JacliError):
    """The server could not be started."""


class LimitError(StartError):
    """A server limit (option or environment variable) out of its range: bad input, exit 2."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class Limits:
    """How long the server idles and what one command may use."""

    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT  # seconds; 0: never exit when idle; None: from the environment
    time_limit: int = DEFAULT_TIME_LIMIT  # seconds; 0: none
    memory_limit: int = DEFAULT_MEMORY_LIMIT  # MiB; 0: none


def idle_timeout(value: float | str | None = None) -> float:
    """The idle timeout in seconds: ``value`` (``--idle-timeout``), else
    ``$JACLI_SERVER_IDLE_TIMEOUT``, else 900; :class:`LimitError` unless it is
    a number from 0 to :data:`MAX_IDLE_TIMEOUT` (``nan``, ``inf`` and ``1e308``
    are not: the server's event loop could not wait that long).
    """
    if value is None:
        raw = settings().server_idle_timeout
        if raw is None:
            return DEFAULT_IDLE_TIMEOUT
        return _in_range(raw, f"{protocol.ENV_IDLE}={raw}", MAX_IDLE_TIMEOUT, "seconds (0: never exit when idle)")
    return _in_range(value, f"--idle-timeout {value}", MAX_IDLE_TIMEOUT, "seconds (0: never exit when idle)")


def _in_range(value: float | str, name: str, maximum: int, unit: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not 0 <= number <= maximum:  # also refuses nan
        raise LimitError(f"{name} is not allowed: use a number from 0 to {maximum} {unit}")
    return number


def checked(limits: Limits) -> Limits:
    """``limits`` with the idle timeout resolved; :class:`LimitError` for a value out of range."""
    time_limit = _in_range(limits.time_limit, f"--time-limit {limits.time_limit}", MAX_TIME_LIMIT, "seconds (0: none)")
    memory = _in_range(limits.memory_limit, f"--memory-limit {limits.memory_limit}", MAX_MEMORY_LIMIT, "MiB (0: none)")
    if time_limit != int(time_limit) or memory != int(memory):
        raise LimitError("--time-limit and --memory-limit are whole numbers")
    return Limits(idle_timeout(limits.idle_timeout), int(time_limit), int(memory))


# ---------------------------------------------------------------------------
# Control: start, stop, status (cheap: no torch here).
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def _start_lock(directory: str) -> Iterator[None]:
    """One starter at a time, so two ``JACLI_SERVER=auto`` clients start one server."""
    fd = os.open(os.path.join(directory, "start.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def status(directory: str | None = None) -> dict[str, Any] | None:
    """The running server's description, or ``None`` when none answers."""
    try:
        return protocol.request({"op": "status", "fingerprint": protocol.fingerprint()}, directory)
    except ServerUnavailable:
        return None
    except OSError:
        return None


def start(limits: Limits | None = None, directory: str | None = None) -> dict[str, Any]:
    """Start this user's server (returns once it accepts requests); its status.

    A server that is already up is kept when it runs this very jacli, and
    replaced when it is from another version or install path.
    """
    return _start(limits, directory)[0]


def _start(limits: Limits | None, directory: str | None) -> tuple[dict[str, Any], bool]:
    """:func:`start`, and whether this call spawned the server (False: one was up, or another starter won)."""
    limits = checked(limits or Limits(idle_timeout=None))
    directory = directory or protocol.server_dir()
    try:
        protocol.check_private_dir(directory, create=True)
    except ServerUnavailable as err:
        raise StartError(err.note or f"cannot use {directory}") from None
    with _start_lock(directory):  # concurrent starters wait here, then find the first one's server
        info = status(directory)
        if info is not None and info.get("same_code"):
            return info, False
        if info is not None:
            stop(directory, quiet=True)
        pid = _spawn(directory, limits)
    info = status(directory)
    if info is None or info.get("pid") != pid:
        raise StartError(f"the new server (pid {pid}) does not answer; see {_log_path(directory)}")
    return info, True


# Files in the server's directory that remember what the automatic start did (see auto_start).
NOTED = "auto-start-noted"  # the one-time note was printed
FAILED = "auto-start-failed"  # the last automatic start failed (its mtime: when)
RETRY_AFTER = 600.0  # seconds before a failed automatic start is tried again


def auto_start() -> tuple[bool, str]:
    """Start the server for a command that found none (warm by default).

    Returns ``(ready, note)``: ``ready`` when a server for this jacli now
    answers; ``note`` the one line worth printing, if any: the first automatic
    start in this server directory says how to turn it off, and a failed start
    says why once, after which none is tried for :data:`RETRY_AFTER` seconds
    (every command would otherwise pay a server's start-up just to fail again).
    """
    directory = protocol.server_dir()
    failed = os.path.join(directory, FAILED)
    with contextlib.suppress(OSError):
        if time.time() - os.stat(failed).st_mtime < RETRY_AFTER:
            return False, ""
    try:
        info, spawned = _start(None, directory)
    except LimitError as err:  # found before anything was spawned: cheap to find again, fixed at once
        return False, f"could not start the warm server: {err}"
    except StartError as err:
        with contextlib.suppress(OSError):
            os.close(os.open(failed, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600))
        return False, f"could not start the warm server: {err}"
    with contextlib.suppress(OSError):
        os.unlink(failed)
    if spawned and _first_time(os.path.join(directory, NOTED)):
        idle = info.get("idle_timeout")
        after = f" after {_duration(idle)} idle" if idle else " only when stopped"
        return True, (
            f"started a warm server for faster answers (it exits{after}); {protocol.ENV_MODE}=off turns this off"
        )
    return True, ""


def _first_time(marker: str) -> bool:
    """True for exactly one caller: the one that creates ``marker``."""
    try:
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        return False
    except OSError:
        return True  # cannot remember it: say it (a read-only directory would not have a server either)
    return True


def _log_path(directory: str) -> str:
    return os.path.join(directory, "server.log")


def _spawn(directory: str, limits: Limits) -> int:
    ready_r, ready_w = os.pipe()
    log = os.open(_log_path(directory), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    safe_path = ["-P"] if _cwd_not_needed() else []
    args = [sys.executable, *safe_path, "-m", "jacli.server", "--dir", directory, "--ready-fd", str(ready_w),
            "--idle-timeout", repr(limits.idle_timeout), "--time-limit", str(limits.time_limit),
            "--memory-limit", str(limits.memory_limit)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != protocol.ENV_MODE}
    try:
        os.set_inheritable(ready_w, True)
        pid = os.posix_spawn(
            sys.executable,
            args,
            env,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log, 1),
                (os.POSIX_SPAWN_DUP2, log, 2),
            ],
            setsid=True,  # no controlling terminal: the user's Ctrl-C never reaches it
        )
    finally:
        os.close(ready_w)
        os.close(log)
    try:
        message = read_until_eof(ready_r, READY_TIMEOUT)
    finally:
        os.close(ready_r)
    if message.strip() != f"ready {pid}":
        _reap(pid)
        tail = _log_tail(directory)
        raise StartError(f"the server did not start{': ' + tail if tail else ''} (log: {_log_path(directory)})")
    return pid


def _cwd_not_needed() -> bool:
    """Whether the server can start without the user's directory first on sys.path (``python -P``).

    It should: a ``torch.py`` there must not be imported. Only a jacli run from
    a source tree in the current directory (``python -m jacli``) needs it.
    """
    try:
        return os.path.dirname(protocol.PACKAGE_DIR) != os.getcwd()
    except OSError:  # the directory was removed: nothing to import from it
        return True


def read_until_eof(fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    data = b""
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([fd], [], [], left)
        if not readable:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def _log_tail(directory: str) -> str:
    try:
        with open(_log_path(directory), encoding="utf-8", errors="replace") as log:
            lines = [line.strip() for line in log.read()[-4000:].splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def _reap(pid: int) -> bool:
    """Collect ``pid`` if it is our exited child; True when it is gone (or a zombie)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        done = 0
    if done:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")  # exited; its parent has yet to collect it


def stop(directory: str | None = None, quiet: bool = False, timeout: float = STOP_TIMEOUT) -> int | None:
    """Stop the server (it finishes the commands it is running); its pid, or None."""
    try:
        reply = protocol.request({"op": "stop"}, directory)
    except (ServerUnavailable, OSError):
        return None
    pid = int(reply.get("stopping", 0))
    if pid and not _wait_gone(pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # its running commands finish on their own
        _wait_gone(pid, timeout)
    return pid


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not _reap(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def describe(info: dict[str, Any]) -> str:
    """``jacli server status`` text."""
    idle = info["idle_timeout"]
    lines = [
        "jacli server running",
        f"  pid           {info['pid']}",
        f"  uptime        {_duration(info['uptime'])}",
        f"  requests      {info['served']} served, {info['running']} running",
        f"  idle timeout  {_duration(idle) if idle else 'none'}",
        f"  limits        {info['time_limit'] or 'no'} s and {info['memory_limit'] or 'no'} MiB per command",
        f"  cache         {info.get('cache_entries', 0)} builds kept, {info.get('cache_hits', 0)} hits, "
        f"{info.get('cache_misses', 0)} misses, {info.get('cache_dropped', 0)} dropped",
        f"  version       jacli {info['version']}{'' if info.get('same_code') else ' (not this installation)'}",
        f"  install       {info['package']}",
        f"  socket        {info['socket']}",
    ]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
