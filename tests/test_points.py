"""Points files: every format and header/parameter combination, and precise errors for malformed files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Invoke, assert_usage_error

from jacli.points import PointsError, PointsReader

SEED = "2*x0+x1**2, x0**2+2*x1**3"
SEED_ROWS = [
    "1.0,2.0,2.0,4.0,2.0,24.0",
    "0.0,0.0,2.0,0.0,0.0,0.0",
    "-1.0,0.5,2.0,1.0,-2.0,1.5",
]


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _read(lines: list[str], rows: int = 100) -> tuple[PointsReader, list[list[float]]]:
    reader = PointsReader.from_lines(lines, "pts")
    return reader, [row for chunk in reader.chunks(rows) for row in chunk.values.tolist()]


@pytest.mark.parametrize(
    "text",
    [
        "1,2\n0,0\n-1,0.5\n",  # CSV
        "1\t2\n0\t0\n-1\t0.5\n",  # TSV
        "1 2\n0   0\n  -1 \t 0.5\n",  # whitespace, mixed
        "x0,x1\n1,2\n0,0\n-1,0.5\n",  # CSV with a header
        "x1,x0\n2,1\n0,0\n0.5,-1\n",  # header in another order
        "x0\tx1\n1\t2\n0\t0\n-1\t0.5\n",  # TSV with a header
        "x1 x0\n2 1\n0 0\n0.5 -1\n",  # whitespace with a header in another order
        "# points\n\nx0, x1  # names\n1, 2\n# a comment\n0,0\n\n-1 , 0.5 # tail\n",  # comments, blanks, spaces
        "1,2\r\n0,0\r\n-1,0.5\r\n",  # CRLF
        "1e0,2E0\n0.0,-0\n-1,5e-1",  # exponents, no final newline
        "1,2\r0,0\r-1,0.5\r",  # bare CR (old Mac OS): lines, as Python's universal newlines read them
        "# points\rx0,x1\r\n1,2\r\r0,0\n-1,0.5",  # CR, CRLF and LF mixed, a blank line, no final line end
    ],
)
def test_every_format_gives_the_same_rows(jacli: Invoke, tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, "pts.txt", text)
    r = jacli("jacobian", SEED, "--points", path, "--format", "csv")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.replace("-0.0", "0.0").splitlines() == SEED_ROWS
    assert r.stderr == ""


def test_reader_detects_header_and_delimiter() -> None:
    reader, rows = _read(["# c", "a\tb", "1\t2"])
    assert (reader.header, reader.delimiter, reader.columns, reader.first_line) == (("a", "b"), "\t", 2, 2)
    assert rows == [[1.0, 2.0]]
    reader, rows = _read(["1 2 3"])
    assert (reader.header, reader.delimiter, reader.columns) == (None, None, 3)


def test_reader_chunks_keep_order_across_chunk_boundaries() -> None:
    lines = ["x"] + [str(i) if i % 7 else f"# skip {i}" for i in range(1, 101)]
    _, rows = _read(lines, rows=8)
    assert rows == [[float(i)] for i in range(1, 101) if i % 7]


def test_empty_file_gives_no_rows() -> None:
    reader, rows = _read(["# nothing", ""])
    assert reader.columns == 0 and rows == []


def test_parameters_as_columns_and_from_at(jacli: Invoke, tmp_path: Path) -> None:
    expr = "a*x**2 + y"
    # a parameter as a column, named by the header
    both = _write(tmp_path, "both.csv", "y,a,x\n1,2,3\n0,1,1\n")
    r = jacli("gradient", expr, "--wrt", "x,y", "--points", both, "--format", "json")
    assert r.exit_code == 0, r.stderr
    objects = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["point"] for o in objects] == [{"a": 2.0, "x": 3.0, "y": 1.0}, {"a": 1.0, "x": 1.0, "y": 0.0}]
    assert [o["result"] for o in objects] == [[12.0, 1.0], [2.0, 1.0]]
    # the parameter from --at, the variables as columns
    cols = _write(tmp_path, "cols.csv", "x,y\n3,1\n1,0\n")
    r = jacli("gradient", expr, "--wrt", "x,y", "--points", cols, "--at", "a=2", "--format", "csv")
    assert r.stdout.splitlines() == ["2.0,3.0,1.0,12.0,1.0", "2.0,1.0,0.0,4.0,1.0"]
    # no header: --wrt variables, then the parameters, in order
    plain = _write(tmp_path, "plain.csv", "3,1,2\n")
    r = jacli("gradient", expr, "--wrt", "x,y", "--points", plain, "--format", "csv")
    assert r.stdout.splitlines() == ["2.0,3.0,1.0,12.0,1.0"]
    # no header and the parameter from --at: the columns are the --wrt variables
    plain2 = _write(tmp_path, "plain2.csv", "3 1\n")
    r = jacli("gradient", expr, "--wrt", "x,y", "--points", plain2, "--at", "a=pi", "--format", "csv")
    assert r.stdout.splitlines()[0].split(",")[3] == repr(6 * 3.141592653589793)


def test_array_variables_by_element_in_the_header(jacli: Invoke, tmp_path: Path) -> None:
    path = _write(tmp_path, "arr.tsv", "x[1]\tx[0]\tx[2]\tx[3]\n1\t0\t2\t3\n")
    r = jacli("gradient", "2*dot(x,x)", "--points", path, "--format", "json")
    assert r.exit_code == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["point"] == {"x": [0.0, 1.0, 2.0, 3.0]}
    assert obj["result"] == [0.0, 4.0, 8.0, 12.0]
    assert obj["inputs"] == ["x[0]", "x[1]", "x[2]", "x[3]"]


def test_matrix_variables_in_a_whitespace_header(jacli: Invoke, tmp_path: Path) -> None:
    path = _write(tmp_path, "m.txt", "A[0,0] A[0,1] A[1,0] A[1,1] B[0,0] B[1,0]\n1 2 3 4 5 6\n")
    r = jacli("jacobian", "A@B", "--points", path, "--format", "json")
    assert r.exit_code == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["point"] == {"A": [[1.0, 2.0], [3.0, 4.0]], "B": [[5.0], [6.0]]}
    assert obj["value"] == [17.0, 39.0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x,y\n1,2\n3\n", "pts.csv:3: 1 value, expected 2 (x, y)"),  # ragged, short
        ("1,2\n# c\n\n3,4,5\n", "pts.csv:4: 3 values, expected 2"),  # ragged, long, after comments
        ("x,y\n1,2\n3,abc\n", "pts.csv:3:3: 'abc' is not a number"),  # text in numbers
        ("x y\n1 2\n3 4\n5  1..2\n", "pts.csv:4:4: '1..2' is not a number"),
        ("x,y\n1,\n", "pts.csv:2:3: an empty field"),
        ("x,y\n1,2\n\x00\x01\x02\n", "pts.csv:3: not a text file"),  # binary
        ("x,2y\n1,2\n", "pts.csv:1:3: '2y' is neither a number nor a variable name"),
        ("x,x\n1,2\n", "pts.csv:1: the header names 'x' twice"),
        ("x,z\n1,2\n", "pts.csv:1: the header names 'z', not a variable of the expression"),
        ("x\n1\n", "pts.csv: no column for 'y'"),
        ("1,2,3\n", "pts.csv:1: 3 columns but 2 expected (x, y)"),
    ],
)
def test_malformed_files_name_file_line_and_column(jacli: Invoke, tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, "pts.csv", text)
    r = jacli("gradient", "x*y", "--points", path, "--format", "csv")
    assert_usage_error(r)
    assert r.stderr.startswith(f"jacli: error: {path[: -len('pts.csv')]}{expected}"), r.stderr


def test_binary_and_non_utf8_files(jacli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"1,2\n3,4\n\xff\xfe\x00garbage" + bytes(range(256)))
    r = jacli("gradient", "x*y", "--points", str(path))
    assert_usage_error(r)
    assert f"{path}:3: not a text file" in r.stderr
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"x,y\n1,2\n3,\xe94\n")
    r = jacli("gradient", "x*y", "--points", str(latin))
    assert_usage_error(r)
    assert f"{latin}:3: not UTF-8 text" in r.stderr


def test_errors_deep_in_a_long_file_name_the_right_line(jacli: Invoke, tmp_path: Path) -> None:
    rows = [f"{i},{i + 1}" for i in range(5000)]
    rows[4321] = "7,seven"
    path = _write(tmp_path, "long.csv", "x,y\n" + "\n".join(rows) + "\n")
    r = jacli("gradient", "x*y", "--points", path, "--chunk-size", "100", "--format", "csv")
    assert r.exit_code == 2
    assert f"{path}:4323:3: 'seven' is not a number" in r.stderr


def test_point_option_errors(jacli: Invoke, tmp_path: Path) -> None:
    path = _write(tmp_path, "p.csv", "x\n1\n")
    assert_usage_error(jacli("gradient", "x", "--points", str(tmp_path / "missing.csv")))
    r = jacli("gradient", "a*x", "--points", path, "--at", "2")
    assert_usage_error(r)
    assert "by name" in r.stderr
    r = jacli("gradient", "a*x", "--points", path, "--at", "x=1, a=2")
    assert_usage_error(r)
    assert "'x' is both a column and given by --at" in r.stderr
    assert_usage_error(jacli("gradient", "x", "--points", path, "--format", "latex"))
    assert_usage_error(jacli("gradient", "x", "--points", path, "--exact"))
    assert_usage_error(jacli("gradient", "-", "--points", "-", input="1\n"))


def test_reader_api_raises_points_error() -> None:
    with pytest.raises(PointsError, match=r"pts:2: 1 value, expected 2"):
        _read(["1 2", "3"])


def test_matrix_variables_in_a_csv_header(jacli: Invoke, tmp_path: Path) -> None:
    path = _write(tmp_path, "m.csv", "A[0,0],A[0,1],A[1,0],A[1,1],B[0,0],B[1,0]\n1,2,3,4,5,6\n")
    r = jacli("jacobian", "A@B", "--points", path, "--format", "csv")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.split(",")[:6] == ["1.0", "2.0", "3.0", "4.0", "5.0", "6.0"]
