"""Figures and the zoom widget of the h-swish chapter.

Pure plotting functions that return a matplotlib ``Figure`` (so they can be pre-rendered over a
parameter grid) and a thin ipywidgets wrapper. matplotlib and ipywidgets are imported inside the
functions, so importing this module stays cheap.

- :func:`plot_activations`  a smooth activation against its hard version: values, derivatives
                            and their difference, over any window (the widget zooms it).
- :func:`plot_int8_error`   the int8 kernels' output error over every input code.
- :func:`plot_activation_timing`  bar chart of :func:`~mobilenet_lib.experiments.hard_swish.time_activations`.
- :func:`plot_activation_sites`  how many values each activation of a network touches, by kind.
- :func:`activation_widget`  the zoom-and-compare widget around :func:`plot_activations`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from mobilenet_lib import activations
from mobilenet_lib.validation import integer, number
from mobilenet_lib.viz.style import new_figure

if TYPE_CHECKING:  # imported lazily at run time
    from matplotlib.figure import Figure

    from mobilenet_lib.experiments.hard_swish import ActivationSite, ActivationTiming

__all__ = [
    "PAIRS",
    "pair_functions",
    "plot_activations",
    "plot_int8_error",
    "plot_activation_timing",
    "plot_activation_sites",
    "activation_widget",
]

#: The comparisons :func:`plot_activations` draws: pair name -> (smooth name, hard name).
PAIRS: dict[str, tuple[str, str]] = {
    "swish": ("swish", "h-swish"),
    "sigmoid": ("sigmoid", "h-sigmoid"),
}

_SMOOTH_COLOR = "#1f77b4"
_HARD_COLOR = "#d62728"


_Fn = Callable[[torch.Tensor], torch.Tensor]


def pair_functions(pair: str) -> tuple[_Fn, _Fn]:
    """The (smooth, hard) functions of a :data:`PAIRS` entry, from :mod:`mobilenet_lib.activations`."""
    if pair == "swish":
        return activations.swish, activations.h_swish
    if pair == "sigmoid":
        return torch.sigmoid, activations.h_sigmoid
    raise ValueError(f"pair must be one of {sorted(PAIRS)}, got {pair!r}")


def _values_and_slopes(fn: _Fn, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # autograd gives the derivative of the library's own implementation (one-sided at kinks)
    x = x.detach().clone().requires_grad_(True)
    y = fn(x)
    (slope,) = torch.autograd.grad(y.sum(), x)
    return y.detach(), slope.detach()


def plot_activations(
    pair: str = "swish", center: float = 0.0, half_width: float = 6.0, points: int = 601
) -> Figure:
    """Smooth vs hard activation on ``[center - half_width, center + half_width]``.

    Three panels: the two functions, their derivatives (by autograd through the library's
    implementations) and the difference smooth - hard, with its largest absolute value in the
    window marked. ``pair`` is ``"swish"`` or ``"sigmoid"``.
    """
    smooth_fn, hard_fn = pair_functions(pair)
    half_width = number("half_width", half_width, low=0.01, high=100.0)
    center = number("center", center, low=-100.0, high=100.0)
    points = integer("points", points, low=11)
    smooth_name, hard_name = PAIRS[pair]
    x = torch.linspace(center - half_width, center + half_width, points, dtype=torch.float64)
    ys, ds = _values_and_slopes(smooth_fn, x)
    yh, dh = _values_and_slopes(hard_fn, x)
    diff = ys - yh
    i = int(diff.abs().argmax())

    # a fixed layout: constrained layout would double the widget's redraw time
    fig = new_figure(9.6, 3.4, fixed_layout=True)
    axes = fig.subplots(1, 3)
    fig.subplots_adjust(left=0.065, right=0.99, bottom=0.15, top=0.91, wspace=0.25)
    xs = x.numpy()
    for ax, (a, b), title in (
        (axes[0], (ys, yh), "value"),
        (axes[1], (ds, dh), "derivative"),
    ):
        ax.plot(xs, a.numpy(), color=_SMOOTH_COLOR, lw=2, label=smooth_name)
        ax.plot(xs, b.numpy(), color=_HARD_COLOR, lw=2, ls="--", label=hard_name)
        ax.set_title(title)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=9)
    axes[2].plot(xs, diff.numpy(), color="#444444", lw=2)
    axes[2].axhline(0, color="#999999", lw=0.8)
    axes[2].plot([xs[i]], [float(diff[i])], "o", color="black")
    axes[2].annotate(
        f"max |diff| = {abs(float(diff[i])):.4f}\nat x = {xs[i]:.3f}",
        (xs[i], float(diff[i])),
        textcoords="offset points",
        xytext=(8, -28 if diff[i] > 0 else 8),
        fontsize=9,
    )
    axes[2].set_title(f"{smooth_name} - {hard_name}")
    axes[2].set_xlabel("x")
    axes[2].grid(alpha=0.3)
    for ax in axes:
        ax.set_xlim(xs[0], xs[-1])
        for kink in (-3.0, 3.0):  # where the hard versions bend
            if xs[0] <= kink <= xs[-1]:
                ax.axvline(kink, color=_HARD_COLOR, lw=0.6, alpha=0.4)
    return fig


def plot_int8_error(
    grids: dict[str, Any] | None = None,
    kernels: Sequence[str] = ("swish_plan", "swish_lut", "h_swish"),
) -> Figure:
    """Error of each int8 kernel over every input code, in output steps (LSB), one panel per grid.

    ``grids`` maps a title to an :class:`~mobilenet_lib.experiments.hard_swish.Int8Grid` (input and
    output on the same grid); the default shows the book's round grid and a max-calibrated one.
    The band +-0.5 LSB is what rounding alone costs.
    """
    from mobilenet_lib.experiments import hard_swish as q8

    if grids is None:
        grids = {
            "grid step 6/128: -3 and +3 on the grid": q8.ROUND_GRID,
            "grid step 6/127: +-3 fall between codes": q8.CALIBRATED_GRID,
        }
    if not grids:
        raise ValueError("grids must name at least one Int8Grid")
    labels = {
        "swish_plan": "swish, PLAN sigmoid",
        "swish_lut": "swish, sigmoid table",
        "h_swish": "h-swish, integer ops",
    }
    colors = {"swish_plan": "#ff7f0e", "swish_lut": _SMOOTH_COLOR, "h_swish": _HARD_COLOR}
    fig = new_figure(4.8 * len(grids), 3.6)
    axes = fig.subplots(1, len(grids), squeeze=False)
    for ax, (title, grid) in zip(axes[0], grids.items(), strict=True):
        ax.axhspan(-0.5, 0.5, color="#dddddd", label="rounding alone (±0.5)")
        for kernel in kernels:
            x, err = q8.int8_error_curve(kernel, grid, grid)
            label = labels.get(kernel, kernel)
            ax.plot(x.numpy(), err.numpy(), ".", ms=3, color=colors.get(kernel), label=label)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("input x (every int8 code)")
        ax.set_ylabel("output error (output steps)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower left")
    return fig


def plot_activation_timing(rows: Sequence[ActivationTiming], machine: str = "") -> Figure:
    """Horizontal bars: milliseconds per million values for each timed implementation."""
    if not rows:
        raise ValueError("rows is empty: pass the list returned by time_activations()")
    fig = new_figure(8, 0.45 * len(rows) + 1.2)
    ax = fig.subplots()
    names = [r.name for r in rows][::-1]
    values = [r.ms_per_million for r in rows][::-1]
    colors = [_SMOOTH_COLOR if r.family == "swish" else _HARD_COLOR for r in rows][::-1]
    ax.barh(names, values, color=colors)
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.2f}", va="center", fontsize=9)
    ax.set_xlabel("ms per million fp32 values (median)")
    threads = rows[0].threads
    where = f"{threads} thread{'s' if threads > 1 else ''}"
    ax.set_title(f"{machine}, {where}" if machine else where, fontsize=10)
    ax.set_xlim(0, max(values) * 1.2)
    return fig


_KIND_COLORS = {"ReLU": "#1f77b4", "ReLU6": "#1f77b4", "h-swish": _HARD_COLOR, "swish": "#ff7f0e",
                "h-sigmoid": "#9467bd", "sigmoid": "#9467bd"}


def plot_activation_sites(sites: Sequence[ActivationSite], title: str = "") -> Figure:
    """One bar per activation call (in order): the number of values it activates, by kind.

    Calls on pooled vectors (inside squeeze-and-excitation and in the classifier) are left out:
    they activate a few hundred values each. The legend gives each kind's total.
    """
    from matplotlib.patches import Patch

    shown = [s for s in sites if s.on_map]
    if not shown:
        raise ValueError("no activation on a spatial map to plot: pass activation_sites(model)")
    fig = new_figure(9.6, 3.4)
    ax = fig.subplots()
    ax.bar(range(len(shown)), [s.values / 1e3 for s in shown],
           color=[_KIND_COLORS.get(s.kind, "#7f7f7f") for s in shown])
    totals: dict[str, int] = {}
    for s in shown:
        totals[s.kind] = totals.get(s.kind, 0) + s.values
    ax.legend(handles=[Patch(color=_KIND_COLORS.get(k, "#7f7f7f"), label=f"{k}: {v / 1e6:.2f}M values")
                       for k, v in totals.items()], fontsize=9)
    ticks = list(range(0, len(shown), 4))
    ax.set_xticks(ticks, [f"{shown[i].shape[2]}²" for i in ticks], fontsize=8)
    ax.set_xlabel("activation calls in order (tick labels: map size)")
    ax.set_ylabel("values activated (thousands)")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def activation_widget() -> Any:
    """Zoom-and-compare widget: pick the pair, move the window's centre and half-width."""
    import ipywidgets as widgets
    from IPython.display import display

    pair = widgets.ToggleButtons(options=list(PAIRS), value="swish", description="pair")
    center = widgets.FloatSlider(
        value=0.0, min=-8.0, max=8.0, step=0.25, description="centre", continuous_update=False
    )
    half_width = widgets.FloatLogSlider(
        value=6.0, base=10, min=-1, max=1, step=0.05, description="half-width", continuous_update=False
    )
    out = widgets.Output()

    def update(*_: Any) -> None:
        with out:
            out.clear_output(wait=True)
            fig = plot_activations(pair.value, center.value, half_width.value)
            display(fig)

    for w in (pair, center, half_width):
        w.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([pair]), widgets.HBox([center, half_width]), out])
