"""The shared figure and image helpers of mobilenet_lib.viz.style."""

from __future__ import annotations

import pytest

from mobilenet_lib.viz import style


def test_new_figure_is_bare_and_sized() -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = style.new_figure(4, 2.5)
    assert tuple(fig.get_size_inches()) == (4, 2.5)
    assert plt.get_fignums() == before


@pytest.mark.parametrize(("w", "h"), [(0, 1), (3, -1)])
def test_new_figure_rejects_bad_size(w, h) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        style.new_figure(w, h)


def test_as_jpeg_returns_a_jpeg_image() -> None:
    fig = style.new_figure(2, 1)
    fig.subplots().plot([0, 1], [1, 0])
    image = style.as_jpeg(fig)
    assert image.format == "jpeg"
    assert image.data[:3] == b"\xff\xd8\xff"  # the JPEG signature


@pytest.mark.parametrize(("kwargs", "message"), [({"quality": 0}, "quality"), ({"dpi": 0}, "dpi")])
def test_as_jpeg_rejects_bad_settings(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        style.as_jpeg(style.new_figure(1, 1), **kwargs)
