"""Table scale: the n-variable Rosenbrock Hessian printed as a table (the default format), in one interpreter.

For n = 100, 300, 1000 (``--sizes``): ``jacli hessian - --at 1.1,...`` with the expression on
stdin, numbers only (``--no-symbolic``) and with the symbolic form (elided beyond its display
limit), each call warm (its program cached by a first call), best of ``--repeat``. ``fast``:
tables through :class:`jacli.render.box_table.BoxTable` (the default); ``rich``: every table through
``rich.table.Table``, as before it (``FAST_TABLE_MIN_CELLS`` raised past any table), measured in the
same run. The two outputs are compared byte for byte; ``same`` says whether they are identical.
``--color`` prints with ANSI colour (``jacli --color``), as on a terminal. Ratios: rich / fast.
A Rich baseline past ``--rich-max`` variables is skipped (at n = 1000 it takes about two minutes).

Usage: ``python bench/table_scale.py [--sizes 100,300,1000] [--repeat 3] [--color] [--rich-max 1000]``
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

from scale import load, rosenbrock

import jacli.cli
import jacli.terminal
from jacli.render import fit


def run_once(argv: list[str], expression: str) -> tuple[float, str]:
    """Seconds for one in-process run of ``jacli ARGV`` with ``expression`` on stdin, and its stdout."""
    out = io.StringIO()
    env = jacli.terminal.Environment(
        stdin=io.StringIO(expression), stdout=out, stderr=io.StringIO(), environ=os.environ
    )
    start = time.perf_counter()
    status = jacli.terminal.run(argv, env, program=jacli.cli.program)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"jacli {' '.join(argv[:3])} ... exited {status}")
    return seconds, out.getvalue()


def best(argv: list[str], expression: str, repeat: int, rich: bool) -> tuple[float, str]:
    """Best of ``repeat`` warm runs (after one to cache the program), with every table fast or all Rich."""
    saved = fit.FAST_TABLE_MIN_CELLS
    fit.FAST_TABLE_MIN_CELLS = sys.maxsize if rich else saved
    try:
        run_once(argv, expression)  # the program cached: what is left is the numbers and the table
        times, text = [], ""
        for _ in range(repeat):
            seconds, text = run_once(argv, expression)
            times.append(seconds)
        return min(times), text
    finally:
        fit.FAST_TABLE_MIN_CELLS = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,300,1000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--color", action="store_true", help="ANSI colour, as on a terminal")
    parser.add_argument("--rich-max", type=int, default=1000, help="skip the Rich baseline above this n")
    args = parser.parse_args()
    os.environ.update({"JACLI_SERVER": "off", "JACLI_MAX_ELEMENTS": "10000000", "COLUMNS": "120"})
    print(f"Rosenbrock Hessian as a table, in process, warm, best of {args.repeat}, width 120; {load()}")
    print(f"{'n':>5} {'symbolic':>9} {'MB':>6} {'rich s':>8} {'fast s':>8} {'ratio':>7}  same")
    for n in (int(s) for s in args.sizes.split(",")):
        expression = rosenbrock(n)
        for symbolic in (False, True):
            argv = ["--color"] if args.color else []
            argv += ["hessian", "-", "--at", ",".join(["1.1"] * n), *([] if symbolic else ["--no-symbolic"])]
            fast, text = best(argv, expression, args.repeat, rich=False)
            if n <= args.rich_max:
                rich, rich_text = best(argv, expression, 1 if n >= 1000 else args.repeat, rich=True)
                cells = f"{rich:8.2f} {fast:8.3f} {rich / fast:6.0f}×  {'yes' if rich_text == text else 'NO'}"
            else:
                cells = f"{'-':>8} {fast:8.3f} {'-':>7}  -"
            print(f"{n:>5} {'yes' if symbolic else 'no':>9} {len(text.encode()) / 1e6:6.2f} {cells}", flush=True)


if __name__ == "__main__":
    main()
