"""The ``jacli`` command: read flags, call :mod:`jacli.api`, pick a renderer, map errors.

Every Tab press runs this module, so at module level it imports only the
stdlib, Typer/Click and :mod:`jacli.errors`; torch, SymPy, Rich and the API are
imported inside command bodies.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer

from jacli.errors import ExitCode, ExpressionError, JacliError, UsageError

if TYPE_CHECKING:
    from jacli.results import Result


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


LANGUAGE_HELP = """\
Expression language (see also: jacli language)

  components   2*x0+x1**2, x0**2+2*x1**3   (optional [ ]; nested [[..]] for arrays)
  operators    + - * / ** ^ (power), unary -, @ (matrix product), ( )
  numbers      2  0.5  1e-3   constants pi, e
  functions    sin cos tan asin acos atan atan2 sinh cosh tanh exp log log(x, b)
               log2 log10 sqrt abs sign min max floor ceil erf sigmoid softplus relu
               where(cond, a, b)  detach(e)  sum(v)  dot(a, b)  a[0]  A[1,2]
  bindings     c = a+b; d = b+1; c*d     (';' or newlines; the last line is the output)
  variables    every other name, in natural order (x2 before x10); --wrt picks them
"""

ExprArg = Annotated[str, typer.Argument(help="The expression, or - to read it from stdin.", metavar="EXPR")]
AtOpt = Annotated[
    list[str] | None,
    typer.Option("--at", help="Point: '1,2' in variable order, or 'x=1, y=pi/4', 'A=[[1,2],[3,4]]'. May repeat."),
]
WrtOpt = Annotated[str | None, typer.Option("--wrt", help="Differentiate w.r.t. these variables, in this order: 'x,y'.")]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
SymbolicOpt = Annotated[bool, typer.Option("--symbolic/--no-symbolic", help="Also derive the exact symbolic result.")]
ExactOpt = Annotated[bool, typer.Option("--exact", help="Evaluate the symbolic result exactly: 4/3, sqrt(2)/2.")]
DtypeOpt = Annotated[Dtype, typer.Option("--dtype", help="Floating-point type of the numbers.")]
DigitsOpt = Annotated[int, typer.Option("--digits", min=1, max=17, help="Significant digits in tables.")]
DeviceOpt = Annotated[Device, typer.Option("--device", help="Where torch computes.")]
ModeOpt = Annotated[Mode, typer.Option("--mode", help="auto: forward when fewer inputs than outputs.")]
VOpt = Annotated[str, typer.Option("--v", help="The vector v: '1,2', an array literal, or 'ones'.")]


def _version(value: bool) -> None:
    if value:
        from jacli import __version__  # noqa: PLC0415

        typer.echo(f"jacli {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="jacli",
    help="Jacobians, gradients, Hessians, VJPs and JVPs of typed expressions, at a point.",
    epilog='Example: jacli jacobian "2*x0+x1**2, x0**2+2*x1**3" --at 1,2',
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Jacobians, gradients, Hessians, VJPs and JVPs of typed expressions, at a point."""


# ---------------------------------------------------------------------------
# Error funnel and output.
# ---------------------------------------------------------------------------


def _error(message: str, extra: Sequence[str] = ()) -> None:
    typer.echo(f"jacli: error: {message}", err=True)
    for line in extra:
        typer.echo(line, err=True)


def warn(message: str) -> None:
    """A one-line warning on stderr."""
    typer.echo(f"jacli: warning: {message}", err=True)


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn every :class:`JacliError` into ``jacli: error: …`` and its exit status."""
    try:
        yield
    except JacliError as err:
        _error(str(err), err.caret_lines() if isinstance(err, ExpressionError) else ())
        raise typer.Exit(err.exit_code) from None
    except RecursionError:
        _error("the expression is nested too deeply to differentiate")
        raise typer.Exit(ExitCode.USAGE) from None


def read_expression(expr: str) -> str:
    """``-`` reads the expression from stdin."""
    if expr != "-":
        return expr
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UsageError(f"stdin is not UTF-8 text (byte {err.start + 1})") from None


def _emit(results: list[Result], output: OutputFormat, digits: int) -> None:
    if output is OutputFormat.json:
        from jacli.render.json import render_json  # noqa: PLC0415

        for result in results:
            typer.echo(render_json(result))
    elif output is OutputFormat.csv:
        from jacli.render.csv import render_csv, render_csv_points  # noqa: PLC0415

        text = render_csv(results[0]) if len(results) == 1 else render_csv_points(results)
        sys.stdout.write(text)
    elif output is OutputFormat.latex:
        from jacli.render.latex import render_latex  # noqa: PLC0415

        for result in results:
            sys.stdout.write(render_latex(result))
    else:
        from rich.console import Console  # noqa: PLC0415

        from jacli.render.table import render_table  # noqa: PLC0415

        console = Console(highlight=False)
        for index, result in enumerate(results):
            if index:
                console.print()
            render_table(result, console, digits)
    for result in results:
        if not result.finite:
            point = ", ".join(f"{k}={v}" for k, v in result.point.items())
            warn(f"non-finite values (nan/inf) at {point}: the point may be outside the function's domain")


def _run(compute: Callable[..., Result], expr: str, at: list[str] | None, output: OutputFormat, digits: int, **kwargs: Any) -> None:
    with reported_errors():
        text = read_expression(expr)
        points = at or [None]
        results = [compute(text, point, **kwargs) for point in points]
        _emit(results, output, digits)


def _api() -> Any:
    from jacli import api  # noqa: PLC0415 - torch and SymPy load here, not on --help

    return api


# ---------------------------------------------------------------------------
# Commands.
# ---------------------------------------------------------------------------


@app.command(epilog='Example: jacli jacobian "2*x0+x1**2, x0**2+2*x1**3" --at 1,2')
def jacobian(
    expr: ExprArg,
    at: AtOpt = None,
    wrt: WrtOpt = None,
    mode: ModeOpt = Mode.auto,
    output: FormatOpt = OutputFormat.table,
    symbolic: SymbolicOpt = True,
    exact: ExactOpt = False,
    dtype: DtypeOpt = Dtype.float64,
    device: DeviceOpt = Device.cpu,
    digits: DigitsOpt = 6,
) -> None:
    """Jacobian matrix (m×n: outputs × inputs) at a point."""
    _run(_api().jacobian, expr, at, output, digits, wrt=wrt, mode=mode.value, dtype=dtype.value,
         device=device.value, symbolic_form=symbolic, exact=exact)  # fmt: skip


@app.command(epilog='Example: jacli gradient "x1**2 + x2**3 + x3**4" --at 1,2,3')
def gradient(
    expr: ExprArg,
    at: AtOpt = None,
    wrt: WrtOpt = None,
    output: FormatOpt = OutputFormat.table,
    symbolic: SymbolicOpt = True,
    exact: ExactOpt = False,
    dtype: DtypeOpt = Dtype.float64,
    device: DeviceOpt = Device.cpu,
    digits: DigitsOpt = 6,
) -> None:
    """Gradient (n-vector) of a scalar expression at a point."""
    _run(_api().gradient, expr, at, output, digits, wrt=wrt, dtype=dtype.value, device=device.value,
         symbolic_form=symbolic, exact=exact)  # fmt: skip


@app.command(epilog='Example: jacli hessian "x0**2*x1, x0*x1**3" --at 1,2')
def hessian(
    expr: ExprArg,
    at: AtOpt = None,
    wrt: WrtOpt = None,
    output: FormatOpt = OutputFormat.table,
    symbolic: SymbolicOpt = True,
    exact: ExactOpt = False,
    dtype: DtypeOpt = Dtype.float64,
    device: DeviceOpt = Device.cpu,
    digits: DigitsOpt = 6,
) -> None:
    """Hessian at a point: n×n for a scalar expression, m×n×n for a vector-valued one."""
    _run(_api().hessian, expr, at, output, digits, wrt=wrt, dtype=dtype.value, device=device.value,
         symbolic_form=symbolic, exact=exact)  # fmt: skip


@app.command(epilog='Example: jacli vjp "2*x0+x1**2, x0**2+2*x1**3" --at 1,2 --v 1,2')
def vjp(
    expr: ExprArg,
    v: VOpt,
    at: AtOpt = None,
    wrt: WrtOpt = None,
    output: FormatOpt = OutputFormat.table,
    symbolic: SymbolicOpt = True,
    exact: ExactOpt = False,
    dtype: DtypeOpt = Dtype.float64,
    device: DeviceOpt = Device.cpu,
    digits: DigitsOpt = 6,
) -> None:
    """Vector-Jacobian product vᵀJ (reverse mode; v has one entry per output)."""
    _run(lambda text, point, **kw: _api().vjp(text, point, v, **kw), expr, at, output, digits, wrt=wrt,
         dtype=dtype.value, device=device.value, symbolic_form=symbolic, exact=exact)  # fmt: skip


@app.command(epilog='Example: jacli jvp "2*x0+x1**2, x0**2+2*x1**3" --at 1,2 --v 1,0')
def jvp(
    expr: ExprArg,
    v: VOpt,
    at: AtOpt = None,
    wrt: WrtOpt = None,
    output: FormatOpt = OutputFormat.table,
    symbolic: SymbolicOpt = True,
    exact: ExactOpt = False,
    dtype: DtypeOpt = Dtype.float64,
    device: DeviceOpt = Device.cpu,
    digits: DigitsOpt = 6,
) -> None:
    """Jacobian-vector product J·v (forward mode; v has one entry per input)."""
    _run(lambda text, point, **kw: _api().jvp(text, point, v, **kw), expr, at, output, digits, wrt=wrt,
         dtype=dtype.value, device=device.value, symbolic_form=symbolic, exact=exact)  # fmt: skip


@app.command()
def language() -> None:
    """The expression language: operators, functions, bindings, variables."""
    typer.echo(LANGUAGE_HELP, nl=False)


# ---------------------------------------------------------------------------
# Entry points.
# ---------------------------------------------------------------------------


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` and return its exit status (never raises for user errors)."""
    command = typer.main.get_command(app)
    try:
        status = command.main(args=list(argv) if argv is not None else None, prog_name="jacli", standalone_mode=False)
    except click.UsageError as err:
        hint = f"\nTry '{err.ctx.command_path} --help' for help." if err.ctx is not None else ""
        _error(err.format_message() + hint)
        return ExitCode.USAGE
    except click.ClickException as err:
        _error(err.format_message())
        return ExitCode.USAGE
    except (click.Abort, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    return status if isinstance(status, int) else ExitCode.OK


def main() -> None:
    """Console-script entry point."""
    sys.exit(run(sys.argv[1:]))
