"""ShuffleNet V1 (Zhang et al., 2018): 1x1 group convolutions, channel shuffle, depthwise 3x3.

The network is the paper's Table 1, :data:`SHUFFLENET_V1_STAGES`: for each layer its number of
units, its stride and its output channels for each of the five group counts g = 1, 2, 3, 4, 8
(:data:`SHUFFLENET_V1_GROUPS`), at the width the paper calls "ShuffleNet 1x". A 3x3 convolution
(24 channels, stride 2) and a 3x3 max pool (stride 2) open the network; stages 2, 3 and 4 repeat
4, 8 and 4 :class:`~mobilenet_lib.blocks.ShuffleV1Block` units, the first of each with stride 2
(average-pool shortcut, concatenation); global average pooling and a fully connected layer close
it. Every unit's bottleneck is a quarter of its output width, and the first 1x1 convolution of
stage 2 is not grouped: its input has only 24 channels.

**The width multiplier s.** "ShuffleNet s x" scales the number of filters of ShuffleNet 1x by s
(the paper's 0.5x and 0.25x, and 1.5x / 2x in its Table 5). Here every stage width becomes
``s * width`` rounded to the nearest multiple of ``4 * g`` (:func:`shufflenet_v1_widths`), so
that the bottleneck (a quarter of it) still splits into g groups, and the first convolution's
24 channels become ``24 * s`` rounded to a multiple of g; at s = 1 that leaves the table's
widths unchanged. The rule gives the official code's widths at 0.5x (12 or 16 channels in conv1,
120 / 240 / 480 for g = 3) and 2x (48 in conv1); that code keeps 24 at 1.5x, where this rule
gives 36.

Layer names: ``conv1``, ``maxpool``, ``stage2`` .. ``stage4``, ``avgpool``, ``classifier``
(dropout and the linear layer), as in the other models of the library.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn

from mobilenet_lib.blocks import ConvNormAct, NormFactory, ShuffleV1Block, make_divisible
from mobilenet_lib.models.base import ImageClassifier, init_like_torchvision
from mobilenet_lib.validation import factory, one_of, positive_float, positive_int, probability

__all__ = [
    "ShuffleV1Stage",
    "SHUFFLENET_V1_GROUPS",
    "SHUFFLENET_V1_STAGES",
    "SHUFFLENET_V1_COMPLEXITY",
    "ShuffleNetV1",
    "shufflenet_v1",
    "shufflenet_v1_widths",
]

#: The group counts of the paper's Table 1, in the order of :attr:`ShuffleV1Stage.channels`.
SHUFFLENET_V1_GROUPS: tuple[int, ...] = (1, 2, 3, 4, 8)


class ShuffleV1Stage(NamedTuple):
    """A row of ShuffleNet V1's Table 1."""

    name: str  # the layer's name in the model (conv1, stage2, stage3, stage4)
    repeats: int  # units in the stage (1 for the convolution)
    stride: int  # stride of the layer (of its first unit, for a stage)
    channels: tuple[int, int, int, int, int]  # output channels at 1x for g = 1, 2, 3, 4, 8


#: Table 1 of the paper at 1x (the 3x3 max pool after conv1 and the global pool have no
#: parameters; the classifier maps the last width to the classes).
SHUFFLENET_V1_STAGES: tuple[ShuffleV1Stage, ...] = (
    ShuffleV1Stage("conv1", 1, 2, (24, 24, 24, 24, 24)),
    ShuffleV1Stage("stage2", 4, 2, (144, 200, 240, 272, 384)),
    ShuffleV1Stage("stage3", 8, 2, (288, 400, 480, 544, 768)),
    ShuffleV1Stage("stage4", 4, 2, (576, 800, 960, 1088, 1536)),
)

#: The "Complexity" row of Table 1: the paper's mult-adds ("FLOPs") of ShuffleNet 1x at 224x224,
#: in millions, per group count.
SHUFFLENET_V1_COMPLEXITY: dict[int, int] = {1: 143, 2: 140, 3: 137, 4: 133, 8: 137}


def _check_groups(groups: Any) -> int:
    return one_of("groups", positive_int("groups", groups), SHUFFLENET_V1_GROUPS)


def shufflenet_v1_widths(groups: int = 3, width_mult: float = 1.0) -> dict[str, int]:
    """Output width of ``conv1`` and of each stage for ``groups`` and the width multiplier s.

    Stage widths are ``s * width`` (Table 1's width at 1x) rounded to the nearest multiple of
    ``4 * groups`` (with :func:`~mobilenet_lib.blocks.make_divisible`, which never loses more than
    10 %): the bottleneck, a quarter of the width, must split into ``groups`` groups. ``conv1``'s
    24 channels become ``24 * s`` rounded to a multiple of ``groups`` (the branch of stage 2's
    first unit, stage width minus conv1's, must split into groups too).

    >>> shufflenet_v1_widths(3, 0.5)
    {'conv1': 12, 'stage2': 120, 'stage3': 240, 'stage4': 480}

    Raises ``TypeError`` / ``ValueError`` (naming the argument) for a group count outside
    1, 2, 3, 4, 8 or a width multiplier that is not a positive number.
    """
    groups = _check_groups(groups)
    width_mult = positive_float("width_mult", width_mult)
    column = SHUFFLENET_V1_GROUPS.index(groups)
    widths: dict[str, int] = {}
    for row in SHUFFLENET_V1_STAGES:
        divisor = groups if row.name == "conv1" else 4 * groups
        widths[row.name] = make_divisible(width_mult * row.channels[column], divisor)
    # At least 4g wide and about six times conv1's width (at least g), stage 2 is always wider
    # than conv1, as the concatenation of its first unit needs.
    return widths


class ShuffleNetV1(ImageClassifier):
    """ShuffleNet V1: ``conv1``, ``maxpool``, ``stage2``-``stage4``, ``avgpool``, ``classifier``.

    Build it with :func:`shufflenet_v1`. ``groups`` and ``width_mult`` record the setting;
    ``widths`` holds the output width of conv1 and of each stage.
    """

    stage2: nn.Sequential
    stage3: nn.Sequential
    stage4: nn.Sequential

    def __init__(
        self,
        groups: int,
        width_mult: float,
        num_classes: int,
        dropout: float,
        in_channels: int,
        norm_layer: NormFactory,
    ) -> None:
        super().__init__()
        self.groups = groups
        self.width_mult = width_mult
        self.in_channels = in_channels
        self.widths = shufflenet_v1_widths(groups, width_mult)
        rows = {row.name: row for row in SHUFFLENET_V1_STAGES}
        channels = self.widths["conv1"]
        self.conv1 = ConvNormAct(in_channels, channels, 3, rows["conv1"].stride, norm_layer=norm_layer)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        stride = rows["conv1"].stride * 2
        for name in ("stage2", "stage3", "stage4"):
            row, out = rows[name], self.widths[name]
            units = []
            for i in range(row.repeats):
                units.append(
                    ShuffleV1Block(
                        channels,
                        out,
                        row.stride if i == 0 else 1,
                        groups,
                        group_first=not (name == "stage2" and i == 0),  # 24 input channels: dense
                        norm_layer=norm_layer,
                    )
                )
                channels = out
            setattr(self, name, nn.Sequential(*units))
            stride *= row.stride
        self.output_stride = stride
        self.num_features = channels
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(channels, num_classes))
        init_like_torchvision(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        return self.stage4(self.stage3(self.stage2(x)))

    def extra_repr(self) -> str:
        return f"groups={self.groups}, width_mult={self.width_mult:g}"


def shufflenet_v1(
    groups: int = 3,
    width_mult: float = 1.0,
    num_classes: int = 1000,
    dropout: float = 0.0,
    in_channels: int = 3,
    norm_layer: NormFactory = nn.BatchNorm2d,
) -> ShuffleNetV1:
    """Build ShuffleNet V1 with ``groups`` (1, 2, 3, 4 or 8) at the width multiplier s = ``width_mult``.

    At ``width_mult=1.0`` the stage widths are the paper's Table 1; other multipliers scale them
    (see :func:`shufflenet_v1_widths`: 0.5 and 0.25 are the paper's 0.5x and 0.25x). Weights are
    initialized as :func:`~mobilenet_lib.models.base.init_like_torchvision` does, from PyTorch's
    global generator. ``dropout`` drops pooled features before the classifier.

    Raises ``TypeError`` for an argument of the wrong type and ``ValueError`` for a wrong value,
    naming the argument (``groups`` outside 1, 2, 3, 4, 8; a non-positive ``width_mult`` ...).
    """
    return ShuffleNetV1(
        groups=_check_groups(groups),
        width_mult=positive_float("width_mult", width_mult),
        num_classes=positive_int("num_classes", num_classes),
        dropout=probability("dropout", dropout),
        in_channels=positive_int("in_channels", in_channels),
        norm_layer=factory("norm_layer", norm_layer, allow_none=False),
    )
