"""Accuracy beside cost: the published data, the library's counts, the committed latency and the
figure (mobilenet_lib.experiments.accuracy_vs_cost, mobilenet_lib.viz.accuracy_vs_cost)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from mobilenet_lib.benchmark import load_results  # noqa: E402
from mobilenet_lib.experiments import accuracy_vs_cost as avc  # noqa: E402
from mobilenet_lib.experiments import shufflenet_networks as sn  # noqa: E402
from mobilenet_lib.viz import accuracy_vs_cost as aviz  # noqa: E402
from mobilenet_lib.viz.style import COLUMN_WIDTH_IN, MIN_FONT_PT  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "shufflenet.json"

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def costs() -> list[dict]:
    return avc.cost_rows()


@pytest.fixture(scope="module")
def rows(costs: list[dict]) -> list[dict]:
    return avc.accuracy_rows(load_results(RESULTS), costs=costs)


def test_every_network_of_the_library_is_there() -> None:
    names = [p.name for p in avc.PUBLISHED]
    assert len(names) == len(set(names)) == 13
    builders = {p.builder for p in avc.PUBLISHED}
    assert builders == {"mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "shufflenet_v1",
                        "shufflenet_v2", "resnet18", "resnet50"}
    assert {p.family for p in avc.PUBLISHED} == set(avc.FAMILIES)
    assert [p.name for p in avc.PUBLISHED if p.family == "ShuffleNet V2"] == [
        "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"]


def test_every_source_is_a_bibliography_key() -> None:
    keys = set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "book" / "references.bib").read_text(), re.MULTILINE))
    assert {p.cite for p in avc.PUBLISHED} <= keys
    assert all(p.where.startswith("Table ") for p in avc.PUBLISHED)


def test_published_numbers_agree_with_the_papers_tables() -> None:
    by = {p.name: p for p in avc.PUBLISHED}
    # the numbers this project trusts (shared/reference/numbers.md)
    assert [by[n].top1 for n in ("mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small")] == [
        70.6, 72.0, 75.2, 67.4]
    assert [by[f"shufflenet_v2_x{w}"].top1 for w in ("0_5", "1_0", "1_5", "2_0")] == [60.3, 69.4, 72.6, 74.9]
    # ShuffleNet V1's accuracies are 100 - the error of its Table 2 (kept once, in the chapter's study)
    err = sn.V1_TABLE2_TOP1_ERROR
    assert by["shufflenet_v1_g3"].top1 == round(100 - err[1.0][3], 1)
    assert by["shufflenet_v1_g8"].top1 == round(100 - err[1.0][8], 1)
    assert by["shufflenet_v1_g3_x0_5"].top1 == round(100 - err[0.5][3], 1)
    assert {by[n].protocol for n in ("resnet18", "resnet50")} == {"10-crop"}


def test_cost_rows_are_the_library_counts(costs: list[dict]) -> None:
    costs = {r["name"]: r for r in costs}
    # measured reference numbers (shared/reference/numbers.md)
    assert (costs["mobilenet_v1"]["params"], costs["mobilenet_v1"]["macs"]) == (4_231_976, 568_740_352)
    assert costs["mobilenet_v2"]["params"] == 3_504_872 and costs["resnet50"]["params"] == 25_557_032
    assert round(costs["resnet18"]["macs_m"], 2) == 1814.07 and round(costs["shufflenet_v2_x1_0"]["macs_m"], 2) == 144.91
    assert costs["shufflenet_v1_g3"]["macs"] == 137_460_672
    # the papers' own mult-adds are within 10 % of the library's for every network that has one
    for r in costs.values():
        if r["paper_macs_m"] is not None:
            assert abs(r["macs_m"] / r["paper_macs_m"] - 1) < 0.1, r["name"]


def test_accuracy_rows_read_the_committed_latency(rows: list[dict], costs: list[dict]) -> None:
    assert [r["name"] for r in rows] == [p.name for p in avc.PUBLISHED]
    assert all(r["ms"] > 0 and r["repeats"] >= 10 for r in rows)
    payload = load_results(RESULTS)
    assert payload["config"]["resolution"] == 224 and payload["config"]["batch_sizes"] == [1]
    missing = copy.deepcopy(payload)
    missing["results"]["models"] = [m for m in missing["results"]["models"] if m["name"] != "resnet50"]
    with pytest.raises(ValueError, match="no timing for 'resnet50'"):
        avc.accuracy_rows(missing, costs=costs)
    stale = copy.deepcopy(payload)
    next(m for m in stale["results"]["models"] if m["name"] == "resnet18")["macs"] += 1
    with pytest.raises(ValueError, match="resnet18: the results file timed"):
        avc.accuracy_rows(stale, costs=costs)


def test_pareto_front() -> None:
    toy = [{"name": "a", "top1": 60.0, "macs": 10, "ms": 5.0, "params": 1},
           {"name": "b", "top1": 70.0, "macs": 20, "ms": 4.0, "params": 2},
           {"name": "c", "top1": 65.0, "macs": 30, "ms": 6.0, "params": 3},
           {"name": "d", "top1": 70.0, "macs": 20, "ms": 9.0, "params": 2}]
    assert avc.pareto_front(toy, "macs") == ["a", "b", "d"]  # b and d tie: neither beats the other
    assert avc.pareto_front(toy, "ms") == ["b"]
    with pytest.raises(ValueError, match="cost must be one of"):
        avc.pareto_front(toy, "flops")


def test_pareto_front_of_the_book(rows: list[dict]) -> None:
    front = avc.pareto_front(rows, "macs")
    assert front[0] == min(rows, key=lambda r: r["macs"])["name"]
    assert front[-1] == max(rows, key=lambda r: r["top1"])["name"] == "resnet50"
    tops = [next(r["top1"] for r in rows if r["name"] == n) for n in front]
    assert tops == sorted(tops)


def test_figure(rows: list[dict]) -> None:
    fronts = {"macs": avc.pareto_front(rows, "macs"), "ms": avc.pareto_front(rows, "ms")}
    fig = aviz.plot_accuracy_vs_cost(rows, avc.FAMILIES, fronts)
    assert len(fig.axes) == 2 and fig.get_figwidth() <= COLUMN_WIDTH_IN
    texts = [t for ax in fig.axes for t in ax.texts]
    assert sorted(t.get_text() for t in texts) == sorted(2 * [aviz.SHORT_LABELS[r["name"]] for r in rows])
    assert min(t.get_fontsize() for t in texts) >= MIN_FONT_PT
    assert fig.axes[0].get_xscale() == "log" and fig.axes[1].get_xscale() == "log"
    with pytest.raises(ValueError, match="rows is empty"):
        aviz.plot_accuracy_vs_cost([], avc.FAMILIES)
    with pytest.raises(ValueError, match="no colour for the families"):
        aviz.plot_accuracy_vs_cost(rows, {"ResNet": "#000000"})
