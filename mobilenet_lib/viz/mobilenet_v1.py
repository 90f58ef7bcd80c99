"""Figures and the cost widget of the MobileNet V1 chapter.

Every plotting function is a pure function of its parameters that returns a matplotlib
``Figure``; the widget builder is a thin ipywidgets wrapper around one of them. matplotlib and
ipywidgets are imported inside the functions, so importing this module stays cheap.

The paper's published numbers (Howard et al., 2017, arXiv:1704.04861, Tables 4, 6 and 7) are kept
here as data, so the figures can draw them beside the book's own measurements; they are ImageNet
results and are labelled as the paper's, never as ours.
"""

from __future__ import annotations

import functools
import html
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mobilenet_lib.costs import (
    Cost,
    CostTable,
    LayerCost,
    conv_output_size,
    linear_cost,
    separable_conv_cost,
    standard_conv_cost,
)
from mobilenet_lib.models.mobilenet_v1 import MOBILENET_V1_LAYERS, MOBILENET_V1_STEM
from mobilenet_lib.viz.style import new_figure

if TYPE_CHECKING:  # imported lazily at run time
    from matplotlib.figure import Figure

__all__ = [
    "PaperPoint",
    "PAPER_WIDTH",
    "PAPER_RESOLUTION",
    "PAPER_FULL_CONV",
    "PAPER_SEPARABLE",
    "DIGITS_LAYERS",
    "DIGITS_IMAGE_SIZE",
    "GRID_ALPHAS",
    "GRID_RESOLUTIONS",
    "CostGrid",
    "v1_cost",
    "v1_cost_grid",
    "default_cost_grid",
    "cost_summary",
    "plot_cost",
    "CostFigureRenderer",
    "cost_widget",
    "architecture_rows",
    "architecture_html",
    "DigitsRun",
    "DIGITS_RECIPE",
    "train_digits_v1",
    "SweepPoint",
    "load_sweep",
    "summarize_sweep",
    "sweep_series",
    "plot_sweep",
    "plot_history",
]


@dataclass(frozen=True)
class PaperPoint:
    """One published MobileNet V1 result: ImageNet top-1 (%), mult-adds and params (millions)."""

    label: str
    top1: float
    mult_adds_m: float
    params_m: float | None
    alpha: float
    resolution: int


#: Table 6 of Howard et al. (2017): width multiplier at 224x224.
PAPER_WIDTH: tuple[PaperPoint, ...] = (
    PaperPoint("1.0 MobileNet-224", 70.6, 569, 4.2, 1.0, 224),
    PaperPoint("0.75 MobileNet-224", 68.4, 325, 2.6, 0.75, 224),
    PaperPoint("0.5 MobileNet-224", 63.7, 149, 1.3, 0.5, 224),
    PaperPoint("0.25 MobileNet-224", 50.6, 41, 0.5, 0.25, 224),
)
#: Table 7 of Howard et al. (2017): resolution multiplier at width 1.0 (params do not change).
PAPER_RESOLUTION: tuple[PaperPoint, ...] = (
    PaperPoint("1.0 MobileNet-224", 70.6, 569, 4.2, 1.0, 224),
    PaperPoint("1.0 MobileNet-192", 69.1, 418, 4.2, 1.0, 192),
    PaperPoint("1.0 MobileNet-160", 67.2, 290, 4.2, 1.0, 160),
    PaperPoint("1.0 MobileNet-128", 64.4, 186, 4.2, 1.0, 128),
)
#: Table 4 of Howard et al. (2017): the same network with full 3x3 convolutions ...
PAPER_FULL_CONV = PaperPoint("Conv MobileNet", 71.7, 4866, 29.3, 1.0, 224)
#: ... against the depthwise separable MobileNet.
PAPER_SEPARABLE = PaperPoint("MobileNet", 70.6, 569, 4.2, 1.0, 224)


# --------------------------------------------------------------------------------------------
# A MobileNet V1 for small images
# --------------------------------------------------------------------------------------------

#: MobileNet V1's 13 separable blocks adapted to the upsampled digits (32x32 inputs): the same
#: channels as the paper's Table 1, but only the 2nd and 6th blocks keep their stride of 2. With
#: the stem's stride of 2 the network downsamples 8x (32x32 -> 4x4 before pooling) instead of 32x,
#: which would shrink a 32x32 digit to 1x1 halfway through. CIFAR-size variants of MobileNet adapt
#: the strides the same way. Pass it as ``mobilenet_v1(layers=DIGITS_LAYERS, ...)``.
DIGITS_LAYERS: tuple[tuple[int, int], ...] = tuple(
    (out, 2 if i in (1, 5) else 1) for i, (out, _) in enumerate(MOBILENET_V1_LAYERS)
)
#: The digits' side length the chapter trains at (upsampled from 8x8 by mobilenet_lib.data).
DIGITS_IMAGE_SIZE = 32


# --------------------------------------------------------------------------------------------
# Cost of every (alpha, resolution): the widget's precomputed grid
# --------------------------------------------------------------------------------------------

#: The widget's width multipliers (0.25 ... 1.0 in steps of 0.05) and input sizes (128 ... 224).
GRID_ALPHAS: tuple[float, ...] = tuple(round(0.25 + 0.05 * i, 2) for i in range(16))
GRID_RESOLUTIONS: tuple[int, ...] = tuple(range(128, 225, 16))


@dataclass(frozen=True)
class CostGrid:
    """Mult-adds and parameters of MobileNet V1 for every width multiplier and input size.

    ``macs[(alpha, resolution)]`` are per image; ``params[alpha]`` (a network's parameters do not
    depend on its input size) include batch norm, as ``count_params`` does.
    """

    alphas: tuple[float, ...]
    resolutions: tuple[int, ...]
    macs: Mapping[tuple[float, int], int]
    params: Mapping[float, int]

    def cost(self, alpha: float, resolution: int) -> Cost:
        """The :class:`~mobilenet_lib.costs.Cost` at one grid point (``ValueError`` off the grid)."""
        key = (_grid_key(alpha), resolution)
        if key not in self.macs:
            raise ValueError(
                f"(alpha={alpha!r}, resolution={resolution!r}) is not on the grid: alpha in "
                f"{list(self.alphas)}, resolution in {list(self.resolutions)}"
            )
        return Cost(params=self.params[key[0]], macs=self.macs[key])


def _grid_key(alpha: float) -> float:
    # Slider values arrive as floats such as 0.7000000000000001: match them to the grid's 0.7.
    return round(float(alpha), 6)


def v1_cost(
    alpha: float,
    resolution: int,
    *,
    layers: Sequence[tuple[int, int]] = MOBILENET_V1_LAYERS,
    full_conv: bool = False,
    num_classes: int = 1000,
    in_channels: int = 3,
) -> Cost:
    """Parameters and mult-adds of ``mobilenet_v1(alpha, ...)`` on a square input, by formula.

    Walks the architecture table with the formulas of :mod:`mobilenet_lib.costs` (the paper's
    equations): the 3x3 stem, then per block a depthwise plus a pointwise convolution (or one full
    3x3 convolution with ``full_conv``), then the classifier. Channels are ``int(c * alpha)``, the
    rounding :func:`~mobilenet_lib.models.mobilenet_v1` uses; parameters include batch norm's two
    per channel, as :func:`~mobilenet_lib.costs.count_params` does. The tests check the result
    against ``count_params`` and ``count_macs`` of the built model. Microseconds instead of the
    tenths of a second a forward pass under ``FlopCounterMode`` takes.
    """
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise ValueError(f"resolution must be a positive integer, got {resolution!r}")
    if not (isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and 0 < alpha < math.inf):
        raise ValueError(f"alpha must be a positive number, got {alpha!r}")

    def width(c: int) -> int:
        w = int(c * alpha)
        if w < 1:
            raise ValueError(f"alpha={alpha} leaves a layer of {c} channels with none")
        return w

    stem_out, stem_stride = MOBILENET_V1_STEM
    size = conv_output_size(resolution, 3, stem_stride, 1)
    channels = width(stem_out)
    total = standard_conv_cost(3, in_channels, channels, size) + Cost(2 * channels, 0)
    for out, stride in layers:
        out = width(out)
        size = conv_output_size(size, 3, stride, 1)
        if full_conv:
            total += standard_conv_cost(3, channels, out, size) + Cost(2 * out, 0)
        else:  # batch norm after the depthwise (channels) and after the pointwise (out) conv
            total += separable_conv_cost(3, channels, out, size) + Cost(2 * (channels + out), 0)
        channels = out
    return total + linear_cost(channels, num_classes)


def v1_cost_grid(
    alphas: Sequence[float] = GRID_ALPHAS,
    resolutions: Sequence[int] = GRID_RESOLUTIONS,
    *,
    layers: Sequence[tuple[int, int]] = MOBILENET_V1_LAYERS,
    full_conv: bool = False,
    num_classes: int = 1000,
) -> CostGrid:
    """:func:`v1_cost` at every (width multiplier, input size) pair: the widget's look-up table.

    Counting each of the default grid's 112 networks with a forward pass would take seconds on a
    laptop; the formulas take milliseconds.
    """
    alphas = tuple(_grid_key(a) for a in alphas)
    resolutions = tuple(resolutions)
    if not alphas or not resolutions:
        raise ValueError("v1_cost_grid needs at least one alpha and one resolution")
    kwargs = {"layers": layers, "full_conv": full_conv, "num_classes": num_classes}
    costs = {(a, r): v1_cost(a, r, **kwargs) for a in alphas for r in resolutions}
    return CostGrid(
        alphas=alphas,
        resolutions=resolutions,
        macs={key: c.macs for key, c in costs.items()},
        params={a: costs[(a, resolutions[0])].params for a in alphas},
    )


@functools.lru_cache(maxsize=1)
def default_cost_grid() -> CostGrid:
    """:func:`v1_cost_grid` over :data:`GRID_ALPHAS` x :data:`GRID_RESOLUTIONS`, computed once."""
    return v1_cost_grid()


def cost_summary(alpha: float = 1.0, resolution: int = 224, *, grid: CostGrid | None = None) -> str:
    """One line of HTML: the cost at (alpha, resolution), its ratio to 1.0 MobileNet-224 against
    the α²ρ² rule, and the paper's published numbers when the pair is in Table 6 or 7."""
    grid = default_cost_grid() if grid is None else grid
    cost = grid.cost(alpha, resolution)
    base = grid.cost(1.0, 224)
    rho = resolution / 224
    text = (
        f"<b>α = {alpha:.2f}, {resolution}×{resolution} (ρ = {rho:.3f})</b>: "
        f"{cost.macs / 1e6:,.1f}M mult-adds, {cost.params / 1e6:.2f}M params. "
        f"Mult-adds are {cost.macs / base.macs:.3f} of 1.0 MobileNet-224's (α²ρ² = "
        f"{alpha**2 * rho**2:.3f}); params {cost.params / base.params:.3f} (α² = {alpha**2:.3f})."
    )
    paper = _paper_point(alpha, resolution)
    if paper is not None:
        text += (
            f" <i>Published</i> (Howard et al., 2017): {paper.mult_adds_m:g}M mult-adds, "
            f"{paper.params_m:g}M params, {paper.top1:g} % ImageNet top-1."
        )
    return text


def _paper_point(alpha: float, resolution: int) -> PaperPoint | None:
    for p in (*PAPER_WIDTH, *PAPER_RESOLUTION):
        if math.isclose(p.alpha, alpha, abs_tol=1e-6) and p.resolution == resolution:
            return p
    return None


def _cost_figure(grid: CostGrid, *, animated: bool) -> tuple[Figure, list[Any]]:
    """The cost figure without its chosen point: curves, published values, labels.

    Returns the figure and the artists that change with (alpha, resolution): the red dot on each
    axes and each axes' title (see :func:`_set_cost_point`). With ``animated=True`` those are left
    out of ordinary draws, so a widget can draw the rest once and blit the dots on top.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    # A fixed layout, not style.new_figure's constrained one: laying out costs a third of a draw.
    fig = Figure(figsize=(10.0, 3.8))
    fig.subplots_adjust(left=0.07, right=0.985, bottom=0.13, top=0.91, wspace=0.22)
    ax_macs, ax_params = fig.subplots(1, 2)
    alphas = list(grid.alphas)
    cmap = colormaps["viridis"]
    n = len(grid.resolutions)
    published = {p.resolution for p in PAPER_RESOLUTION}
    for i, r in enumerate(grid.resolutions):
        ys = [grid.macs[(a, r)] / 1e6 for a in alphas]
        ax_macs.plot(alphas, ys, "-", color=cmap(0.85 * i / max(n - 1, 1)), lw=1.8 if r in published else 0.8,
                     label=f"{r}px" if r in published else None)
    top = alphas[-1]
    if (top, 224) in grid.macs:
        base = grid.macs[(top, 224)] / 1e6
        ax_macs.plot(alphas, [base * (a / top) ** 2 for a in alphas], "k--", lw=1, label=f"α² × (224px, α = {top:g})")
    paper = [*PAPER_WIDTH, *PAPER_RESOLUTION[1:]]
    ax_macs.plot([p.alpha for p in paper], [p.mult_adds_m for p in paper], "kx", ms=8, mew=2, label="published")
    ax_macs.set_xlabel("width multiplier α")
    ax_macs.set_ylabel("mult-adds per image (millions)")
    ax_macs.legend(fontsize=8, loc="upper left")

    ax_params.plot(alphas, [grid.params[a] / 1e6 for a in alphas], "-", color="tab:blue", label="any input size")
    ax_params.plot(alphas, [grid.params[top] / 1e6 * (a / top) ** 2 for a in alphas], "k--", lw=1,
                   label=f"α² × (α = {top:g})")
    ax_params.plot([p.alpha for p in PAPER_WIDTH], [p.params_m for p in PAPER_WIDTH], "kx", ms=8, mew=2,
                   label="published")
    ax_params.set_xlabel("width multiplier α")
    ax_params.set_ylabel("parameters (millions)")
    ax_params.legend(fontsize=8, loc="upper left")
    for ax in (ax_macs, ax_params):
        ax.grid(True, alpha=0.3)
        ax.set_xlim(alphas[0] - 0.03, alphas[-1] + 0.03)
        ax.set_ylim(bottom=0)
    # Fix the y limits now, so the moving dots can never rescale the axes.
    for ax in (ax_macs, ax_params):
        ax.set_ylim(*ax.get_ylim())
    dynamic = []
    for ax in (ax_macs, ax_params):
        (dot,) = ax.plot([], [], "o", color="tab:red", ms=10, zorder=5, animated=animated)
        ax.title.set_animated(animated)
        dynamic += [dot, ax.title]
    return fig, dynamic


def _set_cost_point(dynamic: list[Any], alpha: float, resolution: int, cost: Cost) -> None:
    dot_macs, title_macs, dot_params, title_params = dynamic
    dot_macs.set_data([alpha], [cost.macs / 1e6])
    dot_params.set_data([alpha], [cost.params / 1e6])
    title_macs.set_text(f"{cost.macs / 1e6:,.1f}M mult-adds at α = {alpha:.2f}, {resolution}px")
    title_params.set_text(f"{cost.params / 1e6:.2f}M parameters")
    for title in (title_macs, title_params):
        title.set_fontsize(11)


def plot_cost(alpha: float = 1.0, resolution: int = 224, *, grid: CostGrid | None = None) -> Figure:
    """Where (alpha, resolution) sits: mult-adds and params against α, the paper's values beside.

    Left: mult-adds (millions) against α, one curve per input size (the paper's four sizes
    thicker), the α²-scaled curve of the widest network at 224px dashed, and the paper's Table 6
    and 7 values as black crosses. Right: parameters against α (the input size does not change
    them) with Table 6's. The chosen point is a red dot on both.
    """
    grid = default_cost_grid() if grid is None else grid
    cost = grid.cost(alpha, resolution)  # validates the pair
    fig, dynamic = _cost_figure(grid, animated=False)
    _set_cost_point(dynamic, _grid_key(alpha), resolution, cost)
    return fig


class CostFigureRenderer:
    """:func:`plot_cost` as PNG bytes, fast: the static part is drawn once, the dots blitted.

    A full redraw of the figure takes most of 200 ms of CPU time; restoring the cached pixels and
    drawing two dots and two titles takes a few milliseconds, and encoding the PNG about ten. The
    picture is the one :func:`plot_cost` draws (the tests compare the pixels).
    """

    def __init__(self, grid: CostGrid | None = None, dpi: float = 100.0) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.grid = default_cost_grid() if grid is None else grid
        self.fig, self._dynamic = _cost_figure(self.grid, animated=True)
        self.fig.set_dpi(dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        self.canvas.draw()
        self._background = self.canvas.copy_from_bbox(self.fig.bbox)

    def rgba(self, alpha: float, resolution: int) -> Any:
        """The figure's pixels for (alpha, resolution), an (H, W, 4) uint8 array (a copy)."""
        import numpy as np

        cost = self.grid.cost(alpha, resolution)
        self.canvas.restore_region(self._background)
        _set_cost_point(self._dynamic, _grid_key(alpha), resolution, cost)
        for artist in self._dynamic:
            artist.axes.draw_artist(artist)
        return np.array(self.canvas.buffer_rgba())

    def png(self, alpha: float, resolution: int) -> bytes:
        """The figure for (alpha, resolution) as PNG bytes."""
        import io

        from PIL import Image

        buf = io.BytesIO()
        # Low compression: a few KB more, several times faster to encode.
        Image.fromarray(self.rgba(alpha, resolution)).save(buf, format="png", compress_level=1)
        return buf.getvalue()


def cost_widget(grid: CostGrid | None = None) -> Any:
    """Sliders for α and the input size; the summary line and the :func:`plot_cost` figure follow.

    Returns an ipywidgets ``VBox`` (display it). An update is a look-up in the precomputed grid
    plus a blit of :class:`CostFigureRenderer`: a few tens of milliseconds.
    """
    import ipywidgets as widgets

    renderer = CostFigureRenderer(grid)
    grid = renderer.grid
    alpha = widgets.SelectionSlider(
        options=[(f"{a:.2f}", a) for a in grid.alphas], value=grid.alphas[-1], description="α",
    )
    resolution = widgets.SelectionSlider(
        options=[(str(r), r) for r in grid.resolutions], value=grid.resolutions[-1], description="input size",
        style={"description_width": "initial"},
    )
    summary = widgets.HTML()
    image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto"))

    def update(change: Any = None) -> None:
        summary.value = cost_summary(alpha.value, resolution.value, grid=grid)
        image.value = renderer.png(alpha.value, resolution.value)

    alpha.observe(update, names="value")
    resolution.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox([alpha, resolution]), summary, image])


# --------------------------------------------------------------------------------------------
# The architecture table
# --------------------------------------------------------------------------------------------

_KIND_NAMES = {"conv": "Conv", "pointwise": "Conv 1×1", "depthwise": "Conv dw", "group": "Conv group", "linear": "FC"}


def _filter_shape(row: LayerCost) -> str:
    if row.kind == "linear":
        return f"{row.input_shape[-1]}×{row.output_shape[-1]}"
    kh, kw = row.kernel
    c_in, c_out = row.input_shape[1], row.output_shape[1]
    if row.kind == "depthwise":
        return f"{kh}×{kw}×{c_in} dw"
    return f"{kh}×{kw}×{c_in}×{c_out}"


def _shape(shape: tuple[int, ...]) -> str:
    # (N, C, H, W) -> "H×W×C" as the paper writes it; (N, F) -> "F"
    return f"{shape[2]}×{shape[3]}×{shape[1]}" if len(shape) == 4 else str(shape[-1])


def architecture_rows(table: CostTable) -> list[dict[str, Any]]:
    """The rows of :func:`architecture_html` as dicts (layer number, type, stride, filter shape,
    output shape, params, mult-adds, share of the mult-adds in %)."""
    total = table.total_macs
    rows = []
    for i, r in enumerate(table, start=1):
        rows.append({
            "layer": i,
            "type": _KIND_NAMES.get(r.kind, r.kind),
            "stride": "–" if r.stride is None else str(r.stride[0]),
            "filter": _filter_shape(r),
            "output": _shape(r.output_shape),
            "params": r.params,
            "mult_adds": r.macs,
            "share": 100 * r.macs / total if total else 0.0,
        })
    return rows


def architecture_html(table: CostTable) -> str:
    """MobileNet V1 layer by layer in the style of the paper's Table 1, plus costs and a total.

    One row per convolution or fully connected layer of ``table`` (from
    :func:`mobilenet_lib.costs.layer_table`); batch norm, ReLU and pooling have no rows (no
    mult-adds counted); their parameters appear in the caption.
    """
    if not isinstance(table, CostTable):
        raise ValueError(f"architecture_html needs a CostTable from costs.layer_table, got {type(table).__name__}")
    head = ("#", "type", "stride", "filter shape", "output (H×W×C)", "params", "mult-adds", "% of mult-adds")
    right = {0, 2, 5, 6, 7}
    cells = ["<tr>" + "".join(
        f'<th style="text-align:{"right" if j in right else "left"};padding:0.1em 0.5em;white-space:nowrap">{h}</th>' for j, h in enumerate(head)
    ) + "</tr>"]
    for r in architecture_rows(table):
        values = (r["layer"], r["type"], r["stride"], r["filter"], r["output"], f"{r['params']:,}",
                  f"{r['mult_adds']:,}", f"{r['share']:.2f}")
        cells.append("<tr>" + "".join(
            f'<td style="text-align:{"right" if j in right else "left"};padding:0.1em 0.5em;white-space:nowrap">{html.escape(str(v))}</td>'
            for j, v in enumerate(values)
        ) + "</tr>")
    total = table.total
    foot = (
        f'<tr style="border-top:2px solid"><th></th><th>total</th><th></th><th></th><th></th>'
        f'<th style="text-align:right">{total.params:,}</th><th style="text-align:right">{total.macs:,}</th>'
        f'<th style="text-align:right">100.00</th></tr>'
    )
    caption = (
        f"{len(table)} layers at input {'×'.join(map(str, table.input_size[1:]))}. Params in the rows: "
        f"{total.params:,}; with batch norm's {table.other_params:,}: {table.total_params:,}."
    )
    return (
        # A wide table on a narrow page scrolls instead of wrapping its cells.
        f'<div style="overflow-x:auto"><table style="font-size:0.9em"><caption>{html.escape(caption)}</caption>'
        f"<thead>{cells[0]}</thead><tbody>{''.join(cells[1:])}</tbody><tfoot>{foot}</tfoot></table></div>"
    )


# --------------------------------------------------------------------------------------------
# The digits sweep
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigitsRun:
    """One trained digits model: the model, its :class:`~mobilenet_lib.train.History`, its cost."""

    model: Any
    history: Any
    alpha: float
    resolution: int
    full_conv: bool
    seed: int
    macs: int
    params: int

    def to_dict(self) -> dict[str, Any]:
        """The run's settings, costs and results as JSON-ready data (no weights)."""
        return {
            "alpha": self.alpha,
            "resolution": self.resolution,
            "conv": "full" if self.full_conv else "separable",
            "seed": self.seed,
            "mult_adds": self.macs,
            "params": self.params,
            "test_accuracy": self.history.final_test_accuracy,
            "test_accuracy_per_epoch": self.history.test_accuracy,
            "train_loss_per_epoch": self.history.train_loss,
            "train_time_s": round(self.history.wall_time_s, 2),
        }


#: How the chapter trains on the digits (shared by the notebook, the sweep script and the tests).
DIGITS_RECIPE: dict[str, Any] = {"epochs": 8, "lr": 0.01, "batch_size": 32, "optimizer": "adamw", "weight_decay": 0.0}


def train_digits_v1(
    alpha: float = 0.25,
    resolution: int = DIGITS_IMAGE_SIZE,
    *,
    full_conv: bool = False,
    seed: int = 0,
    epochs: int = DIGITS_RECIPE["epochs"],
    lr: float = DIGITS_RECIPE["lr"],
    batch_size: int = DIGITS_RECIPE["batch_size"],
    optimizer: str = DIGITS_RECIPE["optimizer"],
    weight_decay: float = DIGITS_RECIPE["weight_decay"],
    train_limit: int | None = None,
    progress: bool = True,
) -> DigitsRun:
    """Train a MobileNet V1 (:data:`DIGITS_LAYERS`, width ``alpha``) on the digits at ``resolution``.

    The data split is fixed (``split_seed=0``) so every run sees the same test images; ``seed``
    sets the initial weights and the batch order. ``train_limit`` keeps only the first that many
    training images (for quick tests). Mult-adds are counted on the built model with
    :func:`~mobilenet_lib.costs.count_macs` (per image), params with ``count_params``.
    """
    import torch
    from torch.utils.data import DataLoader, Subset

    from mobilenet_lib.costs import count_macs, count_params
    from mobilenet_lib.data import digits_loaders
    from mobilenet_lib.models.mobilenet_v1 import mobilenet_v1
    from mobilenet_lib.train import train

    if train_limit is not None and (isinstance(train_limit, bool) or not isinstance(train_limit, int) or train_limit < 1):
        raise ValueError(f"train_limit must be a positive integer or None, got {train_limit!r}")
    train_loader, test_loader = digits_loaders(
        batch_size=batch_size, seed=seed, split_seed=0, image_size=resolution, test_batch_size=256
    )
    if train_limit is not None:
        subset = Subset(train_loader.dataset, range(min(train_limit, len(train_loader.dataset))))
        train_loader = DataLoader(
            subset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)
        )
    torch.manual_seed(seed)
    model = mobilenet_v1(width_mult=alpha, num_classes=10, layers=DIGITS_LAYERS, full_conv=full_conv)
    macs = count_macs(model, (1, 3, resolution, resolution))
    history = train(
        model, train_loader, test_loader, epochs=epochs, lr=lr, seed=seed, optimizer=optimizer,
        weight_decay=weight_decay, progress=progress,
        desc=f"α={alpha:g} {resolution}px{' full conv' if full_conv else ''}",
    )
    return DigitsRun(model, history, float(alpha), resolution, full_conv, seed, macs, count_params(model))


# --------------------------------------------------------------------------------------------
# The digits sweep (scripts/sweep_v1.py writes it, the chapter reads it)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepPoint:
    """One configuration of the digits sweep, aggregated over its seeds.

    ``accuracies`` holds one final test accuracy (in [0, 1]) per seed, in seed order.
    """

    alpha: float
    resolution: int
    conv: str
    mult_adds: int
    params: int
    accuracies: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def low(self) -> float:
        return min(self.accuracies)

    @property
    def high(self) -> float:
        return max(self.accuracies)


def load_sweep(path: str | Path) -> dict[str, Any]:
    """Read a results file written by ``scripts/sweep_v1.py`` and check its shape.

    Raises:
        ValueError: if the file is missing, is not a result file, or lacks its runs.
    """
    from mobilenet_lib.benchmark import load_results

    data = load_results(path)
    if not isinstance(data["results"], dict) or not isinstance(data["results"].get("runs"), list):
        raise ValueError(f"{path} is not a MobileNet V1 sweep: results.runs is missing")
    for key in ("base_resolution", "resolution_alpha", "full_conv_alpha"):
        if key not in data["config"]:
            raise ValueError(f"{path} is not a MobileNet V1 sweep: config.{key} is missing")
    return data


_RUN_KEYS = ("alpha", "resolution", "conv", "mult_adds", "params", "seed", "test_accuracy")


def summarize_sweep(runs: Sequence[Mapping[str, Any]]) -> list[SweepPoint]:
    """Group per-seed runs by configuration (alpha, resolution, conv); one point per configuration.

    The order of first appearance is kept. Raises ``ValueError`` if a run lacks a field or the
    runs of one configuration disagree on its cost.
    """
    groups: dict[tuple[float, int, str], list[Mapping[str, Any]]] = {}
    for i, run in enumerate(runs):
        missing = [k for k in _RUN_KEYS if k not in run]
        if missing:
            raise ValueError(f"run {i} lacks {missing}; every run needs {list(_RUN_KEYS)}")
        key = (float(run["alpha"]), int(run["resolution"]), str(run["conv"]))
        groups.setdefault(key, []).append(run)
    points = []
    for (alpha, resolution, conv), group in groups.items():
        costs = {(r["mult_adds"], r["params"]) for r in group}
        if len(costs) != 1:
            raise ValueError(f"runs of α={alpha} {resolution}px {conv} disagree on their cost: {sorted(costs)}")
        ((mult_adds, params),) = costs
        accs = tuple(float(r["test_accuracy"]) for r in sorted(group, key=lambda r: r["seed"]))
        points.append(SweepPoint(alpha, resolution, conv, int(mult_adds), int(params), accs))
    return points


def sweep_series(sweep: Mapping[str, Any]) -> dict[str, list[SweepPoint]]:
    """The sweep's three series, each sorted by mult-adds.

    ``"width"``: separable models at the base resolution, one per α (the shape of Table 6);
    ``"resolution"``: separable models at ``resolution_alpha``, one per input size (Table 7);
    ``"full"``: full-convolution models and ``"full_twin"`` their separable twins (Table 4).
    """
    config = sweep["config"]
    points = summarize_sweep(sweep["results"]["runs"])
    base, res_alpha, full_alpha = config["base_resolution"], config["resolution_alpha"], config["full_conv_alpha"]
    sep = [p for p in points if p.conv == "separable"]

    def by_cost(ps: Sequence[SweepPoint]) -> list[SweepPoint]:
        return sorted(ps, key=lambda p: p.mult_adds)

    return {
        "width": by_cost([p for p in sep if p.resolution == base]),
        "resolution": by_cost([p for p in sep if math.isclose(p.alpha, res_alpha)]),
        "full": by_cost([p for p in points if p.conv == "full"]),
        "full_twin": by_cost([p for p in sep if p.resolution == base and math.isclose(p.alpha, full_alpha)]),
    }


_COLORS = {"width": "tab:blue", "resolution": "tab:orange", "full": "tab:red"}


def plot_sweep(sweep: Mapping[str, Any], *, show_paper: bool = True) -> Figure:
    """Accuracy against mult-adds: the paper's ImageNet tables beside the book's digits sweep.

    ``sweep`` is what :func:`load_sweep` returns. Left panel (if ``show_paper``): Tables 6 and 7
    and Table 4's full-convolution model, as published. Right panel: the digits sweep, one line
    per multiplier, the mean over seeds with a bar from the worst to the best seed, and the
    full-convolution model as a square.
    """
    series = sweep_series(sweep)
    if not any(series.values()):
        raise ValueError("the sweep has no runs to plot")
    # 9 inches: drawn at the text column's width, its 9-point labels stay readable
    fig = new_figure(9.0 if show_paper else 6.0, 4.6)
    axes = fig.subplots(1, 2 if show_paper else 1, squeeze=False)[0]
    if show_paper:
        ax = axes[0]
        for family, table in (("width", PAPER_WIDTH), ("resolution", PAPER_RESOLUTION)):
            ax.plot([p.mult_adds_m for p in table], [p.top1 for p in table], "o-", color=_COLORS[family],
                    label=f"{family} multiplier")
            for p in table[1:]:
                if family == "width":
                    text, offset, ha = f"α = {p.alpha:g}", (6, -12), "left"
                else:  # above-left, clear of the width labels
                    text, offset, ha = f"{p.resolution}px", (-6, 6), "right"
                ax.annotate(text, (p.mult_adds_m, p.top1), textcoords="offset points", xytext=offset, ha=ha,
                            fontsize=9)
        full = PAPER_FULL_CONV
        ax.plot([full.mult_adds_m], [full.top1], "s", color=_COLORS["full"], ms=8, label="full convolutions")
        ax.annotate("α = 1, 224px", (full.mult_adds_m, full.top1), textcoords="offset points", xytext=(-8, -4),
                    ha="right", va="top", fontsize=9)
        ax.set_xscale("log")
        ax.set_xlabel("mult-adds per image (millions, log scale)")
        ax.set_ylabel("ImageNet top-1 accuracy (%)")
        ax.set_title("Published: ImageNet (Howard et al., 2017)", fontsize=11)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right", fontsize=9)
    ax = axes[-1]
    for family in ("width", "resolution", "full"):
        fam = series[family]
        if not fam:
            continue
        xs = [p.mult_adds / 1e6 for p in fam]
        ys = [100 * p.mean for p in fam]
        err = [[100 * (p.mean - p.low) for p in fam], [100 * (p.high - p.mean) for p in fam]]
        label = "full convolutions" if family == "full" else f"{family} multiplier"
        ax.errorbar(xs, ys, yerr=err, fmt="s" if family == "full" else "o-", color=_COLORS[family], capsize=3,
                    ms=8 if family == "full" else 6, label=label)
        base = sweep["config"]["base_resolution"]
        for p in fam:
            # Labels: width below-right (the widest point centred under its marker), resolution
            # above-left, the full-convolution model under its error bar, so that no two labels
            # meet and the point the width and resolution series share is labelled once.
            y = 100 * p.mean
            if family == "width":
                widest = p is max(fam, key=lambda q: q.mult_adds)
                text, offset, ha = f"α = {p.alpha:g}", ((0, -14) if widest else (6, -12)), ("center" if widest else "left")
            elif family == "resolution":
                if p.resolution == base and any(q.alpha == p.alpha for q in series["width"]):
                    continue
                text, offset, ha = f"{p.resolution}px", (-6, 6), "right"
            else:
                text, offset, ha, y = f"α = {p.alpha:g}, {p.resolution}px", (6, -6), "right", 100 * p.low
            ax.annotate(text, (p.mult_adds / 1e6, y), textcoords="offset points", xytext=offset,
                        ha=ha, va="top" if family == "full" else "baseline", fontsize=9)
    ax.set_xscale("log")
    ax.set_xlabel("mult-adds per image (millions, log scale)")
    ax.set_ylabel("digits test accuracy (%)")
    ax.set_title("Measured here: digits, mean and range over seeds", fontsize=11)
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels on a short log axis overlap
    ax.margins(x=0.12, y=0.08)  # room for the labels of the end points
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    return fig


def plot_history(history: Any, *, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch of a :class:`mobilenet_lib.train.History`."""
    from mobilenet_lib.train import History

    if not isinstance(history, History):
        raise ValueError(f"plot_history needs a mobilenet_lib.train.History, got {type(history).__name__}")
    epochs = list(range(1, len(history.train_loss) + 1))
    fig = new_figure(9.0, 3.4)
    ax_loss, ax_acc = fig.subplots(1, 2)
    ax_loss.plot(epochs, history.train_loss, "o-", label="train")
    if history.test_loss:
        ax_loss.plot(epochs, history.test_loss, "o-", label="test")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.legend()
    ax_acc.plot(epochs, [100 * a for a in history.train_accuracy], "o-", label="train")
    if history.test_accuracy:
        ax_acc.plot(epochs, [100 * a for a in history.test_accuracy], "o-", label="test")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.legend()
    for ax in (ax_loss, ax_acc):
        ax.grid(True, alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title)
    return fig
