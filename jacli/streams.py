"""The standard streams of one ``jacli`` run: every byte delivered, or an error (stdlib only).

Python's own stdout can lose data without a word: ``TextIOWrapper`` ignores the
short count ``BufferedWriter.write`` returns when a pipe's reader leaves in the
middle of a large write (``jacli … | head -c 10`` then exits 0), and a full disk
or a closed descriptor surfaces as a traceback. During :func:`jacli.terminal.run`,
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from jacli.errors import OutputError
from jacli.limits import FLUSH_BYTES

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


_ASCII = "".join(map(chr, range(128)))
_ASCII_ENCODED = _ASCII.encode("ascii")


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
        # ASCII bytes go out as they are where the encoding spells ASCII so (not UTF-16) and a descriptor is there
        self._ascii_bytes = encode(_ASCII, self.encoding) == _ASCII_ENCODED and (raw is not None or buffer is not None)
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
        self._run_before_write()
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

    def write_ascii(self, data: bytes) -> None:
        """ASCII text as bytes (many numbers, :mod:`jacli.render.numbers`): no ``str`` between, no copy.

        Delivered after what is pending, with :meth:`write`'s guarantees; as text where
        the stream's encoding spells ASCII otherwise (UTF-16) or is a text stream.
        """
        if not self._ascii_bytes:
            self.write(data.decode("ascii"))
            return
        if not data:
            return
        self._run_before_write()
        with self._lock:
            if self.failure is not None:
                self._lose(self.failure)
                return
            self.flush()
            self._deliver(data)

    def _run_before_write(self) -> None:
        """The one-shot hook set for the first write (e.g. a note that must come before any output)."""
        if self.before_write is not None:
            hook, self.before_write = self.before_write, None
            hook()

    def flush(self) -> None:
        with self._lock:
            if self.failure is not None:  # reported by the write that found it; nothing is pending
                return
            data, self._pending = bytes(self._pending), bytearray()
            self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        """Bytes to the descriptor or buffer (the lock held); a failure is remembered and reported."""
        if self.failure is not None:
            return
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
