"""The expression language: user text -> SymPy objects, through a whitelist over ``ast``.

User text is data. It is checked character by character (:mod:`.source`), ``^`` is
rewritten to ``**``, and Python's ``ast`` parses it; a walker then accepts only the
node types in its table (:mod:`.parse`) and builds SymPy objects directly
(:mod:`.build`). Nothing is ever handed to ``eval``, ``exec``, ``sympify`` or
``parse_expr``. The functions user text can call are the rows of one table
(:mod:`.functions`); this package never imports torch.

Every value in the walker is a NumPy object array of SymPy expressions (0-d for
a scalar), so broadcasting, indexing and stacking follow NumPy's rules.

>>> from jacli.language import build_program, parse_expression
>>> program = build_program(parse_expression("2*x0+x1^2, x0**2"), {"x0": (), "x1": ()})
>>> program.outputs
(2*x0 + x1**2, x0**2)
"""

from __future__ import annotations

import importlib
from typing import Any

# The package is lazy: ``from jacli import language`` imports nothing more, and each name is
# imported from its module on first use. ``jacli language`` prints the function table
# (``jacli.language.functions``) without SymPy, which every other module here imports.
_MODULE_OF: dict[str, str] = {
    **dict.fromkeys(
        ("Value", "element_label", "elementwise", "flatten_values", "matmul", "scalar", "simplifying"),
        "jacli.language.arrays",
    ),
    **dict.fromkeys(("Binding", "Program", "Variable", "build_program", "make_variable"), "jacli.language.build"),
    **dict.fromkeys(("constant_value", "exact_sign"), "jacli.language.constants"),
    **dict.fromkeys(
        ("CONSTANTS", "FUNCTIONS", "ROWS", "Function", "function_lines", "reference_page", "row_of", "site_of"),
        "jacli.language.functions",
    ),
    **dict.fromkeys(
        ("ParsedExpression", "Statement", "call_parts", "natural_key", "parse_expression"), "jacli.language.parse"
    ),
    **dict.fromkeys(("user_text",), "jacli.language.printing"),
    **dict.fromkeys(
        (
            "Source",
            "check_result_size",
            "dimension_problem",
            "ensure_recursion_room",
            "max_elements",
            "max_length",
            "prepare_source",
        ),
        "jacli.language.source",
    ),
    **dict.fromkeys(("ceiling", "detach", "floor", "sigmoid", "softplus"), "jacli.language.sympy_functions"),
    **dict.fromkeys(("Assignments", "parse_assignments"), "jacli.language.values"),
    **dict.fromkeys(
        (
            "DEFAULT_MAX_ELEMENTS",
            "DEFAULT_MAX_LENGTH",
            "EVALUATE_MAX_NODES",
            "EXACT_DECISION_DIGITS",
            "EXACT_DECISION_MAX_DIGITS",
            "EXACT_DECISION_MAX_NODES",
            "MAX_CONSTANT_BITS",
            "MAX_DECIMAL_EXPONENT",
            "MAX_DIMENSIONS",
            "MAX_INT_BITS",
            "MAX_INTEGER_EXPONENT",
            "MAX_NAME_LENGTH",
            "MAX_NESTING",
            "MAX_TREE_SIZE",
            "RECURSION_LIMIT",
            "RESULT_ENTRIES_PER_ELEMENT",
        ),
        "jacli.limits",
    ),
}
"""Each public name -> the module that defines it."""


def __getattr__(name: str) -> Any:
    """``language.X``: ``X`` from its module, imported now (PEP 562)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if module != "jacli.language.functions" and not module.startswith("jacli.limits"):
        # a SymPy-side name: resolve the function table first, so that constant_value knows every function
        importlib.import_module("jacli.language.functions").resolve_views()
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    """The names imported already and those :func:`__getattr__` imports."""
    return sorted({*globals(), *_MODULE_OF})
