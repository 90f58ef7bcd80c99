"""Tests for mobilenet_lib.experiments.mobilenet_v3 (counts, sampling, the pick rule; timing kept tiny)."""

from __future__ import annotations

import math

import pytest

from mobilenet_lib.costs import count_macs
from mobilenet_lib.experiments.mobilenet_v3 import (
    Candidate,
    SearchResult,
    evaluate_candidate,
    mnas_reward,
    random_search,
    sample_scales,
    scaled_bneck,
    spearman,
)
from mobilenet_lib.models import mobilenet_v3_small
from mobilenet_lib.models.mobilenet_v3 import MOBILENET_V3_SMALL_BNECK

ROWS = len(MOBILENET_V3_SMALL_BNECK)


def test_scaled_bneck_rounds_to_multiples_of_8():
    rows = scaled_bneck(MOBILENET_V3_SMALL_BNECK, [0.5] * ROWS)
    assert [r.expanded for r in rows][:3] == [8, 40, 48]  # 16/2, 72/2 = 36 -> 40, 88/2 = 44 -> 48
    assert all(r.expanded % 8 == 0 for r in rows)
    assert scaled_bneck(MOBILENET_V3_SMALL_BNECK, [1.0] * ROWS) == MOBILENET_V3_SMALL_BNECK
    with pytest.raises(ValueError):
        scaled_bneck(MOBILENET_V3_SMALL_BNECK, [1.0])
    with pytest.raises(ValueError):
        scaled_bneck(MOBILENET_V3_SMALL_BNECK, [0.0] * ROWS)


def test_evaluate_candidate_counts_match_a_real_model():
    scales = [1.5] * ROWS
    c = evaluate_candidate(scales, input_size=96, measure=False)
    real = mobilenet_v3_small(bneck=scaled_bneck(MOBILENET_V3_SMALL_BNECK, scales))
    assert c.macs == count_macs(real, (1, 3, 96, 96))
    assert c.timing is None and math.isnan(c.latency_ms)


def test_sample_scales_distinct_seeded_and_never_baseline():
    a = sample_scales(20, ROWS, seed=3)
    assert a == sample_scales(20, ROWS, seed=3) != sample_scales(20, ROWS, seed=4)
    assert len(set(a)) == 20 and (1.0,) * ROWS not in a
    with pytest.raises(ValueError):
        sample_scales(4, 1, choices=(1.0, 2.0))  # only one non-baseline vector exists


def test_random_search_picks_most_macs_within_budget():
    r = random_search(n=2, input_size=32, repeats=1, warmup=0, threads=1, budget_ms=1e9)
    assert len(r.candidates) == 2 and r.budget_ms == 1e9
    assert r.best == max((r.baseline, *r.candidates), key=lambda c: c.macs)
    none_fit = random_search(n=1, input_size=32, repeats=1, warmup=0, threads=1, budget_ms=1e-9)
    assert none_fit.best is None
    assert -1.0 <= r.macs_latency_correlation <= 1.0 or math.isnan(r.macs_latency_correlation)


def test_search_result_pick_rule_without_timing():
    from mobilenet_lib.benchmark import Timing

    def cand(macs, ms):
        return Candidate((1.0,), (), 0, macs, Timing((ms / 1e3,), number=1, warmup=0, threads=1))

    base, fast_small, slow_big, fast_big = cand(10, 5), cand(8, 4), cand(20, 9), cand(12, 5)
    r = SearchResult(base, (fast_small, slow_big, fast_big), 5.0, fast_big)
    assert r.macs_latency_correlation == pytest.approx(spearman([10, 8, 20, 12], [5, 4, 9, 5]))


def test_spearman():
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(0.8660254)
    with pytest.raises(ValueError):
        spearman([1], [1])


def test_mnas_reward():
    assert mnas_reward(0.75, 80, 80) == pytest.approx(0.75)
    assert mnas_reward(0.75, 160, 80) == pytest.approx(0.75 * 2**-0.07)
    assert mnas_reward(0.75, 40, 80) > 0.75  # faster than the target is rewarded, softly
    for bad in (dict(accuracy=0), dict(latency_ms=-1), dict(w=0.1)):
        with pytest.raises(ValueError):
            mnas_reward(**{"accuracy": 0.7, "latency_ms": 10, "target_ms": 10, **bad})


def test_unknown_variant():
    with pytest.raises(ValueError):
        random_search(variant="medium")
