"""Every limit of jacli, named; the environment is read once (see ``settings``)."""

# --- language ---

DEFAULT_MAX_LENGTH = 1_000_000
"""Characters in one expression (``JACLI_MAX_LENGTH``)."""
DEFAULT_MAX_ELEMENTS = 10_000
"""Elements of one array value, outputs, or inputs (``JACLI_MAX_ELEMENTS``)."""
MAX_NESTING = 100
"""Bracket nesting depth."""
MAX_DIMENSIONS = 32
"""Dimensions of one array (NumPy iterates over at most 32)."""
MAX_NAME_LENGTH = 64
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


EXACT_DECISION_DIGITS = 30
"""A constant comparison or sign is decided by a value certified to this many digits (SymPy's
``evalf(strict=True)``); when that cannot tell it from zero, by simplifying it to 0."""
EXACT_DECISION_MAX_DIGITS = 300
"""Most working digits SymPy may use to certify that value."""
EXACT_DECISION_MAX_NODES = 60
"""Only constants up to this size are simplified to prove them zero (``simplify`` is unbounded)."""
