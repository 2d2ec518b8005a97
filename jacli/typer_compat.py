"""Typer and Click as jacli needs them: every workaround in one place, each with the versions it is for.

Checked against Typer 0.25.1 and Click 8.5.1. Each piece below says which
versions need it, so it can be deleted once those are no longer supported
(``constraints.txt`` pins what CI installs). Import ``click`` and ``typer``
from here: the first import is the one that must not warn.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import sys
import warnings
from typing import Any

with warnings.catch_warnings():
    # Typer < 0.26 re-exports Click helpers that Click >= 8.3 deprecates: under PYTHONWARNINGS=error
    # that warning, raised by an import, would end jacli with a traceback before it starts.
    warnings.filterwarnings("ignore", "'click.utils.get_", DeprecationWarning)
    import click
    import typer
    from typer.core import TyperCommand, TyperGroup

from jacli.errors import UsageError
from jacli.terminal import OutputClosed

__all__ = ["TyperCommand", "TyperGroup", "click", "typer"]

TYPER_VERSION = tuple(int(part) for part in typer.__version__.split(".")[:2] if part.isdigit())


class RootGroup(TyperGroup):
    """The root command: a reader that stops early (``jacli … | head -1``) reaches the funnel as such.

    All Click versions to date (8.5): ``Command.main`` turns an EPIPE into
    ``sys.exit(1)``; raised as :class:`~jacli.terminal.OutputClosed` it ends with 141.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:  # eager options print here: jacli --help | head -1
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:
            raise OutputClosed from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # in-process callers (tests, the server) then see every write, flushed or not
        except BrokenPipeError:
            raise OutputClosed from None
        return result


def set_help_style(command: click.Command, markup: str | None) -> None:
    """Typer's Rich help (``markup``) or Click's plain help (``None``: no boxes, no Rich import), tree-wide.

    All Typer versions to date (0.25): the markup mode is read per command, not from the app.
    """
    if isinstance(command, TyperGroup | TyperCommand):
        command.rich_markup_mode = markup  # type: ignore[assignment]
    for sub in getattr(command, "commands", {}).values():
        set_help_style(sub, markup)


def restore_argument_help(command: click.Command) -> None:
    """Put back ``typer.Argument(help=…)``, which Typer < 0.26 loses under Click >= 8.5.

    Typer prints its own "Arguments" section, so Click 8.5's "Positional
    arguments" section (shown once an argument has help) is switched off.
    """
    if TYPER_VERSION >= (0, 26):
        return
    function = getattr(command.callback, "__wrapped__", None)
    if function is not None and any(isinstance(p, click.Argument) and not p.help for p in command.params):
        declared = typer.utils.get_params_from_function(function)
        for param in command.params:
            meta = declared.get(param.name or "")
            if isinstance(param, click.Argument) and not param.help and meta is not None:
                param.help = getattr(meta.default, "help", None)
        if hasattr(command, "format_arguments"):
            command.format_arguments = lambda ctx, formatter: None  # type: ignore[method-assign]
    for sub in getattr(command, "commands", {}).values():
        restore_argument_help(sub)


_RICH_TAG = re.compile(r"(?<!\\)\[/?[a-z#@][^\[\]]*\]")  # Rich markup such as [bold] … [/bold]


def strip_rich_tags(text: str) -> str:
    return _RICH_TAG.sub("", text)


def completion_without_rich() -> None:
    """Typer <= 0.25 imports Rich (~100 ms, at every Tab in zsh and fish) only to strip markup from completion help.

    Call after :func:`typer.main.get_command`, which loads the module patched here.
    """
    completion_classes = sys.modules.get("typer._completion_classes")
    if completion_classes is not None and hasattr(completion_classes, "_sanitize_help_text"):
        completion_classes._sanitize_help_text = strip_rich_tags


def memoize_signatures() -> None:
    """Let every server child reuse the parent's reading of the command functions' signatures.

    All Typer versions to date (0.25) rebuild the Click command tree on every
    run; most of that (a third of a warm command) is ``inspect.signature`` plus
    ``typing.get_type_hints`` per command function, whose answer never changes
    for a loaded module. Computed once in the server, children inherit it.
    """
    original = typer.utils.get_params_from_function
    if getattr(original, "cache_info", None) is not None:
        return
    cached = functools.cache(original)
    typer.utils.get_params_from_function = cached
    if getattr(typer.main, "get_params_from_function", None) is original:
        typer.main.get_params_from_function = cached


def with_one_command(app: typer.Typer, name: str) -> typer.Typer | None:
    """``app`` with only its command ``name`` registered (callback and settings kept); None if there is none.

    All Typer versions to date (0.25) read the signature of every command function to build the
    tree (about 0.1 s of a cold run, issue 16), though ``jacli NAME …`` can reach one command only:
    its help, errors and suggestions are the same in a root that holds just that one. A group
    (``jacli server …``) or an unknown name gets None: the whole tree, for Click's own messages.
    """
    named = typer.main.get_command_name
    chosen = [c for c in app.registered_commands if (c.name or named(c.callback.__name__)) == name]  # type: ignore[union-attr]
    if len(chosen) != 1:
        return None
    single = copy.copy(app)
    single.registered_commands, single.registered_groups = chosen, []
    return single


_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())  # Click >= 8.2


def main(command: click.Command, args: list[str]) -> Any:
    """``command.main`` without its exits: the command's return value; errors are raised, never printed.

    Click >= 8.2 raises ``NoArgsIsHelpError`` for a bare ``jacli``: here it says
    what is missing, then the help, all on stderr (exit 2).
    """
    try:
        return command.main(args=args, prog_name="jacli", standalone_mode=False)
    except _NO_ARGS_IS_HELP as err:
        raise UsageError("missing command", details=["", err.format_message()]) from None


# ---------------------------------------------------------------------------
# --show-completion / --install-completion [SHELL].
# ---------------------------------------------------------------------------

COMPLETION_OPTIONS = ("--show-completion", "--install-completion")
SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


def completion_option(args: list[str]) -> str | None:
    """``--show-completion`` or ``--install-completion`` among the leading options of ``args``."""
    for arg in args:
        if arg in COMPLETION_OPTIONS:
            return arg
        if not arg.startswith("-"):  # a command: these two options belong to the root only
            return None
    return None


def completion_request(args: list[str]) -> int:
    """Handle ``--show-completion [SHELL]`` / ``--install-completion [SHELL]`` for a named or detected shell.

    All Typer versions to date (0.25) read ``--show-completion`` as a flag:
    ``jacli --show-completion zsh`` printed the script of the *detected* shell,
    and an unknown or undetectable shell ended with "Shell … not supported." and
    exit 1. Here a named shell is used, and anything else is a usage error.
    """
    option = completion_option(args)
    assert option is not None
    index = args.index(option)
    named = args[index + 1] if index + 1 < len(args) and not args[index + 1].startswith("-") else None
    shells = ", ".join(SHELLS)
    if named is not None and named not in SHELLS:
        raise UsageError(f"{option}: unknown shell {named!r}; choose one of {shells}")
    shell = named or _detected_shell()
    if shell not in SHELLS:
        found = f" (found {shell!r})" if shell else ""
        raise UsageError(f"{option}: cannot tell which shell this is{found}; name one: jacli {option} bash ({shells})")
    from typer import _completion_shared as completion  # noqa: PLC0415

    if option == "--show-completion":
        typer.echo(completion.get_completion_script(prog_name="jacli", complete_var="_JACLI_COMPLETE", shell=shell))
        return 0
    installed, path = completion.install(shell=shell, prog_name="jacli", complete_var="_JACLI_COMPLETE")
    typer.secho(f"{installed} completion installed in {path}", fg="green")
    typer.echo("Completion will take effect once you restart the terminal")
    return 0


def _detected_shell() -> str | None:
    if os.environ.get("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION"):
        return None
    from typer import _completion_shared as completion  # noqa: PLC0415

    return completion._get_shell_name()
