"""Review R2: the version-2 data features under attack (files, links, devices, headers, display)."""

from __future__ import annotations

import os

from conftest import Invoke


def _points(tmp_path) -> str:
    points = tmp_path / "p.csv"
    points.write_text("x0,x1\n1,2\n3,4\n")
    return str(points)


def test_output_through_a_symlink_writes_its_target_and_keeps_the_link(jacli: Invoke, tmp_path) -> None:
    real, link = tmp_path / "real.csv", tmp_path / "link.csv"
    real.write_text("old\n")
    link.symlink_to(real)
    out = jacli("jacobian", "x0*x1", "--points", _points(tmp_path), "--output", str(link))
    assert out.exit_code == 0, out.stderr
    assert link.is_symlink()
    assert real.read_text() == "1.0,2.0,2.0,1.0\n3.0,4.0,4.0,3.0\n"


def test_output_to_dev_full_through_a_symlink_is_one_error_line(jacli: Invoke, tmp_path) -> None:
    for ending in ("csv", "jsonl", "parquet"):
        link = tmp_path / f"x.{ending}"
        link.symlink_to("/dev/full")
        out = jacli("jacobian", "x0*x1", "--points", _points(tmp_path), "--output", str(link))
        assert out.exit_code == 2, (ending, out.stdout)
        assert out.stderr.startswith("jacli: error: ") and out.stderr.count("\n") == 1, out.stderr
        assert "No space left on device" in out.stderr
        assert "Traceback" not in out.stderr
        assert os.path.islink(link)


def test_sparse_without_a_point_is_a_usage_error(jacli: Invoke) -> None:
    for fmt in ("table", "json"):
        out = jacli("jacobian", "x0*x1", "--sparse", "--format", fmt)
        assert out.exit_code == 2, (fmt, out.stdout)
        assert (
            out.stderr
            == "jacli: error: --sparse writes the nonzero numbers, and without --at there are none; give --at\n"
        )
    out = jacli("hessian", "x.T@A@x", "--shape", "x=2, A=2x2", "--sparse")
    assert out.exit_code == 2 and "--at" in out.stderr and out.stdout == ""


def test_output_over_a_private_file_keeps_it_private(jacli: Invoke, tmp_path) -> None:
    for ending in ("csv", "jsonl", "parquet"):
        target = tmp_path / f"private.{ending}"
        target.write_text("secret\n")
        target.chmod(0o600)
        out = jacli("jacobian", "x0*x1", "--points", _points(tmp_path), "--output", str(target))
        assert out.exit_code == 0, out.stderr
        assert target.stat().st_mode & 0o777 == 0o600, ending


def test_a_parquet_file_corrupt_inside_is_a_points_error_not_an_output_one(jacli: Invoke, tmp_path) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 200_000
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"x0": np.arange(n, dtype=float), "x1": np.ones(n)}), path, row_group_size=20_000)
    data = bytearray(path.read_bytes())
    for i in range(1000, len(data) - 10_000, 5_000):  # the footer stays readable, the pages do not
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    target = tmp_path / "out.csv"
    out = jacli("gradient", "x0*x1", "--points", str(path), "--output", str(target))
    assert out.exit_code == 2
    assert out.stderr.startswith(f"jacli: error: cannot read points file {str(path)!r}"), out.stderr
    assert out.stderr.count("\n") == 1
    assert not target.exists() and [p.name for p in tmp_path.iterdir()] == ["p.parquet"]
