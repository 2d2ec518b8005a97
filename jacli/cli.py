"""The ``jacli`` command: Typer declarations (the option set, the commands) over :mod:`jacli.api`.

Every Tab press runs this module, so at module level it imports only the
stdlib, Typer/Click (through :mod:`jacli.typer_compat`), :mod:`jacli.terminal`
and :mod:`jacli.errors`; torch, SymPy, Rich and the API are imported inside
command bodies. The run itself (streams, exit statuses, diagnostics) is
:func:`jacli.terminal.run`'s; this module hands it :func:`program`.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

from jacli import terminal, typer_compat
from jacli.cli_options import (
    AtOpt,
    CheckFormat,
    ChunkOpt,
    Device,
    DeviceOpt,
    DigitsOpt,
    Dtype,
    DtypeOpt,
    ExactOpt,
    ExprArg,
    FormatOpt,
    GraphFormat,
    GraphMode,
    HeaderOpt,
    Mode,
    ModeOpt,
    OutputFileOpt,
    OutputFormat,
    PlotOpt,
    PointsOpt,
    ShapeOpt,
    ShowTorchOpt,
    SparseOpt,
    SymbolicOpt,
    VOpt,
    WrtOpt,
)
from jacli.errors import UsageError
from jacli.quantities import QUANTITIES, Quantity
from jacli.server_commands import server_app
from jacli.terminal import color_wanted, read_expression
from jacli.typer_compat import click, typer

if TYPE_CHECKING:
    from rich.console import Console

    from jacli.results import Result

__all__ = ["app", "click_command", "program", "run", "stdout_console"]


def _version(value: bool) -> None:
    if value:
        from jacli import __version__  # noqa: PLC0415

        typer.echo(f"jacli {__version__}")
        raise typer.Exit()


# ---------------------------------------------------------------------------
# Colour: only on a terminal, unless --color/--no-color says otherwise.
# ---------------------------------------------------------------------------

COLOR_KEY = "jacli.color"  # ctx.meta: the --color/--no-color flag, None when not given


def stdout_console() -> Console:
    """A Rich console on stdout: colour only when :func:`color_wanted`, else no escape codes at all."""
    from rich.console import Console  # Rich loads only when a table is printed

    ctx = click.get_current_context(silent=True)
    if not color_wanted(ctx.meta.get(COLOR_KEY) if ctx is not None else None):
        return Console(highlight=False, color_system=None)
    # Forced into a pipe there is no terminal to ask: the 16 standard colours are understood everywhere.
    system = "auto" if sys.stdout.isatty() else "standard"
    return Console(highlight=False, force_terminal=True, no_color=False, color_system=system)


def _color(ctx: typer.Context, value: bool | None) -> bool | None:
    if value is not None:
        ctx.meta[COLOR_KEY] = value
        typer_compat.set_help_style(ctx.find_root().command, app.rich_markup_mode if value else None)
    return value


app = typer.Typer(
    name="jacli",
    cls=typer_compat.RootGroup,
    help="Jacobians, gradients, Hessians, VJPs and JVPs of typed expressions, at a point.",
    epilog=(
        'Example: jacli jacobian "2*x0+x1**2, x0**2+2*x1**3" --at 1,2\n\n'
        "The expression language: jacli language. Each command: jacli COMMAND --help."
    ),
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    color: Annotated[
        bool | None,
        typer.Option(
            "--color/--no-color",
            callback=_color,
            is_eager=True,
            show_default=False,
            help="Force colour on or off (default: on a terminal, unless NO_COLOR is set).",
        ),
    ] = None,
) -> None:
    """Jacobians, gradients, Hessians, VJPs and JVPs of typed expressions, at a point."""


# ---------------------------------------------------------------------------
# What command bodies report: thin names over jacli.terminal's one diagnostics path.
# ---------------------------------------------------------------------------


def _print_tables(results: Sequence[Any], render_one: Callable[..., None], digits: int) -> None:
    """Rich tables on stdout, one result after another, a blank line between them."""
    console = stdout_console()
    for index, result in enumerate(results):
        if index:
            console.print()
        render_one(result, console, digits)


def _emit(results: list[Result], output: OutputFormat, digits: int, *, sparse: bool = False) -> None:
    if sparse:
        from jacli.sparse_output import emit_sparse  # noqa: PLC0415

        emit_sparse(results, output.value, digits, stdout_console)
    elif output is OutputFormat.json:
        from jacli.render.json import render_json  # noqa: PLC0415

        for result in results:
            typer.echo(render_json(result))
    elif output is OutputFormat.csv:
        from jacli.render.csv import render_csv, render_csv_points  # noqa: PLC0415

        if (rows := _rows_sink()) is not None:  # --header or a .parquet file: one row per point
            rows.write_results(results)
        else:
            sys.stdout.write(render_csv(results[0]) if len(results) == 1 else render_csv_points(results))
    elif output is OutputFormat.latex:
        from jacli.render.latex import render_latex  # noqa: PLC0415

        for result in results:
            sys.stdout.write(render_latex(result))
    else:
        from jacli.render.table import render_table  # noqa: PLC0415

        _print_tables(results, render_table, digits)
    for result in results:
        if output is not OutputFormat.table:  # the table prints its notes itself
            for note in result.notes:
                terminal.note(note)
        if not result.finite:
            _warn_nonfinite_at(result.point)


def _run(
    quantity: Quantity, expr: str, at: list[str] | None, output: OutputFormat, digits: int, *,
    points: str | None, chunk_size: int | None, plot: str | None = None, **options: Any,
) -> None:  # fmt: skip
    """The quantity at each ``--at``, or vectorised and streamed (``--points``; several ``--at`` as json/csv)."""
    text = read_expression(expr)
    sparse = options.pop("sparse", False)
    if sparse:
        from jacli.sparse_output import refuse_many  # noqa: PLC0415

        refuse_many(points, at, output.value)
    elif _many_points(points, expr, at, output, options["exact"]):
        _run_points(quantity, text, at, output, digits=digits, points=points, chunk_size=chunk_size, options=options)
        return
    results = _at_each_point(
        text, at, options.get("wrt"), lambda point: _api().evaluate_at(quantity, text, point, **options)
    )
    if plot is not None:  # drawn before the output, so a failed picture loses no output already shown
        _plot().draw(results[0], plot)
    _emit(results, output, digits, sparse=sparse)


def _at_each_point(text: str, at: list[str] | None, wrt: Any, compute: Callable[[Any], Any]) -> list[Any]:
    """``compute(point)`` for every ``--at`` (one point without any), after ALL were validated:
    a bad last ``--at`` is refused before any work is done."""
    points = at or [None]
    if at:  # no --at: a quantity's symbolic answer (check and graph refuse it when they compute)
        _api().validate_points(text, points, wrt=wrt)
    return [compute(point) for point in points]


def _many_points(points: str | None, expr: str, at: list[str] | None, output: OutputFormat, exact: bool) -> bool:
    """``--points``, or several ``--at`` with json/csv output: the vectorised, streamed path."""
    if points is None:
        return bool(at) and len(at) > 1 and output in (OutputFormat.json, OutputFormat.csv) and not exact
    if output is OutputFormat.latex:
        raise UsageError("--format latex shows one point; with --points use table, json or csv")
    if exact:
        raise UsageError("--exact evaluates one point at a time; drop it with --points (or use --at)")
    if points == "-" and expr == "-":
        raise UsageError("the expression and --points cannot both come from stdin; put one in a file")
    if points == "-" and sys.stdin is None:
        raise UsageError("stdin is closed: give --points a file, or redirect one: --points - < FILE")
    return True


@contextmanager
def _progress(source: Any) -> Iterator[Callable[[], None] | None]:
    """A Rich progress bar on stderr for a points file of known size, when stderr is a terminal.

    The bar never touches stdout: Rich's default ``redirect_stdout`` would send
    the data through this stderr console while the bar is live (``> out.csv``
    then stays empty). It is transient, so it leaves no line behind, and when
    stdout is a terminal too it is taken away before the first data appears.
    """
    if source is None or not source.size or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    progress = Progress(console=Console(stderr=True), transient=True, redirect_stdout=False, redirect_stderr=False)
    stdout = sys.stdout
    with progress:
        if isinstance(stdout, terminal.Channel) and stdout.isatty():
            stdout.before_write = progress.stop
        task = progress.add_task("points", total=source.size)
        try:
            yield lambda: progress.update(task, completed=source.bytes_read)
        finally:
            if isinstance(stdout, terminal.Channel):
                stdout.before_write = None


def _run_points(
    quantity: Quantity, text: str, at: list[str] | None, output: OutputFormat, *,
    digits: int, points: str | None, chunk_size: int | None, options: Any,
) -> None:  # fmt: skip
    """Many points: the vectorised evaluation, written chunk by chunk as it computes."""
    from jacli.render.points import write_points  # noqa: PLC0415

    options = {k: v for k, v in options.items() if k != "exact"}
    if points is not None:
        fixed = ", ".join(at) if at else None
    else:
        points, fixed = at, None
    evaluation = _api().evaluate(quantity, text, points, at=fixed, chunk_size=chunk_size, **options)
    if evaluation.present is not None:  # each point shown as a result of its own (a Taylor polynomial is text)
        return _emit_each(evaluation, output, digits)
    console = stdout_console() if output is OutputFormat.table else None
    try:
        with _progress(evaluation.source) as on_chunk:
            if output is OutputFormat.csv and (rows := _rows_sink()) is not None:
                summary = rows.write_points(evaluation, on_chunk)
            else:
                summary = write_points(
                    evaluation, output.value, sys.stdout, digits=digits, console=console, on_chunk=on_chunk
                )
    finally:
        evaluation.chunks.close()  # stops reading (table output stops early) and closes the file
    if evaluation.symbolic_note:
        terminal.warn(evaluation.symbolic_note)
    if summary.nonfinite:
        terminal.nonfinite(summary.first_nonfinite, count=summary.nonfinite, total=summary.points)


def _emit_each(evaluation: Any, output: OutputFormat, digits: int) -> None:
    """The points of an evaluation as results of their own, written as each chunk finishes."""
    from jacli.higher import results_at_points  # noqa: PLC0415

    try:
        first = True
        for result in results_at_points(evaluation):
            if output is OutputFormat.csv and (rows := _rows_sink()) is not None:
                rows.write_results([result])
            elif output is OutputFormat.csv:
                from jacli.render.csv import render_csv_points  # noqa: PLC0415

                sys.stdout.write(render_csv_points([result]))
            elif output is OutputFormat.table and not first:
                stdout_console().print()
                _emit([result], output, digits)
            else:
                _emit([result], output, digits)
            first = False
    finally:
        evaluation.chunks.close()
    if evaluation.symbolic_note:
        terminal.warn(evaluation.symbolic_note)


def _plot() -> Any:
    from jacli import plot  # noqa: PLC0415 - matplotlib only for --plot

    return plot


def _api() -> Any:
    from jacli.collector import imported  # noqa: PLC0415

    return imported("jacli.api")


def _rows_sink() -> Any:
    from jacli.data_output import rows_sink  # noqa: PLC0415

    return rows_sink()


# ---------------------------------------------------------------------------
# Commands.
# ---------------------------------------------------------------------------


def _quantity_command(quantity: Quantity) -> None:
    """Register ``jacli NAME`` for a quantity: the shared options, and ``--v``/``--mode`` where it takes them.

    The signature is built here (Typer reads it): EXPR, [--v], --at, --points, --chunk-size,
    --wrt, [--mode], --format, --symbolic, --exact, --dtype, --device, --digits, --show-torch.
    """
    required = inspect.Parameter.empty
    declared: list[tuple[str, Any, Any]] = [("expr", ExprArg, required)]
    if quantity.weights is not None:
        declared.append(("v", VOpt, required))
    declared += [
        ("at", AtOpt, None),
        ("points", PointsOpt, None),
        ("chunk_size", ChunkOpt, None),
        ("wrt", WrtOpt, None),
        ("shape", ShapeOpt, None),
    ]
    if quantity.modes:
        declared.append(("mode", ModeOpt, Mode.auto))
    for option in quantity.options:  # its parameters (--order K), read and checked by the API
        hint = Annotated[str | None, typer.Option(option.flag, metavar="K", help=option.help)]
        declared.append((option.name, hint, None))
    declared += [
        ("output", FormatOpt, OutputFormat.table), ("output_file", OutputFileOpt, None), ("header", HeaderOpt, False),
        ("symbolic", SymbolicOpt, True), ("exact", ExactOpt, False),
        ("dtype", DtypeOpt, Dtype.float64), ("device", DeviceOpt, Device.cpu), ("digits", DigitsOpt, 6),
        ("show_torch", ShowTorchOpt, False), ("plot", PlotOpt, None),
    ]  # fmt: skip
    declared.append(("sparse", SparseOpt, False))

    def command(**given: Any) -> None:
        parameters = {option.name: given.pop(option.name) for option in quantity.options}
        _run_quantity(quantity, **given, options=parameters or None)

    command.__name__ = command.__qualname__ = quantity.name
    command.__doc__ = quantity.help
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [inspect.Parameter(name, kind, default=default, annotation=hint) for name, hint, default in declared]
    command.__signature__ = inspect.Signature(parameters, return_annotation=None)  # type: ignore[attr-defined]
    command.__annotations__ = {name: hint for name, hint, _ in declared}
    app.command(quantity.name, epilog=f"Example: jacli {quantity.name} {quantity.example}")(command)


def _run_quantity(
    quantity: Quantity, *, expr: str, at: list[str] | None, points: str | None, chunk_size: int | None,
    wrt: str | None, output: OutputFormat, symbolic: bool, exact: bool, dtype: Dtype, device: Device,
    digits: int, show_torch: bool, v: str = "ones", mode: Mode = Mode.auto, options: dict[str, Any] | None = None,
    output_file: str | None = None, header: bool = False, plot: str | None = None, shape: str | None = None,
    sparse: bool = False,
) -> None:  # fmt: skip
    if not at and points is None and output is OutputFormat.csv:  # issue 15: no point, no numbers
        raise UsageError("--format csv writes numbers, and without --at there are none; use table, json or latex")
    if show_torch and not at and points is None:
        raise UsageError("--show-torch prints a program that runs at a point: give --at")
    if shape is not None and (show_torch or points is not None):
        raise UsageError("--shape gives shapes without values: use it without --points and --show-torch")
    given = {"shape": shape} if shape is not None else {}
    if plot is not None:
        _plot().check_request(plot, at, points, show_torch)
    if show_torch and (output_file is not None or header):
        raise UsageError("--show-torch prints a program instead of the result; drop --output and --header")
    if show_torch:
        given_v = v if quantity.weights is not None else None
        return _show_torch(quantity, expr, at, output, points, given_v, wrt=wrt, mode=mode.value, dtype=dtype.value,
                           options=options)  # fmt: skip
    from jacli.data_output import destination  # noqa: PLC0415 - --output FILE, --header (issue 17)

    with destination(output_file, output.value, header) as written:  # the format the file's ending names
        _run(quantity, expr, at, OutputFormat(written), digits, points=points, chunk_size=chunk_size, v=v, wrt=wrt,
             mode=mode.value, dtype=dtype.value, device=device.value, symbolic_form=symbolic, exact=exact,
             options=options, plot=plot, **given,
             **({"sparse": True} if sparse else {}))  # fmt: skip


for _quantity in QUANTITIES.values():
    _quantity_command(_quantity)


# -- check, graph and --show-torch (how derivatives are computed, made visible) ----------


def _show_torch(
    quantity: Quantity,
    expr: str,
    at: list[str] | None,
    output: OutputFormat,
    points: str | None,
    v: str | None,
    **options: Any,
) -> None:
    """``--show-torch``: the PyTorch program on stdout *instead of* the result, so it can be saved and run."""
    if output is not OutputFormat.table:
        raise UsageError(f"--show-torch prints a program instead of the result; drop --format {output.value}")
    if points is not None or (at and len(at) > 1):
        raise UsageError("--show-torch shows one point; give one --at")
    text = read_expression(expr)
    line = f"jacli {quantity.name} {_quote(text)}" + (f" --at {_quote(at[0])}" if at else "")
    if v is not None:
        line += f" --v {_quote(v)}"
    for name, value in (options.get("options") or {}).items():
        if value is not None:
            line += f" --{name.replace('_', '-')} {_quote(str(value))}"
    program = _api().torch_program(
        quantity, text, at[0] if at else None, "ones" if v is None else v, command_line=line, **options
    )
    sys.stdout.write(program)


def _quote(text: str) -> str:
    import shlex  # noqa: PLC0415

    return shlex.quote(" ".join(text.split()))


@app.command(epilog='Example: jacli check "abs(x - 1) + x**2" --at x=1   (exits 1: not differentiable there)')
def check(
    expr: ExprArg,
    at: AtOpt = None,
    points: PointsOpt = None,
    wrt: WrtOpt = None,
    h: Annotated[
        float | None, typer.Option("--h", help="Finite-difference step (absolute). [default: ε^(1/3)·max(1,|x|)]")
    ] = None,
    richardson: Annotated[
        bool, typer.Option("--richardson", help="Richardson extrapolation: (4·D(h/2) - D(h))/3, error O(h⁴).")
    ] = False,
    rtol: Annotated[float | None, typer.Option("--rtol", help="Relative tolerance [1e-7; float32: 1e-3].")] = None,
    atol: Annotated[float | None, typer.Option("--atol", help="Absolute tolerance [1e-9; float32: 1e-5].")] = None,
    mode: ModeOpt = Mode.auto,
    output: Annotated[CheckFormat, typer.Option("--format", "-f", help="Output format.")] = CheckFormat.table,
    dtype: DtypeOpt = Dtype.float64,
    device: DeviceOpt = Device.cpu,
    digits: DigitsOpt = 6,
) -> None:
    """Check autodiff against the exact symbolic derivative and finite differences; exit 1 on disagreement.

    Also exits 1 where the function is not differentiable (abs at 0, a tie in max/min,
    a where on its boundary, floor at an integer), naming the non-smooth sub-expression.
    With several --at or --points: one verdict per point, exit 1 if any fails.
    """
    from jacli.errors import CheckFailed  # noqa: PLC0415
    from jacli.render.check import write_check  # noqa: PLC0415

    if points == "-" and expr == "-":
        raise UsageError("the expression and --points cannot both come from stdin; put one in a file")
    text = read_expression(expr)
    options = {"wrt": wrt, "h": h, "richardson": richardson, "rtol": rtol, "atol": atol, "mode": mode.value,
               "dtype": dtype.value, "device": device.value}  # fmt: skip
    if points is None:  # every --at validated, then all computed, before any is shown
        results = _at_each_point(text, at, wrt, lambda point: _api().check(text, point, **options))
    else:  # the file read through (and validated) first, then each point shown as it is checked
        results = _api().check_points(text, points, at=", ".join(at) if at else None, **options)
    console = stdout_console() if output is CheckFormat.table else None
    failed = None
    for index, result in enumerate(results):
        write_check(result, output.value, sys.stdout, console=console, digits=digits, first=index == 0)
        if output is not CheckFormat.table:  # the table prints its notes itself
            for note in result.notes:
                terminal.note(note)
        _warn_nonfinite(result.point, [*result.value, *_leaves(result.autodiff)])
        if failed is None and not result.ok:
            failed = result
    if failed is not None:
        point = ", ".join(f"{k}={v}" for k, v in failed.point.items())
        raise CheckFailed(f"check failed at {point}: {failed.verdict}")


@app.command(epilog='Example: jacli graph "(a+b)*(b+1)" --at "a=2, b=1" --format dot | dot -Tsvg > graph.svg')
def graph(
    expr: ExprArg,
    at: AtOpt = None,
    v: Annotated[
        str | None,
        typer.Option("--v", help="Seed. Reverse mode: weights of the outputs (a VJP); forward: an input direction."),
    ] = None,
    wrt: WrtOpt = None,
    mode: Annotated[
        GraphMode, typer.Option("--mode", help="reverse: adjoints ∂f/∂node; forward: tangents ∂node/∂x.")
    ] = GraphMode.reverse,
    input_name: Annotated[
        str | None, typer.Option("--input", help="Forward mode: the input x of ∂node/∂x (default: the first).")
    ] = None,
    output: Annotated[GraphFormat, typer.Option("--format", "-f", help="Output format.")] = GraphFormat.table,
    dtype: DtypeOpt = Dtype.float64,
    digits: DigitsOpt = 6,
    plot: Annotated[
        str | None,
        typer.Option("--plot", metavar="FILE", help="Also draw the graph to FILE.png or FILE.svg (Graphviz)."),
    ] = None,
) -> None:
    """The computation graph at a point: each node's operation, value and adjoint; local partials on the edges.

    Let-bindings name their nodes; other nodes get letters the expression does not use.
    """
    text = read_expression(expr)
    results = _at_each_point(
        text, at, wrt, lambda point: _api().graph(
            text, point, v, wrt=wrt, mode=mode.value, input=input_name, dtype=dtype.value)
    )  # fmt: skip
    from jacli.render.graph import write_graph  # noqa: PLC0415

    if plot is not None:
        _plot().draw_graph(results, plot)
    console = stdout_console() if output is GraphFormat.table else None
    for index, result in enumerate(results):
        write_graph(result, output.value, sys.stdout, console=console, digits=digits, first=index == 0)
    for result in results:
        outputs = [n for n in result.nodes if n.output]
        numbers = [n.value for n in outputs] + [n.adjoint for n in result.nodes if n.op == "input"]
        _warn_nonfinite(result.point, numbers + [n.tangent for n in outputs if n.tangent is not None])


def _leaves(nested: Any) -> list[float]:
    return [x for item in nested for x in _leaves(item)] if isinstance(nested, list) else [nested]


def _warn_nonfinite(point: dict[str, Any], numbers: list[float]) -> None:
    import math  # noqa: PLC0415

    if not all(math.isfinite(x) for x in numbers):
        _warn_nonfinite_at(point)


def _warn_nonfinite_at(point: dict[str, Any]) -> None:
    terminal.nonfinite(point)


@app.command(epilog="Example: jacli language | less")
def language() -> None:
    """The expression language: operators, functions, arrays, bindings, variables."""
    from jacli.language.functions import reference_page  # the table's text: no SymPy  # noqa: PLC0415

    typer.echo(reference_page(), nl=False)


app.add_typer(server_app, name="server")  # jacli server start|stop|status (jacli/server_commands.py)


# ---------------------------------------------------------------------------
# The program the funnel runs.
# ---------------------------------------------------------------------------


_BUILT: dict[bool, click.Command] = {}
"""The warm server's two trees (colour or not), built before it forks children that run one command each."""


def click_command(args: Sequence[str] = ()) -> click.Command:
    """The Click command tree of :data:`app`, help styled for where stdout goes: built afresh, or the server's.

    Built afresh for ``jacli NAME …``, the root holds only that command (all such a run can reach).
    """
    colour = color_wanted()
    built = _BUILT.get(colour)
    return built or _build_click_command(colour, typer_compat.with_one_command(app, args[0]) if args else None)


def _build_click_command(colour: bool, source: typer.Typer | None = None) -> click.Command:
    command = typer.main.get_command(source or app)  # this also registers Typer's completion classes
    typer_compat.completion_without_rich()
    typer_compat.restore_argument_help(command)
    if not colour:
        typer_compat.set_help_style(command, None)
    return command


def build_click_commands_once() -> None:
    """For the warm server: Typer rebuilds the tree on every run (a third of a warm command); do it once here."""
    _BUILT.update({colour: _build_click_command(colour) for colour in (False, True)})


def program(args: list[str]) -> Any:
    """``jacli ARGS`` itself: a completion request, or the command line; raises what went wrong."""
    if typer_compat.completion_option(args):
        return typer_compat.completion_request(args)
    return typer_compat.main(click_command(args), args)


def run(argv: Sequence[str] | None = None, env: terminal.Environment | None = None) -> int:
    """Run ``jacli ARGV`` in-process through the one funnel (:func:`jacli.terminal.run`); its exit status."""
    return terminal.run(sys.argv[1:] if argv is None else argv, env, program=program)
