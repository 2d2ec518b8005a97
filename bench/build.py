"""Building and differentiating: the n-variable Rosenbrock function in one interpreter (issue 16).

For each n (``--sizes``, default 100, 300, 1000, 3000), in one warm interpreter (SymPy and
torch imported):

- ``build``: parsing and building the SymPy program (``language.parse_expression`` and
  ``build_program``), linear in n;
- ``grad`` / ``hess``: the symbolic gradient / Hessian (``symbolic.Differentiator``) and
  its text (``symbolic.to_text``);
- ``hessian cmd``: the whole ``jacli hessian ... --format json`` command with the symbolic
  form, in process (the warm server's child does the same), output discarded;
- ``sympy grad`` / ``sympy hess``: plain SymPy doing the same alone (``parse_expr``, then
  ``diff`` per variable / ``sympy.hessian``), stopped after ``--timeout`` seconds (``>T``).

Times are CPU seconds of the process (see :func:`timed`); the limit is wall time.

Each size uses fresh variable names, so SymPy's cache never helps a later size. Ratios:
SymPy / jacli (above 1: jacli is faster). The load average is printed with the table.

Usage: ``python bench/build.py [--sizes 100,300,1000,3000] [--timeout 30]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("JACLI_SERVER", "off")
os.environ.setdefault("JACLI_MAX_ELEMENTS", "10000000")
os.environ.setdefault("JACLI_TIME_BUDGET", "600")


def rosenbrock(n: int, name: str = "x") -> str:
    """The n-variable Rosenbrock function written out in full (as bench/scale.py writes it)."""
    return "+".join(f"100*({name}{i + 1}-{name}{i}**2)**2+(1-{name}{i})**2" for i in range(n - 1))


class _Late(Exception):
    pass


def timed(fn: Callable[[], Any], timeout: float) -> tuple[float | None, Any]:
    """CPU seconds of this process that ``fn()`` took, and its result; (None, None) past ``timeout`` s of wall time.

    CPU time, not wall time: on a shared machine the wall time of pure-Python work grows with
    the load, its CPU time hardly (on a quiet machine the two agree, save torch's threads).
    """

    def late(signum: int, frame: Any) -> None:
        raise _Late

    previous = signal.signal(signal.SIGALRM, late)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    start = time.process_time()
    try:
        result = fn()
    except _Late:
        return None, None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return time.process_time() - start, result


def show(seconds: float | None, timeout: float) -> str:
    return f">{timeout:.0f}" if seconds is None else f"{seconds:.3f}"


def ratio(base: float | None, ours: float | None, timeout: float) -> str:
    if ours is None:
        return "-"
    if base is None:
        return f">{timeout / ours:.0f}x"
    return f"{base / ours:.1f}x"


def row(n: int, timeout: float) -> list[str]:
    import sympy  # noqa: PLC0415

    from jacli import cli, language, symbolic  # noqa: PLC0415

    name = f"v{n}_"
    text = rosenbrock(n, name)

    def build() -> Any:
        parsed = language.parse_expression(text)
        return language.build_program(parsed, {v: () for v in parsed.names})

    build_s, program = timed(build, timeout)
    inputs = [s for v in program.variables for s in v.symbols]
    grad_s, _ = timed(
        lambda: symbolic.to_text(symbolic.Differentiator(program).jacobian(program.outputs, inputs)), timeout
    )
    hess_s, _ = timed(
        lambda: symbolic.to_text(symbolic.Differentiator(program).hessian(program.outputs, inputs)), timeout
    )

    command_text = rosenbrock(n, f"c{n}_")
    argv = ["hessian", command_text, "--at", ",".join(["1.1"] * n), "--format", "json"]

    def command() -> None:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            cli.run(argv)

    command_s, _ = timed(command, timeout)

    plain = rosenbrock(n, f"p{n}_")
    symbols = sympy.symbols(f"p{n}_0:{n}")

    def sympy_gradient() -> Any:
        f = sympy.parse_expr(plain)  # the bench's own text, never a user's
        return [str(sympy.diff(f, x)) for x in symbols]

    sympy_grad_s, _ = timed(sympy_gradient, timeout)
    sympy.core.cache.clear_cache()
    hessian_text = rosenbrock(n, f"q{n}_")
    hessian_symbols = sympy.symbols(f"q{n}_0:{n}")
    sympy_hess_s, _ = timed(lambda: str(sympy.hessian(sympy.parse_expr(hessian_text), hessian_symbols)), timeout)
    return [
        str(n),
        show(build_s, timeout),
        show(grad_s, timeout),
        show(hess_s, timeout),
        show(command_s, timeout),
        show(sympy_grad_s, timeout),
        show(sympy_hess_s, timeout),
        ratio(sympy_grad_s, grad_s, timeout),
        ratio(sympy_hess_s, hess_s, timeout),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,300,1000,3000")
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()
    import torch  # noqa: F401, PLC0415 - warm, as the server's child

    from jacli import cli  # noqa: PLC0415

    with contextlib.redirect_stdout(io.StringIO()):
        cli.run(["hessian", "x*y", "--at", "1,2", "--format", "json"])  # first-call caches
    header = ["n", "build", "grad", "hess", "hessian cmd", "sympy grad", "sympy hess", "grad ratio", "hess ratio"]
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; CPU seconds, one interpreter")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---:" for _ in header) + "|")
    for n in (int(s) for s in args.sizes.split(",")):
        print("| " + " | ".join(row(n, args.timeout)) + " |", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())
