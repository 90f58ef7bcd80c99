"""Figures and the widget of the "ReLU and the manifold of interest" chapter.

Every plotting function is a pure function of its parameters returning a matplotlib ``Figure``
(a bare ``Figure``, never registered with pyplot, so repeated widget updates leak nothing); the
widget builder is a thin ipywidgets wrapper around :func:`plot_reconstruction`. matplotlib and
ipywidgets are imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mobilenet_lib.experiments.manifold_collapse import (
    ACTIVATIONS,
    CollapseCurve,
    CollapseResult,
    manifold_collapse,
)
from mobilenet_lib.viz.style import new_figure

if TYPE_CHECKING:  # imported lazily at run time
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "WIDGET_DIMS",
    "plot_reconstruction",
    "plot_dimension_grid",
    "plot_collapse_curves",
    "manifold_widget",
]

#: The range of the widget's ``n`` slider.
WIDGET_DIMS = (2, 50)

_LABELS = {"relu": "ReLU", "relu6": "ReLU6", "linear": "linear (identity)", "hswish": "h-swish"}
_COLORS = {"relu": "tab:red", "relu6": "tab:orange", "linear": "tab:blue", "hswish": "tab:green"}


def _draw_spiral(ax: Axes, points: np.ndarray, *, limit: float) -> None:
    """The points coloured by their position along the spiral, so a fold shows as mixed colours."""
    ax.scatter(points[:, 0], points[:, 1], c=np.arange(len(points)), cmap="viridis", s=5, linewidths=0,
               rasterized=True)  # thousands of dots: one embedded image, not thousands of SVG paths
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def _limit(result: CollapseResult) -> float:
    return 1.15 * float(np.abs(result.points).max())


def plot_reconstruction(n: int = 2, seed: int = 0, activation: str = "relu") -> Figure:
    """The input spiral beside its reconstruction after ``activation`` in ``n`` dimensions.

    The reconstruction is drawn after the best rescaling (see :mod:`mobilenet_lib.experiments.manifold_collapse`),
    on the same axes as the input; its title gives the relative error, the share of hidden
    coordinates zeroed and the share of points that stay recoverable.
    """
    result = manifold_collapse(n, seed=seed, activation=activation)
    fig = new_figure(6.4, 3.4)
    ax_in, ax_out = fig.subplots(1, 2)
    limit = _limit(result)
    _draw_spiral(ax_in, result.points, limit=limit)
    ax_in.set_title("input: the manifold of interest", fontsize=10)
    _draw_spiral(ax_out, result.aligned, limit=limit)
    ax_out.set_title(
        f"{_LABELS[activation]}, n = {n}, seed {seed}\n"
        f"error {result.relative_error:.3f} · zeroed {100 * result.zeroed_fraction:.0f} %"
        f" · recoverable {100 * result.recoverable_fraction:.0f} %",
        fontsize=9,
    )
    return fig


def plot_dimension_grid(
    dims: Sequence[int] = (2, 3, 5, 15, 30), seeds: Sequence[int] = (0, 1, 2), activation: str = "relu"
) -> Figure:
    """The paper's Figure 1 layout, one row per seed: the input, then one reconstruction per
    dimension in ``dims``, each titled with its relative error."""
    dims, seeds = list(dims), list(seeds)
    if not dims or not seeds:
        raise ValueError("dims and seeds must each hold at least one value, e.g. (2, 3, 5, 15, 30) and (0, 1, 2)")
    fig = new_figure(1.75 * (len(dims) + 1), 1.95 * len(seeds))
    axes = fig.subplots(len(seeds), len(dims) + 1, squeeze=False)
    for row, seed in zip(axes, seeds):
        results = [manifold_collapse(n, seed=seed, activation=activation) for n in dims]
        limit = _limit(results[0])
        _draw_spiral(row[0], results[0].points, limit=limit)
        row[0].set_ylabel(f"seed {seed}", fontsize=12)
        for ax, result in zip(row[1:], results):
            _draw_spiral(ax, result.aligned, limit=limit)
            ax.set_title(f"error {result.relative_error:.2f}", fontsize=11)
    axes[0, 0].set_title("input", fontsize=12)
    for ax, n in zip(axes[0, 1:], dims):
        ax.set_title(f"n = {n}\n{ax.get_title()}", fontsize=11)
    return fig


def plot_collapse_curves(curves: Sequence[CollapseCurve]) -> Figure:
    """Left: relative error against ``n`` (mean over seeds, band of one standard deviation), one
    line per curve. Right: for each non-linear curve, the share of zeroed coordinates and the
    share of recoverable points against ``n``."""
    curves = list(curves)
    if not curves or not all(isinstance(c, CollapseCurve) for c in curves):
        raise ValueError("plot_collapse_curves needs a non-empty sequence of CollapseCurve (see collapse_curve)")
    fig = new_figure(10.0, 3.8)
    ax_err, ax_frac = fig.subplots(1, 2)
    for curve in curves:
        color = _COLORS.get(curve.activation, "black")
        label = f"{_LABELS.get(curve.activation, curve.activation)} ({len(curve.seeds)} seeds)"
        mean, std = curve.relative_error, curve.relative_error_std
        ax_err.plot(curve.dims, mean, "o-", ms=3, color=color, label=label)
        ax_err.fill_between(curve.dims, np.clip(mean - std, 0, None), mean + std, color=color, alpha=0.15)
        if curve.activation == "linear":
            continue
        name = _LABELS.get(curve.activation, curve.activation)
        ax_frac.plot(curve.dims, 100 * curve.recoverable_fraction, "o-", ms=3, color=color,
                     label=f"{name}: points recoverable")
        ax_frac.plot(curve.dims, 100 * curve.zeroed_fraction, "--", color=color,
                     label=f"{name}: coordinates zeroed")
    ax_err.set_xlabel("dimension n of the embedding space")
    ax_err.set_ylabel("relative error after best rescaling")
    ax_err.set_ylim(bottom=-0.02)
    ax_err.set_title("Reconstruction error", fontsize=11)
    ax_frac.set_xlabel("dimension n of the embedding space")
    ax_frac.set_ylabel("%")
    ax_frac.set_ylim(-3, 103)
    ax_frac.set_title("What survives the activation", fontsize=11)
    for ax in (ax_err, ax_frac):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=9)
    return fig


def manifold_widget(n: int = 2, seed: int = 0, activation: str = "relu") -> Any:
    """Sliders for ``n`` (2 to 50) and the seed, a menu for the activation; the figure of
    :func:`plot_reconstruction` redraws on every change. Returns the ipywidgets container."""
    import ipywidgets as widgets
    from IPython.display import display

    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    controls = {
        "n": widgets.IntSlider(value=n, min=WIDGET_DIMS[0], max=WIDGET_DIMS[1], description="n"),
        "seed": widgets.IntSlider(value=seed, min=0, max=20, description="seed"),
        "activation": widgets.Dropdown(
            options=[(_LABELS[a], a) for a in ACTIVATIONS], value=activation, description="activation"
        ),
    }
    output = widgets.interactive_output(lambda **kw: display(plot_reconstruction(**kw)), controls)
    return widgets.VBox([widgets.HBox(list(controls.values())), output])
