"""Control flow at many points: each point's path decided one at a time in exact SymPy (before) or in floats for
all points at once, exactly only where too close to call (after, jacli/flow_vector.py).

For each program, the gradient at N random points of a CSV file (``jacli gradient PROGRAM --points FILE``, in
process, every row consumed), with the grouping of :func:`jacli.flow.group_points` (the old path, kept callable)
and with :func:`jacli.flow_vector.group_points`, in the same run on the same points; the outputs are checked to be
equal. Prints seconds, points/s and the speed-up. Usage: ``python bench/flow_points.py [--points 10000]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from jacli import evaluation, flow, flow_points, flow_vector

PROGRAMS = {
    "if/else (branch)": "x = x*2\nif x > 1:\n    y = x*x\nelse:\n    y = -x\nreturn y",
    "while, count by point": "y = x\nn = 0\nwhile y < 100 and n < 12:\n    y = y*2 + 1\n    n += 1\nreturn y",
    "the seed cell": (
        "def f(a):\n    b = a * 2\n    while b.norm() < 1000:\n        b = b * 2\n    if b.sum() > 0:\n"
        "        c = b\n    else:\n        c = 100 * b\n    return c"
    ),
}


def measure(program: str, path: str, grouping: object) -> tuple[float, np.ndarray]:
    """Seconds for the whole evaluation with ``grouping`` as the chunks' grouping, and the results."""
    flow._run_cached.cache_clear()
    saved, flow_points.group_points = flow_points.group_points, grouping
    try:
        start = time.perf_counter()
        ev = evaluation.evaluate("gradient", program, path, symbolic_form=False)
        result = np.concatenate([chunk.result for chunk in ev.chunks])
        return time.perf_counter() - start, result
    finally:
        flow_points.group_points = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"load average {os.getloadavg()[0]:.2f}; {args.points:,} points each")
    print("| program | one at a time (s) | vectorised (s) | points/s after | speed-up |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as work:
        for name, program in PROGRAMS.items():
            column = "a" if "def f(a)" in program else "x"
            path = os.path.join(work, "points.csv")
            values = np.round(rng.uniform(-2, 2, args.points), 6)  # ties at round numbers included
            with open(path, "w") as handle:
                handle.write(column + "\n" + "\n".join(map(repr, values.tolist())) + "\n")
            measure(program, path, flow_vector.group_points)  # warm: imports, compiled templates
            before, old = measure(program, path, flow.group_points)
            after, new = measure(program, path, flow_vector.group_points)
            if not np.array_equal(old, new):
                raise SystemExit(f"{name}: the vectorised grouping gave other results")
            print(f"| {name} | {before:.2f} | {after:.2f} | {args.points / after:,.0f} | {before / after:.1f}× |")


if __name__ == "__main__":
    main()
