"""The computation graph of a program: forward values, local partials, adjoints and tangents.

The graph is the SymPy DAG of the program's outputs, walked through its
let-bindings: a node per input element, per let-bound element (labelled with
its bound name) and per distinct operation; constants are folded into the
operation that uses them (``d = b + 1`` is one node). Nodes without a name get
single letters not used by the expression (``c``, ``d``, ``e`` … after ``a`` and
``b``; never ``f``, which names the outputs), in topological order; operands of an operation are ordered by where their
first variable appears in the text, so ``(a+b)*(b+1)`` names ``c = a + b`` and
``d = b + 1``.

Every number comes from torch, operation by operation, with jacli's own
semantics (``compile.torch_function``: the function table): forward values in the problem's dtype,
each edge's local partial by ``torch.autograd.grad`` of that one operation, then
a reverse sweep (adjoints ∂f/∂node, seeded by ``v``) and a forward sweep
(tangents ∂node/∂x along a seed direction). As in :mod:`jacli.compile`, only the
taken branch of a ``where`` carries derivatives and ``detach`` stops them: such
edges are *blocked* and pass nothing, not even a nan.

>>> from jacli import language
>>> program = language.build_program(language.parse_expression("(a+b)*(b+1)"), {"a": (), "b": ()})
>>> g = computation_graph(program, program.variables[0].symbols + program.variables[1].symbols, [2.0, 1.0])
>>> [(n.label, n.definition, n.value) for n in g.nodes]
[('a', 'a', 2.0), ('b', 'b', 1.0), ('c', 'a + b', 3.0), ('d', 'b + 1', 2.0), ('e', 'c*d', 6.0)]
>>> g.adjoints([1.0])
[2.0, 5.0, 2.0, 3.0, 1.0]
"""

from __future__ import annotations

import ast
import itertools
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sympy  # noqa: TID253 - a stage module, like compile.py
import torch  # noqa: TID253

from jacli import compile as lowering
from jacli import language
from jacli.errors import UsageError
from jacli.language import user_text
from jacli.limits import MAX_GRAPH_NODES
from jacli.results import GraphEdge, GraphNode, GraphResult

if TYPE_CHECKING:
    from torch import Tensor


OPERATION_NAMES: dict[type, str] = {
    sympy.Add: "add",
    sympy.Mul: "mul",
    sympy.Pow: "pow",
    sympy.StrictGreaterThan: "gt",
    sympy.GreaterThan: "ge",
    sympy.StrictLessThan: "lt",
    sympy.LessThan: "le",
    sympy.Equality: "eq",
    sympy.Unequality: "ne",
    sympy.And: "and",
    sympy.Or: "or",
    sympy.Not: "not",
    sympy.ITE: "where",
}
"""Operation names of the nodes that are no function of the language; a function's op is its name
(``sin``, ``ceil``, ``where``: its row of the function table), anything else its SymPy class, lowercased."""


@dataclass
class _Node:
    key: Any  # the SymPy node, or the binding symbol for a let-bound element
    definition: sympy.Basic  # the operation (for a binding: its value); the symbol for a leaf
    operand_exprs: list[sympy.Basic] = field(default_factory=list)  # in display order (Add/Mul: the user's)
    operands: list[Any] = field(default_factory=list)  # per operand: a node key, or None for a constant
    kind: str = "operation"  # input | parameter | binding | operation | const
    label: str = ""


@dataclass(frozen=True)
class Edge:
    source: int
    target: int
    partial: float
    blocked: bool  # detach, a condition, or the branch of a where not taken: passes nothing


@dataclass(frozen=True)
class Node:
    op: str
    label: str
    kind: str
    definition: str
    value: float


@dataclass(frozen=True)
class Graph:
    """Nodes in topological order (leaves first), their edges, and the output nodes."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    outputs: tuple[int, ...]  # node id of each output

    def adjoints(self, v: Sequence[float]) -> list[float]:
        """Reverse sweep: ∂(Σ v_i f_i)/∂node for every node (0 where no live path reaches it)."""
        adjoint = [0.0] * len(self.nodes)
        live = [False] * len(self.nodes)
        for out, weight in zip(self.outputs, v, strict=True):
            adjoint[out] += weight
            live[out] = True
        incoming = self._incoming()
        for target in reversed(range(len(self.nodes))):
            if not live[target]:
                continue
            for edge in incoming[target]:
                if not edge.blocked:
                    adjoint[edge.source] += adjoint[target] * edge.partial
                    live[edge.source] = True
        return adjoint

    def tangents(self, seed: dict[int, float]) -> list[float]:
        """Forward sweep: the tangent of every node, given the tangents of the input nodes."""
        tangent = [0.0] * len(self.nodes)
        live = [False] * len(self.nodes)
        for node_id, t in seed.items():
            tangent[node_id], live[node_id] = t, True
        incoming = self._incoming()
        for target in range(len(self.nodes)):
            for edge in incoming[target]:
                if live[edge.source] and not edge.blocked:
                    tangent[target] += edge.partial * tangent[edge.source]
                    live[target] = True
        return tangent

    def _incoming(self) -> list[list[Edge]]:
        incoming: list[list[Edge]] = [[] for _ in self.nodes]
        for edge in self.edges:
            incoming[edge.target].append(edge)
        return incoming


# ---------------------------------------------------------------------------
# Building the DAG.
# ---------------------------------------------------------------------------


def _operand_exprs(expr: sympy.Basic) -> list[sympy.Basic]:
    """The operands of an operation; a ``where`` has value, condition, value, condition, …, last value."""
    if isinstance(expr, sympy.Piecewise):
        out: list[sympy.Basic] = []
        for value, cond in expr.args:
            out.append(value)
            if cond is not sympy.true:
                out.append(cond)
        return out
    return list(expr.args)


def _first_mentions(parsed: language.ParsedExpression | None, program: language.Program) -> dict[str, tuple[int, int]]:
    """Name -> (line, column) of its first appearance in the text (without the text: variable order)."""
    if parsed is None:
        return {v.name: (0, i) for i, v in enumerate(program.variables)}
    first: dict[str, tuple[int, int]] = {}
    for stmt in parsed.statements:
        for node in ast.walk(stmt.value):
            if isinstance(node, ast.Name):
                position = (node.lineno, node.col_offset)
                first[node.id] = min(first.get(node.id, position), position)
    return first


def _base_name(symbol: sympy.Symbol) -> str:
    return symbol.name.split("[", 1)[0]


class _Builder:
    def __init__(self, program: language.Program, leaves: Sequence[sympy.Symbol], parsed: Any) -> None:
        self.bindings = {b.symbol: b.value for b in program.bindings}
        self.leaves = set(leaves)
        self.mentions = _first_mentions(parsed, program)
        self.nodes: dict[Any, _Node] = {}
        self.order: list[Any] = []

    def key_of(self, expr: sympy.Basic) -> Any:
        """The node key of an operand, or None when it is a constant (folded into its user)."""
        if isinstance(expr, sympy.Symbol) or expr.free_symbols:
            return expr
        return None

    def _position(self, expr: sympy.Basic) -> tuple[int, int]:
        names = [_base_name(s) for s in expr.free_symbols]
        return min((self.mentions.get(n, (1 << 30, 0)) for n in names), default=(1 << 30, 0))

    def _ordered_operands(self, expr: sympy.Basic) -> list[sympy.Basic]:
        operands = _operand_exprs(expr)
        if isinstance(expr, sympy.Add | sympy.Mul):  # commutative: the user's order, not SymPy's
            operands.sort(key=self._position)
        return operands

    def node_for(self, key: Any) -> _Node:
        if isinstance(key, sympy.Symbol) and key in self.bindings:
            return _Node(key, self.bindings[key], kind="binding")
        if isinstance(key, sympy.Symbol):
            if key not in self.leaves:
                raise UsageError(f"no value for {key}")
            return _Node(key, key, kind="input")
        return _Node(key, key)

    def visit(self, root: Any) -> None:
        """Post-order over the DAG (iterative: chains of bindings may be thousands deep)."""
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            key, expanded = stack.pop()
            if key in self.nodes and not expanded:
                continue
            if expanded:
                if key not in self.nodes:
                    self._add(key)
                continue
            node = self.node_for(key)
            stack.append((key, True))
            if node.kind != "input":
                operands = [self.key_of(e) for e in self._ordered_operands(node.definition)]
                for operand in reversed([o for o in operands if o is not None]):
                    if operand not in self.nodes:
                        stack.append((operand, False))

    def _add(self, key: Any) -> None:
        node = self.node_for(key)
        if node.kind != "input":
            node.operand_exprs = self._ordered_operands(node.definition)
            node.operands = [self.key_of(e) for e in node.operand_exprs]
        self.nodes[key] = node
        self.order.append(key)
        if len(self.order) > MAX_GRAPH_NODES:
            raise UsageError(
                f"the computation graph has more than {MAX_GRAPH_NODES:,} nodes; "
                "graph is for small expressions (try a smaller array)"
            )


def _auto_names(taken: set[str]) -> Iterator[str]:
    for name in itertools.chain(string.ascii_lowercase, (f"v{i}" for i in itertools.count(1))):
        if name not in taken:
            yield name


def _op_name(expr: sympy.Basic, kind: str) -> str:
    if kind in ("input", "parameter", "const"):
        return kind
    if isinstance(expr, sympy.Mul) and expr.args[0] == -1 and len(expr.args) == 2:
        return "neg"
    if isinstance(expr, sympy.Pow):
        return {sympy.S.Half: "sqrt", -sympy.S.One: "reciprocal", sympy.Integer(2): "square"}.get(expr.exp, "pow")
    for cls in type(expr).__mro__:
        if cls in OPERATION_NAMES:
            return OPERATION_NAMES[cls]
    row = language.row_of(expr)
    return row.name if row is not None else type(expr).__name__.lower()


def _definition_text(node: _Node, labels: dict[Any, str]) -> str:
    if node.kind in ("input", "parameter", "const"):
        return labels[node.key] if node.kind != "const" else user_text(node.definition)
    operands = node.operand_exprs
    replace = {e: sympy.Symbol(labels[e]) for e in operands if e in labels and not isinstance(e, sympy.Symbol)}
    replace |= {e: sympy.Symbol(labels[e]) for e in operands if isinstance(e, sympy.Symbol)}
    return user_text(node.definition.xreplace(replace))


# ---------------------------------------------------------------------------
# One operation in torch, with its local partials.
# ---------------------------------------------------------------------------


def _apply(expr: sympy.Basic, args: list[Tensor]) -> Tensor:
    if isinstance(expr, sympy.Pow):  # as jacli.compile lowers powers, so the partials match jacli's autodiff
        if expr.exp.free_symbols:
            return torch.pow(*args)
        return lowering.power_function(expr.exp)(args[0])
    if isinstance(expr, sympy.Piecewise):
        pairs = expr.args
        has_default = pairs[-1][1] is sympy.true
        result = args[-1] if has_default else torch.full_like(args[0], float("nan"))
        index = len(args) - (1 if has_default else 0)
        for _value, _cond in reversed(pairs[:-1] if has_default else pairs):
            value, cond = args[index - 2], args[index - 1]
            result = torch.where(cond, value, result)
            index -= 2
        return result
    return lowering.torch_function(expr)(*args)


def _taken_branch(expr: sympy.Piecewise, args: list[Tensor]) -> int:
    """Operand index of the value a ``where`` takes (conditions are at odd indices)."""
    index = 0
    for _value, cond in expr.args:
        if cond is sympy.true or bool(args[index + 1]):
            return index
        index += 2
    return -1


def computation_graph(
    program: language.Program,
    leaves: Sequence[sympy.Symbol],
    leaf_values: Sequence[float],
    *,
    inputs: Sequence[sympy.Symbol] | None = None,
    parsed: language.ParsedExpression | None = None,
    dtype: torch.dtype = torch.float64,
) -> Graph:
    """The graph of ``program``'s outputs at ``leaves = leaf_values``; ``inputs`` (default all) are inputs,
    the other leaves parameters."""
    builder = _Builder(program, leaves, parsed)
    output_keys = []
    for out in program.outputs:
        key = builder.key_of(out)
        if key is None:  # a constant output still needs a node
            key = ("const", len(output_keys))
            builder.nodes[key] = _Node(key, out, kind="const")
            builder.order.append(key)
        else:
            builder.visit(key)
        output_keys.append(key)
    input_set = set(leaves if inputs is None else inputs)
    leaf_order = {s: i for i, s in enumerate(leaves)}
    # leaves first, in variable order; then operations in topological order
    order = sorted((k for k in builder.order if builder.nodes[k].kind == "input"), key=lambda k: leaf_order[k]) + [
        k for k in builder.order if builder.nodes[k].kind != "input"
    ]
    for key in order:
        node = builder.nodes[key]
        if node.kind == "input" and key not in input_set:
            node.kind = "parameter"
    ids = {key: i for i, key in enumerate(order)}
    labels = _labels(builder, order, program)
    values: dict[Any, Tensor] = {}
    value_of = dict(zip(leaves, leaf_values, strict=True))
    edges: list[Edge] = []
    nodes: list[Node] = []
    for key in order:
        node = builder.nodes[key]
        if node.kind in ("input", "parameter"):
            values[key] = torch.tensor(value_of[key], dtype=dtype)
        elif node.kind == "const":
            values[key] = torch.tensor(language.constant_value(node.definition), dtype=dtype)
        else:
            values[key], node_edges = _evaluate(node, values, ids, dtype)
            edges.extend(node_edges)
        value = values[key]
        nodes.append(Node(
            op=_op_name(node.definition, node.kind),
            label=labels[key],
            kind=node.kind,
            definition=_definition_text(node, labels),
            value=float(value.to(dtype)) if value.dtype != torch.bool else float(bool(value)),
        ))  # fmt: skip
    return Graph(tuple(nodes), tuple(edges), tuple(ids[k] for k in output_keys))


def _labels(builder: _Builder, order: list[Any], program: language.Program) -> dict[Any, str]:
    # "f" names the outputs (f, f0, f[0,1]): no operation node gets it
    taken = {v.name for v in program.variables} | {_base_name(b.symbol) for b in program.bindings} | {"f"}
    names = _auto_names(taken)
    labels = {}
    for key in order:
        node = builder.nodes[key]
        labels[key] = key.name if node.kind in ("input", "parameter", "binding") else next(names)
    return labels


def _evaluate(
    node: _Node, values: dict[Any, Tensor], ids: dict[Any, int], dtype: torch.dtype
) -> tuple[Tensor, list[Edge]]:
    """Forward value of one operation and the partials on its operand edges."""
    args: list[Tensor] = []
    for expr, key in zip(node.operand_exprs, node.operands, strict=True):
        if key is None:
            constant = expr if isinstance(expr, sympy.logic.boolalg.BooleanAtom) else None
            if constant is not None:
                args.append(torch.tensor(bool(constant)))
            else:
                args.append(torch.tensor(language.constant_value(expr), dtype=dtype))
        else:
            value = values[key].detach()
            args.append(value.clone().requires_grad_(True) if value.is_floating_point() else value)
    with torch.enable_grad():
        out = _apply(node.definition, args)
        differentiable = [a for a in args if a.requires_grad]
        grads: list[Tensor | None] = [None] * len(differentiable)
        if differentiable and out.requires_grad:
            grads = list(torch.autograd.grad(out, differentiable, allow_unused=True))
    taken = _taken_branch(node.definition, args) if isinstance(node.definition, sympy.Piecewise) else None
    edges: dict[int, Edge] = {}
    grad_iter = iter(grads)
    for position, (arg, key) in enumerate(zip(args, node.operands, strict=True)):
        if key is None:
            continue
        grad = next(grad_iter) if arg.requires_grad else None
        partial = 0.0 if grad is None else float(grad)
        blocked = grad is None or (taken is not None and position % 2 == 0 and position != taken)
        source = ids[key]
        if source in edges:  # the same operand twice, as in atan2(x, x): the partials add
            old = edges[source]
            edges[source] = Edge(source, ids[node.key], old.partial + partial, old.blocked and blocked)
        else:
            edges[source] = Edge(source, ids[node.key], partial, blocked)
    return out.detach(), list(edges.values())


# ---------------------------------------------------------------------------
# ``jacli graph``: the graph of a Problem at its point, swept in reverse or forward mode.
# The API builds the Problem and validates the options; this module never imports the API.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Leaves:
    """What a graph reads of a :class:`jacli.api.Problem`; read from it in one place, :func:`_leaves`."""

    program: language.Program
    inputs: list[sympy.Symbol]  # the n input element symbols
    params: list[sympy.Symbol]  # the parameters' element symbols
    values: list[float]  # of the inputs, then of the parameters
    dtype: torch.dtype
    point: dict[str, Any]  # variable name -> float or nested list (the result's ``point``)


def _leaves(prob: Any) -> _Leaves:
    params = [s for var in prob.params for s in var.symbols]
    values = prob.inputs_tensor.tolist() + prob.params_tensor.tolist()
    return _Leaves(prob.program, prob.input_symbols, params, values, prob.inputs_tensor.dtype, prob.point_json())


def run_graph(
    prob: Any,
    parsed: language.ParsedExpression,
    seed: Sequence[float] | None,
    *,
    mode: str,
    input: str | None,
) -> GraphResult:
    """The computation graph of ``prob`` with adjoints, and in forward mode tangents (see :func:`jacli.api.graph`).

    ``seed``: the weights of the m outputs (reverse mode) or a direction over the n inputs
    (forward mode); None seeds the first output, and in forward mode the input ``input``
    (default: the first). ``mode`` and ``input`` are validated by the caller.
    """
    leaves = _leaves(prob)
    program, inputs = leaves.program, leaves.inputs
    g = computation_graph(
        program, inputs + leaves.params, leaves.values, inputs=inputs, parsed=parsed, dtype=leaves.dtype
    )
    outputs, input_labels = program.output_labels, [s.name for s in inputs]
    notes = []
    if mode == "reverse" and seed is not None:
        weights = list(seed)
    else:
        weights = [1.0] + [0.0] * (len(outputs) - 1)
        if len(outputs) > 1:
            notes.append(f"adjoints of {outputs[0]}, the first output; --v weights the outputs (a VJP)")
    adjoints = g.adjoints(weights)
    tangents, used = None, tuple(weights)
    if mode == "forward":
        if seed is not None:
            direction = list(seed)
        else:
            chosen = input if input is not None else input_labels[0]
            direction = [float(label == chosen) for label in input_labels]
            if input is None and len(input_labels) > 1:
                notes.append(f"tangents ∂node/∂{chosen}, the first input; --input or --v picks another direction")
        node_of = {node.label: i for i, node in enumerate(g.nodes) if node.kind == "input"}
        pairs = zip(input_labels, direction, strict=True)
        tangents = g.tangents({node_of[label]: t for label, t in pairs if label in node_of})
        used = tuple(direction)
    return GraphResult(
        expression=program.text,
        point=leaves.point,
        inputs=tuple(input_labels),
        outputs=outputs,
        mode=mode,
        v=used,
        nodes=_result_nodes(g, outputs, adjoints, tangents),
        edges=tuple(GraphEdge(e.source, e.target, e.partial) for e in g.edges),
        notes=tuple(notes),
    )


def _result_nodes(
    g: Graph, outputs: Sequence[str], adjoints: list[float], tangents: list[float] | None
) -> tuple[GraphNode, ...]:
    """The result's nodes; an output node names its outputs (``f0, f1`` when two outputs are one node)."""
    output_of: dict[int, str] = {}
    for label, node_id in zip(outputs, g.outputs, strict=True):
        output_of[node_id] = f"{output_of[node_id]}, {label}" if node_id in output_of else label
    return tuple(
        GraphNode(
            id=i,
            op=n.op,
            label=n.label,
            definition=n.definition,
            value=n.value,
            adjoint=adjoints[i],
            tangent=None if tangents is None else tangents[i],
            output=output_of.get(i),
        )
        for i, n in enumerate(g.nodes)
    )
