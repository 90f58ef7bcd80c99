"""The depthwise separable chapter's study: a depthwise and a pointwise convolution on a photo.

:func:`photo_convolutions` runs an RGB image through real ``nn.Conv2d`` layers: a depthwise 3x3
(``groups=3``) that applies one edge filter to each colour channel on its own, then a pointwise 1x1
that mixes the three edge maps into new channels. It shows the division of labour the chapter is
about: the depthwise step filters space, the pointwise step mixes channels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from mobilenet_lib.validation import one_of

__all__ = [
    "EDGE_KERNELS",
    "DEFAULT_MIX",
    "PhotoConvolutions",
    "photo_convolutions",
]


#: 3×3 filters the photo figure can apply to every channel (cross-correlation, as nn.Conv2d).
EDGE_KERNELS: dict[str, tuple[tuple[float, ...], ...]] = {
    # responds to intensity changes in every direction; sums to zero, so flat regions give 0
    "laplacian": ((-1.0, -1.0, -1.0), (-1.0, 8.0, -1.0), (-1.0, -1.0, -1.0)),
    # horizontal gradient: vertical edges
    "sobel_x": ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0)),
    # vertical gradient: horizontal edges
    "sobel_y": ((-1.0, -2.0, -1.0), (0.0, 0.0, 0.0), (1.0, 2.0, 1.0)),
}


#: Default pointwise mixes of the three per-channel edge maps: output name -> (w_R, w_G, w_B).
DEFAULT_MIX: dict[str, tuple[float, float, float]] = {
    # Rec. 601 luma weights: the edges a grey-scale photo would have
    "brightness edges": (0.299, 0.587, 0.114),
    # colour-opponent: edges where red and green change differently
    "red − green edges": (1.0, -1.0, 0.0),
}


@dataclass(frozen=True)
class PhotoConvolutions:
    """A depthwise then pointwise convolution applied to one RGB image.

    ``image`` (3, H, W); ``depthwise`` (3, H, W): each channel filtered on its own by ``kernel``;
    ``pointwise`` (N, H, W): the N mixes of the depthwise maps named ``mix_names``. The two layers
    are kept so a reader can inspect their weights.
    """

    image: torch.Tensor
    depthwise: torch.Tensor
    pointwise: torch.Tensor
    kernel_name: str
    mix_names: tuple[str, ...]
    depthwise_layer: nn.Conv2d
    pointwise_layer: nn.Conv2d


def photo_convolutions(
    image: torch.Tensor,
    kernel: str = "laplacian",
    mix: Mapping[str, Sequence[float]] | None = None,
) -> PhotoConvolutions:
    """Run ``image`` (3, H, W) through a depthwise ``nn.Conv2d(3, 3, 3, groups=3)`` holding the
    edge filter ``kernel`` (a name in :data:`EDGE_KERNELS`) for every channel, then through a
    pointwise ``nn.Conv2d(3, N, 1)`` holding ``mix`` (name -> three weights; default
    :data:`DEFAULT_MIX`). Padding keeps the size; no bias."""
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch.Tensor of shape (3, H, W), got {type(image).__name__}")
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"image must be an RGB tensor of shape (3, H, W), got {tuple(image.shape)}")
    kernel = one_of("kernel", kernel, EDGE_KERNELS)
    mix = dict(DEFAULT_MIX if mix is None else mix)
    if not mix or any(len(tuple(w)) != 3 for w in mix.values()):
        raise ValueError("mix must map at least one output name to three weights (red, green, blue)")

    depthwise = nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False)
    pointwise = nn.Conv2d(3, len(mix), 1, bias=False)
    with torch.no_grad():
        depthwise.weight.copy_(torch.tensor(EDGE_KERNELS[kernel]).expand(3, 1, 3, 3))
        pointwise.weight.copy_(torch.tensor([list(w) for w in mix.values()]).view(len(mix), 3, 1, 1))
        x = image.float().unsqueeze(0)
        d = depthwise(x)
        p = pointwise(d)
    return PhotoConvolutions(
        image=image.float(),
        depthwise=d[0],
        pointwise=p[0],
        kernel_name=kernel,
        mix_names=tuple(mix),
        depthwise_layer=depthwise,
        pointwise_layer=pointwise,
    )
