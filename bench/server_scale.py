"""A big expression called again and again through the warm server: its program cache, in one run.

    python bench/server_scale.py [--n 1000] [--runs 5] [--symbolic] [--sparse]

The n-variable Rosenbrock Hessian (``bench/scale.py``'s text, on stdin), numbers only:

    jacli hessian - --at 1.1,... -f json --no-symbolic

(``--symbolic``: with the symbolic form, its derivation cached and replayed too; ``--sparse``: the
sparse output; either adds a numbers-only dense row measured in the same run, interleaved)

as a fresh process each time, through a warm server started in a private
temporary directory (stopped afterwards): the first call (a miss: it parses and
builds the program, then the server replays that build while idle), and the
median of the next ``--runs`` calls (hits: the program comes from the cache the
children inherit). Next to it, the same Hessian by CasADi's whole process
(symbolic SX graph, ``casadi.hessian``; the bench extra ``casadi``), measured
in the same run, interleaved with the hits; and the load average. Every call's
output must be byte-identical to the first.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scale import CASADI, rosenbrock
from server import jacli_command

from jacli.server import control, protocol


def wall(argv: list[str], stdin: Path, env: dict[str, str]) -> tuple[float, bytes]:
    """Wall time and stdout of ``argv`` as a fresh process (it must succeed)."""
    with open(stdin, "rb") as source:
        start = time.perf_counter()
        done = subprocess.run(argv, stdin=source, capture_output=True, env=env, check=True)
    return time.perf_counter() - start, done.stdout


def replayed(directory: str, timeout: float = 120.0) -> dict:
    """The server's status once nothing waits for a replay (and the spare with the cache is forked)."""
    deadline = time.monotonic() + timeout
    while True:
        info = control.status(directory)
        if info is None:
            sys.exit("bench: the server is gone")
        if (not info["cache_pending"] and info["spare_pid"]) or time.monotonic() > deadline:
            return info
        time.sleep(0.1)


def measure(n: int, runs: int, symbolic: bool = False, sparse: bool = False) -> None:
    compileall.compile_dir(str(Path(protocol.PACKAGE_DIR)), quiet=1)
    try:
        import casadi  # noqa: F401, PLC0415
    except ImportError:
        has_casadi = False
        print("(casadi not installed: pip install 'jacli[bench]'; its column skipped)")
    else:
        has_casadi = True
    base = {k: v for k, v in os.environ.items() if k not in (protocol.ENV_MODE, protocol.ENV_DIR, protocol.ENV_IDLE)}
    directory = tempfile.mkdtemp(prefix="jacli-bench-", dir="/tmp")
    work = Path(directory) / "rosenbrock.txt"
    work.write_text(rosenbrock(n))
    env = {**base, protocol.ENV_DIR: directory, protocol.ENV_IDLE: "600"}
    numbers_argv = [*jacli_command(), "hessian", "-", "--at", ",".join(["1.1"] * n), "-f", "json", "--no-symbolic"]
    argv = [*numbers_argv[:-1], *([] if symbolic else ["--no-symbolic"]), *(["--sparse"] if sparse else [])]
    baseline = argv != numbers_argv  # the numbers-only call in the same run, to compare with
    numbers_times: list[float] = []
    casadi_argv = [sys.executable, "-c", CASADI, str(work), str(n), "hessian"]
    load_before = os.getloadavg()
    hits: list[float] = []
    casadi_times: list[float] = []
    try:
        control.start(control.Limits(idle_timeout=600), directory=directory)
        first, expected = wall(argv, work, env)
        after_first = replayed(directory)
        if baseline:
            wall(numbers_argv, work, env)  # its own first call (the program is cached already)
        for _ in range(runs):
            seconds, out = wall(argv, work, env)
            if out != expected:
                sys.exit("bench: a cache hit printed other bytes than the first call!")
            hits.append(seconds)
            if baseline:
                numbers_times.append(wall(numbers_argv, work, env)[0])
            if has_casadi:
                casadi_times.append(wall(casadi_argv, Path(os.devnull), base)[0])
        info = control.status(directory) or {}
    finally:
        control.stop(directory)
        if os.environ.get("BENCH_SERVER_LOG"):  # what the server replayed, and how long each took
            print(Path(directory, "server.log").read_text())
        shutil.rmtree(directory, ignore_errors=True)
    what = ("with the symbolic form" if symbolic else "numbers only") + (", --sparse" if sparse else "")
    rows = [("jacli, first call (builds; a miss)", first), (f"jacli, next calls (median of {runs}; hits)", hits)]
    if baseline:
        rows.append(("jacli, numbers only, dense (median; hits)", numbers_times))
    if casadi_times:
        rows.append(("casadi, whole process (median)", casadi_times))
    title = f"Rosenbrock Hessian, n = {n}, {what} (-f json), through the warm server"
    show(title, load_before, after_first, info, rows)


def show(title: str, load_before: tuple[float, ...], after_first: dict, info: dict, rows: list) -> None:
    """The table: each row's seconds (a list: its median), and against CasADi's (the row so named)."""
    load_after = os.getloadavg()
    print(title)
    print(f"{os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    counts = ", ".join(f"{info.get('cache_' + what)} {what}" for what in ("hits", "misses", "dropped"))
    print(f"server cache after the first call: {after_first.get('cache_entries')} builds kept; after all: {counts}")
    print(f"{'':<42}{'seconds':>9}{'× casadi':>10}")
    medians = [(label, statistics.median(t) if isinstance(t, list) else t) for label, t in rows]
    casadi_median = next((t for label, t in medians if label.startswith("casadi")), None)
    for label, seconds in medians:
        against = f"{seconds / casadi_median:>9.2f}×" if casadi_median else f"{'-':>10}"
        print(f"{label:<42}{seconds:>9.2f}{against}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="variables (default 1000)")
    parser.add_argument("--runs", type=int, default=5, help="calls after the first (default 5)")
    parser.add_argument("--symbolic", action="store_true", help="with the symbolic form (no --no-symbolic)")
    parser.add_argument("--sparse", action="store_true", help="the sparse output (--sparse)")
    args = parser.parse_args()
    measure(args.n, args.runs, args.symbolic, args.sparse)


if __name__ == "__main__":
    main()
