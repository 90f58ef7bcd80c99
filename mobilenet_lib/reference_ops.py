"""Convolutions written from scratch in NumPy, to check PyTorch against and to read.

These are reference implementations for the book, not fast kernels: each is the definition of
the operation in a few lines, vectorised just enough to run in milliseconds on the small tensors
a chapter uses. Like PyTorch (and every deep-learning library), "convolution" here means
cross-correlation: the kernel is not flipped.

- :func:`depthwise_conv2d_numpy`  one D_K×D_K filter per channel (``nn.Conv2d(groups=C)``)
- :func:`im2col`                  unfold every D_K×D_K patch into a column, so that a convolution
                                  becomes one matrix multiply
- :func:`conv2d_as_matmul`        a standard convolution as ``weight @ im2col(x)``
- :func:`pointwise_as_matmul`     a 1×1 convolution, for which im2col is a mere reshape

Arrays are channels-first like PyTorch: one image is (C, H, W), a batch is (B, C, H, W). Every
function accepts both and returns the same rank it was given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mobilenet_lib.validation import integer

__all__ = ["depthwise_conv2d_numpy", "im2col", "conv2d_as_matmul", "pointwise_as_matmul"]


# --------------------------------------------------------------------------------------------
# Argument checking
# --------------------------------------------------------------------------------------------


def _as_batch(x: Any, name: str = "x") -> tuple[np.ndarray, bool]:
    """``x`` as a float (B, C, H, W) array, and whether it was a single (C, H, W) image."""
    arr = np.asarray(x)
    if arr.ndim not in (3, 4):
        raise ValueError(f"{name} must be (C, H, W) or (B, C, H, W), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    single = arr.ndim == 3
    return (arr[None] if single else arr), single


def _pair(name: str, value: Any, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each at least ``minimum``, as a pair."""
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return integer(f"{name}", pair[0], low=minimum), integer(f"{name}", pair[1], low=minimum)


def _output_size(size: int, kernel: int, stride: int, padding: int, axis: str) -> int:
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ValueError(
            f"a kernel of {kernel} with padding {padding} does not fit the input {axis} of {size}"
        )
    return out


def _pad(x: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    ph, pw = padding
    if ph == pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


# --------------------------------------------------------------------------------------------
# Depthwise convolution
# --------------------------------------------------------------------------------------------


def depthwise_conv2d_numpy(
    x: Any,
    weight: Any,
    bias: Any | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> np.ndarray:
    """A depthwise convolution: channel c of the output is channel c of the input convolved with
    its own D_K×D_K filter ``weight[c]``; channels never mix.

    Matches ``nn.Conv2d(C, C, k, stride, padding, groups=C)`` whose ``weight`` (shape
    (C, 1, k_h, k_w)) can be passed as it is; a (C, k_h, k_w) array works too. ``bias`` is None
    or one value per channel. Returns (C, H_out, W_out), or (B, C, H_out, W_out) for a batch.

    Cost per image: k_h·k_w·C·H_out·W_out mult-adds, the depthwise term of the MobileNet formula.
    """
    xb, single = _as_batch(x)
    w = np.asarray(weight)
    channels = xb.shape[1]
    if w.ndim == 4:
        if w.shape[1] != 1:
            raise ValueError(
                f"weight of shape {w.shape} is not depthwise: expected (C, 1, k_h, k_w) (one filter "
                "per channel, as nn.Conv2d(groups=C) stores it)"
            )
        w = w[:, 0]
    if w.ndim != 3 or w.shape[0] != channels:
        raise ValueError(
            f"weight must be (C, 1, k_h, k_w) or (C, k_h, k_w) with C = {channels} input channels, "
            f"got shape {np.asarray(weight).shape}"
        )
    sh, sw = _pair("stride", stride, 1)
    ph, pw = _pair("padding", padding, 0)
    kh, kw = w.shape[1:]
    h_out = _output_size(xb.shape[2], kh, sh, ph, "height")
    w_out = _output_size(xb.shape[3], kw, sw, pw, "width")

    xp = _pad(xb, (ph, pw))
    out = np.zeros((xb.shape[0], channels, h_out, w_out), dtype=np.result_type(xb, w, np.float32))
    # Slide the image under each kernel tap instead of the kernel over the image: k_h·k_w
    # vectorised multiply-adds, each over every channel and every output position at once.
    for i in range(kh):
        for j in range(kw):
            window = xp[:, :, i : i + sh * (h_out - 1) + 1 : sh, j : j + sw * (w_out - 1) + 1 : sw]
            out += w[None, :, i, j, None, None] * window
    if bias is not None:
        b = np.asarray(bias)
        if b.shape != (channels,):
            raise ValueError(f"bias must have one value per channel, shape ({channels},), got {b.shape}")
        out += b[None, :, None, None]
    return out[0] if single else out


# --------------------------------------------------------------------------------------------
# im2col and convolutions as matrix multiplies
# --------------------------------------------------------------------------------------------


def im2col(
    x: Any,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> np.ndarray:
    """Unfold every k_h×k_w patch of ``x`` into a column.

    For a (C, H, W) image returns a (C·k_h·k_w, H_out·W_out) matrix whose column p holds the patch
    under output position p (row order: channel, then kernel row, then kernel column, the order of
    ``nn.Conv2d``'s weight flattened); a batch gives (B, C·k_h·k_w, H_out·W_out). Same layout as
    ``torch.nn.functional.unfold``.

    The matrix is k_h·k_w times larger than the image: the price of turning a convolution into
    one matrix multiply. For a 1×1 kernel with stride 1 and no padding it is the image itself,
    reshaped: a view that shares the input's memory, nothing is copied.
    """
    xb, single = _as_batch(x)
    kh, kw = _pair("kernel_size", kernel_size, 1)
    sh, sw = _pair("stride", stride, 1)
    ph, pw = _pair("padding", padding, 0)
    b, c, h, w = xb.shape
    h_out = _output_size(h, kh, sh, ph, "height")
    w_out = _output_size(w, kw, sw, pw, "width")
    if (kh, kw, sh, sw, ph, pw) == (1, 1, 1, 1, 0, 0):
        cols = xb.reshape(b, c, h * w)
    else:
        xp = _pad(xb, (ph, pw))
        taps = [
            xp[:, :, i : i + sh * (h_out - 1) + 1 : sh, j : j + sw * (w_out - 1) + 1 : sw]
            for i in range(kh)
            for j in range(kw)
        ]
        # (B, C, kh·kw, H_out, W_out) -> rows ordered channel-major, like weight.reshape(N, -1)
        cols = np.stack(taps, axis=2).reshape(b, c * kh * kw, h_out * w_out)
    return cols[0] if single else cols


def conv2d_as_matmul(
    x: Any,
    weight: Any,
    bias: Any | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> np.ndarray:
    """A standard convolution (groups = 1) as one matrix multiply: ``W @ im2col(x)``.

    ``weight`` has ``nn.Conv2d``'s shape (N, C, k_h, k_w); it is flattened to an N × (C·k_h·k_w)
    matrix. Returns (N, H_out, W_out), or (B, N, H_out, W_out) for a batch.
    """
    xb, single = _as_batch(x)
    w = np.asarray(weight)
    if w.ndim != 4 or w.shape[1] != xb.shape[1]:
        raise ValueError(
            f"weight must be (N, C, k_h, k_w) with C = {xb.shape[1]} input channels, got shape {w.shape}"
        )
    n, _, kh, kw = w.shape
    cols = im2col(xb, (kh, kw), stride, padding)
    sh, sw = _pair("stride", stride, 1)
    ph, pw = _pair("padding", padding, 0)
    h_out = _output_size(xb.shape[2], kh, sh, ph, "height")
    w_out = _output_size(xb.shape[3], kw, sw, pw, "width")
    out = (w.reshape(n, -1) @ cols).reshape(xb.shape[0], n, h_out, w_out)
    if bias is not None:
        b = np.asarray(bias)
        if b.shape != (n,):
            raise ValueError(f"bias must have one value per output channel, shape ({n},), got {b.shape}")
        out = out + b[None, :, None, None]
    return out[0] if single else out


def pointwise_as_matmul(x: Any, weight: Any, bias: Any | None = None) -> np.ndarray:
    """A 1×1 (pointwise) convolution as a plain matrix multiply, with no im2col copy.

    ``weight`` is (N, C) or ``nn.Conv2d``'s (N, C, 1, 1). Each pixel's C channel values are one
    column of the (C, H·W) reshaped image, and the output is the (N, C) weight matrix times it:
    N·C·H·W mult-adds, exactly the M·N·D_F·D_F of the MobileNet formula. Returns (N, H, W), or
    (B, N, H, W) for a batch.
    """
    xb, single = _as_batch(x)
    w = np.asarray(weight)
    if w.ndim == 4:
        if w.shape[2:] != (1, 1):
            raise ValueError(f"weight of shape {w.shape} is not a 1x1 kernel; use conv2d_as_matmul")
        w = w[:, :, 0, 0]
    if w.ndim != 2 or w.shape[1] != xb.shape[1]:
        raise ValueError(
            f"weight must be (N, C) or (N, C, 1, 1) with C = {xb.shape[1]} input channels, "
            f"got shape {np.asarray(weight).shape}"
        )
    b, _, h, wd = xb.shape
    cols = im2col(xb, 1)  # (B, C, H·W): a reshaped view of x, nothing copied
    out = (w @ cols).reshape(b, w.shape[0], h, wd)
    if bias is not None:
        bb = np.asarray(bias)
        if bb.shape != (w.shape[0],):
            raise ValueError(f"bias must have one value per output channel, shape ({w.shape[0]},), got {bb.shape}")
        out = out + bb[None, :, None, None]
    return out[0] if single else out
