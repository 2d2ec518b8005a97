"""The server's warm-up covers a big first call (issue 16): what it runs, and what a child still imports."""

from __future__ import annotations

import json
import subprocess
import sys

from jacli import fused, problem
from jacli.language import fast
from jacli.server import __main__ as server_main

# In a fresh interpreter: the server's preload, then a throwaway child (as the daemon forks one) runs a
# bigger command of the same kind (n = 300, not the warm-up's n) and names the modules it imported.
_CHILD_IMPORTS = """
import json, os, sys
os.environ["JACLI_SERVER"] = "off"
from jacli.server import __main__ as server_main
from jacli.server.child import modules_imported_by
run = server_main._runner(0)
server_main._preload(run)
print(json.dumps(modules_imported_by(run, [server_main.big_command(300)])))
"""


def test_the_big_warm_command_takes_the_big_paths() -> None:
    """Its sum is sorted by key, its tape is fused and its Hessian is sparse: what a big first call uses."""
    argv = server_main.big_command()
    n = server_main.BIG_WARM_VARIABLES
    assert argv[0] == "hessian" and "--no-symbolic" in argv and argv[argv.index("--format") + 1] == "json"
    names = tuple(f"x{i}" for i in range(n))
    shapes = tuple((name, ()) for name in names)
    program = problem.program_for(argv[1], shapes)
    (output,) = program.outputs
    assert len(output.args) >= fast.KEYED_SORT_MIN
    assert len(problem.compiled_for(argv[1], shapes, names)._steps) >= fused.FUSE_MIN_STEPS


def test_a_child_s_first_big_call_imports_nothing_the_warm_up_did_not() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD_IMPORTS], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
