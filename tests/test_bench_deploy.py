"""benchmarks/deploy.py runs end to end on a tiny configuration and writes what the chapter reads.

The run trains its own tiny digits model in a temporary cache folder: the test never depends on
weights cached by an earlier run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mobilenet_lib.benchmark import load_results
from mobilenet_lib.experiments import deployment as study
from mobilenet_lib.viz import deployment as viz

ROOT = Path(__file__).resolve().parents[1]


def test_deploy_benchmark_tiny(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "deploy.py"), "--tiny", "--threads", "1",
         "--out-dir", str(tmp_path), "--name", "tiny", "--cache-dir", str(cache)],
        capture_output=True, text=True, timeout=400, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    payload = load_results(tmp_path / "tiny.json")
    machine, config, results = payload["machine"], payload["config"], payload["results"]
    assert machine["threads"] == 1 and machine["cpu_model"] and machine["load_average_1_5_15"]
    assert config["tiny"] and config["resolution"] == 32 and config["batch_sizes"] == [1, 2]
    assert config["allocator"] == "keep-freed"  # the default: timings without page-faulting activations

    speed = results["speed"]
    assert speed["macs_per_image"] > 0 and speed["matmul_gflops"] > 0
    expected_forms = ["eager", "folded", "folded+channels_last", "onednn_graph", "int8",  # --tiny skips the compiled ones
                      "onnxruntime", "openvino", "onnxruntime_int8", "openvino_int8"]
    assert sorted(speed["batches"]) == ["1", "2"]
    for forms in speed["batches"].values():
        assert list(forms) == expected_forms
        for form, r in forms.items():
            timing = r["timing"]
            assert timing["repeats"] == config["rounds"] * config["repeats"] == len(timing["times_ms"])
            assert timing["threads"] == 1
            assert timing["median_ms"] > 0 and r["first_call_s"] > 0
            assert r["cpu_ms_after_call"] >= 0  # CPU burnt by spinning threads after a call
            if "int8" not in form:  # the float forms, the peers' included, compute eager's logits
                assert r["max_relative_error"] < 1e-4, (form, r["max_relative_error"])

    acc = results["accuracy"]
    assert acc["trained_in_this_run"] and list(cache.glob("mobilenet_v2_digits_*.pt"))
    assert acc["test_images"] > 0 and 0 <= acc["int8_accuracy"] <= 1
    # Folding is exact up to rounding: at most one test image may flip on a near tie.
    assert abs(acc["prepared_accuracy"] - acc["fp32_accuracy"]) <= 1 / acc["test_images"]
    assert abs(acc["int8_drop_points"] - 100 * (acc["fp32_accuracy"] - acc["int8_accuracy"])) < 1e-9
    ops = {o["op"]: o for o in acc["int8_ops"]}
    # V2's convolutions run in int8, and its ReLU6 clamps int8 codes (no float round trip).
    assert ops["quantized.Conv2d"]["int8"] and ops["ReLU6"]["int8"] and not ops["dequantize"]["int8"]

    # every int8 path's accuracy on the digits, and how often it agrees with float32
    assert sorted(acc["peers"]) == ["int8_inductor", "onnxruntime", "onnxruntime_int8", "openvino", "openvino_int8"]
    for form, r in acc["peers"].items():
        assert 0 <= r["accuracy"] <= 1 and 0 <= r["prediction_agreement"] <= 1
        if "int8" not in form:  # the float runtimes predict what PyTorch predicts
            assert r["prediction_agreement"] == 1.0, form
    rows = study.accuracy_rows(payload, peers=True)
    assert len(rows) == 8 and len(study.accuracy_rows(payload)) == 3

    # the fused graphs, the runtimes' settings and where each runtime spends its time
    graphs = study.graph_counts(payload)
    assert graphs["onnxruntime:exported"]["Conv"] == graphs["openvino:fused"]["Convolution"] == 52
    assert "Clip" not in graphs["onnxruntime:fused"] and graphs["onnxruntime_int8:fused"]["com.microsoft.QLinearConv"] == 52
    settings = results["runtimes"]
    assert settings["onnxruntime"]["session.intra_op.allow_spinning"] == "0"
    assert settings["openvino"]["INFERENCE_NUM_THREADS"] == 1 and "PASSIVE" in settings["pytorch"]["pool"]
    for b in (1, 2):
        prof = {r["runtime"]: r for r in study.profile_rows(payload, b)}
        int8_prof = {r["runtime"]: r for r in study.profile_rows(payload, b, "int8")}
        # --tiny does not time inductor's int8 model (it compiles); the peers' int8 paths are profiled
        assert sorted(int8_prof) == ["onnxruntime_int8", "openvino_int8"]
        for name, r in int8_prof.items():
            assert r["nodes"] == {"conv": 1, "depthwise": 17, "pointwise": 34, "linear": 1}, (name, r["nodes"])
        # oneDNN Graph is profiled where it fused the 32 × 32 model (with oneDNN's AVX2 kernels,
        # not with its AVX-512 ones: see InferenceModel)
        assert {"folded+channels_last", "onnxruntime", "openvino"} <= set(prof) <= {
            "folded+channels_last", "onnxruntime", "openvino", "onednn_graph"}
        for name, r in prof.items():
            n, pairs = r["nodes"], r["nodes"].get("pointwise+depthwise", 0)
            assert n["pointwise"] + pairs == 34 and n.get("depthwise", 0) + pairs == 17, (name, n)
            assert r["total_ms"] > 0
    fig = viz.plot_runtime_profiles(payload, batch=2)
    assert len(fig.axes[0].get_yticklabels()) == len(prof)
    assert len(viz.plot_runtime_profiles(payload, batch=2, precision="int8").axes[0].get_yticklabels()) == 2
    # per block: 19 features blocks and the classifier, one line per runtime asked for
    fig = viz.plot_block_profiles(payload, batch=1, runtimes=("openvino", "onnxruntime"))
    assert len(fig.axes[0].get_lines()) == 2 and len(fig.axes[0].get_xticks()) == 20
    with pytest.raises(ValueError, match="per-block"):
        viz.plot_block_profiles(payload, batch=1, runtimes=("folded+channels_last",))
    with pytest.raises(ValueError, match="precision"):
        study.profile_rows(payload, 1, "fp16")
    race = study.race(payload)
    assert [(r["batch"], r["precision"]) for r in race] == [(1, "float32"), (1, "int8"), (2, "float32"), (2, "int8")]
    assert all(r["ratio"] == pytest.approx(r["peer_ms"] / r["pytorch_ms"]) for r in race)

    md = (tmp_path / "tiny.md").read_text()
    assert "Allocator: glibc keeps freed memory" in md
    assert machine["cpu_model"] in md and f"torch {machine['torch_version']}" in md and "load average" in md
    assert "| 2 | folded+channels_last |" in md and "% of matmul" in md and "int8 loses" in md
    assert "| 2 | openvino_int8 |" in md and "allow_spinning" in md and "Where the time goes" in md


def test_deploy_benchmark_with_glibcs_default_allocator(tmp_path: Path) -> None:
    # a probe on the way out: the run must not have switched glibc's thresholds behind the flag
    probe = (
        "import importlib.util, sys\n"
        "from mobilenet_lib import benchmark\n"
        "calls = []\n"
        "benchmark.keep_freed_memory = lambda: calls.append(1) or True\n"
        "spec = importlib.util.spec_from_file_location('deploy', 'benchmarks/deploy.py')\n"
        "deploy = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(deploy)\n"
        "deploy.keep_freed_memory = benchmark.keep_freed_memory\n"
        "deploy.main(sys.argv[1:])\n"
        "print('KEEP_CALLS', len(calls))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, "--tiny", "--threads", "1", "--skip-accuracy", "--allocator", "default",
         "--out-dir", str(tmp_path), "--name", "tiny_default"],
        capture_output=True, text=True, timeout=400, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "KEEP_CALLS 0" in proc.stdout
    payload = load_results(tmp_path / "tiny_default.json")
    assert payload["config"]["allocator"] == "default" and "accuracy" not in payload["results"]
    assert "Allocator: glibc's defaults" in (tmp_path / "tiny_default.md").read_text()
