"""``taylor --points``: the polynomials of 10,000 points, the general text builder against the chunk one.

Both runs are in-process (``jacli.cli.run``, ``--format json`` into memory) in the same
process, so the imports are paid once, before timing. The old path builds each point's
polynomials with :func:`jacli.higher.polynomial_text` from nested terms (as every point did
before); the new one with :func:`jacli.higher.float_polynomials` (the terms' layout derived once
per shape and order). The outputs are compared byte for byte. The table output is not timed:
Rich's layout of the tables (about 50 ms a point) dwarfs both.

Usage: ``python bench/taylor_points.py [--points 10000] [--runs 3]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("JACLI_SERVER", "off")

from jacli import cli, higher

CASES = [
    ("exp(x)*sin(y)", "1"),
    ("exp(x)*sin(y)", "2"),
    ("exp(x)*sin(y), x**2*y - 3", "3"),
    ("exp(x)*sin(y)", "4"),
]


def reference(flat, m, names, point, order):
    """The old path: nested terms per point, then :func:`higher.polynomial_text` per output."""
    n, terms, start = len(names), [], 0
    for k in range(order + 1):
        size = m * n**k
        terms.append(higher._nest(flat[start : start + size], (m,) + (n,) * k))
        start += size
    return [higher.polynomial_text([terms[k][i] for k in range(order + 1)], names, point) for i in range(m)]


def run(argv: list[str]) -> tuple[float, str]:
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = cli.run(argv)
    seconds = time.perf_counter() - start
    assert code == 0, code
    return seconds, out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "points.csv"
        lines = ["x,y"] + [f"{(i % 997) / 331 - 1.5!r},{(i % 613) / 211 - 1.4!r}" for i in range(args.points)]
        path.write_text("\n".join(lines) + "\n")
        run(["taylor", "x*y", "--at", "x=1,y=2", "--format", "json"])  # warm: imports, first compile
        new = higher.float_polynomials
        load = os.getloadavg()[0]
        print(f"taylor --points, {args.points:,} points, --format json, median of {args.runs} (load {load:.2f})")
        print("| expression | --order | old (s) | new (s) | speed-up | same bytes |")
        print("| --- | ---: | ---: | ---: | ---: | --- |")
        for expr, order in CASES:
            argv = ["taylor", expr, "--points", str(path), "--order", order, "--format", "json", "--no-symbolic"]
            times: dict[str, list[float]] = {"old": [], "new": []}
            texts: dict[str, str] = {}
            for _ in range(args.runs):
                for name, builder in (("old", reference), ("new", new)):
                    higher.float_polynomials = builder
                    try:
                        seconds, texts[name] = run(argv)
                    finally:
                        higher.float_polynomials = new
                    times[name].append(seconds)
            old_s, new_s = statistics.median(times["old"]), statistics.median(times["new"])
            same = "yes" if texts["old"] == texts["new"] else "NO"
            print(f"| `{expr}` | {order} | {old_s:.2f} | {new_s:.2f} | {old_s / new_s:.2f}× | {same} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
