"""What a layer costs: parameters, mult-adds and memory access cost, by formula and by count.

Two ways to know what a network costs, and the book uses both:

* **Formulas** (``standard_conv_cost``, ``separable_conv_cost``, ...) written in the MobileNet
  paper's notation: ``dk`` the kernel size D_K, ``m`` the input channels M, ``n`` the output channels
  N, ``df`` the (square) feature map size D_F. A layer's compute is counted in **mult-adds**
  (multiply-accumulate operations; one mult-add is two FLOPs).
* **Counting** (``count_macs``) with PyTorch's own ``torch.utils.flop_counter.FlopCounterMode``,
  which traces the operators a forward pass really runs. It counts convolutions and matrix products
  only (no batch norm, activations or pooling), which is also what the papers count.

``layer_table`` joins the two: it records every ``Conv2d`` / ``Linear`` call's shapes with forward
hooks and applies the formulas, so each row of the table is a formula the reader can check, and the
table's total equals ``count_macs`` exactly (the tests check this on every model).

A naming trap: ShuffleNet V2 writes "MAC" for **memory access cost**, the number of values a layer
reads and writes. This module never says "MAC" for it: compute is "mult-adds" (``macs`` in code,
as in the rest of the library), memory traffic is "memory access cost".

Example::

    >>> standard_conv_cost(dk=3, m=512, n=512, df=14)
    Cost(params=2_359_296, macs=462_422_016)
    >>> separable_cost_ratio(3, 512, exact=True)
    Fraction(521, 4608)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from numbers import Integral
from typing import Any, NamedTuple

import torch
from torch import nn

from mobilenet_lib.tables import Table, format_value
from mobilenet_lib.training import eval_mode
from mobilenet_lib.validation import int_or_pair, integer, positive_float, positive_int
from mobilenet_lib.validation import shape as shape_

__all__ = [
    "Cost",
    "standard_conv_cost",
    "depthwise_conv_cost",
    "pointwise_conv_cost",
    "separable_conv_cost",
    "group_conv_cost",
    "separable_cost_ratio",
    "conv2d_cost",
    "linear_cost",
    "conv_output_size",
    "scale_channels",
    "scale_resolution",
    "scaled_layer_cost",
    "Table3Row",
    "mobilenet_v1_table3",
    "memory_access_cost_1x1",
    "memory_access_lower_bound",
    "layer_memory_access_cost",
    "count_params",
    "count_macs",
    "LAYER_KINDS",
    "LayerCost",
    "KindShare",
    "GroupCost",
    "CostTable",
    "layer_table",
]


# --------------------------------------------------------------------------------------------
# The Cost value
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    """Parameters and mult-adds of a layer or a network.

    Costs add (``a + b``, and ``sum(costs)`` works) and scale by a whole number (``3 * cost``:
    the same layer repeated three times). The repr uses digit grouping so that big numbers read at
    a glance and can still be pasted back into Python.
    """

    params: int
    macs: int

    def __post_init__(self) -> None:
        for field_name in ("params", "macs"):
            value = integer(f"Cost.{field_name}", getattr(self, field_name), low=0)
            object.__setattr__(self, field_name, value)

    def __add__(self, other: object) -> Cost:
        if isinstance(other, Cost):
            return Cost(self.params + other.params, self.macs + other.macs)
        return NotImplemented

    def __radd__(self, other: object) -> Cost:
        # sum() starts from the integer 0.
        if isinstance(other, int) and not isinstance(other, bool) and other == 0:
            return self
        return NotImplemented

    def __mul__(self, k: object) -> Cost:
        if isinstance(k, bool) or not isinstance(k, Integral):
            return NotImplemented
        if k < 0:
            raise ValueError(f"a Cost can only be scaled by a non-negative integer, got {k}")
        return Cost(self.params * int(k), self.macs * int(k))

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"Cost(params={self.params:_}, macs={self.macs:_})"

    def __str__(self) -> str:
        return f"{_human(self.params)} params, {_human(self.macs)} mult-adds"


def _human(x: float) -> str:
    """1234567 -> '1.23M' (the style the papers print)."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.2f}{unit}"
    return f"{x:g}"


# --------------------------------------------------------------------------------------------
# Argument checking
# --------------------------------------------------------------------------------------------


def _check_groups(m: int, n: int, groups: int) -> None:
    if m % groups or n % groups:
        raise ValueError(
            f"groups={groups} must divide both the input channels ({m}) and the output "
            f"channels ({n})"
        )


# --------------------------------------------------------------------------------------------
# Formulas in the MobileNet paper's notation (square kernels and feature maps, stride folded
# into df: df is the size of the OUTPUT feature map, as in the paper's Table 3)
# --------------------------------------------------------------------------------------------


def standard_conv_cost(dk: int, m: int, n: int, df: int) -> Cost:
    """A standard convolution: D_K·D_K·M·N parameters, D_K·D_K·M·N·D_F·D_F mult-adds.

    ``dk`` kernel size, ``m`` input channels, ``n`` output channels, ``df`` output feature map
    size (square). No bias: MobileNets follow every convolution with batch norm.
    """
    dk, m, n, df = (positive_int(k, v) for k, v in (("dk", dk), ("m", m), ("n", n), ("df", df)))
    params = dk * dk * m * n
    return Cost(params=params, macs=params * df * df)


def depthwise_conv_cost(dk: int, m: int, df: int) -> Cost:
    """A depthwise convolution (one D_K×D_K filter per channel): D_K·D_K·M params, ·D_F·D_F mult-adds."""
    dk, m, df = (positive_int(k, v) for k, v in (("dk", dk), ("m", m), ("df", df)))
    params = dk * dk * m
    return Cost(params=params, macs=params * df * df)


def pointwise_conv_cost(m: int, n: int, df: int) -> Cost:
    """A pointwise (1×1) convolution: M·N parameters, M·N·D_F·D_F mult-adds."""
    return standard_conv_cost(1, m, n, df)


def separable_conv_cost(dk: int, m: int, n: int, df: int) -> Cost:
    """A depthwise separable convolution: depthwise D_K×D_K then pointwise 1×1.

    Mult-adds D_K·D_K·M·D_F·D_F + M·N·D_F·D_F (equation 5 of the MobileNet paper).
    """
    return depthwise_conv_cost(dk, m, df) + pointwise_conv_cost(m, n, df)


def group_conv_cost(dk: int, m: int, n: int, df: int, groups: int) -> Cost:
    """A group convolution: each of ``groups`` groups maps M/g channels to N/g channels.

    Parameters D_K·D_K·(M/g)·N, mult-adds that times D_F·D_F: ``groups`` times cheaper than the
    standard convolution. ``groups == m == n`` is a depthwise convolution.
    """
    g = positive_int("groups", groups)
    base = standard_conv_cost(dk, m, n, df)  # validates the rest
    _check_groups(m, n, g)
    return Cost(params=base.params // g, macs=base.macs // g)


def separable_cost_ratio(dk: int, n: int, *, exact: bool = False) -> float | Fraction:
    """Mult-adds of a depthwise separable conv divided by those of a standard conv: 1/N + 1/D_K².

    The ratio depends on neither M nor D_F (they cancel). With ``exact=True`` it is returned as a
    :class:`fractions.Fraction`; otherwise as a float. For D_K = 3 and a large N it tends to 1/9.
    """
    dk, n = positive_int("dk", dk), positive_int("n", n)
    ratio = Fraction(1, n) + Fraction(1, dk * dk)
    return ratio if exact else float(ratio)


# --------------------------------------------------------------------------------------------
# General layers (rectangular kernels and maps, any groups, optional bias)
# --------------------------------------------------------------------------------------------


def conv2d_cost(
    c_in: int,
    c_out: int,
    kernel: int | tuple[int, int],
    h_out: int,
    w_out: int,
    groups: int = 1,
    bias: bool = False,
) -> Cost:
    """Any 2-D convolution, per image: what ``nn.Conv2d`` holds and computes.

    Parameters: c_out·(c_in/groups)·k_h·k_w (+ c_out with a bias). Mult-adds:
    c_out·(c_in/groups)·k_h·k_w·h_out·w_out. The bias adds parameters but no mult-adds, matching
    how ``FlopCounterMode`` and the papers count. ``h_out``/``w_out`` are the output map size (see
    :func:`conv_output_size`).
    """
    c_in, c_out = positive_int("c_in", c_in), positive_int("c_out", c_out)
    kh, kw = int_or_pair("kernel", kernel)
    h_out, w_out = positive_int("h_out", h_out), positive_int("w_out", w_out)
    g = positive_int("groups", groups)
    _check_groups(c_in, c_out, g)
    weights = c_out * (c_in // g) * kh * kw
    return Cost(params=weights + (c_out if bias else 0), macs=weights * h_out * w_out)


def linear_cost(in_features: int, out_features: int, bias: bool = True) -> Cost:
    """A fully connected layer, per input row: in·out weights (+ out biases), in·out mult-adds."""
    i, o = positive_int("in_features", in_features), positive_int("out_features", out_features)
    return Cost(params=i * o + (o if bias else 0), macs=i * o)


def conv_output_size(
    size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Output length of a convolution along one axis (the formula in ``nn.Conv2d``'s docs).

    ``floor((size + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1``.
    """
    size, kernel = positive_int("size", size), positive_int("kernel", kernel)
    stride, dilation = positive_int("stride", stride), positive_int("dilation", dilation)
    padding = integer("padding", padding, low=0)
    out = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    if out < 1:
        raise ValueError(
            f"a kernel of {kernel} (dilation {dilation}) does not fit an input of {size} with "
            f"padding {padding}"
        )
    return out


# --------------------------------------------------------------------------------------------
# Width multiplier alpha and resolution multiplier rho (MobileNet V1, section 3.3-3.4)
# --------------------------------------------------------------------------------------------


def _round_half_up(x: float) -> int:
    # Python's round() rounds halves to even; a size of 2.5 channels should become 3.
    return int(math.floor(x + 0.5))


def scale_channels(channels: int, alpha: float) -> int:
    """α·channels rounded to the nearest integer (halves up), at least 1.

    This is the paper's arithmetic (512 · 0.75 = 384). Real implementations often round further,
    e.g. to a multiple of 8; the models in this library say how they round.
    """
    channels, alpha = positive_int("channels", channels), positive_float("alpha", alpha)
    scaled = _round_half_up(channels * alpha)
    if scaled < 1:
        raise ValueError(f"alpha={alpha} leaves no channels of {channels}")
    return scaled


def scale_resolution(df: int, rho: float) -> int:
    """ρ·D_F rounded to the nearest integer: ρ = 0.714 turns 14 into 10 (a 160 input instead of 224)."""
    df, rho = positive_int("df", df), positive_float("rho", rho)
    scaled = _round_half_up(df * rho)
    if scaled < 1:
        raise ValueError(f"rho={rho} shrinks a {df}x{df} feature map to nothing")
    return scaled


def scaled_layer_cost(
    dk: int, m: int, n: int, df: int, alpha: float = 1.0, rho: float = 1.0, *, separable: bool = True
) -> Cost:
    """A layer with the width multiplier α and the resolution multiplier ρ applied (equation 7).

    Channels become α·M and α·N, the feature map ρ·D_F (each rounded to the nearest integer).
    ``separable=False`` gives the standard convolution instead of the depthwise separable one.
    """
    m_a, n_a = scale_channels(m, alpha), scale_channels(n, alpha)
    df_r = scale_resolution(df, rho)
    if separable:
        return separable_conv_cost(dk, m_a, n_a, df_r)
    return standard_conv_cost(dk, m_a, n_a, df_r)


class Table3Row(NamedTuple):
    """One row of the MobileNet V1 paper's Table 3."""

    name: str
    macs: int
    params: int


def mobilenet_v1_table3(dk: int = 3, channels: int = 512, df: int = 14) -> list[Table3Row]:
    """The MobileNet V1 paper's Table 3, computed from the formulas.

    One layer with a 14×14×512 input and a 3×3×512×512 kernel (the defaults), as a standard
    convolution, as a depthwise separable one, then shrunk with α = 0.75 and further with
    ρ = 0.714 (the ρ row keeps α = 0.75, as the paper's numbers show). Returns four rows of
    (name, mult-adds, params); the paper prints them in millions: 462 / 2.36, 52.3 / 0.27,
    29.6 / 0.15, 15.1 / 0.15.
    """
    rows = [
        ("Convolution", scaled_layer_cost(dk, channels, channels, df, separable=False)),
        ("Depthwise Separable Conv", scaled_layer_cost(dk, channels, channels, df)),
        ("α = 0.75", scaled_layer_cost(dk, channels, channels, df, alpha=0.75)),
        ("ρ = 0.714", scaled_layer_cost(dk, channels, channels, df, alpha=0.75, rho=0.714)),
    ]
    return [Table3Row(name, cost.macs, cost.params) for name, cost in rows]


# --------------------------------------------------------------------------------------------
# Memory access cost (ShuffleNet V2, guideline G1), counted in values read or written
# --------------------------------------------------------------------------------------------


def memory_access_cost_1x1(h: int, w: int, c1: int, c2: int, groups: int = 1) -> int:
    """Memory access cost of a 1×1 convolution: h·w·(c1 + c2) + c1·c2/g.

    Reads the h×w×c1 input and the c1·c2/g weights, writes the h×w×c2 output (ShuffleNet V2,
    section 2). Counted in values, not bytes; multiply by the bytes per value for bytes.
    """
    h, w = positive_int("h", h), positive_int("w", w)
    c1, c2, g = positive_int("c1", c1), positive_int("c2", c2), positive_int("groups", groups)
    _check_groups(c1, c2, g)
    return h * w * (c1 + c2) + c1 * c2 // g


def memory_access_lower_bound(h: int, w: int, flops_b: int | float) -> float:
    """ShuffleNet V2's lower bound on a 1×1 conv's memory access cost for a compute budget B.

    With B = h·w·c1·c2 mult-adds fixed, the AM-GM inequality gives
    h·w·(c1 + c2) + c1·c2 ≥ 2·sqrt(h·w·B) + B/(h·w), with equality when c1 == c2 (guideline G1:
    equal channel widths minimise memory access cost).
    """
    h, w = positive_int("h", h), positive_int("w", w)
    b = positive_float("flops_b", flops_b)
    hw = h * w
    return 2.0 * math.sqrt(hw * b) + b / hw


def layer_memory_access_cost(
    input_shape: Sequence[int], output_shape: Sequence[int], params: int
) -> int:
    """General memory access cost of one layer: input values + output values + parameters.

    The shapes are whole tensor shapes (batch included); the parameters are read once per batch.
    For a bias-free 1×1 convolution at batch 1 this equals :func:`memory_access_cost_1x1`.
    """
    params = integer("params", params, low=0)
    return _numel("input_shape", input_shape) + _numel("output_shape", output_shape) + int(params)


def _numel(name: str, shape: Sequence[int]) -> int:
    return math.prod(shape_(name, shape, example="(1, 64, 56, 56)"))


# --------------------------------------------------------------------------------------------
# Counting on a real model
# --------------------------------------------------------------------------------------------


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter values in ``model`` (batch-norm scales and shifts included).

    Buffers (batch norm's running statistics) are not parameters and are not counted. With
    ``trainable_only=True`` only parameters with ``requires_grad`` count. Shared parameters count
    once.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _check_input_size(input_size: Any) -> tuple[int, ...]:
    return shape_("input_size", input_size, ndim=4)


def _dummy_input(model: nn.Module, input_size: tuple[int, ...]) -> torch.Tensor:
    param = next(iter(model.parameters()), None)
    if param is None:
        return torch.zeros(input_size)
    dtype = param.dtype if param.is_floating_point() else torch.get_default_dtype()
    return torch.zeros(input_size, dtype=dtype, device=param.device)


def count_macs(model: nn.Module, input_size: Sequence[int] = (1, 3, 224, 224)) -> int:
    """Mult-adds of one forward pass, counted by PyTorch's ``FlopCounterMode`` (FLOPs / 2).

    The model runs once in eval mode under ``torch.no_grad`` on a zero tensor of ``input_size``
    (batch included, so a batch of 8 counts 8 images); every submodule's training flag is restored
    afterwards. Only convolutions and matrix products are counted, as in the papers.

    The count depends on shapes only, so a model built on the meta device
    (``with torch.device("meta"): net = resnet50()``) is counted without computing anything.
    """
    # Imported here: flop_counter pulls in torch's tensor-subclass machinery, which a plain
    # ``import mobilenet_lib.costs`` does not need.
    from torch.utils.flop_counter import FlopCounterMode

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    size = _check_input_size(input_size)
    x = _dummy_input(model, size)
    counter = FlopCounterMode(display=False)
    with eval_mode(model), torch.no_grad(), counter:
        model(x)
    flops = counter.get_total_flops()
    # Each counted op does 2 FLOPs per mult-add, so the total is even.
    return int(flops) // 2


# --------------------------------------------------------------------------------------------
# The per-layer table
# --------------------------------------------------------------------------------------------

#: The kinds of rows in a :class:`CostTable`.
LAYER_KINDS = ("conv", "depthwise", "pointwise", "group", "linear")


def _conv_kind(conv: nn.Conv2d) -> str:
    """conv (a full k×k conv), pointwise (full 1×1), depthwise (groups == in channels) or group."""
    if conv.groups == 1:
        return "pointwise" if tuple(conv.kernel_size) == (1, 1) else "conv"
    if conv.groups == conv.in_channels:
        return "depthwise"
    return "group"


@dataclass(frozen=True)
class LayerCost:
    """One row of a :class:`CostTable`: one call of a ``Conv2d`` or ``Linear`` module.

    ``kernel`` and ``stride`` are ``None`` for linear layers. ``params`` counts the layer's weight
    and bias; ``macs`` are the mult-adds of the whole input batch; ``memory_access_cost`` is input
    values + output values + params (see :func:`layer_memory_access_cost`).
    """

    name: str
    kind: str
    kernel: tuple[int, int] | None
    stride: tuple[int, int] | None
    groups: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    macs: int
    memory_access_cost: int

    @property
    def cost(self) -> Cost:
        return Cost(self.params, self.macs)


class KindShare(NamedTuple):
    """What one kind of layer takes: its fractions (in [0, 1]) of a table's mult-adds and params."""

    macs: float
    params: float
    layers: int


@dataclass(frozen=True)
class GroupCost:
    """Layers aggregated under one module-name prefix (see :meth:`CostTable.group_by`)."""

    name: str
    layers: int
    params: int
    macs: int
    memory_access_cost: int


_ROW_COLUMNS = (
    ("name", "layer"),
    ("kind", "kind"),
    ("kernel", "kernel"),
    ("stride", "stride"),
    ("groups", "groups"),
    ("input_shape", "input"),
    ("output_shape", "output"),
    ("params", "params"),
    ("macs", "mult-adds"),
    ("memory_access_cost", "memory access"),
)
_GROUP_COLUMNS = (
    ("name", "block"),
    ("layers", "layers"),
    ("params", "params"),
    ("macs", "mult-adds"),
    ("memory_access_cost", "memory access"),
)
_NUMERIC = {"groups", "params", "macs", "memory_access_cost", "layers"}


def _table(columns: Sequence[tuple[str, str]], rows: list[dict[str, Any]], total: dict[str, Any], caption: str = "") -> Table:
    """Rows and a total row as a :class:`~mobilenet_lib.tables.Table` (shapes as ``a×b×c``)."""
    def cells(row: dict[str, Any]) -> list[str]:
        return [format_value(row.get(key)) for key, _ in columns]

    align = ["right" if key in _NUMERIC else "left" for key, _ in columns]
    return Table([t for _, t in columns], [cells(r) for r in rows], align, caption=caption, footer=[cells(total)])


class CostTable:
    """Per-layer costs of a model, one :class:`LayerCost` per ``Conv2d`` / ``Linear`` call.

    Built by :func:`layer_table`. Iterate over it, index it, or render it: ``to_rows()`` (a list
    of dicts), ``to_markdown()``, and a notebook shows it as an HTML table. ``total`` sums the
    rows; ``total_params`` is the whole model's parameter count, which also includes what the rows
    leave out (batch norm's scales and shifts, other parameters): ``other_params`` is the
    difference.
    """

    def __init__(
        self,
        rows: Sequence[LayerCost],
        total_params: int,
        input_size: tuple[int, ...],
        counted_macs: int | None = None,
    ) -> None:
        self.rows: tuple[LayerCost, ...] = tuple(rows)
        self.total_params = int(total_params)
        self.input_size = tuple(input_size)
        #: Mult-adds FlopCounterMode saw in the same pass (as :func:`count_macs`); ``None`` if not counted.
        self.counted_macs = counted_macs

    @property
    def untracked_macs(self) -> int:
        """Mult-adds the pass ran outside ``nn.Conv2d`` / ``nn.Linear`` modules (functional calls),
        which no row holds: ``counted_macs - total_macs`` (0 when every counted op is a row)."""
        return 0 if self.counted_macs is None else max(0, self.counted_macs - self.total_macs)

    # container protocol
    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[LayerCost]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> LayerCost:
        return self.rows[index]

    @property
    def total(self) -> Cost:
        """Sum of the rows: conv/linear parameters (no batch norm) and all counted mult-adds."""
        return sum((r.cost for r in self.rows), Cost(0, 0))

    @property
    def total_macs(self) -> int:
        return self.total.macs

    @property
    def other_params(self) -> int:
        """Parameters outside the conv/linear rows (mostly batch norm): total_params − total.params."""
        return self.total_params - self.total.params

    @property
    def total_memory_access_cost(self) -> int:
        return sum(r.memory_access_cost for r in self.rows)

    def share_by_kind(self) -> dict[str, KindShare]:
        """Fraction of the table's mult-adds and of its params taken by each kind of layer.

        Fractions are of the rows' totals (``total``), so batch norm is not in the params
        denominator, as in the MobileNet paper's Table 2. Kinds with no rows are left out.
        """
        total = self.total
        shares: dict[str, KindShare] = {}
        for kind in LAYER_KINDS:
            rows = [r for r in self.rows if r.kind == kind]
            if rows:
                macs = sum(r.macs for r in rows)
                params = sum(r.params for r in rows)
                shares[kind] = KindShare(
                    macs=macs / total.macs if total.macs else 0.0,
                    params=params / total.params if total.params else 0.0,
                    layers=len(rows),
                )
        return shares

    def group_by(self, depth: int = 1) -> list[GroupCost]:
        """Aggregate rows by the first ``depth`` parts of their module names, in order of appearance.

        With names like ``features.3.conv.0``, ``depth=2`` gives one row per block
        (``features.3``).
        """
        depth = positive_int("depth", depth)
        groups: dict[str, list[LayerCost]] = {}
        for r in self.rows:
            key = ".".join(r.name.split(".")[:depth])
            groups.setdefault(key, []).append(r)
        return [
            GroupCost(
                name=key,
                layers=len(rows),
                params=sum(r.params for r in rows),
                macs=sum(r.macs for r in rows),
                memory_access_cost=sum(r.memory_access_cost for r in rows),
            )
            for key, rows in groups.items()
        ]

    def to_rows(self) -> list[dict[str, Any]]:
        """The rows as plain dicts (e.g. for ``pandas.DataFrame(table.to_rows())``)."""
        return [asdict(r) for r in self.rows]

    def _total_row(self) -> dict[str, Any]:
        t = self.total
        return {
            "name": "total",
            "layers": len(self.rows),
            "params": t.params,
            "macs": t.macs,
            "memory_access_cost": self.total_memory_access_cost,
        }

    def to_markdown(self, depth: int | None = None, columns: Sequence[str] | None = None) -> str:
        """A Markdown table, one row per layer (or per block with ``depth``), plus a total row.

        ``columns`` picks and orders the columns by key (``name``, ``kind``, ``kernel``, ``stride``,
        ``groups``, ``input_shape``, ``output_shape``, ``params``, ``macs``,
        ``memory_access_cost``; per block: ``name``, ``layers``, ``params``, ``macs``,
        ``memory_access_cost``), e.g. to fit a narrow page.
        """
        available = _ROW_COLUMNS if depth is None else _GROUP_COLUMNS
        if columns is not None:
            if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
                raise TypeError(f"columns must be a sequence of column keys, got {columns!r}")
            by_key = dict(available)
            unknown = [c for c in columns if c not in by_key]
            if unknown or not columns:
                raise ValueError(f"columns must be some of {list(by_key)}, got {list(columns)!r}")
            available = tuple((c, by_key[c]) for c in columns)
        if depth is None:
            return _table(available, self.to_rows(), self._total_row()).to_markdown()
        return _table(available, [asdict(g) for g in self.group_by(depth)], self._total_row()).to_markdown()

    def _repr_html_(self) -> str:
        caption = (
            f"{len(self.rows)} layers at input {'×'.join(map(str, self.input_size))}: "
            f"{self.total}; {self.total_params:,} params in all "
            f"({self.other_params:,} outside conv/linear layers, e.g. batch norm)"
        )
        return _table(_ROW_COLUMNS, self.to_rows(), self._total_row(), caption)._repr_html_()

    def __repr__(self) -> str:
        return (
            f"CostTable({len(self.rows)} layers, input {self.input_size}, {self.total!r}, "
            f"total_params={self.total_params:_})"
        )


def layer_table(model: nn.Module, input_size: Sequence[int] = (1, 3, 224, 224)) -> CostTable:
    """Per-layer costs of ``model`` from the formulas, one row per ``Conv2d`` / ``Linear`` call.

    A forward pass (eval mode, no grad, zero input of ``input_size``) records each layer's input
    and output shapes with forward hooks; :func:`conv2d_cost` and :func:`linear_cost` then give its
    params and mult-adds. Rows come in execution order; a module called twice gets two rows (the
    second named ``name#2``). The total mult-adds equal :func:`count_macs` for models whose
    counted work is all in ``Conv2d`` and ``Linear`` modules (every model in this library).
    The same pass runs under ``FlopCounterMode``: work done by functional calls (``F.conv2d`` in a
    custom ``forward``, say) is in ``table.counted_macs`` but in no row, and ``layer_table`` warns
    with the amount (``table.untracked_macs``) instead of returning a silently low total.

    Raises ``TypeError`` for a model that is not a module, ``ValueError`` for a bad ``input_size``
    or if the model holds convolution modules the table cannot account for (1-D, 3-D or
    transposed convolutions).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    size = _check_input_size(input_size)
    names = {module: name for name, module in model.named_modules()}
    unsupported = [
        f"{name} ({type(m).__name__})"
        for m, name in names.items()
        if isinstance(m, nn.modules.conv._ConvNd) and not isinstance(m, nn.Conv2d)
    ]
    unsupported += [
        f"{name} ({type(m).__name__})"
        for m, name in names.items()
        if isinstance(m, nn.Conv2d) and type(m).forward is not nn.Conv2d.forward
    ]
    if unsupported:
        raise ValueError(
            "layer_table accounts for nn.Conv2d and nn.Linear only; this model also has "
            + ", ".join(unsupported)
        )

    rows: list[LayerCost] = []
    calls: dict[str, int] = {}

    def hook(module: nn.Module, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        name = names[module] or type(module).__name__
        calls[name] = calls.get(name, 0) + 1
        if calls[name] > 1:
            name = f"{name}#{calls[name]}"
        in_shape, out_shape = tuple(inputs[0].shape), tuple(output.shape)
        if isinstance(module, nn.Conv2d):
            batch, _, h_out, w_out = out_shape
            per_image = conv2d_cost(
                module.in_channels,
                module.out_channels,
                tuple(module.kernel_size),
                h_out,
                w_out,
                groups=module.groups,
                bias=module.bias is not None,
            )
            kind, kernel, stride = _conv_kind(module), tuple(module.kernel_size), tuple(module.stride)
            groups = module.groups
        else:  # nn.Linear: every leading dimension is a separate row of the product
            batch = math.prod(in_shape[:-1])
            per_image = linear_cost(module.in_features, module.out_features, module.bias is not None)
            kind, kernel, stride, groups = "linear", None, None, 1
        rows.append(
            LayerCost(
                name=name,
                kind=kind,
                kernel=kernel,
                stride=stride,
                groups=groups,
                input_shape=in_shape,
                output_shape=out_shape,
                params=per_image.params,
                macs=per_image.macs * batch,
                memory_access_cost=layer_memory_access_cost(in_shape, out_shape, per_image.params),
            )
        )

    handles = [
        m.register_forward_hook(hook) for m in names if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)  # what ran, whether or not a module ran it
    try:
        with eval_mode(model), torch.no_grad(), counter:
            model(_dummy_input(model, size))
    finally:
        for h in handles:
            h.remove()
    table = CostTable(rows, total_params=count_params(model), input_size=size,
                      counted_macs=int(counter.get_total_flops()) // 2)
    if table.untracked_macs:
        warnings.warn(
            f"layer_table: {table.untracked_macs:,} of the {table.counted_macs:,} mult-adds this model ran "
            "came from convolutions or matrix products called as functions (F.conv2d, @, ...), not from "
            "nn.Conv2d / nn.Linear modules, so no row holds them; count_macs counts them "
            "(table.untracked_macs has the difference)",
            stacklevel=2,
        )
    return table
