"""ShuffleNet V1 and V2 as networks: their tables, the papers' accuracies, and how V1 fares
against ShuffleNet V2's four guidelines (G1-G4), counted by the library.

What the chapter ``book/shufflenet_networks.ipynb`` shows, as functions of the library's models:

- :func:`v1_table` / :func:`v2_table`: the papers' architecture tables (V1's Table 1, V2's
  Table 5) printed from the library's tables, with the output size of every layer measured by a
  forward pass and the mult-adds counted per column;
- :data:`V1_TABLE2_TOP1_ERROR` and :data:`V2_TABLE8_TOP1_ERROR`: the published ImageNet top-1
  errors, with where they were printed;
- :func:`one_by_one_rows`: every 1x1 convolution of a unit with its memory access cost against
  G1's lower bound for the same mult-adds (how far the bottleneck and the groups sit above it);
- :func:`group_count_rows`: V1 at 1x for g = 1 ... 8: mult-adds stay near 140M while the memory
  access cost of the 1x1 layers grows with g (G2);
- :func:`operator_census`: the operators a unit or a network runs, traced with ``torch.fx``
  (G3's fragmentation) and the element-wise values they touch (G4);
- :func:`measured_rows`: the committed benchmark (``benchmarks/shufflenet.py``) as rows.
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mobilenet_lib.blocks import ChannelShuffle, ShuffleV1Block, ShuffleV2Block, channel_shuffle
from mobilenet_lib.costs import count_macs, count_params, layer_table, memory_access_cost_1x1, memory_access_lower_bound
from mobilenet_lib.models import create_model
from mobilenet_lib.models.shufflenet_v1 import SHUFFLENET_V1_COMPLEXITY, SHUFFLENET_V1_GROUPS, SHUFFLENET_V1_STAGES
from mobilenet_lib.models.shufflenet_v2 import SHUFFLENET_V2_STAGES, SHUFFLENET_V2_WIDTHS
from mobilenet_lib.tables import Table, records_table
from mobilenet_lib.validation import one_of, positive_int

__all__ = [
    "V1_TABLE2_TOP1_ERROR",
    "V1_TABLE2_SOURCE",
    "V2_TABLE8_TOP1_ERROR",
    "V2_TABLE8_SOURCE",
    "NETWORKS",
    "build",
    "meta_model",
    "v1_table",
    "v2_table",
    "stride_2_widths",
    "OneByOne",
    "one_by_one_rows",
    "group_count_rows",
    "Census",
    "operator_census",
    "census_table",
    "measured_rows",
]

#: ShuffleNet V1's Table 2: ImageNet top-1 error (%, single 224x224 centre crop of the validation
#: set) for each width s and group count g, from the published paper (CVPR 2018; arXiv v2).
V1_TABLE2_TOP1_ERROR: dict[float, dict[int, float]] = {
    1.0: {1: 33.6, 2: 32.7, 3: 32.6, 4: 32.8, 8: 32.4},
    0.5: {1: 45.1, 2: 44.4, 3: 43.2, 4: 41.6, 8: 42.3},
    0.25: {1: 57.1, 2: 56.8, 3: 55.0, 4: 54.2, 8: 53.7},
}
V1_TABLE2_SOURCE = "zhang2018shufflenet, Table 2"

#: ShuffleNet V2's Table 8: top-1 error (%) of ShuffleNet V2 at its four widths.
V2_TABLE8_TOP1_ERROR: dict[str, float] = {"0.5x": 39.7, "1.0x": 30.6, "1.5x": 27.4, "2.0x": 25.1}
V2_TABLE8_SOURCE = "ma2018shufflenet, Table 8"

#: The networks the chapter compares, name -> (create_model name, keyword arguments). The
#: benchmark script times exactly these (and the other networks of the book).
NETWORKS: dict[str, tuple[str, dict[str, Any]]] = {
    **{f"shufflenet_v1_g{g}": ("shufflenet_v1", {"groups": g}) for g in SHUFFLENET_V1_GROUPS},
    "shufflenet_v1_g3_x0_5": ("shufflenet_v1", {"groups": 3, "width_mult": 0.5}),
    "shufflenet_v1_g8_x0_5": ("shufflenet_v1", {"groups": 8, "width_mult": 0.5}),
    "shufflenet_v2_x0_5": ("shufflenet_v2", {"width_mult": 0.5}),
    "shufflenet_v2_x1_0": ("shufflenet_v2", {"width_mult": 1.0}),
}


def build(name: str, *, meta: bool = True, **overrides: Any) -> nn.Module:
    """Build network ``name`` of :data:`NETWORKS` (on PyTorch's meta device by default: costs
    only, no memory). Keyword ``overrides`` go to the builder (``num_classes=10`` ...)."""
    one_of("name", name, NETWORKS)
    builder, kwargs = NETWORKS[name]
    if meta:
        with torch.device("meta"):
            return create_model(builder, **{**kwargs, **overrides})
    return create_model(builder, **{**kwargs, **overrides})


def meta_model(builder: str, **kwargs: Any) -> nn.Module:
    """``create_model(builder, **kwargs)`` on PyTorch's meta device (shapes and counts, no memory)."""
    with torch.device("meta"):
        return create_model(builder, **kwargs)


def _output_sizes(model: nn.Module, names: Sequence[str], resolution: int) -> dict[str, int]:
    """Side of each named child's output map in one forward pass at ``resolution``."""
    sizes: dict[str, int] = {}
    hooks = [
        getattr(model, n).register_forward_hook(lambda m, i, o, n=n: sizes.__setitem__(n, int(o.shape[-1])))
        for n in names
    ]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, resolution, resolution, device="meta"))
    finally:
        for h in hooks:
            h.remove()
    return sizes


def v1_table(width_mult: float = 1.0, resolution: int = 224) -> Table:
    """ShuffleNet V1's Table 1 from :data:`SHUFFLENET_V1_STAGES`: one row per layer (a stage's
    stride-2 unit and its stride-1 units apart), the output size measured at ``resolution``, the
    output channels of each group count at ``width_mult``, and the mult-adds the library counts
    with and without the classifier beside the paper's complexity row."""
    resolution = positive_int("resolution", resolution)
    models = {g: meta_model("shufflenet_v1", groups=g, width_mult=width_mult) for g in SHUFFLENET_V1_GROUPS}
    sizes = _output_sizes(models[3], ["conv1", "maxpool", "stage2", "stage3", "stage4"], resolution)
    header = ["layer", "output size", "kernel", "stride", "repeat"] + [f"g = {g}" for g in SHUFFLENET_V1_GROUPS]
    rows: list[list[str]] = [["image", f"{resolution}×{resolution}", "", "", ""] + ["3"] * 5]

    def widths(name: str) -> list[str]:
        return [str(models[g].widths[name]) for g in SHUFFLENET_V1_GROUPS]

    rows.append(["conv1", f"{sizes['conv1']}²", "3×3", "2", "1", *widths("conv1")])
    rows.append(["max pool", f"{sizes['maxpool']}²", "3×3", "2", "", *widths("conv1")])
    for row in SHUFFLENET_V1_STAGES[1:]:
        side = f"{sizes[row.name]}²"
        rows.append([row.name, side, "", "2", "1", *widths(row.name)])
        rows.append(["", side, "", "1", str(row.repeats - 1), *widths(row.name)])
    rows.append(["global pool", "1²", f"{sizes['stage4']}×{sizes['stage4']}", "", "", *widths("stage4")])
    rows.append(["FC", "", "", "", "", *["1000"] * 5])
    macs = {g: count_macs(m, (1, 3, resolution, resolution)) for g, m in models.items()}
    fc = {g: m.num_features * 1000 for g, m in models.items()}
    footer = [
        ["mult-adds (library)", "", "", "", ""] + [f"{macs[g] / 1e6:.1f}M" for g in SHUFFLENET_V1_GROUPS],
        ["  without the FC", "", "", "", ""] + [f"{(macs[g] - fc[g]) / 1e6:.1f}M" for g in SHUFFLENET_V1_GROUPS],
    ]
    if width_mult == 1.0 and resolution == 224:
        footer.append(["complexity (paper)", "", "", "", ""] + [f"{SHUFFLENET_V1_COMPLEXITY[g]}M" for g in SHUFFLENET_V1_GROUPS])
    return Table(header, rows, ["left"] * 2 + ["right"] * 8, footer=footer)


def v2_table(resolution: int = 224) -> Table:
    """ShuffleNet V2's Table 5 from :data:`SHUFFLENET_V2_STAGES`, with the library's counts."""
    resolution = positive_int("resolution", resolution)
    models = {w: meta_model("shufflenet_v2", width_mult=w) for w in SHUFFLENET_V2_WIDTHS}
    sizes = _output_sizes(models["1.0x"], ["conv1", "maxpool", "stage2", "stage3", "stage4", "conv5"], resolution)
    header = ["layer", "output size", "kernel", "stride", "repeat"] + list(SHUFFLENET_V2_WIDTHS)
    rows: list[list[str]] = [["image", f"{resolution}×{resolution}", "", "", ""] + ["3"] * 4]
    for row in SHUFFLENET_V2_STAGES:
        chans = [str(c) for c in row.channels]
        side = f"{sizes[row.name]}²"
        if row.name == "conv1":
            rows.append(["conv1", side, "3×3", "2", "1", *chans])
            rows.append(["max pool", f"{sizes['maxpool']}²", "3×3", "2", "", *chans])
        elif row.name == "conv5":
            rows.append(["conv5", side, "1×1", "1", "1", *chans])
        else:
            rows.append([row.name, side, "", "2", "1", *chans])
            rows.append(["", side, "", "1", str(row.repeats - 1), *chans])
    rows.append(["global pool", "1²", f"{sizes['conv5']}×{sizes['conv5']}", "", "", *[str(r) for r in SHUFFLENET_V2_STAGES[-1].channels]])
    rows.append(["FC", "", "", "", "", *["1000"] * 4])
    footer = [["mult-adds (library)", "", "", "", ""]
              + [f"{count_macs(models[w], (1, 3, resolution, resolution)) / 1e6:.1f}M" for w in SHUFFLENET_V2_WIDTHS],
              ["params (library)", "", "", "", ""] + [f"{count_params(models[w]) / 1e6:.2f}M" for w in SHUFFLENET_V2_WIDTHS]]
    return Table(header, rows, ["left"] * 2 + ["right"] * 7, footer=footer)


def stride_2_widths(groups: int = 3, width_mult: float = 1.0) -> list[dict[str, int | str]]:
    """For each stage's stride-2 unit of ShuffleNet V1: input width, the branch's width
    (output - input), the output width (the concatenation) and the bottleneck width."""
    model = meta_model("shufflenet_v1", groups=groups, width_mult=width_mult)
    out = []
    for name in ("stage2", "stage3", "stage4"):
        u = getattr(model, name)[0]
        out.append({"stage": name, "input": u.in_channels, "branch": u.branch_channels,
                    "output": u.out_channels, "bottleneck": u.mid_channels,
                    "first_groups": u.branch.compress[0].groups})
    return out


# --------------------------------------------------------------------------------------------
# G1 and G2: the 1x1 convolutions' memory access cost
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OneByOne:
    """One 1x1 convolution of a unit: widths, groups, mult-adds, memory access cost (values read
    and written: input + output + weights), G1's lower bound for a dense 1x1 conv with the same
    mult-adds on the same map, and their ratio."""

    layer: str
    c_in: int
    c_out: int
    groups: int
    side: int
    macs: int
    memory_access_cost: int
    lower_bound: float

    @property
    def ratio(self) -> float:
        return self.memory_access_cost / self.lower_bound

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "ratio": self.ratio, "widths": f"{self.c_in} → {self.c_out}"}


def one_by_one_rows(unit: nn.Module, side: int, prefix: str = "") -> list[OneByOne]:
    """Every 1x1 convolution of ``unit`` (a :class:`ShuffleV1Block` or :class:`ShuffleV2Block`)
    on a ``side`` × ``side`` map, in order, with :func:`~mobilenet_lib.costs.memory_access_cost_1x1`
    and :func:`~mobilenet_lib.costs.memory_access_lower_bound` (ShuffleNet V2's G1 bound)."""
    if not isinstance(unit, (ShuffleV1Block, ShuffleV2Block)):
        raise TypeError(f"unit must be a ShuffleV1Block or ShuffleV2Block, got {type(unit).__name__}")
    side = positive_int("side", side)
    seen: dict[str, int] = {}
    convs = {name: m for name, m in unit.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)}
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: seen.__setitem__(n, int(o.shape[-1])))
             for n, m in convs.items()]
    try:
        with torch.no_grad():
            unit.eval()(torch.zeros(1, unit.in_channels, side, side))
    finally:
        for h in hooks:
            h.remove()
    rows = []
    for name, m in convs.items():
        s = seen[name]
        macs = s * s * m.in_channels * m.out_channels // m.groups
        rows.append(OneByOne(
            layer=prefix + name, c_in=m.in_channels, c_out=m.out_channels, groups=m.groups, side=s, macs=macs,
            memory_access_cost=memory_access_cost_1x1(s, s, m.in_channels, m.out_channels, m.groups),
            lower_bound=memory_access_lower_bound(s, s, macs),
        ))
    return rows


def group_count_rows(width_mult: float = 1.0, resolution: int = 224) -> list[dict[str, Any]]:
    """ShuffleNet V1 for every group count (and ShuffleNet V2 1x beside it): params, mult-adds,
    and the memory access cost of the whole network and of its 1x1 layers (from
    :func:`~mobilenet_lib.costs.layer_table`: input + output + weights of every layer), plus the
    published top-1 error where the papers give it."""
    size = (1, 3, resolution, resolution)
    out = []
    models = [(f"V1 g = {g}", meta_model("shufflenet_v1", groups=g, width_mult=width_mult), g) for g in SHUFFLENET_V1_GROUPS]
    if width_mult in (0.5, 1.0):
        w = "1.0x" if width_mult == 1.0 else "0.5x"
        models.append((f"V2 {w}", meta_model("shufflenet_v2", width_mult=w), None))
    for label, model, g in models:
        table = layer_table(model, size)
        ones = [r for r in table if r.kernel == (1, 1)]
        if g is None:
            err = V2_TABLE8_TOP1_ERROR["1.0x" if width_mult == 1.0 else "0.5x"]
        else:
            err = V1_TABLE2_TOP1_ERROR.get(width_mult, {}).get(g)
        out.append({
            "network": label,
            "groups": g if g is not None else 1,
            "params": table.total_params,
            "macs": table.total_macs,
            "macs_m": table.total_macs / 1e6,
            "memory_access_cost": table.total_memory_access_cost,
            "mac_m": table.total_memory_access_cost / 1e6,
            "one_by_one_mac": sum(r.memory_access_cost for r in ones),
            "one_by_one_mac_m": sum(r.memory_access_cost for r in ones) / 1e6,
            "one_by_one_macs_share": sum(r.macs for r in ones) / table.total_macs,
            "top1_error": err,
            "top1": None if err is None else round(100 - err, 1),
        })
    return out


# --------------------------------------------------------------------------------------------
# G3 and G4: the operators a unit runs
# --------------------------------------------------------------------------------------------

_IGNORED_FUNCTIONS = {operator.getitem, torch.flatten, getattr}
_IGNORED_METHODS = {"flatten", "size", "view", "reshape"}


def _op_name(node: Any, gm: torch.fx.GraphModule) -> str | None:
    """The census name of one traced operator, or None for bookkeeping that moves no data."""
    if node.op == "call_module":
        m = gm.get_submodule(node.target)
        if isinstance(m, nn.Conv2d):
            if m.groups == 1:
                return "1x1 conv" if m.kernel_size == (1, 1) else f"{m.kernel_size[0]}x{m.kernel_size[1]} conv"
            if m.groups == m.in_channels:
                return "depthwise conv"
            return "1x1 group conv" if m.kernel_size == (1, 1) else "group conv"
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            return "batch norm"
        if isinstance(m, nn.ReLU):
            return "ReLU"
        if isinstance(m, (nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d)):
            return "pool"
        if isinstance(m, ChannelShuffle):
            return "shuffle"
        if isinstance(m, nn.Linear):
            return "linear"
        return None  # Identity, Dropout, Sequential containers never appear as leaves with work
    if node.op == "call_function":
        if node.target in (operator.add, torch.add):
            return "add"
        if node.target is torch.cat:
            return "concat"
        if node.target is channel_shuffle:
            return "shuffle"
        if node.target in (torch.relu, nn.functional.relu):
            return "ReLU"
        if node.target in _IGNORED_FUNCTIONS:
            return None
        return getattr(node.target, "__name__", str(node.target))
    if node.op == "call_method":
        if node.target == "chunk":
            return "split"
        if node.target == "mean":
            return "pool"
        if node.target in _IGNORED_METHODS:
            return None
        return str(node.target)
    return None


@dataclass(frozen=True)
class Census:
    """What a module runs, traced once: the operators in order, their count per kind, and the
    values written by element-wise operations (ReLU and addition: G4's kind)."""

    ops: tuple[str, ...]
    counts: Mapping[str, int]
    elementwise_values: int
    conv_layers: int

    @property
    def operators(self) -> int:
        return len(self.ops)


class _Tracer(torch.fx.Tracer):
    def __init__(self) -> None:
        super().__init__(autowrap_functions=(channel_shuffle,))

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, ChannelShuffle) or super().is_leaf_module(m, qualname)


def operator_census(module: nn.Module, input_size: Sequence[int]) -> Census:
    """Trace ``module`` with ``torch.fx`` and list the operators one forward pass on a zero input
    of ``input_size`` runs (a channel shuffle counts as one operator, a split as one). Batch norm
    is counted as the model holds it (it folds into the convolution at inference)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    from torch.fx.passes.shape_prop import ShapeProp

    size = tuple(positive_int(f"input_size[{i}]", v) for i, v in enumerate(input_size))
    was_training = module.training
    module.eval()
    try:
        gm = torch.fx.GraphModule(module, _Tracer().trace(module))
        ShapeProp(gm).propagate(torch.zeros(size))
    finally:
        module.train(was_training)
    ops, elementwise = [], 0
    for node in gm.graph.nodes:
        name = _op_name(node, gm)
        if name is None:
            continue
        ops.append(name)
        if name in ("ReLU", "add"):
            elementwise += math.prod(node.meta["tensor_meta"].shape)
    counts = Counter(ops)
    convs = sum(v for k, v in counts.items() if "conv" in k)
    return Census(tuple(ops), dict(counts), elementwise, convs)


# --------------------------------------------------------------------------------------------
# The committed measurements
# --------------------------------------------------------------------------------------------


def measured_rows(payload: Mapping[str, Any], names: Sequence[str], batch: int = 1) -> list[dict[str, Any]]:
    """Rows of the committed benchmark (``benchmarks/results/shufflenet.json``) for ``names``:
    params, mult-adds, median ms per image at ``batch``, its interquartile range, and the speed
    relative to the first name."""
    from mobilenet_lib.benchmark import ModelLatency

    by_name = {r["name"]: ModelLatency.from_dict(r) for r in payload["results"]["models"]}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ValueError(f"the results file has no timing for {missing}; run benchmarks/shufflenet.py")
    first = by_name[names[0]].ms_per_image(batch)
    rows = []
    for n in names:
        r = by_name[n]
        t = r.timings[batch]
        rows.append({"name": n, "params": r.params, "params_m": r.params / 1e6, "macs": r.macs, "macs_m": r.macs / 1e6,
                     "ms": r.ms_per_image(batch), "iqr_ms": t.iqr_ms / batch, "repeats": t.repeats,
                     "relative_time": r.ms_per_image(batch) / first})
    return rows


def census_table(entries: Mapping[str, Census]) -> Table:
    """A table of censuses side by side: one column per entry, one row per kind of operator."""
    kinds: list[str] = []
    for c in entries.values():
        kinds += [k for k in c.counts if k not in kinds]
    rows = [{"kind": k, **{name: c.counts.get(k, 0) for name, c in entries.items()}} for k in kinds]
    rows.append({"kind": "operators in all", **{name: c.operators for name, c in entries.items()}})
    rows.append({"kind": "element-wise values (ReLU, add)", **{name: c.elementwise_values for name, c in entries.items()}})
    return records_table(rows, [("kind", "operator")] + [(n, n) for n in entries])
