"""``jacli graph``: nodes, edges, forward values, local partials, adjoints and tangents; DOT and JSON."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from conftest import Invoke, assert_usage_error

from jacli import api
from jacli.errors import UsageError


def _graph_json(jacli: Invoke, *args: str) -> dict:
    out = jacli("graph", *args, "--format", "json")
    assert out.exit_code == 0, out.stderr
    return json.loads(out.stdout)


def test_spec_example_whole_json(jacli: Invoke) -> None:
    obj = _graph_json(jacli, "(a+b)*(b+1)", "--at", "a=2, b=1")
    assert obj == {
        "command": "graph",
        "expression": "(a+b)*(b+1)",
        "point": {"a": 2.0, "b": 1.0},
        "inputs": ["a", "b"],
        "outputs": ["f"],
        "mode": "reverse",
        "v": [1.0],
        "nodes": [
            {"id": 0, "op": "input", "label": "a", "definition": "a", "value": 2.0, "adjoint": 2.0},
            {"id": 1, "op": "input", "label": "b", "definition": "b", "value": 1.0, "adjoint": 5.0},
            {"id": 2, "op": "add", "label": "c", "definition": "a + b", "value": 3.0, "adjoint": 2.0},
            {"id": 3, "op": "add", "label": "d", "definition": "b + 1", "value": 2.0, "adjoint": 3.0},
            {"id": 4, "op": "mul", "label": "e", "definition": "c*d", "value": 6.0, "adjoint": 1.0, "output": "f"},
        ],
        "edges": [
            {"from": 0, "to": 2, "partial": 1.0},
            {"from": 1, "to": 2, "partial": 1.0},
            {"from": 1, "to": 3, "partial": 1.0},
            {"from": 2, "to": 4, "partial": 3.0 - 1.0},  # ∂e/∂c = d = 2
            {"from": 3, "to": 4, "partial": 3.0},  # ∂e/∂d = c = 3
        ],
    }


def test_operands_follow_the_text_not_sympy() -> None:
    g = api.graph("(b+1)*(a+b)", at="a=2, b=1")
    assert [(n.label, n.definition) for n in g.nodes[2:]] == [("c", "b + 1"), ("d", "a + b"), ("e", "c*d")]


def test_log_of_product(jacli: Invoke) -> None:
    obj = _graph_json(jacli, "log(x*y)", "--at", "x=2, y=3")
    nodes = {n["label"]: n for n in obj["nodes"]}
    assert [n["label"] for n in obj["nodes"]] == ["x", "y", "a", "b"]
    assert (nodes["a"]["op"], nodes["a"]["definition"], nodes["a"]["value"]) == ("mul", "x*y", 6.0)
    assert (nodes["b"]["op"], nodes["b"]["definition"]) == ("log", "log(a)")
    assert nodes["b"]["value"] == pytest.approx(math.log(6), rel=1e-15)
    assert nodes["x"]["adjoint"] == pytest.approx(1 / 2, rel=1e-15)  # ∂log(xy)/∂x = 1/x
    assert nodes["y"]["adjoint"] == pytest.approx(1 / 3, rel=1e-15)
    assert nodes["a"]["adjoint"] == pytest.approx(1 / 6, rel=1e-15)
    partials = {(e["from"], e["to"]): e["partial"] for e in obj["edges"]}
    assert partials[(0, 2)] == 3.0 and partials[(1, 2)] == 2.0  # ∂(xy)/∂x = y, ∂(xy)/∂y = x
    assert partials[(2, 3)] == pytest.approx(1 / 6, rel=1e-15)


def test_bindings_name_their_nodes() -> None:
    g = api.graph("c = a+b; d = b+1; c*d", at="a=2, b=1")
    assert [(n.label, n.op, n.definition, n.value, n.adjoint) for n in g.nodes] == [
        ("a", "input", "a", 2.0, 2.0),
        ("b", "input", "b", 1.0, 5.0),
        ("c", "add", "a + b", 3.0, 2.0),
        ("d", "add", "b + 1", 2.0, 3.0),
        ("e", "mul", "c*d", 6.0, 1.0),  # a, b, c, d are taken: the product is e
    ]
    g = api.graph("q = x*x; s = sin(q); s + q", at="x=0.5")
    assert [n.label for n in g.nodes] == ["x", "q", "s", "a"]  # the sum gets the first free letter
    assert g.node("q").op == "square" and g.node("a").definition == "q + s"


def test_forward_mode_tangents(jacli: Invoke) -> None:
    obj = _graph_json(jacli, "(a+b)*(b+1)", "--at", "a=2, b=1", "--mode", "forward", "--input", "b")
    assert obj["mode"] == "forward" and obj["v"] == [0.0, 1.0]
    tangents = {n["label"]: n["tangent"] for n in obj["nodes"]}
    assert tangents == {"a": 0.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 5.0}  # ∂e/∂b = 5
    adjoints = {n["label"]: n["adjoint"] for n in obj["nodes"]}
    assert adjoints["a"] == 2.0 and adjoints["b"] == 5.0  # the reverse pass is there too
    first = _graph_json(jacli, "(a+b)*(b+1)", "--at", "a=2, b=1", "--mode", "forward")
    assert first["v"] == [1.0, 0.0] and first["nodes"][-1]["tangent"] == 2.0  # ∂e/∂a


def test_forward_mode_table_says_tangent_and_default_input(jacli: Invoke) -> None:
    out = jacli("graph", "(a+b)*(b+1)", "--at", "a=2, b=1", "--mode", "forward")
    assert out.exit_code == 0
    assert "tangent ∂node/∂x" in out.stdout
    assert "tangents ∂node/∂a, the first input" in " ".join(out.stdout.split())


def test_vector_output_seeds_first_output_with_a_note(jacli: Invoke) -> None:
    out = jacli("graph", "x*y, x+y", "--at", "x=2, y=3")
    assert out.exit_code == 0
    assert "adjoints of f0, the first output" in " ".join(out.stdout.split())
    obj = _graph_json(jacli, "x*y, x+y", "--at", "x=2, y=3")
    assert obj["v"] == [1.0, 0.0]
    assert [n["adjoint"] for n in obj["nodes"][:2]] == [3.0, 2.0]
    seeded = _graph_json(jacli, "x*y, x+y", "--at", "x=2, y=3", "--v", "1,2")
    assert [n["adjoint"] for n in seeded["nodes"][:2]] == [5.0, 4.0]  # vᵀJ = [3+2, 2+2]
    assert {n["output"] for n in seeded["nodes"] if "output" in n} == {"f0", "f1"}


@pytest.mark.parametrize(
    ("expr", "at", "v"),
    [
        ("sin(x*y) + exp(x)/y", "x=0.3, y=1.7", "1"),
        ("c = x*y; d = sin(c); [d, c**2, x - y]", "x=1, y=2", "1,-2,0.5"),
        ("where(x > 0, sqrt(x), 0)*y + max(x, y)", "x=-1, y=2", "1"),  # nan in the branch not taken
        ("sum(detach(x*x)*x)", "x=[0,1,2,3]", "1"),
        ("A@B", "A=[[1,2],[3,4]], B=[[1,2,3],[4,5,6]]", "ones"),
        ("atan2(y, x) + abs(x - y) + log(x, 2) + sigmoid(x)*softplus(y)", "x=0.7, y=0.2", "1"),
        ("atan2(x, x) + x**y + 2**x", "x=1.5, y=0.5", "1"),
    ],
)
def test_adjoints_and_tangents_agree_with_vjp_and_jvp(expr: str, at: str, v: str) -> None:
    g = api.graph(expr, at=at, v=v)
    vjp = api.vjp(expr, at=at, v=v, symbolic_form=False).result
    inputs = {n.label: n.adjoint for n in g.nodes if n.op == "input"}
    got = [inputs.get(label, 0.0) for label in g.inputs]
    torch.testing.assert_close(torch.tensor(got, dtype=torch.float64), torch.tensor(vjp, dtype=torch.float64))
    direction = [(-1.0) ** j * (j + 1) for j in range(len(g.inputs))]
    forward = api.graph(expr, at=at, mode="forward", v=direction)
    jvp = api.jvp(expr, at=at, v=direction, symbolic_form=False).result
    by_output = {}
    for node in forward.nodes:
        for label in (node.output or "").split(", "):
            if label:
                by_output[label] = node.tangent
    got = [by_output[label] for label in forward.outputs]
    torch.testing.assert_close(torch.tensor(got, dtype=torch.float64), torch.tensor(jvp, dtype=torch.float64))


def test_where_blocks_the_branch_not_taken() -> None:
    g = api.graph("where(x > 0, sqrt(x), 0)", at="x=-1")
    sqrt = next(n for n in g.nodes if n.op == "sqrt")
    assert math.isnan(sqrt.value)  # the branch not taken is still evaluated
    assert g.node("x").adjoint == 0.0  # not nan: the branch not taken passes nothing


def test_detach_edge_passes_nothing() -> None:
    g = api.graph("sum(detach(x*x)*x)", at="x=[0,1,2,3]")
    assert [g.node(f"x[{i}]").adjoint for i in range(4)] == [0.0, 1.0, 4.0, 9.0]
    assert any(n.op == "detach" for n in g.nodes)


def test_parameters_are_marked(jacli: Invoke) -> None:
    obj = _graph_json(jacli, "x*y", "--at", "x=2, y=3", "--wrt", "x")
    assert [(n["label"], n["op"]) for n in obj["nodes"]] == [("x", "input"), ("y", "parameter"), ("a", "mul")]
    assert obj["inputs"] == ["x"]


# -- DOT ------------------------------------------------------------------------------------

_NODE = re.compile(r'^\s*n(\d+) \[label="((?:[^"\\]|\\.)*)"(?:, shape=(\w+))?\];$')
_EDGE = re.compile(r'^\s*n(\d+) -> n(\d+) \[label="((?:[^"\\]|\\.)*)"\];$')


def _parse_dot(text: str) -> tuple[dict[int, list[str]], list[tuple[int, int, str]]]:
    lines = text.strip().splitlines()
    assert lines[0] == "digraph jacli {" and lines[-1] == "}"
    nodes, edges = {}, []
    for line in lines[1:-1]:
        if m := _NODE.match(line):
            nodes[int(m.group(1))] = m.group(2).split("\\n")
        elif m := _EDGE.match(line):
            edges.append((int(m.group(1)), int(m.group(2)), m.group(3)))
        else:
            assert re.match(r"^\s*(rankdir|node|edge)\b", line), line
    return nodes, edges


def test_dot_parses_back_to_the_right_graph(jacli: Invoke) -> None:
    out = jacli("graph", "(a+b)*(b+1)", "--at", "a=2, b=1", "--format", "dot")
    assert out.exit_code == 0
    nodes, edges = _parse_dot(out.stdout)
    assert {i: lines[0] for i, lines in nodes.items()} == {0: "a", 1: "b", 2: "c = a + b", 3: "d = b + 1", 4: "e = c*d"}
    assert nodes[4][1:] == ["mul → f", "value = 6", "adjoint = 1"]
    assert nodes[1][-1] == "adjoint = 5" and nodes[0][-1] == "adjoint = 2"
    assert sorted(edges) == [
        (0, 2, "∂c/∂a = 1"),
        (1, 2, "∂c/∂b = 1"),
        (1, 3, "∂d/∂b = 1"),
        (2, 4, "∂e/∂c = 2"),
        (3, 4, "∂e/∂d = 3"),
    ]


def test_dot_escapes_and_forward_mode(jacli: Invoke) -> None:
    out = jacli("graph", "log(x*y)", "--at", "x=2, y=3", "--format", "dot", "--mode", "forward", "--input", "y")
    nodes, edges = _parse_dot(out.stdout)
    assert nodes[3][0] == "b = log(a)" and nodes[3][-1].startswith("tangent = 0.333")
    assert (0, 2, "∂a/∂x = 3") in edges


def test_table_shows_nodes_and_edges(jacli: Invoke) -> None:
    out = jacli("graph", "(a+b)*(b+1)", "--at", "a=2, b=1")
    assert out.exit_code == 0
    rows = [[cell.strip() for cell in line.strip("│").split("│")] for line in out.stdout.splitlines() if "│" in line]
    assert ["c", "add", "a + b", "3", "2"] in rows
    assert ["e → f", "mul", "c*d", "6", "1"] in rows
    assert ["b → d", "∂d/∂b", "1"] in rows


def test_usage_errors(jacli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_usage_error(jacli("graph", "x*y", "--at", "1,2", "--input", "x"))  # --input needs forward mode
    assert_usage_error(jacli("graph", "x*y", "--at", "1,2", "--mode", "forward", "--input", "z"))
    assert_usage_error(jacli("graph", "x*y, x", "--at", "1,2", "--v", "1,2,3"))
    assert_usage_error(jacli("graph", "x*y", "--at", "1,2", "--format", "csv"))
    from jacli import graphs

    monkeypatch.setattr(graphs, "MAX_GRAPH_NODES", 10)
    with pytest.raises(UsageError, match="more than 10 nodes"):
        api.graph("sum(x*x)", at={"x": list(range(20))})


def test_nonfinite_values_warn(jacli: Invoke) -> None:
    out = jacli("graph", "log(x)", "--at", "x=-1", "--format", "json")
    assert out.exit_code == 0
    assert out.stderr.startswith("jacli: warning: non-finite values")
    assert json.loads(out.stdout)["nodes"][-1]["value"] is None
    quiet = jacli("graph", "where(x > 0, sqrt(x), 0)", "--at", "x=-1", "--format", "json")
    assert quiet.exit_code == 0 and quiet.stderr == ""  # nan only in the branch not taken


def test_automatic_names_skip_used_names_and_f() -> None:
    g = api.graph("sin(x)*cos(y) + exp(x*y) + tanh(y)", at="x=1, y=2")
    labels = [n.label for n in g.nodes]
    assert labels[:2] == ["x", "y"]
    assert labels[2:] == ["a", "b", "c", "d", "e", "g", "h", "i"][: len(labels) - 2]  # "f" names the output
    assert g.nodes[-1].output == "f"
