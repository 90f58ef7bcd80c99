"""Figures, tables and the widget of the chapter "ShuffleNet: FLOPs are not latency".

Channel flow (ShuffleNet V1):

- :func:`channel_flow`         which input channels reach each output of two stacked pointwise group
                               convolutions, with or without :func:`~mobilenet_lib.blocks.channel_shuffle`
                               between them (measured on real modules)
- :func:`plot_channel_flow`    the two cases side by side, edges coloured by the input group they carry
- :func:`channel_shuffle_widget`  sliders for the group count and the channels per group

Measurements (read from the files the benchmark scripts write):

- :func:`latency_rows`, :func:`plot_latency_vs_macs`, :func:`plot_achieved_gflops`
- :func:`guideline_runs`, :func:`plot_guideline`
- :class:`HTMLTable` / :func:`html_table`: a small table that renders in notebooks and on the page

matplotlib and ipywidgets are imported inside the functions.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from mobilenet_lib.blocks import channel_shuffle
from mobilenet_lib.viz.style import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mobilenet_lib.guidelines import GuidelineResult

__all__ = [
    "MAX_GROUPS",
    "MAX_PER_GROUP",
    "channel_flow",
    "plot_channel_flow",
    "channel_shuffle_widget",
    "HTMLTable",
    "html_table",
    "latency_rows",
    "plot_latency_vs_macs",
    "plot_achieved_gflops",
    "guideline_runs",
    "plot_guideline",
]

#: Widget ranges (the picture stays readable up to 6 groups of 4 channels).
MAX_GROUPS = 6
MAX_PER_GROUP = 4

_GROUP_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")

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


def _int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < lo or (hi is not None and value > hi):
        allowed = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------------------------
# Channel flow through two pointwise group convolutions
# --------------------------------------------------------------------------------------------


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
    groups = _int("groups", groups, 1)
    per_group = _int("per_group", per_group, 1)
    c = groups * per_group
    first, second = _ones_gconv(c, groups), _ones_gconv(c, groups)
    with torch.no_grad():
        x = torch.eye(c).reshape(c, c, 1, 1)
        h = first(x)
        if shuffle:
            h = channel_shuffle(h, groups)
        y = second(h)[:, :, 0, 0]
    return (y != 0).T.contiguous()


def _flow_panel(ax: Any, groups: int, per_group: int, shuffle: bool) -> int:
    """Draw one case; return how many input groups the first output channel sees."""
    from matplotlib.collections import LineCollection

    c = groups * per_group
    ys = [1 - (i + 0.5) / c for i in range(c)]
    xs = (0.0, 1.0, 1.7, 2.7)  # input, after GConv1, after shuffle, after GConv2
    # what each channel carries, as a set of input groups, stage by stage
    carried = [{i // per_group} for i in range(c)]
    segments, colors = [], []

    def gconv(x0: float, x1: float, sources: list[set[int]]) -> list[set[int]]:
        out = []
        for j in range(c):
            g = j // per_group
            got: set[int] = set()
            for i in range(g * per_group, (g + 1) * per_group):
                for src in sorted(sources[i]):
                    segments.append([(x0, ys[i]), (x1, ys[j])])
                    colors.append(_GROUP_COLORS[src % len(_GROUP_COLORS)])
                got |= sources[i]
            out.append(got)
        return out

    after1 = gconv(xs[0], xs[1], carried)
    # the permutation: channel_shuffle of the channel indices themselves
    order = channel_shuffle(torch.arange(c, dtype=torch.float32).reshape(1, c, 1, 1), groups).flatten().long().tolist()
    if not shuffle:
        order = list(range(c))
    after_shuffle = []
    for new, old in enumerate(order):
        for src in sorted(after1[old]):
            segments.append([(xs[1], ys[old]), (xs[2], ys[new])])
            colors.append(_GROUP_COLORS[src % len(_GROUP_COLORS)])
        after_shuffle.append(after1[old])
    final = gconv(xs[2], xs[3], after_shuffle)

    ax.add_collection(LineCollection(segments, colors=colors, linewidths=1.0, alpha=0.55))
    for x, stage in zip(xs, (carried, after1, after_shuffle, final)):
        dots = [_GROUP_COLORS[min(s) % len(_GROUP_COLORS)] if len(s) == 1 else "white" for s in stage]
        ax.scatter([x] * c, ys, s=36, c=dots, edgecolors="black", linewidths=0.6, zorder=3)
    for x, label in zip(xs, ("input", "GConv 1", "shuffle" if shuffle else "(no shuffle)", "GConv 2")):
        ax.text(x, 1.02, label, ha="center", va="bottom", fontsize=9)
    ax.set_xlim(-0.2, 2.9)
    ax.set_ylim(-0.03, 1.1)
    ax.axis("off")
    return len(final[0])


def plot_channel_flow(groups: int = 3, per_group: int = 2) -> Figure:
    """Two stacked 1×1 group convolutions, without (left) and with (right) a channel shuffle.

    Every edge is coloured by the input group whose information it carries; a filled dot carries
    one group only, a white dot a mix. Without the shuffle each output group is a closed world;
    with it, every output sees every input group after two layers.
    """
    groups = _int("groups", groups, 1, MAX_GROUPS)
    per_group = _int("per_group", per_group, 1, MAX_PER_GROUP)
    fig = new_figure(11.0, 0.35 * groups * per_group + 1.9)
    axes = fig.subplots(1, 2)
    for ax, shuffle in zip(axes, (False, True)):
        seen = _flow_panel(ax, groups, per_group, shuffle)
        ax.set_title(
            f"{'with' if shuffle else 'without'} channel shuffle: each output sees {seen} of {groups} input group"
            f"{'s' if groups != 1 else ''}",
            fontsize=10,
        )
    fig.suptitle(f"{groups} groups of {per_group} channels", fontsize=11)
    return fig


def channel_shuffle_widget(groups: int = 3, per_group: int = 2) -> Any:
    """Sliders for the group count g (1-6) and the channels per group (1-4) around :func:`plot_channel_flow`."""
    import ipywidgets as widgets
    from IPython.display import display

    g = widgets.IntSlider(value=_int("groups", groups, 1, MAX_GROUPS), min=1, max=MAX_GROUPS, description="groups g")
    n = widgets.IntSlider(
        value=_int("per_group", per_group, 1, MAX_PER_GROUP), min=1, max=MAX_PER_GROUP, description="per group"
    )
    out = widgets.Output()

    def redraw(*_: Any) -> None:
        with out:
            out.clear_output(wait=True)
            display(plot_channel_flow(g.value, n.value))

    g.observe(redraw, names="value")
    n.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([g, n]), out])


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


class HTMLTable:
    """A table that a notebook shows as HTML (and as plain text in a terminal)."""

    def __init__(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], caption: str = "") -> None:
        if not columns:
            raise ValueError("columns must name at least one (key, title) pair")
        for r in rows:
            missing = [k for k, _ in columns if k not in r]
            if missing:
                raise ValueError(f"row {dict(r)!r} has no value for the column(s) {missing}")
        self.rows = [dict(r) for r in rows]
        self.columns = list(columns)
        self.caption = caption

    @staticmethod
    def _cell(v: Any) -> str:
        if v is None:
            return "–"
        if isinstance(v, bool):
            return str(v)
        if isinstance(v, Integral):
            return f"{int(v):,}"
        if isinstance(v, Real):
            return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"
        return str(v)

    def _numeric(self, key: str) -> bool:
        return all(isinstance(r[key], Real) or r[key] is None for r in self.rows)

    def _repr_html_(self) -> str:
        align = {k: "right" if self._numeric(k) else "left" for k, _ in self.columns}
        head = "".join(f'<th style="text-align:{align[k]}">{html.escape(t)}</th>' for k, t in self.columns)
        body = "".join(
            "<tr>" + "".join(f'<td style="text-align:{align[k]}">{html.escape(self._cell(r[k]))}</td>' for k, _ in self.columns) + "</tr>"
            for r in self.rows
        )
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        widths = [
            max(len(t), *(len(self._cell(r[k])) for r in self.rows)) if self.rows else len(t) for k, t in self.columns
        ]
        lines = ["  ".join(t.ljust(w) for (_, t), w in zip(self.columns, widths))]
        for r in self.rows:
            lines.append("  ".join(self._cell(r[k]).rjust(w) for (k, _), w in zip(self.columns, widths)))
        return (self.caption + "\n" if self.caption else "") + "\n".join(lines)


def html_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], caption: str = "") -> HTMLTable:
    """:class:`HTMLTable` of ``rows`` (dicts) with ``columns`` as (key, title) pairs."""
    return HTMLTable(rows, columns, caption)


# --------------------------------------------------------------------------------------------
# Latency of the model family (benchmarks/latency.py's results)
# --------------------------------------------------------------------------------------------


def _latency_payload(payload: Mapping[str, Any]) -> tuple[list[Any], float, list[int]]:
    from mobilenet_lib.benchmark import ModelLatency

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
    models, peak, batches = _latency_payload(payload)
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


def plot_latency_vs_macs(payload: Mapping[str, Any]) -> Figure:
    """Measured ms per image against mult-adds, one panel per batch size, log-log axes.

    If time were proportional to mult-adds every point would sit on one line of slope 1; the
    dotted line through ResNet-18 (or the largest model) shows where that would put them.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    models, _, batches = _latency_payload(payload)
    fig = new_figure(5.2 * len(batches), 4.4)
    axes = fig.subplots(1, len(batches), squeeze=False)[0]
    anchor = next((m for m in models if m.name == "resnet18"), max(models, key=lambda m: m.macs))
    for ax, b in zip(axes, batches):
        for k, m in enumerate(models):
            family = m.name.split("_")[0]
            marker = {"mobilenet": "o", "shufflenet": "s", "resnet18": "D"}.get(family, "^")
            ax.scatter(m.macs / 1e6, m.ms_per_image(b), s=42, marker=marker, color=f"C{k % 10}", zorder=3)
            ax.annotate(DISPLAY_NAMES.get(m.name, m.name), (m.macs / 1e6, m.ms_per_image(b)), fontsize=7.5,
                        xytext=(4, 3), textcoords="offset points")
        lo = min(m.macs for m in models) / 1e6 / 1.5
        hi = max(m.macs for m in models) / 1e6 * 1.5
        slope = anchor.ms_per_image(b) / (anchor.macs / 1e6)
        ax.plot([lo, hi], [slope * lo, slope * hi], ":", color="gray", lw=1,
                label=f"time ∝ mult-adds (through {DISPLAY_NAMES.get(anchor.name, anchor.name)})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):  # plain numbers (20, 50, 100), not 2×10¹
            axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("mult-adds per image (millions)")
        ax.set_ylabel("ms per image (median)")
        ax.set_title(f"batch {b}", fontsize=10)
        ax.legend(fontsize=7.5, loc="lower right")
        ax.grid(True, which="both", alpha=0.25)
    return fig


def plot_achieved_gflops(payload: Mapping[str, Any]) -> Figure:
    """GFLOP/s each model reaches (2·mult-adds / time) at each batch size, against the matmul peak."""
    models, peak, batches = _latency_payload(payload)
    fig = new_figure(8.5, 0.42 * len(models) + 1.6)
    ax = fig.add_subplot()
    height = 0.8 / len(batches)
    names = [DISPLAY_NAMES.get(m.name, m.name) for m in models]
    for k, b in enumerate(batches):
        ys = [i + (k - (len(batches) - 1) / 2) * height for i in range(len(models))]
        ax.barh(ys, [m.gflops(b) for m in models], height=height, label=f"batch {b}", color=f"C{k}")
    ax.axvline(peak, color="black", ls="--", lw=1)
    ax.text(peak, len(models) - 0.4, f" large matmul: {peak:.0f} GFLOP/s", fontsize=8, va="bottom", ha="right")
    ax.set_yticks(range(len(models)), names, fontsize=8.5)
    ax.invert_yaxis()
    ax.set_xlabel("achieved GFLOP/s (2 × mult-adds / median time)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, axis="x", alpha=0.25)
    return fig


# --------------------------------------------------------------------------------------------
# The guideline experiments (benchmarks/guidelines.py's results)
# --------------------------------------------------------------------------------------------


def guideline_runs(payload: Mapping[str, Any], guideline: str, width: int | None = None) -> dict[int, list[GuidelineResult]]:
    """``threads -> results`` for one guideline (and width; default: the largest measured)."""
    from mobilenet_lib.guidelines import GuidelineResult

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


def plot_guideline(runs: Mapping[int, Sequence[GuidelineResult]]) -> Figure:
    """Relative speed of each variant: measured here (one bar per thread count) beside the paper's.

    Speeds are relative to the experiment's first variant (1 = as fast; below 1 = slower). The
    right panel shows the variants' memory access cost relative to the first, the quantity the
    guideline reasons with.
    """
    from mobilenet_lib.guidelines import PAPER_TABLES, relative_speeds

    if not runs:
        raise ValueError("runs must map at least one thread count to results")
    first = next(iter(runs.values()))
    guideline = first[0].guideline
    paper = PAPER_TABLES[guideline]
    names = [r.name for r in first]
    series: list[tuple[str, list[float], str]] = []
    for k, (t, results) in enumerate(sorted(runs.items())):
        series.append((f"this CPU, {t} thread{'s' if t != 1 else ''}", relative_speeds(results), f"C{k}"))
    series.append(("paper: GPU", list(paper.relative("gpu")), "#bbbbbb"))
    series.append(("paper: ARM", list(paper.relative("arm")), "#777777"))

    fig = new_figure(11.0, 3.9)
    ax, ax2 = fig.subplots(1, 2, width_ratios=(2.2, 1))
    width = 0.8 / len(series)
    for k, (label, speeds, color) in enumerate(series):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(names))]
        ax.bar(xs, speeds, width=width, label=label, color=color)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xticks(range(len(names)), names, fontsize=8.5)
    ax.set_ylabel(f"speed relative to {names[0]}")
    ax.legend(fontsize=7.5, ncols=2)
    ax.grid(True, axis="y", alpha=0.25)
    ax.set_title(f"{guideline}: measured speed beside the paper's (Table {paper.table})", fontsize=10)
    mac = [r.memory_access_cost / first[0].memory_access_cost for r in first]
    macs = [r.macs / first[0].macs for r in first]
    ax2.plot(range(len(names)), mac, "o-", label="memory access cost")
    ax2.plot(range(len(names)), macs, "s--", label="mult-adds")
    ax2.set_xticks(range(len(names)), names, fontsize=7.5, rotation=20)
    ax2.set_ylabel(f"relative to {names[0]}")
    ax2.legend(fontsize=7.5)
    ax2.grid(True, alpha=0.25)
    ax2.set_title("what the variants cost on paper", fontsize=10)
    return fig
