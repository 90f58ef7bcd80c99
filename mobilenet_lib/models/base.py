"""What every model here shares: one forward, the input check and the reference weight init.

:class:`ImageClassifier` splits a network the way timm does, so that every model can be used as
a feature extractor or a classifier in the same way:

- ``forward_features(x)``: the image batch through the convolutional body, a ``(N, C, h, w)`` map
  of ``num_features`` channels;
- ``forward_head(x, pre_logits=False)``: global average pooling, then the classifier
  (``pre_logits=True`` stops before it and returns the pooled ``(N, num_features)`` vector);
- ``forward(x)``: the input check, then the two above.

A model provides ``features`` (its body) or overrides ``forward_features``, and provides
``avgpool`` and ``classifier``; everything else is written once, here.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mobilenet_lib.blocks import check_image_batch, is_traced

__all__ = ["ImageClassifier", "init_like_torchvision"]


class ImageClassifier(nn.Module):
    """Base class of the book's networks: one forward, and a check of every input.

    Subclasses set ``in_channels`` (image channels), ``output_stride`` (the product of all the
    network's strides, e.g. 32) and ``num_features`` (channels of ``forward_features``' output,
    the width the head pools). An input smaller than ``output_stride`` in height or width is
    rejected: the stride-2 layers would already be working on 1x1 maps and the network would not
    be the network the table describes. Pass a table with fewer stride-2 rows for small images.
    """

    in_channels: int
    output_stride: int
    num_features: int
    features: nn.Module
    avgpool: nn.Module
    classifier: nn.Module

    @property
    def min_input_size(self) -> int:
        """The smallest height and width this network accepts (its ``output_stride``)."""
        return self.output_stride

    def check_input(self, x: Any) -> None:
        """Raise unless ``x`` is a floating-point (N, in_channels, H, W) tensor with H, W big enough.

        ``TypeError`` for a non-tensor or an integer tensor (e.g. ``uint8`` pixels: convert with
        ``x.float() / 255``); ``ValueError`` for the wrong shape, channel count or a too small image.
        """
        name = type(self).__name__
        check_image_batch(x, self.in_channels, name)
        if is_traced(x) or torch.compiler.is_compiling():  # graphs are checked when they are built
            return
        h, w = x.shape[-2:]
        if min(h, w) < self.output_stride:
            raise ValueError(
                f"{name} has a total stride of {self.output_stride}, so it needs inputs of at least "
                f"{self.output_stride}x{self.output_stride}; got {h}x{w}. Use larger images or a "
                "table with fewer stride-2 rows."
            )
        dtype = next((p.dtype for p in self.parameters() if p.is_floating_point()), x.dtype)
        if x.dtype != dtype:
            raise TypeError(
                f"{name}'s weights are {dtype} but the input is {x.dtype}; convert one of them "
                f"(x.to({dtype}) or model.to({x.dtype}))"
            )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The convolutional body: ``(N, in_channels, H, W)`` -> ``(N, num_features, h, w)``."""
        return self.features(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool the feature map, then classify (or stop at the pooled vector with ``pre_logits``)."""
        x = torch.flatten(self.avgpool(x), 1)
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.forward_head(self.forward_features(x))


def init_like_torchvision(model: nn.Module) -> None:
    """The MobileNet V2/V3 reference initialization (torchvision's), applied in place.

    Convolutions: Kaiming normal with ``mode="fan_out"`` and zero bias; batch norm: scale 1,
    shift 0; linear layers: normal(0, 0.01) and zero bias. Seed the generator before building a
    model (``torch.manual_seed``) for reproducible weights.
    """
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
