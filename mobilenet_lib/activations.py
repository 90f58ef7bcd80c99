"""The activations of MobileNet V3: hard sigmoid, hard swish, and the smooth swish they replace.

Swish (Ramachandran et al., 2017) is ``x * sigmoid(x)``. MobileNet V3 swaps the sigmoid for a
piecewise-linear "hard" version built from ReLU6, which is cheap on every device and quantizes
well:

* ``h_sigmoid(x) = relu6(x + 3) / 6``  (0 below -3, 1 above +3, a straight line between)
* ``h_swish(x)   = x * h_sigmoid(x)``

The functions here are written out from those formulas so a reader can see them. They compute
exactly what PyTorch's built-ins compute: ``h_swish`` is bit-for-bit
``torch.nn.functional.hardswish`` and ``h_sigmoid`` is ``torch.nn.functional.hardsigmoid`` (the
tests check both on a dense grid in float32 and float64), and ``swish`` is ``F.silu``. The models
that must match torchvision's forward pass use ``nn.Hardswish`` / ``nn.Hardsigmoid`` directly;
the modules below are the readable equivalents for the book's own blocks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["h_sigmoid", "h_swish", "swish", "HSigmoid", "HSwish", "Swish"]


def h_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Hard sigmoid ``relu6(x + 3) / 6``: a piecewise-linear sigmoid (equals ``F.hardsigmoid``)."""
    return F.relu6(x + 3) / 6


def h_swish(x: torch.Tensor) -> torch.Tensor:
    """Hard swish ``x * relu6(x + 3) / 6`` (bit-for-bit ``F.hardswish``).

    Written as ``(x * relu6(x + 3)) / 6`` rather than ``x * (relu6(x + 3) / 6)``: the two differ
    in the last bit of some floats, and this order is the one PyTorch's kernel uses.
    """
    return x * F.relu6(x + 3) / 6


def swish(x: torch.Tensor) -> torch.Tensor:
    """Swish ``x * sigmoid(x)`` (also called SiLU; equals ``F.silu``)."""
    return x * torch.sigmoid(x)


class HSigmoid(nn.Module):
    """Module form of :func:`h_sigmoid` (same values as ``nn.Hardsigmoid``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return h_sigmoid(x)


class HSwish(nn.Module):
    """Module form of :func:`h_swish` (same values as ``nn.Hardswish``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return h_swish(x)


class Swish(nn.Module):
    """Module form of :func:`swish` (same values as ``nn.SiLU``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return swish(x)
