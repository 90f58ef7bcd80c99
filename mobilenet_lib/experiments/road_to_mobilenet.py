"""The designs the lightweight networks grew from, small enough to count by hand.

MobileNet and ShuffleNet did not start from nothing: each of their ideas answers a cost that an
earlier network made visible. This module holds the few blocks of those networks that the library
does not otherwise need, so the book can count their parameters and mult-adds with
:mod:`mobilenet_lib.costs` rather than quote them:

* :func:`conv_stack` — VGG's stack of small convolutions (three 3×3 see as far as one 7×7);
* :func:`receptive_field` — how far a stack of stride-1 convolutions sees;
* :class:`ResNeXtBlock` — ResNet's bottleneck with its 3×3 split into ``cardinality`` groups;
* :class:`DenseLayer`, :class:`DenseBlock`, :class:`Transition` — DenseNet-BC's concatenation,
  growth rate, 1×1 bottleneck and compression;
* :func:`valid_groups`, :func:`connectivity`, :func:`group_conv_summary` — what a group
  convolution connects and what it saves (ResNeXt's and ShuffleNet's tool, MobileNet's extreme).

ResNet's own blocks (:class:`~mobilenet_lib.blocks.BasicBlock`, :class:`~mobilenet_lib.blocks.Bottleneck`)
and squeeze-and-excitation (:class:`~mobilenet_lib.blocks.SqueezeExcitation`) live in
:mod:`mobilenet_lib.blocks`, since the lightweight networks use them too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from mobilenet_lib.blocks import ConvNormAct
from mobilenet_lib.costs import conv2d_cost
from mobilenet_lib.validation import (
    int_sequence,
    integer,
    number,
    odd_kernel,
    positive_int,
)

__all__ = [
    "conv_stack",
    "receptive_field",
    "ResNeXtBlock",
    "DenseLayer",
    "DenseBlock",
    "Transition",
    "valid_groups",
    "check_group_conv",
    "connectivity",
    "group_conv_summary",
]


def conv_stack(channels: int, kernel_size: int = 3, depth: int = 3, bias: bool = False) -> nn.Sequential:
    """``depth`` stride-1 convolutions ``channels → channels`` of size ``kernel_size``, each + ReLU.

    VGG's argument: three 3×3 layers see a 7×7 window (:func:`receptive_field`) with 27·C² weights
    where one 7×7 layer has 49·C², and apply three non-linearities instead of one. ``bias=False``
    keeps the count to the weights alone (VGG's convolutions had biases: C more per layer).
    """
    channels, kernel_size = positive_int("channels", channels), odd_kernel("kernel_size", kernel_size)
    depth = positive_int("depth", depth)
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2, bias=bool(bias)), nn.ReLU()]
    return nn.Sequential(*layers)


def receptive_field(kernel_sizes: Sequence[int], strides: Sequence[int] | None = None) -> int:
    """Side of the input window one output value of a conv stack depends on.

    ``r = 1 + Σ (k_i − 1) · Π_{j<i} s_j``: with stride 1 everywhere each k×k layer widens the
    window by k − 1, so three 3×3 layers see 7×7.
    """
    ks = int_sequence("kernel_sizes", kernel_sizes)
    ss = (1,) * len(ks) if strides is None else int_sequence("strides", strides)
    if len(ss) != len(ks):
        raise ValueError(f"strides must be as long as kernel_sizes ({len(ks)}), got {strides!r}")
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
        in_ch, cardinality, width = positive_int("in_ch", in_ch), positive_int("cardinality", cardinality), positive_int("width", width)
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
        in_ch, growth, bn_size = positive_int("in_ch", in_ch), positive_int("growth", growth), positive_int("bn_size", bn_size)
        inner = bn_size * growth
        self.bottleneck = nn.Sequential(nn.BatchNorm2d(in_ch), nn.ReLU(), nn.Conv2d(in_ch, inner, 1, bias=False))
        self.conv = nn.Sequential(nn.BatchNorm2d(inner), nn.ReLU(), nn.Conv2d(inner, growth, 3, padding=1, bias=False))
        self.in_channels, self.out_channels, self.growth = in_ch, in_ch + growth, growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.conv(self.bottleneck(x))], dim=1)


class DenseBlock(nn.Sequential):
    """``num_layers`` :class:`DenseLayer` s: the width grows linearly, in_ch + num_layers·growth."""

    def __init__(self, in_ch: int, num_layers: int, growth: int = 32, bn_size: int = 4) -> None:
        in_ch, num_layers, growth = positive_int("in_ch", in_ch), positive_int("num_layers", num_layers), positive_int("growth", growth)
        super().__init__(*[DenseLayer(in_ch + i * growth, growth, bn_size) for i in range(num_layers)])
        self.in_channels, self.out_channels = in_ch, in_ch + num_layers * growth


class Transition(nn.Sequential):
    """DenseNet-C's transition: BN-ReLU-1×1 conv to floor(compression·in_ch) channels, 2×2 average pool.

    ``compression`` (θ in the paper, 0.5 in DenseNet-BC) shrinks the width the dense block grew.
    """

    def __init__(self, in_ch: int, compression: float = 0.5) -> None:
        in_ch = positive_int("in_ch", in_ch)
        compression = number("compression", compression, low=0.0, high=1.0, low_open=True)
        out = int(compression * in_ch)
        if out < 1:
            raise ValueError(f"compression {compression} leaves no channels of {in_ch}")
        super().__init__(nn.BatchNorm2d(in_ch), nn.ReLU(), nn.Conv2d(in_ch, out, 1, bias=False), nn.AvgPool2d(2))
        self.in_channels, self.out_channels = in_ch, out


def valid_groups(c_in: int, c_out: int) -> list[int]:
    """The group counts a convolution c_in → c_out allows: the common divisors of both."""
    c_in, c_out = positive_int("c_in", c_in), positive_int("c_out", c_out)
    g = math.gcd(c_in, c_out)
    return [d for d in range(1, g + 1) if g % d == 0]


def check_group_conv(c_in: Any, c_out: Any, groups: Any, maximum: int | None = None) -> tuple[int, int, int]:
    """``(c_in, c_out, groups)`` checked: positive integers (channels at most ``maximum``), and
    ``groups`` dividing both channel counts (``ValueError`` lists the valid group counts)."""
    c_in, c_out = integer("c_in", c_in, low=1, high=maximum), integer("c_out", c_out, low=1, high=maximum)
    groups = positive_int("groups", groups)
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"groups={groups} must divide both c_in={c_in} and c_out={c_out}; valid: {valid_groups(c_in, c_out)}"
        )
    return c_in, c_out, groups


def connectivity(c_in: int, c_out: int, groups: int, kernel_size: int = 3) -> torch.Tensor:
    """Boolean ``(c_out, c_in)`` matrix: True where output channel j depends on input channel i.

    Measured, not assumed: an ``nn.Conv2d`` with all-one weights is applied to ``c_in`` one-hot
    inputs (one channel lit at a time), and an output channel that lights up depends on it.
    """
    c_in, c_out, groups = check_group_conv(c_in, c_out, groups)
    k = positive_int("kernel_size", kernel_size)
    conv = nn.Conv2d(c_in, c_out, k, padding=k // 2, groups=groups, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        x = torch.eye(c_in).reshape(c_in, c_in, 1, 1)  # image i lights input channel i
        y = conv(x)[:, :, 0, 0]  # (input i, output j)
    return (y != 0).T.contiguous()


def group_conv_summary(c_in: int, c_out: int, groups: int, size: int = 56, kernel_size: int = 3) -> dict[str, Any]:
    """Params and mult-adds of a k×k convolution at ``size``×``size`` output, beside groups = 1.

    Keys: ``params``, ``macs``, ``dense_params``, ``dense_macs``, ``saving`` (dense / grouped, = groups),
    ``inputs_per_output`` (c_in / groups), ``kind`` ("standard", "group" or "depthwise").
    """
    c_in, c_out, groups = check_group_conv(c_in, c_out, groups)
    size, k = positive_int("size", size), positive_int("kernel_size", kernel_size)
    cost = conv2d_cost(c_in, c_out, k, size, size, groups=groups)
    dense = conv2d_cost(c_in, c_out, k, size, size)
    kind = "standard" if groups == 1 else ("depthwise" if groups == c_in else "group")
    return {
        "c_in": c_in,
        "c_out": c_out,
        "groups": groups,
        "params": cost.params,
        "macs": cost.macs,
        "dense_params": dense.params,
        "dense_macs": dense.macs,
        "saving": dense.macs / cost.macs,
        "inputs_per_output": c_in // groups,
        "kind": kind,
    }
