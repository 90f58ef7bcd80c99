"""Tests for mobilenet_lib.activations: the hard activations equal PyTorch's built-ins exactly."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mobilenet_lib import activations
from mobilenet_lib.activations import HSigmoid, HSwish, Swish, h_sigmoid, h_swish, swish


@pytest.fixture(scope="module", params=[torch.float32, torch.float64], ids=["f32", "f64"])
def grid(request: pytest.FixtureRequest) -> torch.Tensor:
    # A dense grid well past the kinks at -3 and +3, plus the kinks and a few extremes themselves.
    dense = torch.linspace(-10, 10, 400_001, dtype=request.param)
    special = torch.tensor([-3.0, 3.0, 0.0, -0.0, -1e30, 1e30, 1e-30], dtype=request.param)
    return torch.cat([dense, special])


def test_h_swish_is_bit_identical_to_hardswish(grid: torch.Tensor) -> None:
    assert torch.equal(h_swish(grid), F.hardswish(grid))
    assert torch.equal(HSwish()(grid), nn.Hardswish()(grid))


def test_h_sigmoid_is_bit_identical_to_hardsigmoid(grid: torch.Tensor) -> None:
    assert torch.equal(h_sigmoid(grid), F.hardsigmoid(grid))
    assert torch.equal(HSigmoid()(grid), nn.Hardsigmoid()(grid))


def test_swish_matches_silu(grid: torch.Tensor) -> None:
    torch.testing.assert_close(swish(grid), F.silu(grid))
    torch.testing.assert_close(Swish()(grid), nn.SiLU()(grid))


def test_hard_sigmoid_shape() -> None:
    x = torch.tensor([-100.0, -3.0, -1.5, 0.0, 1.5, 3.0, 100.0])
    expected = torch.tensor([0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0])
    assert torch.equal(h_sigmoid(x), expected)
    # h-swish is 0 left of -3 and the identity right of +3.
    assert torch.equal(h_swish(x), x * expected)


def test_hard_swish_approximates_swish() -> None:
    # The point of h-swish: close to swish everywhere (max gap about 0.14, near |x| = 3).
    x = torch.linspace(-8, 8, 10_001, dtype=torch.float64)
    gap = (h_swish(x) - swish(x)).abs().max().item()
    assert 0.1 < gap < 0.15


def test_gradients_flow() -> None:
    x = torch.linspace(-4, 4, 81, dtype=torch.float64, requires_grad=True)
    h_swish(x).sum().backward()
    expected = torch.autograd.grad(F.hardswish(x).sum(), x)[0]
    # Equal away from the kinks (PyTorch picks one side there).
    away = (x.detach().abs() - 3).abs() > 1e-9
    torch.testing.assert_close(x.grad[away], expected[away])


def test_module_exports() -> None:
    assert set(activations.__all__) == {"h_sigmoid", "h_swish", "swish", "HSigmoid", "HSwish", "Swish"}
