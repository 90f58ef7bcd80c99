"""The figure helper, colours and table helper the ``viz`` modules share, so chapters look alike.

matplotlib is imported inside :func:`new_figure`, so importing this module costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["KIND_COLORS", "new_figure", "as_jpeg"]

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
