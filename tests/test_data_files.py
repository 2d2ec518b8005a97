"""Issue 17: Parquet/Arrow points, ``--output FILE`` (.csv/.jsonl/.parquet), ``--format csv --header``."""

from __future__ import annotations

import csv
import io
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import assert_usage_error, invoke_cli
from pyarrow import feather

from jacli import columns
from jacli.arrow_points import open_columnar

SEED = "2*x0+x1**2, x0**2+2*x1**3"
POINTS = {"x0": [1.0, 0.5, -2.0], "x1": [2.0, 3.0, 0.25]}
CSV_POINTS = "x0,x1\n1,2\n0.5,3\n-2,0.25\n"


@pytest.fixture
def files(tmp_path):
    """The same three points as CSV, Parquet, Arrow and Feather files."""
    table = pa.table(POINTS)
    paths = {kind: tmp_path / f"pts.{kind}" for kind in ("csv", "parquet", "arrow", "feather")}
    paths["csv"].write_text(CSV_POINTS)
    pq.write_table(table, paths["parquet"])
    with pa.ipc.new_file(paths["arrow"], table.schema) as writer:
        writer.write_table(table)
    feather.write_feather(table, paths["feather"])
    return {kind: str(path) for kind, path in paths.items()}


@pytest.mark.parametrize("kind", ["parquet", "arrow", "feather"])
@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_columnar_points_read_like_the_csv_file(files, kind, fmt):
    expected = invoke_cli("jacobian", SEED, "--points", files["csv"], "--format", fmt)
    got = invoke_cli("jacobian", SEED, "--points", files[kind], "--format", fmt)
    assert expected.exit_code == got.exit_code == 0
    assert got.stdout == expected.stdout.replace(files["csv"], files[kind])


def test_integer_columns_and_arrow_stream_files(tmp_path):
    table = pa.table({"x0": pa.array([1, 2], pa.int32()), "x1": pa.array([3.0, 4.0], pa.float32())})
    path = tmp_path / "pts.arrow"
    with pa.ipc.new_stream(path, table.schema) as writer:  # the stream format, not the file format
        writer.write_table(table)
    out = invoke_cli("gradient", "x0**2*x1", "--points", str(path), "--format", "csv")
    assert (out.exit_code, out.stdout) == (0, "1.0,3.0,6.0,1.0\n2.0,4.0,16.0,4.0\n")


def test_array_variables_by_element_columns_or_list_columns(tmp_path):
    by_element = tmp_path / "e.parquet"
    pq.write_table(pa.table({"A[0,0]": [1.0], "A[0,1]": [2.0], "A[1,0]": [3.0], "A[1,1]": [4.0], "b[0]": [1.0],
                             "b[1]": [-1.0]}), by_element)  # fmt: skip
    as_lists = tmp_path / "l.parquet"
    pq.write_table(pa.table({"A": [[[1.0, 2.0], [3.0, 4.0]]], "b": [[1.0, -1.0]]}), as_lists)
    expected = invoke_cli("jacobian", "A@b", "--at", "A=[[1,2],[3,4]], b=[1,-1]", "--format", "json")
    for path in (by_element, as_lists):
        out = invoke_cli("jacobian", "A@b", "--points", str(path), "--format", "json")
        assert (out.exit_code, out.stdout) == (0, expected.stdout)


def test_chunks_are_record_batches_of_at_most_the_chunk_size(tmp_path):
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"x": [float(i) for i in range(1000)]}), path, row_group_size=300)
    reader = open_columnar(str(path), "parquet")
    sizes = [len(chunk.values) for chunk in reader.chunks(128)]
    assert max(sizes) <= 128 and sum(sizes) == 1000
    assert reader.bytes_read == 1000


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pa.table({"x0": ["a"], "x1": [1.0]}), "column 'x0' holds string, not numbers"),
        (pa.table({"x0": [1.0, None], "x1": [1.0, 2.0]}), ":2: column 'x0' is empty (null); expected a number"),
        (pa.table({"x0": [1.0, float("nan")], "x1": [1.0, 2.0]}), ":2: 'x0' is nan, not a finite number"),
        (pa.table({"x0": [1.0], "q": [1.0]}), "the header names 'q', not a variable of the expression (x0, x1)"),
        (pa.table({"x0": [1.0]}), "no column for 'x1'; add one or give it by --at"),
    ],
)
def test_bad_columns_are_one_clear_error(tmp_path, table, message):
    path = tmp_path / "bad.parquet"
    pq.write_table(table, path)
    out = invoke_cli("jacobian", SEED, "--points", str(path), "--format", "csv")
    assert_usage_error(out)
    assert message in out.stderr.splitlines()[0]


def test_ragged_list_columns_and_unreadable_files(tmp_path):
    ragged = tmp_path / "ragged.parquet"
    pq.write_table(pa.table({"a": [[1.0, 2.0], [1.0, 2.0, 3.0]]}), ragged)
    out = invoke_cli("gradient", "sum(a**2)", "--points", str(ragged), "--format", "csv")
    assert_usage_error(out)
    assert out.stderr == (f"jacli: error: {ragged}:2: column 'a' has a list of 3 elements where the first row has 2\n")
    junk = tmp_path / "junk.parquet"
    junk.write_text("x0,x1\n1,2\n")
    out = invoke_cli("jacobian", SEED, "--points", str(junk))
    assert_usage_error(out)
    assert out.stderr.startswith(f"jacli: error: cannot read points file {str(junk)!r} as Parquet: ")
    out = invoke_cli("jacobian", SEED, "--points", str(tmp_path / "none.feather"))
    assert out.stderr == f"jacli: error: cannot read points file {str(tmp_path / 'none.feather')!r}: " \
        "No such file or directory\n"  # fmt: skip


def test_parameters_by_at_and_check_reads_parquet(tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0]}), path)
    out = invoke_cli("gradient", "x**2*y", "--wrt", "x", "--points", str(path), "--at", "y=3", "--format", "csv")
    assert (out.exit_code, out.stdout) == (0, "1.0,3.0,6.0\n2.0,3.0,12.0\n")
    out = invoke_cli("check", "x**2*y", "--points", str(path), "--at", "y=3", "--format", "csv")
    assert out.exit_code == 0, out


# -- the header ------------------------------------------------------------------------------


HEADERS = [
    (["jacobian", SEED, "--at", "1,2"], "x0,x1,value[f0],value[f1],"
     '"jacobian[f0,x0]","jacobian[f0,x1]","jacobian[f1,x0]","jacobian[f1,x1]"'),
    (["gradient", "x0**2*x1", "--at", "1,2"], "x0,x1,value[f],gradient[x0],gradient[x1]"),
    (["hessian", "x0**2*x1", "--at", "1,2"],
     'x0,x1,value[f],"hessian[x0,x0]","hessian[x0,x1]","hessian[x1,x0]","hessian[x1,x1]"'),
    (["hessian", "x0*x1, x1", "--at", "1,2"], "x0,x1,value[f0],value[f1]," + ",".join(
        f'"hessian[f{i},x{j},x{k}]"' for i in range(2) for j in range(2) for k in range(2))),
    (["vjp", SEED, "--at", "1,2", "--v", "1,2"], "x0,x1,value[f0],value[f1],vjp[x0],vjp[x1]"),
    (["jvp", SEED, "--at", "1,2", "--v", "1,0"], "x0,x1,value[f0],value[f1],jvp[f0],jvp[f1]"),
    (["hvp", "x**2*y", "--at", "1,2", "--v", "1,0"], "x,y,value[f],hvp[x],hvp[y]"),
    (["laplacian", "x**2*y, y", "--at", "1,2"], "x,y,value[f0],value[f1],laplacian[f0],laplacian[f1]"),
    (["divergence", "x*y, y", "--at", "1,2"], "x,y,value[f0],value[f1],divergence"),
    (["curl", "x*y, y*z, z*x", "--at", "1,2,3"],
     "x,y,z,value[f0],value[f1],value[f2],curl[x],curl[y],curl[z]"),
    (["curl", "x*y, x", "--at", "1,2"], "x,y,value[f0],value[f1],curl"),
    (["derivative", "x**2*y", "--order", "2", "--at", "1,2"],
     'x,y,value[f],"derivative[f,x,x]","derivative[f,x,y]","derivative[f,y,x]","derivative[f,y,y]"'),
    (["taylor", "x*y", "--at", "1,2", "--order", "1"], "x,y,value[f],taylor[f]"),
    (["gradient", "sum(a**2)", "--at", "a=[1,2]"], "a[0],a[1],value[f],gradient[a[0]],gradient[a[1]]"),
    (["jacobian", "sum(A)", "--at", "A=[[1,2],[3,4]]"], '"A[0,0]","A[0,1]","A[1,0]","A[1,1]",value[f],'
     '"jacobian[f,A[0,0]]","jacobian[f,A[0,1]]","jacobian[f,A[1,0]]","jacobian[f,A[1,1]]"'),
]  # fmt: skip


@pytest.mark.parametrize(("args", "header"), HEADERS, ids=[" ".join(a[:2]) for a, _ in HEADERS])
def test_header_names_every_column(args, header):
    out = invoke_cli(*args, "--format", "csv", "--header")
    assert out.exit_code == 0, out
    lines = out.stdout.splitlines()
    assert lines[0] == header
    assert len(lines) == 2  # one row per point, even for one point
    names, row = csv.reader(io.StringIO(out.stdout))
    assert len(names) == len(row)


def test_header_rows_are_the_point_the_value_and_the_result():
    one = invoke_cli("jacobian", SEED, "--at", "1,2", "--format", "csv", "--header")
    many = invoke_cli("jacobian", SEED, "--at", "1,2", "--at", "0,0", "--format", "csv", "--header")
    assert one.stdout.splitlines()[1] == "1.0,2.0,6.0,17.0,2.0,4.0,2.0,24.0"
    assert many.stdout.splitlines()[1:] == ["1.0,2.0,6.0,17.0,2.0,4.0,2.0,24.0", "0.0,0.0,0.0,0.0,2.0,0.0,0.0,0.0"]
    taylor = invoke_cli("taylor", "x*y", "--at", "1,2", "--at", "0,1", "--order", "1", "--format", "csv", "--header")
    assert taylor.stdout == "x,y,value[f],taylor[f]\n1.0,2.0,2.0,2 + 2*(x - 1) + (y - 2)\n0.0,1.0,0.0,x\n"


def test_header_points_file_names_match_the_data_frame_columns(files):
    import jacli.frame

    out = invoke_cli("hessian", "x0**2*x1", "--points", files["parquet"], "--format", "csv", "--header")
    frame = jacli.frame.hessian("x0**2*x1", pq.read_table(files["parquet"]).to_pandas())
    assert out.stdout.splitlines()[0].replace('"', "") == ",".join(frame.columns)
    assert out.stdout == _csv_of(frame)


def _csv_of(frame) -> str:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([list(frame.columns), *map(list, frame.itertuples(index=False))])
    return text.getvalue()


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--format", "json", "--header"], "jacli: error: --header goes with --format csv (or --output FILE.csv), not "
         "--format json"),
        (["--header"], "jacli: error: --header goes with --format csv (or --output FILE.csv), not --format table"),
        (["--output", "x.txt"], "jacli: error: --output 'x.txt': cannot write '.txt' files; the name must end in "
         ".csv, .jsonl or .parquet"),
        (["--output", "x"], "jacli: error: --output 'x': the name has no ending to say the format; the name must "
         "end in .csv, .jsonl or .parquet"),
        (["--output", "x."], "jacli: error: --output 'x.': cannot write '.' files; the name must end in .csv, "
         ".jsonl or .parquet"),
        (["--output", ".csv"], "jacli: error: --output '.csv': '.csv' is a hidden file's whole name, not a name "
         "with the ending '.csv'; give the file a name before the ending (e.g. 'out.csv'): the name must end in "
         ".csv, .jsonl or .parquet"),
        (["--output", "d/.JSONL"], "jacli: error: --output 'd/.JSONL': '.JSONL' is a hidden file's whole name, not "
         "a name with the ending '.jsonl'; give the file a name before the ending (e.g. 'out.jsonl'): the name "
         "must end in .csv, .jsonl or .parquet"),
        (["--output", "x.d/y"], "jacli: error: --output 'x.d/y': the name has no ending to say the format; the "
         "name must end in .csv, .jsonl or .parquet"),
        (["--output", "x.csv", "--format", "json"], "jacli: error: --output 'x.csv' writes csv; drop --format json "
         "(the file's ending says the format)"),
        (["--output", "x.jsonl", "--header"], "jacli: error: --header names the columns of CSV; a .jsonl file names "
         "them in each line"),
        (["--output", "x.csv", "--show-torch"], "jacli: error: --show-torch prints a program instead of the result; "
         "drop --output and --header"),
    ],
)  # fmt: skip
def test_output_usage_errors(tmp_path, monkeypatch, args, line):
    monkeypatch.chdir(tmp_path)
    out = invoke_cli("jacobian", SEED, "--at", "1,2", *args)
    assert_usage_error(out)
    assert out.stderr.splitlines()[0] == line
    assert os.listdir(tmp_path) == []


# -- --output FILE ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "where",
    [["--at", "1,2"], ["--at", "1,2", "--at", "0.5,3"], ["--points", "PTS"]],
    ids=["one", "several", "points"],
)
@pytest.mark.parametrize(
    ("ending", "fmt"), [(".csv", ["--format", "csv"]), (".csv", ["--format", "csv", "--header"]),
                        (".jsonl", ["--format", "json"])],
)  # fmt: skip
def test_output_file_holds_what_stdout_gets(files, tmp_path, where, ending, fmt):
    where = [files["parquet"] if w == "PTS" else w for w in where]
    stdout = invoke_cli("jacobian", SEED, *where, *fmt)
    target = tmp_path / f"out{ending}"
    written = invoke_cli("jacobian", SEED, *where, *fmt[2:], "--output", str(target))
    assert (written.exit_code, written.stdout, written.stderr) == (0, "", "")
    assert target.read_bytes() == stdout.stdout.encode()
    same = invoke_cli("jacobian", SEED, *where, *fmt, "-o", str(target))  # --format agreeing with the ending
    assert same.exit_code == 0 and target.read_bytes() == stdout.stdout.encode()


@pytest.mark.parametrize("where", [["--at", "1,2"], ["--points", "PTS"]], ids=["one", "points"])
def test_parquet_output_has_the_header_columns(files, tmp_path, where):
    where = [files["parquet"] if w == "PTS" else w for w in where]
    target = tmp_path / "out.parquet"
    out = invoke_cli("jacobian", SEED, *where, "--output", str(target))
    assert (out.exit_code, out.stdout) == (0, "")
    header = invoke_cli("jacobian", SEED, *where, "--format", "csv", "--header")
    assert _csv_of(pq.read_table(target).to_pandas()) == header.stdout
    assert sorted(os.listdir(tmp_path)) == ["out.parquet", "pts.arrow", "pts.csv", "pts.feather", "pts.parquet"]


def test_parquet_output_streams_a_row_group_per_chunk(files, tmp_path):
    source, target = tmp_path / "many.parquet", tmp_path / "out.parquet"
    pq.write_table(pa.table({"x0": [float(i) for i in range(100)], "x1": [1.0] * 100}), source)
    out = invoke_cli("gradient", "x0*x1", "--points", str(source), "--chunk-size", "16", "--output", str(target))
    assert out.exit_code == 0, out
    file = pq.ParquetFile(target)
    assert file.metadata.num_rows == 100 and file.num_row_groups == 7
    assert file.schema_arrow.names == ["x0", "x1", "value[f]", "gradient[x0]", "gradient[x1]"]
    assert pq.read_table(target).column("gradient[x0]").to_pylist() == [1.0] * 100


def test_taylor_and_float32_to_parquet(tmp_path):
    target = tmp_path / "t.parquet"
    out = invoke_cli("taylor", "x*y", "--at", "1,2", "--at", "0,1", "--order", "1", "-o", str(target))
    assert out.exit_code == 0, out
    assert pq.read_table(target).to_pylist() == [
        {"x": 1.0, "y": 2.0, "value[f]": 2.0, "taylor[f]": "2 + 2*(x - 1) + (y - 2)"},
        {"x": 0.0, "y": 1.0, "value[f]": 0.0, "taylor[f]": "x"},
    ]
    out = invoke_cli("gradient", "x**2", "--at", "0.1", "--dtype", "float32", "-o", str(target))
    assert out.exit_code == 0, out
    assert pq.read_table(target).to_pylist() == [{"x": 0.1, "value[f]": 0.010000000707805157,
                                                  "gradient[x]": 0.20000000298023224}]  # fmt: skip


def test_a_failed_run_leaves_no_file_and_keeps_the_old_one(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("x\n" + "1\n" * 50 + "oops\n")
    for ending in (".csv", ".jsonl", ".parquet"):
        target = tmp_path / f"out{ending}"
        out = invoke_cli("gradient", "x**2", "--points", str(bad), "--chunk-size", "4", "-o", str(target))
        assert_usage_error(out)
        assert out.stderr == f"jacli: error: {bad}:52:1: 'oops' is not a number\n"
        assert not target.exists()
        target.write_text("old\n")
        invoke_cli("gradient", "x**2", "--points", str(bad), "--chunk-size", "4", "-o", str(target))
        assert target.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["bad.csv", "out.csv", "out.jsonl", "out.parquet"]  # no temporary left


def test_output_into_a_missing_folder(tmp_path):
    target = tmp_path / "no" / "out.csv"
    out = invoke_cli("gradient", "x**2", "--at", "1", "-o", str(target))
    assert_usage_error(out)
    assert out.stderr == f"jacli: error: cannot write {str(target)!r}: No such file or directory\n"


def test_output_file_mode_follows_the_umask(tmp_path):
    target = tmp_path / "out.csv"
    old = os.umask(0o022)
    try:
        assert invoke_cli("gradient", "x**2", "--at", "1", "-o", str(target)).exit_code == 0
    finally:
        os.umask(old)
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_the_api_evaluates_parquet_points(files):
    from jacli import api

    ev = api.evaluate("gradient", "x0**2*x1", files["parquet"])
    assert [chunk.result.tolist() for chunk in ev.chunks] == [[[4.0, 1.0], [3.0, 0.25], [-1.0, 4.0]]]
    assert columns.names(api.evaluate("gradient", "x0**2*x1", files["feather"])) == [
        "x0", "x1", "value[f]", "gradient[x0]", "gradient[x1]"]  # fmt: skip


# -- a missing extra ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--points", "PTS"], "jacli: error: reading Parquet or Arrow points needs pyarrow, which is not installed: "
         "pip install 'jacli[data]'"),
        (["--at", "1,2", "--output", "OUT"], "jacli: error: writing Parquet needs pyarrow, which is not installed: "
         "pip install 'jacli[data]'"),
    ],
)  # fmt: skip
def test_a_missing_extra_is_named(files, tmp_path, monkeypatch, args, line):
    for name in [m for m in sys.modules if m == "pyarrow" or m.startswith("pyarrow.")]:
        monkeypatch.setitem(sys.modules, name, None)  # import pyarrow now raises ImportError
    args = [files["parquet"] if a == "PTS" else str(tmp_path / "o.parquet") if a == "OUT" else a for a in args]
    out = invoke_cli("jacobian", SEED, *args)
    assert_usage_error(out)
    assert out.stderr == line + "\n"
    assert not (tmp_path / "o.parquet").exists()


def test_a_missing_pandas_or_dask_is_named(monkeypatch):
    import pandas as pd

    import jacli.frame
    from jacli.extras import MissingExtra

    frame = pd.DataFrame({"x": [1.0]})
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingExtra, match=r"^jacli.frame needs pandas, which is not installed: pip install 'jacli\["
                       r"data\]'$"):  # fmt: skip
        jacli.frame.gradient("x**2", frame)
    monkeypatch.setitem(sys.modules, "dask.dataframe", None)

    class Lazy:  # looks like a Dask DataFrame
        npartitions = 1

        def map_partitions(self, *args, **kwargs):
            raise AssertionError("not reached")

    with pytest.raises(MissingExtra, match=r"needs dask, which is not installed: pip install 'jacli\[dask\]'$"):
        jacli.frame.gradient("x**2", Lazy())
