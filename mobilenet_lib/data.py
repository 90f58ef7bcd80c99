"""Small image data that ships inside installed packages: nothing here touches the network.

* :func:`load_digits` — scikit-learn's 1,797 handwritten digits (8×8, ten classes), upsampled so
  that a MobileNet's strided layers have something to downsample; :func:`digits_loaders` wraps
  them in seeded ``DataLoader``\\ s.
* :func:`sample_image` — a few photographs bundled with scikit-learn and matplotlib, for showing
  what a filter or a block does to a real image.
* :func:`synthetic_shapes` — a seeded synthetic data set of squares, circles, stripes and crosses,
  a second task whose difficulty is under the book's control.

scikit-learn and matplotlib are imported inside the functions that need them, so importing this
module costs only ``torch``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from mobilenet_lib.validation import integer, number, one_of

__all__ = [
    "Digits",
    "load_digits",
    "digits_loaders",
    "list_sample_images",
    "sample_image",
    "SHAPE_CLASSES",
    "Shapes",
    "synthetic_shapes",
]


def _int_at_least(name: str, value: Any, low: int) -> int:
    return integer(name, value, low=low)


def _check_channels(channels: Any) -> int:
    return one_of("channels", integer("channels", channels), (1, 3))  # grey, or grey copied to RGB


# --------------------------------------------------------------------------------------------
# Digits
# --------------------------------------------------------------------------------------------

_DIGITS_MAX = 16.0  # scikit-learn's digits are counts of set pixels in 4x4 cells: 0..16


@dataclass(frozen=True)
class Digits:
    """A train/test split of the digits.

    ``x_*`` are float32 images (N, channels, image_size, image_size), standardised with the
    training set's ``mean`` and ``std`` (one scalar each: every channel is the same grey image);
    ``y_*`` are int64 labels 0–9. ``x * std + mean`` recovers intensities in [0, 1].
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    mean: float
    std: float
    classes: tuple[str, ...] = tuple(str(d) for d in range(10))

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def load_digits(
    image_size: int = 32, channels: int = 3, test_fraction: float = 0.25, seed: int = 0
) -> Digits:
    """scikit-learn's 8×8 digits as a small image-classification task for CNNs.

    Steps: scale the 0–16 pixel values to [0, 1]; upsample 8×8 to ``image_size`` × ``image_size``
    bilinearly (``align_corners=False``); split stratified by class with ``seed`` (each class keeps
    its share in both sets); standardise both sets with the *training* set's mean and standard
    deviation (so no test statistics leak into training); copy the grey channel ``channels`` times.

    ``image_size`` must be at least 8; ``channels`` 1 or 3; ``test_fraction`` in (0, 1) and leave
    at least one image of each class on each side. The data ship with scikit-learn: no download.
    """
    image_size = _int_at_least("image_size", image_size, 8)
    channels = _check_channels(channels)
    seed = _int_at_least("seed", seed, 0)
    test_fraction = number("test_fraction", test_fraction, low=0.0, high=1.0, low_open=True, high_open=True)

    from sklearn.datasets import (
        load_digits as sklearn_digits,  # lazy: scikit-learn is heavy
    )
    from sklearn.model_selection import train_test_split

    raw = sklearn_digits()
    n, n_classes = len(raw.target), len(raw.target_names)
    n_test = math.ceil(n * test_fraction)  # how scikit-learn sizes the test side
    if n_test < n_classes or n - n_test < n_classes:
        raise ValueError(
            f"test_fraction={test_fraction} leaves {n_test} test and {n - n_test} training images; "
            f"a stratified split needs at least {n_classes} on each side"
        )
    images = torch.from_numpy(raw.images).float().div_(_DIGITS_MAX).unsqueeze(1)  # (N, 1, 8, 8)
    if image_size != 8:
        images = F.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False)
    labels = torch.from_numpy(raw.target).long()

    idx_train, idx_test = train_test_split(
        torch.arange(n).numpy(), test_size=test_fraction, random_state=seed, stratify=raw.target
    )
    idx_train, idx_test = torch.from_numpy(idx_train), torch.from_numpy(idx_test)
    x_train, x_test = images[idx_train], images[idx_test]
    mean, std = x_train.mean().item(), x_train.std().item()
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    if channels == 3:
        x_train, x_test = x_train.repeat(1, 3, 1, 1), x_test.repeat(1, 3, 1, 1)
    return Digits(
        x_train=x_train.contiguous(),
        y_train=labels[idx_train],
        x_test=x_test.contiguous(),
        y_test=labels[idx_test],
        mean=mean,
        std=std,
    )


def digits_loaders(
    batch_size: int = 64,
    seed: int | None = 0,
    *,
    split_seed: int | None = None,
    test_batch_size: int | None = None,
    **kwargs: Any,
) -> tuple[DataLoader, DataLoader]:
    """Training and test ``DataLoader``\\ s over :func:`load_digits`.

    The training loader shuffles with its own ``torch.Generator`` seeded with ``seed``, so the
    batch order does not depend on (or disturb) the global random state. The generator advances
    from epoch to epoch: build fresh loaders to repeat a run exactly. ``seed=None`` leaves the
    loader without a generator, so it draws from the global random state (which
    :func:`mobilenet_lib.training.train` seeds itself). The split uses ``split_seed`` (default: ``seed``,
    or 0). Other keyword arguments (``image_size``, ``channels``, ``test_fraction``) go to
    :func:`load_digits`. The test loader does not shuffle.
    """
    batch_size = _int_at_least("batch_size", batch_size, 1)
    test_batch_size = batch_size if test_batch_size is None else _int_at_least("test_batch_size", test_batch_size, 1)
    if seed is not None:
        seed = _int_at_least("seed", seed, 0)
    if split_seed is None:
        split_seed = 0 if seed is None else seed
    unknown = set(kwargs) - {"image_size", "channels", "test_fraction"}
    if unknown:
        raise TypeError(
            f"unknown argument(s) {sorted(unknown)}; digits_loaders accepts batch_size, seed, "
            "split_seed, test_batch_size, image_size, channels and test_fraction"
        )
    data = load_digits(seed=split_seed, **kwargs)
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    train = DataLoader(
        TensorDataset(data.x_train, data.y_train), batch_size=batch_size, shuffle=True, generator=generator
    )
    test = DataLoader(TensorDataset(data.x_test, data.y_test), batch_size=test_batch_size, shuffle=False)
    return train, test


# --------------------------------------------------------------------------------------------
# Sample photographs
# --------------------------------------------------------------------------------------------

# name -> (package, file name) of images bundled with installed packages.
_SAMPLE_IMAGES = {
    "china": ("sklearn", "china.jpg"),
    "flower": ("sklearn", "flower.jpg"),
    "grace_hopper": ("matplotlib", "grace_hopper.jpg"),
}


def list_sample_images() -> list[str]:
    """Names :func:`sample_image` accepts."""
    return list(_SAMPLE_IMAGES)


def _read_sample(name: str) -> Any:
    """The image as a (H, W, 3) uint8 numpy array, read from the installed package."""
    package, filename = _SAMPLE_IMAGES[name]
    if package == "sklearn":
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)
    import matplotlib.cbook as cbook
    import matplotlib.image as mpimg

    # get_sample_data reads matplotlib's own mpl-data/sample_data folder.
    with cbook.get_sample_data(filename) as f:
        return mpimg.imread(f, format="jpg")


def sample_image(name: str = "china", size: int | tuple[int, int] | None = None) -> torch.Tensor:
    """A bundled photograph as a float32 tensor (3, H, W) with values in [0, 1].

    ``name``: one of :func:`list_sample_images` (``"china"``, ``"flower"``: scikit-learn, 427×640;
    ``"grace_hopper"``: matplotlib, 600×512). ``size``: ``None`` keeps the original; an int resizes
    so that the *shorter* side has that length (aspect ratio kept); a pair ``(h, w)`` resizes to
    exactly that. Resizing is bilinear with antialiasing.
    """
    one_of("name", name, list_sample_images())
    array = _read_sample(name)
    image = torch.from_numpy(array.copy()).permute(2, 0, 1).float()
    if array.dtype.kind == "u":  # 8-bit image
        image = image / 255.0
    image = image[:3].contiguous()
    if size is None:
        return image
    h, w = image.shape[1:]
    if isinstance(size, Sequence) and not isinstance(size, str):
        if len(size) != 2:
            raise ValueError(f"size must be None, an int or a pair (height, width), got {size!r}")
        out = (_int_at_least("size[0]", size[0], 1), _int_at_least("size[1]", size[1], 1))
    else:
        short = _int_at_least("size", size, 1)
        scale = short / min(h, w)
        out = (max(1, round(h * scale)), max(1, round(w * scale)))
        out = (short, out[1]) if h <= w else (out[0], short)  # the short side exactly
    resized = F.interpolate(image.unsqueeze(0), size=out, mode="bilinear", align_corners=False, antialias=True)
    return resized.squeeze(0).clamp_(0.0, 1.0)


# --------------------------------------------------------------------------------------------
# Synthetic shapes
# --------------------------------------------------------------------------------------------

#: The shapes :func:`synthetic_shapes` can draw, in their default label order.
SHAPE_CLASSES = ("square", "circle", "stripes", "cross")


@dataclass(frozen=True)
class Shapes:
    """A synthetic data set: float32 images ``x`` (N, channels, S, S) in [0, 1], int64 labels ``y``."""

    x: torch.Tensor
    y: torch.Tensor
    classes: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def _draw(kind: str, yy: torch.Tensor, xx: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """A {0, 1} mask of one shape on the unit square grid (yy, xx), with random size and place."""

    def u(lo: float, hi: float) -> float:
        return lo + (hi - lo) * torch.rand((), generator=g).item()

    r = u(0.15, 0.3)  # half-size, as a fraction of the image
    cy, cx = u(r, 1 - r), u(r, 1 - r)  # the whole shape stays inside the image
    dy, dx = (yy - cy).abs(), (xx - cx).abs()
    if kind == "square":
        return ((dy <= r) & (dx <= r)).float()
    if kind == "circle":
        return ((dy**2 + dx**2) <= r**2).float()
    if kind == "cross":
        arm = r / 3
        return (((dy <= arm) & (dx <= r)) | ((dx <= arm) & (dy <= r))).float()
    # stripes: a grating at a random angle and period over the whole image
    angle, period = u(0.0, math.pi), u(0.15, 0.3)
    phase = (xx * math.cos(angle) + yy * math.sin(angle)) / period + u(0.0, 1.0)
    return (torch.remainder(phase, 1.0) < 0.5).float()  # not frac(): it is negative below 0


def synthetic_shapes(
    n: int,
    image_size: int = 32,
    seed: int = 0,
    classes: Sequence[str] = SHAPE_CLASSES,
    noise: float = 0.1,
    channels: int = 3,
) -> Shapes:
    """``n`` seeded images of simple shapes, an equal number per class (±1).

    Each image has a random background and foreground intensity (at least 0.3 apart), the shape at
    a random size and position, and Gaussian pixel noise of standard deviation ``noise``; values
    are clipped to [0, 1]. With 3 channels each image gets a random tint, so colour carries no
    label information and the network must look at the shape. The label of ``classes[i]`` is ``i``;
    samples come in a shuffled order. The same arguments always give the same tensors.
    """
    n = _int_at_least("n", n, 1)
    image_size = _int_at_least("image_size", image_size, 8)
    seed = _int_at_least("seed", seed, 0)
    channels = _check_channels(channels)
    if isinstance(classes, str) or not isinstance(classes, Sequence) or not classes:
        raise ValueError(f"classes must be a non-empty sequence of names from {SHAPE_CLASSES}, got {classes!r}")
    unknown = [c for c in classes if c not in SHAPE_CLASSES]
    if unknown or len(set(classes)) != len(classes):
        raise ValueError(
            f"classes must be distinct names from {SHAPE_CLASSES}, got {list(classes)!r}"
        )
    noise = number("noise", noise, low=0.0)

    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % len(classes)
    labels = labels[torch.randperm(n, generator=g)]
    coords = (torch.arange(image_size, dtype=torch.float32) + 0.5) / image_size  # pixel centres
    yy, xx = torch.meshgrid(coords, coords, indexing="ij")
    images = torch.empty(n, channels, image_size, image_size)
    for i, label in enumerate(labels.tolist()):
        mask = _draw(classes[label], yy, xx, g)
        low = 0.6 * torch.rand((), generator=g).item()
        high = low + 0.3 + (0.7 - low) * torch.rand((), generator=g).item()
        if torch.rand((), generator=g).item() < 0.5:  # dark shapes on light ground too
            low, high = high, low
        grey = low + (high - low) * mask
        tint = 0.5 + 0.5 * torch.rand(channels, 1, 1, generator=g) if channels == 3 else torch.ones(1, 1, 1)
        images[i] = grey * tint
    if noise > 0:
        images += noise * torch.randn(images.shape, generator=g)
    return Shapes(x=images.clamp_(0.0, 1.0), y=labels.long(), classes=tuple(classes))
