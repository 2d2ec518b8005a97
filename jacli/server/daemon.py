"""The warm ``jacli`` server process: an event loop that forks one child per command.

The process that runs :func:`serve` has imported everything a command needs
(its caller's ``preload``), then waits on a Unix socket in a private per-user
directory. It does no torch work itself. Each request from
:mod:`jacli.server.client` is answered by a forked child
(:mod:`jacli.server.child`), which runs the command on the client's own
descriptors through the injected ``run(argv) -> status`` (the CLI's one
funnel), under the server's limits. A child that crashes, hangs or exhausts
memory dies alone; the next request forks from the same clean parent. The
child for the next request is forked ahead (a spare, warmed at idle priority
while it waits: :meth:`Server._start_spare`).

This module imports no CLI module: :mod:`jacli.server.__main__` injects ``run``.
"""

from __future__ import annotations

import collections
import contextlib
import os
import resource
import select
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from jacli.limits import MAX_CHILDREN, MAX_FDS, MAX_PENDING, MAX_PENDING_BYTES, MAX_QUEUED, READ_TIMEOUT
from jacli.server.child import EX_SOFTWARE, Run, address_space, modules_imported_by, run_request, warm_up
from jacli.server.control import Limits, StartError, checked
from jacli.server.protocol import (
    HEADER_SIZE,
    PROTOCOL,
    ServerUnavailable,
    check_request,
    close_all,
    connect,
    decode,
    fingerprint,
    is_int,
    message_size,
    peer_allowed,
    peer_uid,
    recv_message,
    send_message,
    socket_path,
)
from jacli.server.replay import Replays


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
        return HEADER_SIZE - len(self.data) if self.size < 0 else self.size - len(self.data)


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

    def __init__(self, directory: str, limits: Limits, run: Run, warm: Sequence[Callable[[], None]] = ()) -> None:
        self.directory = directory
        self.run = run
        self.warm = warm  # the steps a spare runs, at idle priority, while it waits (see _start_spare)
        self.priority = os.sched_getscheduler(0), os.sched_getparam(0)  # a spare's, once it serves
        self.limits = checked(limits)
        self.path = socket_path(directory)
        self.fingerprint = fingerprint()  # before importing: describes the code we load
        self.started = time.time()
        self.last_active = time.monotonic()
        self.served = 0
        self.children: dict[int, socket.socket] = {}  # pid -> client connection
        self.incoming: dict[int, _Incoming] = {}  # fd -> request being read, oldest first
        self.queue: collections.deque[_Queued] = collections.deque()
        self.spare: tuple[int, socket.socket] | None = None  # pid, its control socket
        self.reports: dict[int, socket.socket] = {}  # pid -> the socket its cache report comes back on
        self.replays = Replays()  # what children built, replayed here when idle (see jacli.server.replay)
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
            probe = connect(self.directory, timeout=2.0)
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
            for fd, events in self.poller.poll(0 if self._may_replay() else self._poll_timeout(now)):
                handler = self.handlers.get(fd)
                if handler is not None:
                    handler(events)
            if self._may_replay() and not self.poller.poll(0):  # idle: nobody waits for an answer
                self._replay_one()

    def _may_replay(self) -> bool:
        return bool(self.replays.pending) and not (self.children or self.incoming or self.queue or self.stopping)

    def _replay_one(self) -> None:
        """Replay one reported build here (bounded); once none is left, fork a spare that has them all."""
        if self.replays.replay_next() and self.replays.threads_started:
            print(f"jacli server {os.getpid()}: a cache replay started a thread: stopping", file=sys.stderr, flush=True)
            self.stopping = True
            return
        self.base_memory = max(self.base_memory, address_space())  # a command's limit comes on top of the caches
        if not self.replays.pending and self.replays.changed:
            self.replays.changed = False
            self.retire_spare()
            self._start_spare()

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
            if incoming.size < 0 and len(incoming.data) == HEADER_SIZE:
                try:
                    incoming.size = message_size(bytes(incoming.data))
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
            message = decode(bytes(incoming.data))
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
        close_all(incoming.fds)
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
        if not is_int(protocol) or protocol != PROTOCOL:
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
            close_all(fds)
            conn.close()
        elif len(self.children) < MAX_CHILDREN:
            self._fork(conn, message, fds)
        elif len(self.queue) < MAX_QUEUED:
            self._enqueue(_Queued(conn, message, fds))
        else:
            self._reply_close(conn, fds, {"refused": f"the server is busy ({MAX_CHILDREN + MAX_QUEUED} requests)"})

    def _reply_close(self, conn: socket.socket, fds: list[int], reply: dict[str, Any]) -> None:
        close_all(fds)
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
        close_all(queued.fds)
        queued.conn.close()

    def _run_queued(self) -> None:
        while self.queue and len(self.children) < MAX_CHILDREN and not self.stopping:
            queued = self.queue.popleft()
            self._unwatch(queued.conn.fileno())
            if _peer_gone(queued.conn):
                close_all(queued.fds)
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
            "spare_pid": self.spare[0] if self.spare is not None else None,
            "queued": len(self.queue),
            **self.replays.counters(),
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
                os.sched_setscheduler(pid, *self.priority)  # still warming up: finish at normal priority
                ctrl.settimeout(READ_TIMEOUT)  # a spare that cannot take it (stopped, dying) is replaced
                send_message(ctrl, message, [conn.fileno(), *fds])
            except OSError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # it is reaped like any child
                pid = 0
                ctrl.close()
            else:
                self.reports[pid] = ctrl
        if not pid:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

            def body() -> int:
                ours.close()
                return self._child(conn, message, fds, theirs)

            pid = self._fork_child(body)
            theirs.close()
            self.reports[pid] = ours
        close_all(fds)
        self.children[pid] = conn
        self._watch(conn.fileno(), _CLIENT_GONE, lambda _events: self._client_gone(pid))
        self.served += 1
        if self.spare is None and not self.stopping:
            # The next request's spare, forked while this command runs: its warm-up has the time
            # until the next client starts (idle priority: it never slows this command down).
            self._start_spare()

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
        takes that off the next request's path. While it waits, the spare runs
        the injected warm-up steps (throwaway commands, as the server's preload
        did) at ``SCHED_IDLE`` priority, so it never takes a CPU from anything
        else: a forked child's first command copies every page it writes
        (reference counts), 10-15 ms that the warm-up pays ahead. A request that
        arrives during the warm-up puts the spare back to normal priority
        (:meth:`_fork`) and is served once the current step ends.
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

        def wait_for_request() -> int:
            ours.close()
            if not warm_up(self.warm, theirs, self.priority):
                return EX_SOFTWARE
            message, fds = recv_message(theirs, max_fds=8)
            if message is None or len(fds) != 5:  # retired by the parent
                return 0
            return self._child(socket.socket(fileno=fds[0]), message, fds[1:], theirs)

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
            status = EX_SOFTWARE  # the child failed before it could run the command
            try:
                self._become_child()
                status = body()
            finally:
                with contextlib.suppress(OSError, ValueError):  # a bug's traceback reaches the log (or the client)
                    sys.stderr.flush()
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
            report = self.reports.pop(pid, None)
            if report is not None:
                self.replays.take(report)
                report.close()
            code = os.waitstatus_to_exitcode(wait_status)
            reply: dict[str, Any] = {"exit": code} if code >= 0 else {"signal": -code}
            reply.update(limit=self.limits.time_limit, memory=self.limits.memory_limit)
            with contextlib.suppress(OSError):
                conn.setblocking(False)
                send_message(conn, reply)
            conn.close()
        self._run_queued()
        if reaped and self.spare is None and not self.stopping:  # the spare died, or none was forked
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
            close_all(incoming.fds)
            incoming.conn.close()
        for queued in self.queue:
            close_all(queued.fds)
            queued.conn.close()
        if self.spare is not None:
            self.spare[1].close()
        for report in self.reports.values():
            report.close()
        self.poller.close()
        os.close(self.wake_r)
        os.close(self.wake_w)

    def _child(self, conn: socket.socket, message: dict[str, Any], fds: list[int], report: socket.socket) -> int:
        """Run one command on the client's descriptors; its exit status (see :mod:`jacli.server.child`).

        What the command built slowly goes back to the parent on ``report`` (:mod:`jacli.server.replay`).
        """
        return run_request(conn, message, fds, self.run, self.limits, self.base_memory, report)


def serve(directory: str, limits: Limits, run: Run, preload: Callable[[], None], ready_fd: int | None = None,
          warm: Sequence[Callable[[], None]] = ()) -> None:  # fmt: skip
    """Run the server in this process until it is stopped or idle.

    ``preload`` imports what commands need (children fork from here warm); ``run``
    is what each child calls with its client's argv; ``warm`` is what each spare
    child runs, step by step, while it waits for a request (see :meth:`Server._start_spare`).
    """
    os.chdir("/")
    server = Server(directory, limits, run, warm)  # fingerprints the code before importing it
    preload()
    server.base_memory = address_space()
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


__all__ = ["Run", "Server", "address_space", "modules_imported_by", "serve"]
_address_space = address_space  # the name tests measure a child's memory with
