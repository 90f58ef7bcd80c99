"""The MobileNet V1 chapter's studies: the paper's numbers, costs by formula, and training on digits.

- :data:`PAPER_WIDTH`, :data:`PAPER_RESOLUTION`, :data:`PAPER_FULL_CONV`, :data:`PAPER_SEPARABLE`:
  the published ImageNet results of Howard et al. (2017, arXiv:1704.04861, Tables 4, 6 and 7), kept
  as data so that figures can draw them beside the book's measurements, labelled as the paper's;
- :func:`v1_cost` / :func:`v1_cost_grid`: parameters and mult-adds of any (α, input size) from the
  cost formulas, exact against the built model (tested), fast enough for a slider;
- :func:`architecture_rows`: the network layer by layer, as the paper's Table 1 lays it out;
- :data:`DIGITS_LAYERS`, :data:`DIGITS_RECIPE`, :func:`train_digits_v1`: the same architecture
  with fewer strides, trained on scikit-learn's digits (no download);
- :func:`load_sweep`, :func:`summarize_sweep`, :func:`sweep_series`: the committed results of
  ``scripts/sweep_v1.py`` (accuracy against mult-adds over α, input size, full vs separable).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Subset

from mobilenet_lib.benchmark import group_seeds, load_results
from mobilenet_lib.costs import (
    Cost,
    CostTable,
    LayerCost,
    conv_output_size,
    count_macs,
    count_params,
    linear_cost,
    separable_conv_cost,
    standard_conv_cost,
)
from mobilenet_lib.data import digits_loaders
from mobilenet_lib.models.mobilenet_v1 import (
    MOBILENET_V1_LAYERS,
    MOBILENET_V1_STEM,
    V1Layer,
    mobilenet_v1,
)
from mobilenet_lib.training import train
from mobilenet_lib.validation import positive_float, positive_int

__all__ = [
    "PaperPoint",
    "DIGITS_ACCURACY_FLOOR",
    "PAPER_WIDTH",
    "PAPER_RESOLUTION",
    "PAPER_FULL_CONV",
    "PAPER_SEPARABLE",
    "PAPER_THINNER",
    "PAPER_SHALLOWER",
    "SHALLOW_V1_LAYERS",
    "DIGITS_LAYERS",
    "DIGITS_IMAGE_SIZE",
    "DIGITS_RECIPE",
    "GRID_ALPHAS",
    "GRID_RESOLUTIONS",
    "CostGrid",
    "grid_key",
    "v1_cost",
    "v1_cost_grid",
    "architecture_rows",
    "DigitsRun",
    "train_digits_v1",
    "SweepPoint",
    "load_sweep",
    "summarize_sweep",
    "sweep_series",
]


@dataclass(frozen=True)
class PaperPoint:
    """One published MobileNet V1 result: ImageNet top-1 (%), mult-adds and params (millions)."""

    label: str
    top1: float
    mult_adds_m: float
    params_m: float | None
    alpha: float
    resolution: int


#: Table 6 of Howard et al. (2017): width multiplier at 224x224.
PAPER_WIDTH: tuple[PaperPoint, ...] = (
    PaperPoint("1.0 MobileNet-224", 70.6, 569, 4.2, 1.0, 224),
    PaperPoint("0.75 MobileNet-224", 68.4, 325, 2.6, 0.75, 224),
    PaperPoint("0.5 MobileNet-224", 63.7, 149, 1.3, 0.5, 224),
    PaperPoint("0.25 MobileNet-224", 50.6, 41, 0.5, 0.25, 224),
)


#: Table 7 of Howard et al. (2017): resolution multiplier at width 1.0 (params do not change).
PAPER_RESOLUTION: tuple[PaperPoint, ...] = (
    PaperPoint("1.0 MobileNet-224", 70.6, 569, 4.2, 1.0, 224),
    PaperPoint("1.0 MobileNet-192", 69.1, 418, 4.2, 1.0, 192),
    PaperPoint("1.0 MobileNet-160", 67.2, 290, 4.2, 1.0, 160),
    PaperPoint("1.0 MobileNet-128", 64.4, 186, 4.2, 1.0, 128),
)


#: Table 4 of Howard et al. (2017): the same network with full 3x3 convolutions ...
PAPER_FULL_CONV = PaperPoint("Conv MobileNet", 71.7, 4866, 29.3, 1.0, 224)


#: ... against the depthwise separable MobileNet.
PAPER_SEPARABLE = PaperPoint("MobileNet", 70.6, 569, 4.2, 1.0, 224)

#: Table 5: at about the same cost, a thinner network (alpha = 0.75) against a shallower one (the
#: five 14x14x512 blocks removed, alpha = 1).
PAPER_THINNER = PaperPoint("0.75 MobileNet", 68.4, 325, 2.6, 0.75, 224)
PAPER_SHALLOWER = PaperPoint("Shallow MobileNet", 65.3, 307, 2.9, 1.0, 224)

#: The shallower network's table: MOBILENET_V1_LAYERS without its five 14x14x512 rows.
SHALLOW_V1_LAYERS: tuple[V1Layer, ...] = tuple(
    row for i, row in enumerate(MOBILENET_V1_LAYERS) if not (6 <= i <= 10)
)


#: MobileNet V1's 13 separable blocks adapted to the upsampled digits (32x32 inputs): the same
#: channels as the paper's Table 1, but only the 2nd and 6th blocks keep their stride of 2. With
#: the stem's stride of 2 the network downsamples 8x (32x32 -> 4x4 before pooling) instead of 32x,
#: which would shrink a 32x32 digit to 1x1 halfway through. CIFAR-size variants of MobileNet adapt
#: the strides the same way. Pass it as ``mobilenet_v1(layers=DIGITS_LAYERS, ...)``.
DIGITS_LAYERS: tuple[tuple[int, int], ...] = tuple(
    (out, 2 if i in (1, 5) else 1) for i, (out, _) in enumerate(MOBILENET_V1_LAYERS)
)


#: The digits' side length the chapter trains at (upsampled from 8x8 by mobilenet_lib.data).
DIGITS_IMAGE_SIZE = 32


#: The widget's width multipliers (0.25 ... 1.0 in steps of 0.05) and input sizes (128 ... 224).
GRID_ALPHAS: tuple[float, ...] = tuple(round(0.25 + 0.05 * i, 2) for i in range(16))


GRID_RESOLUTIONS: tuple[int, ...] = tuple(range(128, 225, 16))


@dataclass(frozen=True)
class CostGrid:
    """Mult-adds and parameters of MobileNet V1 for every width multiplier and input size.

    ``macs[(alpha, resolution)]`` are per image; ``params[alpha]`` (a network's parameters do not
    depend on its input size) include batch norm, as ``count_params`` does.
    """

    alphas: tuple[float, ...]
    resolutions: tuple[int, ...]
    macs: Mapping[tuple[float, int], int]
    params: Mapping[float, int]

    def cost(self, alpha: float, resolution: int) -> Cost:
        """The :class:`~mobilenet_lib.costs.Cost` at one grid point (``ValueError`` off the grid)."""
        key = (grid_key(alpha), resolution)
        if key not in self.macs:
            raise ValueError(
                f"(alpha={alpha!r}, resolution={resolution!r}) is not on the grid: alpha in "
                f"{list(self.alphas)}, resolution in {list(self.resolutions)}"
            )
        return Cost(params=self.params[key[0]], macs=self.macs[key])


def grid_key(alpha: float) -> float:
    # Slider values arrive as floats such as 0.7000000000000001: match them to the grid's 0.7.
    return round(float(alpha), 6)


def v1_cost(
    alpha: float,
    resolution: int,
    *,
    layers: Sequence[tuple[int, int]] = MOBILENET_V1_LAYERS,
    full_conv: bool = False,
    num_classes: int = 1000,
    in_channels: int = 3,
) -> Cost:
    """Parameters and mult-adds of ``mobilenet_v1(alpha, ...)`` on a square input, by formula.

    Walks the architecture table with the formulas of :mod:`mobilenet_lib.costs` (the paper's
    equations): the 3x3 stem, then per block a depthwise plus a pointwise convolution (or one full
    3x3 convolution with ``full_conv``), then the classifier. Channels are ``int(c * alpha)``, the
    rounding :func:`~mobilenet_lib.models.mobilenet_v1` uses; parameters include batch norm's two
    per channel, as :func:`~mobilenet_lib.costs.count_params` does. The tests check the result
    against ``count_params`` and ``count_macs`` of the built model. Microseconds instead of the
    tenths of a second a forward pass under ``FlopCounterMode`` takes.
    """
    resolution = positive_int("resolution", resolution)
    alpha = positive_float("alpha", alpha)

    def width(c: int) -> int:
        w = int(c * alpha)
        if w < 1:
            raise ValueError(f"alpha={alpha} leaves a layer of {c} channels with none")
        return w

    stem_out, stem_stride = MOBILENET_V1_STEM
    size = conv_output_size(resolution, 3, stem_stride, 1)
    channels = width(stem_out)
    total = standard_conv_cost(3, in_channels, channels, size) + Cost(2 * channels, 0)
    for out, stride in layers:
        out = width(out)
        size = conv_output_size(size, 3, stride, 1)
        if full_conv:
            total += standard_conv_cost(3, channels, out, size) + Cost(2 * out, 0)
        else:  # batch norm after the depthwise (channels) and after the pointwise (out) conv
            total += separable_conv_cost(3, channels, out, size) + Cost(2 * (channels + out), 0)
        channels = out
    return total + linear_cost(channels, num_classes)


def v1_cost_grid(
    alphas: Sequence[float] = GRID_ALPHAS,
    resolutions: Sequence[int] = GRID_RESOLUTIONS,
    *,
    layers: Sequence[tuple[int, int]] = MOBILENET_V1_LAYERS,
    full_conv: bool = False,
    num_classes: int = 1000,
) -> CostGrid:
    """:func:`v1_cost` at every (width multiplier, input size) pair: the widget's look-up table.

    Counting each of the default grid's 112 networks with a forward pass would take seconds on a
    laptop; the formulas take milliseconds.
    """
    alphas = tuple(grid_key(a) for a in alphas)
    resolutions = tuple(resolutions)
    if not alphas or not resolutions:
        raise ValueError("v1_cost_grid needs at least one alpha and one resolution")
    kwargs = {"layers": layers, "full_conv": full_conv, "num_classes": num_classes}
    costs = {(a, r): v1_cost(a, r, **kwargs) for a in alphas for r in resolutions}
    return CostGrid(
        alphas=alphas,
        resolutions=resolutions,
        macs={key: c.macs for key, c in costs.items()},
        params={a: costs[(a, resolutions[0])].params for a in alphas},
    )


_KIND_NAMES = {"conv": "Conv", "pointwise": "Conv 1×1", "depthwise": "Conv dw", "group": "Conv group", "linear": "FC"}


def _filter_shape(row: LayerCost) -> str:
    if row.kind == "linear":
        return f"{row.input_shape[-1]}×{row.output_shape[-1]}"
    kh, kw = row.kernel
    c_in, c_out = row.input_shape[1], row.output_shape[1]
    if row.kind == "depthwise":
        return f"{kh}×{kw}×{c_in} dw"
    return f"{kh}×{kw}×{c_in}×{c_out}"


def _shape(shape: tuple[int, ...]) -> str:
    # (N, C, H, W) -> "H×W×C" as the paper writes it; (N, F) -> "F"
    return f"{shape[2]}×{shape[3]}×{shape[1]}" if len(shape) == 4 else str(shape[-1])


def architecture_rows(table: CostTable) -> list[dict[str, Any]]:
    """The rows of :func:`architecture_html` as dicts (layer number, type, stride, filter shape,
    output shape, params, mult-adds, share of the mult-adds in %)."""
    total = table.total_macs
    rows = []
    for i, r in enumerate(table, start=1):
        rows.append({
            "layer": i,
            "type": _KIND_NAMES.get(r.kind, r.kind),
            "stride": "–" if r.stride is None else str(r.stride[0]),
            "filter": _filter_shape(r),
            "output": _shape(r.output_shape),
            "params": r.params,
            "mult_adds": r.macs,
            "share": 100 * r.macs / total if total else 0.0,
        })
    return rows


@dataclass(frozen=True)
class DigitsRun:
    """One trained digits model: the model, its :class:`~mobilenet_lib.training.History`, its cost."""

    model: Any
    history: Any
    alpha: float
    resolution: int
    full_conv: bool
    seed: int
    macs: int
    params: int

    def to_dict(self) -> dict[str, Any]:
        """The run's settings, costs and results as JSON-ready data (no weights)."""
        return {
            "alpha": self.alpha,
            "resolution": self.resolution,
            "conv": "full" if self.full_conv else "separable",
            "seed": self.seed,
            "mult_adds": self.macs,
            "params": self.params,
            "test_accuracy": self.history.final_test_accuracy,
            "test_accuracy_per_epoch": self.history.test_accuracy,
            "train_loss_per_epoch": self.history.train_loss,
            "train_time_s": round(self.history.wall_time_s, 2),
        }


#: How the chapter trains on the digits (shared by the notebook, the sweep script and the tests).
DIGITS_RECIPE: dict[str, Any] = {"epochs": 8, "lr": 0.01, "batch_size": 32, "optimizer": "adamw", "weight_decay": 0.0}

#: What the chapter claims of that run at alpha = 0.25, 32 px, seed 0. A run repeats bit for bit on
#: one CPU, but other SIMD kernels (AVX-512, AVX2, SSE) round differently and the last digits move
#: (97.33 % with AVX-512, 96.67 % with AVX2 were seen), so the page states a floor, not the figure.
DIGITS_ACCURACY_FLOOR = 0.95


def train_digits_v1(
    alpha: float = 0.25,
    resolution: int = DIGITS_IMAGE_SIZE,
    *,
    full_conv: bool = False,
    seed: int = 0,
    epochs: int = DIGITS_RECIPE["epochs"],
    lr: float = DIGITS_RECIPE["lr"],
    batch_size: int = DIGITS_RECIPE["batch_size"],
    optimizer: str = DIGITS_RECIPE["optimizer"],
    weight_decay: float = DIGITS_RECIPE["weight_decay"],
    train_limit: int | None = None,
    progress: bool = True,
) -> DigitsRun:
    """Train a MobileNet V1 (:data:`DIGITS_LAYERS`, width ``alpha``) on the digits at ``resolution``.

    The data split is fixed (``split_seed=0``) so every run sees the same test images; ``seed``
    sets the initial weights and the batch order. ``train_limit`` keeps only the first that many
    training images (for quick tests). Mult-adds are counted on the built model with
    :func:`~mobilenet_lib.costs.count_macs` (per image), params with ``count_params``.
    """
    if train_limit is not None:
        train_limit = positive_int("train_limit", train_limit)
    train_loader, test_loader = digits_loaders(
        batch_size=batch_size, seed=seed, split_seed=0, image_size=resolution, test_batch_size=256
    )
    if train_limit is not None:
        subset = Subset(train_loader.dataset, range(min(train_limit, len(train_loader.dataset))))
        train_loader = DataLoader(
            subset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)
        )
    torch.manual_seed(seed)
    model = mobilenet_v1(width_mult=alpha, num_classes=10, layers=DIGITS_LAYERS, full_conv=full_conv)
    macs = count_macs(model, (1, 3, resolution, resolution))
    history = train(
        model, train_loader, test_loader, epochs=epochs, lr=lr, seed=seed, optimizer=optimizer,
        weight_decay=weight_decay, progress=progress,
        desc=f"α={alpha:g} {resolution}px{' full conv' if full_conv else ''}",
    )
    return DigitsRun(model, history, float(alpha), resolution, full_conv, seed, macs, count_params(model))


@dataclass(frozen=True)
class SweepPoint:
    """One configuration of the digits sweep, aggregated over its seeds.

    ``accuracies`` holds one final test accuracy (in [0, 1]) per seed, in seed order.
    """

    alpha: float
    resolution: int
    conv: str
    mult_adds: int
    params: int
    accuracies: tuple[float, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.accuracies)

    @property
    def low(self) -> float:
        return min(self.accuracies)

    @property
    def high(self) -> float:
        return max(self.accuracies)


def load_sweep(path: str | Path) -> dict[str, Any]:
    """Read a results file written by ``scripts/sweep_v1.py`` and check its shape.

    Raises:
        ValueError: if the file is missing, is not a result file, or lacks its runs.
    """
    data = load_results(path, made_by="scripts/sweep_v1.py")
    if not isinstance(data["results"], dict) or not isinstance(data["results"].get("runs"), list):
        raise ValueError(f"{path} is not a MobileNet V1 sweep: results.runs is missing")
    for key in ("base_resolution", "resolution_alpha", "full_conv_alpha"):
        if key not in data["config"]:
            raise ValueError(f"{path} is not a MobileNet V1 sweep: config.{key} is missing")
    return data


def summarize_sweep(runs: Sequence[Mapping[str, Any]]) -> list[SweepPoint]:
    """Group per-seed runs by configuration (alpha, resolution, conv); one point per configuration.

    The order of first appearance is kept. Raises ``ValueError`` if a run lacks a field or the
    runs of one configuration disagree on its cost.
    """
    return [
        SweepPoint(float(r["alpha"]), int(r["resolution"]), str(r["conv"]), int(r["mult_adds"]), int(r["params"]), accs)
        for r, accs in group_seeds(runs, key=("alpha", "resolution", "conv"), same=("mult_adds", "params"))
    ]


def sweep_series(sweep: Mapping[str, Any]) -> dict[str, list[SweepPoint]]:
    """The sweep's three series, each sorted by mult-adds.

    ``"width"``: separable models at the base resolution, one per α (the shape of Table 6);
    ``"resolution"``: separable models at ``resolution_alpha``, one per input size (Table 7);
    ``"full"``: full-convolution models and ``"full_twin"`` their separable twins (Table 4).
    """
    config = sweep["config"]
    points = summarize_sweep(sweep["results"]["runs"])
    base, res_alpha, full_alpha = config["base_resolution"], config["resolution_alpha"], config["full_conv_alpha"]
    sep = [p for p in points if p.conv == "separable"]

    def by_cost(ps: Sequence[SweepPoint]) -> list[SweepPoint]:
        return sorted(ps, key=lambda p: p.mult_adds)

    return {
        "width": by_cost([p for p in sep if p.resolution == base]),
        "resolution": by_cost([p for p in sep if math.isclose(p.alpha, res_alpha)]),
        "full": by_cost([p for p in points if p.conv == "full"]),
        "full_twin": by_cost([p for p in sep if p.resolution == base and math.isclose(p.alpha, full_alpha)]),
    }
