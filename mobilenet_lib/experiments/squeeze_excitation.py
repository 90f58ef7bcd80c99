"""Squeeze-and-excitation, studied: a readable SE on a real photo, and what SE costs in MobileNet V3.

Two experiments behind the squeeze-and-excitation chapter.

**A hand-set SE on a photo** (:func:`se_demo`). A small network turns an RGB image into eight
channels with *fixed, named* filters (four oriented edge detectors, three colour-opponent
channels, brightness), each normalised so that its average over the bundled photos is 1. The
library's :class:`~mobilenet_lib.blocks.SqueezeExcitation` then gates them. Its weights are set by
hand to one readable rule, so that every stage can be checked by eye:

- *squeeze*: the global average of each channel, ``z``;
- *excitation*: ``fc1`` (8 -> 4, reduction r = 2) measures two contrasts, vertical minus horizontal
  edges and red minus blue, each in both signs; ReLU keeps the positive one; ``fc2`` (4 -> 8) turns
  them into gate logits: the winning orientation's and colour's gates open, their rivals' close,
  the other channels get the neutral logit 0;
- *scale*: every feature map is multiplied by its gate.

Rotating the photo by 90 degrees swaps the orientation gates: the gate is computed from the input,
which is what makes SE attention rather than a fixed per-channel weight. A trained SE learns its
own rules from data; they are rarely this readable. :func:`random_se_gates` shows what an
untrained SE does with the same features (gates scattered near 0.5, tied to nothing).

**What SE costs** (:func:`se_cost`, :func:`v3_se_blocks`). An SE on ``C`` channels with a
bottleneck of ``d`` adds ``2·C·d + C + d`` parameters and ``2·C·d`` mult-adds for its two
fully-connected layers, plus ``H·W·C`` multiplications to scale the map and ``H·W·C`` additions to
pool it, which ``FlopCounterMode`` (and the papers' mult-add counts) do not include. SE-Net uses
``d = C / 16``; MobileNet V3 uses ``d = make_divisible(C // 4, 8)`` of the *expanded* width.
:func:`with_se_reduction` rebuilds a network's SE modules for another reduction, so the analytic
numbers can be checked against a count on the real model; :func:`v3_cost_without_se` counts
MobileNet V3 with every SE removed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mobilenet_lib.blocks import SqueezeExcitation, make_divisible
from mobilenet_lib.costs import Cost, conv_output_size, count_macs, count_params
from mobilenet_lib.models.mobilenet_v3 import check_bneck, mobilenet_v3, v3_table
from mobilenet_lib.validation import (
    integer,
    number,
    one_of,
    positive_float,
    positive_int,
)

__all__ = [
    "DEMO_CHANNELS",
    "DEMO_IMAGES",
    "NamedFilters",
    "hand_set_se",
    "SEDemo",
    "se_demo",
    "random_se_gates",
    "SECost",
    "se_squeeze_channels",
    "se_cost",
    "SEBlockCost",
    "v3_se_blocks",
    "with_se_reduction",
    "v3_cost_without_se",
]

#: The demo network's channels, in order.
DEMO_CHANNELS: tuple[str, ...] = (
    "vertical edges",
    "horizontal edges",
    "diagonal /",
    "diagonal \\",
    "red",
    "green",
    "blue",
    "brightness",
)
#: Photos the demo's normalisation is computed over (all bundled with installed packages).
DEMO_IMAGES: tuple[str, ...] = ("china", "flower", "grace_hopper")
_SIZE = 96  # short side the demo resizes photos to: enough detail, fast enough for a widget
_LUMA = (0.299, 0.587, 0.114)
_GATES = {"sigmoid": nn.Sigmoid, "h-sigmoid": nn.Hardsigmoid}


def _oriented_edge(theta: float, sigma: float = 1.0, size: int = 5) -> torch.Tensor:
    """Derivative of a Gaussian across direction ``theta`` (0: responds to vertical edges)."""
    r = torch.arange(size, dtype=torch.float64) - size // 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    u = x * math.cos(theta) - y * math.sin(theta)  # image rows grow downwards, hence the minus
    g = -u / sigma**2 * torch.exp(-(x**2 + y**2) / (2 * sigma**2))
    return g / g.clamp(min=0).sum()  # a unit step edge gives a response of about 1


class NamedFilters(nn.Module):
    """Fixed filters RGB -> the eight :data:`DEMO_CHANNELS`.

    Edges: oriented derivative-of-Gaussian filters (5x5, sigma 1) on the luma, rectified with
    ``abs`` (an edge counts whichever way its contrast goes). Colours: ``R - (G + B) / 2`` and
    its rotations, rectified with ReLU; brightness: the mean of R, G and B. Each group (edges,
    colours, brightness) is then divided by ``scale``, the group's average over
    :data:`DEMO_IMAGES`, so a typical photo gives values near 1.
    """

    def __init__(self) -> None:
        super().__init__()
        w = torch.zeros(8, 3, 5, 5, dtype=torch.float64)
        luma = torch.tensor(_LUMA, dtype=torch.float64)[:, None, None]
        for i, theta in enumerate((0.0, math.pi / 2, math.pi / 4, 3 * math.pi / 4)):
            w[i] = luma * _oriented_edge(theta)
        opponent = torch.tensor(
            [[1, -0.5, -0.5], [-0.5, 1, -0.5], [-0.5, -0.5, 1], [1 / 3, 1 / 3, 1 / 3]], dtype=torch.float64
        )
        w[4:, :, 2, 2] = opponent
        self.register_buffer("weight", w.float())
        self.register_buffer("scale", torch.ones(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"NamedFilters expects RGB images (N, 3, H, W), got shape {tuple(x.shape)}")
        # replicate the border: zero padding would draw a false edge around every image
        f = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), self.weight)
        f = torch.cat([f[:, :4].abs(), f[:, 4:].relu()], dim=1)
        return f / self.scale[None, :, None, None]


_FILTERS: NamedFilters | None = None
_PHOTOS: dict[tuple[str, int], torch.Tensor] = {}
_FEATURES: dict[tuple[str, int], torch.Tensor] = {}


def _photo(name: str, rotate: int) -> torch.Tensor:
    from mobilenet_lib.data import sample_image

    key = (name, rotate)
    if key not in _PHOTOS:
        _PHOTOS[key] = torch.rot90(sample_image(name, size=_SIZE), rotate, dims=(1, 2)).contiguous()
    return _PHOTOS[key]


def _filters() -> NamedFilters:
    """The demo's feature extractor, normalised once over :data:`DEMO_IMAGES` (cached)."""
    global _FILTERS
    if _FILTERS is None:
        filters = NamedFilters()
        with torch.no_grad():
            means = torch.stack([filters(_photo(n, 0)[None]).mean((0, 2, 3)) for n in DEMO_IMAGES])
        means = means.mean(0)
        # one scale per group, so that rotating a photo swaps its edge channels exactly and the
        # colour channels stay comparable with each other
        for group in (slice(0, 4), slice(4, 7), slice(7, 8)):
            means[group] = means[group].mean()
        filters.scale.copy_(means)
        _FILTERS = filters
    return _FILTERS


def _features(name: str, rotate: int) -> torch.Tensor:
    """The eight named channels of a photo, (1, 8, H, W) (cached: a widget redraws often)."""
    key = (name, rotate)
    if key not in _FEATURES:
        with torch.no_grad():
            _FEATURES[key] = _filters()(_photo(name, rotate)[None])
    return _FEATURES[key]


def hand_set_se(strength: float = 4.0, gate: str = "sigmoid") -> SqueezeExcitation:
    """The demo's SE (8 -> 4 -> 8) with the hand-set rule described in the module docstring.

    ``strength`` multiplies both contrasts (0 makes every gate neutral); ``gate`` is
    ``"sigmoid"`` (SE-Net) or ``"h-sigmoid"`` (MobileNet V3).
    """
    strength = number("strength", strength, low=0.0, high=100.0)
    gate = one_of("gate", gate, _GATES)
    se = SqueezeExcitation(8, 4, activation=nn.ReLU, gate=_GATES[gate])
    v, h, red, blue = 0, 1, 4, 6
    w1 = torch.zeros(4, 8)
    w1[0, v], w1[0, h] = 1.0, -1.0  # more vertical than horizontal structure
    w1[1, h], w1[1, v] = 1.0, -1.0  # more horizontal than vertical
    w1[2, red], w1[2, blue] = 1.0, -1.0  # warmer than cool
    w1[3, blue], w1[3, red] = 1.0, -1.0  # cooler than warm
    w2 = torch.zeros(8, 4)
    w2[v] = torch.tensor([1.0, -1.0, 0, 0])
    w2[h] = torch.tensor([-1.0, 1.0, 0, 0])
    w2[red] = torch.tensor([0, 0, 1.0, -1.0])
    w2[blue] = torch.tensor([0, 0, -1.0, 1.0])
    with torch.no_grad():
        se.fc1.weight.copy_(w1[:, :, None, None] * float(strength))
        se.fc1.bias.zero_()
        se.fc2.weight.copy_(w2[:, :, None, None])
        se.fc2.bias.zero_()
    return se


@dataclass(frozen=True)
class SEDemo:
    """One pass of a photo through the demo: the photo, the maps before and after, the gates.

    ``image`` (3, H, W); ``before`` / ``after`` (8, H, W); ``squeezed`` (8,): the channel means
    that fc1 sees; ``gates`` (8,) in [0, 1].
    """

    image: torch.Tensor
    before: torch.Tensor
    squeezed: torch.Tensor
    gates: torch.Tensor
    after: torch.Tensor
    channels: tuple[str, ...] = DEMO_CHANNELS


def _check_image(image: str, rotate: int) -> None:
    one_of("image", image, DEMO_IMAGES)
    integer("rotate", rotate, low=0, high=3)  # quarter turns


def se_demo(image: str = "china", rotate: int = 0, strength: float = 4.0, gate: str = "sigmoid") -> SEDemo:
    """Run the photo ``image`` (rotated by ``rotate`` quarter turns) through filters and SE."""
    _check_image(image, rotate)
    se = hand_set_se(strength, gate)
    before = _features(image, int(rotate))
    with torch.no_grad():
        gates = se.gates(before)
        after = se(before)
    image_tensor = _photo(image, int(rotate))
    return SEDemo(image_tensor, before[0], before[0].mean((1, 2)), gates.flatten(), after[0])


def random_se_gates(image: str = "china", rotate: int = 0, seed: int = 0, gate: str = "sigmoid") -> torch.Tensor:
    """The gates (8,) of a freshly initialised (untrained) 8 -> 4 -> 8 SE on the same features."""
    _check_image(image, rotate)
    gate = one_of("gate", gate, _GATES)
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        se = SqueezeExcitation(8, 4, activation=nn.ReLU, gate=_GATES[gate])
    finally:
        torch.random.set_rng_state(state)  # leave the caller's random stream alone
    with torch.no_grad():
        return se.gates(_features(image, int(rotate))).flatten()


# --------------------------------------------------------------------------------------------
# What SE costs
# --------------------------------------------------------------------------------------------


def se_squeeze_channels(channels: int, reduction: float = 4, divisor: int = 8) -> int:
    """Bottleneck width of an SE on ``channels``: ``make_divisible(channels // reduction, divisor)``.

    MobileNet V3: ``reduction=4, divisor=8``. SE-Net: ``reduction=16, divisor=1`` (plain
    ``channels // 16``, at least 1).
    """
    channels = positive_int("channels", channels)
    divisor = positive_int("divisor", divisor)
    reduction = number("reduction", reduction, low=1.0)
    return make_divisible(max(1, channels // reduction), divisor)


@dataclass(frozen=True)
class SECost:
    """What one SE on a ``channels`` x ``height`` x ``width`` map adds.

    ``fc``: the two 1x1 layers' parameters (weights and biases) and mult-adds, what
    ``count_params`` / ``count_macs`` see. ``scale_mults`` (one multiplication per value) and
    ``pool_adds`` (one addition per value) are real work that mult-add counts leave out.
    """

    channels: int
    squeeze: int
    height: int
    width: int
    fc: Cost
    scale_mults: int
    pool_adds: int


def se_cost(channels: int, squeeze: int, height: int, width: int) -> SECost:
    """Cost of an SE with bottleneck ``squeeze`` on a ``channels x height x width`` feature map."""
    c, d = positive_int("channels", channels), positive_int("squeeze", squeeze)
    h, w = positive_int("height", height), positive_int("width", width)
    fc = Cost(params=c * d + d + d * c + c, macs=2 * c * d)
    return SECost(c, d, h, w, fc, scale_mults=h * w * c, pool_adds=h * w * c)


@dataclass(frozen=True)
class SEBlockCost:
    """The SE of one bneck row of a MobileNet V3 table (``index`` counts from 0 over all rows)."""

    index: int
    expanded: int
    cost: SECost


def v3_se_blocks(
    variant: str = "large",
    reduction: float = 4,
    divisor: int = 8,
    input_size: int = 224,
    width_mult: float = 1.0,
    bneck: Sequence[Any] | None = None,
) -> list[SEBlockCost]:
    """The SE modules of MobileNet V3-Large or -Small, each with its cost, from the model's table.

    ``reduction`` / ``divisor`` give the bottleneck (:func:`se_squeeze_channels`); the paper's
    model is ``reduction=4, divisor=8``. The map size at each SE follows the stem's and the
    depthwise convs' strides from ``input_size``. ``bneck`` replaces the table.
    """
    rows = v3_table(variant) if bneck is None else check_bneck(bneck)
    width_mult = positive_float("width_mult", width_mult)
    size = conv_output_size(positive_int("input_size", input_size), 3, 2, 1)  # the stem
    blocks = []
    for i, row in enumerate(rows):
        size = conv_output_size(size, row.kernel, row.stride, row.kernel // 2)
        if row.use_se:
            exp = make_divisible(row.expanded * width_mult, 8)
            d = se_squeeze_channels(exp, reduction, divisor)
            blocks.append(SEBlockCost(i, exp, se_cost(exp, d, size, size)))
    return blocks


def with_se_reduction(model: nn.Module, reduction: float = 4, divisor: int = 8) -> nn.Module:
    """``model`` with every :class:`SqueezeExcitation` rebuilt for another bottleneck, in place.

    The new SEs keep their activation and gate types; their weights are freshly initialised
    (this is for counting, not for inference). Returns ``model``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, SqueezeExcitation):
                d = se_squeeze_channels(child.channels, reduction, divisor)
                new = SqueezeExcitation(child.channels, d, type(child.activation), type(child.gate))
                setattr(parent, name, new)
    return model


@lru_cache(maxsize=4)
def v3_cost_without_se(variant: str = "large", input_size: int = 224) -> Cost:
    """Parameters and mult-adds of MobileNet V3 with every SE removed (counted once, then cached)."""
    table = v3_table(variant)
    with torch.device("meta"):  # shapes only: counting needs no real weights or arithmetic
        model = mobilenet_v3(variant, bneck=[row._replace(use_se=False) for row in table])
    return Cost(count_params(model), count_macs(model, (1, 3, input_size, input_size)))
