"""Derivative identities of the one-shot torch.autograd paths."""

from __future__ import annotations

import torch

from jacli import calculus

torch.manual_seed(0)


def quadratic_form(matrix: torch.Tensor):
    return lambda x: (x @ matrix @ x).reshape(1)


def cubic(x: torch.Tensor) -> torch.Tensor:
    return torch.stack([x[0] ** 2 * x[1], torch.sin(x[1]) * x[2], x[0] * x[1] * x[2], torch.exp(x[2])])


def test_hessian_of_quadratic_form_is_a_plus_a_transpose() -> None:
    a = torch.randn(4, 4, dtype=torch.float64)
    h = calculus.hessian(quadratic_form(a), torch.randn(4, dtype=torch.float64))
    torch.testing.assert_close(h[0], a + a.T)


def test_vjp_and_jvp_are_adjoint() -> None:
    x = torch.randn(3, dtype=torch.float64)
    u, v = torch.randn(4, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    left = torch.dot(u, calculus.jvp(cubic, x, v))
    right = torch.dot(calculus.vjp(cubic, x, u), v)
    torch.testing.assert_close(left, right)


def test_forward_and_reverse_jacobians_agree() -> None:
    x = torch.randn(3, dtype=torch.float64)
    forward = calculus.jacobian(cubic, x, "forward")
    reverse = calculus.jacobian(cubic, x, "reverse")
    assert forward.shape == (4, 3)
    torch.testing.assert_close(forward, reverse, rtol=1e-14, atol=1e-14)


def test_vjp_and_jvp_are_rows_and_columns_of_the_jacobian() -> None:
    x = torch.randn(3, dtype=torch.float64)
    jac = calculus.jacobian(cubic, x)
    torch.testing.assert_close(calculus.vjp(cubic, x, torch.eye(4, dtype=torch.float64)[2]), jac[2])
    torch.testing.assert_close(calculus.jvp(cubic, x, torch.eye(3, dtype=torch.float64)[1]), jac[:, 1])


def test_derivatives_of_a_constant_function_are_zero() -> None:
    def constant(x: torch.Tensor) -> torch.Tensor:
        return torch.ones(2, dtype=x.dtype)

    x = torch.ones(3, dtype=torch.float64)
    assert calculus.vjp(constant, x, torch.ones(2, dtype=torch.float64)).tolist() == [0, 0, 0]
    assert calculus.jvp(constant, x, torch.ones(3, dtype=torch.float64)).tolist() == [0, 0]
