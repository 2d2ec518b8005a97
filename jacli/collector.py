"""No cyclic garbage collection while a big expression is parsed, built and lowered (issue 16).

Building the n = 1000 Rosenbrock program makes some 100,000 SymPy and ``ast`` objects. Each
700 new container objects start a collection, and with torch and SymPy loaded every third
of those walks a heap of millions of objects: a quarter of the build's time, for almost no
garbage (the objects made are trees, freed by reference counting). While :func:`paused`
is entered, the collector does not run; the cyclic garbage made meanwhile (little) is
collected by the first collection after it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """The block runs with the cyclic garbage collector off (as it was, when already off or nested)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
