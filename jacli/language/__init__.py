"""The expression language: user text -> SymPy objects, through a whitelist over ``ast``.

User text is data. It is checked character by character (:mod:`.source`), ``^`` is
rewritten to ``**``, and Python's ``ast`` parses it; a walker then accepts only the
node types in its table (:mod:`.parse`) and builds SymPy objects directly
(:mod:`.build`). Nothing is ever handed to ``eval``, ``exec``, ``sympify`` or
``parse_expr``. The functions user text can call are the rows of one table
(:mod:`.functions`); this package never imports torch.

Every value in the walker is a NumPy object array of SymPy expressions (0-d for
a scalar), so broadcasting, indexing and stacking follow NumPy's rules.

>>> program = build_program(parse_expression("2*x0+x1^2, x0**2"), {"x0": (), "x1": ()})
>>> program.outputs
(2*x0 + x1**2, x0**2)
"""

from jacli.language.arrays import Value, element_label, elementwise, flatten_values, matmul, scalar, simplifying
from jacli.language.build import Binding, Program, Variable, build_program, make_variable
from jacli.language.constants import constant_value, exact_sign
from jacli.language.functions import (
    CONSTANTS,
    FUNCTIONS,
    ROWS,
    Function,
    function_lines,
    reference_page,
    row_of,
    site_of,
)
from jacli.language.parse import ParsedExpression, Statement, natural_key, parse_expression
from jacli.language.printing import user_text
from jacli.language.source import (
    Source,
    check_result_size,
    dimension_problem,
    ensure_recursion_room,
    max_elements,
    max_length,
    prepare_source,
)
from jacli.language.sympy_functions import ceiling, detach, floor, sigmoid, softplus
from jacli.language.values import Assignments, parse_assignments
from jacli.limits import (
    DEFAULT_MAX_ELEMENTS,
    DEFAULT_MAX_LENGTH,
    EVALUATE_MAX_NODES,
    EXACT_DECISION_DIGITS,
    EXACT_DECISION_MAX_DIGITS,
    EXACT_DECISION_MAX_NODES,
    MAX_CONSTANT_BITS,
    MAX_DECIMAL_EXPONENT,
    MAX_DIMENSIONS,
    MAX_INT_BITS,
    MAX_INTEGER_EXPONENT,
    MAX_NAME_LENGTH,
    MAX_NESTING,
    MAX_TREE_SIZE,
    RECURSION_LIMIT,
    RESULT_ENTRIES_PER_ELEMENT,
)

__all__ = [
    "CONSTANTS",
    "DEFAULT_MAX_ELEMENTS",
    "DEFAULT_MAX_LENGTH",
    "EVALUATE_MAX_NODES",
    "EXACT_DECISION_DIGITS",
    "EXACT_DECISION_MAX_DIGITS",
    "EXACT_DECISION_MAX_NODES",
    "FUNCTIONS",
    "MAX_CONSTANT_BITS",
    "MAX_DECIMAL_EXPONENT",
    "MAX_DIMENSIONS",
    "MAX_INTEGER_EXPONENT",
    "MAX_INT_BITS",
    "MAX_NAME_LENGTH",
    "MAX_NESTING",
    "MAX_TREE_SIZE",
    "RECURSION_LIMIT",
    "RESULT_ENTRIES_PER_ELEMENT",
    "ROWS",
    "Assignments",
    "Binding",
    "Function",
    "ParsedExpression",
    "Program",
    "Source",
    "Statement",
    "Value",
    "Variable",
    "build_program",
    "ceiling",
    "check_result_size",
    "constant_value",
    "detach",
    "dimension_problem",
    "element_label",
    "elementwise",
    "ensure_recursion_room",
    "exact_sign",
    "flatten_values",
    "floor",
    "function_lines",
    "make_variable",
    "matmul",
    "max_elements",
    "max_length",
    "natural_key",
    "parse_assignments",
    "parse_expression",
    "prepare_source",
    "reference_page",
    "row_of",
    "scalar",
    "sigmoid",
    "simplifying",
    "site_of",
    "softplus",
    "user_text",
]
