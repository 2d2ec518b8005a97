"""Scale: gradient and Hessian of the n-variable Rosenbrock function, end to end (whole process).

For n = 10, 100, 300, 1000 (``--sizes``): ``jacli gradient|hessian - --at ... --format json``
with the expression on stdin (a single argv string is capped at 128 KiB), with
``--no-symbolic`` (numbers only) and with the symbolic result; against SymPy doing the same
alone (``parse_expr`` then ``diff`` / ``hessian``), against CasADi (``pip install -e
.[bench]``: symbolic SX graph, its sparse Hessian, the numbers printed as JSON, whole
process) and against Maxima when it is installed. A run past ``--timeout`` seconds is
stopped and shown as ``>T``. Ratios: baseline / jacli.

``--warm`` prints a second table: the same jacli commands in one interpreter (jacli and torch
imported, as the warm server's child has them), each run twice: ``new`` the first call of an
expression (parsing and building its SymPy program included), ``again`` the second (the
program cached), against CasADi's whole process measured in the same run.

``--numeric`` prints a third table: every quantity of the n-variable Rosenbrock function at one
point, numbers only, the call *again* (its program cached: the numeric path alone, lowering to
torch, derivatives, the Hessian's facts, JSON), median of 3 in one interpreter, with the fused
tape (:mod:`jacli.fused`, issue 16) and without it (step by step, as before it) in the same run.

Usage: ``python bench/scale.py [--sizes 10,100,300,1000] [--timeout 60] [--warm] [--no-cold] [--numeric]``
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
symbolic.MAX_SYMBOLIC_SECONDS = 86400.0  # a day (the timer's limit): no budget
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


CASADI = r"""
import json, sys, casadi
text = open(sys.argv[1]).read()
n, what = int(sys.argv[2]), sys.argv[3]
xs = casadi.SX.sym("x", n)
f = eval(text, {"__builtins__": {}}, {f"x{i}": xs[i] for i in range(n)})  # the bench's own text
result = casadi.gradient(f, xs) if what == "gradient" else casadi.hessian(f, xs)[0]
value = casadi.Function("d", [xs], [result])([1.1] * n)
print(json.dumps(value.full().tolist()))
"""

WARM = r"""
import contextlib, io, json, os, sys, time
from jacli import cli
jobs = json.loads(sys.stdin.read())
cli.run(["hessian", "x0**2*x1", "--at", "1,2", "--format", "json"])  # imports and first-call caches
times = []
for argv, must in jobs:
    row = []
    for _ in range(2):
        out = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stdout(out):
            status = cli.run(argv)
        seconds = time.perf_counter() - start
        skipped = must not in out.getvalue()
        row.append("error" if status else f"({seconds:.1f}, skipped)" if skipped else f"{seconds:.2f}")
    times.append(row)
print(json.dumps(times))
"""


NUMERIC = r"""
import contextlib, io, json, os, statistics, sys, time
from jacli import cli, fused
n, text = json.loads(sys.stdin.read())
at = ",".join(["1.1"] * n)
rows, default = [], fused.FUSE_MIN_STEPS
for what in ("gradient", "hessian", "jacobian", "vjp", "jvp", "hvp", "laplacian"):
    argv = [what, text, "--at", at, "--format", "json", "--no-symbolic"]
    argv += ["--v", "ones"] if what in ("vjp", "jvp", "hvp") else []
    row, texts = [what], []
    for steps in (default, 10**9):  # fused, then step by step
        fused.FUSE_MIN_STEPS = steps
        times, outs = [], set()
        for _ in range(4):  # the first builds the program; the others: again
            out = io.StringIO()
            start = time.perf_counter()
            with contextlib.redirect_stdout(out):
                status = cli.run(argv)
            times.append(time.perf_counter() - start)
            outs.add(out.getvalue())
        row.append("error" if status else f"{statistics.median(times[1:]):.3f}")
        texts.append(outs)
    row.append(len(texts[0]) == 1 and texts[0] == texts[1])  # the same bytes every time, both ways
    rows.append(row)
print(json.dumps(rows))
"""


def numeric_table(sizes: list[int], timeout: float) -> None:
    """The numeric path (program cached), fused tape against step by step, in one interpreter per n."""
    import json  # noqa: PLC0415

    env = {**os.environ, "JACLI_SERVER": "off", "JACLI_MAX_ELEMENTS": "10000000"}
    print()
    print("Rosenbrock, numbers only, again (program cached), median of 3 in one interpreter, seconds;")
    print("fused: this jacli; stepwise: its tape step by step (jacli.fused off); × = stepwise / fused")
    print("  ".join(c.rjust(w) for c, w in zip(("n", "what", "fused", "stepwise", "×"), (5, 10, 8, 9, 6), strict=True)))
    for n in sizes:
        try:
            done = subprocess.run([sys.executable, "-c", NUMERIC], input=json.dumps([n, rosenbrock(n)]), text=True,
                                  capture_output=True, timeout=timeout * 60, env=env, check=True)  # fmt: skip
        except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as err:
            print(f"{n:>5}  failed: {type(err).__name__}")
            continue
        for what, ours, base, same in json.loads(done.stdout.splitlines()[-1]):
            mark = "" if same else "  (the outputs differ between runs or between the two ways!)"
            print("  ".join([str(n).rjust(5), what.rjust(10), ours.rjust(8), base.rjust(9), ratio(base, ours).rjust(6)])
                  + mark, flush=True)  # fmt: skip


def warm_times(jobs: list[tuple[list[str], str]], timeout: float) -> list[list[str]]:
    """Each jacli job run twice in one interpreter: [first, second] seconds."""
    import json  # noqa: PLC0415

    env = {**os.environ, "JACLI_SERVER": "off", "JACLI_MAX_ELEMENTS": "10000000"}
    try:
        done = subprocess.run([sys.executable, "-c", WARM], input=json.dumps(jobs), capture_output=True, text=True,
                              timeout=timeout * 2 * len(jobs), env=env, check=True)  # fmt: skip
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError):
        return [[f">{timeout:.0f}"] * 2 for _ in jobs]
    return json.loads(done.stdout.splitlines()[-1])


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


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,300,1000")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--warm", action="store_true", help="also the warm table (in one interpreter)")
    parser.add_argument("--no-cold", dest="cold", action="store_false", help="skip the whole-process table")
    parser.add_argument("--numeric", action="store_true", help="also the numeric path: fused against step by step")
    args = parser.parse_args()
    jacli = shutil.which("jacli") or str(Path(sys.executable).with_name("jacli"))
    maxima = shutil.which("maxima")
    try:
        import casadi  # noqa: F401, PLC0415
    except ImportError:
        has_casadi = False
    else:
        has_casadi = True
    work = Path(tempfile.mkdtemp(prefix="jacli-scale-"))
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, {load()}")
    if args.cold:
        cold_table(sizes, jacli, maxima, has_casadi, work, args.timeout)
    if args.warm:
        warm_table(sizes, has_casadi, work, args.timeout)
    if args.numeric:
        numeric_table(sizes, args.timeout)
    print(f"end: {load()}")
    if not maxima:
        print("maxima: not installed (apt-get install maxima) — column left empty")


def casadi_time(has_casadi: bool, expr: Path, n: int, what: str, timeout: float) -> str:
    if not has_casadi:
        return "n/a"
    return timed([sys.executable, "-c", CASADI, str(expr), str(n), what], None, timeout)


def cold_table(sizes: list[int], jacli: str, maxima: str | None, has_casadi: bool, work: Path, timeout: float) -> None:
    columns = ["n", "what", "numbers", "+symbolic", "+sym,nobudget", "sympy", "sympy ×", "casadi", "casadi ×"]
    columns += ["maxima", "maxima ×"]
    widths = [5, 9, 8, 16, 14, 8, 8, 8, 9, 8, 9]
    print("Rosenbrock, whole process, seconds; sympy × and maxima × = baseline / jacli with the symbolic result")
    print("(no time budget); casadi × = casadi / jacli numbers only (casadi gives numbers)")
    print("'skipped': jacli's symbolic time budget (3 s) stopped the symbolic form; the numbers were printed")
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for n in sizes:
        expr = work / f"rosen{n}.txt"
        expr.write_text(rosenbrock(n))
        at = ",".join(["1.1"] * n)
        for what in ("gradient", "hessian"):
            base = [jacli, what, "-", "--at", at, "--format", "json"]
            numbers = timed([*base, "--no-symbolic"], expr, timeout)
            symbolic = timed(base, expr, timeout, b'"symbolic"')
            unbudgeted = [sys.executable, "-c", UNBUDGETED, *base[1:]]
            no_budget = timed(unbudgeted, expr, timeout, b'"symbolic"')
            sympy_alone = timed([sys.executable, "-c", SYMPY, str(expr), str(n), what], None, timeout)
            casadi_alone = casadi_time(has_casadi, expr, n, what, timeout)
            if maxima:
                script = work / f"{what}{n}.mac"
                script.write_text(maxima_script(n, what))
                maxima_time = timed([maxima, "--very-quiet", "--batch", str(script)], None, timeout)
            else:
                maxima_time = "n/a"
            row = [str(n), what, numbers, symbolic, no_budget, sympy_alone, ratio(sympy_alone, no_budget)]
            row += [casadi_alone, ratio(casadi_alone, numbers), maxima_time]
            row.append(ratio(maxima_time, no_budget) if maxima else "–")
            print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)), flush=True)


def warm_table(sizes: list[int], has_casadi: bool, work: Path, timeout: float) -> None:
    columns = ["n", "what", "num new", "num again", "sym new", "sym again", "casadi", "casadi ×"]
    widths = [5, 9, 8, 10, 16, 16, 8, 9]
    print()
    print("Rosenbrock, warm (one interpreter, jacli imported), seconds; new: first call of the expression,")
    print("again: the second call; casadi: its whole process, this run; casadi × = casadi / (numbers, again)")
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for n in sizes:
        expr = work / f"rosen{n}.txt"
        expr.write_text(rosenbrock(n))
        at = ",".join(["1.1"] * n)
        for what in ("gradient", "hessian"):
            base = [what, rosenbrock(n), "--at", at, "--format", "json"]
            (num_new, num_again), (sym_new, sym_again) = warm_times(
                [([*base, "--no-symbolic"], ""), (base, '"symbolic"')], timeout
            )
            casadi_alone = casadi_time(has_casadi, expr, n, what, timeout)
            row = [str(n), what, num_new, num_again, sym_new, sym_again, casadi_alone]
            row.append(ratio(casadi_alone, num_again))
            print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)), flush=True)


if __name__ == "__main__":
    main()
