"""Accuracy beside cost: every network of the book with its parameters and mult-adds (counted by
the library), its published ImageNet top-1 accuracy (from its paper, with the table it comes
from) and its latency measured on this project's CPU (a committed results file).

:data:`PUBLISHED` is the data: one :class:`Published` row per network, each naming the library
model that builds it, the paper's top-1 and where the paper prints it (a ``book/references.bib``
key and a table), the evaluation protocol, and the paper's own mult-adds and parameters for
comparison. :func:`cost_rows` adds the library's counts; :func:`accuracy_rows` the measured
latency from ``benchmarks/results/shufflenet.json`` (written by ``benchmarks/shufflenet.py``);
:func:`pareto_front` picks the networks no other network beats on both accuracy and a cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from mobilenet_lib.costs import count_macs, count_params
from mobilenet_lib.models import create_model
from mobilenet_lib.validation import one_of

__all__ = ["Published", "PUBLISHED", "FAMILIES", "build", "cost_rows", "accuracy_rows", "pareto_front"]


@dataclass(frozen=True)
class Published:
    """One network and what its paper reports for it on ImageNet (top-1 accuracy in %)."""

    name: str  # the row's key (also its name in the benchmark results)
    label: str  # how the book writes it
    family: str  # groups the plot's colours
    builder: str  # create_model name
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    top1: float = 0.0  # published ImageNet top-1 accuracy, %
    cite: str = ""  # book/references.bib key
    where: str = ""  # the table of the paper
    protocol: str = "224×224 centre crop"  # how the paper evaluated
    paper_macs_m: float | None = None  # the paper's mult-adds ("FLOPs" in the ShuffleNet papers), millions
    paper_params_m: float | None = None  # the paper's parameters, millions


#: The families, in the plot's order, with their colours.
FAMILIES: dict[str, str] = {
    "MobileNet V1": "#1f77b4",
    "MobileNet V2": "#ff7f0e",
    "MobileNet V3": "#2ca02c",
    "ShuffleNet V1": "#9467bd",
    "ShuffleNet V2": "#d62728",
    "ResNet": "#7f7f7f",
}

#: Every network the library builds at the setting its paper reports, with the paper's numbers.
#: ShuffleNet V1's and V2's tables print top-1 *error*; the accuracy here is 100 minus it.
PUBLISHED: tuple[Published, ...] = (
    Published("mobilenet_v1", "MobileNet V1 1.0", "MobileNet V1", "mobilenet_v1", {}, 70.6,
              "howard2017mobilenets", "Table 6", paper_macs_m=569, paper_params_m=4.2),
    Published("mobilenet_v2", "MobileNet V2 1.0", "MobileNet V2", "mobilenet_v2", {}, 72.0,
              "sandler2018mobilenetv2", "Table 4", paper_macs_m=300, paper_params_m=3.4),
    Published("mobilenet_v3_large", "MobileNet V3-Large", "MobileNet V3", "mobilenet_v3_large", {}, 75.2,
              "howard2019searching", "Table 3", paper_macs_m=219, paper_params_m=5.4),
    Published("mobilenet_v3_small", "MobileNet V3-Small", "MobileNet V3", "mobilenet_v3_small", {}, 67.4,
              "howard2019searching", "Table 3", paper_macs_m=56, paper_params_m=2.5),
    Published("shufflenet_v1_g3", "ShuffleNet V1 1x (g=3)", "ShuffleNet V1", "shufflenet_v1", {"groups": 3}, 67.4,
              "zhang2018shufflenet", "Table 2 (error 32.6 %)", paper_macs_m=137),
    Published("shufflenet_v1_g8", "ShuffleNet V1 1x (g=8)", "ShuffleNet V1", "shufflenet_v1", {"groups": 8}, 67.6,
              "zhang2018shufflenet", "Table 2 (error 32.4 %)", paper_macs_m=137),
    Published("shufflenet_v1_g3_x0_5", "ShuffleNet V1 0.5x (g=3)", "ShuffleNet V1", "shufflenet_v1",
              {"groups": 3, "width_mult": 0.5}, 56.8, "zhang2018shufflenet", "Table 2 (error 43.2 %)", paper_macs_m=38),
    Published("shufflenet_v2_x0_5", "ShuffleNet V2 0.5x", "ShuffleNet V2", "shufflenet_v2", {"width_mult": 0.5}, 60.3,
              "ma2018shufflenet", "Table 8 (error 39.7 %)", paper_macs_m=41),
    Published("shufflenet_v2_x1_0", "ShuffleNet V2 1x", "ShuffleNet V2", "shufflenet_v2", {"width_mult": 1.0}, 69.4,
              "ma2018shufflenet", "Table 8 (error 30.6 %)", paper_macs_m=146),
    Published("shufflenet_v2_x1_5", "ShuffleNet V2 1.5x", "ShuffleNet V2", "shufflenet_v2", {"width_mult": 1.5}, 72.6,
              "ma2018shufflenet", "Table 8 (error 27.4 %)", paper_macs_m=299),
    Published("shufflenet_v2_x2_0", "ShuffleNet V2 2x", "ShuffleNet V2", "shufflenet_v2", {"width_mult": 2.0}, 74.9,
              "ma2018shufflenet", "Table 8 (error 25.1 %)", paper_macs_m=591),
    Published("resnet18", "ResNet-18", "ResNet", "resnet18", {}, 72.12,
              "he2016deep", "Table 2 (error 27.88 %)", protocol="10-crop", paper_macs_m=1800),
    Published("resnet50", "ResNet-50", "ResNet", "resnet50", {}, 77.15,
              "he2016deep", "Table 3 (error 22.85 %)", protocol="10-crop", paper_macs_m=3800),
)


def _by_name() -> dict[str, Published]:
    return {p.name: p for p in PUBLISHED}


def build(name: str, *, meta: bool = True) -> nn.Module:
    """The library model of row ``name`` (on the meta device by default: costs, no memory)."""
    row = _by_name()[one_of("name", name, _by_name())]
    if meta:
        with torch.device("meta"):
            return create_model(row.builder, **row.kwargs)
    return create_model(row.builder, **row.kwargs)


def cost_rows(resolution: int = 224) -> list[dict[str, Any]]:
    """One dict per row of :data:`PUBLISHED`: its fields, plus the library's ``params`` and
    ``macs`` (per image at ``resolution``) and the same in millions."""
    out = []
    for p in PUBLISHED:
        model = build(p.name)
        params, macs = count_params(model), count_macs(model, (1, 3, resolution, resolution))
        out.append({**asdict(p), "kwargs": dict(p.kwargs), "params": params, "macs": macs,
                    "params_m": params / 1e6, "macs_m": macs / 1e6})
    return out


def accuracy_rows(
    payload: Mapping[str, Any],
    batch: int = 1,
    resolution: int = 224,
    costs: Sequence[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """:func:`cost_rows` with the measured latency of a committed results file (a
    ``benchmarks/shufflenet.py`` payload): ``ms`` (median ms per image at ``batch``), ``iqr_ms``.
    Pass ``costs`` (a :func:`cost_rows` result at ``resolution``) to reuse counts already made.

    Raises ``ValueError`` if the file lacks a network, measured another resolution, or disagrees
    with the library on a network's parameters or mult-adds (it was made by another model).
    """
    from mobilenet_lib.benchmark import ModelLatency

    measured = {r["name"]: ModelLatency.from_dict(r) for r in payload["results"]["models"]}
    rows = []
    for row in (cost_rows(resolution) if costs is None else costs):
        m = measured.get(row["name"])
        if m is None:
            raise ValueError(f"the results file has no timing for {row['name']!r}; run benchmarks/shufflenet.py")
        if m.resolution != resolution or (m.params, m.macs) != (row["params"], row["macs"]):
            raise ValueError(
                f"{row['name']}: the results file timed {m.params:,} params / {m.macs:,} mult-adds at "
                f"{m.resolution}, the library builds {row['params']:,} / {row['macs']:,} at {resolution}; "
                "re-run benchmarks/shufflenet.py"
            )
        t = m.timings[batch]
        rows.append({**dict(row), "ms": m.ms_per_image(batch), "iqr_ms": t.iqr_ms / batch, "repeats": t.repeats})
    return rows


def pareto_front(rows: Sequence[Mapping[str, Any]], cost: str) -> list[str]:
    """Names of the rows no other row beats: none has both a higher ``top1`` and a lower (or
    equal) ``cost`` (``"macs"``, ``"params"`` or ``"ms"``). In order of increasing cost."""
    cost = one_of("cost", cost, ("macs", "params", "ms"))
    front = []
    for r in rows:
        beaten = any(o is not r and o["top1"] >= r["top1"] and o[cost] <= r[cost]
                     and (o["top1"] > r["top1"] or o[cost] < r[cost]) for o in rows)
        if not beaten:
            front.append(r)
    return [r["name"] for r in sorted(front, key=lambda r: r[cost])]
