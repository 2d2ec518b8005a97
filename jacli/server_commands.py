"""``jacli server start|stop|status``: the Typer declarations of the warm server's control (jacli/server/).

Stdlib and Typer only at import, like :mod:`jacli.cli`: the control module is imported when a command runs.
"""

from __future__ import annotations

from typing import Annotated

from jacli.typer_compat import typer

server_app = typer.Typer(
    help="A warm background server, so one-shot commands answer in milliseconds (see JACLI_SERVER).",
    epilog="Example: jacli server start, then jacli server status; jacli server stop when done",
    no_args_is_help=True,
)


@server_app.command("start", epilog="Example: jacli server start --idle-timeout 3600")
def server_start(
    idle_timeout: Annotated[
        float | None,
        typer.Option(
            "--idle-timeout",
            min=0,
            help="Exit after this many idle seconds; 0: never. [default: $JACLI_SERVER_IDLE_TIMEOUT or 900]",
        ),
    ] = None,
    time_limit: Annotated[
        int, typer.Option("--time-limit", min=0, help="Seconds one command may run; 0: no limit.")
    ] = 300,
    memory_limit: Annotated[
        int, typer.Option("--memory-limit", min=0, help="MiB of memory one command may use; 0: no limit.")
    ] = 4096,
) -> None:
    """Start this user's server in the background; returns once it is ready."""
    from jacli.server import control  # noqa: PLC0415

    idle = idle_timeout  # None: $JACLI_SERVER_IDLE_TIMEOUT or 900; control.start checks it (exit 2 if bad)
    info = control.start(control.Limits(idle, time_limit, memory_limit))
    typer.echo(control.describe(info))


@server_app.command("stop", epilog="Example: jacli server stop")
def server_stop() -> None:
    """Stop the server (it finishes the commands it is running first)."""
    from jacli.server import control  # noqa: PLC0415

    pid = control.stop()
    typer.echo("jacli server: not running" if pid is None else f"jacli server {pid} stopped")


@server_app.command("status", epilog="Example: jacli server status")
def server_status() -> None:
    """Pid, uptime, requests served, idle timeout and version; exit status 1 when not running."""
    from jacli.server import control  # noqa: PLC0415

    info = control.status()
    if info is None:
        typer.echo("jacli server: not running")
        raise typer.Exit(1)
    typer.echo(control.describe(info))
