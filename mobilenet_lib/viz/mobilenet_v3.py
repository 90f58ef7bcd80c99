"""Tables and figures of the MobileNet V3 chapter.

- :func:`bneck_table`        the paper's Table 1 / Table 2, generated from the library's tables.
- :func:`plot_last_stage`    per-layer mult-adds and parameters of the original and the efficient
                             last stage (:mod:`mobilenet_lib.v3_redesign`).
- :func:`plot_search`        mult-adds against measured latency for a :func:`~mobilenet_lib.search.random_search`.
- :func:`bneck_costs`, :func:`plot_bneck_costs`  mult-adds of every bneck row by part (expansion,
                             depthwise, SE, projection), from the table and the cost formulas.

Pure functions returning a bare matplotlib ``Figure`` or a Markdown string; matplotlib is imported
inside the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from mobilenet_lib.viz.style import KIND_COLORS, markdown_table, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mobilenet_lib.search import SearchResult

__all__ = ["bneck_table", "plot_last_stage", "plot_search", "BneckCost", "bneck_costs", "plot_bneck_costs"]

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


def _v3_table(variant: str) -> tuple:
    from mobilenet_lib.models import mobilenet_v3 as v3

    tables = {"large": v3.MOBILENET_V3_LARGE_BNECK, "small": v3.MOBILENET_V3_SMALL_BNECK}
    if variant not in tables:
        raise ValueError(f"variant must be 'large' or 'small', got {variant!r}")
    return tables[variant]


def bneck_costs(variant: str = "large", input_size: int = 224) -> list[BneckCost]:
    """Mult-adds of every bneck row of MobileNet V3 at ``input_size``, by part.

    Computed from the architecture table with the cost formulas of :mod:`mobilenet_lib.costs`
    (no model is built): the expansion (absent when the exp size equals the input width), the
    depthwise convolution, the SE's two fully connected layers (bottleneck
    ``make_divisible(exp // 4, 8)``) and the projection. Batch norm and the SE's per-value scaling
    are not mult-adds, as in ``count_macs``.
    """
    from mobilenet_lib.blocks import make_divisible
    from mobilenet_lib.costs import conv_output_size, depthwise_conv_cost, pointwise_conv_cost
    from mobilenet_lib.models import mobilenet_v3 as v3

    table = _v3_table(variant)
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 32:
        raise ValueError(f"input_size must be an int >= 32, got {input_size!r}")
    size, channels = conv_output_size(input_size, 3, 2, 1), v3.MOBILENET_V3_STEM_CHANNELS
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
            ax.text(c.index, b + 0.02 * top, "SE", ha="center", fontsize=7)
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


def bneck_table(variant: str = "large", input_size: int = 224, num_classes: int = 1000) -> str:
    """The paper's architecture table as Markdown, one row per layer, from the library's table.

    Columns as in the paper: input (H² × C), operator, exp size, #out, SE, NL, s. "NBN" marks the
    two layers after pooling, which have no batch norm.
    """
    from mobilenet_lib.costs import conv_output_size
    from mobilenet_lib.models import mobilenet_v3 as v3

    tables = {
        "large": (v3.MOBILENET_V3_LARGE_BNECK, v3.MOBILENET_V3_LARGE_LAST_CHANNEL),
        "small": (v3.MOBILENET_V3_SMALL_BNECK, v3.MOBILENET_V3_SMALL_LAST_CHANNEL),
    }
    if variant not in tables:
        raise ValueError(f"variant must be 'large' or 'small', got {variant!r}")
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 32:
        raise ValueError(f"input_size must be an int >= 32, got {input_size!r}")
    bneck, last = tables[variant]
    stem = v3.MOBILENET_V3_STEM_CHANNELS
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


def plot_last_stage(kernel_size: int = 3) -> Figure:
    """Mult-adds (left) and parameters (right) of each layer of the two last stages, stacked.

    Counted with :func:`~mobilenet_lib.costs.layer_table` on the 7 × 7 × 160 map that leaves
    V3-Large's last bneck.
    """
    from mobilenet_lib.costs import layer_table
    from mobilenet_lib.v3_redesign import efficient_last_stage, original_last_stage

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
