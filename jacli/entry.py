"""The ``jacli`` program: the console script and ``python -m jacli`` (stdlib at import).

:func:`main` forwards the command to a warm server when one is configured
(:mod:`jacli.server.client`), else runs it in-process through the one funnel,
:func:`jacli.terminal.run`, with the CLI's program injected; how a forwarded
command ended (the server lost or killed it) is mapped by the same funnel's
:func:`jacli.terminal.status_of`. It is the only place that ends the process
with ``os._exit`` (the server's forked children aside, which must never return
into the server's loop).

This module is on the fast path of every command and every Tab press: it
imports the standard library only, and the CLI once it is needed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

TYPE_CHECKING = False  # typing is not imported at run time: this module is on the warm client's path
if TYPE_CHECKING:
    from typing import NoReturn


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

from jacli.errors import ExitCode, ServerKilled, ServerLost  # noqa: E402 - after the Ctrl-C guard (stdlib only)


def _interrupted() -> NoReturn:
    """Ctrl-C before the command ran (imports, connecting): exit 130 without a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the exit
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(ExitCode.INTERRUPTED)  # a half-imported torch need not be torn down


def _status(argv: list[str]) -> tuple[int, bool]:
    """The exit status of ``jacli ARGV``, and whether the server ran it (else this process did).

    Why the server was not used (one ``jacli: note:`` line each) comes after
    everything the command printed, so that its own first line stays first.
    """
    from jacli.server import client  # noqa: PLC0415 - after the Ctrl-C guard is in place

    notes: list[str] = []
    try:
        status = client.try_server(argv, notes)
    except (ServerLost, ServerKilled) as err:  # it ran there, and ended badly
        from jacli import terminal  # noqa: PLC0415

        status = terminal.status_of(err)
    forwarded = status is not None
    if status is None:
        from jacli import cli, collector, terminal  # noqa: PLC0415 - Typer and Click: only when running here

        collector.for_one_command()
        status = terminal.run(argv, terminal.Environment.from_process(), program=cli.program)
    for note in notes:
        client.say(note)
    if forwarded:  # main() ends the process without a teardown: nothing may stay buffered
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
    return status, forwarded


def main() -> NoReturn:
    """Console-script entry point: forward to the server, else run in-process; then exit.

    Tearing down an interpreter that imported torch costs about half a second
    (module finalisers, not user work), and even the warm client's teardown is
    a few milliseconds of a 60 ms call. Once stdout and stderr are flushed
    nothing a user depends on is left, so the process then ends with ``os._exit``.
    """
    try:
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:  # see _quiet_start_up
            signal.signal(signal.SIGINT, signal.default_int_handler)
        status, forwarded = _status(sys.argv[1:])
    except KeyboardInterrupt:
        _interrupted()
    if forwarded or "torch" in sys.modules:
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    main()
