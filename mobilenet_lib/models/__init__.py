"""The networks, each built from a table by one builder (models as data).

==========================  ==========================================  ===========================
module                      table(s)                                    builders
==========================  ==========================================  ===========================
``mobilenet_v1``            ``MOBILENET_V1_LAYERS``                     :func:`mobilenet_v1`
``mobilenet_v2``            ``MOBILENET_V2_SETTINGS``                   :func:`mobilenet_v2`
``mobilenet_v3``            ``MOBILENET_V3_LARGE_BNECK`` / ``_SMALL_``  :func:`mobilenet_v3` (and
                                                                        ``_large`` / ``_small``)
``shufflenet_v1``           ``SHUFFLENET_V1_STAGES``                    :func:`shufflenet_v1`
``shufflenet_v2``           ``SHUFFLENET_V2_STAGES``                    :func:`shufflenet_v2`
``resnet``                  ``RESNET_CONFIGS``                          :func:`resnet18`,
                                                                        :func:`resnet50`
==========================  ==========================================  ===========================

:func:`create_model` builds any of them by name; :func:`list_models` lists the names. Every model
is an :class:`~mobilenet_lib.models.base.ImageClassifier`: one ``forward_features`` /
``forward_head`` / ``forward``, ``num_features`` for the width the head pools, and a check of its
input (``TypeError`` for a non-tensor or integer pixels, ``ValueError`` for the wrong number of
channels or an image smaller than the network's total stride). Every builder takes the same core
arguments where they apply (``width_mult``, ``num_classes``, ``dropout``, ``in_channels``,
``round_nearest``, ``norm_layer``). Weights are initialized as the reference implementation does,
from PyTorch's global generator: call ``torch.manual_seed`` first for reproducible weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from mobilenet_lib.models.base import ImageClassifier
from mobilenet_lib.models.mobilenet_v1 import (
    MOBILENET_V1_LAYERS,
    MOBILENET_V1_STEM,
    MobileNetV1,
    V1Layer,
    mobilenet_v1,
)
from mobilenet_lib.models.mobilenet_v2 import (
    MOBILENET_V2_LAST_CHANNEL,
    MOBILENET_V2_SETTINGS,
    MOBILENET_V2_STEM_CHANNELS,
    MobileNetV2,
    V2Stage,
    mobilenet_v2,
)
from mobilenet_lib.models.mobilenet_v3 import (
    MOBILENET_V3_LARGE_BNECK,
    MOBILENET_V3_SMALL_BNECK,
    MobileNetV3,
    V3Bneck,
    mobilenet_v3,
    mobilenet_v3_large,
    mobilenet_v3_small,
)
from mobilenet_lib.models.resnet import RESNET_CONFIGS, ResNet, resnet18, resnet50
from mobilenet_lib.models.shufflenet_v1 import (
    SHUFFLENET_V1_COMPLEXITY,
    SHUFFLENET_V1_GROUPS,
    SHUFFLENET_V1_STAGES,
    ShuffleNetV1,
    ShuffleV1Stage,
    shufflenet_v1,
    shufflenet_v1_widths,
)
from mobilenet_lib.models.shufflenet_v2 import (
    SHUFFLENET_V2_STAGES,
    SHUFFLENET_V2_WIDTHS,
    ShuffleNetV2,
    ShuffleV2Stage,
    shufflenet_v2,
)

__all__ = [
    "ImageClassifier",
    "create_model",
    "list_models",
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "shufflenet_v1",
    "shufflenet_v1_widths",
    "shufflenet_v2",
    "resnet18",
    "resnet50",
    "MobileNetV1",
    "MobileNetV2",
    "MobileNetV3",
    "ShuffleNetV1",
    "ShuffleNetV2",
    "ResNet",
    "V1Layer",
    "V2Stage",
    "V3Bneck",
    "ShuffleV1Stage",
    "ShuffleV2Stage",
    "MOBILENET_V1_STEM",
    "MOBILENET_V1_LAYERS",
    "MOBILENET_V2_SETTINGS",
    "MOBILENET_V2_STEM_CHANNELS",
    "MOBILENET_V2_LAST_CHANNEL",
    "MOBILENET_V3_LARGE_BNECK",
    "MOBILENET_V3_SMALL_BNECK",
    "SHUFFLENET_V1_GROUPS",
    "SHUFFLENET_V1_STAGES",
    "SHUFFLENET_V1_COMPLEXITY",
    "SHUFFLENET_V2_STAGES",
    "SHUFFLENET_V2_WIDTHS",
    "RESNET_CONFIGS",
]


def _shufflenet(width: str) -> Callable[..., nn.Module]:
    def build(**kwargs: Any) -> ShuffleNetV2:
        return shufflenet_v2(width, **kwargs)

    build.__doc__ = f"ShuffleNet V2 {width} (keyword arguments as :func:`shufflenet_v2`, less ``width_mult``)."
    return build


def _shufflenet_v1(groups: int) -> Callable[..., nn.Module]:
    def build(**kwargs: Any) -> ShuffleNetV1:
        return shufflenet_v1(groups, **kwargs)

    build.__doc__ = (
        f"ShuffleNet V1 with g = {groups} groups, 1x unless ``width_mult`` says otherwise (keyword "
        "arguments as :func:`shufflenet_v1`, less ``groups``)."
    )
    return build


_MODELS: dict[str, Callable[..., nn.Module]] = {
    "mobilenet_v1": mobilenet_v1,
    "mobilenet_v2": mobilenet_v2,
    "mobilenet_v3": mobilenet_v3,
    "mobilenet_v3_large": mobilenet_v3_large,
    "mobilenet_v3_small": mobilenet_v3_small,
    "shufflenet_v1": shufflenet_v1,
    **{f"shufflenet_v1_g{g}": _shufflenet_v1(g) for g in SHUFFLENET_V1_GROUPS},
    "shufflenet_v2": shufflenet_v2,
    "shufflenet_v2_x0_5": _shufflenet("0.5x"),
    "shufflenet_v2_x1_0": _shufflenet("1.0x"),
    "shufflenet_v2_x1_5": _shufflenet("1.5x"),
    "shufflenet_v2_x2_0": _shufflenet("2.0x"),
    "resnet18": resnet18,
    "resnet50": resnet50,
}


def list_models() -> list[str]:
    """The names :func:`create_model` accepts, sorted."""
    return sorted(_MODELS)


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a model by name, passing ``kwargs`` to its builder.

    >>> create_model("mobilenet_v2", num_classes=10, width_mult=0.5)  # doctest: +SKIP

    Raises ``ValueError`` for an unknown name (the message lists the valid ones); a keyword the
    builder does not take raises ``TypeError`` as any Python call does.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a model name (str), got {type(name).__name__}")
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; valid names are: {', '.join(list_models())}")
    return _MODELS[name](**kwargs)
