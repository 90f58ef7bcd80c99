"""Figures of the MobileNet V3 chapter (the numbers: :mod:`mobilenet_lib.experiments.mobilenet_v3`).

- :func:`plot_bneck_costs`   mult-adds of every bneck row by part (expansion, depthwise, SE,
                             projection), from :func:`~mobilenet_lib.experiments.mobilenet_v3.bneck_costs`.
- :func:`plot_last_stage`    per-layer mult-adds and parameters of the original and the efficient
                             last stage.
- :func:`plot_search`        mult-adds against measured latency for a
                             :func:`~mobilenet_lib.experiments.mobilenet_v3.random_search`.

Pure functions returning a bare matplotlib ``Figure``; matplotlib is imported inside the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mobilenet_lib.experiments.mobilenet_v3 import BNECK_PARTS, bneck_costs
from mobilenet_lib.viz.style import KIND_COLORS, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mobilenet_lib.experiments.mobilenet_v3 import SearchResult

__all__ = [
    "plot_last_stage",
    "plot_search",
    "plot_bneck_costs",
]


def plot_bneck_costs(variant: str = "large", input_size: int = 224) -> Figure:
    """Stacked mult-adds of every bneck row by part; rows with h-swish shaded, SE rows marked."""
    from matplotlib.patches import Patch

    costs = bneck_costs(variant, input_size)
    fig = new_figure(8, 3.8)
    ax = fig.subplots()
    x = range(len(costs))
    bottom = [0.0] * len(costs)
    colors = {"expand": KIND_COLORS["pointwise"], "depthwise": KIND_COLORS["depthwise"],
              "se": KIND_COLORS["linear"], "project": "#ffbb78"}
    for part, _ in BNECK_PARTS:
        values = [getattr(c, part) / 1e6 for c in costs]
        ax.bar(x, values, bottom=bottom, color=colors[part], width=0.75)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    top = max(bottom)
    for c, b in zip(costs, bottom, strict=True):
        if c.activation == "HS":
            ax.axvspan(c.index - 0.5, c.index + 0.5, color="#d62728", alpha=0.07, lw=0)
        if c.use_se:
            ax.text(c.index, b + 0.02 * top, "SE", ha="center", fontsize=8)
    ax.set_xticks(list(x), [f"{c.index}: {c.expanded}@{c.size}²" for c in costs], rotation=40, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(costs) - 0.4)
    ax.set_ylim(0, top * 1.3)  # room for the legend above the bars
    ax.set_ylabel("mult-adds (millions)")
    ax.set_xlabel("bneck row: exp size @ map size")
    handles = [Patch(color=colors[p], label=p if p != "se" else "SE (FC layers)") for p, _ in BNECK_PARTS]
    handles.append(Patch(color="#d62728", alpha=0.15, label="h-swish rows"))
    ax.legend(handles=handles, fontsize=8, ncols=5, loc="upper center")
    total = sum(c.total for c in costs)
    ax.set_title(f"MobileNet V3-{variant.capitalize()} at {input_size}²: the bneck rows' {total / 1e6:.1f}M "
                 "mult-adds", fontsize=10)
    return fig


def plot_last_stage(kernel_size: int = 3) -> Figure:
    """Mult-adds (left) and parameters (right) of each layer of the two last stages, stacked.

    Counted with :func:`~mobilenet_lib.costs.layer_table` on the 7 × 7 × 160 map that leaves
    V3-Large's last bneck.
    """
    from mobilenet_lib.costs import layer_table
    from mobilenet_lib.experiments.mobilenet_v3 import (
        efficient_last_stage,
        original_last_stage,
    )

    stages = {
        "original": layer_table(original_last_stage(kernel_size=kernel_size), (1, 160, 7, 7)),
        "efficient": layer_table(efficient_last_stage(), (1, 160, 7, 7)),
    }
    fig = new_figure(8, 5.2)  # stacked: each panel gets the page's full width
    ax_m, ax_p = fig.subplots(2, 1)
    for ax, attr, unit in ((ax_m, "macs", "mult-adds"), (ax_p, "params", "parameters")):
        top = max(sum(getattr(r, attr) for r in t) for t in stages.values()) / 1e6
        for y, (name, table) in enumerate(stages.items()):
            left = 0.0
            for row in table:
                value = getattr(row, attr) / 1e6
                shape = "×".join(map(str, row.output_shape[1:]))
                ax.barh(y, value, left=left, color=KIND_COLORS[row.kind], edgecolor="white")
                if value > 0.12 * top:  # label only bars wide enough to hold it
                    ax.text(left + value / 2, y, shape, ha="center", va="center", fontsize=8)
                left += value
            ax.text(left, y, f"  {left:.2f}M", va="center", fontsize=9)
        ax.set_yticks([0, 1], list(stages))
        ax.set_ylim(-0.5, 1.9)  # room for the legend above the bars
        ax.set_xlabel(f"{unit} (millions)")
        ax.set_xlim(0, ax.get_xlim()[1] * 1.15)
    from matplotlib.patches import Patch

    kinds = sorted({row.kind for t in stages.values() for row in t})
    ax_m.legend(handles=[Patch(color=KIND_COLORS[k], label=k) for k in kinds], fontsize=8, loc="upper right")
    ax_m.set_title("mult-adds per layer (labels: output shape)", fontsize=10)
    ax_p.set_title("parameters per layer", fontsize=10)
    return fig


def plot_search(result: SearchResult, machine: str = "") -> Figure:
    """Mult-adds against measured latency for every candidate of a random search.

    The baseline (the paper's table) is a black square, the budget a dashed line, the pick a star.
    """
    everything = (result.baseline, *result.candidates)
    if any(c.timing is None for c in everything):
        raise ValueError("every candidate needs a measured latency (random_search measures them)")
    fig = new_figure(7.5, 4.2)
    ax = fig.subplots()
    lat = [c.latency_ms for c in result.candidates]
    macs = [c.macs / 1e6 for c in result.candidates]
    fits = [x <= result.budget_ms for x in lat]
    ax.scatter([x for x, f in zip(lat, fits) if f], [m for m, f in zip(macs, fits) if f],
               color="#2ca02c", label="within budget")
    ax.scatter([x for x, f in zip(lat, fits) if not f], [m for m, f in zip(macs, fits) if not f],
               color="#bbbbbb", label="over budget")
    ax.scatter([result.baseline.latency_ms], [result.baseline.macs / 1e6], marker="s", color="black",
               label="paper's table", zorder=3)
    if result.best is not None:
        ax.scatter([result.best.latency_ms], [result.best.macs / 1e6], marker="*", s=250,
                   facecolor="none", edgecolor="#d62728", lw=1.5, label="pick: most mult-adds", zorder=4)
    ax.axvline(result.budget_ms, color="black", ls="--", lw=1)
    ax.set_xlabel("measured latency (ms, median, batch 1)")
    ax.set_ylabel("mult-adds (millions)")
    title = f"rank correlation mult-adds vs latency: {result.macs_latency_correlation:.2f}"
    ax.set_title(f"{machine}\n{title}" if machine else title, fontsize=10)
    ax.legend(fontsize=8)
    return fig
