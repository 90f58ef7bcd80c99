"""What every model here shares: argument checks, the input check and the reference weight init."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import torch
from torch import nn

from mobilenet_lib.blocks import is_traced

__all__ = ["ImageClassifier", "positive_int", "positive_float", "probability", "init_like_torchvision"]


def positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def probability(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a probability in [0, 1), got {value!r}")
    return float(value)


class ImageClassifier(nn.Module):
    """Base class: checks each input against the network before running it.

    Subclasses set ``in_channels`` (image channels) and ``output_stride`` (the product of all the
    network's strides, e.g. 32). An input smaller than ``output_stride`` in height or width is
    rejected: the stride-2 layers would already be working on 1x1 maps and the network would not
    be the network the table describes. Pass a table with fewer stride-2 rows for small images.
    """

    in_channels: int
    output_stride: int

    @property
    def min_input_size(self) -> int:
        """The smallest height and width this network accepts (its ``output_stride``)."""
        return self.output_stride

    def check_input(self, x: Any) -> None:
        """Raise ``ValueError`` unless ``x`` is an (N, in_channels, H, W) tensor with H, W big enough."""
        if is_traced(x):  # torch.fx tracing: no shapes to check
            return
        name = type(self).__name__
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            got = f"shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name} expects a 4-D image batch (N, C, H, W), got {got}")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"{name} was built for {self.in_channels}-channel images, got {x.shape[1]} channels "
                f"(input shape {tuple(x.shape)}); build it with in_channels={x.shape[1]}"
            )
        h, w = x.shape[-2:]
        if min(h, w) < self.output_stride:
            raise ValueError(
                f"{name} has a total stride of {self.output_stride}, so it needs inputs of at least "
                f"{self.output_stride}x{self.output_stride}; got {h}x{w}. Use larger images or a "
                "table with fewer stride-2 rows."
            )


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
