"""A warm ``jacli`` server: torch and SymPy imported once, a fresh fork per command.

The server process imports torch, SymPy, Rich, Typer, :mod:`jacli.api` and the
renderers up front (and every module a typical command imports lazily), then
waits on a Unix socket in a private per-user directory. It does no torch work
itself. Each request from :mod:`jacli.client` is answered by a forked child,
which puts the client's stdin/stdout/stderr on fds 0/1/2, takes its
environment and directory, and runs :func:`jacli.cli.main` under a time limit
(``SIGALRM``) and a memory limit (``RLIMIT_AS``). A child that crashes, hangs
or exhausts memory dies alone; the next request forks from the same clean
parent.

At module level this imports only the standard library, :mod:`jacli.client`
and :mod:`jacli.errors`, so the client can start a server cheaply.
"""

from __future__ import annotations

import argparse
import codecs
import collections
import contextlib
import fcntl
import functools
import gc
import importlib
import io
import locale
import math
import os
import resource
import select
import signal
import socket
import stat
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NoReturn

from jacli import client
from jacli.client import PROTOCOL, ServerUnavailable, peer_allowed, peer_uid, recv_message, send_message
from jacli.errors import ExitCode, JacliError

DEFAULT_IDLE_TIMEOUT = 15 * 60  # seconds without a request before the server exits
DEFAULT_TIME_LIMIT = 300  # seconds per command
DEFAULT_MEMORY_LIMIT = 4096  # MiB of address space per command, beyond the server's own
MAX_CHILDREN = 32  # commands running at once; more wait in a queue
MAX_QUEUED = 64  # requests waiting for a free slot; more are answered in-process
MAX_PENDING = 64  # connections whose request is still arriving
MAX_PENDING_BYTES = 64 * 1024 * 1024  # announced by the requests being read, all together
MAX_FDS = 8  # descriptors a request may carry (a run request carries 4)
READ_TIMEOUT = 5.0  # seconds a client may take to send its whole request
GO_TIMEOUT = 30.0  # seconds a started child waits for the client's go-ahead
MAX_IDLE_TIMEOUT = 7 * 24 * 3600  # seconds (a week); 0 never idles out
MAX_TIME_LIMIT = 7 * 24 * 3600  # seconds per command; 0: none
MAX_MEMORY_LIMIT = 1 << 30  # MiB per command (a PiB); 0: none
READY_TIMEOUT = 120.0  # seconds to wait for a new server to import everything
STOP_TIMEOUT = 10.0

# Representative commands a throwaway child runs at start-up, to learn which
# modules commands import lazily; the server then imports them too.
_WARM_COMMANDS = (
    ["jacobian", "sin(a)*b**2, exp(a-b)/(1+a^2)", "--at", "1,2"],
    ["gradient", "2*dot(x,x) + sum(detach(x*x)*x)", "--at", "x=[0,1,2,3]", "--format", "json"],
    ["hessian", "x*y + log(y)", "--at", "1,2", "--format", "latex"],
    ["vjp", "A@B", "--at", "A=[[1,2],[3,4]], B=[[1,2,3],[4,5,6]]", "--v", "ones", "--format", "csv"],
    ["jvp", "where(x > 0, sqrt(x), 0), x", "--at", "-1", "--v", "1", "--exact"],
)


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
        raw = os.environ.get(client.ENV_IDLE, "").strip()
        if not raw:
            return DEFAULT_IDLE_TIMEOUT
        return _in_range(raw, f"{client.ENV_IDLE}={raw}", MAX_IDLE_TIMEOUT, "seconds (0: never exit when idle)")
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
        return client.request({"op": "status", "fingerprint": client.fingerprint()}, directory)
    except ServerUnavailable:
        return None
    except OSError:
        return None


def start(limits: Limits | None = None, directory: str | None = None, quiet: bool = False) -> dict[str, Any]:
    """Start this user's server (returns once it accepts requests); its status.

    A server that is already up is kept when it runs this very jacli, and
    replaced when it is from another version or install path.
    """
    limits = checked(limits or Limits(idle_timeout=None))
    directory = directory or client.server_dir()
    try:
        client.check_private_dir(directory, create=True)
    except ServerUnavailable as err:
        raise StartError(err.note or f"cannot use {directory}") from None
    with _start_lock(directory):
        info = status(directory)
        if info is not None and info.get("same_code"):
            return info
        if info is not None:
            stop(directory, quiet=True)
        pid = _spawn(directory, limits)
    info = status(directory)
    if info is None or info.get("pid") != pid:
        raise StartError(f"the new server (pid {pid}) does not answer; see {_log_path(directory)}")
    return info


def _log_path(directory: str) -> str:
    return os.path.join(directory, "server.log")


def _spawn(directory: str, limits: Limits) -> int:
    ready_r, ready_w = os.pipe()
    log = os.open(_log_path(directory), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    args = [sys.executable, "-m", "jacli.server", "--dir", directory, "--ready-fd", str(ready_w),
            "--idle-timeout", repr(limits.idle_timeout), "--time-limit", str(limits.time_limit),
            "--memory-limit", str(limits.memory_limit)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != client.ENV_MODE}
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
        message = _read_until_eof(ready_r, READY_TIMEOUT)
    finally:
        os.close(ready_r)
    if message.strip() != f"ready {pid}":
        _reap(pid)
        tail = _log_tail(directory)
        raise StartError(f"the server did not start{': ' + tail if tail else ''} (log: {_log_path(directory)})")
    return pid


def _read_until_eof(fd: int, timeout: float) -> str:
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
        reply = client.request({"op": "stop"}, directory)
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


# ---------------------------------------------------------------------------
# The server process.
# ---------------------------------------------------------------------------


def _preload() -> None:
    """Import everything a command needs (no torch computation: children fork from here)."""
    import jacli.api
    import jacli.render.csv  # noqa: PLC0415
    import jacli.render.json  # noqa: PLC0415
    import jacli.render.latex  # noqa: PLC0415
    import jacli.render.table  # noqa: F401, PLC0415
    from jacli import cli  # noqa: PLC0415

    _memoize_typer_signatures()
    cli.click_command()
    for name in _lazy_modules():
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    gc.collect()
    gc.freeze()  # keep the collector off the inherited objects: fewer copied pages per fork


def _memoize_typer_signatures() -> None:
    """Let every child reuse the parent's reading of the command functions' signatures.

    Typer rebuilds the Click command tree on every run; most of that (a third
    of a warm command) is ``inspect.signature`` plus ``typing.get_type_hints``
    per command function, whose answer never changes for a loaded module.
    Computed once here, children inherit it. Only the server does this.
    """
    import typer.main  # noqa: PLC0415
    import typer.utils  # noqa: PLC0415

    original = typer.utils.get_params_from_function
    if getattr(original, "cache_info", None) is not None:
        return
    cached = functools.cache(original)
    typer.utils.get_params_from_function = cached
    if getattr(typer.main, "get_params_from_function", None) is original:
        typer.main.get_params_from_function = cached


def _lazy_modules() -> list[str]:
    """Modules that commands import on first use, found by a throwaway child."""
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            os.close(read_fd)
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            from jacli import cli  # noqa: PLC0415

            before = set(sys.modules)
            for argv in _WARM_COMMANDS:
                cli.run(argv)
            os.write(write_fd, "\n".join(sorted(set(sys.modules) - before)).encode())
        finally:
            os._exit(status)
    os.close(write_fd)
    try:
        names = _read_until_eof(read_fd, 120.0).split()
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)
    return names


# ---------------------------------------------------------------------------
# Requests: every field checked before anything acts on it.
# ---------------------------------------------------------------------------

_RUN_FIELDS = frozenset({"protocol", "op", "fingerprint", "argv", "env", "umask", "streams"})
_STREAM_FIELDS = frozenset({"encoding", "errors", "line_buffering", "write_through"})


def check_request(message: dict[str, Any], fds: Sequence[int]) -> str:
    """What is wrong with a decoded request ('' when nothing).

    A request comes from this user's own processes, but a bug or a stray
    program can send anything; the server must answer it, never fail on it.
    """
    op = message.get("op")
    if op in ("status", "stop"):
        if fds:
            return "a control request carries no descriptors"
        return "" if isinstance(message.get("fingerprint", ""), str) else "the fingerprint is not a string"
    if op != "run":
        return "unknown request"
    if set(message) != _RUN_FIELDS:
        return "a run request has the fields " + ", ".join(sorted(_RUN_FIELDS))
    if len(fds) != 4:
        return "a run request carries 4 descriptors"
    return (
        ("" if isinstance(message["fingerprint"], str) else "the fingerprint is not a string")
        or _check_argv(message["argv"])
        or _check_env(message["env"])
        or _check_umask(message["umask"])
        or _check_streams(message["streams"])
        or _check_descriptors(fds)
    )


def _check_argv(argv: Any) -> str:
    if isinstance(argv, list) and all(isinstance(arg, str) for arg in argv):
        return ""
    return "argv is not a list of strings"


def _check_env(env: Any) -> str:
    if not isinstance(env, dict):
        return "the environment is not an object"
    for key, value in env.items():
        # os.environ refuses these: a child would fail on them before running anything
        if not key or "=" in key or "\0" in key or not isinstance(value, str) or "\0" in value:
            return "the environment has an entry a process cannot have"
    return ""


def _check_umask(umask: Any) -> str:
    return "" if _is_int(umask) and 0 <= umask <= 0o777 else "the umask is not a number from 0 to 0o777"


def _check_streams(streams: Any) -> str:
    if not (isinstance(streams, list) and len(streams) == 3):
        return "streams is not a list of 3 objects"
    for info in streams:
        if not (isinstance(info, dict) and set(info) == _STREAM_FIELDS):
            return "a stream has the fields " + ", ".join(sorted(_STREAM_FIELDS))
        if not (isinstance(info["line_buffering"], bool) and isinstance(info["write_through"], bool)):
            return "a stream's line_buffering and write_through are not true or false"
        if not _text_codec(info["encoding"], info["errors"]):
            return "a stream's encoding or error handler is unknown"
    return ""


def _text_codec(encoding: Any, errors: Any) -> bool:
    """Whether a text stream can use ``encoding`` with the error handler ``errors``."""
    if not (isinstance(encoding, str) and isinstance(errors, str) and len(encoding) < 100 and len(errors) < 100):
        return False
    try:
        codecs.lookup_error(errors)
        io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors=errors)  # refuses binary codecs such as rot13
    except (LookupError, ValueError):
        return False
    return True


def _check_descriptors(fds: Sequence[int]) -> str:
    try:
        modes = [os.fstat(fd).st_mode for fd in fds]
    except OSError:
        return "a descriptor cannot be used"
    return "" if stat.S_ISDIR(modes[3]) else "the working directory is not a directory"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _peer_gone(conn: socket.socket) -> bool:
    """Whether the client at the other end of ``conn`` closed it (it sends nothing until told to)."""
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


class _Incoming:
    """A connection whose request is still arriving: read without blocking, within one deadline."""

    def __init__(self, conn: socket.socket, deadline: float) -> None:
        self.conn = conn
        self.fd = conn.fileno()
        self.deadline = deadline
        self.data = bytearray()
        self.size = -1  # the body's size, once the header is in
        self.fds: list[int] = []

    def wants(self) -> int:
        """How many bytes are still missing from the header, or else from the body."""
        return client.HEADER_SIZE - len(self.data) if self.size < 0 else self.size - len(self.data)


@dataclass
class _Queued:
    """A valid run request waiting for one of the :data:`MAX_CHILDREN` slots."""

    conn: socket.socket
    message: dict[str, Any]
    fds: list[int]


_CLIENT_GONE = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR  # never EPOLLIN: the child reads "go"


class Server:
    """The event loop of the warm server: one thread, nothing blocks.

    Requests are read without blocking, several at once, each within one
    deadline (:data:`READ_TIMEOUT` for the whole request), so a silent or
    trickling client delays nobody. Children are reaped as soon as SIGCHLD
    wakes the loop. The connection of a running or queued command is watched
    for the client hanging up: its command is then killed (or never started).
    """

    def __init__(self, directory: str, limits: Limits) -> None:
        self.directory = directory
        self.limits = checked(limits)
        self.path = client.socket_path(directory)
        self.fingerprint = client.fingerprint()  # before importing: describes the code we load
        self.started = time.time()
        self.last_active = time.monotonic()
        self.served = 0
        self.children: dict[int, socket.socket] = {}  # pid -> client connection
        self.incoming: dict[int, _Incoming] = {}  # fd -> request being read, oldest first
        self.queue: collections.deque[_Queued] = collections.deque()
        self.spare: tuple[int, socket.socket] | None = None  # pid, its control socket
        self.stopping = False
        self.listener: socket.socket | None = None
        self.accept_paused_until = 0.0
        self.inode = 0
        self.base_memory = 0
        self.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
        self.poller = select.epoll()
        self.handlers: dict[int, Callable[[int], None]] = {}  # fd -> what to do on its events
        self.wake_r, self.wake_w = os.pipe()

    # -- set-up ----------------------------------------------------------------

    def bind(self) -> None:
        try:
            probe = client.connect(self.directory, timeout=2.0)
        except ServerUnavailable as err:
            if getattr(err, "stale", False):  # a killed server's socket: replace it
                os.unlink(self.path)
            elif err.note:
                raise StartError(err.note) from None
        else:
            probe.close()
            raise StartError(f"a server is already running on {self.path}")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            listener.bind(self.path)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        self.inode = os.stat(self.path).st_ino
        listener.listen(64)
        listener.setblocking(False)
        self.listener = listener
        self._watch(listener.fileno(), select.EPOLLIN, lambda _events: self._accept_all())

    def install_signals(self) -> None:
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
        self._watch(self.wake_r, select.EPOLLIN, lambda _events: self._drain_wakeups())
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # its wake-up byte makes the loop reap at once
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_stop_signal)
        # Each waiting request holds up to 9 descriptors: room for MAX_PENDING and MAX_QUEUED of them.
        soft, hard = self.nofile
        wanted = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))

    def _on_stop_signal(self, *_: Any) -> None:
        self.stopping = True

    def _watch(self, fd: int, events: int, handler: Callable[[int], None]) -> None:
        self.poller.register(fd, events)
        self.handlers[fd] = handler

    def _unwatch(self, fd: int) -> None:
        """Stop watching ``fd``; always before closing it (descriptor numbers are reused)."""
        if self.handlers.pop(fd, None) is not None:
            with contextlib.suppress(OSError, ValueError):
                self.poller.unregister(fd)

    def _drain_wakeups(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self.wake_r, 4096):
                pass

    def close(self) -> None:
        """Release the listener, the poller and the wake-up pipe (for a server that never served)."""
        self._close_listener()
        for incoming in list(self.incoming.values()):
            self._drop(incoming)
        self.poller.close()
        for fd in (self.wake_r, self.wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- loop ------------------------------------------------------------------

    def serve_forever(self) -> None:
        self.last_active = time.monotonic()  # idle from now on, not from before the imports
        self._start_spare()
        while True:
            self._reap_children()
            now = time.monotonic()
            self._expire_incoming(now)
            self._resume_accepting(now)
            idle_until = self._idle_until()
            if self.stopping:
                self._close_listener()
                self.retire_spare()
                self._refuse_queue("the server is stopping")
                if not self.children and not self.incoming:
                    return
            elif idle_until is not None and now >= idle_until:
                self._close_listener()
                return
            for fd, events in self.poller.poll(self._poll_timeout(now)):
                handler = self.handlers.get(fd)
                if handler is not None:
                    handler(events)

    def _idle_until(self) -> float | None:
        """When the server exits for idleness, or None while it has work or never idles out."""
        if self.children or self.incoming or self.queue or not self.limits.idle_timeout:
            return None
        return self.last_active + self.limits.idle_timeout

    def _poll_timeout(self, now: float) -> float:
        """Seconds until the loop has something to do unprompted (a deadline); -1: none."""
        wakeups = [incoming.deadline for incoming in self.incoming.values()]
        if self.accept_paused_until:
            wakeups.append(self.accept_paused_until)
        idle_until = self._idle_until()
        if idle_until is not None and not self.stopping:
            wakeups.append(idle_until)
        if not wakeups:
            return -1
        return min(max(min(wakeups) - now, 0.0), 3600.0)

    def _close_listener(self) -> None:
        if self.listener is None:
            return
        self._unwatch(self.listener.fileno())
        self.listener.close()
        self.listener = None
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self.inode:  # not a successor's socket
                os.unlink(self.path)

    # -- reading requests ----------------------------------------------------------

    def _accept_all(self) -> None:
        for _ in range(MAX_PENDING):  # then let the loop serve the others
            if self.listener is None:
                return
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of descriptors or memory: wait a moment instead of spinning
                self._pause_accepting()
                return
            self.last_active = time.monotonic()
            try:
                allowed = peer_allowed(peer_uid(conn))
            except OSError:
                allowed = False
            if not allowed:
                conn.close()
                continue
            conn.setblocking(False)
            if len(self.incoming) >= MAX_PENDING:  # the oldest has had the longest to send its request
                self._drop(next(iter(self.incoming.values())))
            incoming = _Incoming(conn, self.last_active + READ_TIMEOUT)
            self.incoming[incoming.fd] = incoming
            self._watch(incoming.fd, select.EPOLLIN | select.EPOLLRDHUP, lambda _events, i=incoming: self._read(i))

    def _pause_accepting(self) -> None:
        if self.listener is not None and not self.accept_paused_until:
            self._unwatch(self.listener.fileno())
            self.accept_paused_until = time.monotonic() + 0.1

    def _resume_accepting(self, now: float) -> None:
        if self.accept_paused_until and now >= self.accept_paused_until:
            self.accept_paused_until = 0.0
            if self.listener is not None:
                self._watch(self.listener.fileno(), select.EPOLLIN, lambda _events: self._accept_all())

    def _read(self, incoming: _Incoming) -> None:
        """Read what has arrived of a request; act on it once it is complete."""
        while incoming.wants():
            try:
                chunk, fds, flags, _ = socket.recv_fds(incoming.conn, min(incoming.wants(), 1 << 20), MAX_FDS)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop(incoming)
                return
            incoming.fds += fds
            if flags & socket.MSG_CTRUNC or len(incoming.fds) > MAX_FDS:
                self._refuse_incoming(incoming, "protocol mismatch: too many descriptors")
                return
            if not chunk:  # the client left before its request was complete
                self._drop(incoming)
                return
            incoming.data += chunk
            if incoming.size < 0 and len(incoming.data) == client.HEADER_SIZE:
                try:
                    incoming.size = client.message_size(bytes(incoming.data))
                except ServerUnavailable as err:
                    self._refuse_incoming(incoming, err.note)
                    return
                if sum(max(other.size, 0) for other in self.incoming.values()) > MAX_PENDING_BYTES:
                    self._refuse_incoming(
                        incoming, f"the server is busy (over {MAX_PENDING_BYTES >> 20} MiB of requests)"
                    )
                    return
                incoming.data = bytearray()
        self._forget(incoming)
        try:
            message = client.decode(bytes(incoming.data))
        except ServerUnavailable as err:
            self._reply_close(incoming.conn, incoming.fds, {"refused": err.note})
            return
        self._dispatch(incoming.conn, message, incoming.fds)

    def _forget(self, incoming: _Incoming) -> None:
        """Stop reading ``incoming``: its connection and descriptors are the caller's now."""
        self._unwatch(incoming.fd)
        self.incoming.pop(incoming.fd, None)

    def _drop(self, incoming: _Incoming) -> None:
        self._forget(incoming)
        client._close_all(incoming.fds)
        incoming.conn.close()

    def _refuse_incoming(self, incoming: _Incoming, why: str) -> None:
        self._forget(incoming)
        self._reply_close(incoming.conn, incoming.fds, {"refused": why})

    def _expire_incoming(self, now: float) -> None:
        for incoming in [i for i in self.incoming.values() if now >= i.deadline]:
            self._refuse_incoming(incoming, f"protocol mismatch: the request took longer than {READ_TIMEOUT:g} s")

    # -- answering requests -----------------------------------------------------------

    def _dispatch(self, conn: socket.socket, message: dict[str, Any], fds: list[int]) -> None:
        protocol = message.get("protocol")
        problem = check_request(message, fds)
        if not _is_int(protocol) or protocol != PROTOCOL:
            self._reply_close(conn, fds, {"refused": "protocol mismatch between client and server", "mismatch": True})
        elif problem:
            self._reply_close(conn, fds, {"refused": f"protocol mismatch: {problem}"})
        elif message["op"] == "status":
            self._reply_close(conn, fds, self.info(message.get("fingerprint")))
        elif message["op"] == "stop":
            self.stopping = True
            self._reply_close(conn, fds, {"stopping": os.getpid()})
        elif message["fingerprint"] != self.fingerprint:
            why = "the running server is from another jacli version or installation"
            self._reply_close(conn, fds, {"refused": why, "mismatch": True})
        elif self.stopping:
            self._reply_close(conn, fds, {"refused": "the server is stopping"})
        elif _peer_gone(conn):  # it gave up waiting (this server was stopped, say): it runs the command itself
            client._close_all(fds)
            conn.close()
        elif len(self.children) < MAX_CHILDREN:
            self._fork(conn, message, fds)
        elif len(self.queue) < MAX_QUEUED:
            self._enqueue(_Queued(conn, message, fds))
        else:
            self._reply_close(conn, fds, {"refused": f"the server is busy ({MAX_CHILDREN + MAX_QUEUED} requests)"})

    def _reply_close(self, conn: socket.socket, fds: list[int], reply: dict[str, Any]) -> None:
        client._close_all(fds)
        with contextlib.suppress(OSError):
            send_message(conn, reply)  # small: fits an empty socket buffer even without blocking
        conn.close()

    def _enqueue(self, queued: _Queued) -> None:
        """Wait for a free slot; a client that hangs up meanwhile is forgotten."""
        self.queue.append(queued)
        self._watch(queued.conn.fileno(), _CLIENT_GONE, lambda _events: self._unqueue(queued))
        with contextlib.suppress(OSError):  # the client then waits longer than for a server that is stuck
            send_message(queued.conn, {"queued": len(self.queue)})

    def _unqueue(self, queued: _Queued) -> None:
        self._unwatch(queued.conn.fileno())
        with contextlib.suppress(ValueError):
            self.queue.remove(queued)
        client._close_all(queued.fds)
        queued.conn.close()

    def _run_queued(self) -> None:
        while self.queue and len(self.children) < MAX_CHILDREN and not self.stopping:
            queued = self.queue.popleft()
            self._unwatch(queued.conn.fileno())
            if _peer_gone(queued.conn):
                client._close_all(queued.fds)
                queued.conn.close()
            else:
                self._fork(queued.conn, queued.message, queued.fds)

    def _refuse_queue(self, why: str) -> None:
        while self.queue:
            queued = self.queue.popleft()
            self._unwatch(queued.conn.fileno())
            self._reply_close(queued.conn, queued.fds, {"refused": why})

    def info(self, fingerprint: str | None = None) -> dict[str, Any]:
        import jacli  # noqa: PLC0415

        return {
            "pid": os.getpid(),
            "uptime": time.time() - self.started,
            "served": self.served,
            "running": len(self.children),
            "running_pids": sorted(self.children),
            "queued": len(self.queue),
            **asdict(self.limits),
            "version": jacli.__version__,
            "package": os.path.dirname(os.path.abspath(jacli.__file__)),
            "python": sys.executable,
            "socket": self.path,
            "same_code": fingerprint == self.fingerprint,
        }

    def _fork(self, conn: socket.socket, message: dict[str, Any], fds: list[int]) -> None:
        """Hand the request to the spare child (or, failing that, a fresh one)."""
        pid = 0
        if self.spare is not None:
            pid, ctrl = self.spare
            self.spare = None
            try:
                ctrl.settimeout(READ_TIMEOUT)  # a spare that cannot take it (stopped, dying) is replaced
                send_message(ctrl, message, [conn.fileno(), *fds])
            except OSError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # it is reaped like any child
                pid = 0
            ctrl.close()
        if not pid:
            pid = self._fork_child(lambda: self._child(conn, message, fds))
        client._close_all(fds)
        self.children[pid] = conn
        self._watch(conn.fileno(), _CLIENT_GONE, lambda _events: self._client_gone(pid))
        self.served += 1

    def _client_gone(self, pid: int) -> None:
        """The client of ``pid`` hung up (killed, say): nobody waits for the command, so end it."""
        conn = self.children.get(pid)
        if conn is not None:
            self._unwatch(conn.fileno())
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # not yet reaped, so the pid is still this child's

    def _start_spare(self) -> None:
        """Fork the child that will run the next command now, while nobody waits.

        Forking a process that holds torch and SymPy takes 10-20 ms; the spare
        takes that off the next request's path. It does nothing until the
        parent sends it a request. (Letting it also run a throwaway command to
        warm caches was measured: it saves ~20 ms when idle but costs more
        when commands come back to back on 2 cores, and would run torch under
        the server's environment rather than the client's.)
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

        def wait_for_request() -> int:
            ours.close()
            message, fds = recv_message(theirs, max_fds=8)
            if message is None or len(fds) != 5:  # retired by the parent
                return 0
            theirs.close()
            return self._child(socket.socket(fileno=fds[0]), message, fds[1:])

        pid = self._fork_child(wait_for_request)
        theirs.close()
        self.spare = (pid, ours)

    def retire_spare(self) -> None:
        if self.spare is None:
            return
        pid, ctrl = self.spare
        self.spare = None
        ctrl.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

    def _fork_child(self, body: Callable[[], int]) -> int:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            status = 70  # EX_SOFTWARE: the child failed before it could run the command
            try:
                self._become_child()
                status = body()
            finally:
                os._exit(status)
        return pid

    def _reap_children(self) -> None:
        reaped = False
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = self.children.pop(pid, None)
            if conn is None:
                if self.spare is not None and self.spare[0] == pid:  # died waiting: fork afresh next time
                    self.spare[1].close()
                    self.spare = None
                continue
            self._unwatch(conn.fileno())
            reaped = True
            self.last_active = time.monotonic()
            code = os.waitstatus_to_exitcode(wait_status)
            reply: dict[str, Any] = {"exit": code} if code >= 0 else {"signal": -code}
            reply.update(limit=self.limits.time_limit, memory=self.limits.memory_limit)
            with contextlib.suppress(OSError):
                conn.setblocking(False)
                send_message(conn, reply)
            conn.close()
        self._run_queued()
        if reaped and self.spare is None and not self.stopping:
            # Forked once a command has ended rather than at dispatch, so it never competes
            # for a CPU with the command it would otherwise be forked next to.
            self._start_spare()

    # -- one command, in a forked child ------------------------------------------

    def _become_child(self) -> None:
        """In a fresh fork: drop the server's signals and descriptors (other clients' ones above all)."""
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, self.nofile)  # a command sees the usual limit
        if self.listener is not None:
            self.listener.close()
        for other in self.children.values():
            other.close()
        for incoming in self.incoming.values():
            client._close_all(incoming.fds)
            incoming.conn.close()
        for queued in self.queue:
            client._close_all(queued.fds)
            queued.conn.close()
        if self.spare is not None:
            self.spare[1].close()
        self.poller.close()
        os.close(self.wake_r)
        os.close(self.wake_w)

    def _child(self, conn: socket.socket, message: dict[str, Any], fds: list[int]) -> int:
        """Run one command on the client's descriptors; its exit status."""
        conn.settimeout(None)
        stdin, stdout, stderr, cwd = fds
        for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
            os.dup2(fd, target)
        os.fchdir(cwd)
        client._close_all([fd for fd in fds if fd > 2])
        os.umask(message["umask"])
        os.environ.clear()
        os.environ.update(message["env"])
        with contextlib.suppress(locale.Error):
            locale.setlocale(locale.LC_CTYPE, "")
        sys.argv = ["jacli", *message["argv"]]
        sys.stdin, sys.stdout, sys.stderr = (_std_stream(fd, info) for fd, info in enumerate(message["streams"]))
        sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
        send_message(conn, {"started": os.getpid()})
        real_exit = os._exit

        def report_then_exit(code: int) -> NoReturn:
            # cli.main() ends with os._exit once its output is flushed; answer the
            # client now rather than after the kernel has torn this process down.
            with contextlib.suppress(OSError):
                send_message(conn, {"exit": code & 0xFF})
            real_exit(code)

        os._exit = report_then_exit  # this process is ours alone and ends right after
        try:
            if not _go_ahead(conn):  # the client gave up (deadline, Ctrl-C): it may run the command itself
                return 0
            if self.limits.time_limit:
                signal.alarm(self.limits.time_limit)
            if self.limits.memory_limit:
                limit = self.base_memory + self.limits.memory_limit * 1024 * 1024
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            return _run_cli(self.limits.memory_limit)  # the caller's os._exit(status) reports it
        except KeyboardInterrupt:  # the client's Ctrl-C, forwarded before cli.run could catch it
            return 130


def _go_ahead(conn: socket.socket) -> bool:
    """Wait for the client's ``go``: True to run the command, False when the client left."""
    conn.settimeout(GO_TIMEOUT)
    try:
        reply, _ = recv_message(conn)
    except (OSError, ServerUnavailable):
        return False
    finally:
        conn.settimeout(None)
    return reply is not None and reply.get("go") is True


def _std_stream(fd: int, info: dict[str, Any]) -> io.TextIOWrapper:
    """A standard stream on ``fd`` set up exactly like the client's own."""
    raw = io.FileIO(fd, "rb" if fd == 0 else "wb", closefd=False)
    buffered = io.BufferedReader(raw) if fd == 0 else io.BufferedWriter(raw)
    return io.TextIOWrapper(
        buffered,  # type: ignore[arg-type]
        encoding=info["encoding"],
        errors=info["errors"],
        newline="\n",
        line_buffering=info["line_buffering"],
        write_through=info["write_through"],
    )


def _run_cli(memory_limit: int) -> int:
    """Run :func:`jacli.cli.main` like the interpreter's top level would; the exit status."""
    from jacli import cli  # noqa: PLC0415

    try:
        cli.main()
        status = 0
    except SystemExit as exc:
        if exc.code is None:
            status = 0
        elif isinstance(exc.code, int):
            status = exc.code & 0xFF
        else:
            print(exc.code, file=sys.stderr)
            status = 1
    except KeyboardInterrupt:
        status = 130
    except BaseException as exc:
        # torch's CPU allocator reports a refused allocation as a RuntimeError
        if isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc)):
            status = _out_of_memory(memory_limit)
        else:  # what the interpreter's top level does: traceback, status 1
            traceback.print_exc()
            status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            status = status or 120  # like the interpreter when flushing stdout fails at exit
    return status


def _out_of_memory(memory_limit: int) -> int:
    sys.stderr.write(
        f"jacli: error: out of memory: the server allows {memory_limit} MiB per command "
        "(jacli server start --memory-limit MiB)\n"
    )
    return ExitCode.USAGE  # as in-process: too large an input is the user's to change


def _address_space() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def serve(directory: str, limits: Limits, ready_fd: int | None = None) -> None:
    """Run the server in this process until it is stopped or idle."""
    os.chdir("/")
    server = Server(directory, limits)  # fingerprints the code before importing it
    _preload()
    server.base_memory = _address_space()
    server.bind()
    try:
        server.install_signals()
        if ready_fd is not None:
            os.write(ready_fd, f"ready {os.getpid()}\n".encode())
            os.close(ready_fd)
        print(f"jacli server {os.getpid()}: listening on {server.path}", file=sys.stderr, flush=True)
        server.serve_forever()
    finally:
        server._close_listener()
        server.retire_spare()
    print(f"jacli server {os.getpid()}: exiting after {server.served} requests", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> None:
    """``python -m jacli.server``: what ``jacli server start`` runs in the background."""
    parser = argparse.ArgumentParser(prog="python -m jacli.server")
    parser.add_argument("--dir", default=None)
    parser.add_argument("--ready-fd", type=int, default=None)
    parser.add_argument("--idle-timeout", default=None)
    parser.add_argument("--time-limit", type=int, default=DEFAULT_TIME_LIMIT)
    parser.add_argument("--memory-limit", type=int, default=DEFAULT_MEMORY_LIMIT)
    args = parser.parse_args(argv)
    directory = args.dir or client.server_dir()
    try:
        limits = checked(Limits(args.idle_timeout, args.time_limit, args.memory_limit))
        client.check_private_dir(directory, create=True)
        serve(directory, limits, args.ready_fd)
    except (StartError, ServerUnavailable) as err:
        print(f"jacli server: error: {err}", file=sys.stderr)
        sys.exit(err.exit_code if isinstance(err, StartError) else 1)


if __name__ == "__main__":
    main()
