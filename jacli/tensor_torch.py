"""Torch lowerings of the tensor vocabulary that torch has no single function for (issue 13, part A).

A row of the function table names one of these as its ``lowering`` (``jacli.tensor_torch.sec``);
:mod:`jacli.compile` calls it on the values of the node's arguments (each of the same shape,
or broadcastable: the n-ary reductions stack them on a new first axis).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_SINC_TERMS = 9
"""Terms of sinc's Taylor series used at exactly 0, so that its derivatives there are exact up to order 16."""


def sec(x: Tensor) -> Tensor:
    return torch.reciprocal(torch.cos(x))


def csc(x: Tensor) -> Tensor:
    return torch.reciprocal(torch.sin(x))


def cot(x: Tensor) -> Tensor:
    return torch.reciprocal(torch.tan(x))


def sech(x: Tensor) -> Tensor:
    return torch.reciprocal(torch.cosh(x))


def csch(x: Tensor) -> Tensor:
    return torch.reciprocal(torch.sinh(x))


def coth(x: Tensor) -> Tensor:
    return torch.reciprocal(torch.tanh(x))


def cbrt(x: Tensor) -> Tensor:
    """The real cube root: ``sign(x) * |x|**(1/3)``."""
    return torch.sign(x) * torch.abs(x) ** (1 / 3)


def sinc(x: Tensor) -> Tensor:
    """``sin(pi x)/(pi x)``; at exactly 0 its Taylor polynomial, so every derivative there is right.

    (``torch.sinc`` has the right value and first derivative at 0, but a nan second derivative.)
    """
    zero = x == 0
    safe = torch.where(zero, torch.ones_like(x), x)
    taylor = sum((-1) ** k * math.pi ** (2 * k) / math.factorial(2 * k + 1) * x ** (2 * k) for k in range(_SINC_TERMS))
    return torch.where(zero, taylor, torch.sin(math.pi * safe) / (math.pi * safe))


def _stacked(args: tuple[Tensor, ...]) -> Tensor:
    return torch.stack(torch.broadcast_tensors(*args))


def logsumexp(*args: Tensor) -> Tensor:
    """``log(exp(a) + exp(b) + ...)``, stable (``torch.logsumexp`` over the arguments)."""
    return torch.logsumexp(_stacked(args), 0)


def norm(*args: Tensor) -> Tensor:
    """``sqrt(a**2 + b**2 + ...)`` (``torch.linalg.vector_norm`` over the arguments)."""
    return torch.linalg.vector_norm(_stacked(args), dim=0)
