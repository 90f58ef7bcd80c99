"""ShuffleNet V2's four guidelines as small timed experiments on this machine.

Ma et al. (2018) argue that mult-adds ("FLOPs" in their paper) do not predict speed, and back four
design guidelines with controlled benchmarks: networks that have (nearly) the same mult-adds but
differ in one design choice, timed on a GPU and an ARM phone CPU. This module rebuilds those
benchmarks so that a reader can re-run them on whatever machine runs the book:

* **G1** equal channel widths minimise memory access cost: 10 blocks of two 1×1 convolutions
  (c1 → c2 → c1) with c1·c2 fixed and the ratio c1:c2 varied (paper Table 1);
* **G2** too many groups raise memory access cost: 10 pointwise group convolutions, the width
  grown with the group count g so that c²/g stays fixed (Table 2);
* **G3** fragmentation lowers parallelism: 10 blocks made of 1, 2 or 4 pointwise convolutions
  in series or in parallel at equal mult-adds (Table 3);
* **G4** element-wise operations are not free: 10 ResNet bottleneck units with and without
  their ReLUs and their shortcut addition (Table 4).

Each ``g*_variants`` function returns the networks of one experiment as :class:`Variant` s (the
model and its input shape); :func:`measure` counts their params, mult-adds and memory access cost
with :mod:`mobilenet_lib.costs` and times them with :mod:`mobilenet_lib.benchmark`. The
convolutions carry no batch norm: a deployed network folds batch norm into the convolution
weights, and the paper benchmarks with such fusion switched on. The paper's own measurements are
in :data:`PAPER_TABLES`, so a chapter can show them side by side with this machine's.

Sizes follow the paper (56×56 maps, widths of 128 for "×1", 10 repeated units); every size is a
parameter so that tests can run the same code in milliseconds.

Beside the guidelines: :func:`channel_flow` (which inputs two stacked group convolutions connect,
with and without a channel shuffle), and :func:`latency_rows` / :func:`guideline_runs`, which read
the committed results of ``benchmarks/latency.py`` and ``benchmarks/guidelines.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mobilenet_lib.benchmark import ModelLatency, Timing, time_model
from mobilenet_lib.blocks import channel_shuffle
from mobilenet_lib.costs import count_macs, count_params, layer_table
from mobilenet_lib.validation import flag, int_sequence, integer, positive_int

__all__ = [
    "GUIDELINES",
    "PaperTable",
    "PAPER_TABLES",
    "Variant",
    "GuidelineResult",
    "BottleneckUnit",
    "G3_STRUCTURES",
    "G4_SWITCHES",
    "g1_channels",
    "g2_channels",
    "g3_channels",
    "g1_variants",
    "g2_variants",
    "g3_variants",
    "g4_variants",
    "variants",
    "elementwise_memory_access",
    "measure",
    "run_guideline",
    "relative_speeds",
    "comparison_rows",
    "comparison_columns",
    "CLAIMS",
    "verdict",
    "claim_facts",
    "channel_flow",
    "latency_payload",
    "latency_rows",
    "guideline_runs",
    "DISPLAY_NAMES",
]

#: The four guidelines, as the paper states them.
GUIDELINES: dict[str, str] = {
    "G1": "Equal channel width minimizes memory access cost",
    "G2": "Excessive group convolution increases memory access cost",
    "G3": "Network fragmentation reduces degree of parallelism",
    "G4": "Element-wise operations are non-negligible",
}


# --------------------------------------------------------------------------------------------
# The paper's measurements (Ma et al., 2018, Tables 1-4; 56×56 inputs, 10 stacked units)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaperTable:
    """One of the paper's validation tables, for the smallest ("×1") setting on each platform.

    ``gpu`` is in batches per second (batch 8, GTX 1080Ti), ``arm`` in images per second
    (Snapdragon 810, one thread). ``gpu_setting``/``arm_setting`` give the widths for each row
    (they differ between the platforms). Rows are in the same order as this module's variants.
    """

    guideline: str
    table: int
    rows: tuple[str, ...]
    gpu_setting: tuple[str, ...]
    gpu: tuple[float, ...]
    arm_setting: tuple[str, ...]
    arm: tuple[float, ...]
    claim: str

    def relative(self, platform: str) -> tuple[float, ...]:
        """Each row's speed divided by the first row's on ``platform`` ("gpu" or "arm")."""
        if platform not in ("gpu", "arm"):
            raise ValueError(f"platform must be 'gpu' or 'arm', got {platform!r}")
        speeds = self.gpu if platform == "gpu" else self.arm
        return tuple(s / speeds[0] for s in speeds)


PAPER_TABLES: dict[str, PaperTable] = {
    "G1": PaperTable(
        "G1",
        1,
        ("1:1", "1:2", "1:6", "1:12"),
        ("(128,128)", "(90,180)", "(52,312)", "(36,432)"),
        (1480, 1296, 876, 748),
        ("(32,32)", "(22,44)", "(13,78)", "(9,108)"),
        (76.2, 72.9, 69.1, 57.6),
        "as c1:c2 approaches 1:1 the memory access cost falls and the network runs faster",
    ),
    "G2": PaperTable(
        "G2",
        2,
        ("g=1", "g=2", "g=4", "g=8"),
        ("c=128", "c=180", "c=256", "c=360"),
        (2451, 1725, 1026, 634),
        ("c=64", "c=90", "c=128", "c=180"),
        (40.0, 35.0, 32.9, 27.8),
        "8 groups run more than two times slower than 1 group on GPU and up to 30 % slower on ARM",
    ),
    "G3": PaperTable(
        "G3",
        3,
        ("1-fragment", "2-fragment-series", "4-fragment-series", "2-fragment-parallel", "4-fragment-parallel"),
        ("c=128",) * 5,
        (2446, 1790, 752, 1537, 691),
        ("c=64",) * 5,
        (40.2, 38.6, 38.4, 33.4, 35.0),
        "fragmentation slows the GPU markedly (4 fragments about 3x slower); on ARM the loss is small",
    ),
    "G4": PaperTable(
        "G4",
        4,
        ("ReLU + shortcut", "ReLU only", "shortcut only", "neither"),
        ("c=32",) * 4,
        (2427, 2647, 2672, 2842),
        ("c=32",) * 4,
        (56.7, 61.9, 57.3, 66.3),
        "removing the ReLUs and the shortcut gives about 20 % speed-up on both GPU and ARM",
    ),
}


# --------------------------------------------------------------------------------------------
# Argument checking
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Widths at (nearly) equal mult-adds
# --------------------------------------------------------------------------------------------


def g1_channels(base: int, ratio: int) -> tuple[int, int]:
    """(c1, c2) with c2 = ratio·c1 and c1·c2 ≈ base²: c1 = floor(base / sqrt(ratio)).

    With base 128 this gives the paper's (128,128), (90,180), (52,312), (36,432); with base 32 its
    ARM widths (32,32), (22,44), (13,78), (9,108).
    """
    base, ratio = positive_int("base", base), positive_int("ratio", ratio)
    c1 = math.isqrt(base * base // ratio)
    if c1 < 1:
        raise ValueError(f"ratio {ratio} leaves no input channels at base width {base}")
    return c1, ratio * c1


def g2_channels(base: int, groups: int) -> int:
    """Width c with c²/g ≈ base²: base·sqrt(g) rounded down to a multiple of g (so g divides c).

    With base 128: 128, 180, 256, 360 for g = 1, 2, 4, 8, the paper's widths.
    """
    base, groups = positive_int("base", base), positive_int("groups", groups)
    c = math.isqrt(base * base * groups) // groups * groups
    if c < groups:
        raise ValueError(f"{groups} groups do not fit a width of about {base * math.sqrt(groups):.1f}")
    return c


def g3_channels(base: int, fragments: int, arrangement: str) -> int:
    """Width of each convolution in a G3 block, chosen so that the block's mult-adds ≈ base².

    In series, ``fragments`` convolutions c→c cost fragments·c², so c = floor(base / sqrt(fragments)).
    In parallel, the block keeps width ``base``: each of the ``fragments`` branches maps all
    ``base`` input channels to base/fragments outputs and the outputs are concatenated, which is
    exactly the 1-fragment convolution cut into pieces (the same mult-adds, the same result shape).
    """
    base, fragments = positive_int("base", base), positive_int("fragments", fragments)
    if arrangement == "series":
        return max(1, math.isqrt(base * base // fragments))
    if arrangement == "parallel":
        if base % fragments:
            raise ValueError(f"base width {base} must be divisible by fragments={fragments} in parallel")
        return base
    raise ValueError(f"arrangement must be 'series' or 'parallel', got {arrangement!r}")


# --------------------------------------------------------------------------------------------
# The networks
# --------------------------------------------------------------------------------------------


def _conv(c_in: int, c_out: int, kernel: int = 1, groups: int = 1) -> nn.Conv2d:
    # No bias and no batch norm: deployment folds batch norm into these weights.
    return nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, groups=groups, bias=False)


class _Concat(nn.Module):
    """Runs every branch on the same input and concatenates their outputs along channels."""

    def __init__(self, branches: Sequence[nn.Module]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)


class BottleneckUnit(nn.Module):
    """ResNet's bottleneck (1×1 reduce, 3×3, 1×1 expand) with its ReLUs and shortcut switchable.

    ``channels`` is the width inside the unit; input and output have ``4·channels``, as in ResNet.
    With ``relu`` the unit applies ReLU after the first two convolutions and after the sum; with
    ``shortcut`` it adds its input to the last convolution's output. Both off leaves three
    convolutions, the same mult-adds with no element-wise work at all.
    """

    expansion = 4

    def __init__(self, channels: int, relu: bool = True, shortcut: bool = True) -> None:
        super().__init__()
        c = positive_int("channels", channels)
        self.relu, self.shortcut = bool(relu), bool(shortcut)
        self.reduce = _conv(self.expansion * c, c)
        self.conv = _conv(c, c, kernel=3)
        self.expand = _conv(c, self.expansion * c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = torch.relu if self.relu else (lambda t: t)
        y = self.expand(act(self.conv(act(self.reduce(x)))))
        if self.shortcut:
            y = y + x
        return act(y)


@dataclass(frozen=True)
class Variant:
    """One network of a guideline experiment: its name, the module and its input shape."""

    guideline: str
    name: str
    setting: str
    model: nn.Module
    input_shape: tuple[int, int, int, int]


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch's CPU generator inside the block only: building a variant leaves the caller's RNG alone."""
    seed = integer("seed", seed, low=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def g1_variants(
    base: int = 128, ratios: Sequence[int] = (1, 2, 6, 12), *, size: int = 56, batch: int = 1, units: int = 10, seed: int = 0
) -> list[Variant]:
    """G1: ``units`` blocks of 1×1 convs c1→c2→c1, one network per ratio c2/c1 (see :func:`g1_channels`)."""
    ratios, size, batch, units = int_sequence("ratios", ratios), positive_int("size", size), positive_int("batch", batch), positive_int("units", units)
    out = []
    for r in ratios:
        c1, c2 = g1_channels(base, r)
        with _seeded(seed):
            layers = [m for _ in range(units) for m in (_conv(c1, c2), _conv(c2, c1))]
        out.append(Variant("G1", f"1:{r}", f"({c1},{c2})", nn.Sequential(*layers), (batch, c1, size, size)))
    return out


def g2_variants(
    base: int = 128, groups: Sequence[int] = (1, 2, 4, 8), *, size: int = 56, batch: int = 1, units: int = 10, seed: int = 0
) -> list[Variant]:
    """G2: ``units`` pointwise group convolutions c→c, one network per group count (see :func:`g2_channels`)."""
    groups, size, batch, units = int_sequence("groups", groups), positive_int("size", size), positive_int("batch", batch), positive_int("units", units)
    out = []
    for g in groups:
        c = g2_channels(base, g)
        with _seeded(seed):
            model = nn.Sequential(*[_conv(c, c, groups=g) for _ in range(units)])
        out.append(Variant("G2", f"g={g}", f"c={c}", model, (batch, c, size, size)))
    return out


#: G3's block structures, in the paper's order: (name, arrangement, fragments).
G3_STRUCTURES: tuple[tuple[str, str, int], ...] = (
    ("1-fragment", "series", 1),
    ("2-fragment-series", "series", 2),
    ("4-fragment-series", "series", 4),
    ("2-fragment-parallel", "parallel", 2),
    ("4-fragment-parallel", "parallel", 4),
)


def g3_variants(base: int = 128, *, size: int = 56, batch: int = 1, units: int = 10, seed: int = 0) -> list[Variant]:
    """G3: ``units`` blocks of 1, 2 or 4 pointwise convolutions in series or parallel (see :func:`g3_channels`).

    A series network runs at the reduced width throughout (its input has that width too).
    """
    base, size, batch, units = positive_int("base", base), positive_int("size", size), positive_int("batch", batch), positive_int("units", units)
    out = []
    for name, arrangement, n in G3_STRUCTURES:
        c = g3_channels(base, n, arrangement)
        with _seeded(seed):
            if arrangement == "series":
                blocks = [nn.Sequential(*[_conv(c, c) for _ in range(n)]) for _ in range(units)]
            else:
                blocks = [_Concat([_conv(c, c // n) for _ in range(n)]) for _ in range(units)]
        out.append(Variant("G3", name, f"c={c}", nn.Sequential(*blocks), (batch, c, size, size)))
    return out


#: G4's variants in the paper's order: (name, relu, shortcut).
G4_SWITCHES: tuple[tuple[str, bool, bool], ...] = (
    ("ReLU + shortcut", True, True),
    ("ReLU only", True, False),
    ("shortcut only", False, True),
    ("neither", False, False),
)


def g4_variants(channels: int = 32, *, size: int = 56, batch: int = 1, units: int = 10, seed: int = 0) -> list[Variant]:
    """G4: ``units`` :class:`BottleneckUnit` s with and without ReLU / shortcut (same weights' shapes)."""
    channels, size, batch, units = positive_int("channels", channels), positive_int("size", size), positive_int("batch", batch), positive_int("units", units)
    out = []
    for name, relu, shortcut in G4_SWITCHES:
        with _seeded(seed):  # the same weights in every variant
            model = nn.Sequential(*[BottleneckUnit(channels, relu=relu, shortcut=shortcut) for _ in range(units)])
        width = BottleneckUnit.expansion * channels
        out.append(Variant("G4", name, f"c={channels}", model, (batch, width, size, size)))
    return out


_BUILDERS: dict[str, Callable[..., list[Variant]]] = {
    "G1": g1_variants,
    "G2": g2_variants,
    "G3": g3_variants,
    "G4": g4_variants,
}


def variants(guideline: str, width: int, **kwargs: Any) -> list[Variant]:
    """The networks of ``guideline`` ("G1".."G4") at base width ``width`` (G4: the unit's width)."""
    if guideline not in _BUILDERS:
        raise ValueError(f"guideline must be one of {sorted(_BUILDERS)}, got {guideline!r}")
    return _BUILDERS[guideline](width, **kwargs)


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


def elementwise_memory_access(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Values read and written by a G4 network's ReLUs and shortcut additions (0 for G1-G3).

    A ReLU reads and writes its tensor (2 values per element); an addition reads two tensors and
    writes one (3 per element). Counted from the :class:`BottleneckUnit` s' switches and the shapes
    a forward pass produces. The convolutions' own traffic is in :func:`layer_table`.
    """
    units = [m for m in model.modules() if isinstance(m, BottleneckUnit)]
    if not units:
        return 0
    shapes: dict[nn.Module, tuple[int, ...]] = {}
    hooks = [
        m.register_forward_hook(lambda mod, i, o: shapes.__setitem__(mod, tuple(o.shape)))
        for u in units
        for m in (u.reduce, u.conv, u.expand)
    ]
    try:
        with torch.no_grad():
            model(torch.zeros(tuple(input_shape)))
    finally:
        for h in hooks:
            h.remove()
    total = 0
    for u in units:
        mid1, mid2, out = (math.prod(shapes[m]) for m in (u.reduce, u.conv, u.expand))
        if u.relu:
            total += 2 * (mid1 + mid2 + out)
        if u.shortcut:
            total += 3 * out
    return total


@dataclass(frozen=True)
class GuidelineResult:
    """One variant's costs and measured time.

    ``memory_access_cost`` counts the convolutions' inputs, outputs and weights (values, per
    :func:`mobilenet_lib.costs.layer_table`) plus, for G4, the element-wise operations' traffic.
    ``timing`` is ``None`` when only the costs were asked for.
    """

    guideline: str
    name: str
    setting: str
    input_shape: tuple[int, int, int, int]
    params: int
    macs: int
    memory_access_cost: int
    timing: Timing | None

    @property
    def images_per_s(self) -> float | None:
        return None if self.timing is None else self.timing.per_second(self.input_shape[0])

    def to_dict(self) -> dict[str, Any]:
        return {
            "guideline": self.guideline,
            "name": self.name,
            "setting": self.setting,
            "input_shape": list(self.input_shape),
            "params": self.params,
            "macs": self.macs,
            "memory_access_cost": self.memory_access_cost,
            "timing": None if self.timing is None else self.timing.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GuidelineResult:
        timing = d.get("timing")
        return cls(
            guideline=d["guideline"],
            name=d["name"],
            setting=d["setting"],
            input_shape=tuple(d["input_shape"]),  # type: ignore[arg-type]
            params=int(d["params"]),
            macs=int(d["macs"]),
            memory_access_cost=int(d["memory_access_cost"]),
            timing=None if timing is None else Timing.from_dict(timing),
        )


def measure(
    networks: Sequence[Variant],
    *,
    time: bool = True,
    repeats: int = 20,
    warmup: int = 3,
    threads: int | None = None,
    rounds: int = 4,
) -> list[GuidelineResult]:
    """Costs (always) and median forward time (if ``time``) of each variant, in order.

    The variants are timed in ``rounds`` interleaved rounds (variant 1, 2, ..., then again), each
    timing its share of the ``repeats`` calls after a warm-up, so that a burst of load from
    elsewhere hits every variant alike rather than one of them; the median is over all repeats.
    """
    if not networks or not all(isinstance(v, Variant) for v in networks):
        raise ValueError("networks must be a non-empty sequence of Variant (from g1_variants() etc.)")
    flag("time", time)
    rounds, repeats = positive_int("rounds", rounds), positive_int("repeats", repeats)
    warmup = integer("warmup", warmup, low=0)
    times: list[list[float]] = [[] for _ in networks]
    timings: list[Timing | None] = [None] * len(networks)
    if time:
        # repeats split as evenly as possible over the rounds (no empty round), repeats in all
        counts = [n for r in range(rounds) if (n := repeats // rounds + (r < repeats % rounds))]
        for r, count in enumerate(counts):
            for i, v in enumerate(networks):
                # the full warm-up once; a single call later re-warms caches after the other variants
                t = time_model(v.model, v.input_shape, repeats=count, warmup=warmup if r == 0 else min(warmup, 1),
                               threads=threads, label=f"{v.guideline} {v.name}")
                times[i].extend(t.times_s)
                timings[i] = Timing(tuple(times[i]), number=t.number, warmup=warmup, threads=t.threads, label=t.label)
    results = []
    for v, timing in zip(networks, timings):
        table = layer_table(v.model, v.input_shape)
        macs = count_macs(v.model, v.input_shape)
        mac = table.total_memory_access_cost + elementwise_memory_access(v.model, v.input_shape)
        results.append(
            GuidelineResult(v.guideline, v.name, v.setting, v.input_shape, count_params(v.model), macs, mac, timing)
        )
    return results


def run_guideline(
    guideline: str,
    width: int,
    *,
    size: int = 56,
    batch: int = 1,
    units: int = 10,
    repeats: int = 20,
    warmup: int = 3,
    threads: int | None = None,
    seed: int = 0,
    rounds: int = 4,
) -> list[GuidelineResult]:
    """Build and measure one guideline's networks: ``measure(variants(guideline, width, ...))``."""
    nets = variants(guideline, width, size=size, batch=batch, units=units, seed=seed)
    return measure(nets, repeats=repeats, warmup=warmup, threads=threads, rounds=rounds)


def relative_speeds(results: Sequence[GuidelineResult]) -> list[float]:
    """Each result's speed (1 / median time) relative to the first result's: the paper's comparison."""
    if not results or any(r.timing is None for r in results):
        raise ValueError("relative_speeds needs timed results (measure(..., time=True))")
    first = results[0].timing.median_s  # type: ignore[union-attr]
    return [first / r.timing.median_s for r in results]  # type: ignore[union-attr]


def comparison_rows(runs: Mapping[int, Sequence[GuidelineResult]]) -> list[dict[str, Any]]:
    """One guideline's measurements beside the paper's, one dict per variant.

    ``runs`` maps a thread count to the timed results of the same variants (same guideline and
    width) measured with that many threads. Each row has the variant's ``name``, ``setting``,
    ``macs_m`` (millions of mult-adds), ``mac_m`` (millions of values of memory access cost),
    ``ms_<t>`` (median ms per forward pass) and ``speed_<t>`` (speed relative to the first variant)
    for every thread count ``t``, and the paper's relative speeds ``paper_gpu`` / ``paper_arm``.
    """
    if not runs:
        raise ValueError("runs must map at least one thread count to results")
    lists = list(runs.values())
    names = [r.name for r in lists[0]]
    guideline = lists[0][0].guideline if lists[0] else None
    for results in lists:
        if [r.name for r in results] != names or any(r.guideline != guideline for r in results):
            raise ValueError("every entry of runs must hold the same guideline's variants in the same order")
    paper = PAPER_TABLES[guideline]  # type: ignore[index]
    paper_gpu = dict(zip(paper.rows, paper.relative("gpu")))
    paper_arm = dict(zip(paper.rows, paper.relative("arm")))
    speeds = {t: relative_speeds(results) for t, results in runs.items()}
    rows = []
    for i, r in enumerate(lists[0]):
        row: dict[str, Any] = {
            "name": r.name,
            "setting": r.setting,
            "macs_m": r.macs / 1e6,
            "mac_m": r.memory_access_cost / 1e6,
        }
        for t, results in runs.items():
            row[f"ms_{t}"] = results[i].timing.median_ms  # type: ignore[union-attr]
            row[f"speed_{t}"] = speeds[t][i]
        row["paper_gpu"] = paper_gpu.get(r.name)
        row["paper_arm"] = paper_arm.get(r.name)
        rows.append(row)
    return rows


def comparison_columns(threads: Sequence[int]) -> list[tuple[str, str]]:
    """(key, title) pairs for :func:`comparison_rows`' rows (e.g. for ``markdown_table``)."""
    columns = [
        ("name", "variant"),
        ("setting", "widths"),
        ("macs_m", "mult-adds (M)"),
        ("mac_m", "memory access cost (M values)"),
    ]
    for t in threads:
        s = "s" if t != 1 else ""
        columns += [(f"ms_{t}", f"ms, {t} thread{s}"), (f"speed_{t}", f"relative speed, {t} thread{s}")]
    return columns + [("paper_gpu", "paper: GPU relative speed"), ("paper_arm", "paper: ARM relative speed")]


#: For each guideline, the variants the paper says run slower (G1-G3) or faster (G4) than the first.
CLAIMS: dict[str, tuple[tuple[str, ...], str]] = {
    "G1": (("1:12",), "slower"),
    "G2": (("g=8",), "slower"),
    "G3": (("4-fragment-series", "4-fragment-parallel"), "slower"),
    "G4": (("neither",), "faster"),
}


def verdict(results: Sequence[GuidelineResult], margin: float = 0.05) -> str:
    """Does a timed run agree with its guideline? ``"agrees"``, ``"contradicts"`` or ``"inconclusive"``.

    The claim (:data:`CLAIMS`) names the variants that should be slower than the first one (G1-G3:
    1:12, g=8, the 4-fragment blocks) or faster (G4: no ReLU, no shortcut). The run *agrees* if
    every named variant's relative speed is beyond ``1 ∓ margin`` in the claimed direction,
    *contradicts* if every one is beyond ``1 ± margin`` the other way, and is *inconclusive*
    otherwise (differences within the margin, or mixed).
    """
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin < 1:
        raise ValueError(f"margin must be a number in [0, 1), got {margin!r}")
    speeds = dict(zip((r.name for r in results), relative_speeds(results)))
    guideline = results[0].guideline
    names, direction = CLAIMS[guideline]
    missing = [n for n in names if n not in speeds]
    if missing:
        raise ValueError(f"the {guideline} results have no variant(s) {missing}; got {sorted(speeds)}")
    sign = -1 if direction == "slower" else 1
    shifts = [sign * (speeds[n] - 1) for n in names]
    if all(s > margin for s in shifts):
        return "agrees"
    if all(s < -margin for s in shifts):
        return "contradicts"
    return "inconclusive"


_VERDICT_TEXT = {
    "agrees": "as the guideline predicts",
    "contradicts": "the opposite of what the guideline predicts",
    "inconclusive": "no clear difference either way",
}


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")


def claim_facts(runs: Mapping[int, Sequence[GuidelineResult]], margin: float = 0.05) -> dict[str, Any]:
    """The numbers a chapter quotes about one guideline run, keyed for ``glue``.

    For every claimed variant ``v`` (see :data:`CLAIMS`, slugged: ``1:12`` → ``1_12``) and thread
    count ``t``: ``<v>_<t>`` its speed relative to the first variant; ``paper_gpu_<v>`` /
    ``paper_arm_<v>`` the paper's; and per thread count ``verdict_<t>`` (see :func:`verdict`) and
    ``verdict_text_<t>``, a phrase for prose.
    """
    if not runs:
        raise ValueError("runs must map at least one thread count to results")
    first = next(iter(runs.values()))
    guideline = first[0].guideline
    names, _ = CLAIMS[guideline]
    paper = PAPER_TABLES[guideline]
    facts: dict[str, Any] = {}
    for v in names:
        i = paper.rows.index(v)
        facts[f"paper_gpu_{_slug(v)}"] = paper.relative("gpu")[i]
        facts[f"paper_arm_{_slug(v)}"] = paper.relative("arm")[i]
    for t, results in runs.items():
        speeds = dict(zip((r.name for r in results), relative_speeds(results)))
        for v in names:
            facts[f"{_slug(v)}_{t}"] = speeds[v]
        facts[f"verdict_{t}"] = verdict(results, margin)
        facts[f"verdict_text_{t}"] = _VERDICT_TEXT[facts[f"verdict_{t}"]]
    return facts


def _ones_gconv(channels: int, groups: int) -> nn.Conv2d:
    conv = nn.Conv2d(channels, channels, 1, groups=groups, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    return conv


def channel_flow(groups: int, per_group: int, shuffle: bool) -> torch.Tensor:
    """Boolean ``(C, C)`` matrix, C = groups·per_group: True where output j depends on input i.

    The network is a 1×1 group convolution, then (if ``shuffle``) the library's
    :func:`~mobilenet_lib.blocks.channel_shuffle`, then another 1×1 group convolution, as in a
    ShuffleNet V1 unit. The dependence is measured by lighting one input channel at a time through
    all-one weights. Without the shuffle, output group k depends on input group k only.
    """
    groups = positive_int("groups", groups)
    per_group = positive_int("per_group", per_group)
    c = groups * per_group
    first, second = _ones_gconv(c, groups), _ones_gconv(c, groups)
    with torch.no_grad():
        x = torch.eye(c).reshape(c, c, 1, 1)
        h = first(x)
        if shuffle:
            h = channel_shuffle(h, groups)
        y = second(h)[:, :, 0, 0]
    return (y != 0).T.contiguous()


def latency_payload(payload: Mapping[str, Any]) -> tuple[list[ModelLatency], float, list[int]]:
    """The models, the matmul peak (GFLOP/s) and the batch sizes of a ``benchmarks/latency.py`` result."""
    try:
        models = [ModelLatency.from_dict(r) for r in payload["results"]["models"]]
        peak = float(payload["results"]["matmul"]["gflops"])
        batches = [int(b) for b in payload["config"]["batch_sizes"]]
    except (KeyError, TypeError) as err:
        raise ValueError(f"not a benchmarks/latency.py result (missing {err}); load it with load_results") from None
    if not models:
        raise ValueError("the latency results hold no models")
    return models, peak, batches


def latency_rows(payload: Mapping[str, Any], reference: str | None = "resnet18") -> list[dict[str, Any]]:
    """One row per model: params, mult-adds, ms per image and GFLOP/s at every batch size.

    Keys: ``model``, ``params_m``, ``macs_m``, ``ms_<b>``, ``gflops_<b>``, ``peak_pct_<b>`` (achieved
    GFLOP/s as a percentage of the matmul peak) and, if ``reference`` is one of the models,
    ``fewer_macs`` (the reference's mult-adds / this model's) and ``speedup_<b>`` (the reference's
    ms per image / this model's).
    """
    models, peak, batches = latency_payload(payload)
    ref = next((m for m in models if m.name == reference), None)
    rows = []
    for m in models:
        row: dict[str, Any] = {
            "model": DISPLAY_NAMES.get(m.name, m.name),
            "name": m.name,
            "params_m": m.params / 1e6,
            "macs_m": m.macs / 1e6,
        }
        for b in batches:
            row[f"ms_{b}"] = m.ms_per_image(b)
            row[f"gflops_{b}"] = m.gflops(b)
            row[f"peak_pct_{b}"] = 100 * m.gflops(b) / peak
        if ref is not None:
            row["fewer_macs"] = ref.macs / m.macs
            for b in batches:
                row[f"speedup_{b}"] = ref.ms_per_image(b) / m.ms_per_image(b)
        rows.append(row)
    return rows


def guideline_runs(payload: Mapping[str, Any], guideline: str, width: int | None = None) -> dict[int, list[GuidelineResult]]:
    """``threads -> results`` for one guideline (and width; default: the largest measured)."""
    from mobilenet_lib.experiments.shufflenet_latency import GuidelineResult

    try:
        entries = [e for e in payload["results"] if e["guideline"] == guideline]
    except (KeyError, TypeError) as err:
        raise ValueError(f"not a benchmarks/guidelines.py result (missing {err})") from None
    if not entries:
        raise ValueError(f"the results hold no {guideline!r} experiment")
    widths = sorted(e["width"] for e in entries)
    if width is None:
        width = widths[-1]
    entry = next((e for e in entries if e["width"] == width), None)
    if entry is None:
        raise ValueError(f"{guideline} was measured at widths {widths}, not {width!r}")
    return {int(t): [GuidelineResult.from_dict(r) for r in rows] for t, rows in entry["runs"].items()}


#: How the chapter names the models in tables and plots.
DISPLAY_NAMES: dict[str, str] = {
    "mobilenet_v1": "MobileNet V1",
    "mobilenet_v2": "MobileNet V2",
    "mobilenet_v3_large": "MobileNet V3-Large",
    "mobilenet_v3_small": "MobileNet V3-Small",
    "shufflenet_v2_x0_5": "ShuffleNet V2 0.5x",
    "shufflenet_v2_x1_0": "ShuffleNet V2 1.0x",
    "shufflenet_v2_x1_5": "ShuffleNet V2 1.5x",
    "shufflenet_v2_x2_0": "ShuffleNet V2 2.0x",
    "resnet18": "ResNet-18",
    "resnet50": "ResNet-50",
}
