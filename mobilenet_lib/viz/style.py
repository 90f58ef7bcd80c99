"""The figure helper, colours and table helper the ``viz`` modules share, so chapters look alike.

matplotlib is imported inside :func:`new_figure`, so importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["KIND_COLORS", "new_figure", "markdown_table", "as_jpeg"]

#: One colour per kind of layer, used wherever a figure compares them (layer kinds as in
#: ``mobilenet_lib.costs.LAYER_KINDS``, plus "standard" for a full convolution in a comparison).
KIND_COLORS: dict[str, str] = {
    "standard": "#7f7f7f",
    "conv": "#7f7f7f",
    "depthwise": "#1f77b4",
    "pointwise": "#ff7f0e",
    "group": "#2ca02c",
    "linear": "#9467bd",
}


def new_figure(width: float, height: float) -> Figure:
    """A bare matplotlib ``Figure`` (constrained layout) of ``width`` × ``height`` inches.

    Bare means not registered with pyplot: a widget that redraws hundreds of times leaks nothing,
    and nothing is shown twice in a notebook (the cell shows the returned figure once).
    """
    if not (width > 0 and height > 0):
        raise ValueError(f"figure size must be positive, got {width} x {height} inches")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], numeric: str = "right") -> str:
    """A Markdown (GFM/MyST) table: ``header`` cells, then one line per row.

    Cells are written with ``str``; columns whose cells in every row are numbers are aligned
    right (``numeric="right"``) or left. Wrap the result in ``IPython.display.Markdown`` to show it
    in a notebook; the book renders it as a real table.
    """
    header = [str(h) for h in header]
    if not header:
        raise ValueError("header must name at least one column")
    if numeric not in {"right", "left"}:
        raise ValueError(f"numeric must be 'right' or 'left', got {numeric!r}")
    body = [list(r) for r in rows]
    for i, row in enumerate(body):
        if len(row) != len(header):
            raise ValueError(f"row {i} has {len(row)} cells, the header has {len(header)}")

    def is_number(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    align = [
        "---:" if numeric == "right" and body and all(is_number(r[j]) for r in body) else "---"
        for j in range(len(header))
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


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
