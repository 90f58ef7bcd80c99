"""Group convolution, drawn: which input channels each output channel sees, and what it costs.

For the "road to MobileNet" chapter. A convolution with ``groups = g`` splits its C_in inputs and
C_out outputs into g groups and connects each output only to the inputs of its own group: g times
fewer weights and mult-adds. ``groups = 1`` is the ordinary convolution, ``groups = C_in = C_out``
the depthwise one.

- :func:`connectivity`        which inputs each output depends on, measured on a real ``nn.Conv2d``
- :func:`group_conv_summary`  params and mult-adds (from :mod:`mobilenet_lib.costs`) next to groups = 1
- :func:`plot_group_conv`     the picture: inputs left, outputs right, one colour per group
- :func:`group_conv_widget`   sliders for C_in and C_out, a menu of the valid group counts

matplotlib and ipywidgets are imported inside the functions.
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from mobilenet_lib.costs import conv2d_cost
from mobilenet_lib.viz.style import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "MAX_CHANNELS",
    "valid_groups",
    "connectivity",
    "group_conv_summary",
    "plot_group_conv",
    "group_conv_widget",
]

#: The largest channel count the picture draws (more lines than this stop being readable).
MAX_CHANNELS = 64

#: Above this many filters the picture shades each group's band instead of drawing every line.
_MAX_LINES = 600

_GROUP_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _channels(name: str, value: Any, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum} for the picture, got {value}")
    return int(value)


def valid_groups(c_in: int, c_out: int) -> list[int]:
    """The group counts a convolution c_in → c_out allows: the common divisors of both."""
    c_in, c_out = _channels("c_in", c_in), _channels("c_out", c_out)
    g = math.gcd(c_in, c_out)
    return [d for d in range(1, g + 1) if g % d == 0]


def _check(c_in: Any, c_out: Any, groups: Any, maximum: int | None = None) -> tuple[int, int, int]:
    c_in, c_out = _channels("c_in", c_in, maximum), _channels("c_out", c_out, maximum)
    groups = _channels("groups", groups)
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"groups={groups} must divide both c_in={c_in} and c_out={c_out}; valid: {valid_groups(c_in, c_out)}"
        )
    return c_in, c_out, groups


def connectivity(c_in: int, c_out: int, groups: int, kernel_size: int = 3) -> torch.Tensor:
    """Boolean ``(c_out, c_in)`` matrix: True where output channel j depends on input channel i.

    Measured, not assumed: an ``nn.Conv2d`` with all-one weights is applied to ``c_in`` one-hot
    inputs (one channel lit at a time), and an output channel that lights up depends on it.
    """
    c_in, c_out, groups = _check(c_in, c_out, groups)
    k = _channels("kernel_size", kernel_size)
    conv = nn.Conv2d(c_in, c_out, k, padding=k // 2, groups=groups, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        x = torch.eye(c_in).reshape(c_in, c_in, 1, 1)  # image i lights input channel i
        y = conv(x)[:, :, 0, 0]  # (input i, output j)
    return (y != 0).T.contiguous()


def group_conv_summary(c_in: int, c_out: int, groups: int, size: int = 56, kernel_size: int = 3) -> dict[str, Any]:
    """Params and mult-adds of a k×k convolution at ``size``×``size`` output, beside groups = 1.

    Keys: ``params``, ``macs``, ``dense_params``, ``dense_macs``, ``saving`` (dense / grouped, = groups),
    ``inputs_per_output`` (c_in / groups), ``kind`` ("standard", "group" or "depthwise").
    """
    c_in, c_out, groups = _check(c_in, c_out, groups)
    size, k = _channels("size", size), _channels("kernel_size", kernel_size)
    cost = conv2d_cost(c_in, c_out, k, size, size, groups=groups)
    dense = conv2d_cost(c_in, c_out, k, size, size)
    kind = "standard" if groups == 1 else ("depthwise" if groups == c_in else "group")
    return {
        "c_in": c_in,
        "c_out": c_out,
        "groups": groups,
        "params": cost.params,
        "macs": cost.macs,
        "dense_params": dense.params,
        "dense_macs": dense.macs,
        "saving": dense.macs / cost.macs,
        "inputs_per_output": c_in // groups,
        "kind": kind,
    }


def plot_group_conv(c_in: int = 8, c_out: int = 8, groups: int = 2, size: int = 56) -> Figure:
    """Inputs (left) wired to the outputs (right) they feed, one colour per group, with the costs.

    Each line is one k×k filter slice (one input channel's contribution to one output channel);
    a standard convolution draws every line, a group convolution 1/groups of them. Each group's
    band is shaded; above 600 lines only the bands are drawn. The title gives
    the params and mult-adds of a 3×3 convolution at ``size``×``size`` output.
    """
    from matplotlib.collections import LineCollection

    c_in, c_out, groups = _check(c_in, c_out, groups, MAX_CHANNELS)
    info = group_conv_summary(c_in, c_out, groups, size)
    links = connectivity(c_in, c_out, groups)

    fig = new_figure(6.4, 5.2)
    ax = fig.add_subplot()
    # channels spread evenly on [0, 1], first channel at the top
    y_in = [1 - (i + 0.5) / c_in for i in range(c_in)]
    y_out = [1 - (j + 0.5) / c_out for j in range(c_out)]
    per_in, per_out = c_in // groups, c_out // groups
    # Each group is a complete bipartite graph between its inputs and outputs: shade its band,
    # and draw the individual filters while there are few enough to see (and to draw quickly).
    pad_in, pad_out = 0.4 / c_in, 0.4 / c_out
    for k in range(groups):
        color = _GROUP_COLORS[k % len(_GROUP_COLORS)]
        top_in, bottom_in = y_in[k * per_in] + pad_in, y_in[(k + 1) * per_in - 1] - pad_in
        top_out, bottom_out = y_out[k * per_out] + pad_out, y_out[(k + 1) * per_out - 1] - pad_out
        ax.fill([0.0, 1.0, 1.0, 0.0], [top_in, top_out, bottom_out, bottom_in], color=color, alpha=0.18, lw=0)
    if int(links.sum()) <= _MAX_LINES:
        segments, colors = [], []
        for j, i in links.nonzero().tolist():
            segments.append([(0.0, y_in[i]), (1.0, y_out[j])])
            colors.append(_GROUP_COLORS[(j // per_out) % len(_GROUP_COLORS)])
        ax.add_collection(LineCollection(segments, colors=colors, linewidths=1.0, alpha=0.8))
    dot = max(8.0, 80.0 - 1.1 * max(c_in, c_out))
    in_colors = [_GROUP_COLORS[(i // per_in) % len(_GROUP_COLORS)] for i in range(c_in)]
    out_colors = [_GROUP_COLORS[(j // per_out) % len(_GROUP_COLORS)] for j in range(c_out)]
    ax.scatter([0.0] * c_in, y_in, s=dot, c=in_colors, zorder=3, edgecolors="black", linewidths=0.4)
    ax.scatter([1.0] * c_out, y_out, s=dot, c=out_colors, zorder=3, edgecolors="black", linewidths=0.4)
    ax.text(0.0, 1.03, f"{c_in} inputs", ha="center", va="bottom", fontsize=10)
    ax.text(1.0, 1.03, f"{c_out} outputs", ha="center", va="bottom", fontsize=10)
    ax.set_xlim(-0.15, 1.15)
    ax.set_ylim(-0.02, 1.08)
    ax.axis("off")
    ax.set_title(
        f"3×3 {info['kind']} convolution, groups = {groups}: each output sees {info['inputs_per_output']} "
        f"of {c_in} inputs\n{info['params']:,} params, {info['macs']:,} mult-adds at {size}×{size} "
        f"({info['saving']:g}× fewer than groups = 1)",
        fontsize=10,
    )
    return fig


def group_conv_widget(c_in: int = 8, c_out: int = 8, groups: int = 2, size: int = 56) -> Any:
    """Sliders for C_in and C_out (up to :data:`MAX_CHANNELS`), a menu of the valid group counts."""
    import ipywidgets as widgets
    from IPython.display import display

    c_in, c_out, groups = _check(c_in, c_out, groups, MAX_CHANNELS)
    cin = widgets.IntSlider(value=c_in, min=1, max=MAX_CHANNELS, description="C_in")
    cout = widgets.IntSlider(value=c_out, min=1, max=MAX_CHANNELS, description="C_out")
    grp = widgets.Dropdown(options=valid_groups(c_in, c_out), value=groups, description="groups")
    out = widgets.Output()

    def redraw(*_: Any) -> None:
        with out:
            out.clear_output(wait=True)
            display(plot_group_conv(cin.value, cout.value, grp.value, size))

    def channels_changed(*_: Any) -> None:
        options = valid_groups(cin.value, cout.value)
        keep = grp.value if grp.value in options else max(g for g in options if g <= max(1, grp.value))
        grp.unobserve(redraw, names="value")  # one redraw for the whole change, below
        try:
            grp.options = options  # (this resets the value to the first option)
            grp.value = keep
        finally:
            grp.observe(redraw, names="value")
        redraw()

    cin.observe(channels_changed, names="value")
    cout.observe(channels_changed, names="value")
    grp.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([cin, cout, grp]), out])
