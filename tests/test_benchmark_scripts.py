"""The benchmark scripts run end to end on tiny configurations and write what the chapter reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mobilenet_lib.benchmark import ModelLatency, load_results
from mobilenet_lib.experiments.shufflenet_latency import GuidelineResult

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_latency_script_tiny(tmp_path: Path) -> None:
    _run(
        "latency.py",
        *("--models", "mobilenet_v3_small", "resnet18"),
        *("--resolution", "32", "--batch-sizes", "1", "2", "--repeats", "2", "--warmup", "1"),
        *("--threads", "1", "--matmul-size", "64", "--out-dir", str(tmp_path), "--name", "tiny"),
    )
    payload = load_results(tmp_path / "tiny.json")
    assert payload["machine"]["threads"] == 1 and payload["machine"]["cpu_model"]
    assert payload["config"]["batch_sizes"] == [1, 2] and payload["config"]["resolution"] == 32
    assert payload["results"]["matmul"]["n"] == 64 and payload["results"]["matmul"]["gflops"] > 0
    rows = [ModelLatency.from_dict(r) for r in payload["results"]["models"]]
    assert [r.name for r in rows] == ["mobilenet_v3_small", "resnet18"]
    assert rows[1].macs > rows[0].macs and all(sorted(r.timings) == [1, 2] for r in rows)
    assert all(t.repeats == 2 and t.threads == 1 for r in rows for t in r.timings.values())
    md = (tmp_path / "tiny.md").read_text()
    assert "AMD" in md or payload["machine"]["cpu_model"] in md
    assert "torch " + payload["machine"]["torch_version"] in md and "load average" in md
    assert len(payload["machine"]["load_average_after_1_5_15"]) == 3 and ", after: [" in md
    assert "| mobilenet_v3_small |" in md and "ms/image, batch 2" in md


def test_guidelines_script_tiny(tmp_path: Path) -> None:
    _run(
        "guidelines.py",
        *("--widths", "G1=8", "G2=8", "G3=8", "G4=4,8"),
        *("--size", "6", "--units", "2", "--repeats", "2", "--warmup", "1", "--threads", "1"),
        *("--out-dir", str(tmp_path)),
    )
    payload = load_results(tmp_path / "guidelines.json")
    entries = payload["results"]
    assert [(e["guideline"], e["width"]) for e in entries] == [("G1", 8), ("G2", 8), ("G3", 8), ("G4", 4), ("G4", 8)]
    g3 = [GuidelineResult.from_dict(r) for r in entries[2]["runs"]["1"]]
    assert len(g3) == 5 and all(r.timing is not None and r.timing.repeats == 2 for r in g3)
    md = (tmp_path / "guidelines.md").read_text()
    assert md.count("## G") == 5 and "paper: ARM relative speed" in md and "load average" in md
    assert len(payload["machine"]["load_average_after_1_5_15"]) == 3 and ", after: [" in md


def test_guidelines_script_rejects_bad_widths(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "guidelines.py"), "--widths", "G9=8", "--out-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0 and "G1=32,128" in proc.stderr
    assert not (tmp_path / "guidelines.json").exists()


@pytest.mark.parametrize("script", ["latency.py", "guidelines.py"])
def test_scripts_document_their_full_command(script: str) -> None:
    text = (ROOT / "benchmarks" / script).read_text()
    assert f".venv/bin/python benchmarks/{script}" in text


def test_widgets_script_tiny(tmp_path: Path) -> None:
    _run("widgets.py", "--widgets", "mobilenet_v1.cost_widget", "--rounds", "1", "--positions", "2",
         "--out-dir", str(tmp_path), "--name", "tiny")
    payload = load_results(tmp_path / "tiny.json")
    assert payload["config"]["rounds"] == 1 and payload["config"]["budget_ms"] > 0
    assert payload["machine"]["instruction_sets"]["aten_cpu_capability"]
    (row,) = payload["results"]
    assert row["widget"] == "mobilenet_v1.cost_widget" and row["moves"] > 0
    assert 0 < row["median_ms"] <= row["p90_ms"] <= row["worst_ms"]
    assert row["max_work_per_move"]["module_calls"] == 0  # a look-up and a redraw, no model run
    md = (tmp_path / "tiny.md").read_text()
    assert "| mobilenet_v1.cost_widget |" in md and "ATen kernels" in md
