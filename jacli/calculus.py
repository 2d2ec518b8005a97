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

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.autograd.forward_ad as forward_ad

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
        y = fn(forward_ad.make_dual(point.detach(), v))
        tangent = forward_ad.unpack_dual(y).tangent
    return torch.zeros_like(y.detach()) if tangent is None else tangent
