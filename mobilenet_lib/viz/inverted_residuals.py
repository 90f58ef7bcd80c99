"""Figures and the block widget of the "inverted residuals and linear bottlenecks" chapter.

Data first, drawing second: :mod:`mobilenet_lib.experiments.inverted_residuals` measures a block
(shapes, parameters and mult-adds per layer, peak activation memory) and reads the ablation; the
functions here draw those numbers. Every plotting function is a pure function of its parameters
returning a bare matplotlib ``Figure``; the widget is a thin ipywidgets wrapper around
:func:`plot_block`. matplotlib and ipywidgets are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mobilenet_lib.experiments.inverted_residuals import (
    AblationPoint,
    BlockAnatomy,
    bottleneck_anatomy,
    inverted_residual_anatomy,
)
from mobilenet_lib.memory import ActivationMemory
from mobilenet_lib.viz.style import new_figure

if TYPE_CHECKING:  # imported lazily at run time
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "plot_block",
    "plot_block_comparison",
    "block_widget",
    "WIDGET_CHANNELS",
    "WIDGET_RESOLUTIONS",
    "plot_memory_traces",
    "plot_ablation",
]

# --------------------------------------------------------------------------------------------
# Measuring one block
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Drawing a block
# --------------------------------------------------------------------------------------------

#: Channel counts the widget offers (MobileNet V2's widths) and input resolutions.
WIDGET_CHANNELS = (16, 24, 32, 64, 96, 160, 320)
WIDGET_RESOLUTIONS = (7, 14, 28, 56, 112)

_NARROW, _WIDE = "#4C72B0", "#DD8452"


def _human(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.2f}{unit}"
    return f"{x:g}"


def _kib(n_bytes: int) -> str:
    return f"{n_bytes / 1024:,.0f} KiB"


def _draw_chain(ax: Axes, anatomy: BlockAnatomy, max_channels: int, title: str) -> None:
    """Tensors as boxes (height ∝ channels, width ∝ spatial size), convolutions as arrows."""
    from matplotlib.patches import FancyArrowPatch, Rectangle

    main = [layer for layer in anatomy.layers if not layer.name.startswith("downsample")]
    tensors = [main[0].input_shape] + [layer.output_shape for layer in main]
    narrowest = min(t[0] for t in tensors)
    spacing, box_height = 3.4, 3.0
    max_hw = max(t[1] for t in tensors)
    for i, (c, h, w) in enumerate(tensors):
        x = i * spacing
        height = max(0.06, box_height * c / max_channels)
        width = 0.25 + 0.75 * h / max_hw
        color = _WIDE if c >= 2 * narrowest else _NARROW
        ax.add_patch(Rectangle((x - width / 2, -height / 2), width, height, color=color, alpha=0.85))
        ax.text(x, -box_height / 2 - 0.25, f"{h}×{w}×{c}", ha="center", va="top", fontsize=9)
    for i, layer in enumerate(main):
        x0, x1 = i * spacing + 0.55, (i + 1) * spacing - 0.55
        ax.add_patch(FancyArrowPatch((x0, 0), (x1, 0), arrowstyle="-|>", mutation_scale=12, color="0.3"))
        ax.text((x0 + x1) / 2, 0.18, layer.operator.replace(", ", "\n", 1), ha="center", va="bottom",
                fontsize=8.5, linespacing=1.1)
        ax.text((x0 + x1) / 2, -0.18, f"{_human(layer.params)} params\n{_human(layer.macs)} mult-adds",
                ha="center", va="top", fontsize=8, color="0.35")
    end = (len(tensors) - 1) * spacing
    top = box_height / 2 + 0.35
    if anatomy.shortcut != "none":
        label = "+ identity shortcut" if anatomy.shortcut == "identity" else "+ 1×1 conv shortcut"
        # A bracket over the chain: up from the input, across, down into the output.
        rail = top + 0.3
        ax.plot([0, 0, end], [top - 0.25, rail, rail], color="0.45", linestyle="--", linewidth=1.2)
        ax.add_patch(FancyArrowPatch((end, rail), (end, top - 0.25), arrowstyle="-|>", mutation_scale=12,
                                     color="0.45", linestyle="--", linewidth=1.2))
        ax.text(end / 2, rail + 0.08, label, ha="center", va="bottom", fontsize=9, color="0.3")
    ax.set_xlim(-1.0, end + 1.0)
    ax.set_ylim(-box_height / 2 - 1.1, top + 1.0)
    ax.set_title(title, fontsize=10)
    ax.axis("off")


def _summary(anatomy: BlockAnatomy) -> str:
    c, h, w = anatomy.output_shape
    peak = anatomy.memory.peak
    held = " + ".join(f"{s[2]}×{s[3]}×{s[1]}" for s in peak.live_shapes)  # (N, C, H, W) -> H×W×C
    return (
        f"output {h}×{w}×{c} · {anatomy.params:,} params · {anatomy.macs:,} mult-adds\n"
        f"peak activation memory {_kib(anatomy.peak_bytes)} ({held})"
    )


def plot_block(
    in_ch: int = 24, out_ch: int = 24, expansion: int = 6, stride: int = 1, resolution: int = 56
) -> Figure:
    """The inverted residual's anatomy for one setting: each tensor, each convolution's params
    and mult-adds, the shortcut if there is one, and the block's totals and peak memory."""
    anatomy = inverted_residual_anatomy(in_ch, out_ch, expansion, stride, resolution)
    fig = new_figure(9.5, 3.3)
    ax = fig.subplots()
    max_channels = max(layer.output_shape[0] for layer in anatomy.layers) if anatomy.layers else in_ch
    max_channels = max(max_channels, in_ch)
    shortcut = "shortcut: yes" if anatomy.shortcut == "identity" else (
        "no shortcut: stride 2" if stride == 2 else "no shortcut: in ≠ out channels")
    _draw_chain(ax, anatomy, max_channels, f"Inverted residual, t = {expansion} ({shortcut})")
    fig.text(0.5, 0.01, _summary(anatomy), ha="center", va="bottom", fontsize=9)
    return fig


def plot_block_comparison(resolution: int = 56) -> Figure:
    """ResNet-50's bottleneck (256 → 64 → 64 → 256) above MobileNet V2's inverted residual
    (24 → 144 → 144 → 24), both at ``resolution``, drawn to the same channel scale."""
    resnet = bottleneck_anatomy(256, 64, 1, resolution)
    v2 = inverted_residual_anatomy(24, 24, 6, 1, resolution)
    fig = new_figure(9.5, 6.6)
    top, bottom = fig.subplots(2, 1)
    scale = 256
    _draw_chain(top, resnet, scale, "ResNet bottleneck: wide → narrow → wide\n(the shortcut joins the wide tensors)")
    _draw_chain(bottom, v2, scale, "Inverted residual: narrow → wide → narrow\n(the shortcut joins the narrow tensors)")
    for ax, anatomy in ((top, resnet), (bottom, v2)):
        ax.text(0.5, -0.02, _summary(anatomy), transform=ax.transAxes, ha="center", va="top", fontsize=8.5)
    return fig


def block_widget(
    in_ch: int = 24, out_ch: int = 24, expansion: int = 6, stride: int = 1, resolution: int = 56
) -> Any:
    """Menus for input and output channels and the resolution, sliders for the expansion and the
    stride; :func:`plot_block` redraws on every change. Returns the ipywidgets container."""
    import ipywidgets as widgets
    from IPython.display import display

    inverted_residual_anatomy(in_ch, out_ch, expansion, stride, resolution)  # validate up front
    controls = {
        "in_ch": widgets.Dropdown(options=sorted({*WIDGET_CHANNELS, in_ch}), value=in_ch, description="in channels"),
        "out_ch": widgets.Dropdown(options=sorted({*WIDGET_CHANNELS, out_ch}), value=out_ch, description="out channels"),
        "expansion": widgets.IntSlider(value=expansion, min=1, max=10, description="expansion t"),
        "stride": widgets.Dropdown(options=[1, 2], value=stride, description="stride"),
        "resolution": widgets.Dropdown(options=sorted({*WIDGET_RESOLUTIONS, resolution}), value=resolution,
                                       description="resolution"),
    }
    for control in controls.values():
        control.style.description_width = "initial"
    output = widgets.interactive_output(lambda **kw: display(plot_block(**kw)), controls)
    rows = [widgets.HBox([controls["in_ch"], controls["out_ch"], controls["resolution"]]),
            widgets.HBox([controls["expansion"], controls["stride"]])]
    return widgets.VBox([*rows, output])


# --------------------------------------------------------------------------------------------
# The whole network as a table (the paper's Table 2, measured)
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Memory over a forward pass
# --------------------------------------------------------------------------------------------


def plot_memory_traces(traces: Mapping[str, ActivationMemory], *, title: str | None = None) -> Figure:
    """Live activation memory (KiB) through the forward pass, one line per model, each peak
    marked. The x axis is the fraction of the pass completed, so models that run different
    numbers of operations line up."""
    if not traces or not all(isinstance(t, ActivationMemory) for t in traces.values()):
        raise ValueError("plot_memory_traces needs a non-empty mapping of label -> ActivationMemory")
    fig = new_figure(8.0, 3.4)
    ax = fig.subplots()
    for label, trace in traces.items():
        kib = [s.live_bytes / 1024 for s in trace.steps]
        last = max(1, len(kib) - 1)
        progress = [i / last for i in range(len(kib))]
        (line,) = ax.plot(progress, kib, drawstyle="steps-post", label=f"{label}: peak {_kib(trace.peak_bytes)}")
        ax.plot([trace.peak.index / last], [trace.peak_bytes / 1024], "o", color=line.get_color())
    ax.set_xlabel("progress through the forward pass (fraction of its operations)")
    ax.set_ylabel("live activations (KiB)")
    ax.grid(True, alpha=0.3)
    ax.set_ylim(0, 1.3 * max(t.peak_bytes for t in traces.values()) / 1024)
    ax.legend(fontsize=8.5, loc="upper right")
    if title:
        ax.set_title(title, fontsize=11)
    return fig


# --------------------------------------------------------------------------------------------
# The ablation (results written by scripts/ablation_v2.py)
# --------------------------------------------------------------------------------------------


def plot_ablation(points: Sequence[AblationPoint], *, title: str | None = None) -> Figure:
    """Test accuracy per variant: one dot per seed and the mean as a bar."""
    points = list(points)
    if not points:
        raise ValueError("plot_ablation needs at least one AblationPoint (see summarize_ablation)")
    fig = new_figure(7.5, 3.4)
    ax = fig.subplots()
    for i, p in enumerate(points):
        color = _NARROW if p.linear_bottleneck else _WIDE
        ax.barh(i, 100 * p.mean, color=color, alpha=0.35, hatch=None if p.shortcuts else "//")
        ax.plot([100 * a for a in p.accuracies], [i] * len(p.accuracies), "o", color=color, ms=5)
        ax.text(100 * p.mean, i + 0.3, f" {100 * p.mean:.1f} %", va="center", fontsize=8.5)
    # Bars start at 0 so their lengths compare honestly; the dots carry the fine differences.
    ax.set_xlim(0.0, 100.5)
    ax.set_yticks(range(len(points)), [p.variant for p in points])
    ax.invert_yaxis()
    ax.set_xlabel("digits test accuracy (%): dots are seeds, bars their mean")
    ax.grid(True, axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=11)
    return fig
