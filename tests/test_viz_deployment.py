"""Tests for mobilenet_lib.viz.deployment: reading the benchmark's results, the figures, the widget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mobilenet_lib.deploy import prepare_for_inference, profile_layers
from mobilenet_lib.experiments import deployment as dx
from mobilenet_lib.models import mobilenet_v2
from mobilenet_lib.viz import deployment as viz


def timing(median_ms: float) -> dict:
    return {"median_ms": median_ms, "iqr_ms": 0.1 * median_ms, "times_ms": [median_ms] * 3}


def fake_payload() -> dict:
    """A result in benchmarks/deploy.py's format with round numbers, so the arithmetic is checkable."""
    forms = {
        "1": {"eager": (10.0, 1.0), "folded+channels_last": (5.0, 0.5)},
        "16": {"eager": (100.0, 2.0), "folded+channels_last": (40.0, 0.6), "int8": (25.0, 0.9)},
    }
    return {
        "machine": {"cpu_model": "Test CPU", "threads": 2},
        "config": {},
        "results": {
            "speed": {
                "macs_per_image": 250_000_000,
                "matmul_gflops": 100.0,
                "batches": {
                    b: {f: {"timing": timing(ms), "first_call_s": first, "max_relative_error": 1e-6}
                        for f, (ms, first) in fs.items()}
                    for b, fs in forms.items()
                },
            },
            "accuracy": {"fp32_accuracy": 0.98, "prepared_accuracy": 0.98, "int8_accuracy": 0.975},
        },
    }


def test_speed_rows_arithmetic() -> None:
    rows = dx.speed_rows(fake_payload())
    assert [(r["batch"], r["form"]) for r in rows] == [
        (1, "eager"), (1, "folded+channels_last"), (16, "eager"), (16, "folded+channels_last"), (16, "int8")
    ]
    r = rows[3]  # batch 16, prepared: 40 ms for 16 images of 0.25 G mult-adds
    assert r["images_per_s"] == pytest.approx(400.0)
    assert r["gflops"] == pytest.approx(2 * 0.25e9 * 16 / 0.040 / 1e9)  # 200 GFLOP/s
    assert r["peak_pct"] == pytest.approx(200.0)
    assert r["speedup"] == pytest.approx(2.5) and rows[2]["speedup"] == pytest.approx(1.0)
    assert rows[2]["max_relative_error"] is None and r["max_relative_error"] == 1e-6


def test_accuracy_rows() -> None:
    rows = dx.accuracy_rows(fake_payload())
    assert [r["accuracy_pct"] for r in rows] == pytest.approx([98.0, 98.0, 97.5])
    payload = fake_payload()
    del payload["results"]["accuracy"]
    with pytest.raises(ValueError, match="skip-accuracy"):
        dx.accuracy_rows(payload)


@pytest.mark.parametrize("metric", list(dx.METRICS))
def test_plot_speed_draws_one_bar_per_form(metric: str) -> None:
    fig = viz.plot_speed(fake_payload(), batch=16, metric=metric)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    key = dx.METRICS[metric]
    assert heights == pytest.approx([r[key] for r in dx.speed_rows(fake_payload()) if r["batch"] == 16])
    assert ax.get_ylabel() == metric and "batch 16" in ax.get_title()


def test_plot_speed_rejects_bad_controls() -> None:
    with pytest.raises(ValueError, match="metric must be one of"):
        viz.plot_speed(fake_payload(), metric="FLOPs")
    with pytest.raises(ValueError, match=r"timed batch sizes \[1, 16\]"):
        viz.plot_speed(fake_payload(), batch=8)
    with pytest.raises(ValueError, match="benchmarks/deploy.py"):
        viz.plot_speed({"results": {}})


def test_load_deploy_results(tmp_path: Path) -> None:
    path = tmp_path / "deploy.json"
    path.write_text(json.dumps(fake_payload()))
    assert dx.load_deploy_results(path)["results"]["speed"]["matmul_gflops"] == 100.0
    with pytest.raises(ValueError, match="no benchmark results"):
        dx.load_deploy_results(tmp_path / "missing.json")
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(ValueError, match="not a result"):
        dx.load_deploy_results(tmp_path / "other.json")


def test_committed_results_are_readable() -> None:
    # The chapter reads this file; it must hold both parts and the batch sizes the chapter quotes.
    payload = dx.load_deploy_results()
    assert {1, 16} <= {r["batch"] for r in dx.speed_rows(payload)}
    assert len(dx.accuracy_rows(payload)) == 3


def test_speed_widget_rejects_an_unknown_metric() -> None:
    pytest.importorskip("ipywidgets")
    with pytest.raises(ValueError, match="metric"):
        viz.speed_widget(fake_payload(), metric="latency")


def test_plot_time_vs_macs() -> None:
    torch.manual_seed(0)
    model = mobilenet_v2(width_mult=0.25, num_classes=10)
    profiles = {
        "eager": profile_layers(model, (1, 3, 32, 32), repeats=1, warmup=0, threads=1),
        "prepared": profile_layers(prepare_for_inference(model), (1, 3, 32, 32), repeats=1, warmup=0, threads=1),
    }
    fig = viz.plot_time_vs_macs(profiles)
    assert len(fig.axes) == 2
    kinds = profiles["eager"].by_kind()
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([100 * k.macs_share for k in kinds] + [100 * k.time_share for k in kinds])
    with pytest.raises(ValueError, match="non-empty"):
        viz.plot_time_vs_macs({})
    with pytest.raises(ValueError, match="LatencyProfile"):
        viz.plot_time_vs_macs({"x": 1.0})
