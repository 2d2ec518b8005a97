"""Start-up latency of jacli beside bare Python and the unavoidable imports.

    python bench/startup.py              # median wall times and ratios (11 runs each)
    python bench/startup.py --runs 21    # more runs on a noisy machine
    python bench/startup.py --quick      # only --help, --version and Tab (no torch): seconds, not minutes
    python bench/startup.py --profile    # where one `jacli jacobian` call spends its time
    python bench/startup.py --cold       # one-shot computations against the import floor, quiet and loaded

``--cold`` measures only the one-shot computations, the import floor and
``python -c pass``, first on the machine as it is, then under a CPU load the
script makes itself (one busy process per CPU, at normal priority), so the
ratios show whether the goal (cold at most 0.9× the floor) holds robustly.
jacli's bytecode is compiled first, as ``pip install`` does.

Every command runs in a fresh process with stdout on a pipe, as in a script or
at a Tab press. ``JACLI_SERVER=off``: this measures the one-shot path, not the
warm server. Ratios are against ``python -c pass`` (what an interpreter costs)
and ``python -c "import torch, sympy"`` (what a one-shot computation cannot avoid).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SEED = "2*x0+x1**2, x0**2+2*x1**3"


def _jacli() -> list[str]:
    script = Path(PY).parent / "jacli"
    return [str(script)] if script.exists() else [PY, "-m", "jacli"]


def cases() -> list[tuple[str, list[str], dict[str, str]]]:
    """(label, argv, extra environment)."""
    jacli = _jacli()
    bash = {"_JACLI_COMPLETE": "complete_bash"}
    return [
        ("python -c pass", [PY, "-c", "pass"], {}),
        ("python -c 'import torch, sympy'", [PY, "-c", "import torch, sympy"], {}),
        (
            "  same, ending with os._exit(0)",
            [PY, "-c", "import os, sys, torch, sympy; sys.stdout.flush(); os._exit(0)"],
            {},
        ),
        ("jacli --help", [*jacli, "--help"], {}),
        ("jacli jacobian --help", [*jacli, "jacobian", "--help"], {}),
        ("jacli --version", [*jacli, "--version"], {}),
        ("Tab: jacli ja (bash)", jacli, {**bash, "COMP_WORDS": "jacli ja", "COMP_CWORD": "1"}),
        ("Tab: jacli jacobian --fo (bash)", jacli, {**bash, "COMP_WORDS": "jacli jacobian --fo", "COMP_CWORD": "2"}),
        ("Tab: jacli ja (zsh)", jacli, {"_JACLI_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "jacli ja"}),
        ("jacli jacobian SEED --at 1,2", [*jacli, "jacobian", SEED, "--at", "1,2"], {}),
        ("jacli jacobian SEED --at 1,2 -f json", [*jacli, "jacobian", SEED, "--at", "1,2", "-f", "json"], {}),
        (
            "  same, ordinary interpreter exit",
            [
                PY,
                "-c",
                f"import sys; from jacli.cli import run; sys.exit(run(['jacobian', {SEED!r}, '--at', '1,2', "
                "'-f', 'json']))",
            ],
            {},
        ),
    ]


def wall(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return seconds


def measure(runs: int, quick: bool) -> None:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("_JACLI", "COMP_", "_TYPER"))}
    base_env["JACLI_SERVER"] = "off"
    light = ("python -c pass", "jacli --help", "jacli jacobian --help", "jacli --version", "Tab: ")
    chosen = [case for case in cases() if not quick or case[0].startswith(light)]
    times: dict[str, list[float]] = {label: [] for label, _, _ in chosen}
    for _ in range(runs):  # rounds interleave the commands, so a busy spell hits all of them alike
        for label, argv, extra in chosen:
            times[label].append(wall(argv, {**base_env, **extra}))
    medians = {label: statistics.median(values) for label, values in times.items()}
    bare = medians["python -c pass"]
    heavy = medians.get("python -c 'import torch, sympy'")
    print(f"median wall time of {runs} interleaved runs each; Python {sys.version.split()[0]} at {PY}")
    print(f"{'command':<40} {'median':>9} {'× pass':>8} {'× torch,sympy':>14}")
    for label, seconds in medians.items():
        versus = f"{seconds / heavy:14.2f}" if heavy else f"{'-':>14}"
        print(f"{label:<40} {seconds * 1000:7.0f}ms {seconds / bare:8.1f} {versus}")


def profile() -> None:
    """Imports first (the unavoidable part), then cProfile of the call itself with imports already done."""
    argv = ["jacobian", SEED, "--at", "1,2"]
    log = subprocess.run([PY, "-X", "importtime", "-m", "jacli", *argv], capture_output=True, text=True, check=False,
                         env={**os.environ, "JACLI_SERVER": "off"})  # fmt: skip
    tops = []
    for line in log.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
            if cumulative.isdigit() and not name.startswith(" "):
                tops.append((int(cumulative), name))
    print("largest top-level imports of one `jacli jacobian` call (cumulative):")
    for micros, name in sorted(tops, reverse=True)[:8]:
        print(f"  {micros / 1000:8.0f} ms  {name}")
    code = (
        "import cProfile, pstats, io, contextlib, sys\n"
        "from jacli import api, cli\n"
        "import jacli.render.table\n"
        f"argv = {argv!r}\n"
        "profiler = cProfile.Profile()\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    profiler.runcall(cli.run, argv)\n"
        "pstats.Stats(profiler).sort_stats('cumulative').print_stats(12)\n"
    )
    print("\nthe call itself, its modules already imported, by cumulative time:")
    subprocess.run([PY, "-c", code], check=False, env={**os.environ, "JACLI_SERVER": "off"})


COLD = ("python -c pass", "python -c 'import torch, sympy'", "jacli jacobian SEED --at 1,2",
        "jacli jacobian SEED --at 1,2 -f json")  # fmt: skip


def _busy() -> None:
    while True:
        pass


def cold(runs: int) -> None:
    """The one-shot rows, quiet and under a load of one busy process per CPU."""
    import compileall  # noqa: PLC0415
    import multiprocessing  # noqa: PLC0415

    compileall.compile_dir(str(ROOT / "jacli"), quiet=1)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("_JACLI", "COMP_", "_TYPER"))}
    base_env["JACLI_SERVER"] = "off"
    chosen = [case for case in cases() if case[0] in COLD]
    print(f"median wall time of {runs} interleaved runs each; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs")
    print(f"{'command':<40} {'quiet':>9} {'× floor':>8} {'loaded':>9} {'× floor':>8}")
    results = {}
    for loaded in (False, True):
        busy = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(os.cpu_count() or 1) if loaded]
        for process in busy:
            process.start()
        try:
            load = os.getloadavg()[0]
            times: dict[str, list[float]] = {label: [] for label, _, _ in chosen}
            for _ in range(runs):
                for label, argv, extra in chosen:
                    times[label].append(wall(argv, {**base_env, **extra}))
            results[loaded] = ({label: statistics.median(v) for label, v in times.items()}, load, os.getloadavg()[0])
        finally:
            for process in busy:
                process.kill()
    for label, _, _ in chosen:
        cells = []
        for loaded in (False, True):
            medians = results[loaded][0]
            cells.append(f"{medians[label] * 1000:7.0f}ms {medians[label] / medians[COLD[1]]:8.2f}")
        print(f"{label:<40} {cells[0]} {cells[1]}")
    for loaded in (False, True):
        print(f"load average {'loaded' if loaded else 'quiet'}: {results[loaded][1]:.2f} at start, "
              f"{results[loaded][2]:.2f} at end")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--profile", action="store_true", help="profile one `jacli jacobian` call instead")
    parser.add_argument("--quick", action="store_true", help="only the commands that must not load torch")
    parser.add_argument(
        "--cold", action="store_true", help="one-shot computations vs the import floor, quiet and loaded"
    )
    args = parser.parse_args()
    if args.profile:
        profile()
    elif args.cold:
        cold(args.runs)
    else:
        measure(args.runs, args.quick)


if __name__ == "__main__":
    main()
