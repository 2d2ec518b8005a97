"""The symbolic form at scale: what ``jacli gradient|hessian`` adds to the numbers, new and again.

For n = 100, 300, 1000 (``--sizes``), the n-variable Rosenbrock function (bench/scale.py's
string), in one interpreter per n with jacli imported (as the warm server's child has it):

- ``numbers``: ``jacli WHAT EXPR --at 1.1,... -f json --no-symbolic``, the second call (the
  program cached);
- ``+sym new`` / ``+sym again``: the same with the symbolic form, first and second call, less
  ``numbers`` (what the symbolic form adds: deriving, printing, JSON);
- ``derive``: jacli's symbolic derivative alone (:func:`jacli.symbolic_result.cached_symbolic_form`
  emptied first), against ``sympy``: SymPy's own ``diff`` (gradient) or ``hessian`` of the same
  function, alone, in its own process, this run (``>T``: stopped after ``--timeout`` seconds).

Usage: ``python bench/symbolic_scale.py [--sizes 100,300,1000] [--timeout 60]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

JACLI = r"""
import contextlib, io, json, sys, time
from jacli import cli, language, symbolic_result
from jacli.quantities import QUANTITIES
n, what, text = json.loads(sys.stdin.read())
cli.run(["hessian", "x0**2*x1", "--at", "1,2", "--format", "json"])  # imports and first-call caches
argv = [what, text, "--at", ",".join(["1.1"] * n), "--format", "json"]

def timed(args, must):
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        status = cli.run(args)
    seconds = time.perf_counter() - start
    assert status == 0 and must in out.getvalue(), out.getvalue()[-200:]
    return seconds

timed(argv + ["--no-symbolic"], "")  # builds the program
numbers = timed(argv + ["--no-symbolic"], "")
new, again = timed(argv, '"symbolic"'), timed(argv, '"symbolic"')
program = language.build_program(language.parse_expression(text), {f"x{i}": () for i in range(n)})
inputs = tuple(s for v in program.variables for s in v.symbols)
symbolic_result.cached_symbolic_form.cache_clear()
start = time.perf_counter()
symbolic_result.cached_symbolic_form(program, QUANTITIES[what], inputs, None, symbolic_result._bounds())
derive = time.perf_counter() - start
print(json.dumps([numbers, new, again, derive]))
"""

SYMPY = r"""
import json, sys, time, sympy
n, what, text = json.loads(sys.stdin.read())
f = sympy.parse_expr(text)
xs = sympy.symbols(f"x0:{n}")
start = time.perf_counter()
result = [sympy.diff(f, x) for x in xs] if what == "gradient" else sympy.hessian(f, xs)
print(json.dumps(time.perf_counter() - start))
"""


def rosenbrock(n: int) -> str:
    """The n-variable Rosenbrock function written out in full (n-1 terms of two parts each)."""
    return "+".join(f"100*(x{i + 1}-x{i}**2)**2+(1-x{i})**2" for i in range(n - 1))


def run(script: str, job: list, timeout: float) -> object:
    env = {**os.environ, "JACLI_SERVER": "off", "JACLI_MAX_ELEMENTS": "10000000", "JACLI_TIME_BUDGET": "600"}
    try:
        done = subprocess.run([sys.executable, "-c", script], input=json.dumps(job), capture_output=True, text=True,
                              timeout=timeout, env=env, check=True)  # fmt: skip
    except subprocess.TimeoutExpired:
        return None
    return json.loads(done.stdout.splitlines()[-1])


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,300,1000")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, {load()}")
    print("Rosenbrock, the symbolic form on top of the numbers, warm (one interpreter per n), seconds;")
    print("derive: jacli's symbolic derivative alone; sympy: SymPy's diff/hessian alone; × = sympy / derive")
    columns = ["n", "what", "numbers", "+sym new", "+sym again", "derive", "sympy", "×"]
    widths = [5, 9, 8, 9, 10, 7, 7, 7]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for n in (int(s) for s in args.sizes.split(",")):
        for what in ("gradient", "hessian"):
            job = [n, what, rosenbrock(n)]
            ours = run(JACLI, job, args.timeout * 4)
            theirs = run(SYMPY, job, args.timeout)
            if ours is None:
                print(f"{n:>5}  {what:>9}  jacli took over {args.timeout * 4:.0f} s", flush=True)
                continue
            numbers, new, again, derive = ours
            sympy_text = f">{args.timeout:.0f}" if theirs is None else f"{theirs:.2f}"
            ratio = f">{args.timeout / derive:.0f}×" if theirs is None else f"{theirs / derive:.1f}×"
            row = [str(n), what, f"{numbers:.2f}", f"{new - numbers:.2f}", f"{again - numbers:.2f}", f"{derive:.2f}"]
            row += [sympy_text, ratio]
            print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)), flush=True)
    print(f"end: {load()}")


if __name__ == "__main__":
    main()
