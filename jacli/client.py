"""The ``jacli`` command as a thin client of a warm :mod:`jacli.server`.

A one-shot ``jacli`` spends most of its time importing torch and SymPy. When a
server is up, this module forwards the command to it and the answer comes back
in milliseconds: the client sends argv, the environment, its current directory
and its own stdin/stdout/stderr file descriptors (``SCM_RIGHTS``); a forked
child of the server runs :func:`jacli.cli.main` on those very descriptors, so
output, terminal width, colour and the exit status are exactly those of an
in-process run. Anything wrong with the server means the command runs
in-process instead, with at most a one-line note on stderr.

``JACLI_SERVER`` picks the behaviour: unset (the default) uses a running server
and never starts one; ``auto`` also starts one on first use; ``off`` never
uses it.

This module is on the fast path: it imports the standard library only — no
torch, SymPy, Rich, Typer or Click, and not :mod:`jacli.cli`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import struct
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

PROTOCOL = 2
"""Bumped whenever the messages between client and server change."""

ENV_MODE = "JACLI_SERVER"
ENV_DIR = "JACLI_SERVER_DIR"
ENV_IDLE = "JACLI_SERVER_IDLE_TIMEOUT"
SOCKET_NAME = "server.sock"
MAX_MESSAGE = 16 * 1024 * 1024  # bytes; argv and environment, never data
START_TIMEOUT = 10.0  # seconds for the server to start our command (a stopped server must not hang us)
QUEUE_TIMEOUT = 120.0  # seconds a request the server has queued (all its slots busy) may wait to start
_HEADER = struct.Struct("!I")
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

# argv that must run in the user's own process: `server` manages the server
# itself, and completion installation inspects the calling shell's process tree.
_IN_PROCESS_FIRST = frozenset({"server"})
_IN_PROCESS_ANY = frozenset({"--install-completion", "--show-completion"})


def _quiet_start_up() -> None:
    """Ctrl-C between this import and :func:`main` (the console script's own lines): exit 130, no traceback.

    Only when the ``jacli`` console script imports this module, while Python's
    default handler is in place; :func:`main` puts that handler back first thing.
    """
    script = getattr(sys.modules.get("__main__"), "__file__", None) or ""
    if os.path.basename(script) == "jacli" and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
            signal.signal(signal.SIGINT, lambda *_: os._exit(130))  # nothing has been printed yet


_quiet_start_up()


class ServerUnavailable(Exception):
    """No usable server; ``note`` (if any) is worth one line on stderr."""

    def __init__(self, note: str = "") -> None:
        super().__init__(note)
        self.note = note


class ServerMismatch(ServerUnavailable):
    """A server is up, but from another jacli version or install path."""


# ---------------------------------------------------------------------------
# Where the server lives and who it is.
# ---------------------------------------------------------------------------


def server_dir() -> str:
    """Per-user directory of the socket: ``$JACLI_SERVER_DIR``, else
    ``$XDG_RUNTIME_DIR/jacli``, else ``/tmp/jacli-$UID``."""
    explicit = os.environ.get(ENV_DIR)
    if explicit:
        return os.path.abspath(explicit)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        return os.path.join(runtime, "jacli")
    return os.path.join("/tmp", f"jacli-{os.getuid()}")


def socket_path(directory: str | None = None) -> str:
    return os.path.join(directory or server_dir(), SOCKET_NAME)


def check_private_dir(path: str, create: bool = False) -> None:
    """Require ``path`` to be a real directory owned by us with mode 0700.

    Raises :class:`ServerUnavailable` otherwise: a directory another user can
    write to (or one they created in ``/tmp`` before us) is never trusted.
    """
    if create:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as err:
            raise ServerUnavailable(f"cannot create the server directory {path}: {err.strerror}") from None
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise ServerUnavailable() from None
    if not stat.S_ISDIR(info.st_mode):
        raise ServerUnavailable(f"the server directory {path} is not a directory")
    if info.st_uid != os.getuid():
        raise ServerUnavailable(f"the server directory {path} belongs to another user")
    if stat.S_IMODE(info.st_mode) & 0o077:
        bits = stat.S_IMODE(info.st_mode)
        raise ServerUnavailable(f"the server directory {path} is open to other users (mode {bits:o})")


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket (``SO_PEERCRED``)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


def peer_allowed(uid: int, own_uid: int | None = None) -> bool:
    """Only the user who runs the server may talk to it (root included: no exception)."""
    return uid == (os.getuid() if own_uid is None else own_uid)


def _dist_info() -> str:
    """Name and mtime of the installed ``jacli-*.dist-info`` (carries the version)."""
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.startswith("jacli-") and name.endswith((".dist-info", ".egg-info")):
                metadata = os.path.join(entry or ".", name)
                try:
                    return f"{os.path.realpath(metadata)}@{os.stat(metadata).st_mtime_ns}"
                except OSError:
                    return name
    return "uninstalled"


def fingerprint() -> str:
    """Identity of this jacli: protocol, interpreter, install path, installed
    version and the code itself (every module's size and mtime).

    A server is used only when its fingerprint equals the client's, so an
    upgrade, another virtualenv or an edited source tree never answers with
    stale code.
    """
    parts = [f"protocol={PROTOCOL}", f"python={os.path.realpath(sys.executable)} {sys.version}",
             f"package={os.path.realpath(_PACKAGE_DIR)}", f"dist={_dist_info()}"]  # fmt: skip
    stack = [_PACKAGE_DIR]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False) and not entry.name.startswith((".", "__")):
                stack.append(entry.path)
            elif entry.name.endswith(".py"):
                info = entry.stat()
                parts.append(f"{os.path.relpath(entry.path, _PACKAGE_DIR)}:{info.st_size}:{info.st_mtime_ns}")
    return "\n".join(parts)


# ---------------------------------------------------------------------------
# Messages: a 4-byte length, then a JSON object; the first may carry file descriptors.
# ---------------------------------------------------------------------------


def encode(message: dict[str, Any]) -> bytes:
    data = json.dumps(message, separators=(",", ":")).encode()
    return _HEADER.pack(len(data)) + data


def decode(body: bytes) -> dict[str, Any]:
    """The JSON object in a message body; :class:`ServerUnavailable` for anything else.

    Whatever the bytes are (not UTF-8, not JSON, a bare number, an array,
    200,000 nested ``[``), the answer is this one exception, never a crash.
    """
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the interpreter's stack allows
        raise ServerUnavailable("protocol mismatch: an unreadable message") from None
    if not isinstance(message, dict):
        raise ServerUnavailable("protocol mismatch: a message is not a JSON object")
    return message


def message_size(header: bytes) -> int:
    """The body size a 4-byte header announces; :class:`ServerUnavailable` when it is too large."""
    (size,) = _HEADER.unpack(header)
    if size > MAX_MESSAGE:
        raise ServerUnavailable("protocol mismatch: a message is too large")
    return size


HEADER_SIZE = _HEADER.size


def send_message(sock: socket.socket, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
    data = encode(message)
    sent = socket.send_fds(sock, [data], list(fds)) if fds else sock.send(data)
    if sent < len(data):
        sock.sendall(data[sent:])


def _recv(sock: socket.socket, size: int, max_fds: int, deadline: float | None) -> tuple[bytes, list[int]]:
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        sock.settimeout(left)
    if max_fds:
        chunk, fds, _flags, _addr = socket.recv_fds(sock, size, max_fds)
        return chunk, fds
    return sock.recv(size), []


def recv_message(
    sock: socket.socket, max_fds: int = 0, deadline: float | None = None
) -> tuple[dict[str, Any] | None, list[int]]:
    """One message and the descriptors that came with it; ``None`` at EOF.

    Reads exactly one message, so a second one that follows stays in the
    socket. ``deadline`` (a ``time.monotonic()`` value) bounds the whole
    message, not each ``recv``: past it, :class:`TimeoutError`.
    """
    fds: list[int] = []
    try:
        header = b""
        while len(header) < _HEADER.size:
            chunk, new_fds = _recv(sock, _HEADER.size - len(header), max_fds, deadline)
            fds += new_fds
            if not chunk:
                _close_all(fds)
                return None, []
            header += chunk
        size = message_size(header)
        body = bytearray()
        while len(body) < size:
            chunk, _ = _recv(sock, min(size - len(body), 1 << 20), 0, deadline)
            if not chunk:
                _close_all(fds)
                return None, []
            body += chunk
        return decode(bytes(body)), fds
    except BaseException:
        _close_all(fds)
        raise


def _close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Talking to the server.
# ---------------------------------------------------------------------------


def connect(directory: str | None = None, timeout: float | None = 5.0) -> socket.socket:
    """A connection to this user's server; :class:`ServerUnavailable` if none.

    A socket file nobody listens on (a server that was killed) is stale:
    ``ServerUnavailable`` with ``stale`` set.
    """
    directory = directory or server_dir()
    check_private_dir(directory)
    path = socket_path(directory)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except FileNotFoundError:
        sock.close()
        raise ServerUnavailable() from None
    except ConnectionRefusedError:
        sock.close()
        err = ServerUnavailable()
        err.stale = True  # type: ignore[attr-defined]
        raise err from None
    except OSError as err:
        sock.close()
        raise ServerUnavailable(f"cannot connect to the server: {err.strerror or err}") from None
    if not peer_allowed(peer_uid(sock)):
        sock.close()
        raise ServerUnavailable("the server socket belongs to another user")
    return sock


def request(message: dict[str, Any], directory: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
    """A control request (``status``, ``stop``) and its one reply, all within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    with connect(directory, timeout) as sock:
        send_message(sock, {"protocol": PROTOCOL, **message})
        reply, _ = recv_message(sock, deadline=deadline)
    if reply is None:
        raise ServerUnavailable("the server closed the connection")
    return reply


def _stream_info(stream: Any) -> dict[str, Any]:
    """How Python set up this standard stream, so the server's child can do the same."""
    return {
        "encoding": getattr(stream, "encoding", None) or "utf-8",
        "errors": getattr(stream, "errors", None) or "strict",
        "line_buffering": bool(getattr(stream, "line_buffering", False)),
        "write_through": bool(getattr(stream, "write_through", False)),
    }


def _cwd_fd() -> int:
    flags = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_CLOEXEC
    return os.open(".", flags)


class _Interrupts:
    """SIGINT/SIGTERM/SIGHUP: forwarded to the child once our command runs there.

    Before that nothing has run anywhere, so the client itself stops: SIGINT
    raises :class:`KeyboardInterrupt` (exit 130, quietly, see :func:`main`),
    SIGTERM and SIGHUP end it like the default action would. Closing the
    connection tells the server not to run the command.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.pid = 0
        self.saved = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)
            return
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def started(self, pid: int) -> None:
        self.pid = pid

    def restore(self) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)


def forward(argv: Sequence[str], directory: str | None = None) -> int:
    """Run ``jacli ARGV`` in the server; its exit status.

    Raises :class:`ServerUnavailable` when the command did not start there, so
    the caller can run it in-process instead: that includes a server that does
    not start it within :data:`START_TIMEOUT` seconds (a stopped or swamped
    server), whose child then never runs it.
    """
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        if stream is None:
            raise ServerUnavailable()
    deadline = time.monotonic() + START_TIMEOUT
    interrupts = _Interrupts()
    try:
        sock = connect(directory, timeout=START_TIMEOUT)
        try:
            return _exchange(sock, argv, deadline, interrupts)
        finally:
            sock.close()
    finally:
        interrupts.restore()


def _request_message(argv: Sequence[str]) -> dict[str, Any]:
    umask = os.umask(0o22)
    os.umask(umask)
    return {
        "protocol": PROTOCOL,
        "op": "run",
        "fingerprint": fingerprint(),
        "argv": list(argv),
        "env": dict(os.environ),
        "umask": umask,
        "streams": [_stream_info(s) for s in (sys.stdin, sys.stdout, sys.stderr)],
    }


def _exchange(sock: socket.socket, argv: Sequence[str], deadline: float, interrupts: _Interrupts) -> int:
    """Request, wait for the child to start (until ``deadline``), let it run, its status.

    The child waits for our ``go`` before it touches anything: a client that
    gave up (deadline, Ctrl-C) just closes the connection, and the command
    runs in exactly one place.
    """
    try:
        cwd = _cwd_fd()
    except OSError:
        raise ServerUnavailable() from None
    try:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        send_message(sock, _request_message(argv), [0, 1, 2, cwd])
    except TimeoutError:
        raise ServerUnavailable(f"the server did not take the request within {START_TIMEOUT:g} s") from None
    except OSError as err:
        raise ServerUnavailable(f"cannot send the request to the server: {err.strerror or err}") from None
    finally:
        os.close(cwd)
    pid = _wait_started(sock, deadline)
    try:
        sock.settimeout(None)
        send_message(sock, {"go": True})
    except OSError:  # the child is gone before it ran anything
        raise ServerUnavailable("the server could not run the command") from None
    interrupts.started(pid)  # from here on the command may have printed: never run it again
    return _wait_finished(sock)


def _wait_started(sock: socket.socket, deadline: float) -> int:
    """The pid of the child that will run our command; :class:`ServerUnavailable` if none comes.

    A server that answers ``queued`` (all its slots busy) is alive: the
    request then waits up to :data:`QUEUE_TIMEOUT` more seconds.
    """
    timeout = START_TIMEOUT
    while True:
        try:
            reply, _ = recv_message(sock, deadline=deadline)
        except TimeoutError:
            raise ServerUnavailable(f"the server did not start the command within {timeout:g} s") from None
        except OSError as err:
            raise ServerUnavailable(f"the server failed: {err.strerror or err}") from None
        if reply is None or "queued" not in reply:
            break
        timeout = QUEUE_TIMEOUT
        deadline = time.monotonic() + QUEUE_TIMEOUT
    if reply is None:
        raise ServerUnavailable("the server closed the connection before running the command")
    if "refused" in reply:
        cls = ServerMismatch if reply.get("mismatch") is True else ServerUnavailable
        raise cls(str(reply["refused"])[:500])
    pid = reply.get("started")
    if not _is_int(pid) or pid <= 0:  # the fork failed before it could run anything: nothing was printed
        raise ServerUnavailable("the server could not run the command")
    return pid


def _wait_finished(sock: socket.socket) -> int:
    """The exit status the server reports for our running command."""
    try:
        reply, _ = recv_message(sock)
    except ServerUnavailable as err:
        return _lost(err.note)
    except OSError as err:
        return _lost(f"the connection to the server broke: {err.strerror or err}")
    if reply is None:
        return _lost("the server stopped during the request")
    code, signum = reply.get("exit"), reply.get("signal")
    if _is_int(code) and 0 <= code <= 255:
        return code
    if _is_int(signum) and 0 < signum < 128:
        return _killed(signum, reply)
    return _lost("protocol mismatch: unexpected reply from the server")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _say(line: str) -> None:
    """One line on stderr; a stderr that cannot take it (``2>/dev/full``) changes nothing else."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _lost(why: str) -> int:
    # The command already ran (its output went straight to our stdout), so
    # running it again here would print it twice; report instead.
    _say(f"jacli: error: {why}; its exit status is unknown")
    return 1


def _killed(signum: int, reply: dict[str, Any]) -> int:
    """A request the server had to kill: say why, exit like a killed process."""
    if signum == signal.SIGINT:
        return 130
    if signum == signal.SIGALRM:
        why = f"the command ran longer than the server's time limit of {reply.get('limit', '?')} s"
    else:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        why = f"the command was killed by {name} in the server"
        if signum in (signal.SIGKILL, signal.SIGSEGV, signal.SIGBUS):
            why += f" (its memory limit is {reply.get('memory', '?')} MiB)"
    _say(f"jacli: error: {why}")
    return 128 + signum


# ---------------------------------------------------------------------------
# Entry point.
# ---------------------------------------------------------------------------


def mode() -> str:
    """``JACLI_SERVER``: ``auto``, ``off``, or ``""`` (use a server that is up)."""
    return os.environ.get(ENV_MODE, "").strip().lower()


def should_forward(argv: Sequence[str]) -> bool:
    if argv[:1] and argv[0] in _IN_PROCESS_FIRST:
        return False
    return not any(arg in _IN_PROCESS_ANY for arg in argv)


def try_server(argv: Sequence[str], notes: list[str] | None = None) -> int | None:
    """The exit status of ``argv`` run by the server, or ``None`` to run in-process.

    Why the server was not used, when worth saying, goes to ``notes`` (one
    ``jacli: note: …`` line each) for the caller to print after the command,
    so that a command's own first line (``jacli: error: …``) stays first.
    Without ``notes`` they are printed at once.
    """
    pending: list[str] = []
    status = _try_server(argv, pending)
    if notes is None:
        for note in pending:
            _say(note)
    else:
        notes += pending
    return status


def _try_server(argv: Sequence[str], notes: list[str]) -> int | None:
    setting = mode()
    if setting == "off" or not should_forward(argv):
        return None
    if setting not in ("", "auto"):
        notes.append(f"jacli: note: ignored {ENV_MODE}={setting!r} (use auto or off)")
        setting = ""
    try:
        return forward(argv)
    except ServerMismatch as err:
        problem = _restart(err.note, stop_first=True) if setting == "auto" else err.note
    except ServerUnavailable as err:
        # No server (or a stale socket) is quiet; anything else is worth a note.
        problem = _restart("", stop_first=False) if setting == "auto" and not err.note else err.note
    if not problem:
        if setting != "auto":
            return None
        try:
            return forward(argv)
        except ServerUnavailable as err:
            problem = err.note or "the server is not available"
    notes.append(f"jacli: note: {problem}; ran in-process")
    return None


def _restart(note: str, stop_first: bool) -> str:
    """Start a server (stopping a mismatched one first); '' when one is ready."""
    from jacli import server  # noqa: PLC0415

    try:
        if stop_first:
            server.stop(quiet=True)
        server.start(quiet=True)
    except server.StartError as err:
        return f"{note + '; ' if note else ''}could not start the server: {err}"
    return ""


def _run_in_process(notes: Sequence[str]) -> None:
    """:func:`jacli.cli.main` (it ends the process), then the notes after everything it printed."""
    from jacli import cli  # noqa: PLC0415

    if not notes:
        cli.main()
        return
    real_exit = os._exit

    def exit_after_notes(code: int) -> NoReturn:
        for note in notes:
            _say(note)
        real_exit(code)

    os._exit = exit_after_notes  # cli.main ends with os._exit once torch is loaded; the process ends right after
    try:
        cli.main()
    except SystemExit:
        for note in notes:
            _say(note)
        raise


def _interrupted() -> NoReturn:
    """Ctrl-C before the command ran (imports, connecting): exit 130 without a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the exit
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(130)  # a half-imported torch need not be torn down


def main() -> None:
    """Console-script entry point: forward to the server, else run in-process."""
    try:
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:  # see _quiet_start_up
            signal.signal(signal.SIGINT, signal.default_int_handler)
        notes: list[str] = []
        status = try_server(sys.argv[1:], notes)
        if status is None:
            _run_in_process(notes)
            return
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        for note in notes:
            _say(note)
    except KeyboardInterrupt:
        _interrupted()
    sys.exit(status)


if __name__ == "__main__":
    main()
