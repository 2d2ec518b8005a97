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
import sys
from collections.abc import Iterator
from types import ModuleType


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


def imported(name: str) -> ModuleType:
    """Module ``name``, imported the first time with the collector paused.

    Importing :mod:`jacli.api` imports torch and SymPy: millions of objects and no garbage, and
    the collections that their allocations start took a tenth of a cold command's CPU time.
    """
    module = sys.modules.get(name)
    if module is None:
        with paused():
            __import__(name)  # the import statement's own path: `python -X importtime` logs it
            module = sys.modules[name]
    return module


ONE_COMMAND_THRESHOLDS = (20_000, 10, 10)
"""The collector's thresholds in a process that runs one command (a one-shot ``jacli``, a server child).

Python's default (700 new objects start a collection) made 27 collections, 60-80 ms, of the
n = 1000 Rosenbrock Hessian's first call in a server child: its evaluation makes tensors and
tapes by the thousand, trees freed by reference counting. With 20,000 it makes 3 (about 20 ms),
and the collector still runs, so cyclic garbage of a long ``--points`` run stays bounded.
"""


def for_one_command() -> None:
    """Collect less often: this process runs one command, then ends (not for the library's users)."""
    gc.set_threshold(*ONE_COMMAND_THRESHOLDS)
