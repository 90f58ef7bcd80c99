"""Every widget in the book answers a control move in under 200 ms (CPU time, this process).

The registry is the ``viz`` package itself: every public function named ``*_widget`` in a
``mobilenet_lib.viz`` module is built with its defaults, and every control in it (slider, menu,
toggle) is driven through its range. A new widget is covered without editing this file.

Figures a callback hands to ``display`` are rendered to PNG here, as the notebook's inline
backend would, so the time includes drawing. CPU time (not wall time) keeps the check meaningful
on a busy shared machine, and, as in ``timeit``, garbage collection is held off during a move. A
move must also visibly change the widget's output somewhere in the control's range.
"""

from __future__ import annotations

import gc
import hashlib
import importlib
import inspect
import io
import json
import pkgutil
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ipywidgets = pytest.importorskip("ipywidgets")

import mobilenet_lib.viz as viz_pkg  # noqa: E402

BUDGET_S = 0.2  # the book's promise for one update, on two idle cores
# The test machine is shared and busy, which inflates even CPU time (caches, hyper-threads, torch's
# helper threads): the median must stay within 1.5x the budget, a single move (first-use caches,
# garbage collection) within 5x. Timings go to test-artifacts/widget-timings/.
MARGIN = 1.5
WORST_S = 1.0
POSITIONS = 5  # positions per control, ends included


def widget_builders() -> list[tuple[str, Callable[[], Any]]]:
    found = []
    for info in pkgutil.iter_modules(viz_pkg.__path__):
        module = importlib.import_module(f"mobilenet_lib.viz.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.endswith("_widget") and not name.startswith("_") and fn.__module__ == module.__name__:
                found.append((f"{info.name}.{name}", fn))
    return sorted(found, key=lambda item: item[0])


BUILDERS = widget_builders()

# The central widget of each chapter named in the book's plan: the registry must hold them all.
CENTRAL = {
    "depthwise_separable.cost_widget",  # conv cost calculator
    "mobilenet_v1.cost_widget",  # alpha / rho explorer
    "manifold_collapse.manifold_widget",  # manifold collapse
    "inverted_residuals.block_widget",  # inverted-residual block explorer
    "squeeze_excitation.se_demo_widget",  # SE gate
    "hard_swish.activation_widget",  # h-swish comparison
    "shufflenet_latency.channel_shuffle_widget",  # channel shuffle
}


def test_registry_holds_every_central_widget() -> None:
    names = {name for name, _ in BUILDERS}
    missing = sorted(CENTRAL - names)
    assert not missing, f"central widgets not found in mobilenet_lib.viz: {missing}"


def _walk(widget: Any) -> Iterator[Any]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def _controls(box: Any) -> list[Any]:
    kinds = (ipywidgets.widgets.widget_int._IntRange, ipywidgets.widgets.widget_int._Int,
             ipywidgets.widgets.widget_float._Float, ipywidgets.widgets.widget_selection._Selection,
             ipywidgets.Checkbox, ipywidgets.ToggleButton)
    return [w for w in _walk(box) if isinstance(w, kinds) and not getattr(w, "disabled", False)
            and not isinstance(w, (ipywidgets.IntProgress, ipywidgets.FloatProgress))]


def _settings(control: Any) -> list[Callable[[], None]]:
    """Moves that take ``control`` across its range (at most POSITIONS positions, ends included)."""
    k = POSITIONS - 1
    if isinstance(control, ipywidgets.widgets.widget_selection._Selection):
        n = len(control.options)
        picks = sorted({round(i * (n - 1) / k) for i in range(POSITIONS)}) if n > POSITIONS else range(n)
        return [lambda i=i: setattr(control, "index", i) for i in picks]
    if isinstance(control, (ipywidgets.Checkbox, ipywidgets.ToggleButton)):
        return [lambda v=v: setattr(control, "value", v) for v in (not control.value, control.value)]
    lo, hi = control.min, control.max
    if isinstance(control, ipywidgets.FloatLogSlider):
        values = [control.base ** (lo + (hi - lo) * i / k) for i in range(POSITIONS)]
    else:
        values = [lo + (hi - lo) * i / k for i in range(POSITIONS)]
        if isinstance(control, ipywidgets.widgets.widget_int._Int):
            values = sorted({int(round(v)) for v in values})
    return [lambda v=v: setattr(control, "value", v) for v in values]


class _Screen:
    """Stands in for the notebook's display: renders figures to PNG and remembers a digest."""

    def __init__(self) -> None:
        self.last = b""

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


def _state(box: Any, screen: _Screen) -> bytes:
    """What the reader sees: displayed figures, images and HTML in the widget."""
    parts = [screen.last]
    for w in _walk(box):
        if isinstance(w, ipywidgets.Image):
            parts.append(bytes(w.value))
        elif isinstance(w, (ipywidgets.HTML, ipywidgets.HTMLMath, ipywidgets.Label)):
            parts.append(w.value.encode())
    return hashlib.sha1(b"\0".join(parts)).digest()


def _record(name: str, median: float, worst: float, moves: int) -> None:
    # one small file per widget: pytest-xdist workers never write the same file
    out = Path(__file__).resolve().parent.parent / "test-artifacts" / "widget-timings"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(
        {"widget": name, "median_ms": round(1e3 * median, 1), "worst_ms": round(1e3 * worst, 1), "moves": moves}))


@pytest.mark.parametrize(("name", "builder"), BUILDERS, ids=[name for name, _ in BUILDERS])
def test_every_control_updates_the_widget_in_under_200_ms(name: str, builder: Callable[[], Any], monkeypatch) -> None:
    import IPython.display

    screen = _Screen()
    # the builders import display inside their bodies, so patching the module attribute reaches them
    monkeypatch.setattr(IPython.display, "display", screen.display)
    box = builder()
    controls = _controls(box)
    assert controls, f"{name}: no slider, menu or toggle found"
    times: list[float] = []
    dead = []
    for control in controls:
        seen = {_state(box, screen)}
        for move in _settings(control):
            # As timeit does: no garbage collection inside the timed move. This worker's heap holds
            # whatever earlier tests left, and a full collection of it is not the widget's cost.
            gc.collect()
            gc.disable()
            try:
                start = time.process_time()
                move()
                times.append(time.process_time() - start)
            finally:
                gc.enable()
            seen.add(_state(box, screen))
        if len(seen) < 2:
            dead.append(getattr(control, "description", type(control).__name__))
    assert not dead, f"{name}: moving {dead} across its range changed nothing the reader sees"
    median, worst = statistics.median(times), max(times)
    _record(name, median, worst, len(times))
    assert median < MARGIN * BUDGET_S, (
        f"{name}: median update {1e3 * median:.0f} ms CPU (budget {1e3 * BUDGET_S:.0f} ms on idle cores, "
        f"{MARGIN}x allowed here)"
    )
    assert worst < WORST_S, f"{name}: slowest update {1e3 * worst:.0f} ms CPU"
