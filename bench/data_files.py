"""Data files: the seed Jacobian at 10^5 and 10^6 random points, Parquet and CSV in and out, whole process.

Every pipeline runs as its own process on the same points, in the same run; the
baseline is CSV -> CSV (``jacli jacobian SEED --points in.csv --format csv > out.csv``):

- ``csv -> csv``: the baseline
- ``csv -> csv --header``: the data-frame layout (point, value, result), with a header row
- ``parquet -> parquet``: ``--points in.parquet --output out.parquet``
- ``parquet -> csv`` and ``csv -> parquet``: one side each

Prints seconds, points/s, the ratio of each pipeline's throughput to the baseline's,
and peak RSS (flat in N when reading and writing stream). The outputs are checked to
hold the same numbers. Usage: ``python bench/data_files.py [--sizes 100000,1000000]``
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
import pyarrow as pa
import pyarrow.parquet as pq

SEED = "2*x0+x1**2, x0**2+2*x1**3"


def run(argv: list[str], stdout_path: Path) -> tuple[float, float]:
    """Run a whole process; returns (seconds, peak RSS in MiB)."""
    with stdout_path.open("wb") as stdout:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=stdout, env={**os.environ, "JACLI_SERVER": "off"})
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{argv[:4]} failed with status {status}")
    return seconds, usage.ru_maxrss / 1024


def numbers(path: Path) -> np.ndarray:
    """The jacobian entries of an output file (the last four columns), whatever its format."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        return np.column_stack([table.column(i).to_numpy() for i in range(table.num_columns)])[:, -4:]
    skip = 1 if path.read_bytes()[:2] == b"x0" else 0
    return np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2)[:, -4:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    args = parser.parse_args()
    jacli = shutil.which("jacli") or str(Path(sys.executable).with_name("jacli"))
    work = Path(tempfile.mkdtemp(prefix="jacli-bench-data-"))
    rng = np.random.default_rng(0)
    print(f"seed Jacobian {SEED!r}, float64, whole process; {os.cpu_count()} CPUs")
    header = f"{'points':>9} {'pipeline':<22} {'seconds':>8} {'points/s':>11} {'× csv':>7} {'peak RSS':>9}"
    print(header)
    print("-" * len(header))
    for n in (int(s) for s in args.sizes.split(",")):
        points = rng.uniform(-2, 2, size=(n, 2))
        csv_in, parquet_in = work / "in.csv", work / "in.parquet"
        np.savetxt(csv_in, points, delimiter=",", fmt="%.17g", header="x0,x1", comments="")
        pq.write_table(pa.table({"x0": points[:, 0], "x1": points[:, 1]}), parquet_in)
        base = [jacli, "jacobian", SEED, "--points"]
        pipelines = {
            "csv -> csv": ([*base, str(csv_in), "--format", "csv"], work / "a.csv", None),
            "csv -> csv --header": ([*base, str(csv_in), "--format", "csv", "--header"], work / "b.csv", None),
            "parquet -> parquet": ([*base, str(parquet_in), "-o", str(work / "c.parquet")], None, work / "c.parquet"),
            "parquet -> csv": ([*base, str(parquet_in), "--format", "csv"], work / "d.csv", None),
            "csv -> parquet": ([*base, str(csv_in), "-o", str(work / "e.parquet")], None, work / "e.parquet"),
        }
        baseline = None
        reference = None
        for name, (argv, stdout_path, file_path) in pipelines.items():
            seconds, rss = run(argv, stdout_path or work / "stdout")
            baseline = baseline or seconds
            print(
                f"{n:>9,} {name:<22} {seconds:>8.2f} {n / seconds:>11,.0f} {baseline / seconds:>6.2f}× {rss:>6.0f} MB"
            )
            got = numbers(stdout_path or file_path)
            reference = got if reference is None else reference
            assert got.shape == (n, 4) and np.array_equal(got, reference), f"{name} disagrees"
        for path in work.iterdir():
            path.unlink()
    work.rmdir()
    print("× csv = (csv -> csv seconds) / (pipeline's seconds): above 1 means faster than CSV -> CSV")


if __name__ == "__main__":
    main()
