"""``--show-torch``: the short PyTorch program a student would write for the same result.

The program is generated from the validated ``ast`` of the expression (so it
reads like what the user typed: ``A @ B``, ``3 * a ** 3 - b ** 2``, bindings as
assignments) by translating each node to torch through one table
(:func:`torch_name`: the function table), then printed with :func:`ast.unparse`. Nothing is
executed here: the text is for the user (and a test runs it).

Per quantity (its ``show_torch`` entry in :mod:`jacli.quantities` picks the lines
here): ``jacobian`` uses ``torch.func.jacrev``/``jacfwd`` (the mode jacli chose),
``gradient`` ``y.backward()``, ``vjp`` ``y.backward(gradient=v)``, ``hessian``
``torch.autograd.functional.hessian`` (or a Jacobian of a Jacobian built with
``create_graph=True`` for a vector-valued f), ``laplacian`` the trace of that Hessian,
``jvp`` ``torch.func.jvp`` and ``hvp`` ``torch.func.jvp`` of ``torch.func.grad``
(forward over reverse), ``divergence`` and ``curl`` entries of the ``torch.func.jacfwd``
Jacobian. The last line prints the result as a flat Python list, in jacli's order
(outputs × inputs, inputs flattened row-major).
"""

from __future__ import annotations

import ast
import builtins
import keyword
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jacli import language, tensor_programs
from jacli.errors import UsageError
from jacli.limits import CHAIN_CHUNK


def torch_name(function: str) -> str:
    """The torch function a jacli function is printed as (its row of the function table)."""
    name = language.FUNCTIONS[function].torch
    if name is None:
        raise UsageError(f"--show-torch cannot translate {function}()")
    return name


if TYPE_CHECKING:
    from jacli.quantities import Quantity


GENERATED = frozenset({"torch", "math", "dtype", "inputs", "tangents", "result", "blocks", "sizes", "jacobian_f",
                       "grad_f", "grads", "rows", "span"})  # fmt: skip
"""Global names the program uses itself. (Comprehension and lambda variables have their own scope.)"""

RESERVED = GENERATED | {"_"} | frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
"""Names a user variable may not keep in the program: it gets trailing ``_`` until it is free."""


def _attr(dotted: str) -> ast.expr:
    parts = dotted.split(".")
    node: ast.expr = ast.Name(parts[0], ast.Load())
    for part in parts[1:]:
        node = ast.Attribute(node, part, ast.Load())
    return node


def _call(dotted: str, *args: ast.expr, **keywords: ast.expr) -> ast.Call:
    return ast.Call(_attr(dotted), list(args), [ast.keyword(k, v) for k, v in keywords.items()])


def _dtype() -> ast.expr:
    return ast.Name("dtype", ast.Load())


class _Translator:
    """Validated jacli ``ast`` -> Python ``ast`` over torch."""

    def __init__(self, source: language.Source, names: dict[str, str], taken: set[str]) -> None:
        self.source = source
        self.names = names  # variable or bound name -> name in the program
        self.taken = taken  # every name of the program: temporaries avoid them
        self.hoisted: list[ast.stmt] = []  # temporaries for long chains, emitted before the statement
        self.temps = 0

    def hoist(self, value: ast.expr) -> ast.expr:
        """``value`` assigned to a fresh temporary (``s1``, ``s2``, …); the temporary's name."""
        while True:
            self.temps += 1
            name = f"s{self.temps}"
            if name not in self.taken:
                break
        self.taken.add(name)
        self.hoisted.append(ast.Assign([ast.Name(name, ast.Store())], value))
        return ast.Name(name, ast.Load())

    def binop(self, node: ast.BinOp) -> ast.expr:
        """A chain of binary operators along the left operand, walked iteratively and cut into statements.

        ``a + b + c`` parses as ``(a + b) + c``: a sum of 2,000 terms is 2,000 deep on the left.
        Rebuilding it node by node keeps every operation and its order; naming every
        :data:`CHAIN_CHUNK` -th partial result keeps the printed program shallow.
        """
        spine: list[ast.BinOp] = []
        left: ast.AST = node
        while isinstance(left, ast.BinOp):
            spine.append(left)
            left = left.left
        result = self.expr(left)
        for count, step in enumerate(reversed(spine), start=1):
            result = ast.BinOp(result, step.op, self.expr(step.right))
            if len(spine) > CHAIN_CHUNK and count % CHAIN_CHUNK == 0 and count < len(spine):
                result = self.hoist(result)
        return result

    def constant(self, node: ast.AST) -> bool:
        return not any(isinstance(n, ast.Name) and n.id in self.names for n in ast.walk(node))

    def tensor(self, node: ast.AST) -> ast.expr:
        """A constant sub-expression as ``torch.tensor(value, dtype=dtype)``."""
        text = ast.get_source_segment(self.source.text, node)
        if text is None:
            raise UsageError("--show-torch: cannot read a constant back from the expression")
        value = language.parse_assignments(text, what="constant").positional[0]
        floats = [language.constant_value(e) for e in value.flat]
        literal: Any = floats[0] if value.shape == () else _nest(floats, value.shape)
        return _call("torch.tensor", ast.Constant(literal) if value.shape == () else _literal(literal), dtype=_dtype())

    def operand(self, node: ast.AST) -> ast.expr:
        """An argument of a torch function: constants become tensors (torch.maximum(x, 0) needs one)."""
        return self.tensor(node) if self.constant(node) else self.expr(node)

    def expr(self, node: ast.AST) -> ast.expr:
        if isinstance(node, ast.Constant):
            return ast.Constant(node.value)
        if isinstance(node, ast.Name):
            if node.id in ("pi", "e"):
                return _attr(f"math.{node.id}")
            return ast.Name(self.names[node.id], ast.Load())
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.UnaryOp):
            op = ast.Invert() if isinstance(node.op, ast.Not) else node.op
            return ast.UnaryOp(op, self.expr(node.operand))
        if isinstance(node, ast.Compare):
            parts = [node.left, *node.comparators]
            pieces: list[ast.expr] = [
                ast.Compare(self.expr(a), [op], [self.expr(b)])
                for op, a, b in zip(node.ops, parts, parts[1:], strict=False)
            ]
            return self.chain(pieces, ast.BitAnd())
        if isinstance(node, ast.BoolOp):
            op = ast.BitAnd() if isinstance(node.op, ast.And) else ast.BitOr()
            return self.chain([self.expr(v) for v in node.values], op)
        if isinstance(node, ast.List | ast.Tuple):
            if self.constant(node):
                return self.tensor(node)
            return _call("torch.stack", ast.List([self.operand(e) for e in node.elts], ast.Load()))
        if isinstance(node, ast.Subscript):
            if self.constant(node):
                return self.tensor(node)
            return ast.Subscript(self.expr(node.value), node.slice, ast.Load())
        if isinstance(node, ast.Call):
            if self.constant(node):
                return self.tensor(node)
            return self.call(node)
        if isinstance(node, ast.Attribute):  # A.T (the parser allows no other attribute outside a call)
            return tensor_programs.template(self, "transpose", [node.value])
        raise UsageError(f"--show-torch cannot translate {type(node).__name__}")

    def call(self, node: ast.Call) -> ast.expr:
        name, args = language.call_parts(node)
        translated = tensor_programs.call(self, node, name, args, _call)  # issue 13: axis=k, torch_text
        if translated is not None:
            return translated
        if name == "detach":
            return ast.Call(ast.Attribute(self.expr(args[0]), "detach", ast.Load()), [], [])
        if name == "log" and len(args) == 2:
            return ast.BinOp(
                _call(torch_name("log"), self.operand(args[0])),
                ast.Div(),
                _call(torch_name("log"), self.operand(args[1])),
            )
        function = language.FUNCTIONS[name]
        if function.torch_of_array is not None and len(args) == 1:  # max(v): torch.amax(v)
            return _call(function.torch_of_array, self.operand(args[0]))
        if function.max_args is None:  # max(a, b, c): torch.maximum(torch.maximum(a, b), c)
            result = self.operand(args[0])
            for arg in args[1:]:
                result = _call(torch_name(name), result, self.operand(arg))
            return result
        if name == "where":  # torch.where takes Python numbers for the branches
            cond, when_true, when_false = args
            return _call(torch_name("where"), self.expr(cond), self.expr(when_true), self.expr(when_false))
        return _call(torch_name(name), *(self.operand(a) for a in args))

    def chain(self, pieces: Sequence[ast.expr], op: ast.operator) -> ast.expr:
        """``p1 op p2 op …`` (``&`` of comparisons), cut into statements like :meth:`binop`."""
        result = pieces[0]
        for count, piece in enumerate(pieces[1:], start=1):
            result = ast.BinOp(result, op, piece)
            if len(pieces) > CHAIN_CHUNK + 1 and count % CHAIN_CHUNK == 0 and count < len(pieces) - 1:
                result = self.hoist(result)
        return result

    def output(self, node: ast.AST) -> ast.expr:
        """The last statement: top-level commas stack into a vector."""
        if isinstance(node, ast.Tuple) and not self.constant(node):
            return _call("torch.stack", ast.List([self.operand(e) for e in node.elts], ast.Load()))
        return self.operand(node)


def _nest(flat: list[float], shape: tuple[int, ...]) -> Any:
    if len(shape) == 1:
        return flat
    step = len(flat) // shape[0]
    return [_nest(flat[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def _literal(value: Any) -> ast.expr:
    if isinstance(value, list):
        return ast.List([_literal(v) for v in value], ast.Load())
    return ast.Constant(value)


def _program_names(parsed: language.ParsedExpression) -> dict[str, str]:
    """User name -> name in the program: kept, or with ``_`` appended until it is neither
    reserved (:data:`RESERVED`) nor another user name (``torch`` and ``torch_`` both exist)."""
    originals = (*parsed.names, *parsed.bound)
    used = set(originals)
    names = {}
    for name in originals:
        new = name
        while new in RESERVED or (new != name and new in used):
            new += "_"
        names[name] = new
        used.add(new)
    return names


def _fresh(preferred: Sequence[str], taken: set[str]) -> str:
    """The first of ``preferred`` not taken, else the last one with ``_`` appended until free."""
    for name in preferred:
        if name not in taken:
            taken.add(name)
            return name
    name = preferred[-1]
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def _value_text(value: Any) -> str:
    return ast.unparse(_literal(value))


@dataclass(frozen=True)
class _Context:
    """What the command-specific lines need: names in the program and the shapes."""

    f: str  # the function
    y: str  # its value
    vec: str  # the vector v
    m: int
    n: int
    outputs: str  # output labels, for comments
    inputs: str  # input labels, for comments

    @property
    def flat(self) -> str:
        return f"lambda *xs: {self.f}(*xs).reshape(-1)"


def torch_program(
    quantity: Quantity,
    parsed: language.ParsedExpression,
    *,
    inputs: Sequence[tuple[str, Any]],
    params: Sequence[tuple[str, Any]],
    outputs: Sequence[str],
    input_labels: Sequence[str],
    dtype: str = "float64",
    v: Sequence[float] | None = None,
    mode: str | None = None,
    command_line: str = "",
) -> str:
    """The program computing ``quantity``. ``inputs``/``params``: (name, value as float or nested list), in order."""
    names = _program_names(parsed)
    taken = set(names.values()) | GENERATED
    ctx = _Context(
        f=_fresh(["f", "func", "f_"], taken),
        y=_fresh(["y", "out", "y_"], taken),
        vec=_fresh(["v", "vec", "v_"], taken),
        m=len(outputs),
        n=len(input_labels),
        outputs=", ".join(outputs),
        inputs=", ".join(input_labels),
    )
    function_text = _function_text(parsed, names, [names[n] for n, _ in inputs], ctx.f, taken)
    lines = [
        f"# {command_line or 'jacli ' + quantity.name}",
        "# the same result in PyTorch; run it with: python this_file.py",
    ]
    if any(
        isinstance(node, ast.Call) and language.call_parts(node)[0] == "where"
        for s in parsed.statements
        for node in ast.walk(s.value)
    ):
        lines.append("# note: torch.where differentiates both branches, so a nan in the branch not taken")
        lines.append("# leaks into the derivative; jacli's where differentiates only the branch taken")
    lines += ["import math", "", "import torch", "", f"dtype = torch.{dtype}", "", "", function_text, "", ""]
    for name, value in params:
        lines.append(f"{names[name]} = torch.tensor({_value_text(value)}, dtype=dtype)  # a parameter: held constant")
    flag = ", requires_grad=True" if quantity.program_backward else ""
    for name, value in inputs:
        lines.append(f"{names[name]} = torch.tensor({_value_text(value)}, dtype=dtype{flag})")
    arg_names = [names[name] for name, _ in inputs]
    lines.append("inputs = (" + ", ".join(arg_names) + ("," if len(arg_names) == 1 else "") + ")")
    lines += quantity.show_torch(ctx, inputs, v, mode)
    text = "\n".join(lines) + "\n"
    return text if "math." in function_text else text.replace("import math\n\n", "", 1)


def _function_text(
    parsed: language.ParsedExpression, names: dict[str, str], args: list[str], f: str, taken: set[str]
) -> str:
    translator = _Translator(parsed.source, names, taken)
    body: list[ast.stmt] = []
    for stmt in parsed.statements[:-1]:
        assert stmt.target is not None
        value = translator.expr(stmt.value)
        body += translator.hoisted
        translator.hoisted = []
        body.append(ast.Assign([ast.Name(names[stmt.target], ast.Store())], value))
    value = translator.output(parsed.statements[-1].value)
    body += [*translator.hoisted, ast.Return(value)]
    arguments = ast.arguments([], [ast.arg(a) for a in args], None, [], [], None, [])
    function = ast.FunctionDef(f, arguments, body, [], None, None, type_params=[])
    return ast.unparse(ast.fix_missing_locations(ast.Module([function], [])))


def jacobian_lines(ctx: _Context, mode: str | None) -> list[str]:
    transform = "jacfwd" if mode == "forward" else "jacrev"
    why = "one forward-mode pass per input" if mode == "forward" else "one reverse pass per output"
    return [
        "",
        f"# torch.func.{transform}: {why} (jacli --mode {mode or 'reverse'})",
        f"blocks = torch.func.{transform}({ctx.flat}, argnums=tuple(range(len(inputs))))(*inputs)",
        f"result = torch.cat([b.reshape({ctx.m}, -1) for b in blocks], dim=1)",
        f"print(result.tolist())  # shape ({ctx.m}, {ctx.n}): J[i, j] = ∂f_i/∂x_j; rows {ctx.outputs}; "
        f"columns {ctx.inputs}",
    ]


def backward_lines(ctx: _Context, v: Sequence[float] | None) -> list[str]:
    f, y, vec = ctx.f, ctx.y, ctx.vec
    if v is not None:
        lines = [
            "",
            f"{vec} = torch.tensor({_value_text(list(v))}, dtype=dtype)  # one weight per output ({ctx.outputs})",
            f"{y} = {f}(*inputs)",
            f"{y}.backward(gradient={vec}.reshape({y}.shape))  # one reverse pass: vᵀJ lands in each x.grad",
        ]
    else:
        lines = ["", f"{y} = {f}(*inputs)  # a scalar", f"{y}.backward()  # one reverse pass: ∂y/∂x lands in x.grad"]
    return [
        *lines,
        "grads = [t.grad if t.grad is not None else torch.zeros_like(t) for t in inputs]",
        "result = torch.cat([g.reshape(-1) for g in grads])",
        f"print(result.tolist())  # shape ({ctx.n},): one entry per input element ({ctx.inputs})",
    ]


def hessian_lines(ctx: _Context) -> list[str]:
    m, n = ctx.m, ctx.n
    if m == 1:
        return [
            "",
            f"blocks = torch.autograd.functional.hessian({ctx.f}, inputs)  # blocks[i][j]: ∂²f/∂x_i∂x_j",
            "sizes = [t.numel() for t in inputs]",
            "span = range(len(inputs))",
            "rows = [[blocks[i][j].reshape(sizes[i], sizes[j]) for j in span] for i in span]",
            "result = torch.cat([torch.cat(row, dim=1) for row in rows])",
            f"print(result.tolist())  # shape ({n}, {n}): H[i, j] = ∂²f/∂x_i∂x_j over {ctx.inputs}",
        ]
    return [
        "",
        "",
        "def jacobian_f(*xs):",
        "    # create_graph=True keeps the first derivatives differentiable for the second pass",
        f"    blocks = torch.autograd.functional.jacobian({ctx.flat}, xs, create_graph=True)",
        f"    return torch.cat([b.reshape({m}, -1) for b in blocks], dim=1)",
        "",
        "",
        "blocks = torch.autograd.functional.jacobian(jacobian_f, inputs)",
        f"result = torch.cat([b.reshape({m}, {n}, -1) for b in blocks], dim=2)",
        f"print(result.tolist())  # shape ({m}, {n}, {n}): H[k, i, j] = ∂²f_k/∂x_i∂x_j",
    ]


def _tangent_lines(inputs: Sequence[tuple[str, Any]], v: Sequence[float]) -> list[str]:
    split, start = [], 0
    for _name, value in inputs:
        size = math.prod(_shape_of(value))
        piece = list(v[start : start + size])
        start += size
        shaped = piece[0] if not isinstance(value, list) else _nest(piece, _shape_of(value))
        split.append(f"torch.tensor({_value_text(shaped)}, dtype=dtype)")
    return [f"tangents = ({', '.join(split)}{',' if len(split) == 1 else ''})  # v, shaped like the inputs"]


def jvp_lines(ctx: _Context, inputs: Sequence[tuple[str, Any]], v: Sequence[float] | None) -> list[str]:
    assert v is not None
    return [
        *_tangent_lines(inputs, v),
        f"_, result = torch.func.jvp({ctx.flat}, inputs, tangents)  # one forward-mode pass: J·v",
        f"print(result.tolist())  # shape ({ctx.m},): one entry per output ({ctx.outputs})",
    ]


def hvp_lines(ctx: _Context, inputs: Sequence[tuple[str, Any]], v: Sequence[float] | None) -> list[str]:
    assert v is not None
    return [
        *_tangent_lines(inputs, v),
        f"grad_f = torch.func.grad({ctx.f}, argnums=tuple(range(len(inputs))))  # reverse mode: x -> ∇f(x)",
        "_, result = torch.func.jvp(grad_f, inputs, tangents)  # forward over reverse: H·v, H never formed",
        "result = torch.cat([t.reshape(-1) for t in result])",
        f"print(result.tolist())  # shape ({ctx.n},): one entry per input element ({ctx.inputs})",
    ]


def laplacian_lines(ctx: _Context) -> list[str]:
    """The Hessian's lines, then the trace of each output's block."""
    *lines, _ = hessian_lines(ctx)
    trace = "result.diagonal().sum().reshape(1)" if ctx.m == 1 else "result.diagonal(dim1=1, dim2=2).sum(dim=1)"
    return [
        *lines,
        f"result = {trace}  # Δf: the sum of ∂²f/∂x_i² over the inputs",
        f"print(result.tolist())  # shape ({ctx.m},): one entry per output ({ctx.outputs})",
    ]


def _shape_of(value: Any) -> tuple[int, ...]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)


def _derivative_functions(ctx: _Context, order: int) -> list[str]:
    """``d1 … dK``: each the Jacobian of the one before, ``create_graph=True`` so it differentiates again."""
    m, lines = ctx.m, []
    previous = ctx.flat
    for k in range(1, order + 1):
        shape = ", ".join([str(m)] + [str(ctx.n)] * (k - 1))
        lines += [
            "",
            "",
            f"def d{k}(*xs):",
            f"    # the derivative of order {k}, shape ({shape}, n): the Jacobian of d{k - 1}"
            if k > 1
            else "    # the first derivative, shape (m, n): the Jacobian of f",
            f"    blocks = torch.autograd.functional.jacobian({previous}, xs, create_graph=True)",
            f"    return torch.cat([b.reshape({shape}, -1) for b in blocks], dim=-1)",
        ]
        previous = f"d{k}"
    return lines


def derivative_lines(ctx: _Context, order: int) -> list[str]:
    """The K-th derivative tensor by K nested Jacobians (reverse over reverse over …)."""
    shape = ", ".join([str(ctx.m)] + [str(ctx.n)] * order)
    return [
        *_derivative_functions(ctx, order),
        "",
        "",
        f"result = d{order}(*inputs).detach()",
        f"print(result.tolist())  # shape ({shape}): D[k, i, j, …] = ∂^{order} f_k/∂x_i∂x_j… over {ctx.inputs}",
    ]


def taylor_lines(ctx: _Context, order: int) -> list[str]:
    """The Taylor polynomial's terms: f, then the derivative tensors of orders 1..K at the point."""
    functions = _derivative_functions(ctx, order) if order else []
    terms = ", ".join(["f_flat(*inputs)"] + [f"d{k}(*inputs)" for k in range(1, order + 1)])
    return [
        *functions,
        "",
        "",
        f"f_flat = {ctx.flat}",
        f"terms = [t.detach().tolist() for t in ({terms},)]",
        f"print(terms)  # k = 0..{order}: the k-th derivative tensors, shapes ({ctx.m},), ({ctx.m}, {ctx.n}), …",
    ]


def _jacobian_matrix_lines(ctx: _Context) -> list[str]:
    """``result``: the m×n Jacobian, from the forward-mode Jacobian of each input (jacli: one JVP per input)."""
    return [
        "",
        f"blocks = torch.func.jacfwd({ctx.flat}, argnums=tuple(range(len(inputs))))(*inputs)",
        f"result = torch.cat([b.reshape({ctx.m}, -1) for b in blocks], dim=1)  # J[i, j] = ∂f_i/∂x_j",
    ]


def divergence_lines(ctx: _Context) -> list[str]:
    """The Jacobian, then its trace."""
    return [
        *_jacobian_matrix_lines(ctx),
        "result = result.diagonal().sum()  # ∇·f: the sum of ∂f_i/∂x_i",
        "print(result.tolist())  # one number",
    ]


def curl_lines(ctx: _Context) -> list[str]:
    """The Jacobian, then the differences of its off-diagonal entries."""
    if ctx.n == 2:
        curl = ["result = result[1, 0] - result[0, 1]  # ∂f_1/∂x_0 − ∂f_0/∂x_1", "print(result.tolist())  # one number"]
    else:
        curl = [
            "result = torch.stack([result[2, 1] - result[1, 2], result[0, 2] - result[2, 0], "
            "result[1, 0] - result[0, 1]])  # ∇×f",
            f"print(result.tolist())  # shape (3,): components along {ctx.inputs}",
        ]
    return [*_jacobian_matrix_lines(ctx), *curl]
