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


def test_new_figure_is_capped_at_the_column_width() -> None:
    fig = style.new_figure(11.0, 4.0)
    w, h = fig.get_size_inches()
    assert w == style.COLUMN_WIDTH_IN and 4.0 * (style.COLUMN_WIDTH_IN / 11.0) < h < 4.0


def test_label_points_keeps_labels_of_nearby_points_apart() -> None:
    fig = style.new_figure(4, 3)
    ax = fig.subplots()
    xs, ys = [1.0, 1.02, 1.04, 1.06], [1.0, 1.01, 0.99, 1.0]
    ax.scatter(xs, ys)
    ax.set_xlim(0, 2)
    ax.set_ylim(0, 2)
    fig.draw_without_rendering()
    texts = style.label_points(ax, xs, ys, ["first", "second", "third", "fourth"])
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    with pytest.raises(ValueError, match="same length"):
        style.label_points(ax, [1.0], [1.0, 2.0], ["a"])
