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
from functools import partial
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
    flag,
    odd_kernel,
    one_of,
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
    "MOBILENET_V3_NORM",
    "MOBILENET_V3_VARIANTS",
    "v3_table",
    "check_bneck",
    "efficient_head",
    "MobileNetV3",
    "mobilenet_v3",
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
#: Width of the classifier's hidden layer (computed on the pooled vector).
MOBILENET_V3_LARGE_LAST_CHANNEL = 1280
MOBILENET_V3_SMALL_LAST_CHANNEL = 1024
#: Batch-norm settings of the reference (TensorFlow's defaults, kept by torchvision).
MOBILENET_V3_BN_EPS = 0.001
MOBILENET_V3_BN_MOMENTUM = 0.01
#: The normalisation of every V3 unit, as a :data:`~mobilenet_lib.blocks.NormFactory`.
MOBILENET_V3_NORM = partial(nn.BatchNorm2d, eps=MOBILENET_V3_BN_EPS, momentum=MOBILENET_V3_BN_MOMENTUM)
#: The two networks: variant -> (bneck table, hidden width of the classifier).
MOBILENET_V3_VARIANTS: dict[str, tuple[tuple[V3Bneck, ...], int]] = {
    "large": (MOBILENET_V3_LARGE_BNECK, MOBILENET_V3_LARGE_LAST_CHANNEL),
    "small": (MOBILENET_V3_SMALL_BNECK, MOBILENET_V3_SMALL_LAST_CHANNEL),
}

_ACTIVATIONS: dict[str, type[nn.Module]] = {"RE": nn.ReLU, "HS": nn.Hardswish}


def v3_table(variant: str) -> tuple[V3Bneck, ...]:
    """The bneck table of ``"large"`` or ``"small"``."""
    return MOBILENET_V3_VARIANTS[one_of("variant", variant, MOBILENET_V3_VARIANTS)][0]


def check_bneck(rows: Any) -> tuple[V3Bneck, ...]:
    """``rows`` as a tuple of :class:`V3Bneck`, each field checked (``TypeError``/``ValueError``)."""
    if isinstance(rows, (str, bytes)) or not isinstance(rows, Sequence):
        raise TypeError(f"bneck must be a sequence of V3Bneck rows, got {type(rows).__name__}")
    if len(rows) == 0:
        raise ValueError("bneck must hold at least one row")
    checked = []
    for i, row in enumerate(rows):
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence) or len(row) != 6:
            raise ValueError(
                f"bneck[{i}] must be a (kernel, expanded, out_channels, use_se, activation, stride) row, got {row!r}"
            )
        k, exp, out, se, act, s = row
        k = odd_kernel(f"bneck[{i}].kernel", k)
        exp, out = positive_int(f"bneck[{i}].expanded", exp), positive_int(f"bneck[{i}].out_channels", out)
        s = one_of(f"bneck[{i}].stride", positive_int(f"bneck[{i}].stride", s), (1, 2))
        se = flag(f"bneck[{i}].use_se", se)
        one_of(f"bneck[{i}].activation", act, _ACTIVATIONS)
        checked.append(V3Bneck(k, exp, out, se, act, s))
    return tuple(checked)


def efficient_head(
    in_ch: int,
    head_ch: int,
    hidden: int,
    num_classes: int,
    dropout: float = 0.0,
    norm_layer: NormFactory = MOBILENET_V3_NORM,
) -> tuple[ConvNormAct, nn.Sequential]:
    """V3's efficient last stage (paper section 5.1): a 1x1 conv ``in_ch -> head_ch`` (norm,
    h-swish) on the feature map, and the classifier that runs on the *pooled* vector:
    Linear ``head_ch -> hidden``, h-swish, dropout, Linear ``hidden -> num_classes`` (no norm:
    the paper's "NBN" rows). The model pools between the two."""
    conv = ConvNormAct(in_ch, head_ch, 1, activation=nn.Hardswish, norm_layer=norm_layer)
    classifier = nn.Sequential(
        nn.Linear(head_ch, hidden),
        nn.Hardswish(),
        nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),
    )
    return conv, classifier


class MobileNetV3(ImageClassifier):
    """MobileNet V3: ``features`` (stem, bnecks, 1x1 conv), ``avgpool``, ``classifier``.

    Build it with :func:`mobilenet_v3` (or :func:`mobilenet_v3_large` / :func:`mobilenet_v3_small`).
    ``num_features`` is the width of the last 1x1 conv (6x the last bneck's output), ``hidden``
    that of the classifier's first layer.
    """

    def __init__(
        self,
        bneck: Sequence[V3Bneck],
        last_channel: int,
        width_mult: float,
        num_classes: int,
        dropout: float,
        in_channels: int,
        round_nearest: int,
        norm_layer: NormFactory,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.width_mult = width_mult
        self.bneck = tuple(bneck)
        bn = {"norm_layer": norm_layer}

        def adjust(c: int) -> int:
            return make_divisible(c * width_mult, round_nearest)

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
        self.num_features = 6 * channels  # the paper's last conv: 6x the last block's width (not rounded)
        self.hidden = adjust(last_channel)
        conv_head, classifier = efficient_head(channels, self.num_features, self.hidden, num_classes, dropout, norm_layer)
        features.append(conv_head)
        # assigned in torchvision's order, so state_dict keys come in its order too
        self.features = nn.Sequential(*features)
        self.output_stride = stride
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = classifier
        init_like_torchvision(self)


def mobilenet_v3(
    variant: str = "large",
    width_mult: float = 1.0,
    num_classes: int = 1000,
    dropout: float = 0.2,
    bneck: Sequence[V3Bneck] | None = None,
    in_channels: int = 3,
    round_nearest: int = 8,
    norm_layer: NormFactory = MOBILENET_V3_NORM,
) -> MobileNetV3:
    """MobileNetV3-Large or -Small (torchvision-identical for the default arguments).

    Args:
        variant: ``"large"`` (the paper's Table 1) or ``"small"`` (Table 2).
        width_mult: scales every width as ``make_divisible(c * width_mult, round_nearest)``.
        num_classes, dropout: of the classifier (dropout before its last layer).
        bneck: replaces the variant's table (e.g. fewer stride-2 rows for small images).
        in_channels: channels of the input images.
        round_nearest: channel counts are multiples of this (8, as the reference).
        norm_layer: the normalisation of every unit (:data:`MOBILENET_V3_NORM`).
    """
    table, last_channel = MOBILENET_V3_VARIANTS[one_of("variant", variant, MOBILENET_V3_VARIANTS)]
    return MobileNetV3(
        bneck=table if bneck is None else check_bneck(bneck),
        last_channel=last_channel,
        width_mult=positive_float("width_mult", width_mult),
        num_classes=positive_int("num_classes", num_classes),
        dropout=probability("dropout", dropout),
        in_channels=positive_int("in_channels", in_channels),
        round_nearest=positive_int("round_nearest", round_nearest),
        norm_layer=factory("norm_layer", norm_layer, allow_none=False),
    )


def mobilenet_v3_large(**kwargs: Any) -> MobileNetV3:
    """MobileNetV3-Large: :func:`mobilenet_v3` with ``variant="large"`` (same keyword arguments)."""
    return mobilenet_v3("large", **kwargs)


def mobilenet_v3_small(**kwargs: Any) -> MobileNetV3:
    """MobileNetV3-Small: :func:`mobilenet_v3` with ``variant="small"`` (same keyword arguments)."""
    return mobilenet_v3("small", **kwargs)
