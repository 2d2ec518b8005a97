"""Cost of ``jacli derivative --order 3`` and ``--order 4`` for n = 10 and n = 100, whole process.

The expression family: ``sin(x0)*x1**2 + sin(x1)*x2**2 + … + sin(x{n-2})*x{n-1}**2`` (n-1 terms;
every third and fourth derivative along the chain is non-zero), at x = 0.5, …, on stdin,
``--format json``. Each run is one fresh ``jacli`` process (``JACLI_SERVER=off``), timed
by the wall clock and by its CPU time (user + system: steadier on a busy machine); its
peak memory is the child's maximum resident set size
(``resource.getrusage(RUSAGE_CHILDREN)`` read in a fresh wrapper process per run).
Numbers only (``--no-symbolic``) and with the symbolic form. A size over the result-size
limit (m·n^K entries > 200 × ``JACLI_MAX_ELEMENTS``) is shown as refused, then run again with
the limit raised (``--raise-limit``, on by default) when its float64 tensor fits ``--max-gb``.
A run past ``--timeout`` seconds is stopped and shown as ``>T``.

Usage: ``python bench/derivative_order.py [--sizes 10,100] [--orders 3,4] [--timeout 300] [--max-gb 0.5]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_LIMIT = 200 * 10_000
"""Entries a result may have by default (RESULT_ENTRIES_PER_ELEMENT × DEFAULT_MAX_ELEMENTS)."""

MEASURE = r"""
import json, resource, subprocess, sys, time
argv, stdin, timeout = json.loads(sys.argv[1]), sys.argv[2], float(sys.argv[3])
with open(stdin, "rb") as source:
    start = time.perf_counter()
    try:
        done = subprocess.run(argv, stdin=source, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(json.dumps({"timeout": True}))
        sys.exit()
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024,
                  "rc": done.returncode,
                  "bytes": len(done.stdout), "stderr": done.stderr.decode()[-300:]}))
"""


def chain(n: int) -> str:
    """``sin(x0)*x1**2 + …``: n variables, n-1 terms."""
    return " + ".join(f"sin(x{i})*x{i + 1}**2" for i in range(n - 1))


def run(n: int, order: int, symbolic: bool, timeout: float, limit: int | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "expr.txt"
        source.write_text(chain(n))
        at = ",".join(["0.5"] * n)
        argv = [sys.executable, "-m", "jacli", "derivative", "-", "--order", str(order), "--at", at, "--format", "json"]
        argv += [] if symbolic else ["--no-symbolic"]
        env = {**os.environ, "JACLI_SERVER": "off"}
        if limit is not None:
            env["JACLI_MAX_ELEMENTS"] = str(limit)
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, json.dumps(argv), str(source), str(timeout)],
            capture_output=True, text=True, env=env, check=True,
        )  # fmt: skip
        return json.loads(done.stdout)


def cell(measured: dict, timeout: float) -> str:
    if measured.get("timeout"):
        return f">{timeout:.0f} s"
    if measured["rc"] != 0:
        first = measured["stderr"].strip().splitlines()[0] if measured["stderr"].strip() else f"exit {measured['rc']}"
        return f"exit {measured['rc']}: {first[:60]}"
    note = " (symbolic skipped)" if "symbolic form skipped" in measured["stderr"] else ""
    return f"{measured['seconds']:.1f} s ({measured['cpu']:.1f} s CPU), {measured['peak_mib']:.0f} MiB{note}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100")
    parser.add_argument("--orders", default="3,4")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--max-gb", type=float, default=0.5, help="raise the limit only when the tensor fits this")
    parser.add_argument("--no-raise-limit", dest="raise_limit", action="store_false")
    args = parser.parse_args()
    rows = []
    for n in map(int, args.sizes.split(",")):
        for order in map(int, args.orders.split(",")):
            entries = n**order
            limit = None
            if entries > DEFAULT_LIMIT:
                rows.append((n, order, entries, "default", f"refused: {entries:,} > {DEFAULT_LIMIT:,} entries", ""))
                if not args.raise_limit or entries * 8 / 2**30 > args.max_gb:
                    continue
                limit = math.ceil(entries / 200)
            label = "default" if limit is None else f"JACLI_MAX_ELEMENTS={limit}"
            numeric = cell(run(n, order, False, args.timeout, limit), args.timeout)
            symbolic = cell(run(n, order, True, args.timeout, limit), args.timeout)
            rows.append((n, order, entries, label, numeric, symbolic))
            print(f"done n={n} K={order}", file=sys.stderr, flush=True)
    header = ("n", "K", "entries m·n^K", "limit", "--no-symbolic: wall (CPU), peak RSS", "with the symbolic form")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)))


if __name__ == "__main__":
    main()
