"""ShuffleNet V2 (Ma et al., 2018): channel split, two branches, concatenation, channel shuffle.

The network is the paper's Table 5, :data:`SHUFFLENET_V2_STAGES`: for each layer its number of
units and its output channels at the four width settings 0.5x, 1.0x, 1.5x and 2.0x. Each stage
starts with a stride-2 unit followed by stride-1 units. Layer names (``conv1``, ``stage2`` ..
``stage4``, ``conv5``, ``fc``), shapes, initialization (PyTorch's defaults) and forward
computation are torchvision 0.28's.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn

from mobilenet_lib.blocks import ConvNormAct, NormFactory, ShuffleV2Block
from mobilenet_lib.models.base import ImageClassifier
from mobilenet_lib.validation import factory, positive_int, probability

__all__ = [
    "ShuffleV2Stage",
    "SHUFFLENET_V2_WIDTHS",
    "SHUFFLENET_V2_STAGES",
    "ShuffleNetV2",
    "shufflenet_v2",
    "parse_shufflenet_width",
]

#: The four width settings of the paper, in the order of :attr:`ShuffleV2Stage.channels`.
SHUFFLENET_V2_WIDTHS: tuple[str, ...] = ("0.5x", "1.0x", "1.5x", "2.0x")


class ShuffleV2Stage(NamedTuple):
    """A row of ShuffleNet V2's Table 5."""

    name: str  # the layer's name in the model (conv1, stage2, stage3, stage4, conv5)
    repeats: int  # units in the stage (1 for the convolutions)
    stride: int  # stride of the layer (of its first unit, for a stage)
    channels: tuple[int, int, int, int]  # output channels at 0.5x, 1.0x, 1.5x, 2.0x


#: Table 5 of the paper (the 3x3 max pool after conv1 and the global pool have no parameters).
SHUFFLENET_V2_STAGES: tuple[ShuffleV2Stage, ...] = (
    ShuffleV2Stage("conv1", 1, 2, (24, 24, 24, 24)),
    ShuffleV2Stage("stage2", 4, 2, (48, 116, 176, 244)),
    ShuffleV2Stage("stage3", 8, 2, (96, 232, 352, 488)),
    ShuffleV2Stage("stage4", 4, 2, (192, 464, 704, 976)),
    ShuffleV2Stage("conv5", 1, 1, (1024, 1024, 1024, 2048)),
)


def parse_shufflenet_width(width: Any) -> str:
    """Normalize a width setting: ``"1.0x"``, ``"1x"``, ``"1.0"``, ``1`` and ``1.0`` all give ``"1.0x"``."""
    value: float | None = None
    if isinstance(width, str):
        text = width.strip().lower().removesuffix("x")
        try:
            value = float(text)
        except ValueError:
            value = None
    elif isinstance(width, (int, float)) and not isinstance(width, bool):
        value = float(width)
    else:
        raise TypeError(f"width_mult must be a number or a string such as '1.0x', got {type(width).__name__}")
    name = f"{value:.1f}x" if value is not None else None
    if name not in SHUFFLENET_V2_WIDTHS:
        raise ValueError(
            f"unknown ShuffleNet V2 width {width!r}; choose one of {', '.join(SHUFFLENET_V2_WIDTHS)} "
            "(or the numbers 0.5, 1.0, 1.5, 2.0)"
        )
    return name  # type: ignore[return-value]


class ShuffleNetV2(ImageClassifier):
    """ShuffleNet V2: ``conv1``, ``maxpool``, ``stage2``-``stage4``, ``conv5``, global mean, ``fc``.

    Build it with :func:`shufflenet_v2`. The classifier keeps torchvision's name ``fc``
    (``classifier`` refers to it); ``dropout`` > 0 drops pooled features before it.
    """

    stage2: nn.Sequential
    stage3: nn.Sequential
    stage4: nn.Sequential

    def __init__(self, width: str, num_classes: int, in_channels: int, dropout: float, norm_layer: NormFactory) -> None:
        super().__init__()
        self.width = width
        self.width_mult = float(width.removesuffix("x"))
        self.in_channels = in_channels
        self.drop_rate = dropout
        column = SHUFFLENET_V2_WIDTHS.index(width)
        rows = {row.name: row for row in SHUFFLENET_V2_STAGES}
        channels = rows["conv1"].channels[column]
        self.conv1 = ConvNormAct(in_channels, channels, 3, rows["conv1"].stride, norm_layer=norm_layer)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        stride = rows["conv1"].stride * 2
        for name in ("stage2", "stage3", "stage4"):
            row = rows[name]
            out = row.channels[column]
            units = [ShuffleV2Block(channels, out, row.stride, norm_layer)]
            units += [ShuffleV2Block(out, out, 1, norm_layer) for _ in range(row.repeats - 1)]
            setattr(self, name, nn.Sequential(*units))
            channels, stride = out, stride * row.stride
        self.conv5 = ConvNormAct(channels, rows["conv5"].channels[column], 1, norm_layer=norm_layer)
        self.output_stride = stride
        self.num_features = rows["conv5"].channels[column]
        self.fc = nn.Linear(self.num_features, num_classes)

    @property
    def classifier(self) -> nn.Module:  # type: ignore[override]
        return self.fc

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        return self.conv5(self.stage4(self.stage3(self.stage2(x))))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = x.mean([2, 3])  # global average pool, as torchvision's (no pooling module)
        if self.drop_rate:
            x = nn.functional.dropout(x, self.drop_rate, self.training)
        return x if pre_logits else self.fc(x)


def shufflenet_v2(
    width_mult: str | float = 1.0,
    num_classes: int = 1000,
    dropout: float = 0.0,
    in_channels: int = 3,
    norm_layer: NormFactory = nn.BatchNorm2d,
) -> ShuffleNetV2:
    """Build ShuffleNet V2 at one of the paper's widths: ``width_mult`` 0.5, 1.0, 1.5 or 2.0 (or
    the paper's names "0.5x" ... "2.0x"); the stage widths are the paper's Table 5, not a scaling.

    Torchvision-identical (``shufflenet_v2_x1_0`` etc.) for the defaults; weights keep PyTorch's
    default initialization, as torchvision's do. ``dropout`` (torchvision has none) drops pooled
    features before ``fc``.
    """
    return ShuffleNetV2(
        width=parse_shufflenet_width(width_mult),
        num_classes=positive_int("num_classes", num_classes),
        in_channels=positive_int("in_channels", in_channels),
        dropout=probability("dropout", dropout),
        norm_layer=factory("norm_layer", norm_layer, allow_none=False),
    )
