"""Tests for mobilenet_lib.data: shapes, dtypes, ranges, determinism, stratification, no network."""

from __future__ import annotations

import socket

import pytest
import torch

from mobilenet_lib import data
from mobilenet_lib.data import (
    digits_loaders,
    list_sample_images,
    load_digits,
    sample_image,
    synthetic_shapes,
)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


# ------------------------------------------------------------------------------------------
# Digits
# ------------------------------------------------------------------------------------------


def test_digits_shapes_dtypes_and_normalisation(digits):
    assert digits.x_train.shape == (1347, 3, 32, 32) and digits.x_test.shape == (450, 3, 32, 32)
    assert digits.x_train.dtype == torch.float32 and digits.y_train.dtype == torch.int64
    assert digits.y_test.dtype == torch.int64 and digits.num_classes == 10
    # standardised with the training set's own statistics
    assert abs(digits.x_train.mean().item()) < 1e-4
    assert digits.x_train.std().item() == pytest.approx(1.0, abs=1e-4)
    # undoing the standardisation gives intensities in [0, 1] in both sets
    for x in (digits.x_train, digits.x_test):
        raw = x * digits.std + digits.mean
        assert raw.min().item() >= -1e-5 and raw.max().item() <= 1 + 1e-5
    # the three channels are copies of one grey image
    assert torch.equal(digits.x_train[:, 0], digits.x_train[:, 2])
    assert set(digits.y_train.unique().tolist()) == set(range(10))


def test_digits_at_native_size_are_sklearns_pixels_over_16():
    from sklearn.datasets import load_digits as sklearn_digits

    raw = sklearn_digits()
    d = load_digits(image_size=8, channels=1, test_fraction=0.5, seed=3)
    x = torch.cat([d.x_train, d.x_test]) * d.std + d.mean
    y = torch.cat([d.y_train, d.y_test])
    # every image is one of the originals, with its label, scaled from 0..16 to 0..1
    originals = torch.from_numpy(raw.images).float() / 16
    flat = originals.reshape(len(originals), -1)
    assert x.shape == (1797, 1, 8, 8)
    dist = torch.cdist(x.reshape(len(x), -1), flat)
    nearest = dist.argmin(dim=1)
    assert dist.min(dim=1).values.max().item() < 1e-4
    assert sorted(nearest.tolist()) == list(range(1797))  # a partition: no image lost or repeated
    assert torch.equal(torch.from_numpy(raw.target)[nearest], y)


def test_digits_split_is_stratified_and_seeded(digits):
    counts_train = torch.bincount(digits.y_train, minlength=10)
    counts_test = torch.bincount(digits.y_test, minlength=10)
    total = counts_train + counts_test
    # every class keeps its share in the test set, to within one image
    assert ((counts_test - 0.25 * total).abs() <= 1).all()
    again = load_digits()
    assert torch.equal(again.x_train, digits.x_train) and torch.equal(again.y_test, digits.y_test)
    other = load_digits(seed=1)
    assert not torch.equal(other.y_train, digits.y_train)
    assert torch.equal(torch.bincount(other.y_test, minlength=10), counts_test)  # same sizes


def test_digits_sizes_and_channels():
    d = load_digits(image_size=16, channels=1, test_fraction=0.1)
    assert d.x_train.shape[1:] == (1, 16, 16) and len(d.x_test) == 180


@pytest.mark.parametrize(
    "kwargs, kind, message",
    [
        ({"image_size": 4}, ValueError, "image_size must be an integer >= 8"),
        ({"image_size": 32.0}, TypeError, "image_size must be an integer, got 32.0"),
        ({"channels": 2}, ValueError, "channels must be one of 1, 3"),
        ({"test_fraction": 0}, ValueError, r"test_fraction must be a number in \(0, 1\)"),
        ({"test_fraction": 1.5}, ValueError, r"in \(0, 1\), got 1.5"),
        ({"test_fraction": "half"}, TypeError, "test_fraction must be a number"),
        ({"test_fraction": 0.001}, ValueError, "needs at least 10 on each side"),
        ({"seed": -1}, ValueError, "seed must be an integer >= 0"),
    ],
)
def test_digits_bad_arguments(kwargs, kind, message):
    with pytest.raises(kind, match=message):
        load_digits(**kwargs)


def test_digits_loaders_are_seeded_and_isolated():
    state = torch.get_rng_state()
    train_a, test_a = digits_loaders(batch_size=50, seed=7, image_size=16)
    train_b, _ = digits_loaders(batch_size=50, seed=7, image_size=16)
    train_c, _ = digits_loaders(batch_size=50, seed=8, split_seed=7, image_size=16)
    ya = torch.cat([y for _, y in train_a])
    yb = torch.cat([y for _, y in train_b])
    yc = torch.cat([y for _, y in train_c])
    assert torch.equal(ya, yb)  # same seed, same order
    assert not torch.equal(ya, yc)  # another shuffle of the same split
    assert torch.equal(ya.sort().values, yc.sort().values)
    assert torch.equal(torch.get_rng_state(), state)  # the global random state is untouched
    x, y = next(iter(test_a))
    assert x.shape == (50, 3, 16, 16) and y.dtype == torch.int64
    assert torch.equal(torch.cat([y for _, y in test_a]), torch.cat([y for _, y in test_a]))


def test_digits_loaders_bad_arguments():
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        digits_loaders(batch_size=0)
    with pytest.raises(TypeError, match=r"unknown argument\(s\) \['shuffle'\]"):
        digits_loaders(shuffle=False)


# ------------------------------------------------------------------------------------------
# Sample photographs
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, shape", [("china", (3, 427, 640)), ("flower", (3, 427, 640)), ("grace_hopper", (3, 600, 512))])
def test_sample_images(name, shape):
    image = sample_image(name)
    assert image.shape == shape and image.dtype == torch.float32
    assert image.min().item() >= 0 and image.max().item() <= 1
    assert image.std().item() > 0.05  # a photograph, not a blank
    assert torch.equal(image, sample_image(name))
    short = sample_image(name, 224)
    assert min(short.shape[1:]) == 224
    ratio_before, ratio_after = shape[1] / shape[2], short.shape[1] / short.shape[2]
    assert ratio_after == pytest.approx(ratio_before, rel=0.01)
    exact = sample_image(name, (64, 48))
    assert exact.shape == (3, 64, 48) and 0 <= exact.min() and exact.max() <= 1
    # a downsampled image keeps the original's average colour
    assert torch.allclose(exact.mean(dim=(1, 2)), image.mean(dim=(1, 2)), atol=0.02)


def test_sample_image_names_and_errors():
    assert list_sample_images() == ["china", "flower", "grace_hopper"]
    with pytest.raises(ValueError, match=r"name must be one of 'china', 'flower', 'grace_hopper'; got 'lena'"):
        sample_image("lena")
    with pytest.raises(ValueError, match="size must be an integer >= 1"):
        sample_image("china", 0)
    with pytest.raises(ValueError, match="size must be None, an int or a pair"):
        sample_image("china", (1, 2, 3))


# ------------------------------------------------------------------------------------------
# Synthetic shapes
# ------------------------------------------------------------------------------------------


def test_synthetic_shapes_basics():
    s = synthetic_shapes(101, image_size=24, seed=5)
    assert s.x.shape == (101, 3, 24, 24) and s.x.dtype == torch.float32 and s.y.dtype == torch.int64
    assert s.x.min().item() >= 0 and s.x.max().item() <= 1
    assert s.classes == data.SHAPE_CLASSES and s.num_classes == 4
    counts = torch.bincount(s.y, minlength=4)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 101
    again = synthetic_shapes(101, image_size=24, seed=5)
    assert torch.equal(again.x, s.x) and torch.equal(again.y, s.y)
    assert not torch.equal(synthetic_shapes(101, image_size=24, seed=6).x, s.x)


def test_synthetic_shapes_are_learnable_without_noise():
    """Without noise, a crude feature separates stripes from solid shapes: the shape carries the label."""
    s = synthetic_shapes(200, image_size=32, seed=0, classes=("square", "stripes"), noise=0.0, channels=1)
    grey = s.x[:, 0]
    # a grating of period <= 0.3 image widths is crossed >= 6 times per line (rows and columns
    # together); a square's edge at most twice per row and twice per column it covers
    changes = (grey[:, :, 1:] != grey[:, :, :-1]).sum(dim=(1, 2)) + (grey[:, 1:] != grey[:, :-1]).sum(dim=(1, 2))
    stripes = s.y == 1
    assert changes[stripes].min() > changes[~stripes].max()
    assert len(grey.flatten(1).unique(dim=0)) == 200  # every image differs


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n": 0}, "n must be an integer >= 1"),
        ({"n": 4, "classes": ("square", "hexagon")}, "classes must be distinct names"),
        ({"n": 4, "classes": ("square", "square")}, "classes must be distinct names"),
        ({"n": 4, "classes": "square"}, "classes must be a non-empty sequence"),
        ({"n": 4, "noise": -0.1}, "noise must be a number >= 0"),
        ({"n": 4, "noise": float("inf")}, "noise must be a finite number"),
        ({"n": 4, "channels": 4}, "channels must be one of 1, 3"),
        ({"n": 4, "image_size": 5}, "image_size must be an integer >= 8"),
    ],
)
def test_synthetic_shapes_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        synthetic_shapes(**kwargs)


# ------------------------------------------------------------------------------------------
# Offline
# ------------------------------------------------------------------------------------------


def test_nothing_opens_a_socket(monkeypatch):
    opened = []

    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            opened.append(args)
            raise OSError("network access attempted")

    def refuse(*args, **kwargs):
        opened.append(args)
        raise OSError("network access attempted")

    monkeypatch.setattr(socket, "socket", NoSocket)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    load_digits(image_size=8, channels=1)
    next(iter(digits_loaders(batch_size=8, image_size=8)[0]))
    for name in list_sample_images():
        sample_image(name, 32)
    synthetic_shapes(8)
    assert opened == []


def test_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, mobilenet_lib.data; "
        "print([m for m in ('sklearn', 'matplotlib') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
