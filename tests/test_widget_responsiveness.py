"""Every widget in the book answers a control move with a bounded amount of work.

The registry is ``mobilenet_lib.viz.widget_driver.widget_builders``: every public function named
``*_widget`` in a ``mobilenet_lib.viz`` module is built with its defaults, and every control in it
(slider, menu, toggle) is driven across its range. A new widget is covered without editing this file.

No wall clock here: a test that times a move fails when other work shares the cores. What the
test asserts is the work a move does (figure draws, pixels, data points drawn, figures created,
torch calls and tensor elements), counted exactly, so it is the same on every machine under any
load. Time is measured by ``benchmarks/widgets.py`` on an idle machine and committed in
``benchmarks/results/widgets.json``; the last test ties the two together: every widget was timed,
within the book's budget (a median under half a second), doing at least the work it does now.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ipywidgets")

from mobilenet_lib.benchmark import load_results
from mobilenet_lib.viz import widget_driver

ROOT = Path(__file__).resolve().parents[1]
BUILDERS = widget_driver.widget_builders()

# What one move may cost. The benchmark machine (benchmarks/results/widgets.md) answers the
# heaviest move the budget allows in under the book's half second; the limits sit about 1.5x above
# the heaviest widget today, so a change that makes a widget several times heavier fails here.
BUDGET = {
    "full_draws": 2,  # one figure, plus the layout pass of a tight bounding box
    "artist_draws": 12,  # blitted widgets redraw only the artists that moved
    "pixels": 2_000_000,  # canvas pixels filled by full draws
    "points": 200_000,  # data points in the artists drawn
    "figures_created": 1,
    "images_encoded": 1,
    "module_calls": 250,
    "tensor_elements": 12_000_000,
}

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


_MAX_WORK: dict[str, dict[str, int]] = {}  # filled by the test below, read by the last one


def _drive(builder: Callable[[], Any]) -> list[widget_driver.Move]:
    screen = widget_driver.Screen()
    with screen.shown():
        box = builder()
        assert widget_driver.controls(box), "no slider, menu or toggle found"
        return list(widget_driver.drive(box, screen))


@pytest.mark.parametrize(("name", "builder"), BUILDERS, ids=[name for name, _ in BUILDERS])
def test_every_control_move_stays_within_the_work_budget(name: str, builder: Callable[[], Any]) -> None:
    import matplotlib.pyplot as plt

    open_before = len(plt.get_fignums())
    moves = _drive(builder)
    dead = sorted({m.control for m in moves} - {m.control for m in moves if m.changed})
    assert not dead, f"{name}: moving {dead} across its range changed nothing the reader sees"
    over = [(m.control, m.value, k, v) for m in moves for k, v in m.work.as_dict().items() if v > BUDGET[k]]
    assert not over, f"{name}: moves over the work budget {BUDGET}: {over[:5]}"
    assert all(m.work.full_draws + m.work.artist_draws > 0 for m in moves if m.changed), (
        f"{name}: a move changed the output without drawing (a stale figure?)")
    # bare Figures are garbage-collected; figures registered with pyplot would pile up per move
    assert len(plt.get_fignums()) == open_before, f"{name}: moves leave pyplot figures open"
    _MAX_WORK[name] = widget_driver.max_work(moves)


def test_work_counter_sees_what_a_move_does() -> None:
    """The counters count: a redraw of a known figure gives known numbers, and torch work shows."""
    import io

    import torch
    from matplotlib.figure import Figure

    with widget_driver.WorkCounter() as counter:
        fig = Figure(figsize=(2, 1), dpi=100)
        fig.subplots().plot(range(50))
        fig.savefig(io.BytesIO(), format="png")
        torch.nn.Linear(4, 3)(torch.ones(2, 4))
        with torch.device("meta"):
            torch.ones(1000, 1000) @ torch.ones(1000, 1000)  # shapes only: costs nothing, counts nothing
    work = counter.work
    assert (work.full_draws, work.figures_created, work.images_encoded, work.module_calls) == (1, 1, 1, 1)
    assert work.pixels == 200 * 100 and work.points >= 50
    assert 6 <= work.tensor_elements < 100  # the (2, 3) output, plus the ones() input and weights' ops
    with widget_driver.WorkCounter() as idle:
        pass
    assert set(idle.work.as_dict().values()) == {0}


def test_committed_timings_cover_every_widget_at_todays_work() -> None:
    payload = load_results(ROOT / "benchmarks" / "results" / "widgets.json", made_by="benchmarks/widgets.py")
    timed = {r["widget"]: r for r in payload["results"]}
    missing = sorted({name for name, _ in BUILDERS} - set(timed))
    assert not missing, f"widgets never timed: {missing}; run benchmarks/widgets.py"
    assert payload["machine"]["cpu_model"] and payload["machine"]["instruction_sets"]["aten_cpu_capability"]
    slow = {n: r["median_ms"] for n, r in timed.items() if r["median_ms"] >= payload["config"]["budget_ms"]}
    assert not slow, f"median over the book's budget on the benchmark machine: {slow}"
    # The timing still describes today's widgets only if they do no more work than when timed.
    if set(_MAX_WORK) != {name for name, _ in BUILDERS}:
        pytest.skip("needs the work-budget test of every widget in the same worker")
    heavier = {n: {k: (v, timed[n]["max_work_per_move"][k]) for k, v in w.items() if v > timed[n]["max_work_per_move"][k]}
               for n, w in _MAX_WORK.items()}
    heavier = {n: d for n, d in heavier.items() if d}
    assert not heavier, f"widgets now do more work than when timed (now, then): {heavier}; re-run benchmarks/widgets.py"
