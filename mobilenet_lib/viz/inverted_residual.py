"""Figures, tables and the block widget of the "inverted residuals and linear bottlenecks" chapter.

Data first, drawing second: :func:`inverted_residual_anatomy` and :func:`bottleneck_anatomy`
measure a block (shapes, parameters and mult-adds per layer from :func:`mobilenet_lib.costs.layer_table`,
peak activation memory from :func:`mobilenet_lib.memory.activation_memory`), and the plotting
functions draw those numbers. Blocks are built on PyTorch's ``meta`` device, where only shapes are
computed, so a measurement takes milliseconds even for wide blocks at high resolution.

Every plotting function is a pure function of its parameters returning a bare matplotlib
``Figure``; the widget is a thin ipywidgets wrapper around :func:`plot_block`. matplotlib and
ipywidgets are imported inside the functions.
"""

from __future__ import annotations

import html
import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from mobilenet_lib.blocks import Bottleneck, InvertedResidual
from mobilenet_lib.costs import count_macs, count_params, layer_table
from mobilenet_lib.memory import ActivationMemory, activation_memory
from mobilenet_lib.viz.style import new_figure

if TYPE_CHECKING:  # imported lazily at run time
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "BlockLayer",
    "BlockAnatomy",
    "inverted_residual_anatomy",
    "bottleneck_anatomy",
    "plot_block",
    "plot_block_comparison",
    "block_widget",
    "WIDGET_CHANNELS",
    "WIDGET_RESOLUTIONS",
    "ArchitectureRow",
    "ArchitectureTable",
    "architecture_table",
    "plot_memory_traces",
    "AblationPoint",
    "load_ablation",
    "summarize_ablation",
    "plot_ablation",
]

# --------------------------------------------------------------------------------------------
# Measuring one block
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockLayer:
    """One convolution of a block (with its batch norm): shapes are (channels, height, width)."""

    name: str
    operator: str
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int]
    params: int  # convolution weights + the batch norm's scale and shift
    macs: int


@dataclass(frozen=True)
class BlockAnatomy:
    """A block measured at one input size (batch 1).

    ``params`` counts every parameter (batch norm included) and equals the sum over ``layers``;
    ``macs`` are the mult-adds of the convolutions (as ``count_macs``); ``memory`` is the block's
    :class:`~mobilenet_lib.memory.ActivationMemory` (float32), whose ``peak_bytes`` is the peak
    activation memory.
    """

    kind: str
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int]
    layers: tuple[BlockLayer, ...]
    shortcut: str  # "identity", "projection" (ResNet's 1x1 downsample) or "none"
    params: int
    macs: int
    memory: ActivationMemory

    @property
    def peak_bytes(self) -> int:
        return self.memory.peak_bytes


def _check(name: str, value: Any, low: int = 1, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")
    return value


def _measure(kind: str, block: nn.Module, input_shape: tuple[int, int, int], operators: Mapping[str, str],
             shortcut: str) -> BlockAnatomy:
    """``operators`` maps each convolution's module name to its label, in display order."""
    size = (1, *input_shape)
    memory = activation_memory(block, size)
    # Each convolution is followed by its own batch norm: pair them in execution order.
    modules = dict(block.named_modules())
    order = [s.module for s in memory.steps if isinstance(modules.get(s.module), (nn.Conv2d, nn.BatchNorm2d))]
    norm_of = {conv: bn for conv, bn in zip(order[::2], order[1::2])}
    table = layer_table(block, size)
    rows = {row.name: row for row in table}
    if set(rows) != set(operators) or set(norm_of) != set(operators):
        raise AssertionError(f"{kind}: expected convolutions {sorted(operators)}, found {sorted(rows)}")
    layers = []
    for name, operator in operators.items():
        row, norm = rows[name], modules[norm_of[name]]
        layers.append(
            BlockLayer(
                name=name,
                operator=operator,
                input_shape=tuple(row.input_shape[1:]),  # type: ignore[arg-type]
                output_shape=tuple(row.output_shape[1:]),  # type: ignore[arg-type]
                params=row.params + norm.weight.numel() + norm.bias.numel(),
                macs=row.macs,
            )
        )
    main = [layer for name, layer in zip(operators, layers) if not name.startswith("downsample")]
    return BlockAnatomy(
        kind=kind,
        input_shape=input_shape,
        output_shape=main[-1].output_shape,
        layers=tuple(layers),
        shortcut=shortcut,
        params=count_params(block),
        macs=table.total_macs,  # equals count_macs for these blocks (tested), without a third pass
        memory=memory,
    )


def inverted_residual_anatomy(
    in_ch: int = 24, out_ch: int = 24, expansion: int = 6, stride: int = 1, resolution: int = 56
) -> BlockAnatomy:
    """Measure MobileNet V2's block (:class:`~mobilenet_lib.blocks.InvertedResidual`, ReLU6) on
    a ``resolution`` x ``resolution`` input with ``in_ch`` channels.

    Raises:
        ValueError: on a non-positive size, an expansion outside 1..10, a stride other than 1
            or 2, or a resolution outside 1..512.
    """
    in_ch, out_ch = _check("in_ch", in_ch, 1, 4096), _check("out_ch", out_ch, 1, 4096)
    expansion = _check("expansion", expansion, 1, 10)
    resolution = _check("resolution", resolution, 1, 512)
    if stride not in (1, 2) or isinstance(stride, bool):
        raise ValueError(f"stride must be 1 or 2, got {stride!r}")
    with torch.device("meta"):
        block = InvertedResidual(in_ch, out_ch, stride, expansion)
    names = [f"conv.{i}" for i in range(len(block.conv))]
    labels = ["1×1 conv, ReLU6"] if expansion != 1 else []
    labels += [f"3×3 depthwise{', stride 2' if stride == 2 else ''}, ReLU6", "1×1 conv, linear"]
    # V2 layout: [expand unit?, depthwise unit, bare Conv2d, BatchNorm2d]
    convs = [f"{name}.0" for name in names[:-2]] + [names[-2]]
    operators = dict(zip(convs, labels))
    return _measure("MobileNet V2 inverted residual", block, (in_ch, resolution, resolution), operators,
                    "identity" if block.use_res_connect else "none")


def bottleneck_anatomy(in_ch: int = 256, planes: int = 64, stride: int = 1, resolution: int = 56) -> BlockAnatomy:
    """Measure ResNet-50's bottleneck (:class:`~mobilenet_lib.blocks.Bottleneck`: 1x1 reduce to
    ``planes``, 3x3, 1x1 expand to ``4 * planes``, ReLU) on a ``resolution``-square input."""
    in_ch, planes = _check("in_ch", in_ch, 1, 4096), _check("planes", planes, 1, 4096)
    resolution = _check("resolution", resolution, 1, 512)
    if stride not in (1, 2) or isinstance(stride, bool):
        raise ValueError(f"stride must be 1 or 2, got {stride!r}")
    with torch.device("meta"):
        block = Bottleneck(in_ch, planes, stride)
    operators = {
        "conv1": "1×1 conv, ReLU",
        "conv2": f"3×3 conv{', stride 2' if stride == 2 else ''}, ReLU",
        "conv3": "1×1 conv, ReLU after +",
    }
    if block.downsample is not None:
        operators["downsample.0"] = "1×1 conv shortcut"
    return _measure("ResNet bottleneck", block, (in_ch, resolution, resolution), operators,
                    "projection" if block.downsample is not None else "identity")


# --------------------------------------------------------------------------------------------
# Drawing a block
# --------------------------------------------------------------------------------------------

#: Channel counts the widget offers (MobileNet V2's widths) and input resolutions.
WIDGET_CHANNELS = (16, 24, 32, 64, 96, 160, 320)
WIDGET_RESOLUTIONS = (7, 14, 28, 56, 112)

_NARROW, _WIDE = "#4C72B0", "#DD8452"


def _human(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.2f}{unit}"
    return f"{x:g}"


def _kib(n_bytes: int) -> str:
    return f"{n_bytes / 1024:,.0f} KiB"


def _draw_chain(ax: Axes, anatomy: BlockAnatomy, max_channels: int, title: str) -> None:
    """Tensors as boxes (height ∝ channels, width ∝ spatial size), convolutions as arrows."""
    from matplotlib.patches import FancyArrowPatch, Rectangle

    main = [layer for layer in anatomy.layers if not layer.name.startswith("downsample")]
    tensors = [main[0].input_shape] + [layer.output_shape for layer in main]
    narrowest = min(t[0] for t in tensors)
    spacing, box_height = 3.4, 3.0
    max_hw = max(t[1] for t in tensors)
    for i, (c, h, w) in enumerate(tensors):
        x = i * spacing
        height = max(0.06, box_height * c / max_channels)
        width = 0.25 + 0.75 * h / max_hw
        color = _WIDE if c >= 2 * narrowest else _NARROW
        ax.add_patch(Rectangle((x - width / 2, -height / 2), width, height, color=color, alpha=0.85))
        ax.text(x, -box_height / 2 - 0.25, f"{h}×{w}×{c}", ha="center", va="top", fontsize=10.5)
    for i, layer in enumerate(main):
        x0, x1 = i * spacing + 0.55, (i + 1) * spacing - 0.55
        ax.add_patch(FancyArrowPatch((x0, 0), (x1, 0), arrowstyle="-|>", mutation_scale=12, color="0.3"))
        ax.text((x0 + x1) / 2, 0.18, layer.operator.replace(", ", "\n", 1), ha="center", va="bottom",
                fontsize=10, linespacing=1.1)
        ax.text((x0 + x1) / 2, -0.18, f"{_human(layer.params)} params\n{_human(layer.macs)} mult-adds",
                ha="center", va="top", fontsize=9.5, color="0.35")
    end = (len(tensors) - 1) * spacing
    top = box_height / 2 + 0.35
    if anatomy.shortcut != "none":
        label = "+ identity shortcut" if anatomy.shortcut == "identity" else "+ 1×1 conv shortcut"
        # A bracket over the chain: up from the input, across, down into the output.
        rail = top + 0.3
        ax.plot([0, 0, end], [top - 0.25, rail, rail], color="0.45", linestyle="--", linewidth=1.2)
        ax.add_patch(FancyArrowPatch((end, rail), (end, top - 0.25), arrowstyle="-|>", mutation_scale=12,
                                     color="0.45", linestyle="--", linewidth=1.2))
        ax.text(end / 2, rail + 0.08, label, ha="center", va="bottom", fontsize=10, color="0.3")
    ax.set_xlim(-1.0, end + 1.0)
    ax.set_ylim(-box_height / 2 - 1.1, top + 1.0)
    ax.set_title(title, fontsize=12)
    ax.axis("off")


def _summary(anatomy: BlockAnatomy) -> str:
    c, h, w = anatomy.output_shape
    peak = anatomy.memory.peak
    held = " + ".join(f"{s[2]}×{s[3]}×{s[1]}" for s in peak.live_shapes)  # (N, C, H, W) -> H×W×C
    return (
        f"output {h}×{w}×{c} · {anatomy.params:,} params · {anatomy.macs:,} mult-adds · "
        f"peak activation memory {_kib(anatomy.peak_bytes)} ({held})"
    )


def plot_block(
    in_ch: int = 24, out_ch: int = 24, expansion: int = 6, stride: int = 1, resolution: int = 56
) -> Figure:
    """The inverted residual's anatomy for one setting: each tensor, each convolution's params
    and mult-adds, the shortcut if there is one, and the block's totals and peak memory."""
    anatomy = inverted_residual_anatomy(in_ch, out_ch, expansion, stride, resolution)
    fig = new_figure(9.5, 3.3)
    ax = fig.subplots()
    max_channels = max(layer.output_shape[0] for layer in anatomy.layers) if anatomy.layers else in_ch
    max_channels = max(max_channels, in_ch)
    shortcut = "shortcut: yes" if anatomy.shortcut == "identity" else (
        "no shortcut: stride 2" if stride == 2 else "no shortcut: in ≠ out channels")
    _draw_chain(ax, anatomy, max_channels, f"Inverted residual, t = {expansion} ({shortcut})")
    fig.text(0.5, 0.01, _summary(anatomy), ha="center", va="bottom", fontsize=10)
    return fig


def plot_block_comparison(resolution: int = 56) -> Figure:
    """ResNet-50's bottleneck (256 → 64 → 64 → 256) above MobileNet V2's inverted residual
    (24 → 144 → 144 → 24), both at ``resolution``, drawn to the same channel scale."""
    resnet = bottleneck_anatomy(256, 64, 1, resolution)
    v2 = inverted_residual_anatomy(24, 24, 6, 1, resolution)
    fig = new_figure(9.5, 6.6)
    top, bottom = fig.subplots(2, 1)
    scale = 256
    _draw_chain(top, resnet, scale, "ResNet bottleneck: wide → narrow → wide (shortcut joins the wide tensors)")
    _draw_chain(bottom, v2, scale, "Inverted residual: narrow → wide → narrow (shortcut joins the narrow tensors)")
    for ax, anatomy in ((top, resnet), (bottom, v2)):
        ax.text(0.5, -0.02, _summary(anatomy), transform=ax.transAxes, ha="center", va="top", fontsize=8.5)
    return fig


def block_widget(
    in_ch: int = 24, out_ch: int = 24, expansion: int = 6, stride: int = 1, resolution: int = 56
) -> Any:
    """Menus for input and output channels and the resolution, sliders for the expansion and the
    stride; :func:`plot_block` redraws on every change. Returns the ipywidgets container."""
    import ipywidgets as widgets
    from IPython.display import display

    inverted_residual_anatomy(in_ch, out_ch, expansion, stride, resolution)  # validate up front
    controls = {
        "in_ch": widgets.Dropdown(options=sorted({*WIDGET_CHANNELS, in_ch}), value=in_ch, description="in channels"),
        "out_ch": widgets.Dropdown(options=sorted({*WIDGET_CHANNELS, out_ch}), value=out_ch, description="out channels"),
        "expansion": widgets.IntSlider(value=expansion, min=1, max=10, description="expansion t"),
        "stride": widgets.Dropdown(options=[1, 2], value=stride, description="stride"),
        "resolution": widgets.Dropdown(options=sorted({*WIDGET_RESOLUTIONS, resolution}), value=resolution,
                                       description="resolution"),
    }
    for control in controls.values():
        control.style.description_width = "initial"
    output = widgets.interactive_output(lambda **kw: display(plot_block(**kw)), controls)
    rows = [widgets.HBox([controls["in_ch"], controls["out_ch"], controls["resolution"]]),
            widgets.HBox([controls["expansion"], controls["stride"]])]
    return widgets.VBox([*rows, output])


# --------------------------------------------------------------------------------------------
# The whole network as a table (the paper's Table 2, measured)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchitectureRow:
    """One line of the architecture table: the input (h, w, c), the operator, the paper's t, c,
    n, s (``None`` where the paper prints "-"), and what the line's layers measure here."""

    input_shape: tuple[int, int, int]
    operator: str
    t: int | None
    c: int
    n: int
    s: int | None
    params: int
    macs: int


class ArchitectureTable:
    """MobileNet V2 as the paper's Table 2 plus measured params and mult-adds per line.

    ``params`` / ``macs`` are the whole model's (``count_params`` / ``count_macs``); each equals
    the sum of its column. Shows as an HTML table in a notebook; ``to_markdown()`` for text.
    """

    def __init__(self, rows: Sequence[ArchitectureRow], params: int, macs: int, resolution: int) -> None:
        self.rows = tuple(rows)
        self.params = params
        self.macs = macs
        self.resolution = resolution

    def _cells(self) -> list[list[str]]:
        out = []
        for r in self.rows:
            out.append([
                "{}²×{}".format(r.input_shape[0], r.input_shape[2]) if r.input_shape[0] == r.input_shape[1]
                else "×".join(map(str, r.input_shape)),
                r.operator,
                "–" if r.t is None else str(r.t),
                str(r.c),
                str(r.n),
                "–" if r.s is None else str(r.s),
                f"{r.params:,}",
                f"{r.macs / 1e6:.2f}M",
            ])
        out.append(["", "total", "", "", "", "", f"{self.params:,}", f"{self.macs / 1e6:.2f}M"])
        return out

    _HEAD = ("input", "operator", "t", "c", "n", "s", "params", "mult-adds")

    def to_markdown(self) -> str:
        lines = ["| " + " | ".join(self._HEAD) + " |", "|---|---|--:|--:|--:|--:|--:|--:|"]
        lines += ["| " + " | ".join(row) + " |" for row in self._cells()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._HEAD)
        body = "".join(
            "<tr>" + "".join(
                f'<td style="text-align:{"left" if j < 2 else "right"}">{html.escape(cell)}</td>'
                for j, cell in enumerate(row)) + "</tr>"
            for row in self._cells()
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        return f"ArchitectureTable({len(self.rows)} rows, params={self.params:,}, macs={self.macs:,})"


def architecture_table(model: nn.Module | None = None, resolution: int = 224) -> ArchitectureTable:
    """The table of a :class:`~mobilenet_lib.models.mobilenet_v2.MobileNetV2` (default: the
    standard 1.0 model with 1000 classes) at ``resolution``, generated from the model itself:
    one line for the stem, one per ``(t, c, n, s)`` stage, the 1x1 head conv, the pooling and the
    classifier, each with the params and mult-adds its layers measure."""
    from mobilenet_lib.models.mobilenet_v2 import MobileNetV2, mobilenet_v2

    if model is None:
        with torch.device("meta"):
            model = mobilenet_v2()
    if not isinstance(model, MobileNetV2):
        raise ValueError(f"architecture_table needs a MobileNetV2 model, got {type(model).__name__}")
    resolution = _check("resolution", resolution, model.output_stride, 4096)
    size = (1, model.in_channels, resolution, resolution)
    table = layer_table(model, size)
    macs_by_block = {g.name: g.macs for g in table.group_by(2)}
    features = list(model.features)

    def params(modules: Sequence[nn.Module]) -> int:
        return sum(count_params(m) for m in modules)

    def hwc(shape: Sequence[int]) -> tuple[int, int, int]:
        return (shape[2], shape[3], shape[1])

    shapes: dict[str, tuple[int, ...]] = {}  # block name -> the input of its first convolution
    for row in table.rows:
        shapes.setdefault(".".join(row.name.split(".")[:2]), row.input_shape)

    rows = []
    stem = features[0]
    rows.append(ArchitectureRow(hwc(size), "conv2d 3×3", None, stem.out_channels, 1, stem.stride,
                                params([stem]), macs_by_block["features.0"]))
    index = 1
    for t, c, n, s in model.settings:
        blocks = features[index:index + n]
        names = [f"features.{i}" for i in range(index, index + n)]
        rows.append(ArchitectureRow(hwc(shapes[names[0]]), "bottleneck", t, blocks[0].out_channels, n, s,
                                    params(blocks), sum(macs_by_block[name] for name in names)))
        index += n
    head = features[index]
    head_name = f"features.{index}"
    rows.append(ArchitectureRow(hwc(shapes[head_name]), "conv2d 1×1", None, head.out_channels, 1, 1,
                                params([head]), macs_by_block[head_name]))
    final_hw = resolution // model.output_stride if resolution % model.output_stride == 0 else None
    pool_in = (final_hw, final_hw, head.out_channels) if final_hw else hwc(shapes[head_name])
    rows.append(ArchitectureRow(pool_in, "avgpool", None, head.out_channels, 1, None, 0, 0))
    linear = model.classifier[-1]
    rows.append(ArchitectureRow((1, 1, linear.in_features), "linear (1×1 conv in the paper)", None,
                                linear.out_features, 1, None, params([model.classifier]),
                                macs_by_block.get("classifier.1", 0)))
    return ArchitectureTable(rows, count_params(model), count_macs(model, size), resolution)


# --------------------------------------------------------------------------------------------
# Memory over a forward pass
# --------------------------------------------------------------------------------------------


def plot_memory_traces(traces: Mapping[str, ActivationMemory], *, title: str | None = None) -> Figure:
    """Live activation memory (KiB) through the forward pass, one line per model, each peak
    marked. The x axis is the fraction of the pass completed, so models that run different
    numbers of operations line up."""
    if not traces or not all(isinstance(t, ActivationMemory) for t in traces.values()):
        raise ValueError("plot_memory_traces needs a non-empty mapping of label -> ActivationMemory")
    fig = new_figure(8.0, 3.4)
    ax = fig.subplots()
    for label, trace in traces.items():
        kib = [s.live_bytes / 1024 for s in trace.steps]
        last = max(1, len(kib) - 1)
        progress = [i / last for i in range(len(kib))]
        (line,) = ax.plot(progress, kib, drawstyle="steps-post", label=f"{label}: peak {_kib(trace.peak_bytes)}")
        ax.plot([trace.peak.index / last], [trace.peak_bytes / 1024], "o", color=line.get_color())
    ax.set_xlabel("progress through the forward pass (fraction of its operations)")
    ax.set_ylabel("live activations (KiB)")
    ax.grid(True, alpha=0.3)
    ax.set_ylim(0, 1.3 * max(t.peak_bytes for t in traces.values()) / 1024)
    ax.legend(fontsize=8.5, loc="upper right")
    if title:
        ax.set_title(title, fontsize=11)
    return fig


# --------------------------------------------------------------------------------------------
# The ablation (results written by scripts/ablation_v2.py)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AblationPoint:
    """One variant of the ablation, over its seeds (accuracies in [0, 1])."""

    variant: str
    linear_bottleneck: bool
    shortcuts: bool
    params: int
    macs: int
    accuracies: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def std(self) -> float:
        return statistics.pstdev(self.accuracies)


def load_ablation(path: str | Path) -> dict[str, Any]:
    """Read a results file written by ``scripts/ablation_v2.py``.

    Raises:
        ValueError: if the file is missing, not JSON, or lacks ``meta`` / ``runs``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no ablation results at {path}: run scripts/ablation_v2.py to create them")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict) or "meta" not in data or not isinstance(data.get("runs"), list):
        raise ValueError(f"{path} is not an ablation results file: expected keys 'meta' and 'runs'")
    return data


_RUN_KEYS = ("variant", "linear_bottleneck", "shortcuts", "params", "macs", "seed", "test_accuracy")


def summarize_ablation(runs: Sequence[Mapping[str, Any]]) -> list[AblationPoint]:
    """Group per-seed runs by variant (in order of first appearance)."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for i, run in enumerate(runs):
        missing = [k for k in _RUN_KEYS if k not in run]
        if missing:
            raise ValueError(f"run {i} lacks {missing}; every run needs {list(_RUN_KEYS)}")
        groups.setdefault(str(run["variant"]), []).append(run)
    points = []
    for variant, group in groups.items():
        first = group[0]
        for run in group[1:]:
            if any(run[k] != first[k] for k in ("linear_bottleneck", "shortcuts", "params", "macs")):
                raise ValueError(f"runs of variant {variant!r} disagree on their configuration")
        accs = tuple(float(r["test_accuracy"]) for r in sorted(group, key=lambda r: r["seed"]))
        points.append(AblationPoint(variant, bool(first["linear_bottleneck"]), bool(first["shortcuts"]),
                                    int(first["params"]), int(first["macs"]), accs))
    return points


def plot_ablation(points: Sequence[AblationPoint], *, title: str | None = None) -> Figure:
    """Test accuracy per variant: one dot per seed and the mean as a bar."""
    points = list(points)
    if not points:
        raise ValueError("plot_ablation needs at least one AblationPoint (see summarize_ablation)")
    fig = new_figure(7.5, 3.4)
    ax = fig.subplots()
    for i, p in enumerate(points):
        color = _NARROW if p.linear_bottleneck else _WIDE
        ax.barh(i, 100 * p.mean, color=color, alpha=0.35, hatch=None if p.shortcuts else "//")
        ax.plot([100 * a for a in p.accuracies], [i] * len(p.accuracies), "o", color=color, ms=5)
        ax.text(100 * p.mean, i + 0.3, f" {100 * p.mean:.1f} %", va="center", fontsize=8.5)
    # Bars start at 0 so their lengths compare honestly; the dots carry the fine differences.
    ax.set_xlim(0.0, 100.5)
    ax.set_yticks(range(len(points)), [p.variant for p in points])
    ax.invert_yaxis()
    ax.set_xlabel("digits test accuracy (%): dots are seeds, bars their mean")
    ax.grid(True, axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=11)
    return fig
