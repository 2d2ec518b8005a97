"""SymPy -> torch: lower a :class:`~jacli.language.Program` to a function R^n -> R^m.

The lowering is a tree walk: each function of the language is computed by the torch
function its row of the function table names (:mod:`jacli.language.functions`), the
other SymPy nodes by :data:`OPERATORS`; it never generates or executes source text. It records a *tape*: a list of torch
operations over numbered slots. Equal SymPy sub-expressions share one slot, so
common sub-expressions and let-bindings are computed once.

``where(c, a, b)`` (a SymPy ``Piecewise``) differentiates only the taken branch:
inside each branch every leaf ``x`` is replaced by ``where(c, x, x.detach())``,
so a nan or inf derivative in the branch not taken cannot leak through.

A let-bound symbol is such a leaf too: its value is computed once, not inlined
into every branch that uses it (inlining made chains of bound ``where`` steps
exponential). The guard on a branch's leaves cannot reach inside a bound value,
so each bound value is itself computed from guarded inputs: ``where(live, x,
x.detach())``, where ``live`` says whether, at this point, any derivative flows
into the binding at all (some use of it lies on a taken path). Conditions,
``detach`` and the ``live`` masks carry no derivative, so they are computed from
detached values, before the rest.
"""

from __future__ import annotations

import functools
import importlib
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sympy
import torch

from jacli import fused, language, linalg_torch
from jacli.errors import UsageError

if TYPE_CHECKING:
    from torch import Tensor


def _heaviside(x: Tensor) -> Tensor:
    return torch.heaviside(x, torch.full_like(x, 0.5))  # SymPy's Heaviside(0) = 1/2


def _reduce(op: Callable[[Tensor, Tensor], Tensor]) -> Callable[..., Tensor]:
    return lambda *args: functools.reduce(op, args)


def _add(*args: Tensor) -> Tensor:
    if len(args) <= 4:
        return functools.reduce(torch.add, args)
    return torch.stack(torch.broadcast_tensors(*args)).sum(0)  # one op for long sums


def _mul(*args: Tensor) -> Tensor:
    return functools.reduce(torch.mul, args)


OPERATORS: dict[type, Callable[..., Tensor]] = {
    sympy.Add: _add,
    sympy.Mul: _mul,
    sympy.Heaviside: _heaviside,  # SymPy's, in derivatives of max and min
    sympy.StrictGreaterThan: torch.gt,
    sympy.GreaterThan: torch.ge,
    sympy.StrictLessThan: torch.lt,
    sympy.LessThan: torch.le,
    sympy.Equality: torch.eq,
    sympy.Unequality: torch.ne,
    sympy.And: _reduce(torch.logical_and),
    sympy.Or: _reduce(torch.logical_or),
    sympy.Not: torch.logical_not,
    sympy.ITE: torch.where,  # SymPy's form of a comparison with a where inside: where(x > 0, x, 2) > 1
}
"""The SymPy nodes that are no function of the language. Powers and ``where`` (``Piecewise``) are
lowered by :class:`TorchFunction` itself; every function by its row of the function table."""


@functools.cache
def _torch_callable(path: str, pairwise: bool) -> Callable[..., Tensor]:
    """``"torch.special.erf"`` -> ``torch.special.erf``; folded over the arguments when ``pairwise``."""
    if path.startswith("jacli."):  # a lowering of jacli's own (jacli.tensor_torch.sec)
        module, _, name = path.rpartition(".")
        fn = getattr(importlib.import_module(module), name)
    else:
        fn = operator.attrgetter(path.removeprefix("torch."))(torch)
    return _reduce(fn) if pairwise else fn


def torch_function(expr: sympy.Basic) -> Callable[..., Tensor]:
    """The torch function that computes the node ``expr`` from its arguments' values."""
    for cls in type(expr).__mro__:
        if cls in OPERATORS:
            return OPERATORS[cls]
    row = language.row_of(expr)
    if row is not None and row.name in linalg_torch.LOWERINGS:  # a matrix from its elements (tensor language)
        return linalg_torch.LOWERINGS[row.name](expr)
    if row is not None and (row.lowering or row.torch) is not None and not isinstance(expr, sympy.Piecewise):
        return _torch_callable(row.lowering or row.torch, row.max_args is None)
    raise UsageError(f"cannot evaluate {type(expr).__name__} with torch: {expr}")


def power_function(exponent: sympy.Expr) -> Callable[[Tensor], Tensor]:
    """``x -> x**exponent`` for a constant exponent: sqrt, rsqrt, reciprocal and square by name.

    One definition for :class:`TorchFunction` and :mod:`jacli.graphs`, so that the graph's
    partials are jacli's autodiff.
    """
    special = _SPECIAL_POWERS.get(exponent)
    if special is not None:
        return special
    power = int(exponent) if exponent.is_Integer else language.constant_value(exponent)
    return functools.partial(_pow, exponent=power)


def _pow(x: Tensor, exponent: float) -> Tensor:
    return torch.pow(x, exponent)


_SPECIAL_POWERS: dict[sympy.Expr, Callable[[Tensor], Tensor]] = {
    sympy.S.Half: torch.sqrt,
    -sympy.S.Half: torch.rsqrt,
    sympy.S.NegativeOne: torch.reciprocal,
    sympy.Integer(2): torch.square,
}


def _post_order(root: sympy.Basic, children: Callable[[sympy.Basic], Sequence[sympy.Basic]]) -> list[sympy.Basic]:
    """``root`` and the nodes below it, each once, every node after its ``children`` (no recursion)."""
    out: list[sympy.Basic] = []
    seen: set[sympy.Basic] = set()
    stack: list[tuple[sympy.Basic, bool]] = [(root, False)]
    pop, push, add = stack.pop, stack.append, seen.add
    while stack:
        node, expanded = pop()
        if expanded:
            out.append(node)
        elif node not in seen:
            add(node)
            push((node, True))
            below = children(node)
            if below:
                stack.extend([(child, False) for child in reversed(below)])
    return out


_FUSABLE: dict[Callable[..., Tensor], str] = {
    _add: "add",
    _mul: "mul",
    torch.square: "square",
    torch.reciprocal: "reciprocal",
    torch.sqrt: "sqrt",
}
"""The steps :class:`~jacli.fused.FusedTape` may run many at once (each element exactly as alone)."""


@dataclass
class _Step:
    fn: Callable[..., Tensor]
    args: tuple[int, ...]


@dataclass
class _Env:
    """Where symbols resolve: the base env, or a branch of a ``where`` guarded on its condition.

    The values env (``detached``) computes plain values on detached leaves: conditions and ``detach``.
    """

    parent: _Env | None = None
    cond: int = -1
    taken_when: bool = True
    detached: bool = False
    memo: dict[sympy.Basic, int] = field(default_factory=dict)


_Mask = tuple[tuple[sympy.Basic, bool], ...]
"""The conditions (and whether each must hold) on the path from a root to a sub-expression."""
_ALWAYS = -(10**9)
"""Liveness of a binding that always receives derivatives (no mask needed)."""


def _guard_true(cond: Tensor, x: Tensor) -> Tensor:
    return torch.where(cond, x, x.detach())


def _guard_false(cond: Tensor, x: Tensor) -> Tensor:
    return torch.where(cond, x.detach(), x)


def _where(cond: Tensor, a: Tensor, b: Tensor) -> Tensor:
    return torch.where(cond, a, b)


class TorchFunction:
    """``f(x, p)``: the expression on flat inputs ``x`` (n,) and parameters ``p`` (k,); returns (m,).

    >>> import torch
    >>> program = language.build_program(language.parse_expression("x*y, x+y"), {"x": (), "y": ()})
    >>> f = to_torch(program, program.variables, ())
    >>> f(torch.tensor([2.0, 3.0], dtype=torch.float64))
    tensor([6., 5.], dtype=torch.float64)
    """

    def __init__(self, program: language.Program, inputs: Sequence[sympy.Symbol], params: Sequence[sympy.Symbol]):
        language.ensure_recursion_room()
        self.n_inputs = len(inputs)
        self.n_params = len(params)
        self._bindings = {b.symbol: b.value for b in program.bindings}
        self._leaves = list(inputs) + list(params)
        self._constants: list[float] = []
        self._steps: list[_Step] = []
        self._leaf_slot = {s: i for i, s in enumerate(self._leaves)}
        self._base = _Env()
        self._values = _Env(detached=True)
        self._index = {b.symbol: i for i, b in enumerate(program.bindings)}
        self._binding_slot: dict[sympy.Symbol, int] = {}
        self._constancy: dict[sympy.Basic, bool] = {}
        self._binding_value: dict[sympy.Symbol, int] = {}
        self._live = self._liveness(program)
        # bindings in dependency order, so each reference to one is a look-up (no deep recursion)
        for symbol in sorted(self._live, key=self._index.__getitem__):
            self._binding_slot[symbol] = self._lower_binding(symbol)
        self._outputs = [self._lower(e, self._base) for e in program.outputs]
        self._fused: fused.FusedTape | None = None

    # -- which bindings receive derivatives, point by point ---------------------

    def _liveness(self, program: language.Program) -> dict[sympy.Symbol, int]:
        """Per binding, the slot of a boolean: does any derivative flow into it here (or :data:`_ALWAYS`)?

        A binding is live where one of its uses is: a use in the expression of
        ``owner`` under the branch conditions ``mask`` is live where the owner is
        and the mask holds. Bindings come in dependency order, so users first.
        """
        if not program.bindings:
            return {}  # nothing to be live (the scan below would record no use)
        uses: dict[sympy.Symbol, list[tuple[sympy.Symbol | None, _Mask]]] = {}
        seen: set[tuple[sympy.Basic, _Mask]] = set()
        for out in program.outputs:
            self._scan_uses(out, (), None, uses, seen)
        order = [b.symbol for b in program.bindings]
        for symbol in reversed(order):
            if symbol in uses:
                self._scan_uses(self._bindings[symbol], (), symbol, uses, seen)
        live: dict[sympy.Symbol, int] = {}
        masks: dict[_Mask, int] = {}
        for symbol in reversed(order):
            if symbol in uses:
                terms = {self._use_live(live.get(owner, _ALWAYS), mask, masks) for owner, mask in uses[symbol]}
                live[symbol] = _ALWAYS if _ALWAYS in terms else self._any(sorted(terms))
        return live

    def _scan_uses(
        self,
        expr: sympy.Basic,
        mask: _Mask,
        owner: sympy.Symbol | None,
        uses: dict[sympy.Symbol, list[tuple[sympy.Symbol | None, _Mask]]],
        seen: set[tuple[sympy.Basic, _Mask]],
    ) -> None:
        """Record each use of a binding that carries derivatives (not in conditions, not under detach)."""
        for node in _post_order(expr, lambda e: () if e in self._constancy else e.args):
            self._is_constant(node)
        pending = [(expr, mask)]  # depth first, first argument first (as a recursive walk), in a loop
        while pending:
            expr, mask = key = pending.pop()
            if key in seen or self._is_constant(expr) or isinstance(expr, language.detach):
                continue
            seen.add(key)
            if isinstance(expr, sympy.Symbol):
                if expr in self._bindings:
                    uses.setdefault(expr, []).append((owner, mask))
                continue
            if isinstance(expr, sympy.Piecewise):
                branches = []
                for value, cond in expr.args:
                    branches.append((value, mask if cond is sympy.true else (*mask, (cond, True))))
                    mask = (*mask, (cond, False))
                pending.extend(reversed(branches))
                continue
            pending.extend((arg, mask) for arg in reversed(expr.args))

    def _use_live(self, owner_live: int, mask: _Mask, masks: dict[_Mask, int]) -> int:
        mask_slot = self._mask(mask, masks)
        if owner_live == _ALWAYS:
            return mask_slot
        if mask_slot == _ALWAYS:
            return owner_live
        return self._new_slot(torch.logical_and, [owner_live, mask_slot])

    def _mask(self, mask: _Mask, masks: dict[_Mask, int]) -> int:
        """The slot of the conjunction of ``mask`` (memoised by prefix: linear in the nesting)."""
        if not mask:
            return _ALWAYS
        if mask not in masks:
            cond, holds = mask[-1]
            c = self._lower(cond, self._values)
            if not holds:
                c = self._new_slot(torch.logical_not, [c])
            outer = self._mask(mask[:-1], masks)
            masks[mask] = c if outer == _ALWAYS else self._new_slot(torch.logical_and, [outer, c])
        return masks[mask]

    def _is_constant(self, expr: sympy.Basic) -> bool:
        """No symbols in ``expr`` (memoised: ``free_symbols`` walks the whole tree on every call)."""
        known = self._constancy.get(expr)
        if known is None:
            if isinstance(expr, sympy.Symbol):
                known = False
            else:
                known = all(self._is_constant(a) for a in expr.args)
            self._constancy[expr] = known
        return known

    def _any(self, slots: Sequence[int]) -> int:
        return slots[0] if len(slots) == 1 else self._new_slot(_reduce(torch.logical_or), slots)

    # -- building the tape -------------------------------------------------------

    def _new_slot(self, fn: Callable[..., Tensor], args: Sequence[int]) -> int:
        self._steps.append(_Step(fn, tuple(args)))
        return len(self._leaves) + len(self._steps) - 1

    def _constant(self, value: float) -> int:
        self._constants.append(value)
        return -len(self._constants)  # negative slots are constants

    def _lower(self, expr: sympy.Basic, env: _Env) -> int:
        """The slot of ``expr`` in ``env``; its sub-expressions first, children before parents, in a loop.

        Lowering each node only after its arguments keeps the Python stack shallow however deep
        the expression (a chain of 2,000 powers); the tape is the one a recursive walk records.
        """
        memo = env.memo
        if expr in memo:
            return memo[expr]
        for node in _post_order(expr, lambda e: () if e in self._constancy else e.args):
            self._is_constant(node)  # every argument's constancy known: one level deep
        for node in _post_order(expr, lambda e: self._same_env_args(e, memo)):
            if node not in memo:
                memo[node] = self._lower_new(node, env)
        return memo[expr]

    def _same_env_args(self, expr: sympy.Basic, memo: dict[sympy.Basic, int]) -> tuple[sympy.Basic, ...]:
        """The arguments :meth:`_lower_new` lowers in the same env as ``expr``, in its order (none: a leaf)."""
        if expr in memo or isinstance(expr, sympy.Symbol | sympy.Piecewise | language.detach):
            return ()
        if self._is_constant(expr):
            return ()
        if isinstance(expr, sympy.Pow):
            base, exponent = expr.args
            return (base,) if self._is_constant(exponent) else (base, exponent)
        return expr.args

    def _lower_new(self, expr: sympy.Basic, env: _Env) -> int:
        if isinstance(expr, sympy.Symbol):
            return self._symbol(expr, env)
        if self._is_constant(expr):
            return self._constant(language.constant_value(expr))
        if isinstance(expr, language.detach) and not env.detached:
            return self._lower(expr.args[0], self._values)
        if isinstance(expr, sympy.Pow):
            return self._power(expr, env)
        if isinstance(expr, sympy.Piecewise):
            return self._piecewise(expr.args, env)
        fn = torch_function(expr)
        return self._new_slot(fn, [self._lower(a, env) for a in expr.args])

    def _symbol(self, symbol: sympy.Symbol, env: _Env) -> int:
        """A leaf or a binding; inside a branch, guarded on the branch's condition."""
        if env.detached:
            if symbol in self._bindings:
                return self._detached_binding(symbol)
            return self._new_slot(torch.Tensor.detach, [self._leaf(symbol)])
        if env.parent is not None:
            outer = self._lower(symbol, env.parent)
            guard = _guard_true if env.taken_when else _guard_false
            return self._new_slot(guard, [env.cond, outer])
        if symbol in self._bindings:
            return self._binding_slot[symbol]
        return self._leaf(symbol)

    def _leaf(self, symbol: sympy.Symbol) -> int:
        if symbol not in self._leaf_slot:
            raise UsageError(f"no value for {symbol}")
        return self._leaf_slot[symbol]

    def _lower_binding(self, symbol: sympy.Symbol) -> int:
        """The value of a binding, computed once, from inputs guarded on its liveness."""
        live = self._live[symbol]
        env = self._base if live == _ALWAYS else _Env(self._base, live, True)
        return self._lower(self._bindings[symbol], env)

    def _detached_binding(self, symbol: sympy.Symbol) -> int:
        """The detached value of a binding; the bindings it needs first, in order (no deep recursion)."""
        if symbol not in self._binding_value:
            needed, pending = set(), [symbol]
            while pending:
                s = pending.pop()
                if s not in needed and s not in self._binding_value:
                    needed.add(s)
                    pending.extend(b for b in self._bindings[s].free_symbols if b in self._bindings)
            for s in sorted(needed, key=self._index.__getitem__):
                self._binding_value[s] = self._lower(self._bindings[s], self._values)
        return self._binding_value[symbol]

    def _power(self, expr: sympy.Pow, env: _Env) -> int:
        base, exponent = expr.args
        b = self._lower(base, env)
        if not self._is_constant(exponent):
            return self._new_slot(torch.pow, [b, self._lower(exponent, env)])
        return self._new_slot(power_function(exponent), [b])

    def _piecewise(self, clauses: Sequence[Any], env: _Env) -> int:
        (value, cond), rest = clauses[0], clauses[1:]
        if cond is sympy.true:
            return self._lower(value, env)
        c = self._lower(cond, self._values)  # a condition carries no derivative
        if env.detached:
            taken, branch_env, other_env = self._lower(value, env), env, env
        else:
            branch_env, other_env = _Env(env, c, True), _Env(env, c, False)
            taken = self._lower(value, branch_env)
        if rest:
            other = self._piecewise(rest, other_env)
        else:
            other = self._constant(float("nan"))  # SymPy: undefined outside all conditions
        return self._new_slot(_where, [c, taken, other])

    # -- running the tape ---------------------------------------------------------------

    def __call__(self, x: Tensor, p: Tensor | None = None) -> Tensor:
        if self._outputs and fused.worth_fusing(len(self._steps), x):
            return self._fused_call(x, p)
        leaves = list(x.unbind()) if self.n_inputs else []
        if self.n_params:
            assert p is not None
            leaves += list(p.unbind())
        constants = [torch.tensor(c, dtype=x.dtype, device=x.device) for c in self._constants]
        steps_out: list[Tensor] = []
        offset = len(leaves)

        def get(i: int) -> Tensor:  # slots: leaves, then steps; constants are negative
            if i < 0:
                return constants[-i - 1]
            if i < offset:
                return leaves[i]
            return steps_out[i - offset]

        for step in self._steps:
            steps_out.append(step.fn(*(get(i) for i in step.args)))
        if not self._outputs:
            return x.new_zeros(0)
        # a constant output is 0-d: broadcast it, so that on columns (n, rows) every output has rows
        return torch.stack(torch.broadcast_tensors(*(get(i).to(x.dtype) for i in self._outputs)))

    def _fused_call(self, x: Tensor, p: Tensor | None) -> Tensor:
        """:meth:`__call__` by :class:`~jacli.fused.FusedTape` (built on first use): a level's steps at once."""
        if self._fused is None:
            self._fused = fused.FusedTape(self._steps, len(self._leaves), self._outputs, _FUSABLE)
        scalars = [torch.tensor(c, dtype=x.dtype, device=x.device) for c in self._constants]
        outputs = self._fused.run(*fused.sources(x, p, self.n_params, self._constants), scalars)
        return torch.stack(torch.broadcast_tensors(*(y.to(x.dtype) for y in outputs)))

    @property
    def n_outputs(self) -> int:
        return len(self._outputs)


def to_torch(
    program: language.Program,
    inputs: Sequence[language.Variable],
    params: Sequence[language.Variable],
) -> TorchFunction:
    """Lower ``program`` to a torch function of the flat elements of ``inputs`` (and ``params``)."""
    return TorchFunction(
        program,
        [s for v in inputs for s in v.symbols],
        [s for v in params for s in v.symbols],
    )
