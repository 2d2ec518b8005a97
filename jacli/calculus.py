"""Derivatives of a torch function ``f: R^n -> R^m`` at one point.

One-shot paths use ``torch.autograd`` (reverse mode) and ``torch.autograd.forward_ad``
(forward mode): the first ``torch.func`` call imports ``torch._dynamo``, which
costs more than the whole computation here (see ``bench/``).

>>> import torch
>>> f = lambda x: torch.stack([2 * x[0] + x[1] ** 2, x[0] ** 2 + 2 * x[1] ** 3])
>>> jacobian(f, torch.tensor([1.0, 2.0], dtype=torch.float64))
tensor([[ 2.,  4.],
        [ 2., 24.]], dtype=torch.float64)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch.autograd import forward_ad

if TYPE_CHECKING:
    from torch import Tensor

TorchFn = Callable[["Tensor"], "Tensor"]

MODES = ("auto", "forward", "reverse")


def choose_mode(mode: str, n_inputs: int, n_outputs: int) -> str:
    """``auto``: forward mode when there are fewer inputs than outputs, else reverse."""
    if mode == "auto":
        return "forward" if n_inputs < n_outputs else "reverse"
    return mode


def value(fn: TorchFn, point: Tensor) -> Tensor:
    """``f(point)``; shape ``(m,)``."""
    with torch.no_grad():
        return fn(point)


def jacobian(fn: TorchFn, point: Tensor, mode: str = "reverse") -> Tensor:
    """Jacobian of ``fn`` at ``point``; shape ``(m, n)``.

    Reverse mode runs one backward pass per output, forward mode one
    forward-mode pass per input.
    """
    if mode == "forward":
        columns = [jvp(fn, point, basis) for basis in torch.eye(point.numel(), dtype=point.dtype, device=point.device)]
        m = value(fn, point).numel()
        return torch.stack(columns, dim=1) if columns else point.new_zeros(m, 0)
    return torch.autograd.functional.jacobian(fn, point, strategy="reverse-mode")


def hessian(fn: TorchFn, point: Tensor) -> Tensor:
    """Second derivatives of every output; shape ``(m, n, n)`` (reverse over reverse)."""

    def first_derivative(x: Tensor) -> Tensor:
        return torch.autograd.functional.jacobian(fn, x, create_graph=True)

    return torch.autograd.functional.jacobian(first_derivative, point)


def vjp(fn: TorchFn, point: Tensor, v: Tensor) -> Tensor:
    """``vᵀJ`` by one reverse pass, like ``y.backward(gradient=v)``; shape ``(n,)``."""
    x = point.detach().requires_grad_(True)
    y = fn(x)
    if not y.requires_grad:
        return torch.zeros_like(x)
    (grad,) = torch.autograd.grad(y, x, grad_outputs=v, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad


def jvp(fn: TorchFn, point: Tensor, v: Tensor) -> Tensor:
    """``J·v`` by one forward-mode pass with dual numbers; shape ``(m,)``."""
    with forward_ad.dual_level():
        with warnings.catch_warnings():
            # the first make_dual loads torch's jvp decompositions through torch.jit.script,
            # which warns about its own deprecation; nothing the user can act on
            warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", DeprecationWarning)
            dual = forward_ad.make_dual(point.detach(), v)
        y = fn(dual)
        tangent = forward_ad.unpack_dual(y).tangent
    return torch.zeros_like(y.detach()) if tangent is None else tangent


def hvp(fn: TorchFn, point: Tensor, v: Tensor) -> Tensor:
    """Hessian-vector product ``H·v`` of a scalar ``fn`` (one output); shape ``(n,)``.

    Forward-over-reverse: a forward-mode pass (``torch.func.jvp``) through the
    reverse-mode gradient (``torch.func.grad``), so H (n×n) is never formed;
    the cost is a small constant times one gradient. The first ``torch.func``
    call imports ``torch._dynamo`` (≈1.3 s here); ``torch.autograd.forward_ad``
    duals through ``torch.autograd.grad(create_graph=True)`` import it too
    (≈2 s: the backward decompositions run under ``torch._compile``).

    >>> f = lambda x: (x[0] ** 2 * x[1]).reshape(1)
    >>> hvp(f, torch.tensor([1.0, 2.0], dtype=torch.float64), torch.tensor([1.0, 0.0], dtype=torch.float64))
    tensor([4., 2.], dtype=torch.float64)
    """

    def scalar(x: Tensor) -> Tensor:
        return fn(x).sum()  # one output: the sum is that output

    with warnings.catch_warnings():
        # torch.func.jvp loads torch's jvp decompositions through the deprecated torch.jit.script (as in jvp)
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", DeprecationWarning)
        return torch.func.jvp(torch.func.grad(scalar), (point.detach(),), (v,))[1]
