"""One-shot latency of the seed Jacobian: in-process, warm server, and other tools.

    python bench/server.py [--runs N]

Prints one table: the median wall time of

    jacli jacobian "2*x0+x1**2, x0**2+2*x1**3" --at 1,2

run as a fresh process, in-process (``JACLI_SERVER=off``: imports torch and
SymPy every time) and through a warm server (started in a private temporary
directory for the run, stopped afterwards), next to ``python -c pass`` (the
floor for any Python command) and, when installed, Maxima and qalc computing
the same Jacobian at the same point. Ratios are against the warm server.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from jacli.server import control as server
from jacli.server import protocol as client

SEED = ["jacobian", "2*x0+x1**2, x0**2+2*x1**3", "--at", "1,2"]
MAXIMA = "display2d:false$ J:jacobian([2*x0+x1^2, x0^2+2*x1^3],[x0,x1])$ print(J)$ print(subst([x0=1,x1=2],J))$"
# qalc has no jacobian(); diff(f, var, order, value) evaluates each partial at the point
QALC = "[diff(2x+y^2, x, 1, 1), diff(2x+y^2, y, 1, 2); diff(x^2+2y^3, x, 1, 1), diff(x^2+2y^3, y, 1, 2)]"


def jacli_command() -> list[str]:
    script = Path(sys.executable).with_name("jacli")
    return [str(script)] if script.exists() else [sys.executable, "-m", "jacli"]


def median_seconds(command: Sequence[str], runs: int, env: dict[str, str] | None = None) -> float:
    """Median wall time of ``command`` as a fresh process (output discarded; must succeed)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def check_output(command: Sequence[str], env: dict[str, str] | None = None) -> str:
    return subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per row (in-process: a third of that, >= 3)")
    args = parser.parse_args(argv)
    base_env = {k: v for k, v in os.environ.items() if k not in (client.ENV_MODE, client.ENV_DIR)}
    rows: list[tuple[str, float]] = []

    directory = tempfile.mkdtemp(prefix="jacli-bench-", dir="/tmp")
    pids: list[int] = []
    try:
        warm_env = {**base_env, client.ENV_DIR: directory}
        for _attempt in range(3):  # an edit to the package meanwhile makes the server refuse: start afresh
            pids.append(int(server.start(server.Limits(idle_timeout=600), directory=directory)["pid"]))
            check_output([*jacli_command(), *SEED], warm_env)  # the fork path paged in once
            served = server.status(directory)["served"]  # type: ignore[index]
            warm = median_seconds([*jacli_command(), *SEED], args.runs, warm_env)
            if server.status(directory)["served"] == served + args.runs:  # type: ignore[index]
                rows.append(("jacli, warm server", warm))
                break
        else:
            sys.exit("bench: the warm runs did not go through the server (is the package being edited?)")
    finally:
        server.stop(directory)
        for pid in pids:
            if not server._reap(pid):
                os.kill(pid, 9)
        shutil.rmtree(directory, ignore_errors=True)

    cold_env = {**base_env, client.ENV_MODE: "off"}
    cold_runs = max(3, args.runs // 3)
    rows.append(("jacli, in-process (cold)", median_seconds([*jacli_command(), *SEED], cold_runs, cold_env)))
    rows.append(("python -c pass", median_seconds([sys.executable, "-c", "pass"], args.runs)))
    if shutil.which("maxima"):
        maxima = ["maxima", "--very-quiet", f"--batch-string={MAXIMA}"]
        assert "matrix([2,4],[2,24])" in check_output(maxima).replace(" ", ""), "maxima computed something else"
        rows.append(("maxima", median_seconds(maxima, args.runs)))
    else:
        print("(maxima not installed: skipped)")
    if shutil.which("qalc"):
        qalc = ["qalc", "-t", QALC]
        assert check_output(qalc).strip() == "[2  4; 2  24]", "qalc computed something else"
        rows.append(("qalc", median_seconds(qalc, args.runs)))
    else:
        print("(qalc not installed: skipped)")

    warm = rows[0][1]
    print(f"seed Jacobian one-shot, median of {args.runs} runs ({os.cpu_count()} CPUs)")
    print(f"{'command':<28}{'median':>10}{'vs warm':>10}")
    for name, seconds in rows:
        print(f"{name:<28}{seconds * 1000:>8.0f} ms{seconds / warm:>9.1f}x")


if __name__ == "__main__":
    main()
