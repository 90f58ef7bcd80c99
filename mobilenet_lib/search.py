"""A tiny, honest stand-in for platform-aware architecture search: random search under a latency budget.

MobileNet V3 was found in two steps (Howard et al., 2019): a MnasNet-style search over blocks
(Tan et al., 2019), whose reward is ``ACC(m) * (LAT(m) / TARGET) ** w`` with the latency
``LAT`` *measured on the target phone*, then NetAdapt (Yang et al., 2018), which shrinks one layer
at a time and keeps the proposal that loses the least accuracy per millisecond saved. Both need
to train candidates, which a notebook on a laptop cannot do.

What this module keeps is the part a notebook *can* do: measure latency on the machine at hand
rather than trusting mult-adds. :func:`random_search` samples MobileNet V3 tables whose expansion
sizes ("exp size") are scaled per block, counts each candidate's mult-adds and parameters, times
it with :func:`mobilenet_lib.benchmark.time_model`, and picks the candidate with the most
mult-adds (a crude stand-in for capacity, *not* for accuracy) whose measured latency fits the
budget. :func:`mnas_reward` is MnasNet's reward, for the reader to play with.

Candidates and their counts are deterministic for a seed; latencies depend on the machine and
its load, so the pick can change from run to run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any

import torch

from mobilenet_lib.benchmark import Timing, time_model
from mobilenet_lib.blocks import make_divisible
from mobilenet_lib.costs import count_macs, count_params
from mobilenet_lib.models.mobilenet_v3 import (
    MOBILENET_V3_LARGE_BNECK,
    MOBILENET_V3_SMALL_BNECK,
    V3Bneck,
    mobilenet_v3_large,
    mobilenet_v3_small,
)

__all__ = [
    "SCALE_CHOICES",
    "Candidate",
    "SearchResult",
    "scaled_bneck",
    "sample_scales",
    "evaluate_candidate",
    "random_search",
    "mnas_reward",
    "spearman",
]

#: Factors :func:`random_search` may apply to each block's expansion size.
SCALE_CHOICES: tuple[float, ...] = (0.5, 0.75, 1.0, 1.5)
_VARIANTS = {
    "large": (MOBILENET_V3_LARGE_BNECK, mobilenet_v3_large),
    "small": (MOBILENET_V3_SMALL_BNECK, mobilenet_v3_small),
}


def _variant(variant: str) -> tuple[tuple[V3Bneck, ...], Any]:
    if variant not in _VARIANTS:
        raise ValueError(f"variant must be one of {sorted(_VARIANTS)}, got {variant!r}")
    return _VARIANTS[variant]


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def scaled_bneck(table: Sequence[V3Bneck], scales: Sequence[float]) -> tuple[V3Bneck, ...]:
    """``table`` with row i's expansion size scaled by ``scales[i]``, rounded to a multiple of 8.

    A row whose expansion equals its input width has no 1x1 expansion conv; scaling it adds one.
    """
    if len(scales) != len(table):
        raise ValueError(f"need one scale per row: {len(table)} rows, {len(scales)} scales")
    for s in scales:
        if isinstance(s, bool) or not isinstance(s, Real) or not 0 < s <= 8:
            raise ValueError(f"scales must be numbers in (0, 8], got {s!r}")
    return tuple(row._replace(expanded=make_divisible(row.expanded * s, 8)) for row, s in zip(table, scales))


@dataclass(frozen=True)
class Candidate:
    """One architecture: its per-block expansion scales, table, counts and measured latency."""

    scales: tuple[float, ...]
    bneck: tuple[V3Bneck, ...]
    params: int
    macs: int
    timing: Timing | None = field(default=None, compare=False)

    @property
    def latency_ms(self) -> float:
        """Median measured latency in milliseconds (``nan`` if not measured)."""
        return self.timing.median_ms if self.timing is not None else math.nan


def evaluate_candidate(
    scales: Sequence[float],
    variant: str = "small",
    input_size: int = 160,
    threads: int | None = 2,
    repeats: int = 10,
    warmup: int = 2,
    measure: bool = True,
) -> Candidate:
    """Build the candidate, count its parameters and mult-adds, and (``measure``) time it.

    Counting runs on PyTorch's ``meta`` device (shapes only, instant); timing builds the real
    model and runs batch-1 inference on a seeded ``input_size`` x ``input_size`` image.
    """
    table, build = _variant(variant)
    bneck = scaled_bneck(table, scales)
    size = _positive_int("input_size", input_size)
    with torch.device("meta"):
        shape_only = build(bneck=bneck)
    params, macs = count_params(shape_only), count_macs(shape_only, (1, 3, size, size))
    timing = None
    if measure:
        model = build(bneck=bneck)
        timing = time_model(model, (1, 3, size, size), repeats=repeats, warmup=warmup, threads=threads)
    return Candidate(tuple(float(s) for s in scales), bneck, params, macs, timing)


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation of two equally long sequences (ties get their mean rank)."""
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"need two sequences of the same length >= 2, got {len(a)} and {len(b)}")

    def ranks(xs: Sequence[float]) -> list[float]:
        order = sorted(range(len(xs)), key=lambda i: xs[i])
        r = [0.0] * len(xs)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r

    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    var = math.sqrt(sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb))
    return cov / var if var else math.nan


@dataclass(frozen=True)
class SearchResult:
    """What :func:`random_search` found.

    ``baseline`` is the paper's table (every scale 1); ``budget_ms`` the latency budget (by
    default the baseline's measured latency); ``best`` the candidate with the most mult-adds
    within the budget (``None`` if none fits).
    """

    baseline: Candidate
    candidates: tuple[Candidate, ...]
    budget_ms: float
    best: Candidate | None

    @property
    def macs_latency_correlation(self) -> float:
        """Spearman rank correlation between mult-adds and measured latency over all candidates."""
        everything = (self.baseline, *self.candidates)
        return spearman([c.macs for c in everything], [c.latency_ms for c in everything])


def sample_scales(
    n: int, rows: int, choices: Sequence[float] = SCALE_CHOICES, seed: int = 0
) -> list[tuple[float, ...]]:
    """``n`` distinct per-row scale vectors, drawn uniformly from ``choices`` (seeded, never all 1)."""
    n, rows = _positive_int("n", n), _positive_int("rows", rows)
    if not choices or any(isinstance(c, bool) or not isinstance(c, Real) or not 0 < c <= 8 for c in choices):
        raise ValueError(f"choices must be numbers in (0, 8], got {choices!r}")
    if n > len(set(choices)) ** rows - 1:
        raise ValueError(f"cannot draw {n} distinct candidates from {len(set(choices))}**{rows} - 1")
    rng = random.Random(seed)
    seen: set[tuple[float, ...]] = {tuple(1.0 for _ in range(rows))}  # the baseline is not a candidate
    out: list[tuple[float, ...]] = []
    while len(out) < n:
        s = tuple(float(rng.choice(list(choices))) for _ in range(rows))
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def random_search(
    n: int = 12,
    variant: str = "small",
    choices: Sequence[float] = SCALE_CHOICES,
    input_size: int = 160,
    budget_ms: float | None = None,
    seed: int = 0,
    threads: int | None = 2,
    repeats: int = 10,
    warmup: int = 2,
) -> SearchResult:
    """Sample ``n`` candidates, measure each and the baseline, pick the best within the budget.

    ``budget_ms=None`` uses the baseline's own measured latency: "more capacity, no slower".
    """
    table, _ = _variant(variant)
    if budget_ms is not None and not (isinstance(budget_ms, Real) and budget_ms > 0):
        raise ValueError(f"budget_ms must be a positive number of milliseconds or None, got {budget_ms!r}")
    kwargs = dict(variant=variant, input_size=input_size, threads=threads, repeats=repeats, warmup=warmup)
    baseline = evaluate_candidate([1.0] * len(table), **kwargs)
    candidates = tuple(evaluate_candidate(s, **kwargs) for s in sample_scales(n, len(table), choices, seed))
    budget = baseline.latency_ms if budget_ms is None else float(budget_ms)
    fits = [c for c in (baseline, *candidates) if c.latency_ms <= budget]
    best = max(fits, key=lambda c: c.macs) if fits else None
    return SearchResult(baseline, candidates, budget, best)


def mnas_reward(accuracy: float, latency_ms: float, target_ms: float, w: float = -0.07) -> float:
    """MnasNet's soft-constrained reward ``accuracy * (latency / target) ** w``.

    With ``w = -0.07`` (MnasNet), a model twice as slow as the target needs about 5 % more
    accuracy (relative) to score the same; MobileNet V3-Small's search used ``w = -0.15``.
    """
    for name, v in (("accuracy", accuracy), ("latency_ms", latency_ms), ("target_ms", target_ms)):
        if isinstance(v, bool) or not isinstance(v, Real) or not v > 0:
            raise ValueError(f"{name} must be a positive number, got {v!r}")
    if isinstance(w, bool) or not isinstance(w, Real) or w > 0:
        raise ValueError(f"w must be a number <= 0 (slower models are penalised), got {w!r}")
    return float(accuracy) * (float(latency_ms) / float(target_ms)) ** float(w)
