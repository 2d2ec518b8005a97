"""One ``jacli`` run: the funnel that decides its exit status, its streams, its diagnostics (stdlib only).

:func:`run` is the one funnel (httpie's ``raw_main``): the console script, ``python -m
jacli`` and the server's children all call it, with the program (the Click command
line) injected, so this module imports no CLI. Whatever the program raises is
mapped to an :class:`~jacli.errors.ExitCode` by :func:`status_of` and nowhere else.
An :class:`Environment` holds what one run sees: its stdin, stdout and stderr, its
environment variables, whether stdout is a terminal.

Python's own stdout can lose data without a word: ``TextIOWrapper`` ignores the
short count ``BufferedWriter.write`` returns when a pipe's reader leaves in the
middle of a large write (``jacli … | head -c 10`` then exits 0), and a full disk
or a closed descriptor surfaces as a traceback. During :func:`run`,
``sys.stdout`` and ``sys.stderr`` are :class:`Channel` s instead:

* stdout writes every byte (looping over short writes) or raises: a reader that
  left (EPIPE) is :class:`BrokenPipeError`, a quiet exit 141; anything else
  (ENOSPC, EIO, a closed stdout) is :class:`~jacli.errors.OutputError`
  (``jacli: error: cannot write output: …``, exit 2).
* stderr never raises (there is nowhere left to report to); a lost diagnostic is
  remembered so the run cannot end with status 0.
* Text the stream's encoding cannot hold (``PYTHONIOENCODING=ascii``) is written
  with ASCII stand-ins of the same width (``∂`` → ``d``), never a crash.
"""

from __future__ import annotations

import errno
import io
import os
import select
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TextIO

from jacli.errors import ExitCode, JacliError, OutputError, ServerKilled, UsageError

FLUSH_BYTES = 64 * 1024
"""Bytes collected before they are written (a pipe's usual capacity)."""

# One character for one, so columns laid out by Rich still line up once encoded.
ASCII_STAND_INS = str.maketrans(
    {
        "∂": "d",
        "∇": "D",
        "ᵀ": "'",
        "·": "*",
        "×": "x",
        "²": "2",
        "³": "3",
        "→": ">",
        "←": "<",
        "≤": "<",
        "≥": ">",
        "≠": "!",
        "≈": "~",
        "±": "~",
        "…": "~",
        "−": "-",
        "–": "-",
        "—": "-",
        "ε": "e",
        "Δ": "D",
        "│": "|",
        "─": "-",
        "━": "-",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "\u00a0": " ",
    }
)


def encode(text: str, encoding: str) -> bytes:
    """``text`` in ``encoding``; characters it lacks become an ASCII stand-in, else ``?``."""
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return text.translate(ASCII_STAND_INS).encode(encoding, errors="replace")
    except LookupError:  # an encoding Python does not know: ASCII is understood everywhere
        return text.translate(ASCII_STAND_INS).encode("ascii", errors="replace")


def describe(err: OSError) -> str:
    """``No space left on device`` for an OSError, without the ``[Errno 28]`` noise."""
    return err.strerror or (os.strerror(err.errno) if err.errno else str(err))


class Channel:
    """A text stream over one of the process's standard streams that never loses a write silently.

    ``stream`` is the text stream to deliver to (``None`` when the descriptor is
    closed). ``strict``: raise on failure (stdout) or remember it and carry on
    (stderr). Bytes go straight to the underlying file descriptor where there is
    one, so nothing undeliverable stays in a Python buffer after a failure.
    """

    def __init__(self, stream: TextIO | None, name: str, *, strict: bool) -> None:
        self.name = name
        self.strict = strict
        self.failure: OSError | None = None  # why this stream cannot take data, if it cannot
        self.lost = False  # some data did not reach the stream
        self.before_write: Callable[[], None] | None = None  # called once before the first write (progress bars)
        self._stream = stream
        self._pending = bytearray()
        self._lock = threading.RLock()  # a progress bar refreshes stderr from its own thread
        self.encoding: str = getattr(stream, "encoding", None) or "utf-8"
        self.errors = "strict"
        buffer = getattr(stream, "buffer", None)
        raw = getattr(buffer, "raw", None)
        # A real descriptor: write the bytes there, looping over short writes.
        self._raw = raw if isinstance(raw, io.FileIO) else None
        self._buffer = buffer
        self._interactive = self.isatty() or bool(getattr(stream, "line_buffering", False))
        if stream is None:
            self.failure = OSError(errno.EBADF, f"{name} is closed")
        else:
            self._drain_original()

    # -- the text-stream interface Click, Rich and print() use --------------------------

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # Click probes for binary streams with write(b"")
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not text:
            return 0
        if self.before_write is not None:
            hook, self.before_write = self.before_write, None
            hook()
        with self._lock:
            if self.failure is not None:
                self._lose(self.failure)
            elif self._raw is None and self._buffer is None:  # a plain text stream (StringIO)
                self._deliver_text(text)
            else:
                self._pending += encode(text, self.encoding)
                if self._interactive or len(self._pending) >= FLUSH_BYTES:
                    self.flush()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self.failure is not None:  # reported by the write that found it; nothing is pending
                return
            data, self._pending = bytes(self._pending), bytearray()
            try:
                if self._raw is not None:
                    _write_all(self._raw, data)
                elif self._buffer is not None:
                    _write_all(self._buffer, data)
                    self._buffer.flush()
                elif self._stream is not None:
                    self._stream.flush()
            except OSError as err:
                self.failure = err
                self._lose(err)

    def isatty(self) -> bool:
        try:
            return self._stream is not None and self._stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        if self._stream is None:
            raise io.UnsupportedOperation(f"{self.name} is closed")
        return self._stream.fileno()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return False

    @property
    def line_buffering(self) -> bool:
        return self._interactive

    # -- failures ---------------------------------------------------------------------------

    @property
    def broken_pipe(self) -> bool:
        return isinstance(self.failure, BrokenPipeError)

    def _lose(self, err: OSError) -> None:
        """Data that cannot be delivered: stdout raises (once; later writes are dropped), stderr stays quiet."""
        first, self.lost = not self.lost, True
        if not (self.strict and first):
            return
        if isinstance(err, BrokenPipeError):
            raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))
        raise OutputError(f"cannot write output: {describe(err)}")

    def _deliver_text(self, text: str) -> None:
        assert self._stream is not None
        try:
            self._stream.write(text)
        except OSError as err:
            self.failure = err
            self._lose(err)

    def _drain_original(self) -> None:
        """Deliver whatever was written to the original stream before this channel took over."""
        assert self._stream is not None
        try:
            self._stream.flush()
        except OSError as err:
            self.failure = err
        except ValueError:  # a closed file object
            self.failure = OSError(errno.EBADF, f"{self.name} is closed")


def _write_all(target: Any, data: bytes) -> None:
    """Write all of ``data``: a short write is continued, a failure raises (never a silent loss)."""
    view = memoryview(data)
    while view:
        written = target.write(view)
        if written is None:  # a non-blocking descriptor that is full: wait until it takes more
            _wait_writable(target)
            continue
        if written <= 0:
            raise OSError(errno.EIO, "the output took no data")
        view = view[written:]


def _wait_writable(target: Any) -> None:
    try:
        select.select([], [target.fileno()], [])
    except (AttributeError, io.UnsupportedOperation):
        raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN)) from None


@contextmanager
def guarded_streams(out: TextIO | None, err: TextIO | None) -> Iterator[tuple[Channel, Channel]]:
    """``sys.stdout``/``sys.stderr`` are :class:`Channel` s over ``out``/``err`` for the block, then put back.

    The block's final flush is the caller's (it decides what a failure means for the exit status).
    """
    saved = sys.stdout, sys.stderr
    out = out._stream if isinstance(out, Channel) else out
    err = err._stream if isinstance(err, Channel) else err
    stdout, stderr = Channel(out, "stdout", strict=True), Channel(err, "stderr", strict=False)
    sys.stdout, sys.stderr = stdout, stderr  # type: ignore[assignment]
    try:
        yield stdout, stderr
    finally:
        sys.stdout, sys.stderr = saved


def flush_std_streams() -> bool:
    """Flush the process's own stdout and stderr (after a run); False when a reader closed one of them early."""
    intact = True
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except OSError as err:
            intact = intact and not isinstance(err, BrokenPipeError)
            # Nothing more can reach this descriptor; point it at /dev/null so the
            # interpreter's own flush at exit does not complain a second time.
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, stream.fileno())
                os.close(devnull)
            except (OSError, ValueError):
                pass
        except ValueError:  # a detached stream
            pass
    return intact


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


MAX_COLUMNS = 10_000
"""Widest ``COLUMNS`` taken at its word; beyond it the variable is ignored."""
MAX_LINES = 100_000


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
STDIN_CHUNK = 1 << 16
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
