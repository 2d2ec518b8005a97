"""Scale: gradient and Hessian of the n-variable Rosenbrock function, end to end (whole process).

For n = 10, 100, 300, 1000 (``--sizes``): ``jacli gradient|hessian - --at ... --format json``
with the expression on stdin (a single argv string is capped at 128 KiB), with
``--no-symbolic`` (numbers only) and with the symbolic result; against SymPy doing the same
alone (``parse_expr`` then ``diff`` / ``hessian``) and against Maxima when it is installed.
A run past ``--timeout`` seconds is stopped and shown as ``>T``. Ratios: baseline / jacli.

Usage: ``python bench/scale.py [--sizes 10,100,300,1000] [--timeout 60]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SYMPY = r"""
import sys, sympy
text = open(sys.argv[1]).read()
n, what = int(sys.argv[2]), sys.argv[3]
f = sympy.parse_expr(text)
xs = sympy.symbols(f"x0:{n}")
if what == "gradient":
    result = [sympy.diff(f, x) for x in xs]
else:
    result = sympy.hessian(f, xs)
point = {x: sympy.Float(1.1) for x in xs}
print(len(str(result)))
"""


def rosenbrock(n: int) -> str:
    """The n-variable Rosenbrock function written out in full (n-1 terms of two parts each)."""
    return "+".join(f"100*(x{i + 1}-x{i}**2)**2+(1-x{i})**2" for i in range(n - 1))


UNBUDGETED = r"""
import sys
from jacli import cli, symbolic
symbolic.MAX_SYMBOLIC_SECONDS = float("inf")  # jacli's default stops symbolic work after a few seconds
sys.exit(cli.run(sys.argv[1:]))
"""


def timed(argv: list[str], stdin: Path | None, timeout: float, must_contain: bytes = b"") -> str:
    # large inputs: allow more elements than the default JACLI_MAX_ELEMENTS
    env = {**os.environ, "JACLI_SERVER": "off", "JACLI_MAX_ELEMENTS": "100000"}
    with open(stdin or os.devnull, "rb") as source:
        start = time.perf_counter()
        try:
            done = subprocess.run(argv, stdin=source, capture_output=True, timeout=timeout, env=env, check=False)
        except subprocess.TimeoutExpired:
            return f">{timeout:.0f}"
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        return "error: " + done.stderr.decode(errors="replace").strip().splitlines()[0][:60]
    if must_contain not in done.stdout:
        return f"({seconds:.1f}, skipped)"  # the symbolic form was not produced
    return f"{seconds:.2f}"


def maxima_script(n: int, what: str) -> str:
    xs = ",".join(f"x{i}" for i in range(n))
    body = f"f: {rosenbrock(n)}$ v: [{xs}]$ "
    body += "g: makelist(diff(f, x), x, v)$ " if what == "gradient" else "h: hessian(f, v)$ "
    return body + "quit();\n"


def ratio(base: str, ours: str) -> str:
    if ours.startswith("("):
        return "–"
    try:
        return f"{float(base) / float(ours):.1f}×"
    except ValueError:
        if base.startswith(">") and not ours.startswith((">", "error")):
            return f">{float(base[1:]) / float(ours):.0f}×"
        return "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,300,1000")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    jacli = shutil.which("jacli") or str(Path(sys.executable).with_name("jacli"))
    maxima = shutil.which("maxima")
    work = Path(tempfile.mkdtemp(prefix="jacli-scale-"))
    columns = ["n", "what", "numbers", "+symbolic", "+sym,nobudget", "sympy", "sympy ×", "maxima", "maxima ×"]
    widths = [5, 9, 8, 16, 14, 8, 8, 8, 9]
    print("Rosenbrock, whole process, seconds; × = baseline / jacli with the symbolic result (no time budget)")
    print("'skipped': jacli's symbolic time budget (3 s) stopped the symbolic form; the numbers were printed")
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for n in (int(s) for s in args.sizes.split(",")):
        expr = work / f"rosen{n}.txt"
        expr.write_text(rosenbrock(n))
        at = ",".join(["1.1"] * n)
        for what in ("gradient", "hessian"):
            base = [jacli, what, "-", "--at", at, "--format", "json"]
            numbers = timed([*base, "--no-symbolic"], expr, args.timeout)
            symbolic = timed(base, expr, args.timeout, b'"symbolic"')
            unbudgeted = [sys.executable, "-c", UNBUDGETED, *base[1:]]
            no_budget = timed(unbudgeted, expr, args.timeout, b'"symbolic"')
            sympy_alone = timed([sys.executable, "-c", SYMPY, str(expr), str(n), what], None, args.timeout)
            if maxima:
                script = work / f"{what}{n}.mac"
                script.write_text(maxima_script(n, what))
                maxima_time = timed([maxima, "--very-quiet", "--batch", str(script)], None, args.timeout)
            else:
                maxima_time = "n/a"
            row = [str(n), what, numbers, symbolic, no_budget, sympy_alone, ratio(sympy_alone, no_budget), maxima_time]
            row.append(ratio(maxima_time, no_budget) if maxima else "–")
            print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)), flush=True)
    if not maxima:
        print("maxima: not installed (apt-get install maxima) — column left empty")


if __name__ == "__main__":
    main()
