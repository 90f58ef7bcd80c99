"""Tests for mobilenet_lib.benchmark: timing protocol, thread control, statistics, result files."""

from __future__ import annotations

import json
import platform
import time

import pytest
import torch
from torch import nn

from mobilenet_lib import benchmark
from mobilenet_lib.benchmark import (
    MatmulPeak,
    Timing,
    achieved_gflops,
    cpu_model,
    load_results,
    machine_info,
    matmul_gflops,
    save_results,
    time_callable,
    time_model,
    torch_threads,
)
from mobilenet_lib.tables import records_markdown


def test_time_callable_runs_warmup_then_repeats_times_number_calls() -> None:
    calls = []
    t = time_callable(lambda: calls.append(1), repeats=4, number=3, warmup=2, label="noop")
    assert len(calls) == 2 + 4 * 3
    assert t.repeats == 4 and t.number == 3 and t.warmup == 2 and t.label == "noop"
    assert all(x >= 0 for x in t.times_s)


def test_time_callable_measures_per_call_time() -> None:
    # A 3 ms sleep cannot take less than 3 ms; the per-call time divides by `number`.
    t = time_callable(lambda: time.sleep(0.003), repeats=3, number=2, warmup=0)
    assert t.min_s >= 0.003
    assert t.median_s < 0.1  # generous: a loaded machine still sleeps ~3 ms


def test_synchronize_is_called_after_every_call() -> None:
    order: list[str] = []
    time_callable(lambda: order.append("f"), synchronize=lambda: order.append("s"), repeats=2, warmup=1)
    assert order == ["f", "s"] * 3


def test_threads_fixed_during_measurement_and_restored() -> None:
    before = torch.get_num_threads()
    target = 1 if before != 1 else 2
    seen: list[int] = []
    t = time_callable(lambda: seen.append(torch.get_num_threads()), repeats=2, warmup=1, threads=target)
    assert set(seen) == {target} and t.threads == target
    assert torch.get_num_threads() == before


def test_torch_threads_restores_after_an_exception() -> None:
    before = torch.get_num_threads()
    target = 1 if before != 1 else 2
    with pytest.raises(RuntimeError):
        with torch_threads(target) as n:
            assert n == target == torch.get_num_threads()
            raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with torch_threads(None) as n:
        assert n == before


def test_timing_statistics() -> None:
    t = Timing((0.004, 0.001, 0.003, 0.002, 0.100), number=1, warmup=0, threads=2)
    assert t.median_s == pytest.approx(0.003)
    assert t.min_s == pytest.approx(0.001)
    assert t.median_ms == pytest.approx(3.0)
    # inclusive quartiles of (1, 2, 3, 4, 100) ms are 2 and 4: the outlier does not move them
    assert t.iqr_ms == pytest.approx(2.0)
    assert t.per_second(16) == pytest.approx(16 / 0.003)
    assert Timing((0.5,), 1, 0, 1).iqr_s == 0.0
    assert "3 ms" in str(t) and "median of 5" in str(t)
    assert str(Timing((1.2345,), 1, 0, 1)).startswith("1,234 ms")


def test_timing_dict_round_trip() -> None:
    t = Timing((0.01, 0.02, 0.03), number=2, warmup=1, threads=2, label="x")
    d = json.loads(json.dumps(t.to_dict()))
    assert d["median_ms"] == pytest.approx(20.0)
    back = Timing.from_dict(d)
    assert back.times_s == pytest.approx(t.times_s) and back.label == "x" and back.number == 2
    with pytest.raises(ValueError, match="times_ms"):
        Timing.from_dict({"number": 1})


@pytest.mark.parametrize(
    "kwargs",
    [{"times_s": ()}, {"times_s": (-1.0,)}, {"times_s": (float("nan"),)}, {"number": 0}, {"threads": 0}],
)
def test_timing_rejects_bad_values(kwargs: dict) -> None:
    base = {"times_s": (0.1,), "number": 1, "warmup": 0, "threads": 1} | kwargs
    with pytest.raises(ValueError):
        Timing(**base)


@pytest.mark.parametrize(
    "kwargs, kind, match",
    [({"repeats": 0}, ValueError, "repeats"), ({"number": 1.5}, TypeError, "number must be an integer, got 1.5"),
     ({"warmup": -1}, ValueError, "warmup"), ({"threads": 0}, ValueError, "threads")],
)
def test_time_callable_rejects_bad_arguments(kwargs: dict, kind: type[Exception], match: str) -> None:
    with pytest.raises(kind, match=match):
        time_callable(lambda: None, **kwargs)
    with pytest.raises(TypeError, match="callable"):
        time_callable(3)  # type: ignore[arg-type]


class _Probe(nn.Module):
    """Records the mode it ran in and the input it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(3)
        self.seen: list[tuple[bool, bool, tuple[int, ...]]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((self.training, torch.is_inference_mode_enabled(), tuple(x.shape)))
        return self.bn(x)


def test_time_model_runs_eval_inference_mode_and_restores_flags() -> None:
    model = _Probe()
    model.train()
    model.bn.eval()  # a mixed state must come back exactly as it was
    t = time_model(model, (2, 3, 8, 8), repeats=3, warmup=1, label="probe")
    assert len(model.seen) == 4
    assert all(seen == (False, True, (2, 3, 8, 8)) for seen in model.seen)
    assert model.training and not model.bn.training
    assert t.label == "probe" and t.repeats == 3


def test_time_model_accepts_a_tensor_and_rejects_bad_input() -> None:
    model = _Probe()
    time_model(model, torch.zeros(1, 3, 4, 4), repeats=1, warmup=0)
    assert model.seen[-1][2] == (1, 3, 4, 4)
    with pytest.raises(TypeError, match="shape"):
        time_model(model, "1x3x4x4")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="inputs\\[1\\]"):
        time_model(model, (1, 0, 4, 4))
    with pytest.raises(TypeError, match="nn.Module"):
        time_model(lambda x: x, (1, 3, 4, 4))  # type: ignore[arg-type]


def test_matmul_gflops_is_flops_over_median_time() -> None:
    peak = matmul_gflops(64, repeats=3, warmup=1, threads=1)
    assert isinstance(peak, MatmulPeak) and peak.n == 64 and peak.dtype == "float32"
    assert peak.gflops == pytest.approx(2 * 64**3 / peak.timing.median_s / 1e9)
    assert peak.gflops > 0 and peak.timing.threads == 1
    assert peak.to_dict()["timing"]["repeats"] == 3
    with pytest.raises(ValueError, match="dtype"):
        matmul_gflops(8, dtype=torch.int32)


def test_achieved_gflops() -> None:
    # 1 G mult-adds in 1 s are 2 GFLOP/s
    assert achieved_gflops(1_000_000_000, 1.0) == pytest.approx(2.0)
    assert achieved_gflops(300e6, 0.010) == pytest.approx(60.0)
    with pytest.raises(ValueError, match="seconds"):
        achieved_gflops(1, 0)
    with pytest.raises(ValueError, match="macs"):
        achieved_gflops(-1, 1)


def test_machine_info_records_what_a_result_needs() -> None:
    info = machine_info(threads=2)
    assert info["threads"] == 2 and info["torch_version"] == torch.__version__
    assert info["cpu_model"] == cpu_model() and info["cpu_model"]
    assert info["date_utc"].endswith("Z") and info["logical_cpus"] >= 1
    load = info["load_average_1_5_15"]
    assert load is None or len(load) == 3
    isa = info["instruction_sets"]
    assert isa["aten_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert set(isa["cpu_flags"]) <= {"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile"}
    json.dumps(info)  # must be JSON-ready


def test_instruction_sets_follow_the_override() -> None:
    import os
    import subprocess
    import sys

    code = "from mobilenet_lib.benchmark import instruction_sets as i; print(i()['aten_cpu_capability'], i()['ATEN_CPU_CAPABILITY'])"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["DEFAULT", "default"]


def test_results_round_trip_and_errors(tmp_path) -> None:
    path = save_results(tmp_path / "sub" / "r.json", [{"a": 1}], machine={"cpu_model": "x"}, config={"n": 2})
    loaded = load_results(path)
    assert loaded == {"machine": {"cpu_model": "x"}, "config": {"n": 2}, "results": [{"a": 1}]}
    with pytest.raises(ValueError, match="run the benchmark"):
        load_results(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"results": []}')
    with pytest.raises(ValueError, match="machine"):
        load_results(tmp_path / "bad.json")


def test_markdown_table() -> None:
    rows = [{"name": "a", "ms": 12.345, "params": 1234567}, {"name": "b", "ms": 1500.2, "params": 3}]
    text = records_markdown(rows, [("name", "model"), ("ms", "ms"), ("params", "params")])
    lines = text.splitlines()
    assert lines[0] == "| model | ms | params |"
    assert lines[1] == "|---|---:|---:|"
    assert lines[2] == "| a | 12.3 | 1,234,567 |"
    assert lines[3] == "| b | 1,500 | 3 |"
    with pytest.raises(ValueError, match="no value"):
        records_markdown([{"name": "a"}], [("ms", "ms")])
    with pytest.raises(ValueError, match="column"):
        records_markdown(rows, [])


def test_measure_models_costs_and_times_each_batch_size() -> None:
    from mobilenet_lib.benchmark import ModelLatency, measure_models
    from mobilenet_lib.costs import count_macs

    builders = {"tiny": lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.ReLU())}
    state = torch.random.get_rng_state()
    (row,) = measure_models(builders, batch_sizes=(1, 4), resolution=8, repeats=2, warmup=1, threads=1)
    assert torch.equal(state, torch.random.get_rng_state())  # seeded without touching the caller's RNG
    assert isinstance(row, ModelLatency) and row.name == "tiny" and row.resolution == 8
    assert row.params == 3 * 8 * 9 and row.macs == 3 * 8 * 9 * 64  # per image
    assert sorted(row.timings) == [1, 4] and row.timings[4].threads == 1
    assert row.ms_per_image(4) == pytest.approx(row.timings[4].median_ms / 4)
    assert row.gflops(4) == pytest.approx(2 * row.macs * 4 / row.timings[4].median_s / 1e9)
    with pytest.raises(ValueError, match="batch sizes \\[1, 4\\]"):
        row.ms_per_image(16)
    back = ModelLatency.from_dict(json.loads(json.dumps(row.to_dict())))
    assert back.macs == row.macs and sorted(back.timings) == [1, 4]
    assert back.timings[1].times_s == pytest.approx(row.timings[1].times_s)
    # library models by name: the mult-adds are the cost module's count
    (v3s,) = measure_models(["mobilenet_v3_small"], batch_sizes=(1,), resolution=32, repeats=1, warmup=0)
    from mobilenet_lib.models import create_model

    assert v3s.macs == count_macs(create_model("mobilenet_v3_small"), (1, 3, 32, 32))


@pytest.mark.parametrize(
    "kwargs, kind, match",
    [
        ({"models": "resnet18"}, TypeError, "models"),
        ({"models": []}, ValueError, "at least one"),
        ({"models": ["resnet18"], "batch_sizes": ()}, ValueError, "batch_sizes"),
        ({"models": ["resnet18"], "batch_sizes": (0,)}, ValueError, "batch_sizes\\[0\\]"),
        ({"models": ["no_such_net"]}, ValueError, "unknown model"),
        ({"models": {"x": lambda: 3}}, TypeError, "not an nn.Module"),
    ],
)
def test_measure_models_rejects_bad_arguments(kwargs: dict, kind: type[Exception], match: str) -> None:
    from mobilenet_lib.benchmark import measure_models

    with pytest.raises(kind, match=match):
        measure_models(**kwargs, resolution=8, repeats=1, warmup=0)


def test_load_warning_flags_a_busy_machine() -> None:
    from mobilenet_lib.benchmark import load_warning

    idle = {"logical_cpus": 2, "load_average_1_5_15": [0.3, 0.5, 0.4]}
    busy = {"logical_cpus": 2, "load_average_1_5_15": [9.5, 8.0, 6.0]}
    assert load_warning(idle) == ""
    text = load_warning(busy)
    assert "busy" in text and "9.5" in text and "2 logical CPUs" in text
    assert load_warning({"logical_cpus": 2, "load_average_1_5_15": [1.0, 0, 0]})  # at the threshold
    assert load_warning({"logical_cpus": 2, "load_average_1_5_15": [1.0, 0, 0]}, busy=0.6) == ""
    assert "not recorded" in load_warning({"logical_cpus": 2, "load_average_1_5_15": None})
    with pytest.raises(ValueError, match="busy"):
        load_warning(idle, busy=0)
    with pytest.raises(ValueError, match="logical_cpus"):
        load_warning({"load_average_1_5_15": [1, 1, 1]})


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_keep_freed_memory_sets_glibcs_thresholds() -> None:
    # both mallopt calls must succeed (glibc returns 0 for a value it rejects)
    assert benchmark.keep_freed_memory() is True


def test_timings_keep_freed_memory_unless_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(benchmark, "keep_freed_memory", lambda: calls.append(1) or True)
    benchmark.time_callable(lambda: None, repeats=1, warmup=0)
    assert calls == [1]
    monkeypatch.setattr(benchmark, "KEEP_FREED_MEMORY", False)  # benchmarks/deploy.py --allocator default
    benchmark.time_callable(lambda: None, repeats=1, warmup=0)
    assert calls == [1]
