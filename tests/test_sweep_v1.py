"""scripts/sweep_v1.py end to end on a tiny configuration, and the results file the chapter reads."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

from mobilenet_lib.experiments import mobilenet_v1 as v1x

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "sweep_v1.py"
RESULTS = ROOT / "book" / "data" / "v1_sweep.json"


def _script():
    # The script is not a package module: load it from its path (in-process, so torch is not
    # imported a second time and the test takes seconds).
    spec = importlib.util.spec_from_file_location("sweep_v1", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TINY = [
    "--alphas", "0.25", "0.125", "--base-resolution", "16", "--resolutions", "16", "8",
    "--resolution-alpha", "0.25", "--full-conv-alpha", "0.125", "--seeds", "0", "1",
    "--epochs", "1", "--train-limit", "48", "--threads", "1",
]


def test_tiny_sweep_writes_every_run_with_its_cost_and_machine(tmp_path: Path) -> None:
    out = tmp_path / "sweep.json"
    assert _script().main([*TINY, "--note", "test run", "--out", str(out)]) == 0
    data = v1x.load_sweep(out)

    # 0.25@16 is shared by the width and resolution series, 0.125@16 by the width series and
    # the full-conv twin: trained once each, so 4 separable/full configurations x 2 seeds.
    configs = {(r["alpha"], r["resolution"], r["conv"]) for r in data["results"]["runs"]}
    assert configs == {(0.25, 16, "separable"), (0.125, 16, "separable"), (0.25, 8, "separable"),
                       (0.125, 16, "full")}
    assert len(data["results"]["runs"]) == 2 * len(configs)
    for run in data["results"]["runs"]:
        cost = v1x.v1_cost(run["alpha"], run["resolution"], layers=v1x.DIGITS_LAYERS,
                          full_conv=run["conv"] == "full", num_classes=10)
        assert (run["mult_adds"], run["params"]) == (cost.macs, cost.params)
        assert 0.0 <= run["test_accuracy"] <= 1.0 and len(run["test_accuracy_per_epoch"]) == 1
        assert run["seed"] in (0, 1) and run["train_time_s"] >= 0

    assert data["config"]["note"] == "test run" and data["config"]["train_limit"] == 48
    assert data["config"]["command"].startswith("scripts/sweep_v1.py --alphas 0.25 0.125")
    assert data["machine"]["threads"] == 1 and data["machine"]["date_utc"]
    assert "load_average_at_end" in data["machine"] and data["results"]["wall_time_s"] > 0

    series = v1x.sweep_series(data)
    assert [p.alpha for p in series["width"]] == [0.125, 0.25]
    assert [p.resolution for p in series["resolution"]] == [8, 16]
    assert [(p.alpha, p.conv) for p in series["full"]] == [(0.125, "full")]
    assert [(p.alpha, p.conv) for p in series["full_twin"]] == [(0.125, "separable")]
    assert all(len(p.accuracies) == 2 for s in series.values() for p in s)


@pytest.mark.parametrize(
    "args",
    [
        ["--alphas", "0.5", "0.5"],
        ["--alphas", "0"],
        ["--resolutions", "4"],
        ["--epochs", "0"],
        ["--train-limit", "0"],
        ["--seeds", "-1"],
    ],
)
def test_bad_arguments_stop_with_a_usage_error(args: list[str], tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        _script().main([*args, "--out", str(tmp_path / "never.json")])
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "never.json").exists()


@pytest.mark.skipif(not RESULTS.exists(), reason="the committed sweep results are missing")
def test_committed_results_show_accuracy_falling_with_mult_adds() -> None:
    data = v1x.load_sweep(RESULTS)
    series = v1x.sweep_series(data)
    assert len(series["width"]) >= 3 and len(series["resolution"]) >= 3 and series["full"]
    for name in ("width", "resolution"):
        points = series[name]  # sorted by mult-adds
        # the cheapest model is the least accurate one and the dearest beats it
        assert points[0].mean == min(p.mean for p in points), name
        assert points[-1].mean > points[0].mean, name
    assert all(math.isfinite(p.mean) for s in series.values() for p in s)
    assert data["machine"]["cpu_model"] and data["results"]["wall_time_s"] > 0
    json.dumps(data)  # plain JSON all the way down
