"""The wire protocol between the ``jacli`` client and its warm server (standard library only).

Where the server lives (a private per-user directory), who may talk to it (the
same uid, checked with ``SO_PEERCRED``), which code it runs (:func:`fingerprint`),
and the messages: a 4-byte length, then a JSON object; the first message of a
request may carry file descriptors (``SCM_RIGHTS``). Every field of a request is
checked by :func:`check_request` before the server acts on it.

This module is on the console script's fast path and imports the standard
library only (a test says so).
"""

from __future__ import annotations

import _socket  # the C module under socket: importing socket costs ~5 ms (enums), on every warm call
import array
import codecs
import io
import json
import os
import stat
import sys
import time
from collections.abc import Sequence

TYPE_CHECKING = False  # typing is not imported at run time: this module is on the warm client's path
if TYPE_CHECKING:
    from typing import Any

PROTOCOL = 2
"""Bumped whenever the messages between client and server change."""

ENV_MODE = "JACLI_SERVER"
ENV_DIR = "JACLI_SERVER_DIR"
ENV_IDLE = "JACLI_SERVER_IDLE_TIMEOUT"
SOCKET_NAME = "server.sock"
MAX_MESSAGE = 16 * 1024 * 1024  # bytes; argv and environment, never data
HEADER_SIZE = 4  # the body's length, big-endian
_PEERCRED_SIZE = 12  # struct ucred: pid, uid, gid (native ints)
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # jacli/, the code a server runs


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


def peer_uid(sock: _socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket (``SO_PEERCRED``)."""
    creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, _PEERCRED_SIZE)
    return int.from_bytes(creds[4:8], sys.byteorder, signed=True)


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
        for name in [name for name in names if name.startswith("jacli-")]:
            if name.endswith((".dist-info", ".egg-info")):
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
    # the environment, not the executable's name: a venv made with --copies has python, python3 and
    # python3.11 as three files, and the console script (python3) must match `python -m jacli`
    parts = [f"protocol={PROTOCOL}", f"python={os.path.realpath(sys.prefix)} {sys.version}",
             f"package={os.path.realpath(PACKAGE_DIR)}", f"dist={_dist_info()}"]  # fmt: skip
    stack = [PACKAGE_DIR]
    prefix = len(os.path.join(PACKAGE_DIR, ""))  # entry paths are joined from PACKAGE_DIR: slicing is relpath
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
                parts.append(f"{entry.path[prefix:]}:{info.st_size}:{info.st_mtime_ns}")  # relative to PACKAGE_DIR
    return "\n".join(parts)


# ---------------------------------------------------------------------------
# Messages: a 4-byte length, then a JSON object; the first may carry file descriptors.
# ---------------------------------------------------------------------------


def encode(message: dict[str, Any]) -> bytes:
    data = json.dumps(message, separators=(",", ":")).encode()
    return len(data).to_bytes(HEADER_SIZE, "big") + data


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
    size = int.from_bytes(header, "big")
    if size > MAX_MESSAGE:
        raise ServerUnavailable("protocol mismatch: a message is too large")
    return size


def send_message(sock: _socket.socket, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
    data = encode(message)
    sent = send_fds(sock, data, fds) if fds else sock.send(data)
    if sent < len(data):
        sock.sendall(data[sent:])


def send_fds(sock: _socket.socket, data: bytes, fds: Sequence[int]) -> int:
    """``socket.send_fds`` (bytes sent), for the C socket too."""
    return sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", fds))])


def recv_fds(sock: _socket.socket, size: int, max_fds: int) -> tuple[bytes, list[int], int]:
    """``socket.recv_fds`` (data, descriptors, flags), for the C socket too."""
    fds = array.array("i")
    data, ancillary, flags, _addr = sock.recvmsg(size, _socket.CMSG_LEN(max_fds * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    return data, list(fds), flags


def _recv(sock: _socket.socket, size: int, max_fds: int, deadline: float | None) -> tuple[bytes, list[int]]:
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        sock.settimeout(left)
    if max_fds:
        chunk, fds, _flags = recv_fds(sock, size, max_fds)
        return chunk, fds
    return sock.recv(size), []


def recv_message(
    sock: _socket.socket, max_fds: int = 0, deadline: float | None = None
) -> tuple[dict[str, Any] | None, list[int]]:
    """One message and the descriptors that came with it; ``None`` at EOF.

    Reads exactly one message, so a second one that follows stays in the
    socket. ``deadline`` (a ``time.monotonic()`` value) bounds the whole
    message, not each ``recv``: past it, :class:`TimeoutError`.
    """
    fds: list[int] = []
    try:
        header = b""
        while len(header) < HEADER_SIZE:
            chunk, new_fds = _recv(sock, HEADER_SIZE - len(header), max_fds, deadline)
            fds += new_fds
            if not chunk:
                close_all(fds)
                return None, []
            header += chunk
        size = message_size(header)
        body = bytearray()
        while len(body) < size:
            chunk, _ = _recv(sock, min(size - len(body), 1 << 20), 0, deadline)
            if not chunk:
                close_all(fds)
                return None, []
            body += chunk
        return decode(bytes(body)), fds
    except BaseException:
        close_all(fds)
        raise


def close_all(fds: Sequence[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Talking to the server.
# ---------------------------------------------------------------------------


def connect(directory: str | None = None, timeout: float | None = 5.0) -> _socket.socket:
    """A connection to this user's server; :class:`ServerUnavailable` if none.

    A socket file nobody listens on (a server that was killed) is stale:
    ``ServerUnavailable`` with ``stale`` set.
    """
    directory = directory or server_dir()
    check_private_dir(directory)
    path = socket_path(directory)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
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
    sock = connect(directory, timeout)
    try:
        send_message(sock, {"protocol": PROTOCOL, **message})
        reply, _ = recv_message(sock, deadline=deadline)
    finally:
        sock.close()
    if reply is None:
        raise ServerUnavailable("the server closed the connection")
    return reply


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
    return "" if is_int(umask) and 0 <= umask <= 0o777 else "the umask is not a number from 0 to 0o777"


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


def is_int(value: Any) -> bool:
    """An int that is not a bool (JSON ``true`` is not a number)."""
    return isinstance(value, int) and not isinstance(value, bool)
