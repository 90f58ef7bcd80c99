"""The figure of ``book/accuracy_vs_cost.ipynb``: published ImageNet top-1 against mult-adds
(counted by the library) and against latency (measured, from the committed results file), one
point per network, one colour per family, the Pareto front dashed.

The rows are :func:`mobilenet_lib.experiments.accuracy_vs_cost.accuracy_rows`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mobilenet_lib.viz.style import MIN_FONT_PT, label_points, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SHORT_LABELS", "plot_accuracy_vs_cost"]

_FONT = max(MIN_FONT_PT, 8.0)

#: Short point labels (the table beside the figure has the full names).
SHORT_LABELS: dict[str, str] = {
    "mobilenet_v1": "MN1",
    "mobilenet_v2": "MN2",
    "mobilenet_v3_large": "MN3-L",
    "mobilenet_v3_small": "MN3-S",
    "shufflenet_v1_g3": "SN1 g3",
    "shufflenet_v1_g8": "SN1 g8",
    "shufflenet_v1_g3_x0_5": "SN1 0.5x",
    "shufflenet_v2_x0_5": "SN2 0.5x",
    "shufflenet_v2_x1_0": "SN2 1x",
    "shufflenet_v2_x1_5": "SN2 1.5x",
    "shufflenet_v2_x2_0": "SN2 2x",
    "resnet18": "R18",
    "resnet50": "R50",
}

def _plain_log_ticks(ax: Any, values: Sequence[float]) -> None:
    """Ticks at 1, 2, 5 times the powers of ten inside the data's range, written plainly."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    lo, hi = min(values), max(values)
    ticks = [m * 10**e for e in range(-1, 6) for m in (1, 2, 5) if lo / 1.3 <= m * 10**e <= hi * 1.3]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot_accuracy_vs_cost(
    rows: Sequence[Mapping[str, Any]],
    families: Mapping[str, str],
    fronts: Mapping[str, Sequence[str]] | None = None,
    latency_label: str = "measured ms per image, batch 1",
) -> Figure:
    """Two panels: top-1 (%) against mult-adds (log scale) and against measured ms per image
    (log scale). ``families`` maps a family to its colour (the legend's order); ``fronts`` maps
    ``"macs"`` / ``"ms"`` to the names on the Pareto front (drawn dashed)."""
    if not rows:
        raise ValueError("rows is empty: pass accuracy_rows(...)")
    unknown = sorted({r["family"] for r in rows} - set(families))
    if unknown:
        raise ValueError(f"no colour for the families {unknown}")
    fronts = fronts or {}
    fig = new_figure(7.0, 3.4)
    axes = fig.subplots(1, 2, sharey=True)
    by_name = {r["name"]: r for r in rows}
    for ax, key, xlabel in ((axes[0], "macs_m", "mult-adds per image (millions, log scale)"),
                            (axes[1], "ms", latency_label + " (log scale)")):
        for family, color in families.items():
            pts = sorted((r for r in rows if r["family"] == family), key=lambda r: r[key])
            if not pts:
                continue
            ax.plot([r[key] for r in pts], [r["top1"] for r in pts], "o-", color=color, ms=4.5, lw=0.8,
                    label=family, alpha=0.9)
        front = fronts.get("macs" if key == "macs_m" else "ms", ())
        if front:
            ax.plot([by_name[n][key] for n in front], [by_name[n]["top1"] for n in front], "--", color="#222222",
                    lw=0.8, zorder=0)
        ax.set_xscale("log")
        _plain_log_ticks(ax, [r[key] for r in rows])
        ax.set_xlabel(xlabel)
        ax.grid(True, which="major", lw=0.4, color="#dddddd")
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_ylabel("published ImageNet top-1 (%)")
    axes[0].legend(loc="lower right", fontsize=_FONT, frameon=False)
    fig.get_layout_engine().execute(fig)  # final axes positions before the labels are placed
    for ax, key in ((axes[0], "macs_m"), (axes[1], "ms")):
        label_points(ax, [r[key] for r in rows], [r["top1"] for r in rows],
                     [SHORT_LABELS.get(r["name"], r["name"]) for r in rows], fontsize=_FONT)
    return fig
