"""Tests for mobilenet_lib.viz.manifold_collapse: figures and the widget of the manifold chapter."""

from __future__ import annotations

import io

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402

from mobilenet_lib.experiments.manifold_collapse import (  # noqa: E402
    collapse_curve,
    manifold_collapse,
)
from mobilenet_lib.viz.manifold_collapse import (
    WIDGET_DIMS,
    manifold_widget,
    plot_collapse_curves,
    plot_dimension_grid,
    plot_reconstruction,
)


def _render(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")  # what the inline backend does for every update
    return buffer.getvalue()


def test_plot_reconstruction_draws_input_and_aligned_reconstruction():
    fig = plot_reconstruction(n=3, seed=1, activation="relu")
    assert isinstance(fig, Figure)
    ax_in, ax_out = fig.axes
    result = manifold_collapse(3, seed=1)
    np.testing.assert_allclose(ax_in.collections[0].get_offsets(), result.points)
    np.testing.assert_allclose(ax_out.collections[0].get_offsets(), result.aligned)
    assert f"{result.relative_error:.3f}" in ax_out.get_title()
    assert "n = 3" in ax_out.get_title()
    assert _render(fig).startswith(b"\x89PNG")


def test_dimension_grid_layout():
    fig = plot_dimension_grid(dims=(2, 30), seeds=(0, 4))
    assert len(fig.axes) == 2 * 3
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[1].startswith("n = 2") and titles[2].startswith("n = 30")
    err = manifold_collapse(30, seed=4).relative_error
    assert f"error {err:.2f}" in titles[5]
    with pytest.raises(ValueError):
        plot_dimension_grid(dims=())


def test_collapse_curves_plot():
    curves = [collapse_curve([2, 5, 10], seeds=range(3), activation=a) for a in ("relu", "linear")]
    fig = plot_collapse_curves(curves)
    ax_err, ax_frac = fig.axes
    np.testing.assert_allclose(ax_err.lines[0].get_ydata(), curves[0].relative_error)
    np.testing.assert_allclose(ax_err.lines[1].get_ydata(), 0.0, atol=1e-12)
    # The linear curve has nothing to show in the right panel: two lines, both for ReLU.
    assert len(ax_frac.lines) == 2
    np.testing.assert_allclose(ax_frac.lines[0].get_ydata(), 100 * curves[0].recoverable_fraction)
    with pytest.raises(ValueError):
        plot_collapse_curves([])


def test_widget_sliders_span_the_range_and_drive_the_callback():
    pytest.importorskip("ipywidgets")
    box = manifold_widget()
    sliders = {c.description: c for c in box.children[0].children}
    assert (sliders["n"].min, sliders["n"].max) == WIDGET_DIMS
    # Drive the real callback (the output area records the figures it displays); how much work
    # each move does is bounded in test_widget_responsiveness.py, its time in benchmarks/widgets.py.
    for n in (2, 17, 50):
        sliders["n"].value = n
    sliders["activation"].value = "hswish"
    sliders["seed"].value = 3
    for n in range(WIDGET_DIMS[0], WIDGET_DIMS[1] + 1, 24):
        for activation in ("relu", "relu6", "linear", "hswish"):
            assert _render(plot_reconstruction(n=n, seed=n % 7, activation=activation)).startswith(b"\x89PNG")


def test_widget_rejects_unknown_activation():
    pytest.importorskip("ipywidgets")
    with pytest.raises(ValueError, match="activation"):
        manifold_widget(activation="tanh")
