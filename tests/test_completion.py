"""Shell completion: the scripts in completions/, what a Tab offers, and --install-completion.

The scripts are Typer's (``_JACLI_COMPLETE=source_<shell> jacli``); real bash,
zsh and fish load them and a Tab is pressed in a pseudo-terminal. Tests for a
shell that is not installed are skipped (CI: ``apt-get install -y bash zsh fish``).
"""

from __future__ import annotations

import importlib.util
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from types import ModuleType

import click
import pytest
from conftest import Invoke

from jacli import cli

ROOT = Path(__file__).resolve().parent.parent
COMPLETIONS = ROOT / "completions"
CHOICE_OPTIONS = {  # the issue names these; each must complete to its values
    "--format": ["table", "json", "csv", "latex"],
    "--dtype": ["float64", "float32"],
    "--mode": ["auto", "forward", "reverse"],
    "--device": ["cpu", "cuda"],
}
# (typed before the Tab, the command line the Tab must produce)
TAB_CASES = [
    ("jacli ja", "jacli jacobian"),
    ("jacli jacobian --fo", "jacli jacobian --format"),
    ("jacli jacobian --format la", "jacli jacobian --format latex"),
    ("jacli jacobian --dtype float3", "jacli jacobian --dtype float32"),
    ("jacli jacobian --mode fo", "jacli jacobian --mode forward"),
    ("jacli jacobian --device cu", "jacli jacobian --device cuda"),
    ("jacli hessian --no-s", "jacli hessian --no-symbolic"),
]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("completions_generate", COMPLETIONS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------
# The files in completions/.
# ---------------------------------------------------------------------------


def test_completion_files_are_fresh() -> None:
    """Fails when Typer/Click changed their scripts: run `python completions/generate.py`."""
    generate = _generator()
    for shell, name in generate.FILES.items():
        expected = generate.completion_script(shell)
        assert (COMPLETIONS / name).read_text(encoding="utf-8") == expected, f"{name} is stale"
    assert generate.stale() == []


def test_generator_detects_and_repairs_a_stale_file(tmp_path: Path) -> None:
    generate = _generator()
    generate.write(tmp_path)
    assert generate.stale(tmp_path) == []
    (tmp_path / "jacli.fish").write_text("complete --command jacli\n")
    (tmp_path / "_jacli").unlink()
    assert sorted(generate.stale(tmp_path)) == ["_jacli", "jacli.fish"]


def test_scripts_are_typers_and_call_back_into_jacli() -> None:
    bash = (COMPLETIONS / "jacli.bash").read_text()
    zsh = (COMPLETIONS / "_jacli").read_text()
    fish = (COMPLETIONS / "jacli.fish").read_text()
    assert "complete -o default -F _jacli_completion jacli" in bash and "_JACLI_COMPLETE=complete_bash" in bash
    assert zsh.startswith("#compdef jacli\n") and "_JACLI_COMPLETE=complete_zsh" in zsh
    assert fish.startswith("complete --command jacli") and "_JACLI_COMPLETE=complete_fish" in fish


# ---------------------------------------------------------------------------
# Completion requests, in-process: what the scripts ask jacli at each Tab.
# ---------------------------------------------------------------------------


def _complete_bash(jacli: Invoke, line: str) -> list[str]:
    words = line.split(" ")
    out = jacli(env={"_JACLI_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)})
    assert out.exit_code == 0 and out.stderr == "", out
    return out.stdout.split()


def test_subcommands_are_offered(jacli: Invoke) -> None:
    commands = list(cli.click_command().commands)  # whatever commands exist now, server included
    assert {"jacobian", "gradient", "hessian", "vjp", "jvp", "language"} <= set(commands)
    assert _complete_bash(jacli, "jacli ") == commands
    assert _complete_bash(jacli, "jacli ja") == ["jacobian"]
    assert _complete_bash(jacli, "jacli --") == [
        "--version",
        "--color",
        "--no-color",
        "--install-completion",
        "--show-completion",
        "--help",
    ]


def test_every_option_of_every_command_is_offered(jacli: Invoke) -> None:
    root = cli.click_command()
    assert isinstance(root, click.Group)
    for name, command in root.commands.items():
        if isinstance(command, click.Group):
            assert _complete_bash(jacli, f"jacli {name} ") == list(command.commands)
            continue
        longs = [
            opt
            for param in command.params
            if isinstance(param, click.Option)
            for opt in [*param.opts, *param.secondary_opts]
            if opt.startswith("--")
        ]
        assert _complete_bash(jacli, f"jacli {name} --") == [*longs, "--help"], name
    assert _complete_bash(jacli, "jacli jacobian --fo") == ["--format"]


def test_choice_values_are_offered_wherever_the_option_exists(jacli: Invoke) -> None:
    root = cli.click_command()
    assert isinstance(root, click.Group)
    seen = set()
    for name, command in root.commands.items():
        for param in command.params:
            if isinstance(param, click.Option) and isinstance(param.type, click.Choice):
                values = [str(c.value if hasattr(c, "value") else c) for c in param.type.choices]
                for option in param.opts:  # -f as well as --format
                    assert _complete_bash(jacli, f"jacli {name} {option} ") == values, (name, option)
                    seen.add(option)
    for option, values in CHOICE_OPTIONS.items():
        assert option in seen
        assert _complete_bash(jacli, f"jacli jacobian {option} ") == values
    assert _complete_bash(jacli, "jacli jacobian --format j") == ["json"]


def test_zsh_and_fish_requests_carry_help_text(jacli: Invoke) -> None:
    zsh = jacli(env={"_JACLI_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "jacli ja"})
    assert zsh.exit_code == 0 and '"jacobian":"Jacobian matrix' in zsh.stdout
    fish = jacli(
        env={
            "_JACLI_COMPLETE": "complete_fish",
            "_TYPER_COMPLETE_ARGS": "jacli jacobian --mode ",
            "_TYPER_COMPLETE_FISH_ACTION": "get-args",
        }
    )
    assert fish.exit_code == 0 and fish.stdout.split() == CHOICE_OPTIONS["--mode"]


def test_unknown_shell_is_an_error_not_a_traceback(jacli: Invoke) -> None:
    out = jacli(env={"_JACLI_COMPLETE": "source_tcsh"})
    assert out.exit_code == 1 and "tcsh not supported" in out.stderr and "Traceback" not in out.stderr


# ---------------------------------------------------------------------------
# Real shells in a pseudo-terminal: a Tab, then Enter runs a stand-in `jacli`
# shell function that prints the completed line. The completion scripts call
# the real jacli through `env`, which never sees shell functions.
# ---------------------------------------------------------------------------


def _jacli_dir(tmp_path: Path) -> Path:
    """A folder with a `jacli` executable: the installed console script, else a shim."""
    script = Path(sys.executable).parent / "jacli"
    if script.exists():
        return script.parent
    shim = tmp_path / "bin" / "jacli"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m jacli "$@"\n')
    shim.chmod(0o755)
    return shim.parent


def _shell_env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": f"{_jacli_dir(tmp_path)}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "ZDOTDIR": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "TERM": "xterm",
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(ROOT),
        "JACLI_SERVER": "off",  # each Tab runs this checkout in-process, not a warm server
    }


_ANSI = re.compile(r"\x1b(\[[0-9;?<=>]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-B]|[=>])")


class Terminal:
    """An interactive shell on a pseudo-terminal: type keys, wait for text."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        with warnings.catch_warnings():  # Python >= 3.12 warns about fork() beside threads; the child only execs
            warnings.simplefilter("ignore", DeprecationWarning)
            self.pid, self.fd = pty.fork()
        if self.pid == 0:  # child: become the shell
            os.execvpe(argv[0], argv, env)
        self.output = ""

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def wait_for(self, pattern: str, start: int, timeout: float = 60.0) -> re.Match[str]:
        """The first match of ``pattern`` in the (escape-free) output after offset ``start``."""
        deadline = time.monotonic() + timeout
        while True:
            match = re.compile(pattern).search(self.output, start)
            if match:
                return match
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {pattern!r} in the shell's output:\n{self.output[start:]}")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the shell exited
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"shell ended before {pattern!r}:\n{self.output[start:]}")
                self.output = _ANSI.sub("", self.output + chunk.decode(errors="replace")).replace("\r", "")

    def run(self, line: str) -> None:
        """Run a command and wait until it is done (a marker is echoed afterwards)."""
        start = len(self.output)
        self.type(f"{line}\n")
        self.type("echo MARK''ER\n")  # prints MARKER; the echoed keystrokes do not contain it
        self.wait_for("\nMARKER\n", start)

    def close(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(self.pid, 0)
        os.close(self.fd)


SHELLS = {
    # shell: (argv, lines that load completions/ and define the stand-in jacli function)
    "bash": (
        ["bash", "--norc", "--noprofile", "-i"],
        [f"source '{COMPLETIONS / 'jacli.bash'}'", 'jacli() { echo "LINE:jacli $*"; }'],
    ),
    "zsh": (
        ["zsh", "-f", "-i"],
        [
            "autoload -Uz compinit && compinit -u -D",
            f"source '{COMPLETIONS / '_jacli'}'",
            'jacli() { echo "LINE:jacli $*"; }',
        ],
    ),
    "fish": (
        ["fish", "-i"],
        [f"source '{COMPLETIONS / 'jacli.fish'}'", 'function jacli; echo "LINE:jacli $argv"; end'],
    ),
}


def _tab_results(terminal: Terminal, cases: list[tuple[str, str]]) -> list[str]:
    results = []
    for typed, _ in cases:
        start = len(terminal.output)
        terminal.type(f"{typed}\t")
        time.sleep(0.05)  # not a timing assertion: lets the shell read the Tab before Enter arrives
        terminal.type("\n")
        results.append(terminal.wait_for(r"LINE:(.*?) *\n", start).group(1).strip())
    return results


@pytest.mark.slow
@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_tab_in_a_real_shell(shell: str, tmp_path: Path) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (CI: apt-get install -y {shell})")
    argv, setup = SHELLS[shell]
    terminal = Terminal(argv, _shell_env(tmp_path))
    try:
        for line in setup:
            terminal.run(line)
        assert _tab_results(terminal, TAB_CASES) == [want for _, want in TAB_CASES]
    finally:
        terminal.close()


@pytest.mark.slow
def test_bash_lists_every_choice(tmp_path: Path) -> None:
    """Several candidates: the completion function fills COMPREPLY with all of them."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    for option, values in CHOICE_OPTIONS.items():
        script = (
            f"source '{COMPLETIONS / 'jacli.bash'}'; COMP_WORDS=(jacli jacobian {option} ''); COMP_CWORD=3; "
            '_jacli_completion jacli; printf "%s\\n" "${COMPREPLY[@]}"'
        )
        done = subprocess.run(
            ["bash", "-c", script], env=_shell_env(tmp_path), capture_output=True, text=True, check=False
        )
        assert done.returncode == 0 and done.stdout.split() == values, done


@pytest.mark.slow
def test_fish_lists_every_choice(tmp_path: Path) -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed (CI: apt-get install -y fish)")
    for option, values in CHOICE_OPTIONS.items():
        script = f"source '{COMPLETIONS / 'jacli.fish'}'; complete -C 'jacli jacobian {option} '"
        done = subprocess.run(
            ["fish", "-c", script], env=_shell_env(tmp_path), capture_output=True, text=True, check=False
        )
        assert done.returncode == 0 and sorted(done.stdout.split()) == sorted(values), done  # fish sorts them
    script = f"source '{COMPLETIONS / 'jacli.fish'}'; complete -C 'jacli ja'"
    done = subprocess.run(["fish", "-c", script], env=_shell_env(tmp_path), capture_output=True, text=True, check=False)
    assert done.stdout.startswith("jacobian\tJacobian matrix"), done


# ---------------------------------------------------------------------------
# --install-completion and --show-completion.
# ---------------------------------------------------------------------------


def _jacli_process(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jacli", *args], env=env, capture_output=True, text=True, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_show_completion_prints_the_shipped_script(shell: str, tmp_path: Path) -> None:
    env = {**_shell_env(tmp_path), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    done = _jacli_process(["--show-completion", shell], env)
    assert done.returncode == 0 and done.stderr == ""
    shipped = (COMPLETIONS / _generator().FILES[shell]).read_text()
    assert done.stdout.strip() == shipped.strip()


@pytest.mark.slow
def test_install_completion_then_tab_in_a_fresh_bash(tmp_path: Path) -> None:
    """`jacli --install-completion` from bash (shell detected), then a new interactive bash completes."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    env = _shell_env(tmp_path)
    # `; exit $?` keeps bash from exec-ing jacli, so bash is jacli's parent: the shell Typer detects
    done = subprocess.run(
        ["bash", "-c", "jacli --install-completion; exit $?"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done
    assert "bash completion installed" in done.stdout
    home = Path(env["HOME"])
    installed = home / ".bash_completions" / "jacli.sh"
    assert installed.read_text().strip() == (COMPLETIONS / "jacli.bash").read_text().strip()
    assert f"source '{installed}'" in (home / ".bashrc").read_text()
    terminal = Terminal(["bash", "--noprofile", "-i"], env)  # reads the ~/.bashrc just written
    try:
        terminal.run('jacli() { echo "LINE:jacli $*"; }')
        assert _tab_results(terminal, TAB_CASES[:2]) == [want for _, want in TAB_CASES[:2]]
    finally:
        terminal.close()


@pytest.mark.slow
@pytest.mark.parametrize(("shell", "path"), [("zsh", ".zfunc/_jacli"), ("fish", ".config/fish/completions/jacli.fish")])
def test_install_completion_for_zsh_and_fish(shell: str, path: str, tmp_path: Path) -> None:
    env = {**_shell_env(tmp_path), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    done = _jacli_process(["--install-completion", shell], env)
    assert done.returncode == 0 and f"{shell} completion installed" in done.stdout, done
    installed = Path(env["HOME"]) / path
    assert installed.read_text().strip() == (COMPLETIONS / _generator().FILES[shell]).read_text().strip()
    if shutil.which(shell) is None:
        return
    terminal = Terminal([shell, "-i"], env)  # a fresh shell that reads what the installer set up
    try:
        terminal.run(SHELLS[shell][1][-1])  # the stand-in jacli function
        if shell == "zsh":
            # Autoloaded from fpath, Typer's _jacli only registers itself (compdef) on the first Tab of a
            # new shell; completion starts with the second. The README says so and recommends `source`.
            assert _tab_results(terminal, [TAB_CASES[0]]) == ["jacli ja"]
        assert _tab_results(terminal, TAB_CASES[:2]) == [want for _, want in TAB_CASES[:2]]
    finally:
        terminal.close()
