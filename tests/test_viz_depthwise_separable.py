"""Figures and the cost widget of the depthwise separable chapter (mobilenet_lib.viz.depthwise_separable)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from mobilenet_lib.costs import (
    KindShare,
    separable_conv_cost,
    separable_cost_ratio,
    standard_conv_cost,
)
from mobilenet_lib.experiments.depthwise_separable import (
    DEFAULT_MIX,
    photo_convolutions,
)
from mobilenet_lib.viz import depthwise_separable as viz


def _image(h: int = 24, w: int = 32) -> torch.Tensor:
    return torch.rand(3, h, w, generator=torch.Generator().manual_seed(0))


def test_importing_viz_does_not_import_matplotlib_or_ipywidgets() -> None:
    code = (
        "import sys, mobilenet_lib.viz.depthwise_separable, mobilenet_lib.viz.style; "
        "bad = [m for m in ('matplotlib', 'ipywidgets') if m in sys.modules]; "
        "sys.exit(f'imported eagerly: {bad}' if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr or proc.stdout


# --------------------------------------------------------------------------------------------
# photo_convolutions
# --------------------------------------------------------------------------------------------


def test_photo_convolutions_shapes_and_layers() -> None:
    maps = photo_convolutions(_image())
    assert maps.depthwise.shape == (3, 24, 32)
    assert maps.pointwise.shape == (len(DEFAULT_MIX), 24, 32)
    assert maps.depthwise_layer.groups == 3 and tuple(maps.depthwise_layer.weight.shape) == (3, 1, 3, 3)
    assert tuple(maps.pointwise_layer.weight.shape) == (len(DEFAULT_MIX), 3, 1, 1)
    assert maps.mix_names == tuple(DEFAULT_MIX)


def test_depthwise_output_channel_sees_only_its_input_channel() -> None:
    image = _image()
    image[1] = 0.0
    maps = photo_convolutions(image)
    assert torch.all(maps.depthwise[1] == 0)
    assert torch.all(maps.depthwise[[0, 2]].abs().sum(dim=(1, 2)) > 0)


def test_pointwise_output_is_the_mix_of_depthwise_maps() -> None:
    mix = {"a": (1.0, 0.0, 0.0), "b": (0.5, 0.25, -1.0)}
    maps = photo_convolutions(_image(), kernel="sobel_x", mix=mix)
    want = torch.einsum("nc,chw->nhw", torch.tensor(list(mix.values())), maps.depthwise)
    torch.testing.assert_close(maps.pointwise, want)
    torch.testing.assert_close(maps.pointwise[0], maps.depthwise[0])


def test_separable_pair_equals_a_standard_conv_with_the_factorised_kernel() -> None:
    maps = photo_convolutions(_image())
    full = maps.pointwise_layer.weight * maps.depthwise_layer.weight.transpose(0, 1)  # (N, 3, 3, 3)
    standard = nn.Conv2d(3, full.shape[0], 3, padding=1, bias=False)
    with torch.no_grad():
        standard.weight.copy_(full)
        torch.testing.assert_close(standard(maps.image[None])[0], maps.pointwise, rtol=1e-5, atol=1e-5)


def test_edge_filter_ignores_flat_regions() -> None:
    flat = torch.full((3, 10, 10), 0.5)
    maps = photo_convolutions(flat, kernel="laplacian")
    # away from the zero-padded border the Laplacian of a constant is exactly 0
    assert torch.all(maps.depthwise[:, 1:-1, 1:-1] == 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image": torch.zeros(1, 5, 5)}, "RGB tensor of shape"),
        ({"kernel": "blur"}, "kernel must be one of 'laplacian'"),
        ({"mix": {}}, "at least one output"),
        ({"mix": {"x": (1.0, 2.0)}}, "three weights"),
    ],
)
def test_photo_convolutions_rejects_bad_input(kwargs, message) -> None:
    args = {"image": _image(), **kwargs}
    with pytest.raises(ValueError, match=message):
        photo_convolutions(**args)


def test_photo_convolutions_rejects_a_non_tensor() -> None:
    with pytest.raises(TypeError, match="image must be a torch.Tensor"):
        photo_convolutions([[0.0]])


def test_plot_photo_convolutions_returns_a_bare_figure() -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = viz.plot_photo_convolutions(photo_convolutions(_image()))
    assert len(fig.axes) == 12
    titles = [ax.get_title() for ax in fig.axes]
    assert any("depthwise output 2" in t for t in titles) and any("pointwise output 1" in t for t in titles)
    assert plt.get_fignums() == before  # not registered with pyplot


# --------------------------------------------------------------------------------------------
# Costs: summary, figure, widget
# --------------------------------------------------------------------------------------------


def test_cost_summary_shows_the_formulas_values() -> None:
    html = viz.cost_summary_html(512, 512, 3, 14)
    std, sep = standard_conv_cost(3, 512, 512, 14), separable_conv_cost(3, 512, 512, 14)
    for value in (std.macs, std.params, sep.macs, sep.params):
        assert f"{value:,}" in html
    assert f"{separable_cost_ratio(3, 512):.4f}" in html
    assert f"{std.macs / sep.macs:.2f}× fewer" in html


def test_plot_costs_draws_the_costs_and_the_ratio() -> None:
    m, n, dk, df = 64, 128, 5, 28
    fig = viz.plot_costs(m, n, dk, df)
    left, right = fig.axes
    std, sep = standard_conv_cost(dk, m, n, df), separable_conv_cost(dk, m, n, df)
    widths = sorted(p.get_width() for p in left.patches)
    # three bars: depthwise, pointwise (stacked, summing to the separable cost) and standard, in M
    assert widths[-1] == pytest.approx(std.macs / 1e6)
    assert widths[0] + widths[1] == pytest.approx(sep.macs / 1e6)
    marker = [line for line in right.get_lines() if line.get_marker() == "o"][0]
    assert tuple(marker.get_xdata()) == (n,)
    assert marker.get_ydata()[0] == pytest.approx(separable_cost_ratio(dk, n))


def _sliders(box) -> dict:
    import ipywidgets as w

    found = {}
    stack = [box]
    while stack:
        item = stack.pop()
        if isinstance(item, w.IntSlider):
            found[item.description] = item
        stack.extend(getattr(item, "children", ()))
    return found


def test_cost_widget_updates_table_and_figure() -> None:
    box = viz.cost_widget()
    sliders = _sliders(box)
    assert set(sliders) == {"M", "N", "D_K", "D_F"}
    assert sliders["M"].value == 512 and sliders["D_K"].value == 3
    table, image = box.children[1], box.children[2]
    first_png = image.value
    assert first_png[:8] == b"\x89PNG\r\n\x1a\n"

    for n in (256, 96, 33):
        sliders["N"].value = n
        assert f"N={n}," in table.value
        assert f"{standard_conv_cost(3, 512, n, 14).macs:,}" in table.value
    assert image.value != first_png


def test_cost_widget_frame_equals_a_fresh_drawing_of_the_same_values() -> None:
    # The widget redraws only what changes on top of a saved background; after several moves its
    # image must be exactly what one jump from the defaults to the final values gives (nothing
    # stale left behind by the intermediate frames).
    import io

    import numpy as np
    from PIL import Image

    box = viz.cost_widget()
    sliders = _sliders(box)
    for name, value in (("D_K", 7), ("N", 16), ("M", 40), ("D_F", 112), ("D_K", 5)):
        sliders[name].value = value
    plot = viz._CostPlot(fast=True)
    plot.update(512, 512, 3, 14).png()  # the layout is fixed at the first frame, as in the widget
    fresh = plot.update(40, 16, 5, 112).png()
    got = np.asarray(Image.open(io.BytesIO(box.children[2].value)))
    want = np.asarray(Image.open(io.BytesIO(fresh)))
    assert got.shape == want.shape
    assert np.array_equal(got, want)


@pytest.mark.parametrize(("kwargs", "kind"), [({"m": 0}, ValueError), ({"n": 2000}, ValueError),
                                              ({"dk": 2.5}, TypeError), ({"df": True}, TypeError)])
def test_cost_widget_rejects_out_of_range_values(kwargs, kind) -> None:
    with pytest.raises(kind, match="must be an integer"):
        viz.cost_widget(**kwargs)


# --------------------------------------------------------------------------------------------
# Compute share
# --------------------------------------------------------------------------------------------


def test_plot_compute_share_bars_sum_to_100_percent() -> None:
    shares = {
        "conv": KindShare(0.02, 0.001, 1),
        "depthwise": KindShare(0.03, 0.01, 13),
        "pointwise": KindShare(0.95, 0.749, 13),
        "linear": KindShare(0.0, 0.24, 1),
    }
    fig = viz.plot_compute_share(shares, title="test")
    ax = fig.axes[0]
    by_row: dict[float, float] = {}
    for patch in ax.patches:
        y = round(patch.get_y() + patch.get_height() / 2)
        by_row[y] = by_row.get(y, 0.0) + patch.get_width()
    assert by_row[1] == pytest.approx(100.0)  # mult-adds
    assert by_row[0] == pytest.approx(100.0)  # parameters
    assert "95.0 %" in [t.get_text() for t in ax.texts]


@pytest.mark.parametrize(("shares", "message"), [({}, "empty"), ({"attention": KindShare(1, 1, 1)}, "unknown layer kinds")])
def test_plot_compute_share_rejects_bad_input(shares, message) -> None:
    with pytest.raises(ValueError, match=message):
        viz.plot_compute_share(shares)


def test_filter_shapes_label_every_step_with_its_shapes_and_cost() -> None:
    from mobilenet_lib.costs import separable_conv_cost, standard_conv_cost
    from mobilenet_lib.viz.depthwise_separable import plot_filter_shapes

    fig = plot_filter_shapes(m=32, n=64, dk=5, df=7)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "32 × 5×5×1" in texts and "64 × 1×1×32" in texts and "64 × 5×5×32" in texts
    assert "input 7×7×32" in texts and "output 7×7×64" in texts and "output 7×7×32" in texts
    ratio = separable_conv_cost(5, 32, 64, 7).macs / standard_conv_cost(5, 32, 64, 7).macs
    assert f"{ratio:.3f} × (a)" in fig._suptitle.get_text()
    assert fig.get_size_inches()[0] <= 7.0  # sized for the page's column


def test_filter_shapes_reject_bad_sizes() -> None:
    from mobilenet_lib.viz.depthwise_separable import plot_filter_shapes

    with pytest.raises(ValueError, match="dk"):
        plot_filter_shapes(dk=0)
    with pytest.raises(TypeError, match="m"):
        plot_filter_shapes(m=2.5)
