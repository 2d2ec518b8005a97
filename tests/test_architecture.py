"""The import structure of jacli: imports flow one way (STYLE.md, "Layout").

Read from the source, not from a running interpreter: every ``import`` and
``from … import`` in a module counts, at module level or inside a function,
because a lazy import still makes the two modules depend on each other. Imports
under ``if TYPE_CHECKING:`` do not count: they never run (annotations only).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "jacli"

# Edges of cycles that lie in modules this refactor does not restructure yet.
# issue 12: to remove (each one, with the split of the module named on its left).
KNOWN_CYCLE_EDGES: frozenset[tuple[str, str]] = frozenset()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imported_names(module: str) -> set[str]:
    """The absolute names of what ``module`` imports (a ``from a import b`` gives ``a.b`` when that is a module)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            submodules = {f"{origin}.{alias.name}" for alias in node.names} & MODULES.keys()
            names |= submodules
            if len(submodules) < len(node.names):  # some name is an attribute of ``origin`` itself
                names.add(origin)
    return names


def _with_parents(name: str) -> set[str]:
    """``name`` and the subpackages importing it runs (the ``jacli`` package itself only when named)."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(2, len(parts) + 1)} | {name}


def dependencies(module: str) -> set[str]:
    """The jacli modules that importing ``module`` (or calling its functions) imports."""
    found: set[str] = set()
    for name in imported_names(module):
        if name == "jacli":
            found.add(name)
        elif name.startswith("jacli."):
            # the packages above ``module`` itself have run already: importing a sibling does not import them
            # again (jacli.language.parse -> jacli.language.source is no edge to jacli.language)
            implicit = (_with_parents(name) - {name}) & _with_parents(module)
            found |= {parent for parent in _with_parents(name) - implicit if parent in MODULES}
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    return {module: dependencies(module) - {t for f, t in KNOWN_CYCLE_EDGES if f == module} for module in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, …, a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_the_graph_sees_lazy_imports() -> None:
    """The reader itself: function-level and relative imports count, TYPE_CHECKING ones do not."""
    assert "jacli.server.control" in dependencies("jacli.server.client")  # imported inside _restart
    assert "jacli.cli" in dependencies("jacli.entry")  # imported inside _status
    assert "jacli.results" not in dependencies("jacli.render.latex")  # annotations only
    assert "jacli.render" in dependencies("jacli.render.latex")
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_known_cycle_edges_still_exist() -> None:
    """An exception that is no longer needed is removed from the list."""
    for importer, imported in KNOWN_CYCLE_EDGES:
        assert imported in dependencies(importer), (importer, imported)


# Who may import the program's two top modules: the CLI is run, never used as a library.
ALLOWED_IMPORTERS = {
    "jacli.cli": {"jacli.entry", "jacli.server.__main__"},
    "jacli.entry": {"jacli.__main__"},
}


@pytest.mark.parametrize("target", sorted(ALLOWED_IMPORTERS))
def test_only_the_entry_points_import_the_cli(target: str) -> None:
    importers = {module for module in MODULES if target in dependencies(module)}
    assert importers <= ALLOWED_IMPORTERS[target], sorted(importers - ALLOWED_IMPORTERS[target])


@pytest.mark.parametrize("module", ["jacli.server.daemon", "jacli.server.child", "jacli.server.client"])
def test_the_server_imports_no_cli_module(module: str) -> None:
    """The daemon and its children get ``run`` injected by ``python -m jacli.server``; the client is stdlib."""
    heavy = {"jacli.cli", "jacli.entry", "jacli.terminal", "jacli.typer_compat", "jacli.api"}
    assert not dependencies(module) & heavy


def test_the_funnel_gets_the_program_injected() -> None:
    """``jacli.terminal`` runs the CLI's program without importing it (nor Typer, nor Click)."""
    assert not dependencies("jacli.terminal") & {"jacli.cli", "jacli.typer_compat", "jacli.entry"}
    assert not {name.split(".")[0] for name in imported_names("jacli.terminal")} & {"typer", "click", "rich"}


def test_typer_and_click_are_imported_in_one_module() -> None:
    """Typer and Click come through ``jacli.typer_compat`` (its import is the one that must not warn)."""
    users = {m for m in MODULES if {n.split(".")[0] for n in imported_names(m)} & {"typer", "click"}}
    assert users == {"jacli.typer_compat"}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("jacli.render")))
def test_renderers_import_no_torch(module: str) -> None:
    torch = sorted(name for name in imported_names(module) if name.split(".")[0] == "torch")
    assert torch == [], f"{module} imports {torch}"


def _closure(module: str) -> set[str]:
    """``module`` and every jacli module it imports, directly or not."""
    seen, pending = set(), [module]
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(dependencies(name))
    return seen


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("jacli.language")))
def test_the_language_imports_no_torch(module: str) -> None:
    """``language/`` is text -> SymPy: not torch, not even through another jacli module."""
    torch = sorted(name for m in _closure(module) for name in imported_names(m) if name.split(".")[0] == "torch")
    assert torch == [], f"{module} imports {torch}"


def test_the_protocol_imports_only_the_standard_library() -> None:
    names = imported_names("jacli.server.protocol")
    outside = sorted(name for name in names if name.split(".")[0] not in sys.stdlib_module_names)
    assert names and outside == []


def _exit_calls(module: str) -> tuple[int, int]:
    """How often ``module`` calls ``os._exit`` and how often it assigns to it (monkeypatching)."""
    calls = assigns = 0
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        is_exit = isinstance(node, ast.Attribute) and node.attr == "_exit"
        if is_exit and isinstance(node.ctx, ast.Store):
            assigns += 1
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_exit":
            calls += 1
    return calls, assigns


def test_only_the_entry_point_ends_the_process() -> None:
    """``os._exit`` in ``entry`` only, and in the daemon's forked children (which must never return
    into the server's loop); nobody replaces it."""
    callers = {module for module in MODULES if _exit_calls(module)[0]}
    assert callers == {"jacli.entry", "jacli.server.daemon", "jacli.server.child"}
    assert [module for module in MODULES if _exit_calls(module)[1]] == []


def test_console_script_and_python_m_are_one_program() -> None:
    pyproject = (PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert 'jacli = "jacli.entry:main"' in pyproject
    assert imported_names("jacli.__main__") == {"jacli.entry"}


def test_limits_import_only_the_standard_library_and_the_errors() -> None:
    """The server package and the renderers import ``jacli.limits``: it must stay this light."""
    names = imported_names("jacli.limits")
    outside = sorted(name for name in names if name.split(".")[0] not in sys.stdlib_module_names)
    assert outside == ["jacli.errors"]
    assert dependencies("jacli.errors") == set()


@pytest.mark.parametrize("module", ["jacli.checking", "jacli.nonsmooth", "jacli.graphs"])
def test_check_and_graph_never_import_the_api(module: str) -> None:
    """The API builds the Problem and calls them: api -> checking/graphs, never back."""
    assert not dependencies(module) & {"jacli.api", "jacli.cli", "jacli.render"}


def test_nonsmooth_is_sympy_only() -> None:
    """The non-smoothness tests are exact arithmetic: no torch, and nothing of the check that runs them."""
    assert "torch" not in {name.split(".")[0] for name in imported_names("jacli.nonsmooth")}
    assert "jacli.checking" not in dependencies("jacli.nonsmooth")


def _module_level_imports(module: str) -> set[str]:
    """What ``module`` imports when it is imported (not inside its functions, nor for annotations)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add(node.module or "")
    return names


@pytest.mark.parametrize("module", ["jacli.language", "jacli.language.functions", "jacli.reference"])
def test_the_function_table_imports_no_sympy(module: str) -> None:
    """``jacli language`` prints the table's text: importing the table (and its lazy package) needs only the
    standard library; a row's SymPy views are imported when first used (see also tests/test_startup.py)."""
    outside = {name for name in _module_level_imports(module) if name.split(".")[0] not in sys.stdlib_module_names}
    assert outside <= {"__future__", "jacli.reference"}, outside


# Calls that evaluate text. SymEngine's ``sympify`` converts a SymPy object (never text) to SymEngine.
_TEXT_EVALUATORS = {"eval", "exec", "compile", "sympify", "parse_expr", "S"}  # called by name (builtins, imports)
_TEXT_EVALUATOR_METHODS = {"sympify", "parse_expr", "S"}  # sympy.sympify(...), sympy.S(...)
_ALLOWED_EVALUATOR_CALLS = {("symbolic.py", "engine.sympify")}


def _evaluator_calls(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            by_name = isinstance(func, ast.Name) and func.id in _TEXT_EVALUATORS
            if by_name or (isinstance(func, ast.Attribute) and func.attr in _TEXT_EVALUATOR_METHODS):
                yield ast.unparse(func)


def test_no_module_evaluates_text() -> None:
    """User text is data (SPEC): no eval, exec, compile, sympify, parse_expr or S(...) anywhere in jacli/."""
    found = {
        (path.name, call)
        for path in PACKAGE.rglob("*.py")
        for call in _evaluator_calls(path)
        if (path.name, call) not in _ALLOWED_EVALUATOR_CALLS
    }
    assert found == set()
