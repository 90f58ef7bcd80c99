"""Figures and the cost widget of the MobileNet V1 chapter.

Every plotting function is a pure function of its parameters that returns a matplotlib
``Figure``; the widget builder is a thin ipywidgets wrapper around one of them. matplotlib and
ipywidgets are imported inside the functions, so importing this module stays cheap.

The numbers drawn (the paper's Tables 4, 6 and 7, the cost grid, the sweep) come from
:mod:`mobilenet_lib.experiments.mobilenet_v1`; published ImageNet results are labelled as the
paper's, never as ours.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mobilenet_lib.costs import (
    Cost,
    CostTable,
)
from mobilenet_lib.experiments.mobilenet_v1 import (
    PAPER_FULL_CONV,
    PAPER_RESOLUTION,
    PAPER_WIDTH,
    CostGrid,
    PaperPoint,
    architecture_rows,
    grid_key,
    sweep_series,
    v1_cost_grid,
)
from mobilenet_lib.viz.style import COLUMN_WIDTH_IN, new_figure, plain_log_axis

if TYPE_CHECKING:  # imported lazily at run time
    from matplotlib.figure import Figure

__all__ = [
    "default_cost_grid",
    "cost_summary",
    "plot_cost",
    "CostFigureRenderer",
    "cost_widget",
    "architecture_html",
    "plot_sweep",
    "plot_history",
]


# --------------------------------------------------------------------------------------------
# A MobileNet V1 for small images
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Cost of every (alpha, resolution): the widget's precomputed grid
# --------------------------------------------------------------------------------------------


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

    # A fixed layout, not style.new_figure's constrained one: laying out costs a third of a draw.
    fig = new_figure(10.0, 3.8, fixed_layout=True)
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
    _set_cost_point(dynamic, grid_key(alpha), resolution, cost)
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
        _set_cost_point(self._dynamic, grid_key(alpha), resolution, cost)
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


def architecture_html(table: CostTable) -> str:
    """MobileNet V1 layer by layer in the style of the paper's Table 1, plus costs and a total.

    One row per convolution or fully connected layer of ``table`` (from
    :func:`mobilenet_lib.costs.layer_table`); batch norm, ReLU and pooling have no rows (no
    mult-adds counted); their parameters appear in the caption.
    """
    if not isinstance(table, CostTable):
        raise ValueError(f"architecture_html needs a CostTable from costs.layer_table, got {type(table).__name__}")
    head = ("#", "type", "stride", "filter", "output H×W×C", "params", "mult-adds", "% of mult-adds")
    right = {0, 2, 5, 6, 7}
    cells = ["<tr>" + "".join(
        f'<th style="text-align:{"right" if j in right else "left"};padding:0.1em 0.4em;white-space:nowrap">{h}</th>' for j, h in enumerate(head)
    ) + "</tr>"]
    for r in architecture_rows(table):
        values = (r["layer"], r["type"], r["stride"], r["filter"], r["output"], f"{r['params']:,}",
                  f"{r['mult_adds']:,}", f"{r['share']:.2f}")
        cells.append("<tr>" + "".join(
            f'<td style="text-align:{"right" if j in right else "left"};padding:0.1em 0.4em;white-space:nowrap">{html.escape(str(v))}</td>'
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
        f'<div style="overflow-x:auto"><table><caption>{html.escape(caption)}</caption>'
        f"<thead>{cells[0]}</thead><tbody>{''.join(cells[1:])}</tbody><tfoot>{foot}</tfoot></table></div>"
    )


# --------------------------------------------------------------------------------------------
# The digits sweep
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# The digits sweep (scripts/sweep_v1.py writes it, the chapter reads it)
# --------------------------------------------------------------------------------------------


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
    # the panels stacked, each the column's width, so that the 9-point labels have room
    fig = new_figure(COLUMN_WIDTH_IN, 7.8 if show_paper else 4.0)
    axes = fig.subplots(2 if show_paper else 1, 1, squeeze=False)[:, 0]
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
        plain_log_axis(ax.xaxis)
        ax.set_xlabel("mult-adds per image (millions, log scale)")
        ax.set_ylabel("ImageNet top-1 accuracy (%)")
        ax.set_title("Published: ImageNet (Howard et al., 2017)", fontsize=10)
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
    plain_log_axis(ax.xaxis)
    ax.set_xlabel("mult-adds per image (millions, log scale)")
    ax.set_ylabel("digits test accuracy (%)")
    ax.set_title("Measured here: digits, mean and range over seeds", fontsize=10)
    ax.margins(x=0.12, y=0.08)  # room for the labels of the end points
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    return fig


def plot_history(history: Any, *, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch of a :class:`mobilenet_lib.training.History`."""
    from mobilenet_lib.training import History

    if not isinstance(history, History):
        raise ValueError(f"plot_history needs a mobilenet_lib.training.History, got {type(history).__name__}")
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
