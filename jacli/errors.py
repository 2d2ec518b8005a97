"""The error tree of jacli and its exit codes (stdlib only).

Every error a user can cause is a :class:`UsageError` (exit status 2). The CLI
prints ``jacli: error: <message>`` and, for expression errors, the expression
with a caret under the offending column.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence


class ExitCode(enum.IntEnum):
    """Exit statuses of the ``jacli`` command."""

    OK = 0
    CHECK_FAILED = 1
    UNKNOWN = 1  # the server lost a command it ran: how it ended is not known (Unix's generic failure)
    USAGE = 2
    INTERRUPTED = 130
    BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader closed stdout early, as `yes | head -1` reports

    @staticmethod
    def killed_by(signum: int) -> int:
        """The status of a process a signal ended: 128 + the signal's number, as shells report it."""
        return 128 + signum


class JacliError(Exception):
    """Base of every error jacli reports to the user."""

    exit_code: int = ExitCode.CHECK_FAILED

    def detail_lines(self) -> list[str]:
        """Lines printed under ``jacli: error: MESSAGE`` (none by default)."""
        return []


class UsageError(JacliError):
    """Bad input of any kind: expression, point, option value, file; ``details``: lines printed under it."""

    exit_code = ExitCode.USAGE

    def __init__(self, *args: object, details: Sequence[str] = ()) -> None:
        super().__init__(*args)
        self.details = list(details)

    def detail_lines(self) -> list[str]:
        return self.details


class ExpressionError(UsageError):
    """A problem located in a piece of user text (0-based column ``col``)."""

    def __init__(self, message: str, expression: str = "", col: int | None = None) -> None:
        super().__init__(message)
        self.expression = expression
        self.col = col

    def detail_lines(self) -> list[str]:
        return self.caret_lines()

    def caret_lines(self) -> list[str]:
        """The offending line of the expression and a caret under the column."""
        if self.col is None or not self.expression:
            return []
        line_start = self.expression.rfind("\n", 0, self.col) + 1
        line_end = self.expression.find("\n", self.col)
        line = self.expression[line_start : line_end if line_end >= 0 else None]
        column = self.col - line_start
        if len(line) > 120:  # keep the caret readable for huge one-liners
            start = max(0, column - 60)
            line, column = line[start : start + 120], column - start
        return [f"  {line}", "  " + " " * column + "^"]


class ShapeError(UsageError):
    """Operands or values whose shapes do not fit together."""


class OutputError(UsageError):
    """stdout could not take the output (a full disk, a closed descriptor): nothing may pass for success.

    A reader that left early (EPIPE) is not one of these: that ends quietly with
    :attr:`ExitCode.BROKEN_PIPE`.
    """


class CheckFailed(JacliError):
    """``jacli check`` found autodiff and the exact derivative disagreeing."""

    exit_code = ExitCode.CHECK_FAILED


class ServerLost(JacliError):
    """The server ran the command (its output went straight to ours) but its exit status never came back."""

    exit_code = ExitCode.UNKNOWN


class ServerKilled(JacliError):
    """The server had to kill the command (a time or memory limit, a crash): exit like a killed process.

    An empty message (Ctrl-C, forwarded to the command) prints nothing.
    """

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = ExitCode.killed_by(signum)
