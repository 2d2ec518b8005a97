"""The first call's quick paths (issue 16): the plain-text source, the walk, the paused collector."""

from __future__ import annotations

import ast
import gc

from hypothesis import given, settings
from hypothesis import strategies as st

from jacli import collector
from jacli.language import parse, source

PLAIN = st.text(alphabet=st.sampled_from(list("x1+*()- \t\n^\r_a.,;=")), max_size=30)


@settings(max_examples=300)
@given(PLAIN, st.sampled_from(["", "_("]), st.sampled_from(["", "\n)"]), st.booleans())
def test_plain_text_source_is_the_rewritten_one(text: str, prefix: str, suffix: str, keep: bool) -> None:
    """Where nothing is rewritten, the whole-text Source equals the character loop's."""
    got = source.prepare_source(text, prefix, suffix, keep_indentation=keep)
    assert got == source._rewrite(text, prefix, suffix, keep)


@settings(max_examples=100)
@given(st.sampled_from(["x + y*2", "a = x**2; a - sin(a, 1)", "[x, (y, 2)][0]", "f(x)(y)", "x.T.sum(axis=0)"]))
def test_walk_is_ast_walk(text: str) -> None:
    tree = ast.parse(text)
    assert list(parse.walk(tree)) == list(ast.walk(tree))


def test_the_collector_is_paused_and_restored() -> None:
    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled()
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # nested: the outer block restores it
    assert gc.isenabled()
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()


COUNT_COLLECTIONS = """
import gc, sys
import jacli.collector, jacli.quantities  # stdlib only: the lazy names need it first
starts = []
gc.callbacks.append(lambda phase, info: starts.append(info["generation"]) if phase == "start" else None)
{imports}
assert "torch" in sys.modules and "sympy" in sys.modules
print(len(starts))
"""


def _collections_during(imports: str) -> int:
    import subprocess
    import sys

    code = COUNT_COLLECTIONS.format(imports=imports)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_the_api_is_imported_without_collections() -> None:
    """jacli.api (torch, SymPy) comes in with the collector paused: at most the one collection after it."""
    assert _collections_during("import jacli.api") > 10  # what the pause saves: the test can fail
    assert _collections_during("from jacli.collector import imported; imported('jacli.api')") <= 1
    assert _collections_during("import jacli; jacli.jacobian") <= 1  # the package's lazy names too


def test_a_one_command_process_collects_less_often(monkeypatch) -> None:
    """The one-shot path (entry, JACLI_SERVER=off) raises the thresholds before the command runs."""
    from jacli import entry, terminal

    seen = []
    monkeypatch.setenv("JACLI_SERVER", "off")
    monkeypatch.setattr(terminal, "run", lambda *args, **kwargs: seen.append(gc.get_threshold()) or 0)
    before = gc.get_threshold()
    try:
        assert entry._status(["gradient", "x", "--at", "1"]) == (0, False)
    finally:
        gc.set_threshold(*before)
    assert seen == [collector.ONE_COMMAND_THRESHOLDS] != [before]
