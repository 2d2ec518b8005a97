"""The symbolic form as a warm cache (issue 16): keyed on plain data, so the warm server replays it.

A call reports the key of its slow derivation; replaying the key (as the server does when idle)
fills the entry and the text of each distinct entry, so the next identical call is a hit that
derives and prints nothing. Programs, quantities or weights that have no plain key keep the
in-process cache. Through a real server: tests/test_server_symbolic_cache.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from test_warm_cache import _report

from jacli import api, limits, problem, symbolic, symbolic_result, warm_cache

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
from scale import rosenbrock

N = 40
TEXT = rosenbrock(N)
AT = [1.1] * N
NAME = "jacli.symbolic_result.warm_symbolic_form"


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch):
    """Every cache empty, every miss slow enough to report, nothing reported yet."""
    for cache in (problem._parse, problem.program_for, problem.compiled_for):
        cache.cache_clear()
    symbolic_result.clear_caches()
    symbolic._text_of.cache_clear()
    warm_cache.report()
    monkeypatch.setattr(limits, "WARM_CACHE_MIN_SECONDS", 0.0)
    yield
    warm_cache.report()


def _derivations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of the symbolic derivations made from now on (each builds a Differentiator)."""
    made = [0]
    original = symbolic.Differentiator.__init__

    def counting(self, program):
        made[0] += 1
        original(self, program)

    monkeypatch.setattr(symbolic.Differentiator, "__init__", counting)
    return made


def test_a_replayed_symbolic_form_is_a_hit_that_derives_and_prints_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    made = _derivations(monkeypatch)
    first = api.hessian(TEXT, at=AT)
    assert made == [1]
    reported = _report()[2]
    keys = [key for key in reported if key[0] == NAME]
    assert len(keys) == 1
    args = keys[0][1]
    assert args[:3] == (TEXT, tuple((f"x{i}", ()) for i in range(N)), "hessian")
    assert args[3] == tuple(f"x{i}" for i in range(N)) and args[4] is None
    # a fresh child of the server: nothing cached but what the replay fills
    for cache in (problem._parse, problem.program_for, problem.compiled_for):
        cache.cache_clear()
    symbolic_result.clear_caches()
    symbolic._text_of.cache_clear()
    added = warm_cache.replay(*keys[0])
    assert {name for name, _ in added} == {NAME, "jacli.problem.program_for", "jacli.problem._parse"}
    assert made == [2]
    for key in reported:
        if key[0] == "jacli.problem.compiled_for":
            warm_cache.replay(*key)  # the torch program too, as the server does
    assert made == [2]
    printed = symbolic._text_of.cache_info().currsize
    assert printed >= 2 * N - 1  # the gradient's and the diagonal's distinct entries, printed in the replay
    text_hits = symbolic._text_of.cache_info().hits
    again = api.hessian(TEXT, at=[0.5] * N)  # another point: the same symbolic form
    assert made == [2]  # no derivation
    assert symbolic._text_of.cache_info().currsize == printed  # no new text
    assert symbolic._text_of.cache_info().hits > text_hits
    hits, misses, _ = _report()
    assert (hits, misses) == (1, 0)  # counted as a server cache hit
    assert again.symbolic == first.symbolic
    assert symbolic_result.warm_symbolic_form.cache_info().hits == 1


def test_the_cached_form_is_the_same_and_callers_get_their_own_lists() -> None:
    one = api.gradient(TEXT, at=AT)
    one.symbolic_exprs[0] = "changed"
    two = api.gradient(TEXT, at=[2.0] * N)
    assert symbolic_result.warm_symbolic_form.cache_info().hits == 1
    assert two.symbolic_exprs[0] != "changed"
    assert two.symbolic == one.symbolic and two.symbolic[0] == "-400*x0*(-x0**2 + x1) + 2*x0 - 2"


def test_rational_weights_travel_others_stay_in_process() -> None:
    rational = api.vjp("x*y, x + y**2", at=[1.0, 2.0], v="1/2, 3")
    assert rational.symbolic == ["y/2 + 3", "x/2 + 6*y"]
    assert symbolic_result.warm_symbolic_form.cache_info().currsize == 1
    weights = [key[1][4] for key in _report()[2] if key[0] == NAME]
    assert weights == [((1, 2), (3, 1))]
    irrational = api.vjp("x*y, x + y**2", at=[1.0, 2.0], v="sqrt(2), 3")  # not a rational: no plain key
    assert irrational.symbolic == ["sqrt(2)*y + 3", "sqrt(2)*x + 6*y"]
    assert symbolic_result.warm_symbolic_form.cache_info().currsize == 1
    assert symbolic_result.cached_symbolic_form.cache_info().currsize == 1
    assert [key for key in _report()[2] if key[0] == NAME] == []


def test_a_quantity_with_options_stays_in_process() -> None:
    third = api.derivative("x**3*y", at=[1.0, 2.0], order=3)
    assert third.symbolic == [[[["6*y", "6*x"], ["6*x", "0"]], [["6*x", "0"], ["0", "0"]]]]
    assert symbolic_result.warm_symbolic_form.cache_info().currsize == 0
    assert symbolic_result.cached_symbolic_form.cache_info().misses == 1


def test_a_replay_under_other_bounds_is_refused_and_not_cached() -> None:
    api.gradient(TEXT, at=AT)
    (key,) = [key for key in _report()[2] if key[0] == NAME]
    symbolic_result.clear_caches()
    name, args, context = key
    other = (*args[:-1], (args[-1][0] + 1, *args[-1][1:]))  # another MAX_DERIVATIVE_WORK than this process's
    with pytest.raises(symbolic.SymbolicTooLarge, match="other bounds"):
        warm_cache.replay(name, other, context)
    assert not warm_cache.has(name, other)
    warm_cache.replay(*key)
    assert warm_cache.has(name, args)


def test_a_derivative_over_its_bounds_is_skipped_and_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(symbolic, "MAX_DERIVATIVE_WORK", 10)
    skipped = api.hessian(TEXT, at=AT)
    assert skipped.symbolic is None and "symbolic form skipped" in skipped.notes[0]
    assert symbolic_result.warm_symbolic_form.cache_info().currsize == 0
    assert [key for key in _report()[2] if key[0] == NAME] == []
    monkeypatch.setattr(symbolic, "MAX_DERIVATIVE_WORK", 10**9)
    assert api.hessian(TEXT, at=AT).symbolic is not None  # under the new limit: derived, not the skip


def test_the_bounds_do_not_depend_on_what_was_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server derives forms before a child imports jacli.higher: the key must not change with it."""
    from jacli import higher

    loaded = symbolic_result._bounds()
    monkeypatch.delitem(sys.modules, "jacli.higher")
    assert (
        symbolic_result._bounds()
        == loaded
        == (symbolic.MAX_DERIVATIVE_WORK, higher.MAX_SYMBOLIC_ENTRIES, symbolic._symengine() is not None)
    )
