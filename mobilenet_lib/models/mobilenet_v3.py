"""MobileNet V3 (Howard et al., 2019): searched inverted residuals with SE and hard-swish.

The networks are the paper's Tables 1 (Large) and 2 (Small), :data:`MOBILENET_V3_LARGE_BNECK` and
:data:`MOBILENET_V3_SMALL_BNECK`: one row per "bneck" block with its depthwise kernel, expanded
width ("exp size"), output width, whether it has squeeze-and-excitation, its nonlinearity ("RE"
ReLU, "HS" hard-swish) and stride. Around them: a 16-filter 3x3 stride-2 stem with hard-swish, a
1x1 conv to 6x the last width, global pooling, and a two-layer classifier (Linear, Hardswish,
Dropout, Linear). Batch norm uses eps 0.001 and momentum 0.01, as torchvision's; layer names,
shapes, initialization and forward computation are torchvision 0.28's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import nn

from mobilenet_lib.blocks import ConvNormAct, InvertedResidual, make_divisible
from mobilenet_lib.models._common import (
    ImageClassifier,
    init_like_torchvision,
    positive_float,
    positive_int,
    probability,
)

__all__ = [
    "V3Bneck",
    "MOBILENET_V3_LARGE_BNECK",
    "MOBILENET_V3_SMALL_BNECK",
    "MOBILENET_V3_STEM_CHANNELS",
    "MOBILENET_V3_LARGE_LAST_CHANNEL",
    "MOBILENET_V3_SMALL_LAST_CHANNEL",
    "MOBILENET_V3_BN_EPS",
    "MOBILENET_V3_BN_MOMENTUM",
    "MobileNetV3",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
]


class V3Bneck(NamedTuple):
    """A row of MobileNet V3's Table 1 / Table 2 (one inverted residual block)."""

    kernel: int  # depthwise kernel size (3 or 5)
    expanded: int  # "exp size": width after the 1x1 expansion
    out_channels: int  # "#out"
    use_se: bool  # squeeze-and-excitation after the depthwise conv
    activation: str  # "NL": "RE" (ReLU) or "HS" (hard-swish)
    stride: int


_B = V3Bneck
#: Table 1 of the paper: MobileNetV3-Large. Input 224 -> 7x7x160.
MOBILENET_V3_LARGE_BNECK: tuple[V3Bneck, ...] = (
    _B(3, 16, 16, False, "RE", 1),
    _B(3, 64, 24, False, "RE", 2),
    _B(3, 72, 24, False, "RE", 1),
    _B(5, 72, 40, True, "RE", 2),
    _B(5, 120, 40, True, "RE", 1),
    _B(5, 120, 40, True, "RE", 1),
    _B(3, 240, 80, False, "HS", 2),
    _B(3, 200, 80, False, "HS", 1),
    _B(3, 184, 80, False, "HS", 1),
    _B(3, 184, 80, False, "HS", 1),
    _B(3, 480, 112, True, "HS", 1),
    _B(3, 672, 112, True, "HS", 1),
    _B(5, 672, 160, True, "HS", 2),
    _B(5, 960, 160, True, "HS", 1),
    _B(5, 960, 160, True, "HS", 1),
)
#: Table 2 of the paper: MobileNetV3-Small. Input 224 -> 7x7x96.
MOBILENET_V3_SMALL_BNECK: tuple[V3Bneck, ...] = (
    _B(3, 16, 16, True, "RE", 2),
    _B(3, 72, 24, False, "RE", 2),
    _B(3, 88, 24, False, "RE", 1),
    _B(5, 96, 40, True, "HS", 2),
    _B(5, 240, 40, True, "HS", 1),
    _B(5, 240, 40, True, "HS", 1),
    _B(5, 120, 48, True, "HS", 1),
    _B(5, 144, 48, True, "HS", 1),
    _B(5, 288, 96, True, "HS", 2),
    _B(5, 576, 96, True, "HS", 1),
    _B(5, 576, 96, True, "HS", 1),
)
del _B

#: Output channels of the stem (the paper's "16 filters").
MOBILENET_V3_STEM_CHANNELS = 16
#: Width of the classifier's hidden layer.
MOBILENET_V3_LARGE_LAST_CHANNEL = 1280
MOBILENET_V3_SMALL_LAST_CHANNEL = 1024
#: Batch-norm settings of the reference (TensorFlow's defaults, kept by torchvision).
MOBILENET_V3_BN_EPS = 0.001
MOBILENET_V3_BN_MOMENTUM = 0.01

_ACTIVATIONS: dict[str, type[nn.Module]] = {"RE": nn.ReLU, "HS": nn.Hardswish}


def _check_bneck(rows: Any) -> tuple[V3Bneck, ...]:
    if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence) or len(rows) == 0:
        raise ValueError(f"bneck must be a non-empty sequence of V3Bneck rows, got {rows!r}")
    checked = []
    for i, row in enumerate(rows):
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence) or len(row) != 6:
            raise ValueError(
                f"bneck[{i}] must be a (kernel, expanded, out_channels, use_se, activation, stride) row, got {row!r}"
            )
        k, exp, out, se, act, s = row
        k, exp, out, s = (positive_int(f"bneck[{i}].{n}", v) for n, v in
                          (("kernel", k), ("expanded", exp), ("out_channels", out), ("stride", s)))
        if s not in (1, 2):
            raise ValueError(f"bneck[{i}].stride must be 1 or 2, got {s}")
        if not isinstance(se, bool):
            raise ValueError(f"bneck[{i}].use_se must be True or False, got {se!r}")
        if act not in _ACTIVATIONS:
            raise ValueError(f"bneck[{i}].activation must be one of {sorted(_ACTIVATIONS)}, got {act!r}")
        checked.append(V3Bneck(k, exp, out, se, act, s))
    return tuple(checked)


class MobileNetV3(ImageClassifier):
    """MobileNet V3: ``features`` (stem, bnecks, 1x1 conv), ``avgpool``, ``classifier``.

    Build it with :func:`mobilenet_v3_large` or :func:`mobilenet_v3_small`.
    """

    def __init__(
        self,
        bneck: Sequence[V3Bneck],
        last_channel: int,
        width_mult: float,
        num_classes: int,
        dropout: float,
        in_channels: int,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.width_mult = width_mult
        self.bneck = tuple(bneck)
        bn = {"bn_eps": MOBILENET_V3_BN_EPS, "bn_momentum": MOBILENET_V3_BN_MOMENTUM}

        def adjust(c: int) -> int:
            return make_divisible(c * width_mult, 8)

        channels = adjust(MOBILENET_V3_STEM_CHANNELS)
        features: list[nn.Module] = [ConvNormAct(in_channels, channels, 3, 2, activation=nn.Hardswish, **bn)]
        stride = 2
        for row in self.bneck:
            out = adjust(row.out_channels)
            features.append(
                InvertedResidual(
                    channels,
                    out,
                    row.stride,
                    expanded_ch=adjust(row.expanded),
                    kernel_size=row.kernel,
                    use_se=row.use_se,
                    activation=_ACTIVATIONS[row.activation],
                    layout="v3",
                    **bn,
                )
            )
            channels, stride = out, stride * row.stride
        head = 6 * channels  # the paper's last conv: 6x the last block's width (not rounded)
        features.append(ConvNormAct(channels, head, 1, activation=nn.Hardswish, **bn))
        self.features = nn.Sequential(*features)
        self.output_stride = stride
        self.last_channel = adjust(last_channel)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(head, self.last_channel),
            nn.Hardswish(),
            nn.Dropout(dropout),
            nn.Linear(self.last_channel, num_classes),
        )
        init_like_torchvision(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def _build(
    default_bneck: tuple[V3Bneck, ...],
    last_channel: int,
    width_mult: float,
    num_classes: int,
    dropout: float,
    bneck: Sequence[V3Bneck] | None,
    in_channels: int,
) -> MobileNetV3:
    return MobileNetV3(
        bneck=default_bneck if bneck is None else _check_bneck(bneck),
        last_channel=last_channel,
        width_mult=positive_float("width_mult", width_mult),
        num_classes=positive_int("num_classes", num_classes),
        dropout=probability("dropout", dropout),
        in_channels=positive_int("in_channels", in_channels),
    )


def mobilenet_v3_large(
    width_mult: float = 1.0,
    num_classes: int = 1000,
    dropout: float = 0.2,
    bneck: Sequence[V3Bneck] | None = None,
    in_channels: int = 3,
) -> MobileNetV3:
    """MobileNetV3-Large (torchvision-identical for the default arguments).

    ``width_mult`` scales every width as ``make_divisible(c * width_mult, 8)``; ``bneck`` replaces
    the table :data:`MOBILENET_V3_LARGE_BNECK` (e.g. fewer stride-2 rows for small images).
    """
    return _build(MOBILENET_V3_LARGE_BNECK, MOBILENET_V3_LARGE_LAST_CHANNEL, width_mult, num_classes,
                  dropout, bneck, in_channels)


def mobilenet_v3_small(
    width_mult: float = 1.0,
    num_classes: int = 1000,
    dropout: float = 0.2,
    bneck: Sequence[V3Bneck] | None = None,
    in_channels: int = 3,
) -> MobileNetV3:
    """MobileNetV3-Small (torchvision-identical for the default arguments); see
    :func:`mobilenet_v3_large` for the arguments. Default table :data:`MOBILENET_V3_SMALL_BNECK`."""
    return _build(MOBILENET_V3_SMALL_BNECK, MOBILENET_V3_SMALL_LAST_CHANNEL, width_mult, num_classes,
                  dropout, bneck, in_channels)
