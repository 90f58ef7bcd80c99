"""The NumPy reference convolutions agree with PyTorch's, and reject bad input clearly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mobilenet_lib.reference_ops import (
    conv2d_as_matmul,
    depthwise_conv2d_numpy,
    im2col,
    pointwise_as_matmul,
)

RNG = np.random.default_rng(0)


def _x(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float64)


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "size"),
    [(3, 1, 1, (9, 9)), (3, 2, 1, (10, 7)), (5, 1, 0, (8, 11)), (1, 1, 0, (4, 4)), ((3, 1), (2, 1), (1, 0), (7, 6))],
)
def test_depthwise_matches_grouped_conv2d(kernel, stride, padding, size) -> None:
    channels = 5
    conv = nn.Conv2d(channels, channels, kernel, stride, padding, groups=channels, bias=True).double()
    x = _x(2, channels, *size)
    want = conv(torch.from_numpy(x)).detach().numpy()
    got = depthwise_conv2d_numpy(x, conv.weight.detach().numpy(), conv.bias.detach().numpy(), stride, padding)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_depthwise_single_image_and_3d_weight() -> None:
    x, w = _x(3, 6, 6), _x(3, 3, 3)
    batch = depthwise_conv2d_numpy(x[None], w[:, None], padding=1)
    single = depthwise_conv2d_numpy(x, w, padding=1)
    assert single.shape == (3, 6, 6)
    np.testing.assert_array_equal(single, batch[0])


def test_depthwise_channels_do_not_mix() -> None:
    # Zero one input channel: only that output channel may change (to zero, without bias).
    x, w = _x(4, 5, 5), _x(4, 3, 3)
    x[2] = 0
    out = depthwise_conv2d_numpy(x, w, padding=1)
    assert np.all(out[2] == 0) and np.all(np.abs(out[[0, 1, 3]]).sum(axis=(1, 2)) > 0)


def test_im2col_matches_torch_unfold() -> None:
    x = _x(2, 3, 8, 9)
    for kernel, stride, padding in [(3, 1, 1), (3, 2, 0), ((2, 3), (1, 2), (1, 1)), (1, 2, 0)]:
        want = F.unfold(torch.from_numpy(x), kernel, padding=padding, stride=stride).numpy()
        np.testing.assert_array_equal(im2col(x, kernel, stride, padding), want)
        np.testing.assert_array_equal(im2col(x[0], kernel, stride, padding), want[0])


def test_im2col_of_a_1x1_kernel_is_a_view() -> None:
    x = _x(3, 5, 7)
    cols = im2col(x, 1)
    assert cols.shape == (3, 35)
    assert np.shares_memory(cols, x)
    assert not np.shares_memory(im2col(x, 3, padding=1), x)


def test_im2col_grows_by_the_kernel_area() -> None:
    x = _x(4, 10, 10)
    assert im2col(x, 3, padding=1).size == 9 * x.size


@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (1, 1), (2, 1)])
def test_conv2d_as_matmul_matches_conv2d(stride, padding) -> None:
    conv = nn.Conv2d(3, 4, 3, stride, padding, bias=True).double()
    x = _x(2, 3, 9, 8)
    want = conv(torch.from_numpy(x)).detach().numpy()
    got = conv2d_as_matmul(x, conv.weight.detach().numpy(), conv.bias.detach().numpy(), stride, padding)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_pointwise_as_matmul_matches_1x1_conv() -> None:
    conv = nn.Conv2d(6, 4, 1, bias=True).double()
    x = _x(2, 6, 5, 7)
    want = conv(torch.from_numpy(x)).detach().numpy()
    w4 = conv.weight.detach().numpy()
    b = conv.bias.detach().numpy()
    np.testing.assert_allclose(pointwise_as_matmul(x, w4, b), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pointwise_as_matmul(x[1], w4[:, :, 0, 0], b), want[1], rtol=1e-12, atol=1e-12)


def test_separable_equals_standard_conv_with_factorised_kernel() -> None:
    # depthwise (D) then pointwise (P) is a standard conv whose kernel is K[n, c] = P[n, c] * D[c].
    x, d, p = _x(3, 8, 8), _x(3, 3, 3), _x(5, 3)
    separable = pointwise_as_matmul(depthwise_conv2d_numpy(x, d, padding=1), p)
    standard = conv2d_as_matmul(x, p[:, :, None, None] * d[None], padding=1)
    np.testing.assert_allclose(separable, standard, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: depthwise_conv2d_numpy(np.zeros((3, 4)), np.zeros((3, 3, 3))), "must be \\(C, H, W\\)"),
        (lambda: depthwise_conv2d_numpy(np.zeros((3, 5, 5)), np.zeros((4, 3, 3))), "C = 3 input channels"),
        (lambda: depthwise_conv2d_numpy(np.zeros((3, 5, 5)), np.zeros((3, 2, 3, 3))), "not depthwise"),
        (lambda: depthwise_conv2d_numpy(np.zeros((3, 5, 5)), np.zeros((3, 3, 3)), stride=0), "stride must be an integer >= 1"),
        (lambda: depthwise_conv2d_numpy(np.zeros((3, 5, 5)), np.zeros((3, 3, 3)), padding=-1), "padding must be an integer >= 0"),
        (lambda: depthwise_conv2d_numpy(np.zeros((3, 2, 2)), np.zeros((3, 3, 3))), "does not fit"),
        (lambda: depthwise_conv2d_numpy(np.zeros((3, 5, 5)), np.zeros((3, 3, 3)), bias=np.zeros(2)), "bias"),
        (lambda: depthwise_conv2d_numpy(np.full((3, 2, 2), "a"), np.zeros((3, 1, 1))), TypeError("real numbers")),
        (lambda: im2col(np.zeros((3, 5, 5)), 2.5), TypeError("must be an integer, got 2.5")),
        (lambda: im2col(np.zeros((3, 5, 5)), (1, 2, 3)), "int or a pair"),
        (lambda: conv2d_as_matmul(np.zeros((3, 5, 5)), np.zeros((2, 4, 3, 3))), "C = 3 input channels"),
        (lambda: pointwise_as_matmul(np.zeros((3, 5, 5)), np.zeros((2, 3, 3, 3))), "not a 1x1 kernel"),
        (lambda: pointwise_as_matmul(np.zeros((3, 5, 5)), np.zeros((2, 4))), "C = 3 input channels"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message) -> None:
    # A bare string is a ValueError's message; TypeError("...") marks a wrong type.
    kind, pattern = (type(message), str(message)) if isinstance(message, Exception) else (ValueError, message)
    with pytest.raises(kind, match=pattern):
        call()
