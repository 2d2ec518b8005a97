"""Forwarding one ``jacli`` command to the warm server (standard library only).

A one-shot ``jacli`` spends most of its time importing torch and SymPy. When a
server is up, :func:`try_server` forwards the command to it and the answer comes
back in milliseconds: the client sends argv, the environment, its current
directory and its own stdin/stdout/stderr file descriptors (``SCM_RIGHTS``); a
forked child of the server runs the CLI on those very descriptors, so output,
terminal width, colour and the exit status are exactly those of an in-process
run. Anything wrong with the server means the command runs in-process instead
(the caller's job, :mod:`jacli.entry`), with at most a one-line note on stderr.

``JACLI_SERVER`` picks the behaviour: unset (the default, also ``auto``) uses
the server and starts one when none answers (warm by default, like the Gradle
and Bazel daemons; the first start prints one note); ``off`` never uses it.

This module is on the fast path: it imports the standard library,
:mod:`jacli.errors` and :mod:`jacli.server.protocol` only: no torch, SymPy,
Rich, Typer or Click, and no CLI module.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Sequence

from jacli.errors import ServerKilled, ServerLost
from jacli.limits import QUEUE_TIMEOUT, START_TIMEOUT
from jacli.server import protocol
from jacli.server.protocol import (
    ENV_MODE,
    PROTOCOL,
    ServerMismatch,
    ServerUnavailable,
    connect,
    is_int,
    recv_message,
    send_message,
)

TYPE_CHECKING = False  # typing is not imported at run time: this module is on the warm client's path
if TYPE_CHECKING:
    import _socket  # connect() returns the C socket (see protocol)
    from typing import Any

# argv that must run in the user's own process: `server` manages the server
# itself, and completion installation inspects the calling shell's process tree.
_IN_PROCESS_FIRST = frozenset({"server"})
_IN_PROCESS_ANY = frozenset({"--install-completion", "--show-completion"})
# argv that needs no torch and answers in a tenth of a second in-process: worth a running
# server, never worth waiting seconds for one to start (a Tab press above all).
_LIGHT_FIRST = frozenset({"language", "server"})
_LIGHT_ANY = frozenset({"--help", "-h", "--version"})
_COMPLETION_ENV = "_JACLI_COMPLETE"


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
    raises :class:`KeyboardInterrupt` (exit 130, quietly, see :func:`jacli.entry.main`),
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
    """Run ``jacli ARGV`` in the server; its exit status (or ServerLost/ServerKilled, see :func:`_wait_finished`).

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
        "fingerprint": protocol.fingerprint(),  # looked up here: tests stand in another version
        "argv": list(argv),
        "env": dict(os.environ),
        "umask": umask,
        "streams": [_stream_info(s) for s in (sys.stdin, sys.stdout, sys.stderr)],
    }


def _exchange(sock: _socket.socket, argv: Sequence[str], deadline: float, interrupts: _Interrupts) -> int:
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


def _wait_started(sock: _socket.socket, deadline: float) -> int:
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
    if not is_int(pid) or pid <= 0:  # the fork failed before it could run anything: nothing was printed
        raise ServerUnavailable("the server could not run the command")
    return pid


def _wait_finished(sock: _socket.socket) -> int:
    """The exit status the server reports for our running command.

    Raises :class:`~jacli.errors.ServerLost` or :class:`~jacli.errors.ServerKilled`
    when it did not end normally: the one funnel (:func:`jacli.terminal.status_of`)
    says so and decides the status. Never :class:`ServerUnavailable`: the command
    already ran (its output went straight to our stdout), so running it again
    here would print it twice.
    """
    try:
        reply, _ = recv_message(sock)
    except ServerUnavailable as err:
        raise _lost(err.note) from None
    except OSError as err:
        raise _lost(f"the connection to the server broke: {err.strerror or err}") from None
    if reply is None:
        raise _lost("the server stopped during the request")
    code, signum = reply.get("exit"), reply.get("signal")
    if is_int(code) and 0 <= code <= 255:
        return code
    if is_int(signum) and 0 < signum < 128:
        raise ServerKilled(_why_killed(signum, reply), signum)
    raise _lost("protocol mismatch: unexpected reply from the server")


def _lost(why: str) -> ServerLost:
    return ServerLost(f"{why}; its exit status is unknown")


def say(line: str) -> None:
    """One line on stderr; a stderr that cannot take it (``2>/dev/full``) changes nothing else."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def _why_killed(signum: int, reply: dict[str, Any]) -> str:
    """Why the server killed a request ('' for Ctrl-C, which the user knows about)."""
    if signum == signal.SIGINT:
        return ""
    if signum == signal.SIGALRM:
        return f"the command ran longer than the server's time limit of {reply.get('limit', '?')} s"
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    why = f"the command was killed by {name} in the server"
    if signum in (signal.SIGKILL, signal.SIGSEGV, signal.SIGBUS):
        why += f" (its memory limit is {reply.get('memory', '?')} MiB)"
    return why


# ---------------------------------------------------------------------------
# Whether to forward, and falling back.
# ---------------------------------------------------------------------------


def mode() -> str:
    """``JACLI_SERVER``: ``off``, or ``auto`` (unset, empty, ``auto`` or ``on``: warm by default)."""
    setting = os.environ.get(ENV_MODE, "").strip().lower()
    return "auto" if setting in ("", "on") else setting


def should_forward(argv: Sequence[str]) -> bool:
    if argv[:1] and argv[0] in _IN_PROCESS_FIRST:
        return False
    return not any(arg in _IN_PROCESS_ANY for arg in argv)


def worth_starting_for(argv: Sequence[str]) -> bool:
    """Whether ``argv`` is a computation: only those start a server when none answers."""
    if not argv or argv[0] in _LIGHT_FIRST or os.environ.get(_COMPLETION_ENV):
        return False
    return not any(arg in _LIGHT_ANY for arg in argv)


def try_server(argv: Sequence[str], notes: list[str] | None = None) -> int | None:
    """The exit status of ``argv`` run by the server, or ``None`` to run in-process.

    Why the server was not used, when worth saying, goes to ``notes`` (one
    ``jacli: note: …`` line each) for the caller to print after the command,
    so that a command's own first line (``jacli: error: …``) stays first.
    Without ``notes`` they are printed at once.
    """
    pending: list[str] = []
    try:
        return _try_server(argv, pending)
    finally:  # also when the server lost or killed the command
        if notes is None:
            for note in pending:
                say(note)
        else:
            notes += pending


def _try_server(argv: Sequence[str], notes: list[str]) -> int | None:
    setting = mode()
    if setting == "off" or not should_forward(argv):
        return None
    if setting != "auto":  # not understood: the cautious reading, no server (and say so)
        value = os.environ.get(ENV_MODE, "").strip()
        notes.append(f"jacli: note: ignored {ENV_MODE}={value!r} (use auto or off); ran in-process")
        return None
    mismatch = False
    try:
        return forward(argv)
    except ServerMismatch:
        mismatch = True  # another jacli's server: replaced by ours
    except ServerUnavailable as err:
        if err.note:  # not merely "none is running" (or a killed one's socket): say why, run here
            notes.append(f"jacli: note: {err.note}; ran in-process")
            return None
    if not worth_starting_for(argv):
        return None
    ready, note = _start(mismatch)
    if note:
        notes.append(f"jacli: note: {note}{'' if ready else '; ran in-process'}")
    if not ready:
        return None
    try:
        return forward(argv)
    except ServerUnavailable as err:
        notes.append(f"jacli: note: {err.note or 'the server is not available'}; ran in-process")
    return None


def _start(replace: bool) -> tuple[bool, str]:
    """Start the server (``replace``: stop another jacli's first); whether it is ready, and a note."""
    from jacli.server import control  # noqa: PLC0415 - only when no server answered

    if replace:
        control.stop(quiet=True)
    return control.auto_start()
