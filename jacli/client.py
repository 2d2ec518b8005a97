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

import json
import os
import signal
import socket
import stat
import struct
import sys
from collections.abc import Sequence
from typing import Any

PROTOCOL = 1
"""Bumped whenever the messages between client and server change."""

ENV_MODE = "JACLI_SERVER"
ENV_DIR = "JACLI_SERVER_DIR"
ENV_IDLE = "JACLI_SERVER_IDLE_TIMEOUT"
SOCKET_NAME = "server.sock"
MAX_MESSAGE = 16 * 1024 * 1024  # bytes; argv and environment, never data
_HEADER = struct.Struct("!I")
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

# argv that must run in the user's own process: `server` manages the server
# itself, and completion installation inspects the calling shell's process tree.
_IN_PROCESS_FIRST = frozenset({"server"})
_IN_PROCESS_ANY = frozenset({"--install-completion", "--show-completion"})


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
# Messages: a 4-byte length, then JSON; the first may carry file descriptors.
# ---------------------------------------------------------------------------


def encode(message: dict[str, Any]) -> bytes:
    data = json.dumps(message, separators=(",", ":")).encode()
    return _HEADER.pack(len(data)) + data


def send_message(sock: socket.socket, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
    data = encode(message)
    sent = socket.send_fds(sock, [data], list(fds)) if fds else sock.send(data)
    if sent < len(data):
        sock.sendall(data[sent:])


def recv_message(sock: socket.socket, max_fds: int = 0) -> tuple[dict[str, Any] | None, list[int]]:
    """One message and the descriptors that came with it; ``None`` at EOF.

    Reads exactly one message, so a second one that follows stays in the socket.
    """
    fds: list[int] = []
    header = b""
    while len(header) < _HEADER.size:
        chunk, new_fds, _flags, _addr = socket.recv_fds(sock, _HEADER.size - len(header), max(max_fds, 1))
        fds += new_fds
        if not chunk:
            _close_all(fds)
            return None, []
        header += chunk
    (size,) = _HEADER.unpack(header)
    if size > MAX_MESSAGE:
        _close_all(fds)
        raise ServerUnavailable("protocol mismatch: a message is too large")
    body = bytearray()
    while len(body) < size:
        chunk = sock.recv(min(size - len(body), 1 << 20))
        if not chunk:
            _close_all(fds)
            return None, []
        body += chunk
    try:
        return json.loads(body), fds
    except ValueError:
        _close_all(fds)
        raise ServerUnavailable("protocol mismatch: an unreadable message") from None


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
    """A control request (``status``, ``stop``) and its one reply."""
    with connect(directory, timeout) as sock:
        send_message(sock, {"protocol": PROTOCOL, **message})
        reply, _ = recv_message(sock)
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
    """Forward SIGINT/SIGTERM/SIGHUP to the child that runs our command."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.pid = 0
        self.pending: list[int] = []
        self.saved = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.pid:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass
        else:
            self.pending.append(signum)

    def started(self, pid: int) -> None:
        self.pid = pid
        for signum in self.pending:
            self._handle(signum, None)

    def restore(self) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)


def forward(argv: Sequence[str], directory: str | None = None) -> int:
    """Run ``jacli ARGV`` in the server; its exit status.

    Raises :class:`ServerUnavailable` when the command did not start there, so
    the caller can run it in-process instead.
    """
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        if stream is None:
            raise ServerUnavailable()
    sock = connect(directory, timeout=None)
    try:
        return _exchange(sock, argv)
    finally:
        sock.close()


def _exchange(sock: socket.socket, argv: Sequence[str]) -> int:
    umask = os.umask(0o22)
    os.umask(umask)
    message = {
        "protocol": PROTOCOL,
        "op": "run",
        "fingerprint": fingerprint(),
        "argv": list(argv),
        "env": dict(os.environ),
        "umask": umask,
        "streams": [_stream_info(s) for s in (sys.stdin, sys.stdout, sys.stderr)],
    }
    try:
        cwd = _cwd_fd()
    except OSError:
        raise ServerUnavailable() from None
    interrupts = _Interrupts()
    try:
        try:
            send_message(sock, message, [0, 1, 2, cwd])
        except OSError as err:
            raise ServerUnavailable(f"cannot send the request to the server: {err.strerror or err}") from None
        finally:
            os.close(cwd)
        started = False
        while True:
            try:
                reply, _ = recv_message(sock)
            except InterruptedError:
                continue
            except ServerUnavailable as err:
                if started:
                    return _lost(err.note)
                raise
            except OSError as err:
                if started:
                    return _lost(f"the connection to the server broke: {err.strerror or err}")
                raise ServerUnavailable(f"the server failed: {err.strerror or err}") from None
            if reply is None:
                if started:
                    return _lost("the server stopped during the request")
                raise ServerUnavailable("the server closed the connection before running the command")
            if "refused" in reply:
                cls = ServerMismatch if reply.get("mismatch") else ServerUnavailable
                raise cls(str(reply["refused"]))
            if "started" in reply:
                started = True
                interrupts.started(int(reply["started"]))
            elif not started:  # the fork failed before it could run anything: nothing was printed
                raise ServerUnavailable("the server could not run the command")
            elif "exit" in reply:
                return int(reply["exit"])
            elif "signal" in reply:
                return _killed(int(reply["signal"]), reply)
            else:
                raise ServerUnavailable("protocol mismatch: unexpected reply from the server")
    finally:
        interrupts.restore()
        if interrupts.pending and not interrupts.pid:
            sys.exit(128 + interrupts.pending[0] if interrupts.pending[0] != signal.SIGINT else 130)


def _lost(why: str) -> int:
    # The command already ran (its output went straight to our stdout), so
    # running it again here would print it twice; report instead.
    sys.stderr.write(f"jacli: error: {why}; its exit status is unknown\n")
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
    sys.stderr.write(f"jacli: error: {why}\n")
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


def try_server(argv: Sequence[str]) -> int | None:
    """The exit status of ``argv`` run by the server, or ``None`` to run in-process."""
    setting = mode()
    if setting == "off" or not should_forward(argv):
        return None
    if setting not in ("", "auto"):
        sys.stderr.write(f"jacli: note: ignoring {ENV_MODE}={setting!r} (use auto or off)\n")
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
    sys.stderr.write(f"jacli: note: {problem}; running in-process\n")
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


def main() -> None:
    """Console-script entry point: forward to the server, else run in-process."""
    status = try_server(sys.argv[1:])
    if status is None:
        from jacli import cli  # noqa: PLC0415

        cli.main()
        return
    sys.stdout.flush()
    sys.exit(status)


if __name__ == "__main__":
    main()
