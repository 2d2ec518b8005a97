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
