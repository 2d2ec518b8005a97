"""``jacli graph``: the computation graph as a Rich table, JSON, or Graphviz DOT.

JSON keys (SPEC): ``nodes`` (``id``, ``op``, ``label``, ``value``, ``adjoint``; also
``definition``, ``output`` for output nodes and ``tangent`` in forward mode) and
``edges`` (``from``, ``to``, ``partial``); besides them ``command``, ``expression``,
``point``, ``inputs``, ``outputs``, ``mode``, ``v``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from jacli.render import finite_or_null, format_number, full_precision, trimmed
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
        from rich import box
        from rich.table import Table
        from rich.text import Text

        forward = result.mode == "forward"
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        grid.add_row("graph of", Text(f"f({', '.join(result.point)}) = {' '.join(result.expression.split())}"))
        grid.add_row("at", Text(", ".join(f"{k} = {_point(v, digits)}" for k, v in result.point.items())))
        seeded = ", ".join(f"{label}: {format_number(x, digits)}" for label, x in
                           zip(result.inputs if forward else result.outputs, result.v, strict=True))  # fmt: skip
        grid.add_row("mode", Text(f"{result.mode} (seed {seeded})"))
        console.print(grid)
        what = "tangent ∂node/∂x" if forward else "adjoint ∂f/∂node"
        nodes = Table(box=box.ROUNDED, title="nodes (forward pass)", title_justify="left", title_style="bold")
        for header in ("node", "op", "definition", "value", what):
            nodes.add_column(header, justify="right" if header in ("value", what) else "left", no_wrap=True)
        for node in result.nodes:
            number = node.tangent if forward and node.tangent is not None else node.adjoint
            label = node.label + (f" → {node.output}" if node.output else "")
            definition = "" if node.op in ("input", "parameter") else node.definition
            nodes.add_row(label, node.op, definition, format_number(node.value, digits), format_number(number, digits))
        console.print(nodes)
        labels = {n.id: n.label for n in result.nodes}
        edges = Table(box=box.ROUNDED, title="edges (local partials)", title_justify="left", title_style="bold")
        edges.add_column("edge", no_wrap=True)
        edges.add_column("partial", no_wrap=True)
        edges.add_column("value", justify="right", no_wrap=True)
        for edge in result.edges:
            source, target = labels[edge.source], labels[edge.target]
            edges.add_row(f"{source} → {target}", f"∂{target}/∂{source}", format_number(edge.partial, digits))
        console.print(edges)
        for note in result.notes:
            console.print(Text(note, style="dim"))


def _point(value: Nested, digits: int) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_point(v, digits) for v in value) + "]"
    return format_number(value, digits)
