"""Tests for mobilenet_lib.viz.mobilenet_v3: the generated tables and the figures."""

from __future__ import annotations

import pytest

from mobilenet_lib.benchmark import Timing
from mobilenet_lib.experiments import mobilenet_v3 as v3x
from mobilenet_lib.experiments.mobilenet_v3 import Candidate, SearchResult
from mobilenet_lib.models.mobilenet_v3 import (
    MOBILENET_V3_LARGE_BNECK,
    MOBILENET_V3_SMALL_BNECK,
)
from mobilenet_lib.viz import mobilenet_v3 as viz


def _body(md: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in md.splitlines()[2:]]


@pytest.mark.parametrize(
    ("variant", "table"), [("large", MOBILENET_V3_LARGE_BNECK), ("small", MOBILENET_V3_SMALL_BNECK)]
)
def test_bneck_table_rows_follow_the_library_table(variant, table):
    rows = _body(v3x.bneck_table(variant))
    assert len(rows) == 1 + len(table) + 4
    assert rows[0][:2] == ["224² × 3", "conv2d 3×3"] and rows[0][3] == "16"
    for row, r in zip(rows[1:], table, strict=False):
        assert row[2:] == [str(r.expanded), str(r.out_channels), "✓" if r.use_se else "", r.activation, str(r.stride)]
    assert rows[-4][0] == "7² × " + str(table[-1].out_channels)  # 224 / 32 = 7
    assert rows[-1][3] == "1000"


def test_bneck_table_large_known_rows():
    rows = _body(v3x.bneck_table("large"))
    assert rows[1][0] == "112² × 16" and rows[-4][3] == "960" and rows[-2][3] == "1280"
    with pytest.raises(ValueError):
        v3x.bneck_table("medium")
    with pytest.raises(ValueError):
        v3x.bneck_table("large", input_size=8)


def test_plot_last_stage_totals():
    fig = viz.plot_last_stage()
    macs_ax = fig.axes[0]
    labels = [t.get_text().strip() for t in macs_ax.texts]
    totals = sorted(float(t.rstrip("M")) for t in labels if t.endswith("M"))
    assert totals == pytest.approx([10.04, 44.35], abs=0.01)


def test_plot_search_marks_baseline_budget_and_pick():
    def cand(macs, ms):
        return Candidate((1.0,), (), 0, macs, Timing((ms / 1e3,), number=1, warmup=0, threads=1))

    base = cand(10_000_000, 5.0)
    others = (cand(8_000_000, 4.0), cand(20_000_000, 9.0), cand(12_000_000, 5.0))
    fig = viz.plot_search(SearchResult(base, others, 5.0, others[2]), machine="test CPU")
    (ax,) = fig.axes
    assert "test CPU" in ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["within budget", "over budget", "paper's table", "pick: most mult-adds"]
    with pytest.raises(ValueError):
        viz.plot_search(SearchResult(Candidate((1.0,), (), 0, 1), (), 1.0, None))


@pytest.mark.parametrize(("variant", "size"), [("large", 224), ("small", 160), ("large", 96)])
def test_bneck_costs_match_the_counted_model(variant, size):
    import torch

    import mobilenet_lib as ml

    costs = v3x.bneck_costs(variant, size)
    build = {"large": ml.mobilenet_v3_large, "small": ml.mobilenet_v3_small}[variant]
    with torch.device("meta"):
        model = build()
    table = ml.layer_table(model, (1, 3, size, size))
    # features[0] is the stem; features[1..n] are the bneck rows, in order
    for c in costs:
        counted = sum(r.macs for r in table if r.name.startswith(f"features.{c.index + 1}."))
        assert c.total == counted, (c.index, c)
    assert [c.use_se for c in costs] == [r.use_se for r in (MOBILENET_V3_LARGE_BNECK if variant == "large"
                                                             else MOBILENET_V3_SMALL_BNECK)]


def test_bneck_costs_parts_and_errors():
    large = v3x.bneck_costs("large")
    assert large[0].expand == 0  # exp size 16 == input width: no expansion layer
    assert large[-1].size == 7 and large[-1].se == 2 * 960 * 240
    assert all(c.se == 0 for c in large if not c.use_se)
    for bad, kind in [(("medium", 224), ValueError), (("large", 16), ValueError), (("large", 224.0), TypeError)]:
        with pytest.raises(kind):
            v3x.bneck_costs(*bad)


def test_plot_bneck_costs_title_and_marks():
    fig = viz.plot_bneck_costs("small", 160)
    (ax,) = fig.axes
    total = sum(c.total for c in v3x.bneck_costs("small", 160))
    assert f"{total / 1e6:.1f}M" in ax.get_title()
    assert sum(t.get_text() == "SE" for t in ax.texts) == sum(c.use_se for c in v3x.bneck_costs("small"))
