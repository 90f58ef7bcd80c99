"""Group convolution, drawn: which input channels each output channel sees, and what it costs.

For the "road to MobileNet" chapter. A convolution with ``groups = g`` splits its C_in inputs and
C_out outputs into g groups and connects each output only to the inputs of its own group: g times
fewer weights and mult-adds. ``groups = 1`` is the ordinary convolution, ``groups = C_in = C_out``
the depthwise one. The numbers (:func:`~mobilenet_lib.experiments.road_to_mobilenet.connectivity`,
:func:`~mobilenet_lib.experiments.road_to_mobilenet.group_conv_summary`) come from the chapter's study.

- :func:`plot_group_conv`     the picture: inputs left, outputs right, one colour per group
- :func:`group_conv_widget`   sliders for C_in and C_out, a menu of the valid group counts

matplotlib and ipywidgets are imported inside the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mobilenet_lib.experiments.road_to_mobilenet import (
    check_group_conv,
    connectivity,
    group_conv_summary,
    valid_groups,
)
from mobilenet_lib.viz.style import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "MAX_CHANNELS",
    "plot_group_conv",
    "group_conv_widget",
]

#: The largest channel count the picture draws (more lines than this stop being readable).
MAX_CHANNELS = 64

#: Above this many filters the picture shades each group's band instead of drawing every line.
_MAX_LINES = 600

_GROUP_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def plot_group_conv(c_in: int = 8, c_out: int = 8, groups: int = 2, size: int = 56) -> Figure:
    """Inputs (left) wired to the outputs (right) they feed, one colour per group, with the costs.

    Each line is one k×k filter slice (one input channel's contribution to one output channel);
    a standard convolution draws every line, a group convolution 1/groups of them. Each group's
    band is shaded; above 600 lines only the bands are drawn. The title gives
    the params and mult-adds of a 3×3 convolution at ``size``×``size`` output.
    """
    from matplotlib.collections import LineCollection

    c_in, c_out, groups = check_group_conv(c_in, c_out, groups, MAX_CHANNELS)
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

    c_in, c_out, groups = check_group_conv(c_in, c_out, groups, MAX_CHANNELS)
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
