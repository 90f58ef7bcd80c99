"""Tests for mobilenet_lib.viz.squeeze_excitation: figures, widgets and their update speed."""

from __future__ import annotations

import pytest

from mobilenet_lib.experiments import squeeze_excitation as se_study
from mobilenet_lib.experiments import squeeze_excitation as sex
from mobilenet_lib.viz import squeeze_excitation as viz


def _bar_heights(ax):
    return [p.get_height() for p in ax.patches]


def test_se_demo_figure_shows_the_gates_it_computed():
    fig = viz.plot_se_demo("flower", 1, strength=6.0, gate="h-sigmoid")
    gates = se_study.se_demo("flower", 1, 6.0, "h-sigmoid").gates.tolist()
    photo, squeeze, gate_ax, maps = fig.axes
    assert _bar_heights(gate_ax) == pytest.approx(gates)
    assert len(_bar_heights(squeeze)) == 8
    texts = " ".join(t.get_text() for t in maps.texts)
    for c in viz.SHOWN_CHANNELS:
        assert f"x {gates[c]:.2f}" in texts
    assert "turned 90" in photo.get_title()


def test_mosaic_after_tiles_are_before_tiles_times_gate():
    demo = se_study.se_demo("china", 0)
    mosaic = viz._mosaic(demo, viz.SHOWN_CHANNELS, gap=4, row_gap=16)
    h, w = demo.before.shape[1:]
    for col, c in enumerate(viz.SHOWN_CHANNELS):
        x0 = col * (w + 4)
        before, after = mosaic[:h, x0 : x0 + w], mosaic[h + 16 :, x0 : x0 + w]
        assert before.max() == pytest.approx(1.0)
        assert after == pytest.approx(before * float(demo.gates[c]), abs=1e-5)


def test_gate_comparison_has_three_panels_with_swapped_orientation():
    fig = viz.plot_gate_comparison("china")
    upright, turned, untrained = (_bar_heights(ax) for ax in fig.axes)
    assert upright[0] == pytest.approx(turned[1]) and upright[1] == pytest.approx(turned[0])
    assert untrained == pytest.approx(se_study.random_se_gates("china", 0, 0).tolist())


def test_se_cost_figure_totals():
    fig = viz.plot_se_cost(4, "large", 8)
    params_ax, macs_ax = fig.axes[:2]
    blocks = se_study.v3_se_blocks("large", 4, 8)
    total = sum(b.cost.fc.params for b in blocks)
    assert sum(_bar_heights(params_ax)) == pytest.approx(total / 1e3)
    assert f"+{total:,} params" in params_ax.get_title()
    assert len(macs_ax.patches) == 2 * len(blocks)


def test_cost_without_se_is_cached_and_checked():
    a = sex.v3_cost_without_se("small")
    assert a is sex.v3_cost_without_se("small")
    with pytest.raises(ValueError):
        sex.v3_cost_without_se("tiny")


def test_placement_diagram_names_both_blocks():
    fig = viz.plot_se_placement()
    titles = [ax.get_title() for ax in fig.axes]
    assert any("SE-ResNet" in t for t in titles) and any("V3" in t for t in titles)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert sum("SE:" in t for t in texts) == 2


def test_widgets_build_and_update():
    pytest.importorskip("ipywidgets")
    w = viz.se_demo_widget()
    image, strength = w.children[0].children
    rotate, gate = w.children[1].children
    shown = w.children[2]
    first = bytes(shown.value)
    assert first[:2] == b"\xff\xd8"  # the figure, as JPEG
    image.value, rotate.value, strength.value, gate.value = "grace_hopper", 1, 8.0, "h-sigmoid"
    assert bytes(shown.value) != first
    c = viz.se_cost_widget()
    reduction, variant, divisor = c.children[0].children
    first = bytes(c.children[1].value)
    assert first[:4] == b"\x89PNG"
    reduction.value, variant.value, divisor.value = 16, "small", 1
    assert bytes(c.children[1].value) != first

