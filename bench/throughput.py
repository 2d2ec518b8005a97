"""Throughput: the seed Jacobian at 10^4, 10^5, 10^6 random points, CSV in -> CSV out, whole process.

Every pipeline runs as its own process on the same file, in the same run:

- ``jacli``: ``jacli jacobian SEED --points in.csv --format csv``
- ``floor func``: hand-written NumPy + ``torch.func.vmap(jacrev)``, same reading and formatting
- ``floor autograd``: hand-written NumPy + batched ``torch.autograd.grad`` (no torch.func, so no
  ``torch._dynamo`` import) and a fast exit (``os._exit``): the fastest torch pipeline here
- ``floor numpy``: hand-written NumPy alone (the Jacobian's entries written out by hand:
  no autodiff, no torch import), same reading and formatting: the floor of any pipeline
- ``loop``: a Python loop with ``torch.autograd.functional.jacobian`` per point (skipped above
  ``--loop-max`` points: it is linear in N; the table says so)

Prints points/s, the ratio of jacli's throughput to each other pipeline's (in seconds, and in CPU
seconds, which a busy machine disturbs less), and peak RSS (flat in N:
jacli reads and writes a chunk at a time). ``--split`` adds where jacli's time goes at the largest size,
in this process: reading and parsing the points (the fast path for plain CSV, and the exact line-by-line
path it falls back to), formatting the CSV rows, writing them, and the rest (imports, math).
Usage: ``python bench/throughput.py [--sizes 10000,100000,1000000] [--loop-max 100000] [--split]``
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

import numpy as np

SEED = "2*x0+x1**2, x0**2+2*x1**3"
CLOCK = time.process_time
"""What ``--split`` measures: this process's CPU seconds (all its threads), steadier than seconds under load."""

FLOOR_FUNC = r"""
import sys, numpy as np, torch
from torch.func import jacrev, vmap
def f(x):
    return torch.stack([2 * x[0] + x[1] ** 2, x[0] ** 2 + 2 * x[1] ** 3])
pts = np.loadtxt(sys.argv[1], delimiter=",", ndmin=2)
jac = vmap(jacrev(f))(torch.from_numpy(pts)).numpy().reshape(len(pts), -1)
rows = np.concatenate([pts, jac], axis=1)
out = sys.stdout
for i in range(0, len(rows), 65536):
    part = rows[i : i + 65536]
    out.write(("%s,%s,%s,%s,%s,%s\n" * len(part)) % tuple(part.ravel().tolist()))
"""

FLOOR_AUTOGRAD = r"""
import os, sys, numpy as np, torch
pts = np.loadtxt(sys.argv[1], delimiter=",", ndmin=2)
x = torch.from_numpy(pts).requires_grad_(True)
y = torch.stack([2 * x[:, 0] + x[:, 1] ** 2, x[:, 0] ** 2 + 2 * x[:, 1] ** 3], dim=1)
rows_of_j = [torch.autograd.grad(y[:, i].sum(), x, retain_graph=True)[0] for i in range(2)]
jac = torch.stack(rows_of_j, dim=1).detach().numpy().reshape(len(pts), -1)
rows = np.concatenate([pts, jac], axis=1)
out = sys.stdout
for i in range(0, len(rows), 65536):
    part = rows[i : i + 65536]
    out.write(("%s,%s,%s,%s,%s,%s\n" * len(part)) % tuple(part.ravel().tolist()))
out.flush()
os._exit(0)
"""

FLOOR_NUMPY = r"""
import os, sys, numpy as np
pts = np.loadtxt(sys.argv[1], delimiter=",", ndmin=2)
x0, x1 = pts[:, 0], pts[:, 1]
jac = np.stack([np.full_like(x0, 2.0), 2 * x1, 2 * x0, 6 * x1**2], axis=1)
rows = np.concatenate([pts, jac], axis=1)
out = sys.stdout
for i in range(0, len(rows), 65536):
    part = rows[i : i + 65536]
    out.write(("%s,%s,%s,%s,%s,%s\n" * len(part)) % tuple(part.ravel().tolist()))
out.flush()
os._exit(0)
"""

LOOP = r"""
import sys, numpy as np, torch
def f(x):
    return torch.stack([2 * x[0] + x[1] ** 2, x[0] ** 2 + 2 * x[1] ** 3])
pts = np.loadtxt(sys.argv[1], delimiter=",", ndmin=2)
out = sys.stdout
for p in pts:
    j = torch.autograd.functional.jacobian(f, torch.from_numpy(p)).reshape(-1).tolist()
    out.write(",".join(map(repr, [*p.tolist(), *j])) + "\n")
"""


def run(argv: list[str], stdin_path: Path | None = None) -> tuple[float, float, float, Path]:
    """Run a whole process; returns (seconds, CPU seconds: user + system, peak RSS in MiB, stdout file)."""
    out = Path(tempfile.mkstemp(suffix=".csv")[1])
    with out.open("wb") as stdout, open(stdin_path or os.devnull, "rb") as stdin:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=stdout, stdin=stdin, env={**os.environ, "JACLI_SERVER": "off"})
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{argv[:4]} failed with status {status}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def split(path: Path, n: int) -> None:
    """Where jacli's time goes at ``n`` points, measured in this process (the same file, the same run)."""
    from contextlib import redirect_stdout  # noqa: PLC0415

    os.environ["JACLI_SERVER"] = "off"  # this process computes (no warm server)
    from jacli import cli, limits, points  # noqa: PLC0415

    limits.reset()
    from jacli.render.numbers import csv_bytes  # noqa: PLC0415

    def read() -> list[np.ndarray]:
        return [chunk.values for chunk in points.open_points(str(path)).chunks(1 << 16)]

    start = CLOCK()
    values = read()
    fast = CLOCK() - start
    saved, points.parse_plain = points.parse_plain, lambda *args: None
    start = CLOCK()
    read()
    exact = CLOCK() - start
    points.parse_plain = saved
    rows = []
    for pts in values:
        x0, x1 = pts[:, 0], pts[:, 1]
        rows.append(np.stack([x0, x1, np.full_like(x0, 2.0), 2 * x1, 2 * x0, 6 * x1**2], axis=1))
    start = CLOCK()
    texts = [csv_bytes(part[i : i + 50_000]) for part in rows for i in range(0, len(part), 50_000)]
    formatting = CLOCK() - start
    start = CLOCK()
    with open(os.devnull, "wb") as sink:
        for text in texts:
            sink.write(text)
    writing = CLOCK() - start
    with open(os.devnull, "w") as sink, redirect_stdout(sink):
        start = CLOCK()
        cli.run(["jacobian", SEED, "--points", str(path), "--format", "csv"])
        whole = CLOCK() - start
    print(f"\nwhere jacli's CPU time goes at {n:,} points (in this process, torch and sympy imported):")
    print(f"  read + parse (fast path)  {fast:6.2f} s   (exact path {exact:.2f} s: {exact / fast:.1f}× slower)")
    print(f"  format CSV rows           {formatting:6.2f} s")
    print(f"  write to /dev/null        {writing:6.2f} s")
    rest = whole - fast - formatting - writing
    print(f"  the rest (math, setup)    {rest:6.2f} s   of {whole:.2f} s in all, in process")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--loop-max", type=int, default=100_000)
    parser.add_argument("--split", action="store_true", help="where jacli's time goes at the largest size")
    args = parser.parse_args()
    jacli = shutil.which("jacli") or str(Path(sys.executable).with_name("jacli"))
    work = Path(tempfile.mkdtemp(prefix="jacli-bench-"))
    rng = np.random.default_rng(0)
    print(f"seed Jacobian {SEED!r}, float64, CSV in -> CSV out, whole process; {os.cpu_count()} CPUs")
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    header = (
        f"{'points':>9} {'pipeline':<15} {'seconds':>8} {'points/s':>11} {'jacli ×':>8}"
        f" {'CPU s':>7} {'CPU ×':>7} {'peak RSS':>9}"
    )
    print(header)
    print("-" * len(header))
    for n in (int(s) for s in args.sizes.split(",")):
        path = work / f"pts{n}.csv"
        np.savetxt(path, rng.uniform(-2, 2, size=(n, 2)), delimiter=",", fmt="%.17g")
        pipelines = {
            "jacli": [jacli, "jacobian", SEED, "--points", str(path), "--format", "csv"],
            "floor func": [sys.executable, "-c", FLOOR_FUNC, str(path)],
            "floor autograd": [sys.executable, "-c", FLOOR_AUTOGRAD, str(path)],
            "floor numpy": [sys.executable, "-c", FLOOR_NUMPY, str(path)],
            "loop": [sys.executable, "-c", LOOP, str(path)],
        }
        timings, cpus, outputs = {}, {}, {}
        for name, argv in pipelines.items():
            if name == "loop" and n > args.loop_max:
                print(f"{n:>9,} {name:<15} {'skipped (linear in N; see smaller sizes)':>40}")
                continue
            seconds, cpu, rss, out = run(argv)
            timings[name], cpus[name], outputs[name] = seconds, cpu, out
            ratio = "" if name == "jacli" else f"{seconds / timings['jacli']:>7.2f}×"
            cpu_ratio = "" if name == "jacli" else f"{cpu / cpus['jacli']:>6.2f}×"
            print(
                f"{n:>9,} {name:<15} {seconds:>8.2f} {n / seconds:>11,.0f} {ratio:>8}"
                f" {cpu:>7.2f} {cpu_ratio:>7} {rss:>7.0f} MB"
            )
        reference = np.loadtxt(outputs["floor func"], delimiter=",")
        for name, out in outputs.items():
            got = np.loadtxt(out, delimiter=",")
            assert got.shape == (n, 6) and np.allclose(got, reference, rtol=1e-12), f"{name} disagrees"
            out.unlink()
        if args.split and n == max(int(s) for s in args.sizes.split(",")):
            split(path, n)
        path.unlink()
    print("jacli × = (pipeline's seconds) / (jacli's seconds): above 1 means jacli is faster")
    print("CPU × = the same for CPU seconds (user + system): steadier than seconds on a busy machine")
    print(f"end: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
