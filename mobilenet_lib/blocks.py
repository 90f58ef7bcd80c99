"""The building blocks of the lightweight networks, each small enough to read in one sitting.

Everything is assembled from one unit, :class:`ConvNormAct` (convolution, batch norm, activation),
so the differences between the networks are visible as differences in *how the unit is used*:

=============================  ===========================================================
block                          used by
=============================  ===========================================================
:class:`ConvNormAct`           every network's stem and head
:class:`DepthwiseSeparableConv` MobileNet V1 (3x3 depthwise, then 1x1 pointwise)
:class:`InvertedResidual`      MobileNet V2 and V3 (1x1 expand, kxk depthwise, [SE], linear 1x1)
:class:`SqueezeExcitation`     MobileNet V3 (channel attention inside the inverted residual)
:func:`channel_shuffle`        ShuffleNet (mix channels between groups)
:class:`ShuffleV1Block`        ShuffleNet V1 (group 1x1, shuffle, 3x3 depthwise, group 1x1)
:class:`ShuffleV2Block`        ShuffleNet V2 (channel split, two branches, concat, shuffle)
:class:`BasicBlock`,           ResNet-18 / ResNet-50, the heavyweight baseline
:class:`Bottleneck`
=============================  ===========================================================

Where torchvision has the same block, the parameter names (``state_dict`` keys) and the forward
computation are the same as torchvision 0.28's, so its checkpoints load into these models.

**One InvertedResidual, two layouts.** MobileNet V2 and V3 use the same block, but torchvision
stores it under different names: V2 keeps a flat ``conv`` Sequential ending in a bare ``Conv2d`` and
``BatchNorm2d`` (keys ``conv.2.weight``, ``conv.3.weight``), V3 a ``block`` Sequential whose
projection is a whole conv-norm unit (keys ``block.2.0.weight``, ``block.2.1.weight``). The
computation is identical; only the nesting differs. Rather than two copies of the block,
:class:`InvertedResidual` builds its layers once and a ``layout`` switch (``"v2"`` or ``"v3"``)
decides only how they are named. The V2 builder passes ``layout="v2"``, the V3 builder
``layout="v3"``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import nn

from mobilenet_lib.validation import (
    factory,
    flag,
    number,
    odd_kernel,
    one_of,
    positive_float,
    positive_int,
)

__all__ = [
    "ActivationFactory",
    "NormFactory",
    "is_traced",
    "check_image_batch",
    "make_divisible",
    "ConvNormAct",
    "DepthwiseSeparableConv",
    "InvertedResidual",
    "SqueezeExcitation",
    "mobilenet_v3_se",
    "channel_shuffle",
    "ChannelShuffle",
    "ShuffleV1Block",
    "ShuffleV2Block",
    "BasicBlock",
    "Bottleneck",
]

#: Anything that builds a fresh activation module when called with no arguments: a class such as
#: ``nn.ReLU`` or ``nn.Hardswish``, or e.g. ``functools.partial(nn.LeakyReLU, 0.1)``.
ActivationFactory = Callable[[], nn.Module]


# --------------------------------------------------------------------------------------------
# Argument and input checks
# --------------------------------------------------------------------------------------------

#: Builds the normalisation layer of a unit from its channel count: ``nn.BatchNorm2d`` (the
#: default), ``functools.partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)`` (MobileNet V3), or
#: ``None`` for no normalisation (the convolution then gets a bias).
NormFactory = Callable[[int], nn.Module]


def _stride_1_or_2(value: Any) -> int:
    return one_of("stride", positive_int("stride", value), (1, 2))


def _make_activation(activation: ActivationFactory | None, name: str = "activation") -> nn.Module | None:
    if factory(name, activation) is None:
        return None
    module = activation()
    if not isinstance(module, nn.Module):
        raise TypeError(f"{name}() must return an nn.Module, got {type(module).__name__}")
    return module


def _make_norm(norm_layer: NormFactory | None, channels: int) -> nn.Module | None:
    if factory("norm_layer", norm_layer) is None:
        return None
    module = norm_layer(channels)
    if not isinstance(module, nn.Module):
        raise TypeError(f"norm_layer({channels}) must return an nn.Module, got {type(module).__name__}")
    return module


def is_traced(x: Any) -> bool:
    """True while ``torch.fx`` traces a forward pass (``x`` is a Proxy with no known shape).

    Input checks are skipped then, so the blocks and models stay traceable (FX quantization,
    graph inspection); they run on every real tensor.
    """
    return isinstance(x, torch.fx.Proxy)


def check_image_batch(x: Any, channels: int, where: str) -> None:
    """Raise unless ``x`` is a floating-point (N, ``channels``, H, W) tensor.

    ``TypeError`` for something that is not a tensor, or a tensor of integers (``uint8`` images
    must be converted and scaled first: ``x.float() / 255``); ``ValueError`` for the wrong number
    of dimensions or channels. Skipped while ``torch.fx`` traces (no shapes to check).
    """
    if is_traced(x):
        return
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where} expects a torch.Tensor (batch, channels, height, width), got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{where} expects floating-point images, got dtype {x.dtype}; convert them first, "
            "e.g. x.float() / 255 for uint8 pixels"
        )
    if x.dim() != 4:
        raise ValueError(f"{where} expects a 4-D tensor (batch, channels, height, width), got shape {tuple(x.shape)}")
    if x.shape[1] != channels:
        raise ValueError(f"{where} expects {channels} input channels, got a tensor of shape {tuple(x.shape)}")


# --------------------------------------------------------------------------------------------
# Channel rounding
# --------------------------------------------------------------------------------------------


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``v`` to the nearest multiple of ``divisor``, but never below 90 % of ``v``.

    The rounding of the MobileNet reference code (TF-slim, torchvision's ``_make_divisible``): a
    width multiplier makes channel counts like 32 * 0.35 = 11.2, and hardware prefers multiples of
    8. Rounding to nearest could lose more than 10 % of the channels (e.g. 12 -> 8), so in that
    case one more ``divisor`` is added. The result is at least ``min_value`` (default:
    ``divisor``), also for ``v = 0`` (MobileNet V3's SE on fewer than 4 channels squeezes to 8).

    >>> make_divisible(11.2), make_divisible(12), make_divisible(1280 * 1.4)
    (16, 16, 1792)
    """
    v = number("v", v, low=0.0)
    divisor = positive_int("divisor", divisor)
    min_value = divisor if min_value is None else positive_int("min_value", min_value)
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


# --------------------------------------------------------------------------------------------
# The one conv-norm-activation unit
# --------------------------------------------------------------------------------------------


class ConvNormAct(nn.Sequential):
    """Convolution, normalisation, activation: the unit every network here is made of.

    An ``nn.Sequential`` (so its parameters are ``0.weight`` for the conv, ``1.weight`` /
    ``1.bias`` / ``1.running_mean`` ... for the batch norm, exactly like torchvision's
    ``Conv2dNormActivation``). Padding is ``(kernel_size - 1) // 2 * dilation`` ("same" padding),
    which keeps the size for stride 1 and halves it (rounding up) for stride 2; that needs an odd
    kernel, so an even one is refused. The convolution has a bias only when there is no
    normalisation (the norm's shift makes a bias redundant).

    Args:
        in_ch, out_ch: input and output channels; both divisible by ``groups``.
        kernel_size, stride, dilation: of the convolution (``kernel_size`` odd).
        groups: ``1`` for a full convolution, ``in_ch`` for a depthwise one.
        activation: an activation *factory* (``nn.ReLU``, ``nn.ReLU6``, ``nn.Hardswish``, ...) or
            ``None`` for a linear unit (MobileNet V2's "linear bottleneck").
        norm_layer: builds the normalisation from the channel count (:data:`NormFactory`):
            ``nn.BatchNorm2d`` by default, ``partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)``
            for MobileNet V3, ``None`` for none.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        activation: ActivationFactory | None = nn.ReLU,
        norm_layer: NormFactory | None = nn.BatchNorm2d,
        dilation: int = 1,
    ) -> None:
        in_ch = positive_int("in_ch", in_ch)
        out_ch = positive_int("out_ch", out_ch)
        kernel_size = odd_kernel("kernel_size", kernel_size)
        stride = positive_int("stride", stride)
        groups = positive_int("groups", groups)
        dilation = positive_int("dilation", dilation)
        if in_ch % groups or out_ch % groups:
            raise ValueError(
                f"in_ch ({in_ch}) and out_ch ({out_ch}) must both be divisible by groups ({groups})"
            )
        norm = _make_norm(norm_layer, out_ch)
        padding = (kernel_size - 1) // 2 * dilation
        layers: list[nn.Module] = [
            nn.Conv2d(
                in_ch, out_ch, kernel_size, stride, padding, dilation=dilation, groups=groups, bias=norm is None
            )
        ]
        if norm is not None:
            layers.append(norm)
        act = _make_activation(activation)
        if act is not None:
            layers.append(act)
        super().__init__(*layers)
        self.in_channels = in_ch
        self.out_channels = out_ch
        self.stride = stride


# --------------------------------------------------------------------------------------------
# MobileNet V1
# --------------------------------------------------------------------------------------------


class DepthwiseSeparableConv(nn.Sequential):
    """MobileNet V1's block: a kxk depthwise ConvNormAct, then a 1x1 pointwise ConvNormAct.

    The depthwise conv filters each channel on its own (and carries the stride); the pointwise
    conv mixes channels. Together they replace a full kxk convolution at about
    ``1/out_ch + 1/k²`` of its cost. Children are named ``depthwise`` and ``pointwise``.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int = 1,
        activation: ActivationFactory | None = nn.ReLU,
        kernel_size: int = 3,
        norm_layer: NormFactory | None = nn.BatchNorm2d,
    ) -> None:
        in_ch = positive_int("in_ch", in_ch)
        super().__init__(
            OrderedDict(
                depthwise=ConvNormAct(
                    in_ch, in_ch, kernel_size, stride, groups=in_ch, activation=activation, norm_layer=norm_layer
                ),
                pointwise=ConvNormAct(in_ch, out_ch, 1, activation=activation, norm_layer=norm_layer),
            )
        )
        self.in_channels = in_ch
        self.out_channels = int(out_ch)
        self.stride = int(stride)


# --------------------------------------------------------------------------------------------
# Squeeze-and-excitation
# --------------------------------------------------------------------------------------------


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation: reweight channels by a gate computed from their global averages.

    ``gates(x)`` = gate(fc2(activation(fc1(avgpool(x))))), one value in [0, 1] per image and
    channel (shape ``(N, C, 1, 1)``); ``forward(x) = x * gates(x)``. ``fc1`` / ``fc2`` are 1x1
    convolutions with bias, named as in torchvision's ``SqueezeExcitation``.

    Args:
        channels: channels of the input (and output).
        squeeze_channels: width of the bottleneck between fc1 and fc2 (SE-Net: channels / 16;
            MobileNet V3: ``make_divisible(channels // 4, 8)``).
        activation: after fc1 (``nn.ReLU``).
        gate: after fc2: ``nn.Sigmoid`` (SE-Net) or ``nn.Hardsigmoid`` / :class:`HSigmoid`
            (MobileNet V3).
    """

    def __init__(
        self,
        channels: int,
        squeeze_channels: int,
        activation: ActivationFactory = nn.ReLU,
        gate: ActivationFactory = nn.Sigmoid,
    ) -> None:
        super().__init__()
        channels = positive_int("channels", channels)
        squeeze_channels = positive_int("squeeze_channels", squeeze_channels)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
        self.activation = _make_activation(activation, "activation")
        self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
        self.gate = _make_activation(gate, "gate")
        if self.activation is None or self.gate is None:
            raise ValueError("SqueezeExcitation needs both an activation and a gate (got None)")
        self.channels = channels
        self.squeeze_channels = squeeze_channels

    def gates(self, x: torch.Tensor) -> torch.Tensor:
        """The per-channel gate values, shape ``(N, C, 1, 1)`` (what ``forward`` multiplies by)."""
        check_image_batch(x, self.channels, "SqueezeExcitation")
        s = self.avgpool(x)
        s = self.activation(self.fc1(s))
        return self.gate(self.fc2(s))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gates(x)


def mobilenet_v3_se(channels: int) -> SqueezeExcitation:
    """MobileNet V3's SE: squeeze to ``make_divisible(channels // 4, 8)``, ReLU, hard-sigmoid gate.

    ``nn.Hardsigmoid`` (rather than :class:`HSigmoid`, which computes the same values) keeps the
    module types identical to torchvision's.
    """
    channels = positive_int("channels", channels)
    return SqueezeExcitation(channels, make_divisible(channels // 4, 8), nn.ReLU, nn.Hardsigmoid)


# --------------------------------------------------------------------------------------------
# MobileNet V2 / V3: the inverted residual
# --------------------------------------------------------------------------------------------


class InvertedResidual(nn.Module):
    """The inverted residual with linear bottleneck (MobileNet V2), with V3's options.

    narrow -> **1x1 expand** (skipped when the expanded width equals the input width) ->
    **kxk depthwise** (carries the stride) -> optional **squeeze-excitation** -> **linear 1x1
    project** (no activation: a ReLU on the narrow output would destroy information) -> narrow.
    The input is added back (``use_res_connect``) exactly when ``stride == 1`` and
    ``in_ch == out_ch``.

    Args:
        in_ch, out_ch: narrow input and output widths.
        stride: 1 or 2.
        expand_ratio: V2's expansion factor t; the expanded width is ``round(in_ch * t)``.
        expanded_ch: V3's explicit expanded width ("exp size" in the paper's tables).
            Give exactly one of ``expand_ratio`` and ``expanded_ch``.
        kernel_size: of the depthwise conv (3 or 5 in MobileNet V3).
        use_se: insert ``se_layer(expanded_width)`` after the depthwise conv.
        activation: for the expand and depthwise units (V2: ``nn.ReLU6``; V3: ``nn.ReLU`` or
            ``nn.Hardswish``).
        se_layer: builds the SE module from the expanded width (default :func:`mobilenet_v3_se`).
        norm_layer: the normalisation of every unit (see :class:`ConvNormAct`).
        layout: ``"v2"`` (a flat ``conv`` Sequential: ``[expand?, depthwise, Conv2d, BatchNorm2d]``)
            or ``"v3"`` (a ``block`` Sequential: ``[expand?, depthwise, se?, ConvNormAct project]``);
            the two compute the same thing and differ only in their ``state_dict`` keys, which
            follow torchvision's MobileNetV2 and MobileNetV3 respectively.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int,
        expand_ratio: float | None = None,
        *,
        expanded_ch: int | None = None,
        kernel_size: int = 3,
        use_se: bool = False,
        activation: ActivationFactory = nn.ReLU6,
        se_layer: Callable[[int], nn.Module] | None = None,
        norm_layer: NormFactory | None = nn.BatchNorm2d,
        layout: Literal["v2", "v3"] = "v2",
    ) -> None:
        super().__init__()
        in_ch = positive_int("in_ch", in_ch)
        out_ch = positive_int("out_ch", out_ch)
        stride = _stride_1_or_2(stride)
        kernel_size = odd_kernel("kernel_size", kernel_size)
        layout = one_of("layout", layout, ("v2", "v3"))
        if (expand_ratio is None) == (expanded_ch is None):
            raise ValueError(
                "give exactly one of expand_ratio (V2's t) and expanded_ch (V3's exp size), got "
                f"expand_ratio={expand_ratio!r}, expanded_ch={expanded_ch!r}"
            )
        if expand_ratio is not None:
            expand_ratio = positive_float("expand_ratio", expand_ratio)
            hidden = int(round(in_ch * expand_ratio))
            if hidden < 1:
                raise ValueError(
                    f"expand_ratio {expand_ratio!r} leaves no channels for in_ch={in_ch} "
                    f"(round({in_ch} * {expand_ratio}) = {hidden})"
                )
        else:
            hidden = positive_int("expanded_ch", expanded_ch)
        use_se = flag("use_se", use_se)

        bn = {"norm_layer": norm_layer}
        layers: list[nn.Module] = []
        if hidden != in_ch:
            layers.append(ConvNormAct(in_ch, hidden, 1, activation=activation, **bn))
        layers.append(
            ConvNormAct(hidden, hidden, kernel_size, stride, groups=hidden, activation=activation, **bn)
        )
        if use_se:
            se = (se_layer or mobilenet_v3_se)(hidden)
            if not isinstance(se, nn.Module):
                raise TypeError(f"se_layer must return an nn.Module, got {type(se).__name__}")
            layers.append(se)
        project = ConvNormAct(hidden, out_ch, 1, activation=None, **bn)
        if layout == "v2":
            layers.extend(project)  # unpacked: the bare Conv2d and BatchNorm2d, as torchvision's V2
            self.conv = nn.Sequential(*layers)
        else:
            layers.append(project)
            self.block = nn.Sequential(*layers)

        self.layout = layout
        self.in_channels = in_ch
        self.out_channels = out_ch
        self.expanded_channels = hidden
        self.stride = stride
        self.kernel_size = kernel_size
        self.use_se = use_se
        self.use_res_connect = stride == 1 and in_ch == out_ch

    @property
    def body(self) -> nn.Sequential:
        """The residual branch (``conv`` in the V2 layout, ``block`` in the V3 layout)."""
        return self.conv if self.layout == "v2" else self.block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x, self.in_channels, "InvertedResidual")
        out = self.body(x)
        if self.use_res_connect:
            out = out + x
        return out

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels} -> {self.expanded_channels} -> {self.out_channels}, "
            f"k={self.kernel_size}, stride={self.stride}, se={self.use_se}, "
            f"residual={self.use_res_connect}, layout={self.layout!r}"
        )


# --------------------------------------------------------------------------------------------
# ShuffleNet
# --------------------------------------------------------------------------------------------


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups: reshape to (g, n), transpose, flatten.

    With 2 groups of 3 channels ``[a0 a1 a2 | b0 b1 b2]`` becomes ``[a0 b0 a1 b1 a2 b2]``, so
    the next group convolution sees channels from every group. It is a fixed permutation;
    ``channel_shuffle(channel_shuffle(x, g), C // g)`` gives ``x`` back.
    """
    groups = positive_int("groups", groups)
    if not is_traced(x):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"channel_shuffle expects a torch.Tensor (N, C, H, W), got {type(x).__name__}")
        if x.dim() != 4:
            raise ValueError(f"channel_shuffle expects a 4-D tensor (N, C, H, W), got shape {tuple(x.shape)}")
        if x.shape[1] % groups:
            raise ValueError(f"the number of channels ({x.shape[1]}) must be divisible by groups ({groups})")
    # (N, C, H, W) -> (N, g, C/g, H, W) -> (N, C/g, g, H, W) -> (N, C, H, W). Written without
    # reading the shape, so torch.fx can trace it.
    return x.unflatten(1, (groups, -1)).transpose(1, 2).flatten(1, 2)


class ChannelShuffle(nn.Module):
    """Module form of :func:`channel_shuffle`."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = positive_int("groups", groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class ShuffleV1Block(nn.Module):
    """ShuffleNet V1's unit (Zhang et al., 2018, Figure 2 (b) and (c)).

    The residual branch is a bottleneck: a **1x1 group convolution** down to ``mid_ch`` channels
    (ReLU), a **channel shuffle** with ``groups`` groups, a **3x3 depthwise convolution** (carries
    the stride; batch norm but no ReLU), and a **1x1 group convolution** back up (batch norm, no
    ReLU). How the branch meets the shortcut depends on the stride:

    * ``stride=1`` (``in_ch == out_ch``): the identity shortcut is **added**, then ReLU;
    * ``stride=2``: the shortcut is a **3x3 average pool with stride 2**, and the two are
      **concatenated**, then ReLU. The branch then makes only ``out_ch - in_ch`` channels, so that
      with the ``in_ch`` pooled ones the unit outputs ``out_ch``: the width grows at no cost for
      the pooled part.

    Args:
        in_ch, out_ch: the unit's input and output widths (``out_ch > in_ch`` for stride 2).
        stride: 1 or 2.
        groups: g, the groups of both 1x1 convolutions and of the shuffle.
        mid_ch: the bottleneck width; default ``out_ch // 4`` (the paper's 1/4 of the output).
        group_first: whether the first 1x1 convolution is grouped. The paper leaves it dense in
            the first unit of stage 2, whose input has only 24 channels.
        norm_layer: the normalisation of every unit (see :class:`ConvNormAct`).

    Children: ``branch`` (an ``nn.Sequential`` of ``compress``, ``shuffle``, ``depthwise``,
    ``expand``; ``shuffle`` is an ``nn.Identity`` for ``groups=1``), ``shortcut``
    (``nn.Identity`` or ``nn.AvgPool2d``) and ``relu``. Since the
    unit's input has passed a ReLU, the pooled half of a stride-2 output is non-negative and the
    final ReLU leaves it unchanged, so this equals the reference code's ``cat(pool(x), relu(f(x)))``.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        stride: int,
        groups: int,
        mid_ch: int | None = None,
        *,
        group_first: bool = True,
        norm_layer: NormFactory | None = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        in_ch = positive_int("in_ch", in_ch)
        out_ch = positive_int("out_ch", out_ch)
        stride = _stride_1_or_2(stride)
        groups = positive_int("groups", groups)
        group_first = flag("group_first", group_first)
        if mid_ch is None:
            if out_ch < 4:
                raise ValueError(f"out_ch must be at least 4 for a bottleneck of out_ch // 4, got {out_ch}")
            mid_ch = out_ch // 4
        mid_ch = positive_int("mid_ch", mid_ch)
        if stride == 1 and in_ch != out_ch:
            raise ValueError(
                f"a stride-1 ShuffleV1Block adds its input to its output, so in_ch must equal out_ch; "
                f"got in_ch={in_ch}, out_ch={out_ch}"
            )
        if stride == 2 and out_ch <= in_ch:
            raise ValueError(
                f"a stride-2 ShuffleV1Block concatenates the {in_ch} pooled input channels with its "
                f"branch, so out_ch must exceed in_ch; got in_ch={in_ch}, out_ch={out_ch}"
            )
        branch_ch = out_ch - in_ch if stride == 2 else out_ch
        first_groups = groups if group_first else 1
        for name, value, g in (("in_ch", in_ch, first_groups), ("mid_ch", mid_ch, groups),
                               ("the branch's output (out_ch - in_ch for stride 2)", branch_ch, groups)):
            if value % g:
                raise ValueError(f"groups={groups}: {name} ({value}) must be divisible by {g}")
        bn = {"norm_layer": norm_layer}
        self.branch = nn.Sequential(
            OrderedDict(
                compress=ConvNormAct(in_ch, mid_ch, 1, groups=first_groups, **bn),
                shuffle=ChannelShuffle(groups) if groups > 1 else nn.Identity(),
                depthwise=ConvNormAct(mid_ch, mid_ch, 3, stride, groups=mid_ch, activation=None, **bn),
                expand=ConvNormAct(mid_ch, branch_ch, 1, groups=groups, activation=None, **bn),
            )
        )
        self.shortcut: nn.Module = nn.Identity() if stride == 1 else nn.AvgPool2d(3, stride=2, padding=1)
        self.relu = nn.ReLU()
        self.in_channels = in_ch
        self.out_channels = out_ch
        self.mid_channels = mid_ch
        self.branch_channels = branch_ch
        self.stride = stride
        self.groups = groups
        self.group_first = group_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x, self.in_channels, "ShuffleV1Block")
        out = self.branch(x)
        if self.stride == 1:
            return self.relu(out + x)
        return self.relu(torch.cat((self.shortcut(x), out), dim=1))

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels} -> {self.mid_channels} -> {self.out_channels}, stride={self.stride}, "
            f"groups={self.groups}, group_first={self.group_first}, "
            f"join={'add' if self.stride == 1 else 'concat'}"
        )


class ShuffleV2Block(nn.Module):
    """ShuffleNet V2's unit (torchvision's ``shufflenetv2.InvertedResidual``).

    * ``stride=1`` (``in_ch == out_ch``): **channel split** into two halves; the left half passes
      through untouched, the right half goes through ``branch2`` (1x1, 3x3 depthwise, 1x1).
    * ``stride=2``: both branches see the whole input and halve the resolution: ``branch1`` is
      3x3 depthwise + 1x1, ``branch2`` as above; each gives ``out_ch // 2`` channels.

    The halves are concatenated and shuffled with 2 groups. ``branch1`` / ``branch2`` are flat
    Sequentials with torchvision's indices (``branch2.0`` 1x1 conv, ``.1`` BN, ``.2`` ReLU, ``.3``
    depthwise conv, ``.4`` BN, ``.5`` 1x1 conv, ``.6`` BN, ``.7`` ReLU), built from
    :class:`ConvNormAct` units unpacked into them. ``branch1`` is empty for stride 1.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int, norm_layer: NormFactory | None = nn.BatchNorm2d) -> None:
        super().__init__()
        in_ch = positive_int("in_ch", in_ch)
        out_ch = positive_int("out_ch", out_ch)
        stride = _stride_1_or_2(stride)
        if out_ch % 2:
            raise ValueError(f"out_ch must be even (two branches of out_ch // 2), got {out_ch}")
        if stride == 1 and in_ch != out_ch:
            raise ValueError(
                f"a stride-1 ShuffleV2Block splits its input in two halves, so in_ch must equal "
                f"out_ch; got in_ch={in_ch}, out_ch={out_ch}"
            )
        half = out_ch // 2
        if stride == 2:
            self.branch1 = nn.Sequential(
                *ConvNormAct(in_ch, in_ch, 3, 2, groups=in_ch, activation=None, norm_layer=norm_layer),
                *ConvNormAct(in_ch, half, 1, norm_layer=norm_layer),
            )
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            *ConvNormAct(in_ch if stride == 2 else half, half, 1, norm_layer=norm_layer),
            *ConvNormAct(half, half, 3, stride, groups=half, activation=None, norm_layer=norm_layer),
            *ConvNormAct(half, half, 1, norm_layer=norm_layer),
        )
        self.in_channels = in_ch
        self.out_channels = out_ch
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image_batch(x, self.in_channels, "ShuffleV2Block")
        if self.stride == 1:
            left, right = x.chunk(2, dim=1)
            out = torch.cat((left, self.branch2(right)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


# --------------------------------------------------------------------------------------------
# ResNet
# --------------------------------------------------------------------------------------------


def _downsample(in_ch: int, out_ch: int, stride: int, norm_layer: NormFactory) -> nn.Module | None:
    # A projection shortcut (1x1 conv + BN, keys downsample.0 / downsample.1) where the identity
    # would not fit: the resolution or the width changes.
    if stride == 1 and in_ch == out_ch:
        return None
    return ConvNormAct(in_ch, out_ch, 1, stride, activation=None, norm_layer=norm_layer)


class BasicBlock(nn.Module):
    """ResNet-18/34's block: two 3x3 convs and a shortcut (``out = relu(F(x) + shortcut(x))``).

    Output width is ``planes`` (``expansion = 1``). Keys as torchvision's: ``conv1``, ``bn1``,
    ``conv2``, ``bn2`` and, when the shape changes, ``downsample.0`` / ``downsample.1``.
    """

    expansion = 1

    def __init__(self, in_ch: int, planes: int, stride: int = 1, norm_layer: NormFactory = nn.BatchNorm2d) -> None:
        super().__init__()
        in_ch = positive_int("in_ch", in_ch)
        planes = positive_int("planes", planes)
        stride = _stride_1_or_2(stride)
        self.conv1 = nn.Conv2d(in_ch, planes, 3, stride, 1, bias=False)
        self.bn1 = _make_norm(norm_layer, planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = _make_norm(norm_layer, planes)
        self.downsample = _downsample(in_ch, planes, stride, norm_layer)
        self.in_channels, self.out_channels, self.stride = in_ch, planes, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    """ResNet-50's block: 1x1 reduce, 3x3 (carries the stride, as torchvision's "ResNet V1.5"),
    1x1 expand to ``4 * planes``, plus a shortcut.

    Keys as torchvision's: ``conv1..conv3``, ``bn1..bn3``, ``downsample.0`` / ``downsample.1``.
    """

    expansion = 4

    def __init__(self, in_ch: int, planes: int, stride: int = 1, norm_layer: NormFactory = nn.BatchNorm2d) -> None:
        super().__init__()
        in_ch = positive_int("in_ch", in_ch)
        planes = positive_int("planes", planes)
        stride = _stride_1_or_2(stride)
        out_ch = planes * self.expansion
        self.conv1 = nn.Conv2d(in_ch, planes, 1, bias=False)
        self.bn1 = _make_norm(norm_layer, planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = _make_norm(norm_layer, planes)
        self.conv3 = nn.Conv2d(planes, out_ch, 1, bias=False)
        self.bn3 = _make_norm(norm_layer, out_ch)
        self.relu = nn.ReLU()
        self.downsample = _downsample(in_ch, out_ch, stride, norm_layer)
        self.in_channels, self.out_channels, self.stride = in_ch, out_ch, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)
