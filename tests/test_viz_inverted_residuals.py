"""Tests for mobilenet_lib.viz.inverted_residuals: block anatomy, architecture table, figures, widget."""

from __future__ import annotations

import io
import json

import pytest
import torch

pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402

from mobilenet_lib.blocks import Bottleneck, InvertedResidual  # noqa: E402
from mobilenet_lib.costs import count_macs, count_params  # noqa: E402
from mobilenet_lib.experiments.inverted_residuals import (
    architecture_table,
    bottleneck_anatomy,
    inverted_residual_anatomy,
    load_ablation,
    residual_stack,
    summarize_ablation,
)
from mobilenet_lib.memory import activation_memory
from mobilenet_lib.models.mobilenet_v2 import MOBILENET_V2_SETTINGS, mobilenet_v2  # noqa: E402
from mobilenet_lib.viz.inverted_residuals import (
    block_widget,
    plot_ablation,
    plot_block,
    plot_block_comparison,
    plot_memory_traces,
)


def _render(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


@pytest.mark.parametrize("in_ch, out_ch, t, stride, res", [(24, 24, 6, 1, 56), (16, 24, 6, 2, 112), (32, 16, 1, 1, 14)])
def test_inverted_residual_anatomy_matches_the_real_block(in_ch, out_ch, t, stride, res):
    a = inverted_residual_anatomy(in_ch, out_ch, t, stride, res)
    block = InvertedResidual(in_ch, out_ch, stride, t)
    size = (1, in_ch, res, res)
    assert a.params == count_params(block) == sum(layer.params for layer in a.layers)
    assert a.macs == count_macs(block, size) == sum(layer.macs for layer in a.layers)
    out = (res + stride - 1) // stride
    assert a.output_shape == (out_ch, out, out)
    assert a.shortcut == ("identity" if stride == 1 and in_ch == out_ch else "none")
    assert len(a.layers) == (2 if t == 1 else 3)
    assert a.layers[-1].operator.endswith("linear")
    # measured on the meta device, the same as on real tensors
    assert a.peak_bytes == activation_memory(block, size).peak_bytes


def test_peak_of_a_residual_block_is_narrow_input_plus_two_wide_tensors():
    a = inverted_residual_anatomy(24, 24, 6, 1, 56)
    assert a.memory.peak_elements == (24 + 2 * 144) * 56 * 56
    assert a.peak_bytes == 4 * a.memory.peak_elements


def test_expand_layer_costs_follow_the_formula():
    a = inverted_residual_anatomy(24, 24, 6, 1, 56)
    expand, depthwise, project = a.layers
    assert expand.macs == 24 * 144 * 56 * 56 and expand.params == 24 * 144 + 2 * 144
    assert depthwise.macs == 9 * 144 * 56 * 56 and depthwise.params == 9 * 144 + 2 * 144
    assert project.macs == 144 * 24 * 56 * 56 and project.params == 144 * 24 + 2 * 24


def test_bottleneck_anatomy():
    a = bottleneck_anatomy(256, 64, 1, 56)
    assert a.params == count_params(Bottleneck(256, 64, 1))
    assert [layer.output_shape[0] for layer in a.layers] == [64, 64, 256]
    assert a.shortcut == "identity"
    b = bottleneck_anatomy(256, 128, 2, 56)
    assert b.shortcut == "projection" and b.output_shape == (512, 28, 28)
    assert b.layers[-1].name == "downsample.0"
    assert b.macs == count_macs(Bottleneck(256, 128, 2), (1, 256, 56, 56))


@pytest.mark.parametrize(
    "kwargs", [{"in_ch": 0}, {"expansion": 11}, {"stride": 3}, {"resolution": 0}]
)
def test_anatomy_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        inverted_residual_anatomy(**kwargs)


@pytest.mark.parametrize("kwargs", [{"in_ch": 2.5}, {"stride": True}])
def test_anatomy_rejects_wrong_types(kwargs):
    with pytest.raises(TypeError):
        inverted_residual_anatomy(**kwargs)


def test_architecture_table_is_the_paper_table_with_measured_totals():
    table = architecture_table()
    assert table.params == 3_504_872
    assert round(table.macs / 1e6, 2) == 300.77
    assert sum(r.params for r in table.rows) == table.params
    assert sum(r.macs for r in table.rows) == table.macs
    stages = [r for r in table.rows if r.operator == "bottleneck"]
    assert [(r.t, r.c, r.n, r.s) for r in stages] == [tuple(s) for s in MOBILENET_V2_SETTINGS]
    assert [r.input_shape[0] for r in table.rows] == [224, 112, 112, 56, 28, 14, 14, 7, 7, 7, 1]
    assert [r.input_shape[2] for r in table.rows[:3]] == [3, 32, 16]
    md = table.to_markdown()
    assert "3,504,872" in md and "300.77M" in md
    assert "<table>" in table._repr_html_()


def test_architecture_table_of_other_models():
    small = mobilenet_v2(width_mult=0.5, num_classes=10)
    table = architecture_table(small, resolution=160)
    assert table.params == count_params(small)
    assert table.macs == count_macs(small, (1, 3, 160, 160))
    with pytest.raises(TypeError, match="MobileNetV2"):
        architecture_table(torch.nn.Conv2d(3, 3, 1))
    with pytest.raises(ValueError, match="resolution"):
        architecture_table(resolution=16)


def test_plot_block_shows_the_numbers():
    fig = plot_block(24, 24, 6, 1, 56)
    texts = " ".join(t.get_text() for t in fig.texts + fig.axes[0].texts)
    a = inverted_residual_anatomy(24, 24, 6, 1, 56)
    assert f"{a.params:,} params" in texts and f"{a.macs:,} mult-adds" in texts
    assert "56×56×144" in texts and "identity shortcut" in texts
    no_shortcut = plot_block(24, 32, 6, 2, 56)
    assert "shortcut" not in " ".join(t.get_text() for t in no_shortcut.axes[0].texts)
    assert "stride 2" in no_shortcut.axes[0].get_title()
    assert _render(fig).startswith(b"\x89PNG")


def test_block_comparison_draws_both_blocks():
    fig = plot_block_comparison(56)
    titles = [ax.get_title() for ax in fig.axes]
    assert "ResNet" in titles[0] and "Inverted" in titles[1]


def test_block_widget_controls_and_extreme_settings():
    pytest.importorskip("ipywidgets")
    box = block_widget()
    controls = [c for row in box.children[:2] for c in row.children]
    assert {c.description for c in controls} == {"in channels", "out channels", "resolution", "expansion t", "stride"}
    controls[0].value = 96  # drive the real callback once
    # The largest and the strided settings draw; work per move is bounded in
    # test_widget_responsiveness.py, its time measured by benchmarks/widgets.py.
    for setting in [(320, 320, 10, 1, 112), (16, 24, 6, 2, 112), (160, 320, 1, 2, 7)]:
        _render(plot_block(*setting))


def test_memory_traces_plot():
    size = (1, 8, 12, 12)
    traces = {"inverted": activation_memory(residual_stack(8, 6, 2), size),
              "classical": activation_memory(residual_stack(8, 6, 2, inverted=False), size)}
    fig = plot_memory_traces(traces)
    ax = fig.axes[0]
    assert max(ax.lines[0].get_ydata()) == pytest.approx(traces["inverted"].peak_bytes / 1024)
    assert "classical: peak" in ax.get_legend().get_texts()[1].get_text()
    with pytest.raises(ValueError):
        plot_memory_traces({})


def _runs():
    runs = []
    for variant, lin, sc, accs in (("linear + shortcuts", True, True, (0.9, 0.92)),
                                   ("ReLU6 + shortcuts", False, True, (0.8, 0.85))):
        for seed, acc in enumerate(accs):
            runs.append({"variant": variant, "linear_bottleneck": lin, "shortcuts": sc, "params": 10,
                         "macs": 20, "seed": seed, "test_accuracy": acc})
    return runs


def test_ablation_summary_and_plot(tmp_path):
    points = summarize_ablation(_runs())
    assert [p.variant for p in points] == ["linear + shortcuts", "ReLU6 + shortcuts"]
    assert points[0].mean == pytest.approx(0.91) and points[1].accuracies == (0.8, 0.85)
    fig = plot_ablation(points)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["linear + shortcuts", "ReLU6 + shortcuts"]
    assert fig.axes[0].get_xlim()[0] == 0  # bars start at zero: their lengths compare honestly
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"meta": {}, "runs": _runs()}))
    assert len(load_ablation(path)["runs"]) == 4


def test_ablation_errors(tmp_path):
    with pytest.raises(ValueError, match="ablation_v2.py"):
        load_ablation(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ValueError, match="JSON"):
        load_ablation(bad)
    runs = _runs()
    del runs[0]["seed"]
    with pytest.raises(ValueError, match="lacks"):
        summarize_ablation(runs)
    runs = _runs()
    runs[1]["params"] = 11
    with pytest.raises(ValueError, match="disagree"):
        summarize_ablation(runs)
    with pytest.raises(ValueError):
        plot_ablation([])
