"""Drive the book's widgets as a reader would, and count the work each control move does.

Shared by the test suite (``tests/test_widget_responsiveness.py``: the work per move stays within a
budget, which no load on the machine can change) and the benchmark (``benchmarks/widgets.py``: the
time per move on an idle machine, committed with the machine it ran on). Counting is what a test
can assert on any machine; timing is what a reader feels, and is measured, not asserted.

- :func:`widget_builders` is the registry: every public ``*_widget`` function of a ``viz`` module.
- :func:`controls` and :func:`settings` find a widget's sliders, menus and toggles and the moves
  that take each across its range (ends included).
- :class:`Screen` stands in for the notebook's ``display``: it renders displayed figures to PNG,
  as the inline backend would, so drawing is part of the move.
- :class:`WorkCounter` counts, while active: full figure draws and the pixels they fill, partial
  (blitted) artist draws, the data points drawn, figures created, images encoded, torch module
  calls and the tensor elements torch computed.
- :func:`committed_timing` reads one widget's committed timing, for the chapters to quote.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import inspect
import io
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mobilenet_lib.validation import positive_int

__all__ = [
    "WIDGET_TIMINGS", "Move", "Screen", "Work", "WorkCounter", "committed_timing", "controls", "drive",
    "max_work", "settings", "widget_builders",
]

# Written by benchmarks/widgets.py on an idle machine; the chapters quote it, the tests check it.
WIDGET_TIMINGS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "widgets.json"


def committed_timing(name: str, path: str | Path | None = None) -> dict[str, Any]:
    """The committed timing of widget ``name`` (``"module.function"``, as :func:`widget_builders`
    names it): ``median_ms``, ``p90_ms``, ``worst_ms``, ``moves``, ``max_work_per_move``, plus the
    ``machine`` it ran on. ``path`` defaults to :data:`WIDGET_TIMINGS`.

    Raises:
        TypeError: if ``name`` is not a string.
        ValueError: if the file is missing or does not hold ``name``.
    """
    from mobilenet_lib.benchmark import load_results

    if not isinstance(name, str):
        raise TypeError(f"name must be a widget name such as 'mobilenet_v1.cost_widget', got {type(name).__name__}")
    payload = load_results(WIDGET_TIMINGS if path is None else path, made_by="benchmarks/widgets.py")
    rows = {r["widget"]: r for r in payload["results"]}
    if name not in rows:
        raise ValueError(f"name {name!r} was never timed; timed widgets: {sorted(rows)}")
    return {**copy.deepcopy(rows[name]), "machine": payload["machine"]}


def widget_builders() -> list[tuple[str, Callable[[], Any]]]:
    """Every widget builder of the book: ``("module.name", function)``, sorted by name."""
    import mobilenet_lib.viz as viz_pkg

    found = []
    for info in pkgutil.iter_modules(viz_pkg.__path__):
        if info.name == __name__.rsplit(".", 1)[-1]:
            continue
        module = importlib.import_module(f"mobilenet_lib.viz.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.endswith("_widget") and not name.startswith("_") and fn.__module__ == module.__name__:
                found.append((f"{info.name}.{name}", fn))
    return sorted(found, key=lambda item: item[0])


def _walk(widget: Any) -> Iterator[Any]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def controls(box: Any) -> list[Any]:
    """The enabled sliders, menus, checkboxes and toggle buttons inside ``box`` (depth first)."""
    import ipywidgets

    kinds = (ipywidgets.widgets.widget_int._IntRange, ipywidgets.widgets.widget_int._Int,
             ipywidgets.widgets.widget_float._Float, ipywidgets.widgets.widget_selection._Selection,
             ipywidgets.Checkbox, ipywidgets.ToggleButton)
    return [w for w in _walk(box) if isinstance(w, kinds) and not getattr(w, "disabled", False)
            and not isinstance(w, (ipywidgets.IntProgress, ipywidgets.FloatProgress))]


def settings(control: Any, positions: int = 5) -> list[Callable[[], None]]:
    """Moves that take ``control`` across its range: at most ``positions`` values, ends included,
    then back to where it started (so the next control is driven from the widget's defaults)."""
    import ipywidgets

    positions = positive_int("positions", positions)
    k = max(positions - 1, 1)
    if isinstance(control, ipywidgets.widgets.widget_selection._Selection):
        n, start = len(control.options), control.index
        picks = sorted({round(i * (n - 1) / k) for i in range(positions)}) if n > positions else range(n)
        return [lambda i=i: setattr(control, "index", i) for i in [*picks, start]]
    if isinstance(control, (ipywidgets.Checkbox, ipywidgets.ToggleButton)):
        return [lambda v=v: setattr(control, "value", v) for v in (not control.value, control.value)]
    lo, hi, start = control.min, control.max, control.value
    if isinstance(control, ipywidgets.FloatLogSlider):
        values = [control.base ** (lo + (hi - lo) * i / k) for i in range(positions)]
    else:
        values = [lo + (hi - lo) * i / k for i in range(positions)]
        if isinstance(control, ipywidgets.widgets.widget_int._Int):
            values = sorted({int(round(v)) for v in values})
    return [lambda v=v: setattr(control, "value", v) for v in [*values, start]]


class Screen:
    """Stands in for the notebook's display: renders figures to PNG and remembers a digest."""

    def __init__(self) -> None:
        self.last = b""

    @contextmanager
    def shown(self) -> Iterator[Screen]:
        """Route IPython's ``display`` to this screen while active. The builders import
        ``display`` inside their bodies, so replacing the module attribute reaches them."""
        import IPython.display

        before = IPython.display.display
        IPython.display.display = self.display
        try:
            yield self
        finally:
            IPython.display.display = before

    def display(self, *objs: Any, **_: Any) -> None:
        for obj in objs:
            if hasattr(obj, "savefig"):
                buf = io.BytesIO()
                obj.savefig(buf, format="png")
                self.last = hashlib.sha1(buf.getvalue()).digest()
            elif hasattr(obj, "_repr_html_"):
                self.last = hashlib.sha1(obj._repr_html_().encode()).digest()
            else:
                self.last = hashlib.sha1(repr(obj).encode()).digest()

    def state(self, box: Any) -> bytes:
        """A digest of what the reader sees: displayed figures, images and HTML in ``box``."""
        import ipywidgets

        parts = [self.last]
        for w in _walk(box):
            if isinstance(w, ipywidgets.Image):
                parts.append(bytes(w.value))
            elif isinstance(w, (ipywidgets.HTML, ipywidgets.HTMLMath, ipywidgets.Label)):
                parts.append(w.value.encode())
        return hashlib.sha1(b"\0".join(parts)).digest()


@dataclass
class Work:
    """What one control move cost, in units that do not depend on the machine or its load."""

    full_draws: int = 0  # Figure.draw: every artist of a figure rendered
    pixels: int = 0  # canvas pixels those full draws filled
    artist_draws: int = 0  # draw_artist calls (blitting: only what changed is redrawn)
    points: int = 0  # data points in the artists drawn (line vertices, markers, image pixels)
    figures_created: int = 0
    images_encoded: int = 0  # PNG / JPEG files written by savefig
    module_calls: int = 0  # torch.nn.Module calls, nested ones included
    tensor_elements: int = 0  # elements of the real tensors torch ops produced (meta tensors are free)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _points(artist: Any) -> int:
    """Data points an artist carries: what drawing it costs grows with these."""
    from matplotlib.collections import Collection
    from matplotlib.image import AxesImage
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if isinstance(artist, Line2D):
        return len(artist.get_xdata(orig=False))
    if isinstance(artist, Collection):
        offsets = len(artist.get_offsets()) if artist.get_offsets() is not None else 0
        return max(offsets, len(artist.get_paths()))
    if isinstance(artist, AxesImage):
        array = artist.get_array()
        return 0 if array is None else int(array.shape[0] * array.shape[1])
    if isinstance(artist, Patch):
        return 1
    return 0


def _figure_points(figure: Any) -> int:
    return sum(_points(a) for a in figure.findobj(include_self=False))


def max_work(moves: Iterable[Move]) -> dict[str, int]:
    """The heaviest value of each count over ``moves`` (each :class:`Work` field on its own)."""
    works = [m.work.as_dict() for m in moves]
    return {k: max(w[k] for w in works) for k in works[0]}


@dataclass
class WorkCounter:
    """Context manager: while active, :attr:`work` counts what matplotlib and torch do.

    Matplotlib's ``Figure.draw``, ``draw_artist``, ``Figure.__init__`` and ``savefig`` are wrapped
    (and restored on exit); torch is observed through a global module forward hook and a dispatch
    mode that sees every aten operation. Element counts cover every operation, not only the
    matrix products a FLOP counter knows, and skip meta-device tensors, which cost nothing (the
    shape-only cost tables run on them). Counting is exact and deterministic: it does not depend
    on the machine, its instruction set or its load.
    """

    work: Work = field(default_factory=Work)

    def __enter__(self) -> WorkCounter:
        import torch
        from matplotlib.axes import Axes
        from matplotlib.figure import Figure
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils._pytree import tree_leaves

        work, self._undo = self.work, []

        def wrap(cls: type, name: str, before: Callable[..., None]) -> None:
            owner = next(c for c in cls.__mro__ if name in c.__dict__)  # patch where it is defined
            original = owner.__dict__[name]

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                before(*args, **kwargs)
                return original(*args, **kwargs)

            setattr(owner, name, wrapper)
            self._undo.append(lambda: setattr(owner, name, original))

        def on_draw(figure: Any, renderer: Any = None, *_: Any, **__: Any) -> None:
            work.full_draws += 1
            if renderer is not None and hasattr(renderer, "width"):
                work.pixels += int(renderer.width) * int(renderer.height)
            work.points += _figure_points(figure)

        def on_artist(_: Any, artist: Any, *__: Any, **___: Any) -> None:
            work.artist_draws += 1
            work.points += _points(artist) + sum(_points(a) for a in artist.findobj(include_self=False))

        def on_figure(*_: Any, **__: Any) -> None:
            work.figures_created += 1

        def on_save(*_: Any, **__: Any) -> None:
            work.images_encoded += 1

        wrap(Figure, "draw", on_draw)
        wrap(Figure, "draw_artist", on_artist)
        wrap(Axes, "draw_artist", on_artist)
        wrap(Figure, "__init__", on_figure)
        wrap(Figure, "savefig", on_save)

        def on_call(*_: Any) -> None:
            work.module_calls += 1

        class Elements(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                for t in tree_leaves(out):
                    if isinstance(t, torch.Tensor) and t.device.type != "meta":
                        work.tensor_elements += t.numel()
                return out

        self._hook = torch.nn.modules.module.register_module_forward_hook(on_call)
        self._mode = Elements()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._mode.__exit__(*exc)
        self._hook.remove()
        for undo in reversed(self._undo):
            undo()


@dataclass
class Move:
    """One control move: which control, to which value, what it changed, and either the work it
    did (when counted) or the seconds it took (when timed)."""

    control: str
    value: Any
    changed: bool
    work: Work | None = None
    seconds: float | None = None


def drive(box: Any, screen: Screen, positions: int = 5,
          timer: Callable[[Callable[[], None]], float] | None = None) -> Iterator[Move]:
    """Move every control of ``box`` across its range; yield a :class:`Move` per move.

    ``screen`` must be the display the widget's callbacks use (patch ``IPython.display.display``
    with ``screen.display`` before building the widget). Without ``timer`` each move's work is
    counted; with one, ``timer(move)`` makes the move and returns its duration, and nothing is
    counted (counting would slow the move down).
    """
    for control in controls(box):
        label = getattr(control, "description", "") or type(control).__name__
        for move in settings(control, positions):
            before = screen.state(box)
            if timer is None:
                with WorkCounter() as counter:
                    move()
                yield Move(label, control.value, screen.state(box) != before, work=counter.work)
            else:
                seconds = timer(move)
                yield Move(label, control.value, screen.state(box) != before, seconds=seconds)
