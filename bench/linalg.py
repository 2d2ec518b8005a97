"""Cost of the linear-algebra functions (issue 13, part B) against plain matrix expressions of the same size.

Each case runs in this process through :mod:`jacli.api` (after one warm-up call, so
imports are not counted), timed by CPU time (steadier on a busy machine) and wall clock;
``--no-symbolic`` and with the symbolic form. The baseline of each size is a polynomial
expression of the same inputs (``sum(A*A)``, ``A@A``), measured in the same run: the
ratio says what ``det``/``inv``/``solve`` cost beyond an ordinary expression.

Usage: ``python bench/linalg.py [--repeat 3]``
"""

from __future__ import annotations

import argparse
import json
import time

from jacli import api


def matrix(n: int) -> list[list[int]]:
    """A well-conditioned integer matrix (diagonally dominant)."""
    return [[(4 * n if i == j else 0) + (i * 7 + j * 3) % 5 - 2 for j in range(n)] for i in range(n)]


CASES = [
    # (label, command, expression, n, baseline expression)
    ("det 10x10", "gradient", "det(A)", 10, "sum(A*A)"),
    ("inv 6x6", "jacobian", "inv(A)", 6, "A@A"),
    ("solve 6x6", "jacobian", "solve(A, A[0])", 6, "A@A[0]"),
    ("det 6x6 hessian", "hessian", "det(A)", 6, "sum(A*A*A)"),
]


def timed(command: str, expr: str, n: int, symbolic: bool, repeat: int) -> tuple[float, float]:
    at = "A=" + json.dumps(matrix(n))
    best_cpu = best_wall = float("inf")
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        getattr(api, command)(expr, at=at, symbolic_form=symbolic)
        best_cpu, best_wall = min(best_cpu, time.process_time() - cpu), min(best_wall, time.perf_counter() - wall)
    return best_cpu, best_wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    api.gradient("det(A)", at="A=[[2,1],[1,3]]")  # warm-up: imports
    print(f"{'case':<18} {'symbolic':<9} {'cpu s':>8} {'wall s':>8} {'baseline cpu s':>15} {'ratio':>7}")
    for label, command, expr, n, baseline in CASES:
        for symbolic in (False, True):
            cpu, wall = timed(command, expr, n, symbolic, options.repeat)
            base, _ = timed(command, baseline, n, symbolic, options.repeat)
            flag = "yes" if symbolic else "no"
            print(f"{label:<18} {flag:<9} {cpu:>8.3f} {wall:>8.3f} {base:>15.3f} {cpu / base:>7.2f}")


if __name__ == "__main__":
    main()
