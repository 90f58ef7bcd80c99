"""Tests for mobilenet_lib.viz.hard_swish: figures, the widget callback and its speed."""

from __future__ import annotations

import pytest

from mobilenet_lib.benchmark import Timing
from mobilenet_lib.experiments.hard_swish import ActivationTiming
from mobilenet_lib.viz import hard_swish as viz


def _line_data(ax):
    return [line.get_ydata() for line in ax.get_lines()]


def test_plot_activations_draws_both_functions_and_marks_the_largest_gap():
    fig = viz.plot_activations("swish", center=0.0, half_width=6.0)
    value_ax, slope_ax, diff_ax = fig.axes
    assert [t.get_text() for t in value_ax.get_legend().get_texts()] == ["swish", "h-swish"]
    assert [t.get_text() for t in slope_ax.get_legend().get_texts()] == ["swish", "h-swish"]
    # the annotated maximum |swish - h-swish| on [-6, 6] is 0.1423, at the kink x = -3
    (note,) = diff_ax.texts
    assert "0.1423" in note.get_text() and "-3.000" in note.get_text()


def test_plot_activations_derivative_of_hard_version_is_piecewise():
    fig = viz.plot_activations("sigmoid", center=0.0, half_width=5.0, points=1001)
    slope_ax = fig.axes[1]
    hard = slope_ax.get_lines()[1]
    x, d = hard.get_xdata(), hard.get_ydata()
    assert abs(d[abs(x) > 3.01]).max() == 0  # flat outside [-3, 3]
    assert abs(d[abs(x) < 2.99] - 1 / 6).max() < 1e-12  # slope 1/6 inside


def test_plot_activations_window_follows_parameters():
    fig = viz.plot_activations("swish", center=2.0, half_width=0.5)
    assert fig.axes[0].get_xlim() == pytest.approx((1.5, 2.5))


@pytest.mark.parametrize(
    "kwargs",
    [dict(pair="relu"), dict(half_width=0.0), dict(half_width=1e3), dict(center=1e3), dict(points=3)],
)
def test_plot_activations_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        viz.plot_activations(**kwargs)


def test_plot_int8_error_one_panel_per_grid_with_all_kernels():
    fig = viz.plot_int8_error()
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert len(ax.get_lines()) == 3
        assert all(len(y) == 256 for y in _line_data(ax))
    with pytest.raises(ValueError):
        viz.plot_int8_error(grids={})


def test_plot_activation_timing_bars_match_rows():
    rows = [
        ActivationTiming("a", "swish", 10**6, Timing((2e-3, 2e-3), number=1, warmup=0, threads=2)),
        ActivationTiming("b", "h-swish", 10**6, Timing((1e-3,), number=1, warmup=0, threads=2)),
    ]
    fig = viz.plot_activation_timing(rows, machine="test CPU")
    (ax,) = fig.axes
    widths = sorted(p.get_width() for p in ax.patches)
    assert widths == pytest.approx([1.0, 2.0])
    assert "test CPU" in ax.get_title() and "2 threads" in ax.get_title()
    with pytest.raises(ValueError):
        viz.plot_activation_timing([])


def test_widget_builds_and_updates():
    pytest.importorskip("ipywidgets")
    w = viz.activation_widget()
    (pair,) = w.children[0].children
    center, half_width = w.children[1].children
    pair.value = "sigmoid"
    center.value = 1.0
    half_width.value = 2.0  # each change re-runs the callback; any exception would surface here


def test_plot_activation_sites_skips_pooled_maps_and_totals_by_kind():
    from mobilenet_lib.experiments.hard_swish import ActivationSite

    sites = [
        ActivationSite("a", "ReLU", (1, 8, 4, 4)),
        ActivationSite("se.fc", "ReLU", (1, 8, 1, 1)),  # inside SE: left out
        ActivationSite("b", "h-swish", (1, 2, 2, 2)),
    ]
    fig = viz.plot_activation_sites(sites, title="toy")
    (ax,) = fig.axes
    assert [p.get_height() for p in ax.patches] == pytest.approx([0.128, 0.008])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["ReLU: 0.00M values", "h-swish: 0.00M values"]
    with pytest.raises(ValueError):
        viz.plot_activation_sites([sites[1]])
