"""MobileNet V3's hand redesign of the searched network's expensive layers, as modules to count.

After the architecture search, Howard et al. (2019, section 5.1) changed two places by hand:

- **The efficient last stage.** The searched network ended like MobileNet V2: a last inverted
  residual (1x1 expansion 160 -> 960, depthwise, 1x1 projection 960 -> 320), a 1x1 conv to 1280
  features on the 7x7 map, average pooling and the classifier. V3 keeps the 1x1 expansion to 960,
  pools right after it, and computes the 1280 features on the pooled 1x1 map; the depthwise and
  projection layers are dropped. :func:`original_last_stage` rebuilds the first (following the
  paper's Figure 5; the depthwise kernel is a parameter, 3 by default),
  :func:`efficient_last_stage` the second, which is exactly the tail of
  :func:`~mobilenet_lib.models.mobilenet_v3_large`.
- **The 16-filter stem.** MobileNet V2 starts with 32 filters and a block that filters those 32
  channels depthwise and projects them to 16. V3 starts with 16 filters (and h-swish) and its first
  block works on 16 channels. :func:`stem` builds either start.

:func:`large_with_original_last_stage` puts the original last stage back on V3-Large, so the
whole-model saving can be counted with :func:`~mobilenet_lib.costs.count_macs`.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

from torch import nn

from mobilenet_lib.blocks import ConvNormAct, InvertedResidual

__all__ = [
    "original_last_stage",
    "efficient_last_stage",
    "large_with_original_last_stage",
    "stem",
]

_BN = {"bn_eps": 0.001, "bn_momentum": 0.01}  # MobileNet V3's batch-norm settings


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def original_last_stage(
    in_ch: int = 160,
    expanded: int = 960,
    projected: int = 320,
    features: int = 1280,
    num_classes: int = 1000,
    kernel_size: int = 3,
) -> nn.Sequential:
    """The last stage before the redesign (input: the 7x7x160 map after V3-Large's last bneck).

    1x1 conv to ``expanded``, BN, h-swish; kxk depthwise, BN, h-swish; 1x1 projection to
    ``projected``, BN; 1x1 conv to ``features``, BN, h-swish, all on the full map; then average
    pooling and a fully connected classifier.
    """
    in_ch, expanded, projected = (_positive_int(n, v) for n, v in
                                  (("in_ch", in_ch), ("expanded", expanded), ("projected", projected)))
    features, num_classes = _positive_int("features", features), _positive_int("num_classes", num_classes)
    kernel_size = _positive_int("kernel_size", kernel_size)
    return nn.Sequential(
        ConvNormAct(in_ch, expanded, 1, activation=nn.Hardswish, **_BN),
        ConvNormAct(expanded, expanded, kernel_size, groups=expanded, activation=nn.Hardswish, **_BN),
        ConvNormAct(expanded, projected, 1, activation=None, **_BN),
        ConvNormAct(projected, features, 1, activation=nn.Hardswish, **_BN),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(1),
        nn.Linear(features, num_classes),
    )


def efficient_last_stage(
    in_ch: int = 160, expanded: int = 960, features: int = 1280, num_classes: int = 1000
) -> nn.Sequential:
    """V3's last stage: 1x1 conv to ``expanded`` (BN, h-swish) on the map, then pool, then the
    ``features``-wide layer (no BN, h-swish) and the classifier on the pooled vector.

    Same computation as V3-Large's ``features[-1]``, ``avgpool`` and ``classifier`` (dropout,
    which costs nothing, left out).
    """
    in_ch, expanded = _positive_int("in_ch", in_ch), _positive_int("expanded", expanded)
    features, num_classes = _positive_int("features", features), _positive_int("num_classes", num_classes)
    return nn.Sequential(
        ConvNormAct(in_ch, expanded, 1, activation=nn.Hardswish, **_BN),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(1),
        nn.Linear(expanded, features),
        nn.Hardswish(),
        nn.Linear(features, num_classes),
    )


def large_with_original_last_stage(num_classes: int = 1000, kernel_size: int = 3) -> nn.Sequential:
    """MobileNet V3-Large's stem and bnecks followed by :func:`original_last_stage`."""
    from mobilenet_lib.models import mobilenet_v3_large

    body = mobilenet_v3_large(num_classes=_positive_int("num_classes", num_classes)).features[:-1]
    return nn.Sequential(body, original_last_stage(num_classes=num_classes, kernel_size=kernel_size))


def stem(filters: int = 16, activation: type[nn.Module] = nn.Hardswish) -> nn.Sequential:
    """A network's start: a 3x3 stride-2 conv with ``filters`` outputs, then the first block.

    The first block is V3-Large's first bneck, widened to the stem: a 3x3 depthwise conv on
    ``filters`` channels (ReLU) and a linear 1x1 projection to 16 channels, with the shortcut
    when ``filters == 16``. ``filters=32`` is MobileNet V2's start, ``filters=16`` V3's.
    """
    filters = _positive_int("filters", filters)
    if not (isinstance(activation, type) and issubclass(activation, nn.Module)):
        raise ValueError(f"activation must be an nn.Module class such as nn.Hardswish, got {activation!r}")
    return nn.Sequential(
        ConvNormAct(3, filters, 3, 2, activation=activation, **_BN),
        InvertedResidual(filters, 16, 1, expanded_ch=filters, activation=nn.ReLU, layout="v3", **_BN),
    )
