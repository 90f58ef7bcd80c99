"""The MobileNet V3 chapter's studies: the tables by cost, the hand redesign, and search.

**The tables.** :func:`bneck_table` prints the paper's Tables 1 and 2 from the library's own
tables; :func:`bneck_costs` splits every bneck row's mult-adds into expansion, depthwise, SE and
projection, from the cost formulas (equal to the counted model, tested).

**Redesign.** After the architecture search, Howard et al. (2019, section 5.1) changed two places by hand:

- **The efficient last stage.** The searched network ended like MobileNet V2: a last inverted
  residual (1x1 expansion 160 -> 960, depthwise, 1x1 projection 960 -> 320), a 1x1 conv to 1280
  features on the 7x7 map, average pooling and the classifier. V3 keeps the 1x1 expansion to 960,
  pools right after it, and computes the 1280 features on the pooled 1x1 map; the depthwise and
  projection layers are dropped. :func:`original_last_stage` rebuilds the first (following the
  paper's Figure 5; the depthwise kernel is a parameter, 3 by default),
  :func:`efficient_last_stage` the second, which is exactly the tail of
  :func:`~mobilenet_lib.models.mobilenet_v3_large`.
- **The 16-filter stem.** MobileNet V2 starts with 32 filters and a block that filters those 32
  channels depthwise and projects them to 16. V3 starts with 16 filters (and h-swish) and its first
  block works on 16 channels. :func:`stem` builds either start.

:func:`large_with_original_last_stage` puts the original last stage back on V3-Large, so the
whole-model saving can be counted with :func:`~mobilenet_lib.costs.count_macs`.

**Search.** A tiny, honest stand-in for platform-aware architecture search: random search under a latency budget.

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
from typing import NamedTuple

import torch
from torch import nn

from mobilenet_lib.benchmark import Timing, time_model
from mobilenet_lib.blocks import ConvNormAct, InvertedResidual, make_divisible
from mobilenet_lib.costs import (
    conv_output_size,
    count_macs,
    count_params,
    depthwise_conv_cost,
    pointwise_conv_cost,
)
from mobilenet_lib.models.mobilenet_v3 import (
    MOBILENET_V3_NORM,
    MOBILENET_V3_STEM_CHANNELS,
    MOBILENET_V3_VARIANTS,
    V3Bneck,
    efficient_head,
    mobilenet_v3,
    v3_table,
)
from mobilenet_lib.tables import markdown_table
from mobilenet_lib.validation import factory, integer, number, one_of, positive_int

__all__ = [
    "original_last_stage",
    "efficient_last_stage",
    "large_with_original_last_stage",
    "stem",
    "SCALE_CHOICES",
    "Candidate",
    "SearchResult",
    "scaled_bneck",
    "sample_scales",
    "evaluate_candidate",
    "random_search",
    "mnas_reward",
    "spearman",
    "BNECK_PARTS",
    "BneckCost",
    "bneck_costs",
    "bneck_table",
]


_BN = {"norm_layer": MOBILENET_V3_NORM}  # MobileNet V3's batch-norm settings


def original_last_stage(
    in_ch: int = 160,
    expanded: int = 960,
    projected: int = 320,
    features: int = 1280,
    num_classes: int = 1000,
    kernel_size: int = 3,
) -> nn.Sequential:
    """The last stage before the redesign (input: the 7x7x160 map after V3-Large's last bneck).

    1x1 conv to ``expanded``, BN, h-swish; kxk depthwise, BN, h-swish; 1x1 projection to
    ``projected``, BN; 1x1 conv to ``features``, BN, h-swish, all on the full map; then average
    pooling and a fully connected classifier.
    """
    in_ch, expanded, projected = (positive_int(n, v) for n, v in
                                  (("in_ch", in_ch), ("expanded", expanded), ("projected", projected)))
    features, num_classes = positive_int("features", features), positive_int("num_classes", num_classes)
    return nn.Sequential(
        ConvNormAct(in_ch, expanded, 1, activation=nn.Hardswish, **_BN),
        ConvNormAct(expanded, expanded, kernel_size, groups=expanded, activation=nn.Hardswish, **_BN),
        ConvNormAct(expanded, projected, 1, activation=None, **_BN),
        ConvNormAct(projected, features, 1, activation=nn.Hardswish, **_BN),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(1),
        nn.Linear(features, num_classes),
    )


def efficient_last_stage(
    in_ch: int = 160, expanded: int = 960, features: int = 1280, num_classes: int = 1000
) -> nn.Sequential:
    """V3's last stage: 1x1 conv to ``expanded`` (BN, h-swish) on the map, then pool, then the
    ``features``-wide layer (no BN, h-swish) and the classifier on the pooled vector.

    Built by the model's own :func:`~mobilenet_lib.models.mobilenet_v3.efficient_head`, so it is
    V3-Large's ``features[-1]``, ``avgpool`` and ``classifier`` (dropout, which costs nothing, at 0).
    """
    in_ch, expanded = positive_int("in_ch", in_ch), positive_int("expanded", expanded)
    features, num_classes = positive_int("features", features), positive_int("num_classes", num_classes)
    conv, classifier = efficient_head(in_ch, expanded, features, num_classes, dropout=0.0)
    return nn.Sequential(conv, nn.AdaptiveAvgPool2d(1), nn.Flatten(1), *classifier)


def large_with_original_last_stage(num_classes: int = 1000, kernel_size: int = 3) -> nn.Sequential:
    """MobileNet V3-Large's stem and bnecks followed by :func:`original_last_stage`."""
    body = mobilenet_v3("large", num_classes=positive_int("num_classes", num_classes)).features[:-1]
    return nn.Sequential(body, original_last_stage(num_classes=num_classes, kernel_size=kernel_size))


def stem(filters: int = 16, activation: type[nn.Module] = nn.Hardswish) -> nn.Sequential:
    """A network's start: a 3x3 stride-2 conv with ``filters`` outputs, then the first block.

    The first block is V3-Large's first bneck, widened to the stem: a 3x3 depthwise conv on
    ``filters`` channels (ReLU) and a linear 1x1 projection to 16 channels, with the shortcut
    when ``filters == 16``. ``filters=32`` is MobileNet V2's start, ``filters=16`` V3's.
    """
    filters = positive_int("filters", filters)
    factory("activation", activation, allow_none=False)
    return nn.Sequential(
        ConvNormAct(3, filters, 3, 2, activation=activation, **_BN),
        InvertedResidual(filters, 16, 1, expanded_ch=filters, activation=nn.ReLU, layout="v3", **_BN),
    )


#: Factors :func:`random_search` may apply to each block's expansion size.
SCALE_CHOICES: tuple[float, ...] = (0.5, 0.75, 1.0, 1.5)


def _scale(name: str, value: object) -> float:
    return number(name, value, low=0.0, high=8.0, low_open=True)


def scaled_bneck(table: Sequence[V3Bneck], scales: Sequence[float]) -> tuple[V3Bneck, ...]:
    """``table`` with row i's expansion size scaled by ``scales[i]``, rounded to a multiple of 8.

    A row whose expansion equals its input width has no 1x1 expansion conv; scaling it adds one.
    """
    if len(scales) != len(table):
        raise ValueError(f"need one scale per row: {len(table)} rows, {len(scales)} scales")
    scales = [_scale(f"scales[{i}]", s) for i, s in enumerate(scales)]
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
    bneck = scaled_bneck(v3_table(variant), scales)
    size = positive_int("input_size", input_size)
    with torch.device("meta"):
        shape_only = mobilenet_v3(variant, bneck=bneck)
    params, macs = count_params(shape_only), count_macs(shape_only, (1, 3, size, size))
    timing = None
    if measure:
        model = mobilenet_v3(variant, bneck=bneck)
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
    n, rows = positive_int("n", n), positive_int("rows", rows)
    if not choices:
        raise ValueError("choices must hold at least one scale")
    choices = [_scale(f"choices[{i}]", c) for i, c in enumerate(choices)]
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
    table = v3_table(variant)
    if budget_ms is not None:
        budget_ms = number("budget_ms", budget_ms, low=0.0, low_open=True)
    # Everything is checked and every candidate drawn before anything is timed.
    positive_int("input_size", input_size)
    positive_int("repeats", repeats)
    integer("warmup", warmup, low=0)
    draws = sample_scales(n, len(table), choices, seed)
    kwargs = dict(variant=variant, input_size=input_size, threads=threads, repeats=repeats, warmup=warmup)
    baseline = evaluate_candidate([1.0] * len(table), **kwargs)
    candidates = tuple(evaluate_candidate(s, **kwargs) for s in draws)
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
        number(name, v, low=0.0, low_open=True)
    w = number("w", w, high=0.0)  # <= 0: slower models are penalised; NaN and inf refused
    return float(accuracy) * (float(latency_ms) / float(target_ms)) ** float(w)


#: The parts of a bneck, in the order they run, with the layer kind that colours them.
BNECK_PARTS: tuple[tuple[str, str], ...] = (
    ("expand", "pointwise"), ("depthwise", "depthwise"), ("se", "linear"), ("project", "pointwise")
)


class BneckCost(NamedTuple):
    """Mult-adds of one bneck row by part, with what the row is (index from 0, as in the library)."""

    index: int
    size: int  # map size after the block's stride (where depthwise, SE and projection run)
    expanded: int
    activation: str
    use_se: bool
    expand: int
    depthwise: int
    se: int
    project: int

    @property
    def total(self) -> int:
        return self.expand + self.depthwise + self.se + self.project


def bneck_costs(variant: str = "large", input_size: int = 224) -> list[BneckCost]:
    """Mult-adds of every bneck row of MobileNet V3 at ``input_size``, by part.

    Computed from the architecture table with the cost formulas of :mod:`mobilenet_lib.costs`
    (no model is built): the expansion (absent when the exp size equals the input width), the
    depthwise convolution, the SE's two fully connected layers (bottleneck
    ``make_divisible(exp // 4, 8)``) and the projection. Batch norm and the SE's per-value scaling
    are not mult-adds, as in ``count_macs``.
    """
    table = v3_table(variant)
    input_size = integer("input_size", input_size, low=32)
    size, channels = conv_output_size(input_size, 3, 2, 1), MOBILENET_V3_STEM_CHANNELS
    out = []
    for i, r in enumerate(table):
        expand = pointwise_conv_cost(channels, r.expanded, size).macs if r.expanded != channels else 0
        size = conv_output_size(size, r.kernel, r.stride, r.kernel // 2)
        se = 2 * r.expanded * make_divisible(r.expanded // 4, 8) if r.use_se else 0
        out.append(BneckCost(i, size, r.expanded, r.activation, r.use_se, expand,
                             depthwise_conv_cost(r.kernel, r.expanded, size).macs, se,
                             pointwise_conv_cost(r.expanded, r.out_channels, size).macs))
        channels = r.out_channels
    return out


def bneck_table(variant: str = "large", input_size: int = 224, num_classes: int = 1000) -> str:
    """The paper's architecture table as Markdown, one row per layer, from the library's table.

    Columns as in the paper: input (H² × C), operator, exp size, #out, SE, NL, s. "NBN" marks the
    two layers after pooling, which have no batch norm.
    """
    bneck, last = MOBILENET_V3_VARIANTS[one_of("variant", variant, MOBILENET_V3_VARIANTS)]
    input_size = integer("input_size", input_size, low=32)
    stem = MOBILENET_V3_STEM_CHANNELS
    rows = [[f"{input_size}² × 3", "conv2d 3×3", "–", stem, "", "HS", 2]]
    size, channels = conv_output_size(input_size, 3, 2, 1), stem
    for r in bneck:
        rows.append([f"{size}² × {channels}", f"bneck {r.kernel}×{r.kernel}", r.expanded, r.out_channels,
                     "✓" if r.use_se else "", r.activation, r.stride])
        size, channels = conv_output_size(size, r.kernel, r.stride, r.kernel // 2), r.out_channels
    head = 6 * channels
    rows += [
        [f"{size}² × {channels}", "conv2d 1×1", "–", head, "", "HS", 1],
        [f"{size}² × {head}", f"pool {size}×{size}", "–", "–", "", "–", 1],
        [f"1² × {head}", "conv2d 1×1, NBN", "–", last, "", "HS", 1],
        [f"1² × {last}", "conv2d 1×1, NBN", "–", num_classes, "", "–", 1],
    ]
    return markdown_table(["input", "operator", "exp size", "#out", "SE", "NL", "s"], rows)
