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

from mobilenet_lib.blocks import ConvNormAct, ShuffleV2Block
from mobilenet_lib.models._common import ImageClassifier, positive_int

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
    name = f"{value:.1f}x" if value is not None else None
    if name not in SHUFFLENET_V2_WIDTHS:
        raise ValueError(
            f"unknown ShuffleNet V2 width {width!r}; choose one of {', '.join(SHUFFLENET_V2_WIDTHS)} "
            "(or the numbers 0.5, 1.0, 1.5, 2.0)"
        )
    return name  # type: ignore[return-value]


class ShuffleNetV2(ImageClassifier):
    """ShuffleNet V2: ``conv1``, ``maxpool``, ``stage2``-``stage4``, ``conv5``, global mean, ``fc``.

    Build it with :func:`shufflenet_v2`.
    """

    stage2: nn.Sequential
    stage3: nn.Sequential
    stage4: nn.Sequential

    def __init__(self, width: str, num_classes: int, in_channels: int) -> None:
        super().__init__()
        self.width = width
        self.in_channels = in_channels
        column = SHUFFLENET_V2_WIDTHS.index(width)
        rows = {row.name: row for row in SHUFFLENET_V2_STAGES}
        channels = rows["conv1"].channels[column]
        self.conv1 = ConvNormAct(in_channels, channels, 3, rows["conv1"].stride)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        stride = rows["conv1"].stride * 2
        for name in ("stage2", "stage3", "stage4"):
            row = rows[name]
            out = row.channels[column]
            units = [ShuffleV2Block(channels, out, row.stride)]
            units += [ShuffleV2Block(out, out, 1) for _ in range(row.repeats - 1)]
            setattr(self, name, nn.Sequential(*units))
            channels, stride = out, stride * row.stride
        self.conv5 = ConvNormAct(channels, rows["conv5"].channels[column], 1)
        self.output_stride = stride
        self.num_features = rows["conv5"].channels[column]
        self.fc = nn.Linear(self.num_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.maxpool(self.conv1(x))
        x = self.stage4(self.stage3(self.stage2(x)))
        x = self.conv5(x).mean([2, 3])  # global average pool
        return self.fc(x)


def shufflenet_v2(width: str | float = "1.0x", num_classes: int = 1000, in_channels: int = 3) -> ShuffleNetV2:
    """Build ShuffleNet V2 at one of the paper's widths ("0.5x", "1.0x", "1.5x", "2.0x").

    Torchvision-identical (``shufflenet_v2_x1_0`` etc.) for 3 input channels; weights keep
    PyTorch's default initialization, as torchvision's do.
    """
    return ShuffleNetV2(
        width=parse_shufflenet_width(width),
        num_classes=positive_int("num_classes", num_classes),
        in_channels=positive_int("in_channels", in_channels),
    )
