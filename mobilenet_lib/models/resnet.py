"""ResNet-18 and ResNet-50 (He et al., 2016): the heavyweight baseline the book compares against.

Each network is a row of :data:`RESNET_CONFIGS` (block type and blocks per stage); four stages of
64, 128, 256 and 512 "planes" follow a 7x7 stride-2 stem and a max pool. Layer names, shapes,
initialization and forward computation are torchvision 0.28's (``stride`` on the 3x3 conv of the
bottleneck, the "ResNet V1.5" variant).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from mobilenet_lib.blocks import BasicBlock, Bottleneck, NormFactory
from mobilenet_lib.models.base import ImageClassifier
from mobilenet_lib.validation import factory, positive_int, probability

__all__ = ["ResNetConfig", "RESNET_CONFIGS", "RESNET_PLANES", "ResNet", "resnet18", "resnet50"]


class ResNetConfig(NamedTuple):
    block: type[BasicBlock] | type[Bottleneck]
    blocks_per_stage: tuple[int, int, int, int]


#: Blocks per stage (layer1..layer4) of the two networks the book uses.
RESNET_CONFIGS: dict[str, ResNetConfig] = {
    "resnet18": ResNetConfig(BasicBlock, (2, 2, 2, 2)),
    "resnet50": ResNetConfig(Bottleneck, (3, 4, 6, 3)),
}
#: "planes" of layer1..layer4 (a Bottleneck outputs 4x this).
RESNET_PLANES = (64, 128, 256, 512)


class ResNet(ImageClassifier):
    """ResNet: ``conv1``, ``bn1``, ``relu``, ``maxpool``, ``layer1``-``layer4``, ``avgpool``, ``fc``.

    The classifier keeps torchvision's name ``fc`` (``classifier`` refers to it); ``dropout`` > 0
    drops pooled features before it (torchvision has none).
    """

    layer1: nn.Sequential
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential

    def __init__(
        self, config: ResNetConfig, num_classes: int, in_channels: int, dropout: float, norm_layer: NormFactory
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.drop_rate = dropout
        # torchvision's flat names (conv1.weight, bn1.weight), so no ConvNormAct here.
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        channels, stride = 64, 4
        for i, (planes, n) in enumerate(zip(RESNET_PLANES, config.blocks_per_stage)):
            first_stride = 1 if i == 0 else 2
            blocks = [config.block(channels, planes, first_stride, norm_layer)]
            channels = planes * config.block.expansion
            blocks += [config.block(channels, planes, 1, norm_layer) for _ in range(n - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            stride *= first_stride
        self.output_stride = stride
        self.num_features = channels
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        # torchvision's init: Kaiming (fan_out, ReLU) convs, unit BN; the fc keeps PyTorch's default.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def classifier(self) -> nn.Module:  # type: ignore[override]
        return self.fc

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = torch.flatten(self.avgpool(x), 1)
        if self.drop_rate:
            x = nn.functional.dropout(x, self.drop_rate, self.training)
        return x if pre_logits else self.fc(x)


def _resnet(
    name: str, num_classes: int, dropout: float, in_channels: int, norm_layer: NormFactory
) -> ResNet:
    return ResNet(
        RESNET_CONFIGS[name],
        num_classes=positive_int("num_classes", num_classes),
        in_channels=positive_int("in_channels", in_channels),
        dropout=probability("dropout", dropout),
        norm_layer=factory("norm_layer", norm_layer, allow_none=False),
    )


def resnet18(
    num_classes: int = 1000, dropout: float = 0.0, in_channels: int = 3, norm_layer: NormFactory = nn.BatchNorm2d
) -> ResNet:
    """ResNet-18 (11.7M parameters, 1.8G mult-adds at 224), torchvision's layout."""
    return _resnet("resnet18", num_classes, dropout, in_channels, norm_layer)


def resnet50(
    num_classes: int = 1000, dropout: float = 0.0, in_channels: int = 3, norm_layer: NormFactory = nn.BatchNorm2d
) -> ResNet:
    """ResNet-50 (25.6M parameters, 4.1G mult-adds at 224), torchvision's layout."""
    return _resnet("resnet50", num_classes, dropout, in_channels, norm_layer)
