"""Figures of the compression chapter: accuracy against what pruning removes, every route on one
cost axis, and what a temperature does to a teacher's probabilities.

Every function is a pure function of the committed results (``benchmarks/results/compression.json``,
read with :func:`mobilenet_lib.experiments.compression.load_compression_results`) and returns a
bare matplotlib ``Figure`` 6.7 inches wide, the book's text column, with no text under 8 points
(about 11 CSS px on the page). matplotlib is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from mobilenet_lib.validation import positive_float
from mobilenet_lib.viz.style import KIND_COLORS, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ROUTE_COLORS", "plot_pruning", "plot_temperature"]

#: One colour per compression route, shared by the figures.
ROUTE_COLORS: dict[str, str] = {
    "teacher": "#222222",
    "unstructured": KIND_COLORS["depthwise"],
    "channels": KIND_COLORS["pointwise"],
    "student": KIND_COLORS["group"],
    "int8": KIND_COLORS["linear"],
}

_WIDTH = 6.7  # inches: the text column (style.new_figure caps wider figures)


def _results(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise TypeError(f"payload must be the loaded results (a dict), got {type(payload).__name__}")
    r = payload.get("results", payload)
    missing = [k for k in ("teacher", "unstructured", "structured", "int8", "student") if k not in r]
    if missing:
        raise ValueError(f"payload is not a compression study: it lacks {missing}")
    return r


def plot_pruning(payload: Mapping[str, Any], norm: int = 2) -> Figure:
    """Left: test accuracy against the share removed, for global weight pruning and for channel
    pruning (L``norm``), before and after fine-tuning. Right: every route's accuracy against the
    mult-adds a dense kernel executes per image (log scale): weight pruning stays at the
    teacher's count however many zeros it makes; removed channels and a thinner student move left."""
    r = _results(payload)
    t = r["teacher"]
    unstructured = r["unstructured"]
    channels = [c for c in r["structured"] if c["norm"] == norm]
    if not channels:
        raise ValueError(f"the results hold no channel pruning with norm={norm!r}")
    fig = new_figure(_WIDTH, 3.3)
    left, right = fig.subplots(1, 2, width_ratios=(1.05, 1))
    cu, cc = ROUTE_COLORS["unstructured"], ROUTE_COLORS["channels"]

    xs = [0.0] + [100 * u["sparsity"] for u in unstructured]
    left.plot(xs, [100 * t["accuracy"]] + [100 * u["accuracy"] for u in unstructured], "o--", color=cu, mfc="white", ms=4, lw=1)
    left.plot(xs, [100 * t["accuracy"]] + [100 * u["finetuned_accuracy"] for u in unstructured], "o-", color=cu, ms=4, label="weights (global L1)")
    xc = [0.0] + [100 * c["fraction"] for c in channels]
    left.plot(xc, [100 * t["accuracy"]] + [100 * c["accuracy"] for c in channels], "s--", color=cc, mfc="white", ms=4, lw=1)
    left.plot(xc, [100 * t["accuracy"]] + [100 * c["finetuned_accuracy"] for c in channels], "s-", color=cc, ms=4, label=f"channels (L{norm})")
    left.plot([], [], "k--", mfc="white", marker="o", ms=4, lw=1, label="before fine-tuning")
    left.plot([], [], "k-", marker="o", ms=4, label="after fine-tuning")
    left.set_xlabel("share removed (%)")
    left.set_ylabel("test accuracy (%)")
    left.set_ylim(0, 100)
    left.set_title("accuracy as pruning removes more", fontsize=10)
    left.legend(fontsize=8, loc="center right", frameon=True, framealpha=0.9, edgecolor="none")

    m = 1e6
    right.scatter([t["mult_adds"] / m], [100 * t["accuracy"]], color=ROUTE_COLORS["teacher"], marker="*", s=90, zorder=3, label=f"teacher α = {t['alpha']:g}")
    right.scatter([u["mult_adds"] / m for u in unstructured], [100 * u["finetuned_accuracy"] for u in unstructured],
                  color=cu, marker="o", s=22, label="weight pruning", zorder=2)
    right.plot([c["mult_adds"] / m for c in channels], [100 * c["finetuned_accuracy"] for c in channels], "s-", color=cc, ms=4, label="channel pruning")
    right.scatter([r["int8"]["mult_adds"] / m], [100 * r["int8"]["accuracy"]], color=ROUTE_COLORS["int8"], marker="D", s=30, zorder=3, label="int8")
    s = r["student"]
    for key, marker, label in (("labels", "v", "student, labels"), ("distilled", "^", "student, distilled")):
        accs = [100 * run[f"{key}_accuracy"] for run in s["runs"]]
        mean = sum(accs) / len(accs)
        right.errorbar([s["mult_adds"] / m], [mean], yerr=[[mean - min(accs)], [max(accs) - mean]], color=ROUTE_COLORS["student"],
                       marker=marker, ms=6, mfc="white" if key == "labels" else ROUTE_COLORS["student"], capsize=2, lw=1, label=label, ls="none")
    right.set_xscale("log")
    from matplotlib.ticker import FixedLocator, NullFormatter

    ticks = [v for v in (0.25, 0.5, 1, 2, 4, 8) if 0.5 * min(c["mult_adds"] for c in channels) / m <= v <= 2 * t["mult_adds"] / m]
    right.xaxis.set_major_locator(FixedLocator(ticks))
    right.set_xticks(ticks, [f"{v:g}" for v in ticks])
    right.xaxis.set_minor_formatter(NullFormatter())
    right.set_xlabel("mult-adds per image (millions, log scale)")
    right.set_title("every route, by dense mult-adds", fontsize=10)
    low = min(100 * c["finetuned_accuracy"] for c in channels)
    right.set_ylim(max(0.0, math.floor(low / 10) * 10 - 5), 100)
    right.legend(fontsize=8, loc="center left", frameon=True, framealpha=0.9, edgecolor="none")
    for ax in (left, right):
        ax.tick_params(labelsize=9)
        ax.grid(alpha=0.3)
    return fig


def plot_temperature(logits: Sequence[float], temperatures: Sequence[float] = (1.0, 4.0), label: int | None = None) -> Figure:
    """The softmax of one image's ``logits`` at each temperature, one panel per temperature.

    At T = 1 a trained network puts nearly all its probability on one class; dividing the
    logits by a larger T softens them and shows which wrong classes the network finds closer
    (Hinton et al.'s "dark knowledge"). ``label``, if given, is marked.
    """
    z = torch.as_tensor(list(logits), dtype=torch.float64)
    if z.ndim != 1 or z.numel() < 2:
        raise ValueError(f"logits must be one image's scores, a flat sequence of at least 2, got shape {tuple(z.shape)}")
    temps = [positive_float(f"temperatures[{i}]", v) for i, v in enumerate(temperatures)]
    if not temps:
        raise ValueError("temperatures must hold at least one temperature")
    fig = new_figure(_WIDTH, 2.5)
    axes = fig.subplots(1, len(temps), sharey=True, squeeze=False)[0]
    classes = list(range(z.numel()))
    for ax, temp in zip(axes, temps):
        p = torch.softmax(z / temp, dim=0)
        colors = [ROUTE_COLORS["channels"] if c == label else ROUTE_COLORS["unstructured"] for c in classes]
        ax.bar(classes, p.tolist(), color=colors)
        ax.set_xticks(classes)
        ax.set_title(f"T = {temp:g}: largest wrong class {max(p[c].item() for c in classes if c != int(p.argmax())):.3f}", fontsize=10)
        ax.set_xlabel("class")
        ax.tick_params(labelsize=9)
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("probability")
    return fig
