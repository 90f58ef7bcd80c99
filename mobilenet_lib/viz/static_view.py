"""Kernel-free interactive views: a plotting function pre-rendered over a small parameter grid.

A static HTML page cannot run Python, so an ipywidgets slider on it computes nothing. What it can
do is show a figure *chosen* by a slider: :func:`static_view` calls a chapter's pure plotting
function (``params -> matplotlib Figure``) at every point of a small grid, stores each distinct
frame once as a small palette PNG, and returns a display object whose HTML holds the frames, plain
HTML controls (a range slider per numeric parameter, a menu otherwise) and a few lines of inline
JavaScript that swap the frame. The page makes no request for it: frames are ``data:`` URIs.

A chapter adds one line, e.g.::

    static_view(viz.plot_costs, {"n": [16, 64, 256, 1024], "dk": [1, 3, 5]}, fixed={"m": 512, "df": 14})

matplotlib and Pillow are imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

import base64
import hashlib
import html
import inspect
import io
import itertools
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Any

from mobilenet_lib.validation import flag, integer

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["StaticView", "static_view", "figure_png", "DEFAULT_NOTE"]

#: What the view says under its controls: it is pre-rendered, and how to get any value.
DEFAULT_NOTE = (
    "Pre-rendered for the values on these controls, so it works without Python. For any other "
    "value, run the page (see the tip at the top of the chapter)."
)

# The swapper: reads the grid position of every control, looks up the frame (and the optional
# caption) of that grid point, and shows it. Row-major flat index, like itertools.product.
_SCRIPT = """(function () {
  var root = document.getElementById("%(id)s");
  var data = JSON.parse(root.querySelector("script.msv-data").textContent);
  var img = root.querySelector("img.msv-frame");
  var caption = root.querySelector(".msv-caption");
  var controls = root.querySelectorAll("[data-msv-param]");
  function update() {
    var flat = 0, text = [];
    for (var i = 0; i < controls.length; i++) {
      var k = parseInt(controls[i].value, 10);
      flat = flat * data.sizes[i] + k;
      var out = root.querySelector("output[data-msv-for='" + i + "']");
      if (out) out.textContent = data.labels[i][k];
      text.push(data.names[i] + " = " + data.labels[i][k]);
    }
    var f = data.index[flat];
    img.src = "data:" + data.mime + ";base64," + data.frames[f];
    img.alt = data.title + ": " + text.join(", ");
    root.setAttribute("data-msv-frame", String(f));
    if (caption) caption.innerHTML = data.captions[data.caption_index[flat]];
  }
  for (var i = 0; i < controls.length; i++) {
    controls[i].addEventListener("input", update);
    controls[i].addEventListener("change", update);
  }
})();"""

_STYLE = (
    ".ml-static-view{border:1px solid #d0d7de;border-radius:6px;padding:.6em .8em;margin:.5em 0}"
    ".ml-static-view .msv-controls{display:flex;flex-wrap:wrap;gap:.3em 1.5em;align-items:center}"
    ".ml-static-view label{display:flex;gap:.5em;align-items:center;margin:0}"
    ".ml-static-view input[type=range]{width:11em}"
    ".ml-static-view output{min-width:3em;font-variant-numeric:tabular-nums}"
    ".ml-static-view img.msv-frame{max-width:100%;height:auto;display:block;margin-top:.4em}"
    ".ml-static-view .msv-note{font-size:.85em;color:#57606a;margin:.3em 0 0}"
)


def _label(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class _Param:
    name: str
    labels: tuple[str, ...]
    values: tuple[Any, ...]
    display: str  # what the control is called on the page

    @property
    def numeric(self) -> bool:
        return all(_is_number(v) for v in self.values)


def _params(plot: Callable[..., Any], grid: Mapping[str, Any], names: Mapping[str, str]) -> list[_Param]:
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("grid must be a non-empty mapping: parameter name -> the values to pre-render")
    try:
        signature = inspect.signature(plot)
    except (TypeError, ValueError):  # builtins without a signature: accept any names
        signature = None
    takes_any = signature is None or any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    params = []
    for name, entry in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"grid keys must be parameter names, got {name!r}")
        if not takes_any and name not in signature.parameters:  # type: ignore[union-attr]
            raise ValueError(f"{getattr(plot, '__name__', plot)!r} has no parameter {name!r}; "
                             f"it takes {list(signature.parameters)}")  # type: ignore[union-attr]
        if isinstance(entry, Mapping):  # label -> value, like ipywidgets' (label, value) options
            labels, values = tuple(str(k) for k in entry), tuple(entry.values())
        elif isinstance(entry, Sequence) and not isinstance(entry, (str, bytes)):
            values = tuple(entry)
            labels = tuple(_label(v) for v in values)
        else:
            raise ValueError(f"grid[{name!r}] must be a list of values or a mapping label -> value, got {entry!r}")
        if len(values) < 2:
            raise ValueError(f"grid[{name!r}] has {len(values)} value(s); a control needs at least 2 "
                             "(pass a single value in fixed= instead)")
        if len(set(labels)) != len(labels):
            raise ValueError(f"grid[{name!r}] has repeated values {list(labels)}")
        params.append(_Param(name, labels, values, str(names.get(name, name))))
    unknown = set(names) - set(grid)
    if unknown:
        raise ValueError(f"names {sorted(unknown)} are not grid parameters {list(grid)}")
    return params


def _defaults(plot: Callable[..., Any], params: Sequence[_Param], default: Mapping[str, Any] | None) -> list[int]:
    """Grid position of each parameter's starting value: ``default`` if given, else the plot
    function's own default when it is on the grid, else the first value."""
    default = dict(default or {})
    unknown = set(default) - {p.name for p in params}
    if unknown:
        raise ValueError(f"default names {sorted(unknown)} are not grid parameters {[p.name for p in params]}")
    try:
        signature_defaults = {
            k: v.default for k, v in inspect.signature(plot).parameters.items() if v.default is not v.empty
        }
    except (TypeError, ValueError):
        signature_defaults = {}
    positions = []
    for p in params:
        if p.name in default:
            if default[p.name] not in p.values:
                raise ValueError(f"default {p.name}={default[p.name]!r} is not on the grid {list(p.values)}")
            positions.append(p.values.index(default[p.name]))
        elif p.name in signature_defaults and signature_defaults[p.name] in p.values:
            positions.append(p.values.index(signature_defaults[p.name]))
        else:
            positions.append(0)
    return positions


def figure_png(fig: Figure, dpi: int = 96, colors: int = 256) -> bytes:
    """``fig`` as a palette PNG: ``colors`` colours (octree, no dithering), optimised.

    Figures are flat colours and anti-aliased lines, so a palette keeps them sharp at about a
    quarter of the size of matplotlib's RGBA PNG.
    """
    from PIL import Image

    dpi = integer("dpi", dpi, low=30, high=300)
    colors = integer("colors", colors, low=2, high=256)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    palette = image.quantize(colors=colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="png", optimize=True)
    return out.getvalue()


def figure_jpeg(fig: Figure, dpi: int = 96, quality: int = 88) -> bytes:
    """``fig`` as a JPEG, for frames that are mostly photographs: a palette PNG posterises a
    photo (a few dozen colours for thousands), a JPEG keeps its tones at a similar size."""
    dpi = integer("dpi", dpi, low=30, high=300)
    quality = integer("quality", quality, low=50, high=95)
    buf = io.BytesIO()
    fig.savefig(buf, format="jpeg", dpi=dpi, facecolor="white", pil_kwargs={"quality": quality})
    return buf.getvalue()


def _css_width(frame: bytes, dpi: int) -> int:
    from PIL import Image

    with Image.open(io.BytesIO(frame)) as image:
        return round(image.width * 96 / dpi)


def _close(fig: Any) -> None:
    # A pyplot-managed figure would stay alive (and be shown again) after the cell; a bare one is
    # garbage collected. Only touch pyplot if something already imported it.
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)


class StaticView:
    """A pre-rendered, kernel-free view of a plotting function over a parameter grid.

    Displayed in a notebook or on a built page (``_repr_html_``) it is a set of HTML controls and
    one image; moving a control swaps in the frame pre-rendered for that grid point.

    Attributes: ``title``; ``names`` (parameter names, in control order); ``labels`` and
    ``values`` (per parameter); ``frames`` (distinct PNG frames, bytes); ``index`` (frame number
    of every grid point, row-major over the grid like ``itertools.product``); ``start`` (the grid
    position shown first); ``captions``/``caption_index`` (optional HTML per grid point).
    """

    def __init__(
        self,
        title: str,
        params: Sequence[_Param],
        frames: Sequence[bytes],
        index: Sequence[int],
        start: Sequence[int],
        captions: Sequence[str] = (),
        caption_index: Sequence[int] = (),
        note: str = DEFAULT_NOTE,
        mime: str = "image/png",
        css_width: int | None = None,
    ) -> None:
        if mime not in ("image/png", "image/jpeg"):
            raise ValueError(f"mime must be 'image/png' or 'image/jpeg', got {mime!r}")
        self.mime = mime
        #: The frame's width on the page, in CSS px: its size in inches at 96 px per inch, whatever
        #: the dpi it was drawn at, so that its text has the size the figure asked for.
        self.css_width = css_width
        self.title = title
        self._params = tuple(params)
        self.names = tuple(p.name for p in params)
        self.labels = tuple(p.labels for p in params)
        self.values = tuple(p.values for p in params)
        self.frames = tuple(frames)
        self.index = tuple(index)
        self.start = tuple(start)
        self.captions = tuple(captions)
        self.caption_index = tuple(caption_index)
        self.note = note
        self._html: str | None = None

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.values)

    def flat_index(self, **params: Any) -> int:
        """Row-major position of a grid point given as ``name=value`` for every parameter."""
        if set(params) != set(self.names):
            raise ValueError(f"give a value for each of {list(self.names)}, got {sorted(params)}")
        flat = 0
        for name, values in zip(self.names, self.values):
            if params[name] not in values:
                raise ValueError(f"{name}={params[name]!r} is not on the grid {list(values)}")
            flat = flat * len(values) + values.index(params[name])
        return flat

    def frame(self, **params: Any) -> bytes:
        """The PNG shown for one grid point."""
        return self.frames[self.index[self.flat_index(**params)]]

    @property
    def element_id(self) -> str:
        """A stable id for the HTML element, derived from the content (re-runs give the same)."""
        digest = hashlib.sha1()
        digest.update(self.title.encode())
        for f in self.frames:
            digest.update(f)
        digest.update(json.dumps([self.names, self.labels, self.index, self.captions]).encode())
        return "msv-" + digest.hexdigest()[:12]

    def _control(self, i: int, p: _Param, at: int, uid: str) -> str:
        cid = f"{uid}-{i}"
        name = html.escape(p.name)
        shown = html.escape(p.display)
        if p.numeric:
            widget = (
                f'<input type="range" id="{cid}" min="0" max="{len(p.values) - 1}" step="1" value="{at}" '
                f'data-msv-param="{name}" aria-valuetext="{html.escape(p.labels[at])}">'
                f'<output data-msv-for="{i}" for="{cid}">{html.escape(p.labels[at])}</output>'
            )
        else:
            options = "".join(
                f'<option value="{k}"{" selected" if k == at else ""}>{html.escape(label)}</option>'
                for k, label in enumerate(p.labels)
            )
            widget = f'<select id="{cid}" data-msv-param="{name}">{options}</select>'
        return f'<label for="{cid}"><span class="msv-name">{shown}</span>{widget}</label>'

    def to_html(self) -> str:
        """The self-contained HTML (controls, first frame, frames as base64 JSON, inline script)."""
        if self._html is not None:
            return self._html
        uid = self.element_id
        start_flat = 0
        for k, size in zip(self.start, self.sizes):
            start_flat = start_flat * size + k
        data = {
            "title": self.title,
            "names": [p.display for p in self._params],
            "labels": self.labels,
            "sizes": self.sizes,
            "index": self.index,
            "mime": self.mime,
            "frames": [base64.b64encode(f).decode("ascii") for f in self.frames],
            "captions": self.captions,
            "caption_index": self.caption_index,
        }
        # "</" would end the <script> element early; JSON allows the escaped form "<\/".
        payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
        controls = "".join(self._control(i, p, at, uid) for i, (p, at) in enumerate(zip(self._params, self.start)))
        alt = ", ".join(f"{p.display} = {labels[k]}" for p, labels, k in zip(self._params, self.labels, self.start))
        first = data["frames"][self.index[start_flat]]
        caption = (
            f'<div class="msv-caption">{self.captions[self.caption_index[start_flat]]}</div>' if self.captions else ""
        )
        size = f' style="width:{self.css_width}px;max-width:100%"' if self.css_width else ""
        self._html = (
            f'<div class="ml-static-view" id="{uid}" data-msv-frame="{self.index[start_flat]}">'
            f"<style>{_STYLE}</style>"
            f'<div class="msv-controls">{controls}</div>'
            f'<p class="msv-note">{html.escape(self.note)}</p>'
            f"{caption}"
            f'<img class="msv-frame"{size} src="data:{self.mime};base64,{first}" alt="{html.escape(self.title)}: {html.escape(alt)}">'
            f'<script type="application/json" class="msv-data">{payload}</script>'
            f"<script>{_SCRIPT % {'id': uid}}</script>"
            "</div>"
        )
        return self._html

    def _repr_html_(self) -> str:
        return self.to_html()

    @property
    def nbytes(self) -> int:
        """Size of the HTML this view adds to a page, in bytes."""
        return len(self.to_html().encode("utf-8"))

    def __repr__(self) -> str:
        grid = " × ".join(f"{n} ({len(v)})" for n, v in zip(self.names, self.values))
        return (f"StaticView({self.title}: {grid} = {len(self.index)} grid points, "
                f"{len(self.frames)} distinct frames)")


def static_view(
    plot: Callable[..., Figure],
    grid: Mapping[str, Sequence[Any] | Mapping[str, Any]],
    *,
    fixed: Mapping[str, Any] | None = None,
    default: Mapping[str, Any] | None = None,
    names: Mapping[str, str] | None = None,
    caption: Callable[..., str] | None = None,
    title: str | None = None,
    note: str = DEFAULT_NOTE,
    dpi: int = 96,
    colors: int = 256,
    max_points: int = 64,
    max_bytes: int = 2_000_000,
    photo: bool = False,
) -> StaticView:
    """Pre-render ``plot`` over ``grid`` into a kernel-free interactive view.

    ``plot`` is a pure function returning a matplotlib ``Figure``; it is called as
    ``plot(**fixed, **point)`` for every point of the Cartesian product of ``grid`` (name -> list of
    values, or name -> {label: value}). Numeric parameters get a range slider, others a menu.
    ``default`` picks the values shown first (else ``plot``'s own defaults when on the grid, else
    the first values); ``names`` what a control is called on the page (default: the parameter's
    name). ``caption(**fixed, **point)`` may return an HTML snippet shown above the
    figure (e.g. a small table). Identical frames are stored once.

    Frames are palette PNGs of ``colors`` colours at ``dpi``; with ``photo`` they are JPEGs
    (for figures that are mostly photographs, which a palette posterises).

    Raises ``ValueError`` for a bad grid, more than ``max_points`` grid points (each one is a
    figure to draw when the notebook runs), or a result over ``max_bytes`` (the page's weight).
    """
    if not callable(plot):
        raise ValueError(f"plot must be a function returning a matplotlib Figure, got {plot!r}")
    if caption is not None and not callable(caption):
        raise ValueError(f"caption must be a function returning HTML, or None; got {caption!r}")
    photo = flag("photo", photo)
    params = _params(plot, grid, dict(names or {}))
    fixed = dict(fixed or {})
    clash = set(fixed) & {p.name for p in params}
    if clash:
        raise ValueError(f"parameters {sorted(clash)} are both on the grid and fixed")
    n_points = 1
    for p in params:
        n_points *= len(p.values)
    if n_points > max_points:
        sizes = " × ".join(str(len(p.values)) for p in params)
        raise ValueError(f"the grid has {sizes} = {n_points} points, more than max_points={max_points}; "
                         "use fewer values (every point is a figure drawn when the notebook runs)")
    start = _defaults(plot, params, default)

    frames: list[bytes] = []
    seen: dict[bytes, int] = {}
    index: list[int] = []
    captions: list[str] = []
    caption_seen: dict[str, int] = {}
    caption_index: list[int] = []
    for point in itertools.product(*(p.values for p in params)):
        kwargs = {**fixed, **{p.name: v for p, v in zip(params, point)}}
        fig = plot(**kwargs)
        if not hasattr(fig, "savefig"):
            raise ValueError(f"plot({kwargs}) returned {type(fig).__name__}, not a matplotlib Figure")
        png = figure_jpeg(fig, dpi=dpi) if photo else figure_png(fig, dpi=dpi, colors=colors)
        _close(fig)
        index.append(seen.setdefault(hashlib.sha256(png).digest(), len(seen)))
        if index[-1] == len(frames):
            frames.append(png)
        if caption is not None:
            text = str(caption(**kwargs))
            caption_index.append(caption_seen.setdefault(text, len(caption_seen)))
            if caption_index[-1] == len(captions):
                captions.append(text)

    view = StaticView(
        title or getattr(plot, "__name__", "figure"),
        params, frames, index, start, captions, caption_index, note, "image/jpeg" if photo else "image/png",
        _css_width(frames[0], dpi),
    )
    if view.nbytes > max_bytes:
        raise ValueError(f"the view weighs {view.nbytes / 1e6:.2f} MB, more than max_bytes={max_bytes / 1e6:.2f} MB; "
                         "use fewer grid values, a lower dpi or fewer colors")
    return view
