"""Figures and the cost widget of the depthwise separable convolution chapter.

Plotting functions are pure functions of their arguments that return a bare matplotlib
``Figure``; the widget builder wraps :func:`plot_costs` and :func:`cost_summary_html`. matplotlib
and ipywidgets are imported inside the functions, so importing this module stays cheap.

- :func:`plot_photo_convolutions`  the photo's channels, their per-channel edge maps, the mixes
                                   (the data: :func:`mobilenet_lib.experiments.depthwise_separable.photo_convolutions`)
- :func:`cost_summary_html`        standard vs separable cost of one layer, as a small HTML table
- :func:`plot_costs`               the same as bars, and the ratio 1/N + 1/D_K² against N
- :func:`plot_compute_share`       where a network's mult-adds and parameters go, by layer kind
- :func:`cost_widget`              sliders for M, N, D_K, D_F driving the two above
- :func:`plot_filter_shapes`       the filters and tensor shapes of each step (the paper's Figure 2)
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from mobilenet_lib.costs import (
    KindShare,
    depthwise_conv_cost,
    pointwise_conv_cost,
    separable_conv_cost,
    separable_cost_ratio,
    standard_conv_cost,
)
from mobilenet_lib.experiments.depthwise_separable import PhotoConvolutions
from mobilenet_lib.validation import integer
from mobilenet_lib.viz.style import KIND_COLORS, new_figure

if TYPE_CHECKING:  # imported lazily at run time
    import ipywidgets
    from matplotlib.figure import Figure

__all__ = [
    "WIDGET_RANGES",
    "plot_photo_convolutions",
    "cost_summary_html",
    "plot_costs",
    "plot_compute_share",
    "plot_filter_shapes",
    "cost_widget",
]


#: Slider ranges of :func:`cost_widget`: name -> (min, max).
WIDGET_RANGES: dict[str, tuple[int, int]] = {"M": (1, 1024), "N": (1, 1024), "D_K": (1, 9), "D_F": (1, 224)}

_CHANNEL_NAMES = ("red", "green", "blue")


# --------------------------------------------------------------------------------------------
# The photo figure
# --------------------------------------------------------------------------------------------


def _edge_image(t: torch.Tensor) -> torch.Tensor:
    """|response| scaled to [0, 1] by its 99th percentile, so weak edges stay visible."""
    a = t.abs()
    top = torch.quantile(a.flatten()[:: max(1, a.numel() // 100_000)], 0.99).clamp_min(1e-8)
    return (a / top).clamp(0, 1)


def _weights_panel(ax: Any, values: torch.Tensor, title: str, xlabels: Sequence[str], ylabels: Sequence[str]) -> None:
    lim = float(values.abs().max()) or 1.0
    ax.imshow(values.numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = float(values[i, j])
            color = "white" if abs(v) > 0.6 * lim else "black"  # readable on the dark end of the map
            ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(len(xlabels)), xlabels, fontsize=8)
    ax.set_yticks(range(len(ylabels)), ylabels, fontsize=8)
    ax.set_title(title, fontsize=9)


def plot_photo_convolutions(maps: PhotoConvolutions, width: float = 9.0) -> Figure:
    """Three rows: the photo and its R, G, B channels; the depthwise filter and the edge map it
    gives on each channel separately; the pointwise weights and the maps they mix."""
    n_mix = maps.pointwise.shape[0]
    cols = max(4, n_mix + 1)
    _, h, w = maps.image.shape
    fig = new_figure(width, width / cols * h / w * 3 + 1.2)
    axes = fig.subplots(3, cols)
    for ax in axes.flat:
        ax.set_axis_off()

    axes[0, 0].imshow(maps.image.permute(1, 2, 0).clamp(0, 1).numpy())
    axes[0, 0].set_title("input photo\n(M = 3 channels)", fontsize=9)
    for c in range(3):
        axes[0, c + 1].imshow(maps.image[c].numpy(), cmap="gray", vmin=0, vmax=1)
        axes[0, c + 1].set_title(f"input channel {c}\n({_CHANNEL_NAMES[c]})", fontsize=9)

    ax = axes[1, 0]
    ax.set_axis_on()
    kernel = maps.depthwise_layer.weight.detach()[0, 0]
    _weights_panel(ax, kernel, f"depthwise filter ({maps.kernel_name}),\nthe same for each channel", [""] * 3, [""] * 3)
    for c in range(3):
        axes[1, c + 1].imshow(_edge_image(maps.depthwise[c]).numpy(), cmap="gray_r", vmin=0, vmax=1)
        axes[1, c + 1].set_title(f"depthwise output {c}\n(from {_CHANNEL_NAMES[c]} only)", fontsize=9)

    ax = axes[2, 0]
    ax.set_axis_on()
    mix = maps.pointwise_layer.weight.detach()[:, :, 0, 0]
    _weights_panel(ax, mix, "pointwise 1×1 weights\n(rows: outputs)", ["R", "G", "B"], [str(i) for i in range(n_mix)])
    for i, name in enumerate(maps.mix_names):
        axes[2, i + 1].imshow(_edge_image(maps.pointwise[i]).numpy(), cmap="gray_r", vmin=0, vmax=1)
        axes[2, i + 1].set_title(f"pointwise output {i}\n({name})", fontsize=9)
    return fig


# --------------------------------------------------------------------------------------------
# Costs of one layer: summary, figure, widget
# --------------------------------------------------------------------------------------------


def _fmt(x: int) -> str:
    return f"{x:,}"


def cost_summary_html(m: int, n: int, dk: int, df: int) -> str:
    """A small HTML table: params and mult-adds of a standard D_K×D_K conv (M -> N channels on a
    D_F×D_F output) against its depthwise separable replacement, with the ratio 1/N + 1/D_K²."""
    std = standard_conv_cost(dk, m, n, df)
    dw, pw, sep = depthwise_conv_cost(dk, m, df), pointwise_conv_cost(m, n, df), separable_conv_cost(dk, m, n, df)
    ratio = separable_cost_ratio(dk, n)
    rows = [
        ("standard conv", std.params, std.macs),
        ("depthwise", dw.params, dw.macs),
        ("pointwise (1×1)", pw.params, pw.macs),
        ("depthwise separable", sep.params, sep.macs),
    ]
    body = "".join(
        f"<tr><td>{name}</td><td style='text-align:right'>{_fmt(p)}</td>"
        f"<td style='text-align:right'>{_fmt(mac)}</td></tr>"
        for name, p, mac in rows
    )
    return (
        f"<table><thead><tr><th>M={m}, N={n}, D<sub>K</sub>={dk}, D<sub>F</sub>={df}</th>"
        "<th>params</th><th>mult-adds</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
        f"<p>separable / standard = 1/N + 1/D<sub>K</sub><sup>2</sup> = {ratio:.4f} "
        f"(mult-adds {sep.macs / std.macs:.4f}): <b>{std.macs / sep.macs:.2f}× fewer</b> mult-adds</p>"
    )


class _CostPlot:
    """The figure of :func:`plot_costs`, built once and updated in place.

    The widget redraws it on every slider move, and matplotlib spends most of a redraw laying
    out text. So an update only changes the data and texts of existing artists, and with
    ``fast=True`` (the widget) the figure is drawn in full once; later frames restore that
    background and redraw only what can change (the left axes and the right panel's curve,
    limit and marker), then encode the pixels as PNG.
    """

    _N_GRID = torch.logspace(0, 11, 200, base=2.0)  # N from 1 to 2048

    def __init__(self, width: float = 8.5, fast: bool = False, dpi: int = 80) -> None:
        self.figure = fig = new_figure(width, width * 0.42)
        self.left, self.right = left, right = fig.subplots(1, 2, width_ratios=[1.1, 1])

        self.bar_std = left.barh([1], [1.0], color=KIND_COLORS["standard"], label="standard D_K×D_K conv")[0]
        self.bar_dw = left.barh([0], [0.5], color=KIND_COLORS["depthwise"], label="depthwise")[0]
        self.bar_pw = left.barh([0], [0.5], color=KIND_COLORS["pointwise"], label="pointwise 1×1")[0]
        self.label_std = left.text(0, 1, "", va="center", fontsize=9)
        self.label_sep = left.text(0, 0, "", va="center", fontsize=9)
        left.set_yticks([0, 1], ["separable", "standard"])
        left.set_ylim(-0.5, 2.0)  # room above the bars for the legend
        left.legend(loc="upper center", ncol=3, fontsize=8, frameon=False, handlelength=1)

        ns = self._N_GRID.numpy()
        for k in (3, 5, 7):
            right.plot(ns, (1 / self._N_GRID + 1 / k**2).numpy(), color="0.75", lw=1, label=f"D_K = {k}")
        (self.curve,) = right.plot(ns, ns, color="black", lw=2, label="chosen D_K")
        self.limit = right.axhline(1.0, color="black", ls="--", lw=1)
        self.limit_label = right.text(1.1, 1.0, "", va="bottom", fontsize=8)
        (self.marker,) = right.plot([1], [1], "o", color=KIND_COLORS["pointwise"], ms=8, zorder=3)
        right.set_xscale("log", base=2)
        right.set_yscale("log")
        right.set_xlim(1, 2048)
        right.set_ylim(0.01, 2.2)
        right.set_xticks([1, 4, 16, 64, 256, 1024], ["1", "4", "16", "64", "256", "1024"])
        right.set_yticks([0.01, 0.03, 0.1, 0.3, 1, 2], ["0.01", "0.03", "0.1", "0.3", "1", "2"])
        right.minorticks_off()
        right.set_xlabel("output channels N")
        right.set_ylabel("separable / standard mult-adds")
        right.set_title("the ratio 1/N + 1/D_K²\n(independent of M and D_F)", fontsize=10)
        right.legend(loc="upper right", fontsize=8, frameon=False)

        self._fast = fast
        self._dynamic = [self.curve, self.limit, self.limit_label, self.marker]
        self._background: Any = None
        if fast:
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            FigureCanvasAgg(fig)
            fig.set_dpi(dpi)
            for artist in [self.left, *self._dynamic]:
                artist.set_animated(True)  # left out of the full draw, drawn on every frame

    def update(self, m: int, n: int, dk: int, df: int) -> _CostPlot:
        std = standard_conv_cost(dk, m, n, df)  # validates the arguments
        dw, pw = depthwise_conv_cost(dk, m, df), pointwise_conv_cost(m, n, df)
        ratio = separable_cost_ratio(dk, n)

        scale, unit = (1e6, "M") if std.macs >= 1e6 else (1e3, "k") if std.macs >= 1e3 else (1.0, "")
        top = max(std.macs, dw.macs + pw.macs) / scale
        self.bar_std.set_width(std.macs / scale)
        self.bar_dw.set_width(dw.macs / scale)
        self.bar_pw.set_x(dw.macs / scale)
        self.bar_pw.set_width(pw.macs / scale)
        for label, y, v in ((self.label_std, 1, std.macs), (self.label_sep, 0, dw.macs + pw.macs)):
            label.set_position((v / scale + top * 0.01, y))
            label.set_text(f"{v / scale:,.3g}{unit}")
        self.left.set_xlim(0, top * 1.28)
        self.left.set_xlabel(f"mult-adds ({unit})" if unit else "mult-adds")
        self.left.set_title(f"M={m}, N={n}, D_K={dk}, D_F={df}:\nseparable = {ratio:.3f} × standard", fontsize=10)

        self.curve.set_ydata((1 / self._N_GRID + 1 / dk**2).numpy())
        self.limit.set_ydata([1 / dk**2, 1 / dk**2])
        self.limit_label.set_position((1.1, 1 / dk**2))
        self.limit_label.set_text(f" limit 1/D_K² = {1 / dk**2:.3f}")
        self.marker.set_data([n], [ratio])
        return self

    def png(self) -> bytes:
        """The current figure as PNG bytes (only with ``fast=True``)."""
        if not self._fast:
            raise ValueError("png() needs a _CostPlot built with fast=True")
        from PIL import Image

        canvas = self.figure.canvas
        if self._background is None:
            canvas.draw()  # lays out the figure and draws everything that never changes
            self.figure.set_layout_engine("none")  # keep those positions from now on
            self._background = canvas.copy_from_bbox(self.figure.bbox)
        canvas.restore_region(self._background)
        self.figure.draw_artist(self.left)
        for artist in self._dynamic:
            self.right.draw_artist(artist)
        buf = io.BytesIO()
        Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).save(buf, "png", compress_level=1)
        return buf.getvalue()


def plot_costs(m: int, n: int, dk: int, df: int, width: float = 8.5) -> Figure:
    """Left: mult-adds of the standard conv and of the separable one (depthwise + pointwise
    stacked). Right: the ratio 1/N + 1/D_K² against N for D_K = 3, 5, 7 (grey) and the chosen
    D_K (black), with the chosen N marked and the limit 1/D_K² dashed."""
    return _CostPlot(width).update(m, n, dk, df).figure


def cost_widget(m: int = 512, n: int = 512, dk: int = 3, df: int = 14) -> ipywidgets.VBox:
    """Sliders for M, N, D_K and D_F; the cost table (:func:`cost_summary_html`) and the figure
    (:func:`plot_costs`, drawn to a PNG image widget) update whenever a slider moves.

    Returns the widget box: ``box.children`` is (sliders, table, image). The sliders are found by
    their ``description`` ("M", "N", "D_K", "D_F"); ranges in :data:`WIDGET_RANGES`.
    """
    import ipywidgets as w

    start = {"M": m, "N": n, "D_K": dk, "D_F": df}
    for name, value in start.items():
        low, high = WIDGET_RANGES[name]
        integer(name, value, low=low, high=high)

    sliders = {
        name: w.IntSlider(
            value=start[name],
            min=WIDGET_RANGES[name][0],
            max=WIDGET_RANGES[name][1],
            description=name,
            continuous_update=False,
            style={"description_width": "3em"},
            layout=w.Layout(width="100%", max_width="34em"),
        )
        for name in start
    }
    table = w.HTML()
    image = w.Image(format="png")
    plot = _CostPlot(fast=True)

    def update(_: object = None) -> None:
        v = {name: s.value for name, s in sliders.items()}
        table.value = cost_summary_html(v["M"], v["N"], v["D_K"], v["D_F"])
        image.value = plot.update(v["M"], v["N"], v["D_K"], v["D_F"]).png()

    for s in sliders.values():
        s.observe(update, names="value")
    update()
    controls = w.VBox(list(sliders.values()))
    return w.VBox([controls, table, image])


# --------------------------------------------------------------------------------------------
# Where a network's compute goes
# --------------------------------------------------------------------------------------------

_KIND_LABELS = {
    "pointwise": "1×1 (pointwise) conv",
    "depthwise": "depthwise conv",
    "conv": "full k×k conv",
    "group": "group conv",
    "linear": "fully connected",
}


def plot_compute_share(shares: Mapping[str, KindShare], title: str = "", width: float = 8.0) -> Figure:
    """Two stacked horizontal bars, mult-adds and parameters, split by layer kind.

    ``shares`` is what ``CostTable.share_by_kind()`` returns: kind -> (macs, params, layers)
    fractions in [0, 1]. Segments of at least 5 % are labelled with their percentage.
    """
    if not shares:
        raise ValueError("shares is empty: pass CostTable.share_by_kind() of a model with conv/linear layers")
    unknown = set(shares) - set(_KIND_LABELS)
    if unknown:
        raise ValueError(f"unknown layer kinds {sorted(unknown)}; expected some of {sorted(_KIND_LABELS)}")
    fig = new_figure(width, 2.6)
    ax = fig.subplots()
    for y, field in ((1, "macs"), (0, "params")):
        left = 0.0
        for kind in _KIND_LABELS:
            if kind not in shares:
                continue
            value = 100 * getattr(shares[kind], field)
            ax.barh([y], [value], left=[left], color=KIND_COLORS[kind], label=_KIND_LABELS[kind] if y == 1 else None)
            if value >= 5:
                ax.text(left + value / 2, y, f"{value:.1f} %", ha="center", va="center", fontsize=9, color="white")
            left += value
    ax.set_yticks([0, 1], ["parameters", "mult-adds"])
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of the network's total (%)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=len(shares), fontsize=8, frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------
# The filters and the tensor shapes (the MobileNet paper's Figure 2)
# --------------------------------------------------------------------------------------------


def _cuboid(ax: Any, x: float, y: float, w: float, h: float, d: float, color: str, label: str = "") -> None:
    """A box seen from the front-right: front face w × h at (x, y), depth d drawn at 45°."""
    from matplotlib.patches import Polygon

    dx = dy = d * 0.5
    faces = [
        [(x, y), (x + w, y), (x + w, y + h), (x, y + h)],                          # front
        [(x, y + h), (x + w, y + h), (x + w + dx, y + h + dy), (x + dx, y + h + dy)],  # top
        [(x + w, y), (x + w + dx, y + dy), (x + w + dx, y + h + dy), (x + w, y + h)],  # side
    ]
    for face, shade in zip(faces, (1.0, 0.8, 0.65)):
        ax.add_patch(Polygon(face, closed=True, facecolor=color, alpha=0.25 + 0.5 * shade, edgecolor="0.25", lw=0.8))
    if label:
        ax.text(x + w / 2, y - 0.12, label, ha="center", va="top", fontsize=8.5)


def plot_filter_shapes(m: int = 512, n: int = 512, dk: int = 3, df: int = 14, width: float = 6.7) -> Figure:
    """The filters of a standard convolution, of a depthwise and of a pointwise one, with the
    tensor each step reads and writes: the paper's Figure 2, labelled with ``m``, ``n``, ``dk``
    and ``df`` (the Table 3 layer by default), and each step's mult-adds underneath."""
    m, n = integer("m", m, low=1), integer("n", n, low=1)
    dk, df = integer("dk", dk, low=1), integer("df", df, low=1)
    fig = new_figure(width, 4.3)
    ax = fig.subplots()
    ax.set_xlim(0, 10.6)
    ax.set_ylim(0.3, 7.8)
    ax.axis("off")
    rows = [
        ("standard", 6.0, KIND_COLORS["standard"], n, f"{dk}×{dk}×{m}", 1.0, 0.9,
         f"(a) standard: {n} filters of {dk}×{dk}×{m}", standard_conv_cost(dk, m, n, df).macs, n),
        ("depthwise", 3.5, KIND_COLORS["depthwise"], m, f"{dk}×{dk}×1", 1.0, 0.18,
         f"(b) depthwise: {m} filters of {dk}×{dk}×1, one per channel", depthwise_conv_cost(dk, m, df).macs, m),
        ("pointwise", 1.0, KIND_COLORS["pointwise"], n, f"1×1×{m}", 0.35, 0.9,
         f"(c) pointwise: {n} filters of 1×1×{m}", pointwise_conv_cost(m, n, df).macs, n),
    ]
    for _, y, color, count, shape, side, depth, title, macs, channels_out in rows:
        ax.text(0.0, y + 1.6, title, ha="left", va="bottom", fontsize=9.5, fontweight="bold")
        # the step's input and output tensors (every step reads M channels)
        _cuboid(ax, 0.1, y - 0.1, 1.2, 1.2, 0.9, "#bbbbbb", f"input {df}×{df}×{m}")
        ax.annotate("", xy=(7.6, y + 0.5), xytext=(6.9, y + 0.5), arrowprops=dict(arrowstyle="->", lw=1.2))
        _cuboid(ax, 7.9, y - 0.1, 1.2, 1.2, 0.9, color, f"output {df}×{df}×{channels_out}")
        # three filters, an ellipsis, the last one
        for x in (2.0, 3.1, 4.2, 5.75):
            _cuboid(ax, x, y + 0.5 - side / 2, side * 0.6, side * 0.6, depth, color)
        ax.text(5.4, y + 0.5, "…", ha="center", va="center", fontsize=12)
        ax.text(4.1, y - 0.22, f"{count:,} × {shape}", ha="center", va="top", fontsize=8.5)
        ax.text(10.55, y + 0.5, f"{macs / 1e6:,.1f}M\nmult-adds", ha="right", va="center", fontsize=8.5)
    sep = separable_conv_cost(dk, m, n, df).macs
    std = standard_conv_cost(dk, m, n, df).macs
    fig.suptitle(f"(b) + (c) = {sep / 1e6:,.1f}M mult-adds = {sep / std:.3f} × (a)", fontsize=10)
    return fig
