"""The ShuffleNet networks chapter's studies, figures and benchmark script
(mobilenet_lib.experiments.shufflenet_networks, mobilenet_lib.viz.shufflenet_networks,
benchmarks/shufflenet.py)."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from mobilenet_lib.benchmark import ModelLatency, load_results  # noqa: E402
from mobilenet_lib.blocks import ShuffleV1Block, ShuffleV2Block  # noqa: E402
from mobilenet_lib.costs import count_macs, count_params  # noqa: E402
from mobilenet_lib.experiments import shufflenet_networks as sn  # noqa: E402
from mobilenet_lib.viz import shufflenet_networks as sviz  # noqa: E402
from mobilenet_lib.viz.style import COLUMN_WIDTH_IN, MIN_FONT_PT  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "shufflenet.json"

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def group_rows() -> list[dict]:
    return sn.group_count_rows()


# ------------------------------------------------------------------------ tables and published data

def test_v1_table_prints_the_library_table_and_counts() -> None:
    table = sn.v1_table()
    rows = {r[0]: r for r in table.rows if r[0]}
    assert rows["stage3"][5:] == ["288", "400", "480", "544", "768"]
    assert [r[4] for r in table.rows if r[1] == "14²"] == ["1", "7"]
    assert rows["conv1"][1] == "112²" and rows["global pool"][2] == "7×7"
    footer = {r[0]: r[5:] for r in table.footer}
    assert footer["mult-adds (library)"] == ["143.1M", "140.8M", "137.5M", "134.3M", "138.4M"]
    assert footer["complexity (paper)"] == ["143M", "140M", "137M", "133M", "137M"]
    half = sn.v1_table(0.5)
    assert len(half.footer) == 2  # the paper's row belongs to 1x only
    assert {r[0]: r for r in half.rows if r[0]}["stage2"][5:] == ["72", "104", "120", "144", "192"]


def test_v2_table() -> None:
    table = sn.v2_table()
    assert [r[0] for r in table.rows if r[0]][-3:] == ["conv5", "global pool", "FC"]
    assert table.footer[0][5:] == ["40.5M", "144.9M", "295.8M", "583.3M"]


def test_stride_2_widths() -> None:
    assert sn.stride_2_widths(8) == [
        {"stage": "stage2", "input": 24, "branch": 360, "output": 384, "bottleneck": 96, "first_groups": 1},
        {"stage": "stage3", "input": 384, "branch": 384, "output": 768, "bottleneck": 192, "first_groups": 8},
        {"stage": "stage4", "input": 768, "branch": 768, "output": 1536, "bottleneck": 384, "first_groups": 8},
    ]


def test_published_errors() -> None:
    err = sn.V1_TABLE2_TOP1_ERROR
    assert sorted(err) == [0.25, 0.5, 1.0] and all(sorted(row) == [1, 2, 3, 4, 8] for row in err.values())
    # the abstract's "7.8 % lower top-1 error than MobileNet at 40 MFLOPs": 0.25 MobileNet-224 has
    # 50.6 % top-1 (MobileNet V1's Table 6), ShuffleNet 0.5x (g = 4) the lowest 0.5x error
    assert round((100 - 50.6) - min(err[0.5].values()), 1) == 7.8 and min(err[0.5], key=err[0.5].get) == 4
    assert sn.V2_TABLE8_TOP1_ERROR == {"0.5x": 39.7, "1.0x": 30.6, "1.5x": 27.4, "2.0x": 25.1}


def test_build_and_networks() -> None:
    assert set(sn.NETWORKS) >= {"shufflenet_v1_g1", "shufflenet_v1_g8", "shufflenet_v2_x1_0"}
    model = sn.build("shufflenet_v1_g8_x0_5")
    assert next(model.parameters()).is_meta and model.widths["stage2"] == 192
    with pytest.raises(ValueError, match="name must be one of"):
        sn.build("shufflenet_v3")


# ------------------------------------------------------------------------ G1 / G2

def test_one_by_one_rows_against_the_g1_bound() -> None:
    v1 = sn.build("shufflenet_v1_g3", meta=False)
    v2 = sn.build("shufflenet_v2_x1_0", meta=False)
    r1 = sn.one_by_one_rows(v1.stage3[1], 14)
    assert [(r.c_in, r.c_out, r.groups, r.side) for r in r1] == [(480, 120, 3, 14), (120, 480, 3, 14)]
    assert r1[0].macs == 14 * 14 * 480 * 120 // 3 and r1[0].memory_access_cost == 14 * 14 * 600 + 480 * 120 // 3
    assert all(r.ratio > 1.8 for r in r1)
    r2 = sn.one_by_one_rows(v2.stage3[1], 14)
    assert [r.ratio for r in r2] == [1.0, 1.0]  # equal widths sit exactly on the bound
    down = sn.one_by_one_rows(v1.stage3[0], 28)  # the stride-2 unit: expand works on 14x14
    assert [r.side for r in down] == [28, 14]
    assert [r.side for r in sn.one_by_one_rows(v2.stage3[0], 28)] == [14, 28, 14]
    with pytest.raises(TypeError, match="ShuffleV1Block or ShuffleV2Block"):
        sn.one_by_one_rows(nn.Conv2d(3, 3, 1), 14)  # type: ignore[arg-type]


def test_group_count_rows_memory_grows_with_groups(group_rows: list[dict]) -> None:
    rows = group_rows
    assert [r["network"] for r in rows] == ["V1 g = 1", "V1 g = 2", "V1 g = 3", "V1 g = 4", "V1 g = 8", "V2 1.0x"]
    v1 = rows[:5]
    mac = [r["one_by_one_mac"] for r in v1]
    assert mac == sorted(mac) and mac[-1] / mac[0] > 2
    assert all(abs(r["macs"] / 140e6 - 1) < 0.05 for r in rows)
    assert [r["top1"] for r in v1] == [66.4, 67.3, 67.4, 67.2, 67.6] and rows[-1]["top1"] == 69.4
    assert rows[2]["macs"] == 137_460_672


# ------------------------------------------------------------------------ G3 / G4

def test_operator_census_of_the_units() -> None:
    c1 = sn.operator_census(ShuffleV1Block(480, 480, 1, 3), (1, 480, 14, 14))
    assert c1.ops == ("1x1 group conv", "batch norm", "ReLU", "shuffle", "depthwise conv", "batch norm",
                      "1x1 group conv", "batch norm", "add", "ReLU")
    assert c1.elementwise_values == 120 * 196 + 480 * 196 * 2 and c1.conv_layers == 3
    c2 = sn.operator_census(ShuffleV2Block(232, 232, 1), (1, 232, 14, 14))
    assert c2.counts["split"] == 1 and c2.counts["concat"] == 1 and c2.counts["shuffle"] == 1
    assert "add" not in c2.counts and c2.elementwise_values == 2 * 116 * 196
    c3 = sn.operator_census(ShuffleV1Block(24, 240, 2, 3, group_first=False), (1, 24, 56, 56))
    assert c3.counts["pool"] == 1 and c3.counts["concat"] == 1 and c3.counts["1x1 conv"] == 1
    unit = ShuffleV1Block(48, 48, 1, 3).train()
    sn.operator_census(unit, (1, 48, 8, 8))
    assert unit.training  # restored


def test_operator_census_of_whole_networks() -> None:
    torch.manual_seed(0)
    v1 = sn.build("shufflenet_v1_g3", meta=False)
    census = sn.operator_census(v1, (1, 3, 64, 64))
    assert census.counts["add"] == 13 and census.counts["concat"] == 3 and census.counts["shuffle"] == 16
    assert census.counts["linear"] == 1
    table = sn.census_table({"a": census})
    assert table.rows[-2][0] == "operators in all" and table.rows[-2][1] == f"{census.operators:,}"
    with pytest.raises(TypeError, match="module must be an nn.Module"):
        sn.operator_census("net", (1, 3, 8, 8))  # type: ignore[arg-type]


# ------------------------------------------------------------------------ the committed measurements

def test_committed_results_match_the_library() -> None:
    payload = load_results(RESULTS)
    machine = payload["machine"]
    assert machine["cpu_model"] and len(machine["load_average_1_5_15"]) == 3
    assert len(machine["load_average_after_1_5_15"]) == 3
    assert len(machine["load_average_per_round"]) == payload["config"]["rounds"]
    rows = {r["name"]: ModelLatency.from_dict(r) for r in payload["results"]["models"]}
    assert set(sn.NETWORKS) <= set(rows)
    for name in sn.NETWORKS:
        model = sn.build(name)
        assert rows[name].params == count_params(model)
        assert rows[name].timings[1].repeats == payload["config"]["rounds"] * payload["config"]["repeats"]
    for name in ("shufflenet_v1_g8", "shufflenet_v2_x0_5"):  # mult-adds: two are enough (and cheaper)
        assert rows[name].macs == count_macs(sn.build(name))


def test_measured_rows() -> None:
    payload = load_results(RESULTS)
    rows = sn.measured_rows(payload, ["shufflenet_v1_g1", "shufflenet_v1_g8"])
    assert rows[0]["relative_time"] == 1.0 and rows[1]["macs"] == 138_365_952
    assert rows[1]["ms"] == ModelLatency.from_dict(
        next(r for r in payload["results"]["models"] if r["name"] == "shufflenet_v1_g8")).ms_per_image(1)
    broken = copy.deepcopy(payload)
    broken["results"]["models"] = broken["results"]["models"][1:]
    with pytest.raises(ValueError, match="no timing for"):
        sn.measured_rows(broken, ["shufflenet_v1_g1"])


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "shufflenet.py"), *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_benchmark_script_tiny(tmp_path: Path) -> None:
    proc = _run("--models", "shufflenet_v1_g3_x0_5", "shufflenet_v2_x0_5", "--resolution", "32", "--rounds", "2",
                "--repeats", "1", "--warmup", "1", "--out-dir", str(tmp_path), "--name", "tiny")
    assert proc.returncode == 0, proc.stderr[-3000:]
    payload = load_results(tmp_path / "tiny.json")
    assert payload["config"]["builders"]["shufflenet_v1_g3_x0_5"] == {"model": "shufflenet_v1", "groups": 3,
                                                                     "width_mult": 0.5}
    rows = [ModelLatency.from_dict(r) for r in payload["results"]["models"]]
    assert [r.name for r in rows] == ["shufflenet_v1_g3_x0_5", "shufflenet_v2_x0_5"]
    assert all(r.timings[1].repeats == 2 and r.timings[1].threads == 1 for r in rows)
    assert len(payload["machine"]["load_average_per_round"]) == 2
    md = (tmp_path / "tiny.md").read_text()
    assert "| shufflenet_v2_x0_5 |" in md and "load average" in md and "interleaved rounds" in md


def test_benchmark_script_rejects_unknown_networks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("shufflenet_bench", ROOT / "benchmarks" / "shufflenet.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    with pytest.raises(SystemExit):
        script.main(["--models", "shufflenet_v9", "--out-dir", str(tmp_path)])
    assert "unknown network" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
    assert set(script.all_networks()) >= set(sn.NETWORKS)


# ------------------------------------------------------------------------ figures

def _texts(fig) -> list:
    return [t for ax in fig.axes for t in ax.texts] + [ax.title for ax in fig.axes]


def test_unit_figures_show_the_library_widths() -> None:
    v1 = sn.build("shufflenet_v1_g3", meta=False)
    fig = sviz.plot_units("v1", v1.stage3[1], v1.stage3[0], 14, 28)
    text = " ".join(t.get_text() for t in _texts(fig))
    assert "480 → 120, g = 3" in text and "concat (240 + 240)" in text and "add (480)" in text
    assert "3×3 AvgPool" in text and "480 ch, 14×14" in text
    v2 = sn.build("shufflenet_v2_x1_0", meta=False)
    fig2 = sviz.plot_units("v2", v2.stage3[1], v2.stage3[0], 14, 28)
    text2 = " ".join(t.get_text() for t in _texts(fig2))
    assert "channel split (116 | 116)" in text2 and "concat (116 + 116)" in text2 and "g = 2" in text2
    for f in (fig, fig2):
        assert f.get_figwidth() <= COLUMN_WIDTH_IN
        assert min(t.get_fontsize() for t in _texts(f) if t.get_text()) >= MIN_FONT_PT
    with pytest.raises(ValueError, match="stride-1 unit, then a stride-2"):
        sviz.plot_units("v1", v1.stage3[0], v1.stage3[1], 28, 14)
    with pytest.raises(ValueError, match="version must be one of"):
        sviz.plot_units("v3", v1.stage3[1], v1.stage3[0], 14, 28)
    with pytest.raises(TypeError, match="ShuffleV2Block"):
        sviz.plot_units("v2", v1.stage3[1], v1.stage3[0], 14, 28)


def test_first_unit_of_stage_2_is_drawn_dense() -> None:
    v1 = sn.build("shufflenet_v1_g8", meta=False)
    d = sviz.v1_unit_diagram(v1.stage2[0], 56)
    assert d.right[0][0].startswith("1×1 Conv (dense)\n24 → 96") and d.join == "concat (24 + 360)"
    d1 = sviz.v1_unit_diagram(sn.build("shufflenet_v1_g1", meta=False).stage2[1], 28)
    assert d1.right[1][0] == "(no shuffle: g = 1)"


def test_group_count_figure(group_rows: list[dict]) -> None:
    payload = load_results(RESULTS)
    gc = group_rows
    measured = sn.measured_rows(payload, [f"shufflenet_v1_g{g}" for g in (1, 2, 3, 4, 8)] + ["shufflenet_v2_x1_0"])
    fig = sviz.plot_group_counts(gc, {r["network"]: m for r, m in zip(gc, measured)}, "here")
    assert len(fig.axes) == 2 and fig.get_figwidth() <= COLUMN_WIDTH_IN
    heights = [p.get_height() for p in fig.axes[1].patches]
    assert heights == pytest.approx([m["ms"] for m in measured])
    with pytest.raises(ValueError, match="cost_rows is empty"):
        sviz.plot_group_counts([], {})
