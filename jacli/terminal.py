"""One ``jacli`` run: the funnel that decides its exit status, its environment, its diagnostics (stdlib only).

:func:`run` is the one funnel (httpie's ``raw_main``): the console script, ``python -m
jacli`` and the server's children all call it, with the program (the Click command
line) injected, so this module imports no CLI. Whatever the program raises is
mapped to an :class:`~jacli.errors.ExitCode` by :func:`status_of` and nowhere else.
An :class:`Environment` holds what one run sees: its stdin, stdout and stderr, its
environment variables, whether stdout is a terminal. During a run stdout and
stderr are :class:`~jacli.streams.Channel` s: a failed write is never a success.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TextIO

from jacli.errors import ExitCode, JacliError, ServerKilled, UsageError
from jacli.limits import MAX_TERMINAL_COLUMNS as MAX_COLUMNS
from jacli.limits import MAX_TERMINAL_LINES as MAX_LINES
from jacli.limits import STDIN_CHUNK
from jacli.streams import Channel, describe, encode, flush_std_streams, guarded_streams

__all__ = ["Channel", "Environment", "describe", "encode", "error", "nonfinite", "note", "run", "status_of", "warn"]


def nonsense_terminal_size(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``COLUMNS``/``LINES`` values that make no sense (``0``, ``-5``, ``abc``, ``10**9``).

    Rich takes ``COLUMNS=0`` literally and prints nothing; treated as unset, the
    terminal's width (or 80) applies.
    """
    nonsense: dict[str, str] = {}
    for name, most in (("COLUMNS", MAX_COLUMNS), ("LINES", MAX_LINES)):
        value = environ.get(name)
        if value is None:
            continue
        text = value.strip()
        if not (text.isdigit() and text.isascii()) or not 1 <= int(text) <= most:
            nonsense[name] = value
    return nonsense


@contextmanager
def sane_environment(environ: MutableMapping[str, str] | None = None) -> Iterator[None]:
    """Unset nonsense ``COLUMNS``/``LINES`` for the block (see :func:`nonsense_terminal_size`)."""
    environ = os.environ if environ is None else environ
    nonsense = nonsense_terminal_size(environ)
    for name in nonsense:
        del environ[name]
    try:
        yield
    finally:
        for name, value in nonsense.items():
            if name not in environ:
                environ[name] = value


# ---------------------------------------------------------------------------
# The environment of one run.
# ---------------------------------------------------------------------------

OUT_OF_MEMORY = "out of memory: the input is too large (see 'Limits and safety' in the README)"


@dataclass
class Environment:
    """What one run sees (httpie's ``Environment``): its streams, its variables, whether stdout is a terminal.

    :meth:`from_process` describes this process; the server's child describes its
    client's streams the same way once it has put them on descriptors 0, 1 and 2.
    ``out_of_memory`` is the message for a refused allocation (the server names its limit).
    """

    stdin: TextIO | None
    stdout: TextIO | None
    stderr: TextIO | None
    environ: MutableMapping[str, str] = field(default_factory=lambda: os.environ)
    stdout_isatty: bool = False
    out_of_memory: str = OUT_OF_MEMORY

    @classmethod
    def from_process(cls, **overrides: Any) -> Environment:
        """This process's standard streams and ``os.environ`` (the live mapping, not a copy)."""
        try:
            isatty = sys.stdout is not None and sys.stdout.isatty()
        except (AttributeError, ValueError):  # stdout closed or replaced by an object without a terminal
            isatty = False
        fields: dict[str, Any] = {"stdin": sys.stdin, "stdout": sys.stdout, "stderr": sys.stderr}
        return cls(**{**fields, "environ": os.environ, "stdout_isatty": isatty, **overrides})

    @property
    def colors(self) -> bool:
        """Colour (and Rich's help layout) by default: on a terminal without ``NO_COLOR`` or ``TERM=dumb``."""
        if self.environ.get("NO_COLOR") or self.environ.get("TERM") == "dumb":
            return False
        return self.stdout_isatty


_current: list[Environment] = []  # the environment of the run in progress (innermost last)


def current() -> Environment:
    """The environment of the run in progress; outside any run, this process's."""
    return _current[-1] if _current else Environment.from_process()


def color_wanted(flag: bool | None = None) -> bool:
    """Colour when ``flag`` forces it on or off (``--color``/``--no-color``), else :attr:`Environment.colors`."""
    return current().colors if flag is None else flag


# ---------------------------------------------------------------------------
# Diagnostics: every line jacli writes to stderr goes through here.
# ---------------------------------------------------------------------------


def _say(line: str) -> None:
    """One line on stderr; a stderr that cannot take it (``2>/dev/full`` outside a run) changes nothing else."""
    with suppress(OSError, ValueError, AttributeError):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def error(message: str, extra: Sequence[str] = ()) -> None:
    """``jacli: error: MESSAGE``, then ``extra`` lines (a caret under an expression, a help text)."""
    _say(f"jacli: error: {message}")
    for line in extra:
        _say(line)


def warn(message: str) -> None:
    """``jacli: warning: MESSAGE``: the result stands, but look at it."""
    _say(f"jacli: warning: {message}")


def note(message: str) -> None:
    """``jacli: note: MESSAGE``: how the result was reached (a skipped symbolic form, say)."""
    _say(f"jacli: note: {message}")


def nonfinite(where: Mapping[str, Any] | str | None, *, count: int | None = None, total: int | None = None) -> None:
    """The one warning for nan/inf among the results: at one point, or at ``count`` of ``total`` points.

    ``where`` is the point (``{"x": -1.0}`` reads ``x=-1.0``), or with ``count``
    the first point that had them, already written out.
    """
    at = ", ".join(f"{k}={v}" for k, v in where.items()) if isinstance(where, Mapping) else where
    if count is None:
        warn(f"non-finite values (nan/inf) at {at}: the point may be outside the function's domain")
    else:
        warn(
            f"non-finite values (nan/inf) at {count} of {total} points, first at "
            f"{at}: points may be outside the function's domain"
        )


# ---------------------------------------------------------------------------
# Reading the expression from stdin.
# ---------------------------------------------------------------------------

STDIN_CLOSED = "stdin is closed: give the expression as an argument, or redirect it: jacli gradient - < FILE"
"""Bytes read from stdin at a time, so endless input (``< /dev/zero``) stops at the length limit."""


def read_expression(expr: str) -> str:
    """``-`` reads the expression from stdin (trailing newlines dropped, as ``$(…)`` does in a shell).

    Reading stops just past the longest expression the parser accepts, so
    ``jacli gradient - < /dev/zero`` is refused within a few MB, not after the memory runs out.
    """
    if expr != "-":
        return expr
    from jacli.language import max_length  # noqa: PLC0415 - SymPy: only once a command computes

    limit = max_length()
    most = 4 * limit + 2  # UTF-8 spends at most 4 bytes on a character; a final CR LF is dropped
    data = read_stdin(most + 1)
    if len(data) > most:
        raise UsageError(
            f"the expression on stdin is more than {limit:,} characters long; the limit is {limit:,} "
            "(set JACLI_MAX_LENGTH to raise it)"
        )
    try:
        return data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as err:
        raise UsageError(f"stdin is not UTF-8 text (byte {err.start + 1})") from None


def read_stdin(most: int) -> bytes:
    """Up to ``most`` bytes of stdin, a chunk at a time; a closed or unreadable stdin is a usage error."""
    stream = sys.stdin
    if stream is None:
        raise UsageError(STDIN_CLOSED)
    source = getattr(stream, "buffer", None)
    chunks: list[bytes] = []
    size = 0
    try:
        while size < most:
            chunk = source.read(min(STDIN_CHUNK, most - size)) if source is not None else stream.read(STDIN_CHUNK)
            if not chunk:
                break
            if isinstance(chunk, str):  # a text-only stdin (StringIO in an embedding program)
                chunk = chunk.encode("utf-8")
            chunks.append(chunk)
            size += len(chunk)
    except OSError as err:
        raise UsageError(f"cannot read stdin: {describe(err)}") from None
    except ValueError:  # a closed file object
        raise UsageError(STDIN_CLOSED) from None
    return b"".join(chunks)


# ---------------------------------------------------------------------------
# The funnel.
# ---------------------------------------------------------------------------

Program = Callable[[list[str]], int | None]
"""``jacli ARGS`` itself (the Click command line): its status (``None``: 0), or it raises."""


class OutputClosed(Exception):
    """The reader of stdout left (EPIPE) where the library in between would misreport it.

    Click turns a :class:`BrokenPipeError` into ``sys.exit(1)``; re-raised as this,
    it reaches :func:`status_of` instead (see :mod:`jacli.typer_compat`).
    """


def out_of_memory(err: BaseException) -> bool:
    """A refused allocation: MemoryError (C++ ``std::bad_alloc`` too), or torch's allocator saying so."""
    if isinstance(err, MemoryError):
        return True
    text = str(err)
    return isinstance(err, RuntimeError) and any(
        sign in text for sign in ("can't allocate memory", "std::bad_alloc", "out of memory")
    )


def _mapped() -> tuple[type[BaseException], ...]:
    """The exceptions :func:`status_of` looks at (Click's only once Click is loaded: nothing else raises them)."""
    ours = (JacliError, OutputClosed, BrokenPipeError, RecursionError, MemoryError, RuntimeError)
    click = sys.modules.get("click")
    theirs = (click.ClickException, click.Abort) if click is not None else ()
    return (*ours, *theirs, SystemExit, KeyboardInterrupt)


def status_of(err: BaseException, env: Environment | None = None) -> int:
    """THE table from what a run raised to its exit status, after the one line that explains it.

    What is not in the table is a bug and is raised again (a traceback, status 1).
    """
    click = sys.modules.get("click")
    if isinstance(err, BrokenPipeError | OutputClosed):  # the reader left: nothing to say, nobody to say it to
        return ExitCode.BROKEN_PIPE
    if isinstance(err, ServerKilled) and not str(err):  # Ctrl-C, forwarded to the command
        return err.exit_code
    if isinstance(err, JacliError):
        error(str(err), err.detail_lines())
        return err.exit_code
    if isinstance(err, RecursionError):
        error("the expression is nested too deeply to differentiate")
        return ExitCode.USAGE
    if out_of_memory(err):  # a last line of defence: jacli's input limits come first
        error((env or current()).out_of_memory)
        return ExitCode.USAGE
    if isinstance(err, SystemExit):  # completion requests end in sys.exit
        return err.code if isinstance(err.code, int) else int(err.code is not None)
    if isinstance(err, KeyboardInterrupt) or (click is not None and isinstance(err, click.Abort)):
        return ExitCode.INTERRUPTED
    if click is not None and isinstance(err, click.UsageError):
        hint = f"\nTry '{err.ctx.command_path} --help' for help." if err.ctx is not None else ""
        error(err.format_message() + hint)
        return ExitCode.USAGE
    if click is not None and isinstance(err, click.ClickException):
        error(err.format_message())
        return ExitCode.USAGE
    raise err


def run(argv: Sequence[str], env: Environment | None = None, *, program: Program) -> int:
    """Run ``program(argv)`` in ``env`` (this process's by default) and return the exit status.

    Never raises for what a user can cause: usage errors (2), ``check`` failing
    (1), Ctrl-C (130), out of memory (2), a failed write. A reader that left
    (EPIPE) ends quietly with 141; a stdout that cannot take the output (full
    disk, closed) is ``jacli: error:`` and 2; a diagnostic lost on stderr turns
    a 0 into 2 (141 for a closed pipe).
    """
    env = Environment.from_process() if env is None else env
    if sys.warnoptions:
        # PYTHONWARNINGS / -W are for Python developers; jacli's stderr holds only its own lines,
        # and PYTHONWARNINGS=error must not turn a library's warning into a traceback.
        warnings.simplefilter("ignore")
    try:
        with _active(env) as (stdout, stderr):
            try:
                status = program(list(argv))
                status = status if isinstance(status, int) else ExitCode.OK  # a command's return value
            except _mapped() as err:
                status = status_of(err, env)
            status = _settle(status, stdout, stderr)
        if not flush_std_streams():
            status = ExitCode.BROKEN_PIPE
    except KeyboardInterrupt:  # Ctrl-C outside the program (while flushing, say)
        status = ExitCode.INTERRUPTED
    except MemoryError:  # even reporting the refused allocation ran out of memory
        with suppress(OSError, ValueError, AttributeError, MemoryError):
            os.write(2, f"jacli: error: {env.out_of_memory}\n".encode())
        status = ExitCode.USAGE
    return status


@contextmanager
def _active(env: Environment) -> Iterator[tuple[Channel, Channel]]:
    """``env`` is the current environment for the block: its stdin and guarded stdout/stderr on ``sys``."""
    saved_stdin = sys.stdin
    _current.append(env)
    try:
        with sane_environment(env.environ), guarded_streams(env.stdout, env.stderr) as streams:
            sys.stdin = env.stdin  # type: ignore[assignment]
            yield streams
    finally:
        sys.stdin = saved_stdin
        _current.pop()


def _settle(status: int, stdout: Channel, stderr: Channel) -> int:
    """The exit status once the output is out: a failed write never ends as a success."""
    try:
        stdout.flush()
    except BrokenPipeError:
        pass  # stdout.broken_pipe says so below
    except JacliError as err:
        error(str(err))
        status = status or err.exit_code
    stderr.flush()
    if stdout.lost and stdout.broken_pipe:
        return ExitCode.BROKEN_PIPE
    if stdout.lost and status == ExitCode.OK:
        return ExitCode.USAGE
    if stderr.lost and status == ExitCode.OK:
        return ExitCode.BROKEN_PIPE if stderr.broken_pipe else ExitCode.USAGE
    return status
