"""MobileNet V1 (Howard et al., 2017): a 3x3 stem conv and 13 depthwise separable blocks.

The body of the network is the table :data:`MOBILENET_V1_LAYERS` (the paper's Table 1, one row per
separable block: output channels and the stride of its depthwise conv); :func:`mobilenet_v1` turns
a table into a network. Counting the stem, the 13 depthwise and 13 pointwise convolutions and the
final fully connected layer gives the paper's 28 layers.

Channel counts follow the reference implementation: ``int(c * width_mult)``, no rounding to a
multiple of 8 (so 0.75 gives 24, 48, 96, ... and the paper's 2.6M parameters).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from torch import nn

from mobilenet_lib.blocks import (
    ActivationFactory,
    ConvNormAct,
    DepthwiseSeparableConv,
    NormFactory,
)
from mobilenet_lib.models.base import ImageClassifier, init_like_torchvision
from mobilenet_lib.validation import (
    factory,
    flag,
    one_of,
    positive_float,
    positive_int,
    probability,
)

__all__ = ["V1Layer", "MOBILENET_V1_STEM", "MOBILENET_V1_LAYERS", "MobileNetV1", "mobilenet_v1"]


class V1Layer(NamedTuple):
    """One row of MobileNet V1's table: a layer's output channels and stride."""

    out_channels: int
    stride: int


#: The full 3x3 convolution that opens the network (3 -> 32 channels, stride 2).
MOBILENET_V1_STEM = V1Layer(32, 2)

#: The 13 depthwise separable blocks (the paper's Table 1). Input 224 -> 7x7x1024.
MOBILENET_V1_LAYERS: tuple[V1Layer, ...] = (
    V1Layer(64, 1),
    V1Layer(128, 2),
    V1Layer(128, 1),
    V1Layer(256, 2),
    V1Layer(256, 1),
    V1Layer(512, 2),
    V1Layer(512, 1),
    V1Layer(512, 1),
    V1Layer(512, 1),
    V1Layer(512, 1),
    V1Layer(512, 1),
    V1Layer(1024, 2),
    V1Layer(1024, 1),
)


def _check_layers(layers: Any) -> tuple[V1Layer, ...]:
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be a sequence of (out_channels, stride) rows, got {type(layers).__name__}")
    if len(layers) == 0:
        raise ValueError("layers must hold at least one (out_channels, stride) row")
    rows = []
    for i, row in enumerate(layers):
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence) or len(row) != 2:
            raise ValueError(f"layers[{i}] must be an (out_channels, stride) pair, got {row!r}")
        out, stride = positive_int(f"layers[{i}].out_channels", row[0]), positive_int(f"layers[{i}].stride", row[1])
        one_of(f"layers[{i}].stride", stride, (1, 2))
        rows.append(V1Layer(out, stride))
    return tuple(rows)


def _scaled(channels: int, width_mult: float, where: str) -> int:
    scaled = int(channels * width_mult)
    if scaled < 1:
        raise ValueError(
            f"width_mult={width_mult} leaves {where} with no channels (int({channels} * {width_mult}) = 0)"
        )
    return scaled


class MobileNetV1(ImageClassifier):
    """MobileNet V1: ``features`` (stem + blocks), ``avgpool``, ``classifier`` (dropout, linear).

    Build it with :func:`mobilenet_v1`.
    """

    def __init__(
        self,
        layers: Sequence[V1Layer],
        width_mult: float,
        num_classes: int,
        dropout: float,
        full_conv: bool,
        in_channels: int,
        activation: ActivationFactory,
        norm_layer: NormFactory,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.width_mult = width_mult
        self.layers = tuple(layers)
        channels = _scaled(MOBILENET_V1_STEM.out_channels, width_mult, "the stem")
        features: list[nn.Module] = [
            ConvNormAct(in_channels, channels, 3, MOBILENET_V1_STEM.stride, activation=activation, norm_layer=norm_layer)
        ]
        stride = MOBILENET_V1_STEM.stride
        for i, (out, s) in enumerate(self.layers):
            out = _scaled(out, width_mult, f"layers[{i}]")
            if full_conv:  # the paper's Table 4 baseline: a full 3x3 conv where the block would be
                features.append(ConvNormAct(channels, out, 3, s, activation=activation, norm_layer=norm_layer))
            else:
                features.append(DepthwiseSeparableConv(channels, out, s, activation=activation, norm_layer=norm_layer))
            channels, stride = out, stride * s
        self.features = nn.Sequential(*features)
        self.output_stride = stride
        self.num_features = channels
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(channels, num_classes))
        init_like_torchvision(self)


def mobilenet_v1(
    width_mult: float = 1.0,
    num_classes: int = 1000,
    dropout: float = 0.0,
    layers: Sequence[tuple[int, int]] | None = None,
    full_conv: bool = False,
    in_channels: int = 3,
    activation: ActivationFactory = nn.ReLU,
    norm_layer: NormFactory = nn.BatchNorm2d,
) -> MobileNetV1:
    """Build MobileNet V1 from a table.

    Args:
        width_mult: the paper's width multiplier alpha; every layer gets ``int(c * alpha)`` channels.
        num_classes: outputs of the final linear layer.
        dropout: dropout probability before the classifier (the paper uses none).
        layers: the separable blocks as ``(out_channels, stride)`` rows; default
            :data:`MOBILENET_V1_LAYERS`. Pass fewer stride-2 rows for small images (e.g. 32x32).
        full_conv: replace every separable block by a full 3x3 :class:`ConvNormAct` (the paper's
            "Conv MobileNet" of Table 4: 29.3M parameters, 4866M mult-adds).
        in_channels: channels of the input images (3 for RGB, 1 for grey).
        activation: after every batch norm (``nn.ReLU``; TF-slim's reference uses ``nn.ReLU6``).
        norm_layer: the normalisation after every convolution (``nn.BatchNorm2d``).

    Any resolution of at least the total stride (32 for the default table) works: the network
    ends with adaptive average pooling.
    """
    width_mult = positive_float("width_mult", width_mult)
    return MobileNetV1(
        layers=MOBILENET_V1_LAYERS if layers is None else _check_layers(layers),
        width_mult=width_mult,
        num_classes=positive_int("num_classes", num_classes),
        dropout=probability("dropout", dropout),
        full_conv=flag("full_conv", full_conv),
        in_channels=positive_int("in_channels", in_channels),
        activation=factory("activation", activation, allow_none=False),
        norm_layer=factory("norm_layer", norm_layer, allow_none=False),
    )
