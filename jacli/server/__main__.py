"""``python -m jacli.server``: what ``jacli server start`` runs in the background.

The one place that joins the daemon to the CLI: it imports what commands need
(torch, SymPy, the API, the renderers, the Click tree) and hands the one funnel,
:func:`jacli.terminal.run` with the CLI's program, to
:func:`jacli.server.daemon.serve`, which imports no CLI module itself.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import sys
import warnings
from collections.abc import Sequence

from jacli.server import protocol
from jacli.server.child import Run
from jacli.server.control import DEFAULT_MEMORY_LIMIT, DEFAULT_TIME_LIMIT, Limits, StartError, checked
from jacli.server.daemon import serve
from jacli.server.protocol import ServerUnavailable

# Representative commands the server runs once before it forks any child: they import what commands
# import lazily and fill the caches a first call would (SymPy's, Rich's, torch's dispatch), so that
# every child starts where a second call would.
_WARM_COMMANDS = (
    ["jacobian", "sin(a)*b**2, exp(a-b)/(1+a^2)", "--at", "1,2"],
    ["jacobian", "2*x0+x1**2, x0**2+2*x1**3", "--at", "1,2", "--format", "json"],
    ["gradient", "2*dot(x,x) + sum(detach(x*x)*x)", "--at", "x=[0,1,2,3]", "--format", "json"],
    ["hessian", "x*y + log(y)", "--at", "1,2", "--format", "latex"],
    ["vjp", "A@B", "--at", "A=[[1,2],[3,4]], B=[[1,2,3],[4,5,6]]", "--v", "ones", "--format", "csv"],
    ["jvp", "where(x > 0, sqrt(x), 0), x", "--at", "-1", "--v", "1", "--exact"],
)

BIG_WARM_VARIABLES = 130
"""Variables of the big warm-up command: its sum has over 16 terms and its tape over 1000 steps."""


def big_command(n: int = BIG_WARM_VARIABLES) -> list[str]:
    """A big expression's Hessian, numbers only: the n-variable Rosenbrock function at 1.1, ....

    What a big first call uses and a tiny one does not, warmed: the keyed sort of long sums
    (:func:`jacli.language.fast.sort_terms`), the fused tape (:mod:`jacli.fused`, over
    :data:`~jacli.fused.FUSE_MIN_STEPS` steps), the sparse Hessian (:mod:`jacli.sparse`), a
    blocked ``eigvalsh`` and the JSON writer of many numbers. About 0.1 s at n = 130.
    """
    text = "+".join(f"100*(x{i + 1}-x{i}**2)**2+(1-x{i})**2" for i in range(n - 1))
    return ["hessian", text, "--at", ",".join(["1.1"] * n), "--format", "json", "--no-symbolic"]


# What each spare child runs (at idle priority) while it waits for a request: a JSON and a table
# command write the pages a command writes (reference counts), so the client's command finds them copied.
# The cheaper one first: a request that arrives meanwhile waits for the step under way to end.
_SPARE_COMMANDS = (
    ["gradient", "x**2*y", "--at", "3,4", "--format", "json"],
    ["jacobian", "sin(a)*b**2, exp(a-b)/(1+a^2)", "--at", "1,2"],
)


def _preload(run: Run) -> None:
    """Import everything a command needs and warm its caches; children fork from here.

    The warm-up runs real commands in this process, torch included, on tiny
    inputs: that starts no thread (checked: a thread busy at a fork could
    leave a lock held in every child), draws no random numbers, and leaves no
    state a command reads (the environment and settings are the client's in
    each child; warnings are ignored here, so none is marked as shown).
    """
    from jacli import collector, warm_cache  # noqa: PLC0415

    with collector.paused():  # no collections while torch and SymPy come in and the warm-up runs: one after
        _warm_up(run)
    warm_cache.forget()  # children inherit the counts: the warm-up's builds are no client's to report
    gc.collect()
    gc.freeze()  # keep the collector off the inherited objects: fewer copied pages per fork


def _warm_up(run: Run) -> None:
    """Import what commands import lazily and run the warm-up commands (see :func:`_preload`)."""
    import jacli.api
    import jacli.render.csv  # noqa: PLC0415
    import jacli.render.json  # noqa: PLC0415
    import jacli.render.latex  # noqa: PLC0415
    import jacli.render.table  # noqa: F401, PLC0415
    from jacli import cli, limits, typer_compat  # noqa: PLC0415

    typer_compat.memoize_signatures()
    cli.build_click_commands_once()
    before = _threads()
    _run_quietly(run, [*_WARM_COMMANDS, big_command()])
    limits.reset()
    if _threads() > before:
        raise StartError("the warm-up started a thread: forking children from here would not be safe")


def _threads() -> int:
    """Threads of this process, native ones included (importing torch starts one that idles)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def _run_quietly(run: Run, commands: Sequence[list[str]]) -> None:
    """Run ``commands`` with their output discarded and warnings ignored (none is marked as shown)."""
    saved = sys.stdin, sys.stdout, sys.stderr
    with open(os.devnull, "r+", encoding="utf-8") as null, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sys.stdin = sys.stdout = sys.stderr = null
        try:
            for argv in commands:
                run(argv)
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved


def _runner(memory_limit: int) -> Run:
    """The one funnel with the CLI's program, in the environment each child sets up for its client.

    Out of memory there names the server's limit, the one a user can raise. The CLI
    is imported when the first command runs (after :func:`_preload`, so for free).
    """
    hint: dict[str, str] = {}
    if memory_limit:
        why = f"the server allows {memory_limit} MiB per command (jacli server start --memory-limit MiB)"
        hint = {"out_of_memory": f"out of memory: {why}"}

    def run(argv: list[str]) -> int:
        from jacli import cli, terminal  # noqa: PLC0415

        return terminal.run(argv, terminal.Environment.from_process(**hint), program=cli.program)

    return run


def main(argv: list[str] | None = None) -> None:
    """Parse the daemon's options, then serve until stopped or idle."""
    parser = argparse.ArgumentParser(prog="python -m jacli.server")
    parser.add_argument("--dir", default=None)
    parser.add_argument("--ready-fd", type=int, default=None)
    parser.add_argument("--idle-timeout", default=None)
    parser.add_argument("--time-limit", type=int, default=DEFAULT_TIME_LIMIT)
    parser.add_argument("--memory-limit", type=int, default=DEFAULT_MEMORY_LIMIT)
    args = parser.parse_args(argv)
    directory = args.dir or protocol.server_dir()
    try:
        limits = checked(Limits(args.idle_timeout, args.time_limit, args.memory_limit))
        protocol.check_private_dir(directory, create=True)
        run = _runner(limits.memory_limit)
        warm = [functools.partial(_run_quietly, run, [argv]) for argv in _SPARE_COMMANDS]
        serve(directory, limits, run, lambda: _preload(run), args.ready_fd, warm)
    except (StartError, ServerUnavailable) as err:
        print(f"jacli server: error: {err}", file=sys.stderr)
        sys.exit(err.exit_code if isinstance(err, StartError) else 1)


if __name__ == "__main__":
    main()
