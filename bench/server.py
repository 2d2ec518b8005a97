"""One-shot latency of the seed Jacobian: warm (the default), cold, and the floors, in one run.

    python bench/server.py [--runs N]

Prints one table: the median wall time of

    jacli jacobian "2*x0+x1**2, x0**2+2*x1**3" --at 1,2        (table, and -f json)

as a fresh process each time: through the warm server (started the way a user
gets it, by a first call in a private temporary directory; stopped afterwards),
and cold (``JACLI_SERVER=off``: imports torch and SymPy every time); next to
``python -c pass`` (the floor of any Python command), the bare import floor
``python -c "import torch, sympy"`` and, when installed, qalc and Maxima
computing the same Jacobian at the same point (columns skipped when absent).
Rounds interleave the commands, so a busy spell hits all of them alike; the
load average before and after is printed. Ratios: against ``python -c pass``
and against the import floor.

jacli's bytecode is compiled first (``compileall``), as ``pip install`` does:
a source tree run with ``PYTHONDONTWRITEBYTECODE`` would otherwise recompile
every module on every call.
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
from collections.abc import Sequence
from pathlib import Path

from jacli.server import control, protocol

SEED = ["jacobian", "2*x0+x1**2, x0**2+2*x1**3", "--at", "1,2"]
MAXIMA = "display2d:false$ J:jacobian([2*x0+x1^2, x0^2+2*x1^3],[x0,x1])$ print(J)$ print(subst([x0=1,x1=2],J))$"
# qalc has no jacobian(); diff(f, var, order, value) evaluates each partial at the point
QALC = "[diff(2x+y^2, x, 1, 1), diff(2x+y^2, y, 1, 2); diff(x^2+2y^3, x, 1, 1), diff(x^2+2y^3, y, 1, 2)]"
PASS = "python -c pass"
FLOOR = 'python -c "import torch, sympy"'


def jacli_command() -> list[str]:
    script = Path(sys.executable).with_name("jacli")
    return [str(script)] if script.exists() else [sys.executable, "-m", "jacli"]


def wall(command: Sequence[str], env: dict[str, str]) -> float:
    """Wall time of ``command`` as a fresh process (output discarded; it must succeed)."""
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - start


def output(command: Sequence[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, env=env, check=True)


def rows(directory: str, base: dict[str, str]) -> list[tuple[str, list[str], dict[str, str], bool]]:
    """(label, command, environment, cold: measured in fewer rounds)."""
    warm = {**base, protocol.ENV_DIR: directory}
    cold = {**base, protocol.ENV_MODE: "off"}
    jacli = jacli_command()
    chosen = [
        ("jacli, warm (default)", [*jacli, *SEED], warm, False),
        ("jacli, warm, -f json", [*jacli, *SEED, "-f", "json"], warm, False),
        ("jacli, cold (JACLI_SERVER=off)", [*jacli, *SEED], cold, True),
        ("jacli, cold, -f json", [*jacli, *SEED, "-f", "json"], cold, True),
        (PASS, [sys.executable, "-c", "pass"], base, False),
        (FLOOR, [sys.executable, "-c", "import torch, sympy"], base, True),
    ]
    if shutil.which("qalc"):
        qalc = ["qalc", "-t", QALC]
        assert output(qalc).stdout.strip() == "[2  4; 2  24]", "qalc computed something else"
        chosen.append(("qalc (same Jacobian)", qalc, base, False))
    else:
        print("(qalc not installed: skipped)")
    if shutil.which("maxima"):
        maxima = ["maxima", "--very-quiet", f"--batch-string={MAXIMA}"]
        assert "matrix([2,4],[2,24])" in output(maxima).stdout.replace(" ", ""), "maxima computed something else"
        chosen.append(("maxima (same Jacobian)", maxima, base, False))
    else:
        print("(maxima not installed: skipped)")
    return chosen


def first_call(directory: str, base: dict[str, str]) -> tuple[float, str]:
    """The first call of a new user: starts the server (and waits for it); its wall time and stderr."""
    env = {**base, protocol.ENV_DIR: directory, protocol.ENV_IDLE: "600"}
    start = time.perf_counter()
    done = output([*jacli_command(), *SEED], env)
    return time.perf_counter() - start, done.stderr.strip()


def measure(runs: int) -> None:
    compileall.compile_dir(str(Path(protocol.PACKAGE_DIR)), quiet=1)
    base = {k: v for k, v in os.environ.items() if k not in (protocol.ENV_MODE, protocol.ENV_DIR, protocol.ENV_IDLE)}
    directory = tempfile.mkdtemp(prefix="jacli-bench-", dir="/tmp")
    load_before = os.getloadavg()
    try:
        first, note = first_call(directory, base)
        chosen = rows(directory, base)
        served = control.status(directory)["served"]  # type: ignore[index]
        times: dict[str, list[float]] = {label: [] for label, *_ in chosen}
        cold_rounds = max(3, runs // 3)
        for round_ in range(runs):
            for label, command, env, cold in chosen:
                if not cold or round_ < cold_rounds:
                    times[label].append(wall(command, env))
        warm_runs = sum(len(times[label]) for label, _, env, _ in chosen if env.get(protocol.ENV_DIR) == directory)
        info = control.status(directory)
        if info is None or info["served"] != served + warm_runs:
            sys.exit("bench: the warm runs did not all go through the server (is the package being edited?)")
    finally:
        control.stop(directory)
        shutil.rmtree(directory, ignore_errors=True)
    load_after = os.getloadavg()
    medians = {label: statistics.median(values) for label, values in times.items()}
    floor, bare = medians[FLOOR], medians[PASS]
    print(f"seed Jacobian one-shot: median of {runs} interleaved runs ({cold_rounds} for cold rows), fresh process")
    print(f"{os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"first call (starts the server, waits for it): {first * 1000:.0f} ms; it printed: {note}")
    print(f"{'command':<34}{'median':>10}{'× pass':>9}{'× floor':>10}")
    for label, seconds in medians.items():
        print(f"{label:<34}{seconds * 1000:>7.0f} ms{seconds / bare:>8.2f}×{seconds / floor:>9.2f}×")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="rounds (cold rows and the import floor: a third, >= 3)")
    args = parser.parse_args(argv)
    measure(args.runs)


if __name__ == "__main__":
    main()
