"""Start-up and exit: --help, --version and completion never import torch or SymPy;
the console entry ends quickly after torch without losing output or the exit status.

Every case runs in a fresh interpreter (``python -X importtime -m jacli …``),
the way a shell runs jacli at each Tab press. Timings live in bench/startup.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from jacli import cli

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "sympy", "numpy", "jacli.api", "jacli.language", "jacli.compile", "jacli.calculus")


def _command_paths(command: click.Command, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        paths += _command_paths(sub, (*prefix, name))
    return paths


HELP_CASES = [[*path, "--help"] for path in _command_paths(cli.click_command())]  # every command, server included
COMPLETION_REQUESTS = {
    "bash: jacli ja": {"_JACLI_COMPLETE": "complete_bash", "COMP_WORDS": "jacli ja", "COMP_CWORD": "1"},
    "bash: jacli jacobian --fo": {
        "_JACLI_COMPLETE": "complete_bash",
        "COMP_WORDS": "jacli jacobian --fo",
        "COMP_CWORD": "2",
    },
    "bash: jacli jacobian --format ": {
        "_JACLI_COMPLETE": "complete_bash",
        "COMP_WORDS": "jacli jacobian --format ",
        "COMP_CWORD": "3",
    },
    "bash: jacli hessian x --at 1 --": {
        "_JACLI_COMPLETE": "complete_bash",
        "COMP_WORDS": "jacli hessian x --at 1 --",
        "COMP_CWORD": "5",
    },
    "zsh: jacli jacobian --mode ": {
        "_JACLI_COMPLETE": "complete_zsh",
        "_TYPER_COMPLETE_ARGS": "jacli jacobian --mode ",
    },
    "fish: jacli ja": {
        "_JACLI_COMPLETE": "complete_fish",
        "_TYPER_COMPLETE_ARGS": "jacli ja",
        "_TYPER_COMPLETE_FISH_ACTION": "get-args",
    },
    "source_bash": {"_JACLI_COMPLETE": "source_bash"},
    "source_zsh": {"_JACLI_COMPLETE": "source_zsh"},
    "source_fish": {"_JACLI_COMPLETE": "source_fish"},
}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_JACLI", "COMP_", "_TYPER"))}
    env.pop("NO_COLOR", None)
    # JACLI_SERVER=off: the imports of this process are measured, not a warm server's
    return {**env, "PYTHONPATH": str(ROOT), "JACLI_SERVER": "off", **extra}


def _imported(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -X importtime -m jacli ARGS``; return the process and the modules it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "jacli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    modules.discard("package")  # the header line
    return done, modules


FUNCTION_TABLE = frozenset({"jacli.language", "jacli.language.functions"})
"""What `jacli language` imports of the language: the lazy package and its function table (no SymPy)."""


def _heavy(modules: set[str], allowed: frozenset[str] = frozenset()) -> list[str]:
    return sorted(m for m in modules - allowed if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_the_import_log_is_read() -> None:
    """The check below would pass vacuously if the log were empty: a real command does import torch."""
    done, modules = _imported(["gradient", "x*y", "--at", "1,2", "--format", "json"], _env())
    assert done.returncode == 0, done.stderr[-2000:]
    assert {"torch", "sympy", "jacli.api", "typer"} <= modules


@pytest.mark.parametrize("args", HELP_CASES, ids=" ".join)
def test_help_imports_no_torch_sympy_or_rich(args: list[str]) -> None:
    done, modules = _imported(args, _env())
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("Usage: jacli"), done.stdout
    assert _heavy(modules) == []
    # stdout is a pipe: Click's plain help, so Rich (≈100 ms of imports) is not loaded either
    assert not any(m == "rich" or m.startswith("rich.") for m in modules)


@pytest.mark.parametrize(
    ("args", "status"), [(["--version"], 0), (["language"], 0), ([], 2)], ids=["--version", "language", "no args"]
)
def test_version_language_and_bare_jacli_import_no_torch_or_sympy(args: list[str], status: int) -> None:
    done, modules = _imported(args, _env())
    assert done.returncode == status, done.stderr[-2000:]
    if status:  # bare `jacli`: a usage error, then the help, on stderr
        assert done.stdout == "" and "jacli: error: missing command" in done.stderr and "Usage: jacli" in done.stderr
    else:
        assert done.stdout.strip()
    assert _heavy(modules, FUNCTION_TABLE if args == ["language"] else frozenset()) == []
    assert not any(m == "mpmath" or m.startswith("mpmath.") for m in modules)


def test_the_language_page_is_generated_from_the_function_table() -> None:
    """`jacli language` reads the table's rows at run time, and still imports no SymPy."""
    done, modules = _imported(["language"], _env())
    assert done.returncode == 0 and "jacli.language.functions" in modules
    assert "  atan2(y, x)                     angle of the point (x, y)\n" in done.stdout


@pytest.mark.parametrize("name", list(COMPLETION_REQUESTS))
def test_completion_requests_import_no_torch_sympy_or_rich(name: str) -> None:
    done, modules = _imported([], _env(**COMPLETION_REQUESTS[name]))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip(), name
    assert _heavy(modules) == []
    assert not any(m == "rich" or m.startswith("rich.") for m in modules)


def test_show_completion_imports_no_torch_or_sympy() -> None:
    done, modules = _imported(["--show-completion", "bash"], _env(_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1"))
    assert done.returncode == 0 and "_jacli_completion" in done.stdout
    assert _heavy(modules) == []


# ---------------------------------------------------------------------------
# The quick exit in entry.main(): output complete, status kept, teardown skipped.
# ---------------------------------------------------------------------------

BIG = 300  # a 300×300 Jacobian: ~1.5 MB of JSON, far beyond any pipe or stdio buffer
BIG_ARGS = [
    "jacobian",
    "x*x",
    "--at",
    "x=[" + ",".join(str(i) for i in range(BIG)) + "]",
    "--format",
    "json",
    "--no-symbolic",
]


def _check_big_json(text: str) -> None:
    lines = text.splitlines()
    assert len(lines) == 1
    obj = json.loads(lines[0])
    result = obj["result"]
    assert len(result) == BIG and all(len(row) == BIG for row in result)
    assert [result[i][i] for i in range(BIG)] == [2.0 * i for i in range(BIG)]
    assert obj["value"][-1] == float((BIG - 1) ** 2)


def test_large_json_through_a_slow_pipe_is_complete(tmp_path: Path) -> None:
    """The reader starts late, so jacli blocks on a full pipe; os._exit must wait for every byte."""
    out = tmp_path / "out.json"
    quoted = " ".join("'" + a.replace("'", "'\\''") + "'" for a in BIG_ARGS)
    script = f"'{sys.executable}' -m jacli {quoted} | (sleep 1; cat > '{out}')"
    done = subprocess.run(["sh", "-c", script], env=_env(), capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 0 and done.stderr == "", done.stderr[-2000:]
    _check_big_json(out.read_text())


def test_large_json_to_a_file_is_complete(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    with out.open("w") as sink:
        done = subprocess.run(
            [sys.executable, "-m", "jacli", *BIG_ARGS],
            env=_env(),
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            check=False,
        )
    assert done.returncode == 0 and done.stderr == ""
    _check_big_json(out.read_text())


_WITH_ATEXIT = """\
import atexit, sys
atexit.register(lambda: print("TEARDOWN RAN", file=sys.stderr))
sys.argv = ["jacli", *sys.argv[1:]]
from jacli.entry import main
main()
"""


@pytest.mark.parametrize(
    ("args", "status", "torch_loaded"),
    [
        (["gradient", "x*y", "--at", "1,2", "--format", "csv"], 0, True),
        (["gradient", "x, y", "--at", "1,2"], 2, True),  # a usage error found after torch loaded
        (["--help"], 0, False),
        (["gradient", "x", "--at", "1", "--format", "xml"], 2, False),  # Click rejects it before any import
    ],
)
def test_main_exits_quickly_after_torch_and_keeps_the_status(args: list[str], status: int, torch_loaded: bool) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITH_ATEXIT, *args], env=_env(), capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == status, done.stderr[-2000:]
    assert done.stdout or done.stderr
    if status:
        assert done.stderr.startswith("jacli: error: ") and "Traceback" not in done.stderr
    # after torch, os._exit skips interpreter teardown (and atexit); without torch the exit is ordinary
    assert ("TEARDOWN RAN" in done.stderr) is not torch_loaded


def test_run_stays_an_ordinary_call(capsys: pytest.CaptureFixture[str]) -> None:
    """cli.run() returns the status in-process (the server and tests rely on it); only entry.main() exits."""
    assert cli.run(["gradient", "x*y", "--at", "1,2", "--format", "csv"]) == 0
    assert cli.run(["gradient", "x, y", "--at", "1,2"]) == 2
    captured = capsys.readouterr()
    assert [float(x) for x in captured.out.split(",")] == [2.0, 1.0]
    assert captured.err.startswith("jacli: error: ")


def test_a_one_shot_table_imports_no_sympy_units() -> None:
    """SymPy's pretty printer imports ``sympy.physics.units`` (0.15-1.4 s) to sort units: jacli has none."""
    done, modules = _imported(["jacobian", "x0*x1**2, sin(x0)/x1", "--at", "1,2"], _env())
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("jacobian of") and "symbolic" in done.stdout
    assert "sympy" in modules and not any(m.startswith("sympy.physics") for m in modules)


def test_pretty_printing_without_units_is_the_same_text() -> None:
    import sympy

    from jacli import pretty_print

    x, y = sympy.symbols("x y")
    exprs = [sympy.Matrix([[2 * x * y**2, x**2 / (1 + y)], [-3 * sympy.sin(x) * y, sympy.exp(-x) * y / 2]]),
             -x * y * sympy.Rational(2, 3), sympy.sqrt(2) * x / y]  # fmt: skip
    loaded = "sympy.physics.units" in sys.modules
    texts = [pretty_print.pretty(e) for e in exprs]
    assert ("sympy.physics.units" in sys.modules) == loaded  # the stand-in is gone again
    assert texts == [sympy.pretty(e, use_unicode=True) for e in exprs]  # the real printer (imports units)
    assert "sympy.physics.units" in sys.modules and pretty_print.pretty(exprs[0]) == texts[0]


COLD_SEED = ["jacobian", "2*x0+x1**2, x0**2+2*x1**3", "--at", "1,2"]
NOT_ON_THE_SEED_PATH = ("rich._emoji_codes", "jacli.matrix_results", "jacli.matrix_form", "jacli.matrix_expr",
                        "jacli.matrix_readback", "jacli.plot", "matplotlib",
                        "sympy.tensor.tensor", "sympy.combinatorics")  # fmt: skip
"""Issue 16's cold start: Rich's emoji table (a ~100k-line dict, only for ``:name:`` codes jacli never
prints) and the matrix-form modules (only for array variables) stay unloaded on a scalar problem; so do
SymPy's tensor algebra and combinatorics (~0.1 s), which the first ``Add`` a process makes imports (the
table's operation count adds integers, not SymPy symbols: :mod:`jacli.operation_count`)."""


@pytest.mark.parametrize("output", [[], ["--format", "json"]], ids=["table", "json"])
def test_a_cold_seed_jacobian_imports_only_what_its_answer_needs(output: list[str]) -> None:
    done, modules = _imported([*COLD_SEED, *output], _env())
    assert done.returncode == 0 and "jacli:" not in done.stderr, done.stderr[-2000:]
    assert done.stdout.startswith("jacobian of" if not output else "{")
    assert {"torch", "sympy", "jacli.evaluation"} <= modules  # the log was read
    assert ("rich.table" in modules) == (not output)  # JSON loads no Rich at all
    assert sorted(m for m in modules if m in NOT_ON_THE_SEED_PATH or m.startswith("matplotlib.")) == []


def test_an_array_variable_still_gets_its_matrix_form(jacli: Any) -> None:
    """The other side of the gate above: with an array the matrix form is derived and shown."""
    out = jacli("gradient", "sum(A*A)", "--at", "A=[[1,2],[3,4]]")
    assert out.exit_code == 0 and out.stdout.endswith("\nmatrix form  2*A\n"), out.stdout
    assert "jacli.matrix_form" in sys.modules
