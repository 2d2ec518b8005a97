"""One command in a forked child of the warm server: the client's streams, its limits, the injected run.

A child puts its client's stdin/stdout/stderr on fds 0/1/2, takes its
environment, directory and umask, waits for the client's go-ahead, then calls
``run(argv) -> status`` (the CLI's one funnel, injected by
:mod:`jacli.server.__main__`) under a time limit (``SIGALRM``) and a memory
limit (``RLIMIT_AS``). The funnel decides the exit status of everything a
command can cause, out of memory included; this module adds only what the
interpreter's top level would (a bug's traceback, status 1).

Standard library, :mod:`jacli.errors` and the protocol only: no CLI module.
"""

from __future__ import annotations

import contextlib
import io
import locale
import os
import resource
import select
import signal
import socket
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from jacli import collector, warm_cache
from jacli.errors import ExitCode
from jacli.limits import GO_TIMEOUT, WARM_CACHE_MAX_REPORT_BYTES
from jacli.limits import reset as reset_settings
from jacli.server.control import Limits, read_until_eof
from jacli.server.protocol import ServerUnavailable, close_all, recv_message, send_message

Run = Callable[[list[str]], int]
"""The CLI's funnel: run ``jacli ARGV`` on the standard streams, return the exit status."""

EX_SOFTWARE = 70  # a child that failed before it could run the command


def run_request(conn: socket.socket, message: dict[str, Any], fds: list[int], run: Run, limits: Limits,
                base_memory: int, report: socket.socket | None = None) -> int:  # fmt: skip
    """Run one command on the client's descriptors ``fds`` (stdin, stdout, stderr, cwd); its exit status.

    ``base_memory``: the server's own address space, which the memory limit comes on top of. ``report``:
    where the command's cache report goes (:func:`send_report`), before the client hears of the exit
    (a client that has its answer hangs up, and the parent then ends this process).
    """
    conn.settimeout(None)
    stdin, stdout, stderr, cwd = fds
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
    os.fchdir(cwd)
    close_all([fd for fd in fds if fd > 2])
    os.umask(message["umask"])
    os.environ.clear()
    os.environ.update(message["env"])
    reset_settings()  # the command reads the client's environment, not the server's (at its first use)
    with contextlib.suppress(locale.Error):
        locale.setlocale(locale.LC_CTYPE, "")
    sys.argv = ["jacli", *message["argv"]]
    sys.stdin, sys.stdout, sys.stderr = (_std_stream(fd, info) for fd, info in enumerate(message["streams"]))
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
    send_message(conn, {"started": os.getpid()})
    collector.for_one_command()
    status = EX_SOFTWARE
    try:
        status = _run_when_told(conn, message["argv"], run, limits, base_memory)
    finally:
        # Answer the client now rather than after the kernel has torn this process down
        # (the parent's report of the reaped child comes second and is not read).
        if report is not None:
            send_report(report)
        with contextlib.suppress(OSError):
            send_message(conn, {"exit": status & 0xFF})
    return status


def send_report(sock: socket.socket) -> None:
    """Send the parent what this command built slowly (:func:`jacli.warm_cache.report`), without waiting.

    The parent reads it once this process has exited, so it must fit the socket's buffer: a report over
    :data:`~jacli.limits.WARM_CACHE_MAX_REPORT_BYTES` (or one the buffer cannot take whole) is not sent.
    """
    try:
        data = warm_cache.report()
        if data and len(data) <= WARM_CACHE_MAX_REPORT_BYTES:
            sock.setblocking(False)
            sock.send(data)
    except (OSError, ValueError, TypeError):  # a full buffer or an argument JSON cannot hold: no report
        pass
    finally:
        sock.close()


def _run_when_told(conn: socket.socket, argv: list[str], run: Run, limits: Limits, base_memory: int) -> int:
    """Wait for the client's go-ahead, then run ``argv`` under the limits; the exit status."""
    try:
        if not _go_ahead(conn):  # the client gave up (deadline, Ctrl-C): it may run the command itself
            return ExitCode.OK
        if limits.time_limit:
            signal.alarm(limits.time_limit)
        if limits.memory_limit:
            limit = base_memory + limits.memory_limit * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        return _as_a_script(run, argv)
    except KeyboardInterrupt:  # the client's Ctrl-C, forwarded before run() could catch it
        return ExitCode.INTERRUPTED


def _as_a_script(run: Run, argv: list[str]) -> int:
    """``run(argv)``, guarded as the interpreter's top level guards a script: a bug is a traceback and 1.

    ``run`` maps every error a user can cause to a status itself (the one funnel);
    what escapes it is a bug, which must still not return into the server's loop.
    """
    try:
        return run(argv)
    except BaseException:
        traceback.print_exc()
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        return 1


def warm_up(steps: Sequence[Callable[[], None]], ctrl: socket.socket, priority: tuple[int, os.sched_param]) -> bool:
    """In a spare child: run ``steps`` at idle priority until a request waits on ``ctrl``.

    Whether the child is back at the server's ``priority`` (policy, parameters)
    afterwards, as a command must run.
    """
    if not steps or not idle_is_reversible():  # a user without CAP_SYS_NICE could not leave SCHED_IDLE:
        return True  # no warm-up (else the spare could never serve, and each replacement would die alike)
    with contextlib.suppress(OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    for step in steps:
        if select.select([ctrl], [], [], 0)[0]:  # a request (or the parent's exit): no more warming
            break
        step()
    warm_cache.forget()  # the warm-up's builds and misses are not the coming command's to report
    with contextlib.suppress(OSError):
        os.sched_setscheduler(0, *priority)
    return os.sched_getscheduler(0) == priority[0]


def idle_is_reversible() -> bool:
    """Whether this process may go back from ``SCHED_IDLE`` to its policy: Linux lets it only with
    ``CAP_SYS_NICE`` or an ``RLIMIT_NICE`` admitting its nice value (``20 - nice <= limit``; the default
    limit, 0, admits none), so an ordinary user's spare must not take the idle priority at all."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NICE)
    if soft == resource.RLIM_INFINITY or 20 - os.getpriority(os.PRIO_PROCESS, 0) <= soft:
        return True
    try:
        with open("/proc/self/status", "rb") as status:
            effective = next(line for line in status if line.startswith(b"CapEff:"))
    except (OSError, StopIteration):
        return False
    return bool(int(effective.split()[1], 16) >> _CAP_SYS_NICE & 1)


_CAP_SYS_NICE = 23


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


def modules_imported_by(run: Run, commands: Sequence[list[str]]) -> list[str]:
    """Modules that ``commands`` import on first use, found by a throwaway child running them."""
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
            before = set(sys.modules)
            for argv in commands:
                run(argv)
            os.write(write_fd, "\n".join(sorted(set(sys.modules) - before)).encode())
        finally:
            os._exit(status)
    os.close(write_fd)
    try:
        names = read_until_eof(read_fd, 120.0).split()
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)
    return names


def address_space() -> int:
    """Bytes of address space this process uses now (what ``RLIMIT_AS`` counts)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0
