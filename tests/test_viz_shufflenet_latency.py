"""Tests for mobilenet_lib.viz.shufflenet_latency: channel flow, tables and the measurement figures."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import pytest

from mobilenet_lib.benchmark import ModelLatency, Timing
from mobilenet_lib.experiments import shufflenet_latency as svx
from mobilenet_lib.experiments.shufflenet_latency import g2_variants, measure
from mobilenet_lib.viz import shufflenet_latency as sv

# ------------------------------------------------------------------------------------------
# Channel flow
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("g, n", [(2, 2), (3, 3), (4, 4), (3, 2), (4, 2), (1, 3)])
def test_channel_flow_without_shuffle_is_closed_per_group(g: int, n: int) -> None:
    flow = svx.channel_flow(g, n, shuffle=False)
    groups_seen = {j: {i // n for i in flow[j].nonzero().flatten().tolist()} for j in range(g * n)}
    assert all(seen == {j // n} for j, seen in groups_seen.items())


@pytest.mark.parametrize("g, n", [(2, 2), (3, 3), (4, 4), (3, 2), (4, 2), (6, 4)])
def test_channel_flow_with_shuffle_reaches_min_n_g_groups(g: int, n: int) -> None:
    # after the shuffle each group of n channels comes from n different groups (all g once n >= g)
    flow = svx.channel_flow(g, n, shuffle=True)
    for j in range(g * n):
        seen = {i // n for i in flow[j].nonzero().flatten().tolist()}
        assert len(seen) == min(n, g)
        assert int(flow[j].sum()) == min(n, g) * n


def test_plot_channel_flow_titles_say_how_many_groups_reach_an_output() -> None:
    fig = sv.plot_channel_flow(3, 3)
    left, right = fig.axes
    assert "sees 1 of 3" in left.get_title() and "sees 3 of 3" in right.get_title()
    assert "sees 2 of 3" in sv.plot_channel_flow(3, 2).axes[1].get_title()
    with pytest.raises(ValueError, match="groups"):
        sv.plot_channel_flow(7, 2)
    with pytest.raises(ValueError, match="per_group"):
        sv.plot_channel_flow(3, 0)


def test_channel_shuffle_widget_draws_every_setting() -> None:
    pytest.importorskip("ipywidgets")
    box = sv.channel_shuffle_widget()
    g, n = box.children[0].children
    g.value, n.value = 4, 3  # drive the real callback
    # Every setting the sliders allow renders; the work per move is bounded in
    # test_widget_responsiveness.py and its time measured by benchmarks/widgets.py.
    for groups in range(1, sv.MAX_GROUPS + 1):
        for per_group in (1, sv.MAX_PER_GROUP):
            png = io.BytesIO()
            sv.plot_channel_flow(groups, per_group).savefig(png, format="png")
            assert png.getvalue().startswith(b"\x89PNG")
    plt.close("all")


# ------------------------------------------------------------------------------------------
# Tables and latency figures (synthetic results with known numbers)
# ------------------------------------------------------------------------------------------


def _latency_payload() -> dict:
    def t(ms: float) -> Timing:
        return Timing((ms / 1e3,) * 3, number=1, warmup=1, threads=2)

    models = [
        ModelLatency("resnet18", 11_689_512, 1_814_073_856, 224, {1: t(30.0), 16: t(320.0)}),
        ModelLatency("mobilenet_v3_small", 2_542_856, 56_512_000, 224, {1: t(6.0), 16: t(32.0)}),
    ]
    return {
        "machine": {"cpu_model": "test"},
        "config": {"batch_sizes": [1, 16]},
        "results": {"matmul": {"gflops": 200.0}, "models": [m.to_dict() for m in models]},
    }


def test_latency_rows_ratios() -> None:
    rows = svx.latency_rows(_latency_payload())
    ref, small = rows
    assert small["model"] == "MobileNet V3-Small" and ref["fewer_macs"] == 1.0
    assert small["fewer_macs"] == pytest.approx(1_814_073_856 / 56_512_000)
    assert small["speedup_1"] == pytest.approx(5.0) and small["speedup_16"] == pytest.approx(10.0)
    assert small["ms_16"] == pytest.approx(2.0)
    assert ref["gflops_1"] == pytest.approx(2 * 1_814_073_856 / 0.030 / 1e9)
    assert ref["peak_pct_1"] == pytest.approx(100 * ref["gflops_1"] / 200.0)
    assert "fewer_macs" not in svx.latency_rows(_latency_payload(), reference=None)[0]
    with pytest.raises(ValueError, match="latency.py"):
        svx.latency_rows({"results": {}})


def test_latency_figures() -> None:
    fig = sv.plot_latency_vs_macs(_latency_payload())
    assert [ax.get_title() for ax in fig.axes] == ["batch 1", "batch 16"]
    fig = sv.plot_achieved_gflops(_latency_payload())
    ax = fig.axes[0]
    assert len(ax.patches) == 4  # 2 models × 2 batch sizes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ResNet-18", "MobileNet V3-Small"]


# ------------------------------------------------------------------------------------------
# Guideline figures
# ------------------------------------------------------------------------------------------


def test_guideline_runs_and_plot() -> None:
    rows = [r.to_dict() for r in measure(g2_variants(8, size=4, units=1), repeats=2, warmup=0, threads=1)]
    payload = {"results": [{"guideline": "G2", "width": 8, "runs": {"1": rows}}, {"guideline": "G2", "width": 4, "runs": {"1": rows}}]}
    runs = svx.guideline_runs(payload, "G2")  # the largest width by default
    assert list(runs) == [1] and [r.name for r in runs[1]] == ["g=1", "g=2", "g=4", "g=8"]
    with pytest.raises(ValueError, match="widths \\[4, 8\\]"):
        svx.guideline_runs(payload, "G2", width=16)
    with pytest.raises(ValueError, match="no 'G3'"):
        svx.guideline_runs(payload, "G3")
    fig = sv.plot_guideline(runs)
    bars, costs = fig.axes
    assert len(bars.patches) == 4 * 3  # 4 variants × (1 thread, paper GPU, paper ARM)
    assert [t.get_text() for t in bars.get_legend().get_texts()] == ["this CPU, 1 thread", "paper: GPU", "paper: ARM"]
    assert costs.lines[0].get_ydata()[0] == 1.0
