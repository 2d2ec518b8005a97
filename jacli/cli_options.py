"""The option types of ``jacli``'s commands: enums and Typer ``Annotated`` declarations (stdlib and Typer only).

:mod:`jacli.cli` builds its commands from these; every Tab press imports this module too.
"""

from __future__ import annotations

import enum
from typing import Annotated

from jacli.typer_compat import typer


class OutputFormat(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"
    latex = "latex"


class Dtype(str, enum.Enum):
    float64 = "float64"
    float32 = "float32"


class Device(str, enum.Enum):
    cpu = "cpu"
    cuda = "cuda"


class Mode(str, enum.Enum):
    auto = "auto"
    forward = "forward"
    reverse = "reverse"


ExprArg = Annotated[str, typer.Argument(help="The expression, or - to read it from stdin.", metavar="EXPR")]
AtOpt = Annotated[
    list[str] | None,
    typer.Option("--at", help="Point: '1,2' in variable order, or 'x=1, y=pi/4', 'A=[[1,2],[3,4]]'. May repeat."),
]
WrtOpt = Annotated[
    str | None, typer.Option("--wrt", help="Differentiate w.r.t. these variables, in this order: 'x,y'.")
]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
SymbolicOpt = Annotated[bool, typer.Option("--symbolic/--no-symbolic", help="Also derive the exact symbolic result.")]
ExactOpt = Annotated[bool, typer.Option("--exact", help="Evaluate the symbolic result exactly: 4/3, sqrt(2)/2.")]
DtypeOpt = Annotated[Dtype, typer.Option("--dtype", help="Floating-point type of the numbers.")]
DigitsOpt = Annotated[int, typer.Option("--digits", min=1, max=17, help="Significant digits in tables.")]
DeviceOpt = Annotated[Device, typer.Option("--device", help="Where torch computes.")]
ModeOpt = Annotated[Mode, typer.Option("--mode", help="auto: forward when fewer inputs than outputs.")]
VOpt = Annotated[str, typer.Option("--v", help="The vector v: '1,2', an array literal, or 'ones'.")]
ShowTorchOpt = Annotated[
    bool, typer.Option("--show-torch", help="Print a runnable PyTorch program for this result (instead of the result).")
]
PointsOpt = Annotated[
    str | None,
    typer.Option(
        "--points",
        metavar="FILE",
        help="Many points: CSV/TSV/whitespace rows, optional header naming variables; '-' reads stdin.",
    ),
]
ShapeOpt = Annotated[
    str | None,
    typer.Option("--shape", help="Array shapes without values (no --at: a symbolic answer): 'x=3, A=3x3', 'A=n x n'."),
]
SparseOpt = Annotated[
    bool, typer.Option("--sparse", help="Write only the nonzero entries: indices and values (JSON result_sparse, CSV).")
]
ChunkOpt = Annotated[int | None, typer.Option("--chunk-size", min=1, help="Points per vectorised chunk (--points).")]
PlotOpt = Annotated[
    str | None,
    typer.Option("--plot", metavar="FILE", help="Also draw the result to FILE.png or FILE.svg (needs jacli[plot])."),
]
OutputFileOpt = Annotated[
    str | None,
    typer.Option("--output", "-o", metavar="FILE", help="Write to FILE: .csv, .jsonl or .parquet (by its ending)."),
]
HeaderOpt = Annotated[
    bool, typer.Option("--header", help="CSV: a header row, one row per point (point, value, result).")
]


class CheckFormat(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"


class GraphFormat(str, enum.Enum):
    table = "table"
    json = "json"
    dot = "dot"


class GraphMode(str, enum.Enum):
    reverse = "reverse"
    forward = "forward"
