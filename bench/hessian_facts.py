"""What the Hessian says costs: the eigenvalues and the gradient beside the Hessian of a scalar f (one point).

For the n-variable Rosenbrock function (n = 10, 100, 300, 1000; ``--sizes``), in-process,
``--no-symbolic``: the whole ``jacli.api.hessian`` call (which now also computes the
eigenvalues, ``torch.linalg.eigvalsh``, and the gradient, one reverse pass, for
``definiteness`` and ``critical_point``), and the eigenvalues alone on its Hessian.
Best of ``--repeat`` runs; a table of seconds.

Usage: ``python bench/hessian_facts.py [--sizes 10,100,300,1000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import time

import torch

from jacli import api


def rosenbrock(n: int) -> str:
    return "+".join(f"100*(x{i + 1}-x{i}**2)**2+(1-x{i})**2" for i in range(n - 1))


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,300,1000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'n':>6} {'hessian (s)':>12} {'eigvalsh (s)':>13} {'share':>6}  definiteness at x = 1.1")
    for n in (int(s) for s in args.sizes.split(",")):
        expr, at = rosenbrock(n), [1.1] * n
        api.hessian(expr, at=at, symbolic_form=False)  # parse and compile once (cached)
        whole = best(lambda expr=expr, at=at: api.hessian(expr, at=at, symbolic_form=False), args.repeat)
        r = api.hessian(expr, at=at, symbolic_form=False)
        eig = best(lambda h=r.tensor: torch.linalg.eigvalsh(h), args.repeat)
        print(f"{n:>6} {whole:>12.4f} {eig:>13.4f} {eig / whole:>6.0%}  {r.facts['definiteness']}")


if __name__ == "__main__":
    main()
