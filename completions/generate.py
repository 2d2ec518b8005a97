"""Regenerate the shell-completion scripts in this folder from the app itself.

    python completions/generate.py           # rewrite jacli.bash, _jacli (zsh), jacli.fish
    python completions/generate.py --check   # exit 1, naming the stale files, if any differ

Each script is exactly what ``_JACLI_COMPLETE=source_<shell> jacli`` prints
(Typer's completion machinery), with the surrounding blank lines trimmed so
that ``#compdef jacli`` is the first line of the zsh file, as ``compinit``
requires. The scripts call back into ``jacli`` at every Tab press; nothing in
them is written by hand.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = {"bash": "jacli.bash", "zsh": "_jacli", "fish": "jacli.fish"}


def completion_script(shell: str) -> str:
    """``_JACLI_COMPLETE=source_<shell> jacli``, run as ``python -m jacli`` so no install is needed."""
    env = {**os.environ, "_JACLI_COMPLETE": f"source_{shell}"}
    done = subprocess.run(
        [sys.executable, "-m", "jacli"], env=env, capture_output=True, text=True, check=True, cwd=HERE.parent
    )
    return done.stdout.strip("\n") + "\n"


def stale(folder: Path = HERE) -> list[str]:
    """Names of the files in ``folder`` that differ from freshly generated scripts."""
    return [name for shell, name in FILES.items() if _read(folder / name) != completion_script(shell)]


def write(folder: Path = HERE) -> None:
    for shell, name in FILES.items():
        (folder / name).write_text(completion_script(shell), encoding="utf-8")


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if a script is stale")
    args = parser.parse_args(argv)
    if args.check:
        names = stale()
        if names:
            print(f"stale: {', '.join(names)}; run: python completions/generate.py", file=sys.stderr)
            return 1
        return 0
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
