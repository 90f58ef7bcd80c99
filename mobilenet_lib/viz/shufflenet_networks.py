"""Figures of ``book/shufflenet_networks.ipynb``: the ShuffleNet V1 and V2 units as block diagrams
drawn from the library's blocks (every width is read off a built unit), and V1 against V2 by
group count: counted costs and measured time.

Figures are bare matplotlib figures from :func:`mobilenet_lib.viz.style.new_figure` (at most the
text column's width, text at least ``MIN_FONT_PT``), shown as SVG by the notebook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mobilenet_lib.blocks import ShuffleV1Block, ShuffleV2Block
from mobilenet_lib.validation import one_of, positive_int
from mobilenet_lib.viz.style import KIND_COLORS, MIN_FONT_PT, new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["UnitDiagram", "v1_unit_diagram", "v2_unit_diagram", "plot_units", "plot_group_counts"]

_FONT = max(MIN_FONT_PT, 8.0)
_OTHER = "#e8e8e8"  # boxes that are not convolutions (shuffle, pooling, joins)
_LIGHT = {  # pale versions of the layer-kind colours, so black text stays readable
    "group": "#c7e9c0",
    "depthwise": "#c6dbef",
    "pointwise": "#fdd0a2",
    "other": _OTHER,
}


@dataclass
class UnitDiagram:
    """What a unit's diagram shows: boxes (text, kind) on a left and a right path between an
    input and an output, an optional split before them and the join after them."""

    title: str
    input: str
    output: str
    right: list[tuple[str, str]]
    left: list[tuple[str, str]] = field(default_factory=list)
    left_label: str = ""
    split: str = ""
    join: str = ""
    after: list[tuple[str, str]] = field(default_factory=list)


def _conv_text(conv: Any, name: str, extra: str) -> str:
    return f"{name}\n{conv.in_channels} → {conv.out_channels}{extra}"


def v1_unit_diagram(unit: ShuffleV1Block, side: int) -> UnitDiagram:
    """The diagram of a built :class:`ShuffleV1Block` whose input map is ``side`` × ``side``."""
    if not isinstance(unit, ShuffleV1Block):
        raise TypeError(f"unit must be a ShuffleV1Block, got {type(unit).__name__}")
    side = positive_int("side", side)
    b = unit.branch
    out_side = side if unit.stride == 1 else (side + 1) // 2
    g1 = b.compress[0].groups
    first = ("1×1 GConv" if g1 > 1 else "1×1 Conv (dense)", "group" if g1 > 1 else "pointwise")
    right = [
        (_conv_text(b.compress[0], first[0], f", g = {g1}" if g1 > 1 else "") + "\nBN, ReLU", first[1]),
        (f"channel shuffle\ng = {unit.groups}" if unit.groups > 1 else "(no shuffle: g = 1)", "other"),
        (f"3×3 DWConv\nstride {unit.stride}, {unit.mid_channels} ch\nBN (no ReLU)", "depthwise"),
        (_conv_text(b.expand[0], "1×1 GConv" if unit.groups > 1 else "1×1 Conv", f", g = {unit.groups}"
                    if unit.groups > 1 else "") + "\nBN", "group" if unit.groups > 1 else "pointwise"),
    ]
    if unit.stride == 1:
        left, left_label, join = [], "identity", f"add ({unit.out_channels})"
    else:
        left, left_label = [("3×3 AvgPool\nstride 2", "other")], ""
        join = f"concat ({unit.in_channels} + {unit.branch_channels})"
    return UnitDiagram(
        title=f"V1 unit, stride {unit.stride}", input=f"{unit.in_channels} ch, {side}×{side}",
        output=f"{unit.out_channels} ch, {out_side}×{out_side}", right=right, left=left, left_label=left_label,
        join=join, after=[("ReLU", "other")],
    )


def v2_unit_diagram(unit: ShuffleV2Block, side: int) -> UnitDiagram:
    """The diagram of a built :class:`ShuffleV2Block` whose input map is ``side`` × ``side``."""
    if not isinstance(unit, ShuffleV2Block):
        raise TypeError(f"unit must be a ShuffleV2Block, got {type(unit).__name__}")
    side = positive_int("side", side)
    out_side = side if unit.stride == 1 else (side + 1) // 2
    b2 = unit.branch2
    right = [
        (_conv_text(b2[0], "1×1 Conv", "") + "\nBN, ReLU", "pointwise"),
        (f"3×3 DWConv\nstride {unit.stride}, {b2[3].in_channels} ch\nBN (no ReLU)", "depthwise"),
        (_conv_text(b2[5], "1×1 Conv", "") + "\nBN, ReLU", "pointwise"),
    ]
    half = unit.out_channels // 2
    if unit.stride == 1:
        left, left_label = [], "identity"
        split = f"channel split ({half} | {half})"
    else:
        b1 = unit.branch1
        left = [
            (f"3×3 DWConv\nstride 2, {b1[0].in_channels} ch\nBN (no ReLU)", "depthwise"),
            (_conv_text(b1[2], "1×1 Conv", "") + "\nBN, ReLU", "pointwise"),
        ]
        left_label, split = "", ""
    return UnitDiagram(
        title=f"V2 unit, stride {unit.stride}", input=f"{unit.in_channels} ch, {side}×{side}",
        output=f"{unit.out_channels} ch, {out_side}×{out_side}", right=right, left=left, left_label=left_label,
        split=split, join=f"concat ({half} + {half})", after=[("channel shuffle\ng = 2", "other")],
    )


def _box(ax: Axes, x: float, y: float, w: float, h: float, text: str, kind: str) -> None:
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.0,rounding_size=0.12",
                                facecolor=_LIGHT.get(kind, _OTHER), edgecolor=KIND_COLORS.get(kind, "#555555")
                                if kind != "other" else "#888888", linewidth=1.0))
    ax.text(x, y, text, ha="center", va="center", fontsize=_FONT, linespacing=1.15)


def _arrow(ax: Axes, x0: float, y0: float, x1: float, y1: float) -> None:
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                arrowprops={"arrowstyle": "-|>", "color": "#444444", "lw": 0.9, "shrinkA": 0, "shrinkB": 0})


def _line(ax: Axes, xs: Sequence[float], ys: Sequence[float]) -> None:
    ax.plot(xs, ys, color="#444444", lw=0.9, solid_capstyle="butt")


def _column(ax: Axes, x: float, w: float, boxes: Sequence[tuple[str, str]], top: float, bottom: float,
            bh: float, label: str = "") -> None:
    """Boxes spread evenly down one path from ``top`` to ``bottom``, joined by arrows."""
    if not boxes:
        _arrow(ax, x, top, x, bottom)
        if label:
            ax.text(x - 0.1, (top + bottom) / 2, label, ha="right", va="center", fontsize=_FONT, color="#444444")
        return
    free = (bottom - top - len(boxes) * bh) / (len(boxes) + 1)
    y = top
    for text, kind in boxes:
        c = y + free + bh / 2
        _arrow(ax, x, y, x, c - bh / 2)
        _box(ax, x, c, w, bh, text, kind)
        y = c + bh / 2
    _line(ax, [x, x], [y, bottom])


def _draw(ax: Axes, d: UnitDiagram) -> None:
    """Lay a diagram out top to bottom in data units (x in [0, 4], y downwards): input, optional
    split, a fork into the left and right paths, the join, what follows it, the output."""
    bh, gap, w_main, w_side = 1.05, 0.4, 2.1, 1.6
    xl, xr, xc = 0.85, 2.8, 2.0
    rows = max(len(d.left), len(d.right))
    ax.text(xc, 0.25, d.input, ha="center", va="center", fontsize=_FONT, fontweight="bold")
    y = 0.5
    if d.split:
        _arrow(ax, xc, y, xc, y + gap)
        _box(ax, xc, y + gap + 0.3, w_main + 1.2, 0.6, d.split, "other")
        y += gap + 0.6
    fork = y + gap / 2
    _line(ax, [xc, xc], [y, fork])
    _line(ax, [xl, xr], [fork, fork])
    bottom = fork + rows * bh + (rows + 1) * gap
    _column(ax, xl, w_side, d.left, fork, bottom, bh, d.left_label)
    _column(ax, xr, w_main, d.right, fork, bottom, bh)
    _line(ax, [xl, xr], [bottom, bottom])
    _arrow(ax, xc, bottom, xc, bottom + gap / 2)
    y = bottom + gap / 2
    _box(ax, xc, y + 0.3, w_main + 1.2, 0.6, d.join, "other")
    y += 0.6
    for text, kind in d.after:
        h = 0.6 if "\n" not in text else 0.85
        _arrow(ax, xc, y, xc, y + gap)
        _box(ax, xc, y + gap + h / 2, w_main, h, text, kind)
        y += gap + h
    _arrow(ax, xc, y, xc, y + gap)
    ax.text(xc, y + gap + 0.25, d.output, ha="center", va="center", fontsize=_FONT, fontweight="bold")
    ax.set_xlim(-0.1, 4.0)
    ax.set_ylim(y + gap + 0.5, 0.0)
    ax.set_title(d.title, fontsize=_FONT + 1.5)
    ax.axis("off")


def plot_units(
    version: str,
    stride1: ShuffleV1Block | ShuffleV2Block,
    stride2: ShuffleV1Block | ShuffleV2Block,
    side1: int,
    side2: int,
) -> Figure:
    """Two units of one version side by side: a stride-1 unit and a stride-2 unit of the library's
    network (``version`` ``"v1"`` or ``"v2"``), their input maps ``side1`` and ``side2`` wide.
    Box colours are the layer kinds of :data:`~mobilenet_lib.viz.style.KIND_COLORS` (green group
    convolutions, blue depthwise, orange dense 1x1); grey boxes do no arithmetic to speak of."""
    version = one_of("version", version, ("v1", "v2"))
    make = v1_unit_diagram if version == "v1" else v2_unit_diagram
    d1, d2 = make(stride1, side1), make(stride2, side2)  # type: ignore[arg-type]
    if stride1.stride != 1 or stride2.stride != 2:
        raise ValueError(f"pass a stride-1 unit, then a stride-2 unit; got strides {stride1.stride}, {stride2.stride}")
    fig = new_figure(7.0, 5.6)
    axes = fig.subplots(1, 2)
    for ax, d in zip(axes, (d1, d2)):
        _draw(ax, d)
    return fig


def plot_group_counts(cost_rows: Sequence[Mapping[str, Any]], measured: Mapping[str, Mapping[str, Any]],
                      machine: str = "") -> Figure:
    """ShuffleNet V1 1x for g = 1 ... 8 beside ShuffleNet V2 1x. Left: mult-adds and memory access
    cost relative to V1 g = 1 (counted). Right: measured median ms per image (from the committed
    results; ``measured`` maps a row's network label to a :func:`measured_rows` row).

    ``cost_rows`` are :func:`~mobilenet_lib.experiments.shufflenet_networks.group_count_rows`.
    """
    if not cost_rows:
        raise ValueError("cost_rows is empty: pass group_count_rows()")
    fig = new_figure(7.0, 3.0)
    ax1, ax2 = fig.subplots(1, 2)
    labels = [r["network"].replace("V1 g = ", "g=") for r in cost_rows]
    base = cost_rows[0]
    xs = range(len(cost_rows))
    width = 0.38
    ax1.bar([x - width / 2 for x in xs], [r["macs"] / base["macs"] for r in cost_rows], width,
            color=KIND_COLORS["pointwise"], label="mult-adds")
    ax1.bar([x + width / 2 for x in xs], [r["one_by_one_mac"] / base["one_by_one_mac"] for r in cost_rows], width,
            color=KIND_COLORS["group"], label="memory access cost, 1×1 layers")
    ax1.axhline(1.0, color="#444444", lw=0.8, ls=":")
    ax1.set_xticks(list(xs), labels)
    ax1.set_ylabel("relative to V1 g=1")
    ax1.set_title("counted")
    ax1.legend(loc="upper left", fontsize=_FONT, frameon=False)
    ax1.set_ylim(0, max(r["one_by_one_mac"] / base["one_by_one_mac"] for r in cost_rows) * 1.35)
    ms = [measured[r["network"]]["ms"] for r in cost_rows]
    iqr = [measured[r["network"]]["iqr_ms"] for r in cost_rows]
    colors = [KIND_COLORS["group"] if r["network"].startswith("V1") else "#d62728" for r in cost_rows]
    ax2.bar(list(xs), ms, 0.6, yerr=[[i / 2 for i in iqr], [i / 2 for i in iqr]], color=colors, capsize=2,
            error_kw={"lw": 0.8})
    ax2.set_xticks(list(xs), labels)
    ax2.set_ylabel("ms per image (median)")
    ax2.set_title("measured" + (f" ({machine})" if machine else ""))
    for ax in (ax1, ax2):
        ax.spines[["top", "right"]].set_visible(False)
    return fig
