"""MobileNet V2 (Sandler et al., 2018): inverted residuals with linear bottlenecks.

The network is the paper's Table 2, :data:`MOBILENET_V2_SETTINGS`: each row ``(t, c, n, s)`` is a
stage of ``n`` inverted residual blocks with expansion ``t`` and ``c`` output channels, the first
with stride ``s``. Layer names, parameter shapes, initialization and forward computation are
those of torchvision 0.28's ``mobilenet_v2`` (its checkpoints load with
:func:`mobilenet_lib.checkpoint.load_checkpoint`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from torch import nn

from mobilenet_lib.blocks import (
    ConvNormAct,
    InvertedResidual,
    NormFactory,
    make_divisible,
)
from mobilenet_lib.models.base import ImageClassifier, init_like_torchvision
from mobilenet_lib.validation import (
    factory,
    one_of,
    positive_float,
    positive_int,
    probability,
)

__all__ = [
    "V2Stage",
    "MOBILENET_V2_SETTINGS",
    "MOBILENET_V2_STEM_CHANNELS",
    "MOBILENET_V2_LAST_CHANNEL",
    "MobileNetV2",
    "mobilenet_v2",
]


class V2Stage(NamedTuple):
    """A row of MobileNet V2's Table 2."""

    expand_ratio: float  # t: expanded width = round(t * input width)
    out_channels: int  # c
    repeats: int  # n: blocks in the stage
    stride: int  # s: stride of the stage's first block (the others have stride 1)


#: The paper's Table 2 (and torchvision's ``inverted_residual_setting``). Input 224 -> 7x7x320.
MOBILENET_V2_SETTINGS: tuple[V2Stage, ...] = (
    V2Stage(1, 16, 1, 1),
    V2Stage(6, 24, 2, 2),
    V2Stage(6, 32, 3, 2),
    V2Stage(6, 64, 4, 2),
    V2Stage(6, 96, 3, 1),
    V2Stage(6, 160, 3, 2),
    V2Stage(6, 320, 1, 1),
)
#: Output channels of the 3x3 stride-2 stem convolution.
MOBILENET_V2_STEM_CHANNELS = 32
#: Output channels of the final 1x1 convolution (never reduced below this by width_mult < 1).
MOBILENET_V2_LAST_CHANNEL = 1280


def _check_settings(settings: Any) -> tuple[V2Stage, ...]:
    if isinstance(settings, (str, bytes)) or not isinstance(settings, Sequence):
        raise TypeError(f"inverted_residual_setting must be a sequence of (t, c, n, s) rows, got {type(settings).__name__}")
    if len(settings) == 0:
        raise ValueError("inverted_residual_setting must hold at least one (t, c, n, s) row")
    rows = []
    for i, row in enumerate(settings):
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence) or len(row) != 4:
            raise ValueError(f"inverted_residual_setting[{i}] must be a (t, c, n, s) row, got {row!r}")
        positive_float(f"inverted_residual_setting[{i}].t", row[0])  # t may be fractional, e.g. 2.5
        c, n, s = (positive_int(f"inverted_residual_setting[{i}].{k}", v) for k, v in zip("cns", row[1:]))
        one_of(f"inverted_residual_setting[{i}].s", s, (1, 2))
        rows.append(V2Stage(row[0], c, n, s))
    return tuple(rows)


class MobileNetV2(ImageClassifier):
    """MobileNet V2: ``features`` (stem, inverted residuals, 1x1 head conv), ``avgpool``,
    ``classifier`` (dropout, linear). Build it with :func:`mobilenet_v2`."""

    def __init__(
        self,
        settings: Sequence[V2Stage],
        width_mult: float,
        num_classes: int,
        dropout: float,
        round_nearest: int,
        in_channels: int,
        norm_layer: NormFactory,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.width_mult = width_mult
        self.settings = tuple(settings)
        bn = {"norm_layer": norm_layer}
        channels = make_divisible(MOBILENET_V2_STEM_CHANNELS * width_mult, round_nearest)
        self.num_features = make_divisible(MOBILENET_V2_LAST_CHANNEL * max(1.0, width_mult), round_nearest)
        features: list[nn.Module] = [ConvNormAct(in_channels, channels, 3, 2, activation=nn.ReLU6, **bn)]
        stride = 2
        for t, c, n, s in self.settings:
            out = make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                block_stride = s if i == 0 else 1
                features.append(InvertedResidual(channels, out, block_stride, expand_ratio=t, layout="v2", **bn))
                channels, stride = out, stride * block_stride
        features.append(ConvNormAct(channels, self.num_features, 1, activation=nn.ReLU6, **bn))
        self.features = nn.Sequential(*features)
        self.output_stride = stride
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.num_features, num_classes))
        init_like_torchvision(self)


def mobilenet_v2(
    width_mult: float = 1.0,
    num_classes: int = 1000,
    dropout: float = 0.2,
    inverted_residual_setting: Sequence[tuple[float, int, int, int]] | None = None,
    round_nearest: int = 8,
    in_channels: int = 3,
    norm_layer: NormFactory = nn.BatchNorm2d,
) -> MobileNetV2:
    """Build MobileNet V2 (torchvision-identical for the default arguments).

    Args:
        width_mult: scales every width as ``make_divisible(c * width_mult, round_nearest)``; the
            last conv keeps at least 1280 channels (``1280 * max(1, width_mult)``, the model's
            ``num_features``).
        num_classes: outputs of the classifier.
        dropout: dropout probability before the classifier.
        inverted_residual_setting: ``(t, c, n, s)`` rows; default :data:`MOBILENET_V2_SETTINGS`.
        round_nearest: channel counts are multiples of this (1 turns rounding off).
        in_channels: channels of the input images.
        norm_layer: the normalisation after every convolution (``nn.BatchNorm2d``).
    """
    return MobileNetV2(
        settings=MOBILENET_V2_SETTINGS
        if inverted_residual_setting is None
        else _check_settings(inverted_residual_setting),
        width_mult=positive_float("width_mult", width_mult),
        num_classes=positive_int("num_classes", num_classes),
        dropout=probability("dropout", dropout),
        round_nearest=positive_int("round_nearest", round_nearest),
        in_channels=positive_int("in_channels", in_channels),
        norm_layer=factory("norm_layer", norm_layer, allow_none=False),
    )
