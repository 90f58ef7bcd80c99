"""Figures and widgets of the squeeze-and-excitation chapter.

Pure plotting functions that return a bare matplotlib ``Figure`` and thin ipywidgets wrappers;
matplotlib and ipywidgets are imported inside the functions. The experiments they draw live in
:mod:`mobilenet_lib.experiments.squeeze_excitation`.

- :func:`plot_se_demo`          a photo through the hand-set SE: gates and maps before/after.
- :func:`plot_gate_comparison`  gates for the photo, the rotated photo and an untrained SE.
- :func:`plot_se_cost`          what SE adds to each block of MobileNet V3, for a reduction r.
- :func:`plot_se_placement`     where the SE module sits in SE-ResNet and in a V3 bneck.
- :func:`se_demo_widget`, :func:`se_cost_widget`  the widgets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mobilenet_lib.experiments import squeeze_excitation as se_study
from mobilenet_lib.experiments.squeeze_excitation import v3_cost_without_se
from mobilenet_lib.viz.style import new_figure

if TYPE_CHECKING:  # imported lazily at run time
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


__all__ = [
    "SHOWN_CHANNELS",
    "REDUCTIONS",
    "plot_se_demo",
    "plot_gate_comparison",
    "plot_se_cost",
    "plot_se_placement",
    "se_demo_widget",
    "se_cost_widget",
]

#: The channels whose maps :func:`plot_se_demo` draws (the ones the hand-set rule gates).
SHOWN_CHANNELS: tuple[int, ...] = (0, 1, 4, 6)
#: Reductions the cost widget offers.
REDUCTIONS: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
_WIDGET_DPI = 80  # the widget's figure is 960 px wide: legible, and quick to draw
_CHANNEL_COLORS = ("#555555", "#555555", "#888888", "#888888", "#d62728", "#2ca02c", "#1f77b4", "#bcbd22")


def _bar_gates(ax: Axes, gates: Sequence[float], title: str) -> None:
    names = se_study.DEMO_CHANNELS
    ax.bar(range(len(names)), gates, color=_CHANNEL_COLORS)
    ax.axhline(0.5, color="black", lw=0.8, ls=":")
    ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("gate")
    ax.set_title(title, fontsize=10)
    for i, g in enumerate(gates):
        ax.text(i, g + 0.02, f"{g:.2f}", ha="center", fontsize=8)


def _mosaic(demo: se_study.SEDemo, channels: Sequence[int], gap: int = 4, row_gap: int = 16) -> Any:
    """Before maps (top row) and after maps (bottom row) of ``channels`` in one array.

    Each channel is divided by its own "before" maximum, so before and after share a scale and a
    closed gate shows as a darker "after" tile. One image draws far faster than eight axes.
    """
    import numpy as np

    h, w = demo.before.shape[1:]
    out = np.full((2 * h + row_gap, len(channels) * (w + gap) - gap), np.nan, dtype=np.float32)
    for col, c in enumerate(channels):
        top = float(demo.before[c].max()) or 1.0
        x0 = col * (w + gap)
        out[:h, x0 : x0 + w] = demo.before[c].numpy() / top
        out[h + row_gap :, x0 : x0 + w] = demo.after[c].numpy() / top
    return out


def plot_se_demo(
    image: str = "china", rotate: int = 0, strength: float = 4.0, gate: str = "sigmoid"
) -> Figure:
    """The photo, its eight squeezed channel means, the SE's gates, and four maps before/after.

    Parameters as :func:`mobilenet_lib.experiments.squeeze_excitation.se_demo`. The maps of :data:`SHOWN_CHANNELS`
    are drawn before (top) and after (bottom) scaling, each channel on one colour scale.
    """
    demo = se_study.se_demo(image, rotate, strength, gate)
    names = se_study.DEMO_CHANNELS
    fig = new_figure(10, 6, fixed_layout=True)
    grid = fig.add_gridspec(
        2, 3, height_ratios=(1, 1.25), width_ratios=(1, 1, 1.3),
        hspace=0.42, wspace=0.22, left=0.05, right=0.99, top=0.95, bottom=0.02,
    )
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(demo.image.permute(1, 2, 0).numpy())
    ax.set_title(f"input: {image}" + (f", turned {90 * rotate}°" if rotate else ""), fontsize=10)
    ax.axis("off")
    ax = fig.add_subplot(grid[0, 1])
    ax.bar(range(len(names)), demo.squeezed.numpy(), color=_CHANNEL_COLORS)
    ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)
    ax.set_title("squeeze: channel means z", fontsize=10)
    ax = fig.add_subplot(grid[0, 2])
    _bar_gates(ax, demo.gates.tolist(), f"excitation: gates ({gate}, strength {strength:g})")
    ax = fig.add_subplot(grid[1, :])
    ax.imshow(_mosaic(demo, SHOWN_CHANNELS), cmap="magma", vmin=0, vmax=1, interpolation="nearest")
    h, w = demo.before.shape[1:]
    for col, c in enumerate(SHOWN_CHANNELS):
        x = col * (w + 4) + w / 2
        ax.text(x, -3, f"{names[c]}: before", ha="center", va="bottom", fontsize=9)
        ax.text(x, h + 14, f"after: x {float(demo.gates[c]):.2f}", ha="center", va="bottom", fontsize=9)
    ax.axis("off")
    return fig


def plot_gate_comparison(image: str = "china", strength: float = 4.0, seed: int = 0) -> Figure:
    """Three bar charts of gates: the photo, the photo turned 90°, and an untrained SE (``seed``)."""
    upright = se_study.se_demo(image, 0, strength).gates.tolist()
    turned = se_study.se_demo(image, 1, strength).gates.tolist()
    untrained = se_study.random_se_gates(image, 0, seed).tolist()
    fig = new_figure(10, 3.3)
    axes = fig.subplots(1, 3, sharey=True)
    _bar_gates(axes[0], upright, f"hand-set SE: {image}")
    _bar_gates(axes[1], turned, f"hand-set SE: {image} turned 90°")
    _bar_gates(axes[2], untrained, f"untrained SE (seed {seed}): {image}")
    return fig


def plot_se_cost(reduction: float = 4, variant: str = "large", divisor: int = 8) -> Figure:
    """What each SE of MobileNet V3 adds, for bottleneck ``make_divisible(C // reduction, divisor)``.

    Left: parameters per SE block. Right: the FC layers' mult-adds (counted by FlopCounterMode)
    beside the per-value scale multiplications (not counted). The title compares the totals with
    the network without SE.
    """
    blocks = se_study.v3_se_blocks(variant, reduction, divisor)
    base = v3_cost_without_se(variant)
    labels = [f"{b.index}: {b.expanded}@{b.cost.height}²" for b in blocks]
    params = [b.cost.fc.params for b in blocks]
    fc_macs = [b.cost.fc.macs / 1e6 for b in blocks]
    scale = [b.cost.scale_mults / 1e6 for b in blocks]
    total_params, total_macs = sum(params), sum(b.cost.fc.macs for b in blocks)

    # fixed margins: a constrained layout would add a third to every redraw of the widget
    fig = new_figure(9, 4.2, fixed_layout=True)
    fig.subplots_adjust(left=0.08, right=0.99, bottom=0.3, top=0.84, wspace=0.22)
    ax_p, ax_m = fig.subplots(1, 2)
    x = range(len(blocks))
    ax_p.bar(x, [p / 1e3 for p in params], color="#9467bd")
    ax_p.set_ylabel("parameters added (thousands)")
    ax_p.set_title(
        f"+{total_params:,} params = +{100 * total_params / base.params:.1f} % of the model without SE",
        fontsize=10,
    )
    width = 0.4
    ax_m.bar([i - width / 2 for i in x], fc_macs, width, color="#9467bd", label="FC mult-adds (counted)")
    ax_m.bar([i + width / 2 for i in x], scale, width, color="#cccccc",
             label="scale multiplies (not counted)")
    ax_m.set_ylabel("millions")
    ax_m.set_title(
        f"+{total_macs / 1e6:.2f}M counted mult-adds = +{100 * total_macs / base.macs:.2f} %", fontsize=10
    )
    ax_m.legend(fontsize=8)
    for ax in (ax_p, ax_m):
        ax.set_xticks(list(x), labels, rotation=35, ha="right", fontsize=8)
        ax.set_xlabel("bneck row: expanded width @ map size")
    rounding = f"rounded to multiples of {divisor}" if divisor > 1 else "not rounded"
    fig.suptitle(f"MobileNet V3-{variant.capitalize()}: SE with r = {reduction:g}, {rounding}", fontsize=11)
    return fig


def _box(ax: Axes, y: float, text: str, color: str, x: float = 0.42, w: float = 0.76) -> None:
    from matplotlib.patches import FancyBboxPatch

    height = 0.1 if "\n" in text else 0.07
    ax.add_patch(FancyBboxPatch((x - w / 2, y - height / 2), w, height, boxstyle="round,pad=0.01",
                                facecolor=color, edgecolor="black", lw=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=8.5)


def _arrow(ax: Axes, y0: float, y1: float, x: float = 0.42) -> None:
    # y0, y1: the bottom edge of one box and the top edge of the next
    ax.annotate("", (x, y1 + 0.012), (x, y0 - 0.012), arrowprops=dict(arrowstyle="->", lw=1))


def _column(ax: Axes, title: str, boxes: Sequence[tuple[str, str]], skip: str) -> None:
    ys = [0.9 - i * (0.8 / (len(boxes) - 1)) for i in range(len(boxes))]
    for (text, color), y in zip(boxes, ys, strict=True):
        _box(ax, y, text, color)
    half = [(0.05 if "\n" in text else 0.035) for text, _ in boxes]
    for i in range(len(boxes) - 1):
        _arrow(ax, ys[i] - half[i], ys[i + 1] + half[i + 1])
    # the identity path, from the block input around to the addition
    ax.annotate("", (0.80, ys[-2]), (0.80, ys[0]),
                arrowprops=dict(arrowstyle="-|>", lw=1, ls="--", connectionstyle="bar,fraction=-0.08"))
    ax.text(0.88, (ys[0] + ys[-2]) / 2, skip, rotation=90, va="center", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")


def plot_se_placement() -> Figure:
    """Two block diagrams: an SE-ResNet bottleneck and a MobileNet V3 bneck, SE highlighted."""
    se, conv, dw, plain = "#f4a261", "#bde0fe", "#caffbf", "#eeeeee"
    fig = new_figure(10, 5.2)
    left, right = fig.subplots(1, 2)
    _column(left, "SE-ResNet bottleneck (Hu et al.)", [
        ("input x (C channels)", plain),
        ("1x1 conv, BN, ReLU", conv),
        ("3x3 conv, BN, ReLU", conv),
        ("1x1 conv, BN", conv),
        ("SE: global pool → FC to C/16 → ReLU\n→ FC to C → sigmoid → scale", se),
        ("add x, ReLU", plain),
        ("output", plain),
    ], "identity x")
    _column(right, "MobileNet V3 bneck (Howard et al.)", [
        ("input x (narrow)", plain),
        ("1x1 expand, BN, NL", conv),
        ("kxk depthwise, BN, NL", dw),
        ("SE: global pool → FC to exp/4 → ReLU\n→ FC to exp → h-sigmoid → scale", se),
        ("1x1 project, BN (linear)", conv),
        ("add x (stride 1, same width)", plain),
        ("output", plain),
    ], "identity x")
    return fig


def _encode(fig: Figure, fmt: str) -> bytes:
    """``fig`` as image bytes for an ``ipywidgets.Image``, at the widgets' resolution."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=_WIDGET_DPI, **({"pil_kwargs": {"quality": 85}} if fmt == "jpeg" else {}))
    return buf.getvalue()


def se_demo_widget() -> Any:
    """Widget around :func:`plot_se_demo`: photo, rotation, rule strength and gate function."""
    import ipywidgets as widgets

    image = widgets.Dropdown(options=list(se_study.DEMO_IMAGES), value="china", description="photo")
    rotate = widgets.ToggleButtons(options=[("0°", 0), ("90°", 1)], value=0, description="rotate")
    strength = widgets.FloatSlider(value=4.0, min=0.0, max=12.0, step=0.5, description="strength",
                                   continuous_update=False)
    gate = widgets.ToggleButtons(options=["sigmoid", "h-sigmoid"], value="sigmoid", description="gate")
    # A photo figure: as JPEG it encodes faster than as PNG and weighs a third, which keeps a
    # redraw within the widget budget.
    out = widgets.Image(format="jpeg", layout=widgets.Layout(max_width="100%", height="auto"))

    def update(*_: Any) -> None:
        out.value = _encode(plot_se_demo(image.value, rotate.value, strength.value, gate.value), "jpeg")

    for w in (image, rotate, strength, gate):
        w.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([image, strength]), widgets.HBox([rotate, gate]), out])


def se_cost_widget() -> Any:
    """Widget around :func:`plot_se_cost`: reduction r, V3 variant and the rounding divisor."""
    import ipywidgets as widgets

    reduction = widgets.SelectionSlider(options=list(REDUCTIONS), value=4, description="r")
    variant = widgets.ToggleButtons(options=["large", "small"], value="large", description="V3")
    divisor = widgets.ToggleButtons(options=[("multiple of 8", 8), ("none", 1)], value=8, description="round")
    out = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto"))

    def update(*_: Any) -> None:
        out.value = _encode(plot_se_cost(reduction.value, variant.value, divisor.value), "png")

    for w in (reduction, variant, divisor):
        w.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([reduction, variant, divisor]), out])
