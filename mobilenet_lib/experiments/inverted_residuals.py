"""The inverted residual chapter's studies: a block's anatomy, the V2 table, memory and the ablation.

- :func:`inverted_residual_anatomy` / :func:`bottleneck_anatomy` measure one MobileNet V2 block
  and one ResNet-50 bottleneck layer by layer (shapes, parameters, mult-adds, activation memory);
- :func:`architecture_table` regenerates the V2 paper's Table 2 from a built model, with the
  parameters and mult-adds each line measures;
- :func:`residual_stack` builds the same layers with the shortcut on the narrow tensors (inverted,
  V2) or on the wide ones (classical, :class:`WideResidual`), so the V2 paper's memory argument
  can be measured; :class:`ChunkedInvertedResidual` runs a block without ever holding its
  expanded tensor whole (Section 5.1);
- :func:`load_ablation` / :func:`summarize_ablation` read ``scripts/ablation_v2.py``'s results
  (linear vs ReLU6 bottleneck, with and without shortcuts, on the digits).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mobilenet_lib.benchmark import group_seeds, load_results
from mobilenet_lib.blocks import (
    ActivationFactory,
    Bottleneck,
    ConvNormAct,
    InvertedResidual,
)
from mobilenet_lib.costs import count_macs, count_params, layer_table
from mobilenet_lib.memory import ActivationMemory, activation_memory
from mobilenet_lib.tables import Table
from mobilenet_lib.validation import flag, integer, one_of, positive_int

__all__ = [
    "BlockLayer",
    "BlockAnatomy",
    "inverted_residual_anatomy",
    "bottleneck_anatomy",
    "ArchitectureRow",
    "ArchitectureTable",
    "architecture_table",
    "WideResidual",
    "residual_stack",
    "ChunkedInvertedResidual",
    "AblationPoint",
    "load_ablation",
    "summarize_ablation",
]


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
    in_ch, out_ch = integer("in_ch", in_ch, low=1, high=4096), integer("out_ch", out_ch, low=1, high=4096)
    expansion = integer("expansion", expansion, low=1, high=10)
    resolution = integer("resolution", resolution, low=1, high=512)
    stride = one_of("stride", integer("stride", stride), (1, 2))
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
    in_ch, planes = integer("in_ch", in_ch, low=1, high=4096), integer("planes", planes, low=1, high=4096)
    resolution = integer("resolution", resolution, low=1, high=512)
    stride = one_of("stride", integer("stride", stride), (1, 2))
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

    def table(self) -> Table:
        """The rows as a :class:`~mobilenet_lib.tables.Table` (the total as its footer)."""
        cells = self._cells()
        return Table(self._HEAD, cells[:-1], ["left", "left"] + ["right"] * 6, footer=cells[-1:])

    def to_markdown(self) -> str:
        return self.table().to_markdown()

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

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
        raise TypeError(f"model must be a MobileNetV2, got {type(model).__name__}")
    resolution = integer("resolution", resolution, low=model.output_stride, high=4096)
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
    """Read a results file written by ``scripts/ablation_v2.py`` (sections ``meta`` and ``runs``).

    Raises:
        ValueError: if the file is missing, not JSON, or lacks ``meta`` / ``runs``.
    """
    data = load_results(path, sections=("meta", "runs"), made_by="scripts/ablation_v2.py")
    if not isinstance(data["runs"], list):
        raise ValueError(f"{path} is not an ablation results file: 'runs' must be a list")
    return data


def summarize_ablation(runs: Sequence[Mapping[str, Any]]) -> list[AblationPoint]:
    """Group per-seed runs by variant (in order of first appearance)."""
    return [
        AblationPoint(str(r["variant"]), bool(r["linear_bottleneck"]), bool(r["shortcuts"]), int(r["params"]),
                      int(r["macs"]), accs)
        for r, accs in group_seeds(runs, key=("variant",), same=("linear_bottleneck", "shortcuts", "params", "macs"))
    ]


class WideResidual(nn.Module):
    """A "classical" residual block made of MobileNet V2's layers: wide -> narrow -> wide.

    The body is V2's three units in a rotated order: linear 1x1 *project* (wide -> narrow),
    1x1 *expand* (narrow -> wide, activation), 3x3 *depthwise* (wide, activation); the shortcut
    adds the wide input. Stacked, these blocks run exactly the layers of a stack of
    :class:`~mobilenet_lib.blocks.InvertedResidual` blocks; only the shortcut sits on the wide
    tensors instead of the narrow ones (the V2 paper's Figure 3, classical vs inverted).
    """

    def __init__(self, narrow: int, wide: int, activation: ActivationFactory = nn.ReLU6) -> None:
        super().__init__()
        narrow, wide = positive_int("narrow", narrow), positive_int("wide", wide)
        self.body = nn.Sequential(
            ConvNormAct(wide, narrow, 1, activation=None),
            ConvNormAct(narrow, wide, 1, activation=activation),
            ConvNormAct(wide, wide, 3, groups=wide, activation=activation),
        )
        self.narrow, self.wide = narrow, wide

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def residual_stack(
    channels: int,
    expansion: int = 6,
    num_blocks: int = 3,
    *,
    inverted: bool = True,
    activation: ActivationFactory = nn.ReLU6,
) -> nn.Sequential:
    """``num_blocks`` residual blocks on ``channels`` narrow / ``expansion * channels`` wide
    channels, at stride 1; input and output have ``channels`` channels.

    ``inverted=True``: MobileNet V2's blocks (expand, depthwise, linear project; shortcut on the
    narrow tensors). ``inverted=False``: the same layers in the same order, grouped as
    expand, depthwise, then ``num_blocks - 1`` :class:`WideResidual` blocks, then a final
    project: the shortcuts sit on the wide tensors. Both have the same parameters and mult-adds
    (one shortcut fewer, and additions are not counted), so they differ only in which tensors
    are held across a block.
    """
    channels = positive_int("channels", channels)
    expansion = positive_int("expansion", expansion)
    num_blocks = positive_int("num_blocks", num_blocks)
    if expansion < 2:
        raise ValueError(f"expansion must be at least 2 (wide > narrow), got {expansion}")
    inverted = flag("inverted", inverted)
    wide = channels * expansion
    if inverted:
        return nn.Sequential(
            *[InvertedResidual(channels, channels, 1, expansion, activation=activation) for _ in range(num_blocks)]
        )
    return nn.Sequential(
        ConvNormAct(channels, wide, 1, activation=activation),
        ConvNormAct(wide, wide, 3, groups=wide, activation=activation),
        *[WideResidual(channels, wide, activation) for _ in range(num_blocks - 1)],
        ConvNormAct(wide, channels, 1, activation=None),
    )


class ChunkedInvertedResidual(nn.Module):
    """Runs an :class:`~mobilenet_lib.blocks.InvertedResidual` with the expanded tensor split
    into ``chunks`` slices of channels, without ever holding it whole (V2 paper, Section 5.1).

    This works because each expanded channel is made by its own row of the expand 1x1 conv,
    filtered by its own depthwise kernel, and enters the linear projection as one term of a sum:
    ``project(h) = sum over slices of project[:, slice](h[slice])``. So the block computes one
    slice at a time and accumulates the projection; the live memory is the narrow input and
    output plus one slice of the wide tensor. In eval mode (batch norm on running statistics)
    the output equals the wrapped block's up to float rounding. The block's weights are shared,
    not copied. Only V2-layout blocks without squeeze-and-excitation are supported.
    """

    def __init__(self, block: InvertedResidual, chunks: int) -> None:
        super().__init__()
        if not isinstance(block, InvertedResidual):
            raise TypeError(f"block must be an InvertedResidual, got {type(block).__name__}")
        if block.layout != "v2" or block.use_se:
            raise ValueError("ChunkedInvertedResidual supports V2-layout blocks without squeeze-excitation only")
        chunks = positive_int("chunks", chunks)
        if chunks > block.expanded_channels:
            raise ValueError(
                f"chunks must be at most the expanded width ({block.expanded_channels}), got {chunks}"
            )
        self.block = block
        self.chunks = chunks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            raise RuntimeError("ChunkedInvertedResidual is for inference: call .eval() first")
        layers = list(self.block.conv)
        project_conv, project_bn = layers[-2], layers[-1]
        expand = layers[0] if len(layers) == 4 else None
        depthwise = layers[-3]
        bounds = torch.linspace(0, self.block.expanded_channels, self.chunks + 1).round().long().tolist()
        total = None
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            # With expansion 1 there is no expand unit: the "wide" tensor is the input itself.
            h = x[:, lo:hi] if expand is None else _unit_slice(expand, x, lo, hi)
            h = _unit_slice(depthwise, h, lo, hi)
            part = F.conv2d(h, project_conv.weight[:, lo:hi])
            total = part if total is None else total.add_(part)
        out = project_bn(total)
        return out + x if self.block.use_res_connect else out


def _unit_slice(unit: ConvNormAct, x: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """Output channels ``lo:hi`` of a ConvNormAct unit (conv, batch norm, optional activation)."""
    conv, bn = unit[0], unit[1]
    depthwise = conv.groups > 1
    out = F.conv2d(
        x, conv.weight[lo:hi], None, conv.stride, conv.padding, conv.dilation, hi - lo if depthwise else 1
    )
    out = F.batch_norm(
        out, bn.running_mean[lo:hi], bn.running_var[lo:hi], bn.weight[lo:hi], bn.bias[lo:hi], False, 0.0, bn.eps
    )
    return unit[2](out) if len(unit) > 2 else out
