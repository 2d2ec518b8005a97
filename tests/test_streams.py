"""Nothing lost on the way out: every output channel either takes all the data or jacli says so.

A matrix runs ``python -m jacli`` with stdout on /dev/full, closed, or a pipe whose
reader has left, for every output format; stderr on /dev/full; stdin closed or
endless. Under a real pseudo-terminal the progress bar stays on stderr, off the
data. Unit tests pin :class:`jacli.terminal.Channel` (short writes, EPIPE, ENOSPC).
"""

from __future__ import annotations

import errno
import io
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke, invoke_cli, read_pty

from jacli import cli, terminal
from jacli.errors import ExitCode, OutputError

ROOT = Path(__file__).resolve().parent.parent
SEED = "2*x0+x1**2, x0**2+2*x1**3"
NO_SPACE = "jacli: error: cannot write output: No space left on device\n"
CLOSED = "jacli: error: cannot write output: stdout is closed\n"


def _env(**extra: str) -> dict[str, str]:
    hidden = ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "TERM", "PYTHONWARNINGS", "PYTHONIOENCODING")
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    # JACLI_SERVER=off: this process's own streams, not a warm server's
    return {**env, "PYTHONPATH": str(ROOT), "JACLI_SERVER": "off", **extra}


def _jacli(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    kwargs.setdefault("env", _env())
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([sys.executable, "-m", "jacli", *args], cwd=ROOT, timeout=120, check=False, **kwargs)


@pytest.fixture(scope="module")
def points_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("points") / "small.csv"
    path.write_text("x0,x1\n" + "".join(f"{i},{i + 1}\n" for i in range(50)))
    return path


# ---------------------------------------------------------------------------
# The channel matrix: each format x {/dev/full, closed stdout, a reader that left}.
# ---------------------------------------------------------------------------

ONE_POINT = ["jacobian", SEED, "--at", "1,2"]
OUTPUTS = {
    "table": [*ONE_POINT],
    "json": [*ONE_POINT, "--format", "json"],
    "csv": [*ONE_POINT, "--format", "csv"],
    "latex": [*ONE_POINT, "--format", "latex"],
    "check-json": ["check", "x*y", "--at", "1,2", "--format", "json"],
    "graph-dot": ["graph", "x*y", "--at", "1,2", "--format", "dot"],
    "show-torch": ["gradient", "x*y", "--at", "1,2", "--show-torch"],
    "language": ["language"],
    "help": ["jacobian", "--help"],
}
POINTS_OUTPUTS = ["table", "json", "csv"]


def _closed_stdout() -> None:
    os.close(1)


def _run_into(channel: str, args: list[str]) -> subprocess.CompletedProcess[bytes]:
    """``jacli ARGS`` with stdout on ``channel``; stderr captured."""
    if channel == "full":
        with open("/dev/full", "wb") as full:
            return _jacli(args, stdout=full, stderr=subprocess.PIPE)
    if channel == "closed":
        return _jacli(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_closed_stdout)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader left before the first byte, as in `jacli … | true`
    try:
        return _jacli(args, stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)


EXPECTED = {"full": (ExitCode.USAGE, NO_SPACE), "closed": (ExitCode.USAGE, CLOSED), "gone": (141, "")}


@pytest.mark.slow
@pytest.mark.parametrize("channel", ["full", "closed", "gone"])
@pytest.mark.parametrize("output", list(OUTPUTS))
def test_a_failed_stdout_is_never_a_success(output: str, channel: str) -> None:
    done = _run_into(channel, OUTPUTS[output])
    assert (done.returncode, done.stderr.decode()) == EXPECTED[channel]


@pytest.mark.slow
@pytest.mark.parametrize("channel", ["full", "closed", "gone"])
@pytest.mark.parametrize("output", POINTS_OUTPUTS)
def test_a_failed_stdout_is_never_a_success_with_points(output: str, channel: str, points_file: Path) -> None:
    done = _run_into(channel, ["jacobian", SEED, "--points", str(points_file), "--format", output])
    assert (done.returncode, done.stderr.decode()) == EXPECTED[channel]


@pytest.mark.slow
def test_a_reader_that_leaves_mid_line_is_a_broken_pipe_not_a_success() -> None:
    """`| head -c 10` on one 2 MB JSON line: Python's TextIOWrapper dropped the short write and exited 0."""
    big = "x=[" + ",".join(str(i) for i in range(500)) + "]"
    args = [sys.executable, "-m", "jacli", "jacobian", "x*x", "--at", big, "--format", "json", "--no-symbolic"]
    writer = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), cwd=ROOT)
    assert writer.stdout is not None and writer.stderr is not None
    head = subprocess.run(["head", "-c", "10"], stdin=writer.stdout, capture_output=True, check=False, timeout=120)
    writer.stdout.close()
    assert writer.wait(timeout=120) == 141
    with writer.stderr:
        assert writer.stderr.read() == b""
    assert head.stdout == b'{"command"'


@pytest.mark.slow
def test_stdout_to_a_file_still_takes_everything(tmp_path: Path) -> None:
    """The guard costs nothing when all is well: a 2 MB line arrives whole."""
    big = "x=[" + ",".join(str(i) for i in range(500)) + "]"
    with open(tmp_path / "out.json", "wb") as out:
        done = _jacli(["jacobian", "x*x", "--at", big, "--format", "json", "--no-symbolic"], stdout=out)
    assert done.returncode == 0
    assert len(json.loads((tmp_path / "out.json").read_text())["result"]) == 500


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "status"),
    [
        (["gradient", "x +* y", "--at", "1,2"], ExitCode.USAGE),  # the error is lost, its status is not
        (["gradient", "sqrt(x)", "--at", "-1"], ExitCode.USAGE),  # a warning lost: not a success
        (["gradient", "x*y", "--at", "1,2"], ExitCode.OK),  # nothing for stderr: nothing lost
    ],
    ids=["error", "warning", "quiet"],
)
def test_stderr_on_dev_full_keeps_the_status(args: list[str], status: int) -> None:
    with open("/dev/full", "wb") as full:
        done = _jacli(args, stdout=subprocess.PIPE, stderr=full)
    assert done.returncode == status


@pytest.mark.slow
def test_closed_stdout_does_not_hide_the_real_error() -> None:
    done = _run_into("closed", ["gradient", "x +* y", "--at", "1,2"])
    assert done.returncode == ExitCode.USAGE
    assert done.stderr.decode().startswith("jacli: error: syntax error")


# ---------------------------------------------------------------------------
# stdin: closed, endless, not UTF-8.
# ---------------------------------------------------------------------------


def _closed_stdin() -> None:
    os.close(0)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "needle"),
    [(["gradient", "-", "--at", "1"], "stdin is closed"), (["gradient", "x", "--points", "-"], "stdin is closed")],
    ids=["expression", "points"],
)
def test_closed_stdin_is_a_usage_error(args: list[str], needle: str) -> None:
    done = _jacli(args, stdin=None, capture_output=True, preexec_fn=_closed_stdin)
    assert done.returncode == ExitCode.USAGE and done.stdout == b""
    assert done.stderr.decode().startswith(f"jacli: error: {needle}"), done.stderr
    assert b"Traceback" not in done.stderr


@pytest.mark.slow
def test_endless_stdin_stops_at_the_length_limit() -> None:
    """`jacli gradient - < /dev/zero` read 3.5 GB before the limit applied; now it stops within a few MB."""
    # A parent of its own, so RUSAGE_CHILDREN's peak is this jacli's alone.
    measure = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run([sys.executable, '-m', 'jacli', 'gradient', '-'], stdin=open('/dev/zero', 'rb'),"
        " capture_output=True)\n"
        "sys.stdout.write(f'{done.returncode}\\n{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n')\n"
        "sys.stdout.write(done.stdout.decode() + done.stderr.decode())\n"
    )
    done = subprocess.run([sys.executable, "-c", measure], capture_output=True, text=True, env=_env(), cwd=ROOT,
                          timeout=120, check=False)  # fmt: skip
    status, peak_kib, report = done.stdout.split("\n", 2)
    assert int(status) == ExitCode.USAGE, done
    assert report == (
        "jacli: error: the expression on stdin is more than 1,000,000 characters long; the limit is 1,000,000 "
        "(set JACLI_MAX_LENGTH to raise it)\n"
    )
    assert int(peak_kib) < 1024 * 1024  # under 1 GB (about 0.3 GB: the imports)


def test_stdin_is_read_in_bounded_chunks(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """An endless stdin is read only just past 4 bytes per allowed character, then refused."""

    class Endless(io.RawIOBase):
        served = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            view = memoryview(buffer)
            view[:] = b"x" * len(view)
            Endless.served += len(view)
            return len(view)

    monkeypatch.setenv("JACLI_MAX_LENGTH", "1000")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(Endless())))
    assert cli.run(["gradient", "-"]) == ExitCode.USAGE
    assert "more than 1,000 characters long" in capsys.readouterr().err
    assert Endless.served < 4 * 1000 + 2 + 2 * terminal.STDIN_CHUNK


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"\xff\xfe x", "stdin is not UTF-8 text (byte 1)"),
        (b"x*y\n\n", None),  # trailing newlines dropped, as $(...) does
        (b"x" * 2000, "the expression on stdin is more than 250 characters long"),  # past 4 bytes a character
        (b"x" * 300, "expression is 300 characters long; the limit is 250"),  # the parser's own message
    ],
    ids=["not-utf8", "newlines", "past-the-read-limit", "past-the-length-limit"],
)
def test_stdin_expression(jacli: Invoke, data: bytes, needle: str | None) -> None:
    out = jacli("gradient", "-", "--at", "1,2", input=data, env={"JACLI_MAX_LENGTH": "250"})
    if needle is None:
        assert out.exit_code == 0 and "gradient" in out.stdout
        return
    assert out.exit_code == ExitCode.USAGE and out.stdout == ""
    assert out.stderr.startswith(f"jacli: error: {needle}"), out.stderr


# ---------------------------------------------------------------------------
# Environment: encoding, warnings, terminal size.
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_an_ascii_stdout_still_gets_the_table() -> None:
    done = _jacli(["gradient", "x*y", "--at", "1,2"], capture_output=True, env=_env(PYTHONIOENCODING="ascii"))
    assert done.returncode == 0 and done.stderr == b""
    text = done.stdout.decode("ascii")  # every byte ASCII
    assert "| Df | 2 | 1 |" in text and "gradient Df" in text
    box = [line for line in text.splitlines() if line.startswith(("|", "+"))]
    right = box[0].rindex("+")  # the symbolic column may follow the box on its lines
    assert len(box) == 5 and all(line[right] in "|+" for line in box)  # one-wide stand-ins: the box closes


@pytest.mark.slow
def test_python_warnings_error_does_not_stop_jacli() -> None:
    plain = _jacli(["gradient", "x*y", "--at", "1,2", "--format", "json"], capture_output=True)
    strict = _jacli(["gradient", "x*y", "--at", "1,2", "--format", "json"], capture_output=True,
                    env=_env(PYTHONWARNINGS="error"))  # fmt: skip
    assert (strict.returncode, strict.stdout, strict.stderr) == (0, plain.stdout, b"")


@pytest.mark.parametrize("columns", ["0", "-3", "abc", "99999999999", " "])
def test_nonsense_columns_are_ignored(jacli: Invoke, columns: str) -> None:
    normal = jacli("gradient", "x*y", "--at", "1,2", env={"COLUMNS": None, "LINES": None})
    odd = jacli("gradient", "x*y", "--at", "1,2", env={"COLUMNS": columns, "LINES": columns})
    assert normal.exit_code == odd.exit_code == 0
    assert odd.stdout == normal.stdout and "∇f" in odd.stdout


def test_nonsense_columns_are_put_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "0")
    with terminal.sane_environment():
        assert "COLUMNS" not in os.environ
    assert os.environ["COLUMNS"] == "0"


# ---------------------------------------------------------------------------
# Out of memory: exit 2 in-process, one line.
# ---------------------------------------------------------------------------

TORCH_OOM = (
    "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: "
    "you tried to allocate 80000000000 bytes. Error code 12 (Cannot allocate memory)"
)


@pytest.mark.parametrize(
    "error", [MemoryError(), MemoryError("std::bad_alloc"), RuntimeError(TORCH_OOM)], ids=["python", "c++", "torch"]
)
@pytest.mark.parametrize("where", ["compute", "render"])
def test_out_of_memory_is_exit_2(jacli: Invoke, monkeypatch: pytest.MonkeyPatch, error: Exception, where: str) -> None:
    def refuse(*_: Any, **__: Any) -> Any:
        raise error

    if where == "compute":
        monkeypatch.setattr("jacli.api.evaluate_at", refuse)
    else:
        monkeypatch.setattr("jacli.render.json.render_json", refuse)
    out = jacli("gradient", "x*y", "--at", "1,2", "--format", "json")
    assert out.exit_code == ExitCode.USAGE and out.stdout == ""
    assert out.stderr == f"jacli: error: {terminal.OUT_OF_MEMORY}\n"


def test_other_runtime_errors_are_bugs_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr("jacli.api.evaluate_at", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        invoke_cli("gradient", "x*y", "--at", "1,2")


# ---------------------------------------------------------------------------
# --show-completion / --install-completion SHELL.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--show-completion", "--install-completion"])
def test_an_unknown_shell_is_a_usage_error(jacli: Invoke, option: str, tmp_path: Path) -> None:
    out = jacli(option, "evilsh", env={"HOME": str(tmp_path)})
    assert out.exit_code == ExitCode.USAGE and out.stdout == ""
    assert out.stderr == (
        f"jacli: error: {option}: unknown shell 'evilsh'; choose one of bash, zsh, fish, powershell, pwsh\n"
    )
    assert list(tmp_path.iterdir()) == []  # nothing installed


def test_an_undetectable_shell_is_a_usage_error(jacli: Invoke) -> None:
    out = jacli("--show-completion", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert out.exit_code == ExitCode.USAGE and out.stdout == ""
    assert out.stderr.startswith("jacli: error: --show-completion: cannot tell which shell this is; name one")


@pytest.mark.parametrize(("shell", "needle"), [("zsh", "#compdef jacli"), ("fish", "complete --command jacli")])
def test_a_named_shell_is_the_one_shown(jacli: Invoke, shell: str, needle: str) -> None:
    """Typer read --show-completion as a flag: `--show-completion zsh` printed the detected shell's script."""
    out = jacli("--show-completion", shell)
    assert out.exit_code == 0 and out.stderr == ""
    assert needle in out.stdout


# ---------------------------------------------------------------------------
# The progress bar under a real terminal: on stderr, never in the data, nothing left behind.
# ---------------------------------------------------------------------------

_CONTROL = re.compile(rb"\x1b\[(\d*)([A-Za-z])|\x1b\[\?\d+[hl]|\r|\n|[^\x1b\r\n]+")


def _screen(data: bytes) -> list[str]:
    """What a terminal shows after ``data``: enough of VT100 for Rich's live display."""
    lines, row, col = [""], 0, 0
    for match in _CONTROL.finditer(data):
        token = match.group(0)
        if token == b"\n":
            row += 1
            lines += [""] * (row + 1 - len(lines))
        elif token == b"\r":
            col = 0
        elif match.group(2) is not None:
            count, code = int(match.group(1) or 1), match.group(2)
            if code == b"A":
                row = max(0, row - count)
            elif code == b"K":
                lines[row] = ""
        elif not token.startswith(b"\x1b"):
            text = token.decode("utf-8", errors="replace")
            line = lines[row].ljust(col)
            lines[row] = line[:col] + text + line[col + len(text) :]
            col += len(text)
    return [line.rstrip() for line in lines]


def _on_a_terminal(args: list[str], stdout: Any) -> tuple[int, bytes]:
    """Run jacli with stderr (and, for ``stdout=None``, stdout) on a pseudo-terminal; what the terminal got."""
    controller, term = pty.openpty()
    env = _env(TERM="xterm-256color", COLUMNS="80")
    child = subprocess.Popen([sys.executable, "-m", "jacli", *args], stdin=subprocess.DEVNULL,
                             stdout=term if stdout is None else stdout, stderr=term, env=env, cwd=ROOT)  # fmt: skip
    os.close(term)
    output = read_pty(controller)
    return child.wait(timeout=120), output


ROWS = [f"{float(i)},{float(i + 1)}," for i in range(50)]


@pytest.mark.slow
def test_progress_bar_never_takes_the_data(tmp_path: Path, points_file: Path) -> None:
    """`--points small.csv --format csv > out.csv` with stderr on a terminal left out.csv empty."""
    args = ["jacobian", SEED, "--points", str(points_file), "--format", "csv"]
    with open(tmp_path / "out.csv", "wb") as out:
        status, shown = _on_a_terminal(args, out)
    assert status == 0
    rows = (tmp_path / "out.csv").read_text().splitlines()
    assert len(rows) == 50 and all(row.startswith(prefix) for row, prefix in zip(rows, ROWS, strict=True))
    assert b"points" in shown  # the bar was there ...
    assert b"0.0,1.0" not in shown  # ... and no data went its way
    assert not any(_screen(shown)), _screen(shown)  # nothing left behind on the terminal


@pytest.mark.slow
def test_progress_bar_leaves_before_the_data_on_the_same_terminal(points_file: Path) -> None:
    args = ["jacobian", SEED, "--points", str(points_file), "--format", "csv"]
    status, shown = _on_a_terminal(args, None)
    assert status == 0
    screen = [line for line in _screen(shown) if line]
    assert len(screen) == 50 and all(line.startswith(prefix) for line, prefix in zip(screen, ROWS, strict=True))


# ---------------------------------------------------------------------------
# The channel itself.
# ---------------------------------------------------------------------------


class _Sink(io.RawIOBase):
    """A descriptor stand-in: takes at most ``step`` bytes a call, then fails with ``error`` once ``room`` is used."""

    def __init__(self, step: int, room: int | None = None, error: int = errno.EPIPE) -> None:
        self.data = bytearray()
        self.step, self.room, self.error = step, room, error

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        if self.room is not None and len(self.data) >= self.room:
            raise OSError(self.error, os.strerror(self.error)) if self.error != errno.EPIPE else BrokenPipeError()
        taken = bytes(b[: self.step])
        if self.room is not None:
            taken = taken[: self.room - len(self.data)]
        self.data += taken
        return len(taken)


class _Text:
    """A text stream over ``buffer`` (no real descriptor), as CliRunner's are."""

    encoding = "utf-8"

    def __init__(self, buffer: Any, encoding: str = "utf-8") -> None:
        self.buffer, self.encoding = buffer, encoding

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _channel(sink: Any, encoding: str = "utf-8", strict: bool = True) -> terminal.Channel:
    return terminal.Channel(_Text(sink, encoding), "stdout", strict=strict)  # type: ignore[arg-type]


def test_short_writes_are_continued() -> None:
    sink = _Sink(step=3)
    channel = _channel(sink)
    channel.write("0123456789" * 1000)
    channel.flush()
    assert bytes(sink.data) == b"0123456789" * 1000 and not channel.lost


@pytest.mark.parametrize(
    ("error", "raised"), [(errno.EPIPE, BrokenPipeError), (errno.ENOSPC, OutputError), (errno.EIO, OutputError)]
)
def test_a_failure_after_a_short_write_raises_once(error: int, raised: type[Exception]) -> None:
    channel = _channel(_Sink(step=1000, room=5000, error=error))
    with pytest.raises(raised):
        channel.write("x" * 100_000)
        channel.flush()
    channel.write("more")  # dropped: the failure is reported once
    channel.flush()
    assert channel.lost and channel.broken_pipe == (error == errno.EPIPE)


def test_stderr_never_raises_but_remembers() -> None:
    channel = _channel(_Sink(step=10, room=0, error=errno.ENOSPC), strict=False)
    channel.write("jacli: error: something\n")
    channel.flush()
    assert channel.lost


def test_a_closed_stream_fails_only_when_written_to() -> None:
    channel = terminal.Channel(None, "stdout", strict=True)
    channel.flush()  # nothing to deliver: no error
    assert not channel.lost
    with pytest.raises(OutputError, match="stdout is closed"):
        channel.write("data")


def test_click_sees_a_text_stream() -> None:
    channel = _channel(_Sink(step=100))
    with pytest.raises(TypeError):
        channel.write(b"")  # type: ignore[arg-type]  # Click's probe for binary streams


@pytest.mark.parametrize("text", ["∂f/∂x", "gradient ∇f", "vᵀJ", "J·v", "m×n", "|a - b| ≤ 1e-9", "a → b", "…"])
def test_ascii_stand_ins_keep_the_width(text: str) -> None:
    encoded = terminal.encode(text, "ascii")
    assert len(encoded) == len(text) and b"?" not in encoded


def test_unknown_characters_become_question_marks() -> None:
    assert terminal.encode("x ☃ y", "ascii") == b"x ? y"
    assert terminal.encode("x ☃ y", "no-such-codec") == b"x ? y"


def test_run_restores_the_streams(capsys: pytest.CaptureFixture[str]) -> None:
    before = sys.stdout, sys.stderr
    assert cli.run(["gradient", "x*y", "--at", "1,2", "--format", "json"]) == 0
    assert (sys.stdout, sys.stderr) == before
    assert json.loads(capsys.readouterr().out)["result"] == [2.0, 1.0]
