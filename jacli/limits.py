"""Every limit of jacli, named; the environment is read once (see ``settings``)."""

# Each module keeps its own name for a limit (``from jacli.limits import MAX_CHUNK_ROWS``) and reads it
# from its own globals, so ``monkeypatch.setattr(batch, "MAX_CHUNK_ROWS", …)`` still changes what it does.
# Standard library and jacli.errors only: the server package and the renderers import this module.

from __future__ import annotations

import collections
import functools
import math
import os
from collections.abc import Mapping

from jacli.errors import UsageError

# --- language ---

DEFAULT_MAX_LENGTH = 1_000_000
"""Characters in one expression (``JACLI_MAX_LENGTH``)."""
DEFAULT_MAX_ELEMENTS = 10_000
"""Elements of one array value, outputs, or inputs (``JACLI_MAX_ELEMENTS``)."""
MAX_NESTING = 100
"""Depth of nested brackets and calls in one expression."""
MAX_DIMENSIONS = 32
"""Dimensions of one array (NumPy iterates over at most 32)."""
MAX_NAME_LENGTH = 64
"""Characters in one variable or binding name (longer names are refused)."""
MAX_INT_BITS = 10_000
"""Size of an exact integer or rational the parser may build (~3000 digits)."""
MAX_DECIMAL_EXPONENT = 1000
"""``1e1000`` is accepted exactly; ``1e1001`` is refused."""
MAX_INTEGER_EXPONENT = 2**53
"""Largest integer exponent (``x**(10**9)`` is fine; ``x**(2**100)`` is refused)."""
MAX_CONSTANT_BITS = 100_000
"""Magnitude of any constant the parser builds: ``|c| < 2**100000`` (about 10**30103)."""
MAX_TREE_SIZE = 1_000_000
"""Symbolic terms (SymPy tree nodes) in one built value, e.g. ``A@A@A@A@A@A`` of 10×10 matrices."""

MAX_EXACT_MATRIX_SIDE = 12
"""det, inv and solve of a constant matrix are computed exactly (SymPy's matrices) up to this size, and only
for rational entries: a 100×100 matrix with pi on the diagonal took over 5 minutes; a bigger or irrational
one stays a node, computed by torch (and at a fixed precision by mpmath for --exact and check)."""

MAX_EXACT_IRRATIONAL_SIDE = 3
"""As :data:`MAX_EXACT_MATRIX_SIDE`, for a constant matrix with irrational entries (``pi``, ``sqrt(2)``)."""


RECURSION_LIMIT = 5_000
"""Python frames allowed while an expression is parsed, built and lowered. The walker takes
about ten frames per bracket and SymPy's own recursion one or two per tree level, so
:data:`MAX_NESTING` brackets need more than Python's default of 1000; far below the
~20,000 frames at which the C stack (8 MB) would overflow."""


RESULT_ENTRIES_PER_ELEMENT = 200
"""A Jacobian or Hessian may have this many entries per allowed element (``JACLI_MAX_ELEMENTS``)."""


EVALUATE_MAX_NODES = 24
"""SymPy simplifies a function as it is built (``Abs.eval`` runs ``signsimp`` and assumption
queries over the whole argument) at a cost that grows faster than the argument's size:
``abs(abs(…abs(x - 1)…) - 1)`` 99 deep took 29 s. A function, comparison or ``where`` of an
argument with more nodes than this is built unevaluated (same value, SymPy's form)."""


MAX_ITERATIONS = 10_000
"""A control-flow program's loops run at most this many iterations in all (``while`` and ``for``
together, at one point), then the command stops with exit 2; ``$JACLI_MAX_ITERATIONS`` changes it."""
MAX_ITERATIONS_ENV = "JACLI_MAX_ITERATIONS"
"""Environment variable: the loops' limit of one run (a whole number, read by ``Settings.max_iterations``)."""
MAX_ITERATIONS_CEILING = 10_000_000
"""The most ``$JACLI_MAX_ITERATIONS`` may ask for (the time budget bounds a long loop anyway)."""
FLOW_EXACT_MAX_NODES = 200
"""A control-flow program's exact value of a binding with more SymPy nodes than this (``x = sin(x)`` in a
loop nests) is carried on as a float of :data:`EXACT_DECISION_MAX_DIGITS` digits: bounded work per step."""
FLOW_POINTS_PER_CHUNK = 4096
"""Points of a file a control-flow program classifies by path, then evaluates (one batch per path), at a time."""

EXACT_DECISION_DIGITS = 30
"""A constant comparison or sign is decided by a value certified to this many digits (SymPy's
``evalf(strict=True)``); when that cannot tell it from zero, by simplifying it to 0."""
EXACT_DECISION_MAX_DIGITS = 300
"""Most working digits SymPy may use to certify that value."""
EXACT_DECISION_MAX_NODES = 60
"""Only constants up to this size are simplified to prove them zero (``simplify`` is unbounded)."""

# --- symbolic ---

MAX_EXACT_POWER = 10_000
"""Largest integer exponent evaluated exactly (``--exact``); larger powers are refused, not computed."""
MAX_EXACT_BITS = 20_000
"""Bits of the largest numerator or denominator ``--exact`` carries from one binding to the next."""
MAX_SYMBOLIC_ENTRIES = 1_000_000
"""Most entries of a symbolic derivative tensor (``derivative --order K``; a Taylor polynomial's terms together)."""
MAX_DERIVATIVE_WORK = 20_000
"""Predicted size (tree size × depth) of one derivative; SymPy cannot be stopped once it starts one."""
MAX_SYMBOLIC_SECONDS = 10.0
"""Seconds of one command's time budget for all its skippable work (the symbolic result, ``--exact``,
``check``'s exact column and non-smoothness tests); ``$JACLI_TIME_BUDGET`` overrides it."""
MAX_BUDGET_SECONDS = 86_400.0
"""Largest accepted ``$JACLI_TIME_BUDGET``, in seconds (a day): larger values overflow the interval timer."""
TIME_BUDGET_ENV = "JACLI_TIME_BUDGET"
"""Environment variable: seconds of the time budget (default :data:`MAX_SYMBOLIC_SECONDS`)."""
SYMENGINE_ENV = "JACLI_SYMENGINE"
"""Environment variable: ``off`` keeps derivatives in SymPy even where SymEngine is installed."""

# --- points ---

MAX_POINT_COLUMNS = 100_000
"""Columns a points file may have (``points.MAX_COLUMNS``): each is a Python object per row until parsed."""
MAX_LINE_BYTES = 16 * 1024 * 1024
"""Bytes of the longest line of a points file (a guard against binary data without newlines)."""
CHUNK_BYTES = 32 * 1024 * 1024
"""Bytes of text read ahead for one chunk of points, however many rows were asked for."""
MAX_CHUNK_LINES = 1 << 16
"""Lines in one chunk (as :data:`MAX_CHUNK_ROWS`): a line is a Python string until parsed."""
BLOCK_BYTES = 1024 * 1024
"""Bytes read from a points stream at a time: an endless line is refused after MAX_LINE_BYTES, not read whole."""

# --- batch ---

CHUNK_ELEMENTS = 1 << 22
"""Float intermediates per chunk of points (32 MiB of float64): sets the default chunk size."""
MAX_CHUNK_ROWS = 1 << 16
"""Points per chunk: beyond this, larger chunks no longer run faster."""
MAX_CHUNK_ELEMENTS = 4 * CHUNK_ELEMENTS
"""Float intermediates per chunk a ``--chunk-size`` may ask for (128 MiB of float64): more is clamped."""
FD_CHUNK_ELEMENTS = 1 << 20
"""Perturbed points (points × inputs) ``check`` evaluates in one batch of finite differences: 8 MiB of float64."""
CHECK_SPOOL_BYTES = 16 * 1024 * 1024
"""Bytes of parsed points ``check --points`` holds in memory while it reads the file through; then a temporary file."""
CHECK_POINTS_PER_READ = 4096
"""Rows of a points file ``check --points`` parses at a time, and reads back from the spool at a time."""
MAX_CHECK_POINTS = 100_000
"""Points ``check --points`` reads (it reads them all before the first verdict): each is checked exactly, at
about a hundred points a second, so more is a mistake such as endless input, which would otherwise fill the disk."""

# --- derivatives ---

MAX_DERIVATIVE_ORDER = 12
"""Highest ``--order`` of ``derivative`` and ``taylor``: each order nests one more reverse pass over the last
one's graph, so the cost grows geometrically (``taylor "exp(sin(x))"``: order 12 in 6 s, order 16 over 100 s)."""
MAX_SHAPE_TEXT = 10_000
"""Characters of ``--shape`` (a shape is a few characters per variable): longer text is refused unread."""

DENSE_FUNC_HESSIAN_INPUTS = 32
"""Inputs from which a dense Hessian uses torch.func (vectorised) instead of one autograd pass per input."""
SPARSE_MIN_INPUTS = 48
"""Inputs below which the dense Hessian is as fast as the sparse one: no sparsity pattern is worked out."""
DENSE_FRACTION = 0.2
"""Fraction of n² non-zeros above which a Hessian's sparsity pattern is treated as dense."""
CHAIN_CHUNK = 25
"""Binary operators per statement of ``--show-torch`` (``t1 + t2 + … + t999`` is cut into statements):
Python's own parser, compiler and ``ast.unparse`` recurse once per operator and fail near 1,000."""
MAX_GRAPH_NODES = 2_000
"""Nodes of the largest graph drawn: nobody reads a larger one, and each node costs an autograd call."""

# --- output ---

SYMBOLIC_DISPLAY_LIMIT = 2_000
"""Operations of the largest symbolic result a table shows; larger ones are elided (JSON keeps them)."""
TABLE_MAX_POINTS = 20
"""Points shown by ``--format table``; more are counted and noted, not shown."""
TABLE_MAX_COLUMNS = 12
"""Result entries shown per point by ``--format table`` (the rest are counted)."""
FORMAT_BYTES = 8 << 20
"""Bytes of text formatted at a time for many points (bounded memory for wide rows)."""
PARQUET_RESULT_ROWS = 4096
"""Results of one point each (``--at``, a Taylor polynomial) gathered into one Parquet row group."""

# --- terminal and streams ---

FLUSH_BYTES = 64 * 1024
"""Bytes of output collected before they are written (a pipe's usual capacity)."""
MAX_TERMINAL_COLUMNS = 10_000
"""Widest ``COLUMNS`` taken at its word (``terminal.MAX_COLUMNS``); beyond it the variable is ignored."""
MAX_TERMINAL_LINES = 100_000
"""Tallest ``LINES`` taken at its word (``terminal.MAX_LINES``); beyond it the variable is ignored."""
STDIN_CHUNK = 1 << 16
"""Bytes read from stdin at a time, so endless input (``< /dev/zero``) stops at the length limit."""

# --- pictures (--plot) ---

MAX_PLOT_PANELS = 12
"""Heatmaps one picture draws, one per output of a vector Hessian; more outputs are refused."""
GRAPHVIZ_TIMEOUT = 60.0
"""Seconds Graphviz's ``dot`` may take to lay out a computation graph (``graph --plot``)."""

# --- server ---

DEFAULT_IDLE_TIMEOUT = 15 * 60
"""Seconds without a request before the server exits (``--idle-timeout``, ``$JACLI_SERVER_IDLE_TIMEOUT``)."""
DEFAULT_TIME_LIMIT = 300
"""Seconds one command may run in the server (``--time-limit``)."""
DEFAULT_MEMORY_LIMIT = 4096
"""MiB of address space one command may use in the server, beyond the server's own (``--memory-limit``)."""
MAX_IDLE_TIMEOUT = 7 * 24 * 3600
"""Largest idle timeout, in seconds (a week; 0 never idles out): the event loop cannot wait much longer."""
MAX_TIME_LIMIT = 7 * 24 * 3600
"""Largest ``--time-limit``, in seconds per command (a week; 0: none)."""
MAX_MEMORY_LIMIT = 1 << 30
"""Largest ``--memory-limit``, in MiB per command (a PiB; 0: none)."""
READY_TIMEOUT = 120.0
"""Seconds ``server start`` waits for a new server to import everything and accept requests."""
STOP_TIMEOUT = 10.0
"""Seconds ``server stop`` waits for the server to exit."""
START_TIMEOUT = 10.0
"""Seconds the client waits for the server to start its command (a stopped server must not hang it)."""
QUEUE_TIMEOUT = 120.0
"""Seconds a request the server has queued (all its slots busy) may wait to start."""
MAX_CHILDREN = 32
"""Commands the server runs at once; more wait in its queue."""
MAX_QUEUED = 64
"""Requests waiting for a free slot; more are answered "run it in-process"."""
MAX_PENDING = 64
"""Connections whose request is still arriving; more are closed."""
MAX_PENDING_BYTES = 64 * 1024 * 1024
"""Bytes announced by all the requests being read, together (a bound on the server's memory)."""
MAX_FDS = 8
"""File descriptors one request may carry (a run request carries 4)."""
READ_TIMEOUT = 5.0
"""Seconds a client may take to send its whole request."""
GO_TIMEOUT = 30.0
"""Seconds a started child waits for the client's go-ahead."""
SERVER_IDLE_TIMEOUT_ENV = "JACLI_SERVER_IDLE_TIMEOUT"
"""Environment variable: the server's idle timeout (as ``server.protocol.ENV_IDLE``, which stays stdlib-only)."""

# --- the environment, read once ---


_SETTINGS_FIELDS = ("time_budget_text", "symengine_text", "server_idle_timeout_text", "max_iterations_text")
"""The fields of :class:`Settings`: a named tuple, not a dataclass, since the warm server's client imports
this module, and dataclasses (with inspect, ast, dis, tokenize) was a third of what that client imported."""


class Settings(collections.namedtuple("Settings", _SETTINGS_FIELDS, defaults=(None,) * len(_SETTINGS_FIELDS))):
    """The environment variables jacli reads, as one command saw them at its start (immutable).

    The text is kept as found and checked where it is used, so a bad value fails
    only the commands that need it (a bad ``$JACLI_TIME_BUDGET`` does not stop
    ``jacli server start``), with the same message every time.
    """

    __slots__ = ()
    time_budget_text: str | None
    symengine_text: str | None
    server_idle_timeout_text: str | None
    max_iterations_text: str | None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """One read of ``environ`` (usually ``os.environ``)."""
        return cls(
            environ.get(TIME_BUDGET_ENV),
            environ.get(SYMENGINE_ENV),
            environ.get(SERVER_IDLE_TIMEOUT_ENV),
            environ.get(MAX_ITERATIONS_ENV),
        )

    @property
    def max_iterations(self) -> int:
        """``$JACLI_MAX_ITERATIONS``, or :data:`MAX_ITERATIONS` when unset or blank; :class:`UsageError` (exit 2)
        unless it is an integer in [1, :data:`MAX_ITERATIONS_CEILING`]."""
        raw = self.max_iterations_text
        if raw is None or not raw.strip():
            return MAX_ITERATIONS
        text = raw.strip().replace("_", "")
        if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ITERATIONS_CEILING):
            raise UsageError(
                f"{MAX_ITERATIONS_ENV} must be a whole number of iterations in [1, {MAX_ITERATIONS_CEILING:,}], "
                f"not {raw[:40]!r}"
            )
        return int(text)

    @property
    def time_budget(self) -> float | None:
        """Seconds of ``$JACLI_TIME_BUDGET``, or None when unset or blank; :class:`UsageError` (exit 2)
        unless it is a number in (0, :data:`MAX_BUDGET_SECONDS`]."""
        raw = self.time_budget_text
        if raw is None or not raw.strip():
            return None
        try:
            seconds = float(raw)
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and 0 < seconds <= MAX_BUDGET_SECONDS):
            raise UsageError(
                f"{TIME_BUDGET_ENV} must be a number of seconds in (0, {MAX_BUDGET_SECONDS:g}], not {raw!r}"
            )
        return seconds

    @property
    def symengine(self) -> bool:
        """Whether SymEngine may be used where it is installed: anything but ``$JACLI_SYMENGINE=off``."""
        return self.symengine_text != "off"

    @property
    def server_idle_timeout(self) -> str | None:
        """``$JACLI_SERVER_IDLE_TIMEOUT`` stripped, or None when unset or blank (``server.control`` checks it)."""
        text = (self.server_idle_timeout_text or "").strip()
        return text or None


@functools.cache
def settings() -> Settings:
    """This process's :class:`Settings`, read from ``os.environ`` at the first call.

    A process that replaces its environment between commands (the server's child,
    a test) calls :func:`reset` after doing so.
    """
    return Settings.from_environ(os.environ)


def reset() -> None:
    """Forget the snapshot: the next :func:`settings` reads ``os.environ`` again."""
    settings.cache_clear()


MATRIX_FORM_MAX_NODES = 400
"""The matrix form (``symbolic_matrix``) is tried for expressions of at most this many syntax nodes;
a larger one is left out with a note (the elementwise result is complete)."""

WARM_CACHE_MIN_SECONDS = 0.01
"""A cached build (parse, SymPy program, torch program) of this much CPU time or more is worth a replay.

CPU time, not wall time, so that load does not decide it: the seed's builds take 0.2 ms each, the
n = 100 Rosenbrock program 17 ms, n = 300 about 70 ms (and 30 ms for its torch program)."""

WARM_CACHE_MAX_KEY_BYTES = 4 * 1024 * 1024
"""Longest key (its arguments as JSON) a server child reports for replay; a longer one is never replayed."""

WARM_CACHE_MAX_REPORT_BYTES = 128 * 1024
"""Most bytes (compressed) of one child's cache report: it must fit the control socket's buffer unread."""

WARM_CACHE_MAX_REPORT_TEXT = 16 * 1024 * 1024
"""Most bytes one cache report may decompress to (a larger one is dropped whole)."""

WARM_CACHE_MAX_ENTRIES = 16
"""Most replayed keys the warm server keeps (an expression has up to three: parse, program, torch program);
the least recently replayed is evicted first."""

WARM_CACHE_MAX_MEMORY = 1024
"""MiB of address space the replayed entries may add to the warm server, all together (oldest evicted first)."""

WARM_CACHE_REPLAY_SECONDS = 5.0
"""Longest one replay may run in the server (a request that arrives meanwhile waits at most this); longer: dropped."""

WARM_CACHE_REPLAY_MEMORY = 2048
"""MiB of address space one replay may add to the server; more: it fails with MemoryError and is dropped."""

WARM_CACHE_MAX_PENDING = 8
"""Most reported keys waiting for replay; older ones are dropped first (one command with the symbolic
form reports up to four: parse, SymPy program, torch program, symbolic form)."""
