"""The figure helpers and colours the ``viz`` modules share, so chapters look alike and legible.

Every figure of the book is sized for the page's text column: :func:`new_figure` caps a figure at
:data:`COLUMN_WIDTH_IN` inches, which the page shows at (or near) its natural size, so a label
set in ``MIN_FONT_PT`` points is at least 10 CSS pixels tall on a 1280 px screen (a point is 4/3
of a CSS pixel at the natural size). Figures wider than the column used to be squeezed into it,
which made their labels 5-7 px tall. :func:`book_style` makes the notebook show line and bar
plots as SVG (sharp at any zoom, and a phone reader can pinch to read them); photographs and
heat maps stay raster (:func:`as_jpeg`, or an image inside the SVG).

matplotlib is imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["KIND_COLORS", "COLUMN_WIDTH_IN", "MIN_FONT_PT", "book_style", "new_figure", "label_points",
           "plain_log_axis", "as_jpeg"]

#: The widest figure the text column shows at its natural size: a figure in a cell's output has
#: about 670 CSS px at a 1280 px window, an SVG inch is 96 CSS px, and the saved figure is 0.2 in
#: wider than asked for (matplotlib's tight bounding box pads it): 6.7 in + 0.2 in = 662 px.
COLUMN_WIDTH_IN = 6.7
#: The smallest font any figure uses: 8 pt is 10.7 CSS px at the natural size.
MIN_FONT_PT = 8.0

#: One colour per kind of layer, used wherever a figure compares them (layer kinds as in
#: ``mobilenet_lib.costs.LAYER_KINDS``, plus "standard" for a full convolution in a comparison).
KIND_COLORS: dict[str, str] = {
    "standard": "#7f7f7f",
    "conv": "#7f7f7f",
    "depthwise": "#1f77b4",
    "pointwise": "#ff7f0e",
    "pointwise+depthwise": "#8c564b",  # an expansion and its depthwise layer fused (oneDNN Graph)
    "group": "#2ca02c",
    "linear": "#9467bd",
}


def book_style() -> None:
    """Show this notebook's matplotlib figures as SVG, with deterministic SVG output.

    Called once in each chapter's set-up cell. The SVG's element ids and metadata are made
    independent of the run (``svg.hashsalt``, no date), so re-executing a chapter does not rewrite
    every figure; text stays text (``svg.fonttype = "none"``), which keeps the files small.
    """
    import matplotlib as mpl
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    mpl.rcParams.update({
        "svg.hashsalt": "mobilenet-book",
        "svg.fonttype": "none",
        "font.size": 9.0,
        "axes.titlesize": 10.0,
        "axes.labelsize": 9.0,
        "xtick.labelsize": 8.5,
        "ytick.labelsize": 8.5,
        "legend.fontsize": 8.5,
    })
    set_matplotlib_formats("svg", metadata={"Date": None})


def new_figure(width: float, height: float, *, fixed_layout: bool = False) -> Figure:
    """A bare matplotlib ``Figure`` (constrained layout), ``width`` × ``height`` inches asked for.

    A figure wider than :data:`COLUMN_WIDTH_IN` is made that wide, and its height shrinks by the
    square root of the same factor (its text keeps its size, so it needs a little more room than
    a plain scaling would give). Bare means not registered with pyplot: a widget that redraws
    hundreds of times leaks nothing, and nothing is shown twice in a notebook (the cell shows the
    returned figure once). ``fixed_layout`` leaves the layout to the caller (``subplots_adjust``):
    a widget that redraws on every move cannot afford constrained layout's solver.
    """
    if not (width > 0 and height > 0):
        raise ValueError(f"figure size must be positive, got {width} x {height} inches")
    from matplotlib.figure import Figure

    if width > COLUMN_WIDTH_IN:
        scale = COLUMN_WIDTH_IN / width
        width, height = COLUMN_WIDTH_IN, height * scale**0.5
    return Figure(figsize=(width, height), layout=None if fixed_layout else "constrained")


#: Where :func:`label_points` tries to put a label, in points from its marker, nearest first:
#: right-above, right-below, left-above, left-below, straight above and below, then the same
#: further out.
_LABEL_OFFSETS = tuple(
    (dx * far, dy * far, ha, va)
    for far in (1, 2.5)
    for dx, dy, ha, va in ((5, 3, "left", "bottom"), (5, -3, "left", "top"), (-5, 3, "right", "bottom"),
                           (-5, -3, "right", "top"), (0, 7, "center", "bottom"), (0, -7, "center", "top"))
)


def label_points(ax: Any, xs: Any, ys: Any, labels: Any, fontsize: float = 8.5) -> list[Any]:
    """Label scatter points without labels on top of each other.

    Each label goes to the first of a few positions around its marker where it overlaps no label
    placed before it and stays inside the axes; where none is free, to the one that overlaps least. Call it
    after the axes' limits and scales are final: positions are measured in display space.
    """
    xs, ys, labels = list(xs), list(ys), [str(t) for t in labels]
    if not (len(xs) == len(ys) == len(labels)):
        raise ValueError(f"xs, ys and labels must have the same length, got {len(xs)}, {len(ys)}, {len(labels)}")
    fig = ax.figure
    if not hasattr(fig.canvas, "get_renderer"):  # a bare Figure: measure with an Agg canvas
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(fig)
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed: list[Any] = []
    texts = []
    for x, y, label in zip(xs, ys, labels):
        best = None  # (overlap with earlier labels, text, box); the first free position wins
        for dx, dy, ha, va in _LABEL_OFFSETS:
            text = ax.annotate(label, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                               fontsize=fontsize)
            box = text.get_window_extent(renderer)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            overlap = sum(max(0.0, min(box.x1, o.x1) - max(box.x0, o.x0)) * max(0.0, min(box.y1, o.y1) - max(box.y0, o.y0))
                          for o in placed) + (0.0 if inside else box.width * box.height)
            if best is None or overlap < best[0]:
                if best is not None:
                    best[1].remove()
                best = (overlap, text, box)
            else:
                text.remove()
            if overlap == 0.0:
                break
        best = best[1:]
        best[0].set_in_layout(False)  # a label must not move the axes it was placed in
        placed.append(best[1])
        texts.append(best[0])
    return texts


def plain_log_axis(axis: Any) -> None:
    """Ticks of a log axis at 1, 2, 5 × 10^k, labelled as plain numbers (20, 50, 100): matplotlib's
    default "10²" sets the exponent in a superscript too small to read on the page."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def as_jpeg(fig: Figure, quality: int = 85, dpi: int = 100) -> Any:
    """``fig`` as an ``IPython.display.Image`` in JPEG, for figures full of photographs.

    A notebook stores each figure it shows; as PNG a grid of photos weighs several hundred KB,
    as JPEG about a quarter of that, with text still legible at ``quality`` 85. Line plots are
    smaller and sharper as PNG: show those figures directly.
    """
    if not 1 <= quality <= 95:
        raise ValueError(f"quality must be in [1, 95] (PIL's useful range), got {quality}")
    if dpi <= 0:
        raise ValueError(f"dpi must be positive, got {dpi}")
    import io

    from IPython.display import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="jpeg", dpi=dpi, bbox_inches="tight", pil_kwargs={"quality": quality})
    return Image(data=buf.getvalue(), format="jpeg")
