"""Figures and the widget of the chapter "ShuffleNet: FLOPs are not latency".

The numbers come from :mod:`mobilenet_lib.experiments.shufflenet_latency` (channel flow, the
committed latency and guideline results); this module draws them:

- :func:`plot_channel_flow`       two stacked pointwise group convolutions with and without a
                                  channel shuffle, edges coloured by the input group they carry
- :func:`channel_shuffle_widget`  sliders for the group count and the channels per group
- :func:`plot_latency_vs_macs`, :func:`plot_achieved_gflops`  the model family's latency
- :func:`plot_guideline`          one guideline measured here beside the paper's numbers

matplotlib and ipywidgets are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from mobilenet_lib.blocks import channel_shuffle
from mobilenet_lib.experiments.shufflenet_latency import DISPLAY_NAMES, latency_payload
from mobilenet_lib.validation import integer
from mobilenet_lib.viz.style import COLUMN_WIDTH_IN, label_points, new_figure, plain_log_axis

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mobilenet_lib.experiments.shufflenet_latency import GuidelineResult

__all__ = [
    "MAX_GROUPS",
    "MAX_PER_GROUP",
    "plot_channel_flow",
    "channel_shuffle_widget",
    "plot_latency_vs_macs",
    "plot_achieved_gflops",
    "plot_guideline",
]

#: Widget ranges (the picture stays readable up to 6 groups of 4 channels).
MAX_GROUPS = 6
MAX_PER_GROUP = 4

_GROUP_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


# --------------------------------------------------------------------------------------------
# Channel flow through two pointwise group convolutions
# --------------------------------------------------------------------------------------------


def _flow_panel(ax: Any, groups: int, per_group: int, shuffle: bool) -> int:
    """Draw one case; return how many input groups the first output channel sees."""
    from matplotlib.collections import LineCollection

    c = groups * per_group
    ys = [1 - (i + 0.5) / c for i in range(c)]
    xs = (0.0, 1.0, 1.7, 2.7)  # input, after GConv1, after shuffle, after GConv2
    # what each channel carries, as a set of input groups, stage by stage
    carried = [{i // per_group} for i in range(c)]
    segments, colors = [], []

    def gconv(x0: float, x1: float, sources: list[set[int]]) -> list[set[int]]:
        out = []
        for j in range(c):
            g = j // per_group
            got: set[int] = set()
            for i in range(g * per_group, (g + 1) * per_group):
                for src in sorted(sources[i]):
                    segments.append([(x0, ys[i]), (x1, ys[j])])
                    colors.append(_GROUP_COLORS[src % len(_GROUP_COLORS)])
                got |= sources[i]
            out.append(got)
        return out

    after1 = gconv(xs[0], xs[1], carried)
    # the permutation: channel_shuffle of the channel indices themselves
    order = channel_shuffle(torch.arange(c, dtype=torch.float32).reshape(1, c, 1, 1), groups).flatten().long().tolist()
    if not shuffle:
        order = list(range(c))
    after_shuffle = []
    for new, old in enumerate(order):
        for src in sorted(after1[old]):
            segments.append([(xs[1], ys[old]), (xs[2], ys[new])])
            colors.append(_GROUP_COLORS[src % len(_GROUP_COLORS)])
        after_shuffle.append(after1[old])
    final = gconv(xs[2], xs[3], after_shuffle)

    ax.add_collection(LineCollection(segments, colors=colors, linewidths=1.0, alpha=0.55))
    for x, stage in zip(xs, (carried, after1, after_shuffle, final)):
        dots = [_GROUP_COLORS[min(s) % len(_GROUP_COLORS)] if len(s) == 1 else "white" for s in stage]
        ax.scatter([x] * c, ys, s=36, c=dots, edgecolors="black", linewidths=0.6, zorder=3)
    for x, label in zip(xs, ("input", "GConv 1", "shuffle" if shuffle else "(no shuffle)", "GConv 2")):
        ax.text(x, 1.02, label, ha="center", va="bottom", fontsize=9)
    ax.set_xlim(-0.2, 2.9)
    ax.set_ylim(-0.03, 1.1)
    ax.axis("off")
    return len(final[0])


def plot_channel_flow(groups: int = 3, per_group: int = 2) -> Figure:
    """Two stacked 1×1 group convolutions, without (left) and with (right) a channel shuffle.

    Every edge is coloured by the input group whose information it carries; a filled dot carries
    one group only, a white dot a mix. Without the shuffle each output group is a closed world;
    with it, every output sees every input group after two layers.
    """
    groups = integer("groups", groups, low=1, high=MAX_GROUPS)
    per_group = integer("per_group", per_group, low=1, high=MAX_PER_GROUP)
    fig = new_figure(11.0, 0.35 * groups * per_group + 1.9)
    axes = fig.subplots(1, 2)
    for ax, shuffle in zip(axes, (False, True)):
        seen = _flow_panel(ax, groups, per_group, shuffle)
        ax.set_title(
            f"{'with' if shuffle else 'without'} channel shuffle:\neach output sees {seen} of {groups} input group"
            f"{'s' if groups != 1 else ''}",
            fontsize=9.5,
        )
    fig.suptitle(f"{groups} groups of {per_group} channels", fontsize=10)
    return fig


def channel_shuffle_widget(groups: int = 3, per_group: int = 2) -> Any:
    """Sliders for the group count g (1-6) and the channels per group (1-4) around :func:`plot_channel_flow`."""
    import ipywidgets as widgets
    from IPython.display import display

    g = widgets.IntSlider(value=integer("groups", groups, low=1, high=MAX_GROUPS), min=1, max=MAX_GROUPS, description="groups g")
    n = widgets.IntSlider(
        value=integer("per_group", per_group, low=1, high=MAX_PER_GROUP), min=1, max=MAX_PER_GROUP, description="per group"
    )
    out = widgets.Output()

    def redraw(*_: Any) -> None:
        with out:
            out.clear_output(wait=True)
            display(plot_channel_flow(g.value, n.value))

    g.observe(redraw, names="value")
    n.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([g, n]), out])


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Latency of the model family (benchmarks/latency.py's results)
# --------------------------------------------------------------------------------------------


def plot_latency_vs_macs(payload: Mapping[str, Any]) -> Figure:
    """Measured ms per image against mult-adds, one panel per batch size, log-log axes.

    If time were proportional to mult-adds every point would sit on one line of slope 1; the
    dotted line through ResNet-18 (or the largest model) shows where that would put them.
    """
    models, _, batches = latency_payload(payload)
    # one panel per batch size, stacked: each gets the column's width, so the labels have room
    fig = new_figure(COLUMN_WIDTH_IN, 3.3 * len(batches))
    axes = fig.subplots(len(batches), 1, squeeze=False)[:, 0]
    anchor = next((m for m in models if m.name == "resnet18"), max(models, key=lambda m: m.macs))
    for ax, b in zip(axes, batches):
        for k, m in enumerate(models):
            family = m.name.split("_")[0]
            marker = {"mobilenet": "o", "shufflenet": "s", "resnet18": "D"}.get(family, "^")
            ax.scatter(m.macs / 1e6, m.ms_per_image(b), s=42, marker=marker, color=f"C{k % 10}", zorder=3)
        lo = min(m.macs for m in models) / 1e6 / 1.5
        hi = max(m.macs for m in models) / 1e6 * 1.5
        slope = anchor.ms_per_image(b) / (anchor.macs / 1e6)
        ax.plot([lo, hi], [slope * lo, slope * hi], ":", color="gray", lw=1,
                label=f"time ∝ mult-adds (through {DISPLAY_NAMES.get(anchor.name, anchor.name)})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            plain_log_axis(axis)
        ax.set_xlabel("mult-adds per image (millions)")
        ax.set_ylabel("ms per image (median)")
        ax.set_title(f"batch {b}", fontsize=10)
        ax.legend(fontsize=8, loc="lower right")
        ys = [m.ms_per_image(b) for m in models]
        ax.set_xlim(lo, hi)
        ax.set_ylim(min(ys) / 1.6, max(ys) * 1.6)
        ax.grid(True, which="both", alpha=0.25)
    fig.draw_without_rendering()  # final layout first: the labels are placed in display space
    for ax, b in zip(axes, batches):
        label_points(ax, [m.macs / 1e6 for m in models], [m.ms_per_image(b) for m in models],
                     [DISPLAY_NAMES.get(m.name, m.name) for m in models])
    return fig


def plot_achieved_gflops(payload: Mapping[str, Any]) -> Figure:
    """GFLOP/s each model reaches (2·mult-adds / time) at each batch size, against the matmul peak."""
    models, peak, batches = latency_payload(payload)
    fig = new_figure(8.5, 0.42 * len(models) + 1.6)
    ax = fig.add_subplot()
    height = 0.8 / len(batches)
    names = [DISPLAY_NAMES.get(m.name, m.name) for m in models]
    for k, b in enumerate(batches):
        ys = [i + (k - (len(batches) - 1) / 2) * height for i in range(len(models))]
        ax.barh(ys, [m.gflops(b) for m in models], height=height, label=f"batch {b}", color=f"C{k}")
    ax.axvline(peak, color="black", ls="--", lw=1)
    ax.text(peak, len(models) - 0.4, f" large matmul: {peak:.0f} GFLOP/s", fontsize=8, va="bottom", ha="right")
    ax.set_yticks(range(len(models)), names, fontsize=8.5)
    ax.invert_yaxis()
    ax.set_xlabel("achieved GFLOP/s (2 × mult-adds / median time)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, axis="x", alpha=0.25)
    return fig


# --------------------------------------------------------------------------------------------
# The guideline experiments (benchmarks/guidelines.py's results)
# --------------------------------------------------------------------------------------------


def plot_guideline(runs: Mapping[int, Sequence[GuidelineResult]]) -> Figure:
    """Relative speed of each variant: measured here (one bar per thread count) beside the paper's.

    Speeds are relative to the experiment's first variant (1 = as fast; below 1 = slower). The
    right panel shows the variants' memory access cost relative to the first, the quantity the
    guideline reasons with.
    """
    from mobilenet_lib.experiments.shufflenet_latency import (
        PAPER_TABLES,
        relative_speeds,
    )

    if not runs:
        raise ValueError("runs must map at least one thread count to results")
    first = next(iter(runs.values()))
    guideline = first[0].guideline
    paper = PAPER_TABLES[guideline]
    names = [r.name for r in first]
    series: list[tuple[str, list[float], str]] = []
    for k, (t, results) in enumerate(sorted(runs.items())):
        series.append((f"this CPU, {t} thread{'s' if t != 1 else ''}", relative_speeds(results), f"C{k}"))
    series.append(("paper: GPU", list(paper.relative("gpu")), "#bbbbbb"))
    series.append(("paper: ARM", list(paper.relative("arm")), "#777777"))

    fig = new_figure(11.0, 3.9)
    ax, ax2 = fig.subplots(1, 2, width_ratios=(2.2, 1))
    width = 0.8 / len(series)
    for k, (label, speeds, color) in enumerate(series):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(names))]
        ax.bar(xs, speeds, width=width, label=label, color=color)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks(range(len(names)), names, fontsize=8.5)
    ax.set_ylabel(f"speed relative to {names[0]}")
    ax.legend(fontsize=8, ncols=2)
    ax.grid(True, axis="y", alpha=0.25)
    ax.set_title(f"{guideline}: measured speed beside the paper's (Table {paper.table})", fontsize=10)
    mac = [r.memory_access_cost / first[0].memory_access_cost for r in first]
    macs = [r.macs / first[0].macs for r in first]
    ax2.plot(range(len(names)), mac, "o-", label="memory access cost")
    ax2.plot(range(len(names)), macs, "s--", label="mult-adds")
    ax2.set_xticks(range(len(names)), names, fontsize=8, rotation=20)
    ax2.set_ylabel(f"relative to {names[0]}")
    ax2.legend(fontsize=8)
    ax2.grid(True, alpha=0.25)
    ax2.set_title("what the variants cost on paper", fontsize=10)
    return fig
