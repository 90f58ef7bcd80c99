"""Tests for mobilenet_lib.viz.road_to_mobilenet: measured connectivity, costs, the figure and the widget."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import pytest
import torch

from mobilenet_lib.costs import group_conv_cost
from mobilenet_lib.experiments import road_to_mobilenet as gcx
from mobilenet_lib.viz import road_to_mobilenet as gc


def test_valid_groups_are_common_divisors() -> None:
    assert gcx.valid_groups(8, 8) == [1, 2, 4, 8]
    assert gcx.valid_groups(12, 18) == [1, 2, 3, 6]
    assert gcx.valid_groups(7, 5) == [1]


@pytest.mark.parametrize("c_in, c_out, groups", [(8, 8, 1), (8, 8, 2), (6, 12, 3), (16, 16, 16)])
def test_connectivity_is_block_diagonal(c_in: int, c_out: int, groups: int) -> None:
    links = gcx.connectivity(c_in, c_out, groups)
    assert links.shape == (c_out, c_in) and links.dtype == torch.bool
    expected = torch.zeros(c_out, c_in, dtype=torch.bool)
    a, b = c_in // groups, c_out // groups
    for k in range(groups):
        expected[k * b : (k + 1) * b, k * a : (k + 1) * a] = True
    assert torch.equal(links, expected)
    assert int(links.sum()) == c_in * c_out // groups  # one k×k filter slice per link


def test_summary_uses_the_cost_formulas() -> None:
    s = gcx.group_conv_summary(256, 256, 8, size=56)
    ref = group_conv_cost(3, 256, 256, 56, 8)
    assert (s["params"], s["macs"]) == (ref.params, ref.macs) == (73_728, 231_211_008)
    assert s["dense_params"] == 8 * s["params"] and s["saving"] == 8.0
    assert s["inputs_per_output"] == 32 and s["kind"] == "group"
    assert gcx.group_conv_summary(32, 32, 32)["kind"] == "depthwise"
    assert gcx.group_conv_summary(32, 64, 1)["kind"] == "standard"


def test_plot_draws_one_line_per_filter_and_states_costs() -> None:
    fig = gc.plot_group_conv(8, 8, 2, size=56)
    ax = fig.axes[0]
    (lines,) = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    assert len(lines.get_segments()) == 8 * 8 // 2
    title = ax.get_title()
    assert "288 params" in title and "903,168 mult-adds" in title and "2× fewer" in title
    # many filters: bands only, no lines
    dense = gc.plot_group_conv(64, 64, 1)
    assert not [c for c in dense.axes[0].collections if type(c).__name__ == "LineCollection"]
    assert "depthwise" in gc.plot_group_conv(16, 16, 16).axes[0].get_title()


@pytest.mark.parametrize(
    "kwargs, match",
    [({"groups": 3}, "valid: \\[1, 2, 4, 8\\]"), ({"c_in": 65}, r"c_in must be an integer in \[1, 64\]"), ({"c_out": 0}, "c_out")],
)
def test_plot_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gc.plot_group_conv(**kwargs)


def test_widget_keeps_groups_valid_when_channels_change() -> None:
    pytest.importorskip("ipywidgets")
    box = gc.group_conv_widget()
    cin, cout, grp = box.children[0].children
    assert list(grp.options) == [1, 2, 4, 8] and grp.value == 2
    cin.value = 12  # gcd(12, 8) = 4
    assert list(grp.options) == [1, 2, 4] and grp.value == 2
    grp.value = 4
    cout.value = 6  # gcd(12, 6) = 6: 4 is no longer valid, the largest valid below it is kept
    assert list(grp.options) == [1, 2, 3, 6] and grp.value == 3
    with pytest.raises(ValueError):
        gc.group_conv_widget(c_in=100)


def test_redraw_renders_across_the_controls() -> None:
    # Work per move is bounded in test_widget_responsiveness.py, its time in benchmarks/widgets.py.
    for c_in, c_out in [(8, 8), (16, 32), (64, 64), (48, 24)]:
        for g in gcx.valid_groups(c_in, c_out)[::3]:
            png = io.BytesIO()
            gc.plot_group_conv(c_in, c_out, g).savefig(png, format="png")
            assert png.getvalue().startswith(b"\x89PNG")
    plt.close("all")
