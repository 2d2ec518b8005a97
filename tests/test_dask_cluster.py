"""Issue 17: ``jacli.frame`` on a real Dask cluster (two worker processes): Parquet in, Parquet out, as the CLI.

Slow (the workers import torch and SymPy): the whole module is in the slow tier.
"""

from __future__ import annotations

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import invoke_cli
from distributed import Client, LocalCluster

SEED = "2*x0+x1**2, x0**2+2*x1**3"


def _count_compilations() -> None:
    """On a worker: count the expressions compiled to torch, and the partitions evaluated."""
    import jacli.frame
    from jacli import problem

    counts = {"compiled": 0, "partitions": 0}
    real_compile, real_partition = problem.to_torch, jacli.frame._partition

    def compile_counted(*args, **kwargs):
        counts["compiled"] += 1
        return real_compile(*args, **kwargs)

    def partition_counted(*args, **kwargs):
        counts["partitions"] += 1
        return real_partition(*args, **kwargs)

    problem.to_torch = compile_counted
    jacli.frame._partition = partition_counted
    jacli.frame.COUNTS = counts


def _counts() -> dict[str, int]:
    import jacli.frame

    return dict(jacli.frame.COUNTS)


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        yield client


def test_parquet_to_parquet_on_two_workers_equals_the_cli(client, tmp_path):
    points = tmp_path / "points"
    points.mkdir()
    for part in range(8):  # eight files: eight partitions
        rows = range(part * 25, part * 25 + 25)
        pq.write_table(pa.table({"x0": [i / 50 for i in rows], "x1": [1 - i / 100 for i in rows]}),
                       points / f"part{part}.parquet")  # fmt: skip
    client.run(_count_compilations)

    import jacli.frame

    frame = dd.read_parquet(str(points))
    result = jacli.frame.jacobian(SEED, frame)  # lazy: nothing computed yet
    assert result.npartitions == 8
    assert client.run(_counts) == {worker: {"compiled": 0, "partitions": 0} for worker in client.run(_counts)}
    result.to_parquet(str(tmp_path / "out"))  # computed on the workers, written partition by partition
    counts = client.run(_counts)
    assert sum(c["partitions"] for c in counts.values()) >= 8
    assert all(c["compiled"] <= 1 for c in counts.values()), counts  # once per worker, not per partition
    assert sum(c["compiled"] for c in counts.values()) >= 1

    every = pd.concat(pq.read_table(points / f"part{p}.parquet").to_pandas() for p in range(8))
    pq.write_table(pa.Table.from_pandas(every, preserve_index=False), tmp_path / "all.parquet")
    cli = invoke_cli("jacobian", SEED, "--points", str(tmp_path / "all.parquet"), "-o", str(tmp_path / "cli.parquet"))
    assert cli.exit_code == 0, cli
    expected = pq.read_table(tmp_path / "cli.parquet").to_pandas()
    got = dd.read_parquet(str(tmp_path / "out")).compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
