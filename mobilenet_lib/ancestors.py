"""The designs the lightweight networks grew from, small enough to count by hand.

MobileNet and ShuffleNet did not start from nothing: each of their ideas answers a cost that an
earlier network made visible. This module holds the few blocks of those networks that the library
does not otherwise need, so the book can count their parameters and mult-adds with
:mod:`mobilenet_lib.costs` rather than quote them:

* :func:`conv_stack` — VGG's stack of small convolutions (three 3×3 see as far as one 7×7);
* :func:`receptive_field` — how far a stack of stride-1 convolutions sees;
* :class:`ResNeXtBlock` — ResNet's bottleneck with its 3×3 split into ``cardinality`` groups;
* :class:`DenseLayer`, :class:`DenseBlock`, :class:`Transition` — DenseNet-BC's concatenation,
  growth rate, 1×1 bottleneck and compression.

ResNet's own blocks (:class:`~mobilenet_lib.blocks.BasicBlock`, :class:`~mobilenet_lib.blocks.Bottleneck`)
and squeeze-and-excitation (:class:`~mobilenet_lib.blocks.SqueezeExcitation`) live in
:mod:`mobilenet_lib.blocks`, since the lightweight networks use them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import torch
from torch import nn

from mobilenet_lib.blocks import ConvNormAct

__all__ = ["conv_stack", "receptive_field", "ResNeXtBlock", "DenseLayer", "DenseBlock", "Transition"]


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def conv_stack(channels: int, kernel_size: int = 3, depth: int = 3, bias: bool = False) -> nn.Sequential:
    """``depth`` stride-1 convolutions ``channels → channels`` of size ``kernel_size``, each + ReLU.

    VGG's argument: three 3×3 layers see a 7×7 window (:func:`receptive_field`) with 27·C² weights
    where one 7×7 layer has 49·C², and apply three non-linearities instead of one. ``bias=False``
    keeps the count to the weights alone (VGG's convolutions had biases: C more per layer).
    """
    channels, kernel_size, depth = (
        _positive("channels", channels),
        _positive("kernel_size", kernel_size),
        _positive("depth", depth),
    )
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd so that padding keeps the size, got {kernel_size}")
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, bias=bool(bias)), nn.ReLU()]
    return nn.Sequential(*layers)


def receptive_field(kernel_sizes: Sequence[int], strides: Sequence[int] | None = None) -> int:
    """Side of the input window one output value of a conv stack depends on.

    ``r = 1 + Σ (k_i − 1) · Π_{j<i} s_j``: with stride 1 everywhere each k×k layer widens the
    window by k − 1, so three 3×3 layers see 7×7.
    """
    if isinstance(kernel_sizes, (str, bytes)) or not isinstance(kernel_sizes, Sequence) or not kernel_sizes:
        raise ValueError(f"kernel_sizes must be a non-empty sequence of positive integers, got {kernel_sizes!r}")
    ks = [_positive(f"kernel_sizes[{i}]", k) for i, k in enumerate(kernel_sizes)]
    if strides is None:
        ss = [1] * len(ks)
    else:
        if isinstance(strides, (str, bytes)) or not isinstance(strides, Sequence) or len(strides) != len(ks):
            raise ValueError(f"strides must be a sequence as long as kernel_sizes ({len(ks)}), got {strides!r}")
        ss = [_positive(f"strides[{i}]", s) for i, s in enumerate(strides)]
    r, jump = 1, 1
    for k, s in zip(ks, ss):
        r += (k - 1) * jump
        jump *= s
    return r


class ResNeXtBlock(nn.Module):
    """ResNeXt's bottleneck: 1×1 to ``cardinality·width``, 3×3 in ``cardinality`` groups, 1×1 back.

    ``out = relu(F(x) + x)`` with ``in_ch`` channels in and out (stride 1). With 256 channels,
    cardinality 32 and width 4 ("32×4d") it has about the weights of ResNet's 256-d bottleneck
    (1×1 to 64, 3×3, 1×1 to 256) but twice the inner width: the grouped 3×3 pays for it.
    """

    def __init__(self, in_ch: int = 256, cardinality: int = 32, width: int = 4) -> None:
        super().__init__()
        in_ch, cardinality, width = _positive("in_ch", in_ch), _positive("cardinality", cardinality), _positive("width", width)
        inner = cardinality * width
        self.reduce = ConvNormAct(in_ch, inner, 1)
        self.grouped = ConvNormAct(inner, inner, 3, groups=cardinality)
        self.expand = ConvNormAct(inner, in_ch, 1, activation=None)
        self.relu = nn.ReLU()
        self.in_channels = self.out_channels = in_ch
        self.cardinality, self.width = cardinality, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.expand(self.grouped(self.reduce(x))) + x)


class DenseLayer(nn.Module):
    """DenseNet-B's layer: BN-ReLU-1×1 conv to ``bn_size·growth``, BN-ReLU-3×3 conv to ``growth``.

    It returns its input with the ``growth`` new channels concatenated: every later layer sees
    every earlier layer's output. Pre-activation order (norm and ReLU *before* each convolution),
    as in DenseNet, which is why it is not built from :class:`ConvNormAct`.
    """

    def __init__(self, in_ch: int, growth: int = 32, bn_size: int = 4) -> None:
        super().__init__()
        in_ch, growth, bn_size = _positive("in_ch", in_ch), _positive("growth", growth), _positive("bn_size", bn_size)
        inner = bn_size * growth
        self.bottleneck = nn.Sequential(nn.BatchNorm2d(in_ch), nn.ReLU(), nn.Conv2d(in_ch, inner, 1, bias=False))
        self.conv = nn.Sequential(nn.BatchNorm2d(inner), nn.ReLU(), nn.Conv2d(inner, growth, 3, padding=1, bias=False))
        self.in_channels, self.out_channels, self.growth = in_ch, in_ch + growth, growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.conv(self.bottleneck(x))], dim=1)


class DenseBlock(nn.Sequential):
    """``num_layers`` :class:`DenseLayer` s: the width grows linearly, in_ch + num_layers·growth."""

    def __init__(self, in_ch: int, num_layers: int, growth: int = 32, bn_size: int = 4) -> None:
        in_ch, num_layers, growth = _positive("in_ch", in_ch), _positive("num_layers", num_layers), _positive("growth", growth)
        super().__init__(*[DenseLayer(in_ch + i * growth, growth, bn_size) for i in range(num_layers)])
        self.in_channels, self.out_channels = in_ch, in_ch + num_layers * growth


class Transition(nn.Sequential):
    """DenseNet-C's transition: BN-ReLU-1×1 conv to floor(compression·in_ch) channels, 2×2 average pool.

    ``compression`` (θ in the paper, 0.5 in DenseNet-BC) shrinks the width the dense block grew.
    """

    def __init__(self, in_ch: int, compression: float = 0.5) -> None:
        in_ch = _positive("in_ch", in_ch)
        if isinstance(compression, bool) or not isinstance(compression, Real) or not 0 < compression <= 1:
            raise ValueError(f"compression must be a number in (0, 1], got {compression!r}")
        out = int(compression * in_ch)
        if out < 1:
            raise ValueError(f"compression {compression} leaves no channels of {in_ch}")
        super().__init__(nn.BatchNorm2d(in_ch), nn.ReLU(), nn.Conv2d(in_ch, out, 1, bias=False), nn.AvgPool2d(2))
        self.in_channels, self.out_channels = in_ch, out
