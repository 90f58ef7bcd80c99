"""Tests for mobilenet_lib.experiments.shufflenet_latency: the G1-G4 networks, their costs, and the tiny timed runs."""

from __future__ import annotations

import math

import pytest
import torch

from mobilenet_lib.costs import memory_access_cost_1x1, memory_access_lower_bound
from mobilenet_lib.experiments import shufflenet_latency as G


def test_widths_reproduce_the_papers_settings() -> None:
    t1, t2 = G.PAPER_TABLES["G1"], G.PAPER_TABLES["G2"]
    assert tuple(str(G.g1_channels(128, r)).replace(" ", "") for r in (1, 2, 6, 12)) == t1.gpu_setting
    assert tuple(str(G.g1_channels(32, r)).replace(" ", "") for r in (1, 2, 6, 12)) == t1.arm_setting
    assert tuple(f"c={G.g2_channels(128, g)}" for g in (1, 2, 4, 8)) == t2.gpu_setting
    assert G.g3_channels(128, 2, "series") == 90 and G.g3_channels(128, 4, "series") == 64
    assert G.g3_channels(128, 4, "parallel") == 128


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: G.g1_channels(0, 2), "base"),
        (lambda: G.g1_channels(2, 12), "ratio 12"),
        (lambda: G.g2_channels(128, 0), "groups"),
        (lambda: G.g2_channels(1, 8), "8 groups"),
        (lambda: G.g3_channels(10, 4, "parallel"), "divisible"),
        (lambda: G.g3_channels(8, 2, "diagonal"), "arrangement"),
        (lambda: G.variants("G5", 8), "guideline"),
        (lambda: G.g1_variants(8, ratios=()), "ratios"),
        (lambda: G.g2_variants(8, size=0), "size"),
        (lambda: G.g4_variants(8, seed=-1), "seed"),
        (lambda: G.measure([]), "Variant"),
        (lambda: G.measure(G.g2_variants(8, size=4), rounds=0), "rounds"),
    ],
)
def test_bad_arguments_raise_helpful_errors(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def _costs(guideline: str, width: int, size: int = 7):
    return G.measure(G.variants(guideline, width, size=size, units=2), time=False)


def test_g1_equal_mult_adds_and_memory_access_grows_with_imbalance() -> None:
    rows = _costs("G1", 32)
    macs = [r.macs for r in rows]
    assert max(macs) / min(macs) < 1.1  # "fixed FLOPs", up to the rounding of widths
    mac = [r.memory_access_cost for r in rows]
    assert mac == sorted(mac) and mac[0] < mac[-1]
    for r in rows:  # every layer is one 1x1 conv: the table's count is the paper's formula
        c1, c2 = (int(x) for x in r.setting.strip("()").split(","))
        per_block = memory_access_cost_1x1(7, 7, c1, c2) + memory_access_cost_1x1(7, 7, c2, c1)
        assert r.memory_access_cost == 2 * per_block
    # at 1:1 each layer sits exactly on the lower bound 2·sqrt(hw·B) + B/hw
    b = 7 * 7 * 32 * 32
    assert rows[0].memory_access_cost == pytest.approx(4 * memory_access_lower_bound(7, 7, b))


def test_g2_memory_access_grows_with_groups_at_equal_mult_adds() -> None:
    rows = _costs("G2", 32)
    assert [r.name for r in rows] == ["g=1", "g=2", "g=4", "g=8"]
    macs = [r.macs for r in rows]
    assert max(macs) / min(macs) < 1.1
    mac = [r.memory_access_cost for r in rows]
    assert mac == sorted(mac) and len(set(mac)) == 4
    for r, g in zip(rows, (1, 2, 4, 8)):
        c = r.input_shape[1]
        assert r.memory_access_cost == 2 * memory_access_cost_1x1(7, 7, c, c, groups=g)


def test_g3_parallel_fragments_compute_the_same_function_as_one_convolution() -> None:
    nets = G.g3_variants(16, size=5, units=1)
    one, par4 = nets[0].model, nets[4].model
    # copy the single conv's weight into the four branches: the concatenation must match
    weight = one[0][0].weight
    for i, conv in enumerate(par4[0].branches):
        conv.weight.data.copy_(weight[4 * i : 4 * (i + 1)])
    x = torch.randn(1, 16, 5, 5)
    torch.testing.assert_close(par4(x), one(x))
    rows = G.measure(nets, time=False)
    assert [r.name for r, _ in zip(rows, G.G3_STRUCTURES)] == [s[0] for s in G.G3_STRUCTURES]
    assert rows[0].macs == rows[3].macs == rows[4].macs  # parallel: exactly the same mult-adds
    assert abs(rows[1].macs / rows[0].macs - 1) < 0.1 and rows[2].macs == rows[0].macs


def test_g4_switches_change_elementwise_work_not_mult_adds() -> None:
    nets = G.g4_variants(4, size=6, units=2)
    rows = G.measure(nets, time=False)
    assert len({r.macs for r in rows}) == 1 and len({r.params for r in rows}) == 1
    conv_mac = rows[3].memory_access_cost  # "neither": convolutions only
    assert G.elementwise_memory_access(nets[3].model, nets[3].input_shape) == 0
    mid, out = 4 * 36, 16 * 36
    relu = 2 * (mid + mid + out)
    add = 3 * out
    assert rows[0].memory_access_cost - conv_mac == 2 * (relu + add)
    assert rows[1].memory_access_cost - conv_mac == 2 * relu
    assert rows[2].memory_access_cost - conv_mac == 2 * add
    x = torch.randn(1, 16, 6, 6)
    with torch.no_grad():
        y = [v.model(x) for v in nets]
        # same weights everywhere (seeded), so "neither" is exactly three plain convolutions
        unit = nets[3].model[0]
        torch.testing.assert_close(unit(x), unit.expand(unit.conv(unit.reduce(x))))
    assert (y[0] >= 0).all() and not torch.allclose(y[0], y[3])


def test_variants_are_seeded_and_leave_the_global_rng_alone() -> None:
    state = torch.random.get_rng_state()
    a = G.g2_variants(8, size=4, seed=3)[1].model[0].weight
    b = G.g2_variants(8, size=4, seed=3)[1].model[0].weight
    c = G.g2_variants(8, size=4, seed=4)[1].model[0].weight
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(state, torch.random.get_rng_state())


def test_tiny_timed_run_and_relative_speeds() -> None:
    rows = G.run_guideline("G2", 8, size=6, units=2, repeats=3, warmup=1, threads=1)
    assert all(r.timing is not None and r.timing.threads == 1 and r.timing.repeats == 3 for r in rows)
    speeds = G.relative_speeds(rows)
    assert speeds[0] == 1.0 and all(s > 0 for s in speeds)
    assert rows[1].images_per_s == pytest.approx(1 / rows[1].timing.median_s)
    back = [G.GuidelineResult.from_dict(r.to_dict()) for r in rows]
    assert [b.macs for b in back] == [r.macs for r in rows]
    assert back[0].timing.times_s == pytest.approx(rows[0].timing.times_s)
    with pytest.raises(ValueError, match="timed"):
        G.relative_speeds(G.measure(G.g2_variants(8, size=4), time=False))


def test_variants_are_timed_in_interleaved_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_time_model(model, shape, *, repeats, warmup, threads, label):
        calls.append((label, repeats, warmup))
        return G.Timing((0.001,) * repeats, number=1, warmup=warmup, threads=1, label=label)

    monkeypatch.setattr(G, "time_model", fake_time_model)
    rows = G.measure(G.g2_variants(8, size=4, units=1), repeats=7, warmup=3, rounds=3)
    names = [f"G2 {r.name}" for r in rows]
    # variant after variant, round after round: a burst of load hits every variant alike
    assert [c[0] for c in calls] == names * 3
    assert [c[1] for c in calls] == [3] * 4 + [2] * 4 + [2] * 4 and all(r.timing.repeats == 7 for r in rows)
    assert [c[2] for c in calls] == [3] * 4 + [1] * 8  # full warm-up only in the first round


def test_paper_tables_agree_with_the_claims_they_support() -> None:
    t = G.PAPER_TABLES
    for table in t.values():
        n = len(table.rows)
        assert len(table.gpu) == len(table.arm) == len(table.gpu_setting) == len(table.arm_setting) == n
        assert table.relative("gpu")[0] == table.relative("arm")[0] == 1.0
    assert t["G1"].gpu == tuple(sorted(t["G1"].gpu, reverse=True))  # 1:1 fastest, then slower
    assert t["G2"].relative("gpu")[-1] < 0.5 and 0.65 < t["G2"].relative("arm")[-1] < 0.75
    assert math.isclose(1 / t["G3"].relative("gpu")[2], 3.25, rel_tol=0.02)  # "3x slower"
    assert 1.15 < t["G4"].relative("gpu")[-1] < 1.2 and 1.15 < t["G4"].relative("arm")[-1] < 1.2
    assert [r for r in t["G3"].rows] == [s[0] for s in G.G3_STRUCTURES]
    assert [r for r in t["G4"].rows] == [s[0] for s in G.G4_SWITCHES]
    with pytest.raises(ValueError, match="platform"):
        t["G1"].relative("tpu")


def _fake(guideline: str, names: list[str], ms: list[float]) -> list[G.GuidelineResult]:
    from mobilenet_lib.benchmark import Timing

    return [
        G.GuidelineResult(guideline, n, "", (1, 8, 4, 4), 1, 1, 1, Timing((m / 1e3,), 1, 0, 1)) for n, m in zip(names, ms)
    ]


def test_verdict_reads_the_claimed_direction() -> None:
    g1 = ["1:1", "1:2", "1:6", "1:12"]
    assert G.verdict(_fake("G1", g1, [10, 11, 12, 14])) == "agrees"  # 1:12 slower
    assert G.verdict(_fake("G1", g1, [10, 9, 9, 8])) == "contradicts"
    assert G.verdict(_fake("G1", g1, [10, 12, 12, 10.2])) == "inconclusive"  # within 5 %
    g4 = [s[0] for s in G.G4_SWITCHES]
    assert G.verdict(_fake("G4", g4, [10, 9, 9, 8])) == "agrees"  # removing both is faster
    assert G.verdict(_fake("G4", g4, [10, 9, 9, 12])) == "contradicts"
    g3 = [s[0] for s in G.G3_STRUCTURES]
    assert G.verdict(_fake("G3", g3, [10, 11, 13, 11, 9])) == "inconclusive"  # mixed
    assert G.verdict(_fake("G3", g3, [10, 11, 13, 11, 14])) == "agrees"
    with pytest.raises(ValueError, match="margin"):
        G.verdict(_fake("G3", g3, [1] * 5), margin=1.5)
    with pytest.raises(ValueError, match="no variant"):
        G.verdict(_fake("G1", ["1:1", "1:2"], [1, 1]))


def test_claim_facts_keys_and_values() -> None:
    g3 = [s[0] for s in G.G3_STRUCTURES]
    runs = {1: _fake("G3", g3, [10, 11, 13, 11, 20]), 2: _fake("G3", g3, [10, 10, 10, 10, 10])}
    facts = G.claim_facts(runs)
    assert facts["4_fragment_parallel_1"] == pytest.approx(0.5)
    assert facts["4_fragment_series_2"] == pytest.approx(1.0)
    assert facts["verdict_1"] == "agrees" and facts["verdict_2"] == "inconclusive"
    assert facts["verdict_text_2"] == "no clear difference either way"
    assert facts["paper_gpu_4_fragment_series"] == pytest.approx(752 / 2446)
    assert facts["paper_arm_4_fragment_parallel"] == pytest.approx(35.0 / 40.2)
    with pytest.raises(ValueError, match="thread count"):
        G.claim_facts({})
