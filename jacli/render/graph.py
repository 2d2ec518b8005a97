"""``jacli graph``: the computation graph as a Rich table, JSON, or Graphviz DOT.

JSON keys (SPEC): ``nodes`` (``id``, ``op``, ``label``, ``value``, ``adjoint``; also
``definition``, ``output`` for output nodes and ``tangent`` in forward mode) and
``edges`` (``from``, ``to``, ``partial``); besides them ``command``, ``expression``,
``point``, ``inputs``, ``outputs``, ``mode``, ``v``.
"""

from __future__ import annotations

import json
from typing import IO, TYPE_CHECKING, Any

from jacli.render import finite_or_null, format_number, full_precision, trimmed, write_one
from jacli.render.fit import Column, Grid, header, print_grids
from jacli.results import GraphNode, GraphResult, Nested

if TYPE_CHECKING:
    from rich.console import Console


def _node_object(node: GraphNode, forward: bool) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": node.id,
        "op": node.op,
        "label": node.label,
        "definition": node.definition,
        "value": node.value,
        "adjoint": node.adjoint,
    }
    if forward:
        obj["tangent"] = node.tangent
    if node.output is not None:
        obj["output"] = node.output
    return obj


def graph_object(result: GraphResult) -> dict[str, Any]:
    """The JSON object; non-finite numbers become ``null``."""
    forward = result.mode == "forward"
    return finite_or_null({
        "command": "graph",
        "expression": result.expression,
        "point": result.point,
        "inputs": list(result.inputs),
        "outputs": list(result.outputs),
        "mode": result.mode,
        "v": list(result.v),
        "nodes": [_node_object(n, forward) for n in result.nodes],
        "edges": [{"from": e.source, "to": e.target, "partial": e.partial} for e in result.edges],
    })  # fmt: skip


def render_graph_json(result: GraphResult) -> str:
    """One line of JSON (no trailing newline)."""
    return json.dumps(graph_object(result), allow_nan=False, ensure_ascii=False)


def write_graph(
    result: GraphResult,
    fmt: str,
    stream: IO[str],
    *,
    console: Console | None = None,
    digits: int = 6,
    first: bool = True,
) -> None:
    """One result of several, as ``fmt``: a JSON line, a DOT digraph, or tables on ``console``.

    Tables of several points are separated by a blank line (``first`` is False for all but the first).
    """
    texts = {"json": lambda r: render_graph_json(r) + "\n", "dot": render_graph_dot}
    write_one(result, fmt, stream, texts, render_graph_table, console=console, digits=digits, first=first)


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _number(x: float) -> str:
    text = full_precision(x)
    return text[:-2] if text.endswith(".0") else text


def render_graph_dot(result: GraphResult) -> str:
    """Graphviz DOT: nodes ``n<id>`` labelled with name, definition, value and adjoint (or tangent);
    edges from operand to operation, labelled with the local partial."""
    forward = result.mode == "forward"
    lines = [
        "digraph jacli {",
        "  rankdir=BT;",
        '  node [shape=box, style=rounded, fontname="Helvetica"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    labels = {n.id: n.label for n in result.nodes}
    for node in result.nodes:
        head = node.label if node.op in ("input", "parameter") else f"{node.label} = {node.definition}"
        parts = [head, f"{node.op}" + (f" → {node.output}" if node.output else ""), f"value = {_number(node.value)}"]
        if forward and node.tangent is not None:
            parts.append(f"tangent = {_number(node.tangent)}")
        else:
            parts.append(f"adjoint = {_number(node.adjoint)}")
        shape = ", shape=ellipse" if node.op in ("input", "parameter") else ""
        lines.append(f"  n{node.id} [label={_dot_string(chr(10).join(parts))}{shape}];")
    for edge in result.edges:
        partial = f"∂{labels[edge.target]}/∂{labels[edge.source]} = {_number(edge.partial)}"
        lines.append(f"  n{edge.source} -> n{edge.target} [label={_dot_string(partial)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render_graph_table(result: GraphResult, console: Console, digits: int = 6) -> None:
    """The nodes (definition, value, adjoint or tangent) and the edges (local partials) as tables."""
    with trimmed(console):
        from rich.text import Text

        forward = result.mode == "forward"
        seeded = ", ".join(f"{label}: {format_number(x, digits)}" for label, x in
                           zip(result.inputs if forward else result.outputs, result.v, strict=True))  # fmt: skip
        rows = [
            ("graph of", Text(f"f({', '.join(result.point)}) = {' '.join(result.expression.split())}")),
            ("at", Text(", ".join(f"{k} = {_point(v, digits)}" for k, v in result.point.items()))),
            ("mode", Text(f"{result.mode} (seed {seeded})")),
        ]
        console.print(header(rows, console.width))
        print_grids(console, [_nodes_grid(result, digits), _edges_grid(result, digits)], "--format json or dot")
        for note in result.notes:
            console.print(Text(note, style="dim"))


def _nodes_grid(result: GraphResult, digits: int) -> Grid:
    """Node, op, definition (free text: it may wrap), value, adjoint or tangent."""
    forward = result.mode == "forward"
    what = "tangent ∂node/∂x" if forward else "adjoint ∂f/∂node"
    labels, ops, definitions, values, numbers = [], [], [], [], []
    for node in result.nodes:
        number = node.tangent if forward and node.tangent is not None else node.adjoint
        labels.append(node.label + (f" → {node.output}" if node.output else ""))
        ops.append(node.op)
        definitions.append("" if node.op in ("input", "parameter") else node.definition)
        values.append(format_number(node.value, digits))
        numbers.append(format_number(number, digits))
    columns = [
        Column("op", ops, justify="left"),
        Column("definition", definitions, justify="left", wrap=True),
        Column("value", values),
        Column(what, numbers),
    ]
    return Grid("nodes (forward pass)", [Column("node", labels, justify="left")], columns)


def _edges_grid(result: GraphResult, digits: int) -> Grid:
    """Edge, the partial's name and its value."""
    labels = {n.id: n.label for n in result.nodes}
    pairs = [(labels[e.source], labels[e.target], e.partial) for e in result.edges]
    keys = [Column("edge", [f"{source} → {target}" for source, target, _ in pairs], justify="left")]
    columns = [
        Column("partial", [f"∂{target}/∂{source}" for source, target, _ in pairs], justify="left"),
        Column("value", [format_number(x, digits) for *_, x in pairs]),
    ]
    return Grid("edges (local partials)", keys, columns)


def _point(value: Nested, digits: int) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_point(v, digits) for v in value) + "]"
    return format_number(value, digits)
