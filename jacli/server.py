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
import contextlib
import fcntl
import functools
import gc
import importlib
import io
import locale
import os
import resource
import select
import selectors
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, NoReturn

from jacli import client
from jacli.client import PROTOCOL, ServerUnavailable, peer_allowed, peer_uid, recv_message, send_message
from jacli.errors import JacliError

DEFAULT_IDLE_TIMEOUT = 15 * 60  # seconds without a request before the server exits
DEFAULT_TIME_LIMIT = 300  # seconds per command
DEFAULT_MEMORY_LIMIT = 4096  # MiB of address space per command, beyond the server's own
MAX_CHILDREN = 32  # commands running at once; more are answered in-process
READ_TIMEOUT = 5.0  # seconds a client may take to send its request
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


@dataclass(frozen=True)
class Limits:
    """How long the server idles and what one command may use."""

    idle_timeout: float = DEFAULT_IDLE_TIMEOUT  # seconds; 0: never exit when idle
    time_limit: int = DEFAULT_TIME_LIMIT  # seconds; 0: none
    memory_limit: int = DEFAULT_MEMORY_LIMIT  # MiB; 0: none


def default_idle_timeout() -> float:
    raw = os.environ.get(client.ENV_IDLE, "")
    try:
        return float(raw) if raw else DEFAULT_IDLE_TIMEOUT
    except ValueError:
        return DEFAULT_IDLE_TIMEOUT


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
    limits = limits or Limits(idle_timeout=default_idle_timeout())
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


class Server:
    """The accept loop of the warm server."""

    def __init__(self, directory: str, limits: Limits) -> None:
        self.directory = directory
        self.limits = limits
        self.path = client.socket_path(directory)
        self.fingerprint = client.fingerprint()  # before importing: describes the code we load
        self.started = time.time()
        self.last_active = time.monotonic()
        self.served = 0
        self.children: dict[int, socket.socket] = {}  # pid -> client connection
        self.spare: tuple[int, socket.socket] | None = None  # pid, its control socket
        self.stopping = False
        self.listener: socket.socket | None = None
        self.inode = 0
        self.base_memory = 0
        self.selector = selectors.DefaultSelector()
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
        self.selector.register(listener, selectors.EVENT_READ)

    def install_signals(self) -> None:
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_stop_signal)

    def _on_stop_signal(self, *_: Any) -> None:
        self.stopping = True

    # -- loop ------------------------------------------------------------------

    def serve_forever(self) -> None:
        self.last_active = time.monotonic()  # idle from now on, not from before the imports
        self._start_spare()
        while True:
            self._reap_children()
            if self.stopping:
                self._close_listener()
                self.retire_spare()
                if not self.children:
                    return
            idle = self.limits.idle_timeout
            timeout = None
            if not self.children and idle > 0:
                timeout = self.last_active + idle - time.monotonic()
                if timeout <= 0:
                    self._close_listener()
                    return
            for key, _ in self.selector.select(timeout):
                if key.fileobj is self.listener:
                    self._accept_all()
                else:
                    with contextlib.suppress(OSError):
                        while os.read(self.wake_r, 4096):
                            pass

    def _close_listener(self) -> None:
        if self.listener is None:
            return
        self.selector.unregister(self.listener)
        self.listener.close()
        self.listener = None
        with contextlib.suppress(OSError):
            if os.stat(self.path).st_ino == self.inode:  # not a successor's socket
                os.unlink(self.path)

    def _accept_all(self) -> None:
        while self.listener is not None:
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            self.last_active = time.monotonic()
            fds: list[int] = []
            try:
                if not peer_allowed(peer_uid(conn)):
                    conn.close()
                    continue
                conn.settimeout(READ_TIMEOUT)
                message, fds = recv_message(conn, max_fds=8)
                if message is not None:
                    self._dispatch(conn, message, fds)
                    fds = []
                    continue
            except (OSError, ServerUnavailable):
                pass
            client._close_all(fds)
            conn.close()

    def _dispatch(self, conn: socket.socket, message: dict[str, Any], fds: list[int]) -> None:
        op = message.get("op")
        if message.get("protocol") != PROTOCOL:
            self._reply_close(conn, fds, {"refused": "protocol mismatch between client and server", "mismatch": True})
        elif op == "status":
            self._reply_close(conn, fds, self.info(message.get("fingerprint")))
        elif op == "stop":
            self.stopping = True
            self._reply_close(conn, fds, {"stopping": os.getpid()})
        elif op != "run" or len(fds) != 4:
            self._reply_close(conn, fds, {"refused": "protocol mismatch: unknown request"})
        elif message.get("fingerprint") != self.fingerprint:
            why = "the running server is from another jacli version or installation"
            self._reply_close(conn, fds, {"refused": why, "mismatch": True})
        elif len(self.children) >= MAX_CHILDREN:
            self._reply_close(conn, fds, {"refused": f"the server is busy ({MAX_CHILDREN} commands running)"})
        else:
            self._fork(conn, message, fds)

    def _reply_close(self, conn: socket.socket, fds: list[int], reply: dict[str, Any]) -> None:
        client._close_all(fds)
        with contextlib.suppress(OSError):
            send_message(conn, reply)
        conn.close()

    def info(self, fingerprint: str | None = None) -> dict[str, Any]:
        import jacli  # noqa: PLC0415

        return {
            "pid": os.getpid(),
            "uptime": time.time() - self.started,
            "served": self.served,
            "running": len(self.children),
            "running_pids": sorted(self.children),
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
                send_message(ctrl, message, [conn.fileno(), *fds])
            except OSError:  # the spare died; it is reaped like any child
                pid = 0
            ctrl.close()
        if not pid:
            pid = self._fork_child(lambda: self._child(conn, message, fds))
        client._close_all(fds)
        self.children[pid] = conn
        self.served += 1

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
        while True:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = self.children.pop(pid, None)
            if conn is None:
                if self.spare is not None and self.spare[0] == pid:  # died waiting: fork afresh next time
                    self.spare[1].close()
                    self.spare = None
                continue
            self.last_active = time.monotonic()
            code = os.waitstatus_to_exitcode(wait_status)
            reply: dict[str, Any] = {"exit": code} if code >= 0 else {"signal": -code}
            reply.update(limit=self.limits.time_limit, memory=self.limits.memory_limit)
            with contextlib.suppress(OSError):
                conn.setblocking(False)
                send_message(conn, reply)
            conn.close()
            if self.spare is None and not self.stopping:
                # Forked now rather than at dispatch, so it never competes for a CPU with a running command.
                self._start_spare()

    # -- one command, in a forked child ------------------------------------------

    def _become_child(self) -> None:
        """In a fresh fork: drop the server's signals and descriptors."""
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if self.listener is not None:
            self.listener.close()
        for other in self.children.values():
            other.close()
        if self.spare is not None:
            self.spare[1].close()
        self.selector.close()
        os.close(self.wake_r)
        os.close(self.wake_w)

    def _child(self, conn: socket.socket, message: dict[str, Any], fds: list[int]) -> int:
        """Run one command on the client's descriptors; its exit status."""
        conn.settimeout(None)
        if self.limits.time_limit:
            signal.alarm(self.limits.time_limit)
        if self.limits.memory_limit:
            limit = self.base_memory + self.limits.memory_limit * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        stdin, stdout, stderr, cwd = fds
        for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
            os.dup2(fd, target)
        os.fchdir(cwd)
        client._close_all([fd for fd in fds if fd > 2])
        os.umask(int(message.get("umask", 0o022)))
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
        return _run_cli(self.limits.memory_limit)  # the caller's os._exit(status) reports it


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
    return 1


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
    parser.add_argument("--idle-timeout", type=float, default=default_idle_timeout())
    parser.add_argument("--time-limit", type=int, default=DEFAULT_TIME_LIMIT)
    parser.add_argument("--memory-limit", type=int, default=DEFAULT_MEMORY_LIMIT)
    args = parser.parse_args(argv)
    directory = args.dir or client.server_dir()
    try:
        client.check_private_dir(directory, create=True)
        serve(directory, Limits(args.idle_timeout, args.time_limit, args.memory_limit), args.ready_fd)
    except (StartError, ServerUnavailable) as err:
        print(f"jacli server: error: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
