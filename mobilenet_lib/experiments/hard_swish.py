"""The h-swish chapter's studies: what the hard activations cost, and how they fare in int8.

**Cost.** what activations cost: time per value on this CPU, and how many values a network activates.

The "hard" in h-swish is about cost: ``ReLU6(x + 3) / 6`` needs an add, a clamp and a multiply,
while the sigmoid needs an exponential and a division.

- :func:`time_activations` times both families on the machine it runs on, in two forms each: the
  eager composition of torch operations a reader would write and the fused PyTorch kernel, plus
  this library's own functions. It measures with :func:`mobilenet_lib.benchmark.time_callable`
  (warm-up, median of repeats, fixed threads), like every timing in the book; the numbers are one
  machine's, never universal constants.
- :func:`activation_sites` runs a network once and records every activation module it calls, with
  the number of values it activates. An activation's cost is proportional to that number, which is
  why MobileNet V3 can afford h-swish in its deeper half, where the maps are small.

Example::

    rows = time_activations(n=1_000_000, threads=2)
    [(r.name, r.ms_per_million) for r in rows]

**Int8.** MobileNet V3 replaces swish, ``x * sigmoid(x)``, with h-swish, ``x * ReLU6(x + 3) / 6``, partly
because the hard version suits quantized (int8) inference. This module makes that claim
measurable. It evaluates each activation on *every* int8 input code, the way an int8 kernel sees
its input, and compares the output codes with the float function at the same (dequantized) input:

- :func:`h_swish_int8` computes h-swish with integer operations only: an add, a clamp, one
  integer product and a fixed-point rescale (a 31-bit multiplier and a rounding right shift, the
  scheme of integer-only inference engines). Its breakpoints -3 and +3 are exact when they are
  whole numbers of input steps; otherwise the kernel must round them and the kinks move.
- :func:`swish_int8` needs the sigmoid, which no short sequence of integer operations gives
  exactly. A kernel either tabulates it (a 256-entry lookup table per input scale, exact for an
  int8 input) or approximates it. ``"plan"`` is the classic piecewise-linear approximation of
  Amin, Curtis and Hayes-Gill (1997), whose slopes are powers of two (shift-and-add hardware).
  The approximation is evaluated exactly (float64) so that the error shown is the
  approximation's, not its arithmetic's.
- :func:`int8_error` measures one kernel against its float function, in output steps (LSB);
  :func:`int8_study` tabulates the standard comparison that the book shows.

A grid is ``real = scale * (code - zero_point)``, codes in ``[qmin, qmax]`` (int8 by default).
Everything is deterministic and runs in milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mobilenet_lib import activations
from mobilenet_lib.activations import h_swish, swish
from mobilenet_lib.benchmark import Timing, time_callable
from mobilenet_lib.validation import integer, positive_float, positive_int, shape

__all__ = [
    "ActivationTiming",
    "activation_implementations",
    "time_activations",
    "ActivationSite",
    "activation_sites",
    "Int8Grid",
    "Int8Error",
    "SIGMOID_APPROXIMATIONS",
    "KERNELS",
    "fixed_point_multiplier",
    "rounding_right_shift",
    "plan_sigmoid",
    "h_swish_int8",
    "swish_int8",
    "int8_error",
    "int8_error_curve",
    "int8_study",
    "fake_quantize",
    "ROUND_GRID",
    "CALIBRATED_GRID",
]


def activation_implementations() -> dict[str, tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
    """name -> (family, function): the implementations :func:`time_activations` compares.

    family is ``"swish"`` (the smooth x * sigmoid(x)) or ``"h-swish"`` (the hard one).
    """
    return {
        "x * sigmoid(x), eager": ("swish", lambda x: x * torch.sigmoid(x)),
        "F.silu (fused)": ("swish", F.silu),
        "mobilenet_lib swish": ("swish", activations.swish),
        "x * relu6(x + 3) / 6, eager": ("h-swish", lambda x: x * F.relu6(x + 3) / 6),
        "F.hardswish (fused)": ("h-swish", F.hardswish),
        "mobilenet_lib h_swish": ("h-swish", activations.h_swish),
    }


@dataclass(frozen=True)
class ActivationTiming:
    """One implementation's timing on ``n`` values."""

    name: str
    family: str
    n: int
    timing: Timing

    @property
    def ms_per_million(self) -> float:
        """Median milliseconds per 10**6 values."""
        return self.timing.median_ms * 1e6 / self.n

    @property
    def iqr_ms_per_million(self) -> float:
        """Interquartile range of the repeats, in milliseconds per 10**6 values."""
        return self.timing.iqr_ms * 1e6 / self.n

    @property
    def threads(self) -> int:
        return self.timing.threads


def time_activations(
    n: int = 1_000_000,
    threads: int = 1,
    repeats: int = 20,
    warmup: int = 3,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> list[ActivationTiming]:
    """Time every :func:`activation_implementations` entry on ``n`` seeded standard-normal values.

    Most of a standard normal input lies inside h-swish's bend at [-3, 3], so neither family
    gets an easy constant region. ``threads`` fixes torch's thread count while timing. Like every
    timing here it runs with freed memory kept (:data:`mobilenet_lib.benchmark.KEEP_FREED_MEMORY`),
    so that the eager compositions are not timed page-faulting.
    """
    n, threads = positive_int("n", n), positive_int("threads", threads)
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype, got {dtype!r}")
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    x = torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    rows = []
    for name, (family, fn) in activation_implementations().items():
        timing = time_callable(
            lambda fn=fn: fn(x), repeats=repeats, warmup=warmup, threads=threads, label=name
        )
        rows.append(ActivationTiming(name, family, n, timing))
    return rows


#: Activation modules :func:`activation_sites` records, by the name it reports.
_ACTIVATION_TYPES: dict[type[nn.Module], str] = {
    nn.ReLU: "ReLU",
    nn.ReLU6: "ReLU6",
    nn.Hardswish: "h-swish",
    nn.Hardsigmoid: "h-sigmoid",
    nn.Sigmoid: "sigmoid",
    nn.SiLU: "swish",
    activations.HSwish: "h-swish",
    activations.HSigmoid: "h-sigmoid",
    activations.Swish: "swish",
}


@dataclass(frozen=True)
class ActivationSite:
    """One call of an activation module: its qualified name, kind, input shape and value count."""

    name: str
    kind: str
    shape: tuple[int, ...]

    @property
    def on_map(self) -> bool:
        """Whether the call activates a feature map larger than 1 x 1 (not a pooled vector, as
        inside squeeze-and-excitation or in the classifier)."""
        return len(self.shape) == 4 and self.shape[2] * self.shape[3] > 1

    @property
    def values(self) -> int:
        """Number of values activated (the product of the shape, batch included)."""
        n = 1
        for s in self.shape:
            n *= s
        return n


def activation_sites(model: nn.Module, input_size: Sequence[int] = (1, 3, 224, 224)) -> list[ActivationSite]:
    """Every activation call of one forward pass (eval mode, zeros input), in call order.

    The input is made on the model's device, so a model built under ``torch.device("meta")``
    is measured without any arithmetic.

    Activations inside squeeze-and-excitation modules run on pooled (1x1) maps, so they show up
    with tiny value counts. Training flags are restored afterwards.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    input_size = shape("input_size", input_size, ndim=4)
    sites: list[ActivationSite] = []
    names = {m: n for n, m in model.named_modules()}

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        sites.append(ActivationSite(names[module], _ACTIVATION_TYPES[type(module)], tuple(output.shape)))

    handles = [m.register_forward_hook(hook) for m in model.modules() if type(m) in _ACTIVATION_TYPES]
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad():
            param = next(iter(model.parameters()), None)  # run where the model lives (meta too)
            model(torch.zeros(tuple(input_size), device=param.device if param is not None else None))
    finally:
        for h in handles:
            h.remove()
        for m, flag in flags:
            m.training = flag
    return sites


#: Ways :func:`swish_int8` can obtain the sigmoid.
SIGMOID_APPROXIMATIONS = ("lut", "plan")


@dataclass(frozen=True)
class Int8Grid:
    """An affine integer quantization grid: ``real = scale * (code - zero_point)``.

    The defaults describe signed int8 codes ``-128 ... 127`` with a zero point of 0.
    """

    scale: float
    zero_point: int = 0
    qmin: int = -128
    qmax: int = 127

    def __post_init__(self) -> None:
        positive_float("scale", self.scale)
        for name in ("zero_point", "qmin", "qmax"):
            integer(name, getattr(self, name))
        if not self.qmin < self.qmax:
            raise ValueError(f"need qmin < qmax, got qmin={self.qmin}, qmax={self.qmax}")
        if not self.qmin <= self.zero_point <= self.qmax:
            raise ValueError(
                f"zero_point must lie in [qmin, qmax] = [{self.qmin}, {self.qmax}], got {self.zero_point}"
            )

    @classmethod
    def symmetric(cls, max_abs: float, bits: int = 8) -> Int8Grid:
        """The symmetric signed grid whose largest code ``2**(bits-1) - 1`` maps to ``max_abs``.

        This is the usual max-calibrated grid; its steps are rarely "round" numbers.
        """
        bits = integer("bits", bits, low=2, high=16)
        max_abs = positive_float("max_abs", max_abs)
        qmax = 2 ** (bits - 1) - 1
        return cls(scale=max_abs / qmax, zero_point=0, qmin=-qmax - 1, qmax=qmax)

    @property
    def levels(self) -> int:
        """Number of codes on the grid."""
        return self.qmax - self.qmin + 1

    def codes(self) -> torch.Tensor:
        """Every code of the grid, ascending (int64)."""
        return torch.arange(self.qmin, self.qmax + 1, dtype=torch.int64)

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """Nearest code to each real value (ties round up), clamped to the grid (int64)."""
        q = torch.floor(x.to(torch.float64) / self.scale + 0.5).to(torch.int64) + self.zero_point
        return q.clamp(self.qmin, self.qmax)

    def dequantize(self, q: torch.Tensor) -> torch.Tensor:
        """The real value (float64) of each code."""
        return (q.to(torch.int64) - self.zero_point).to(torch.float64) * self.scale

    def steps(self, value: float) -> float:
        """``value`` measured in steps of this grid (a whole number when it is representable)."""
        return value / self.scale

    def represents(self, value: float, tol: float = 1e-9) -> bool:
        """Whether ``value`` is (within ``tol`` steps) a whole number of steps from zero."""
        n = self.steps(value)
        return abs(n - round(n)) <= tol


def fake_quantize(x: torch.Tensor, grid: Int8Grid) -> torch.Tensor:
    """Round ``x`` to the nearest value representable on ``grid`` (float64)."""
    return grid.dequantize(grid.quantize(x))


def fixed_point_multiplier(real: float) -> tuple[int, int]:
    """Write ``real`` (> 0) as ``m0 * 2**-shift`` with ``m0`` a 31-bit integer in ``[2**30, 2**31)``.

    This is how integer-only inference engines apply a real rescaling factor: one integer
    multiply followed by a rounding right shift (see :func:`rounding_right_shift`).
    """
    real = positive_float("real", real)
    mantissa, exponent = math.frexp(real)  # real = mantissa * 2**exponent, mantissa in [0.5, 1)
    m0 = round(mantissa * 2**31)
    if m0 == 2**31:  # rounding carried into the next power of two
        m0, exponent = 2**30, exponent + 1
    shift = 31 - exponent
    if shift < 1:
        raise ValueError(f"multiplier {real!r} is too large for a right-shift rescale (needs < 2**30)")
    return m0, shift


def rounding_right_shift(x: torch.Tensor, shift: int) -> torch.Tensor:
    """``round(x / 2**shift)`` for integer tensors, ties rounded up, using only an add and a shift."""
    shift = positive_int("shift", shift)
    return (x + (1 << (shift - 1))) >> shift


def _check_codes(q: torch.Tensor, grid: Int8Grid, what: str) -> torch.Tensor:
    if not isinstance(q, torch.Tensor):
        raise TypeError(f"{what} must be an integer tensor of codes, got {type(q).__name__}")
    if q.dtype.is_floating_point or q.dtype == torch.bool:
        raise ValueError(f"{what} must be an integer tensor of codes, got {getattr(q, 'dtype', type(q))}")
    q = q.to(torch.int64)
    if q.numel() and (int(q.min()) < grid.qmin or int(q.max()) > grid.qmax):
        raise ValueError(f"{what} has codes outside the grid's [{grid.qmin}, {grid.qmax}]")
    return q


def h_swish_int8(q: torch.Tensor, grid_in: Int8Grid, grid_out: Int8Grid) -> torch.Tensor:
    """h-swish of int8 codes with integer operations only; returns output codes (int64).

    With ``x = s_in * (q - z_in)``: ``ReLU6(x + 3)`` is ``s_in * clamp(q - z_in + T, 0, S)`` where
    ``T = 3 / s_in`` and ``S = 6 / s_in`` are whole numbers of steps when +-3 and 6 lie on the
    grid (otherwise they are rounded here, which moves the kinks). The product of the two
    integers is rescaled by ``s_in**2 / (6 * s_out)`` with :func:`fixed_point_multiplier`.
    """
    q = _check_codes(q, grid_in, "q")
    three = round(grid_in.steps(3.0))
    six = round(grid_in.steps(6.0))
    centred = q - grid_in.zero_point
    product = centred * (centred + three).clamp(0, six)  # fits easily in int32 for 8-bit grids
    m0, shift = fixed_point_multiplier(grid_in.scale**2 / (6.0 * grid_out.scale))
    out = rounding_right_shift(product * m0, shift) + grid_out.zero_point
    return out.clamp(grid_out.qmin, grid_out.qmax)


def plan_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """PLAN, a piecewise-linear sigmoid with power-of-two slopes (Amin, Curtis & Hayes-Gill, 1997).

    For ``|x| >= 5``: 1; ``2.375 <= |x| < 5``: ``|x|/32 + 0.84375``; ``1 <= |x| < 2.375``:
    ``|x|/8 + 0.625``; ``|x| < 1``: ``|x|/4 + 0.5``; negative inputs use ``1 - f(|x|)``.
    Its largest deviation from the sigmoid is about 0.019.
    """
    a = x.abs()
    y = torch.where(
        a >= 5.0,
        torch.ones_like(a),
        torch.where(a >= 2.375, a / 32 + 0.84375, torch.where(a >= 1.0, a / 8 + 0.625, a / 4 + 0.5)),
    )
    return torch.where(x >= 0, y, 1.0 - y)


def swish_int8(
    q: torch.Tensor, grid_in: Int8Grid, grid_out: Int8Grid, sigmoid: str = "lut"
) -> torch.Tensor:
    """swish of int8 codes with the sigmoid obtained as an int8 kernel would; output codes (int64).

    ``sigmoid="lut"`` tabulates the exact sigmoid for every input code (256 entries for int8),
    ``"plan"`` uses :func:`plan_sigmoid`. The product ``x * sigmoid`` is rounded once to the
    output grid.
    """
    if sigmoid not in SIGMOID_APPROXIMATIONS:
        raise ValueError(f"sigmoid must be one of {SIGMOID_APPROXIMATIONS}, got {sigmoid!r}")
    q = _check_codes(q, grid_in, "q")
    x = grid_in.dequantize(q)
    if sigmoid == "lut":
        table = torch.sigmoid(grid_in.dequantize(grid_in.codes()))
        s = table[q - grid_in.qmin]
    else:
        s = plan_sigmoid(x)
    return grid_out.quantize(x * s)


#: The kernels :func:`int8_error` knows: name -> (integer kernel, float function it implements).
KERNELS: dict[str, tuple[Callable[[torch.Tensor, Int8Grid, Int8Grid], torch.Tensor], Callable]] = {
    "h_swish": (h_swish_int8, h_swish),
    "swish_lut": (lambda q, gi, go: swish_int8(q, gi, go, "lut"), swish),
    "swish_plan": (lambda q, gi, go: swish_int8(q, gi, go, "plan"), swish),
}


@dataclass(frozen=True)
class Int8Error:
    """How far an int8 kernel's outputs are from its float function, over every input code.

    Errors are measured against the float function at the *dequantized* input, so rounding the
    input (unavoidable, the same for every kernel) is not counted. ``*_lsb`` values are in output
    steps: rounding alone gives at most 0.5. ``off_codes`` counts inputs whose output code
    differs from the best possible one (the float value rounded to the nearest code).
    """

    kernel: str
    input_scale: float
    output_scale: float
    max_abs_error: float
    max_error_lsb: float
    rms_error_lsb: float
    off_codes: int
    codes: int


def _errors(
    kernel: str, grid_in: Int8Grid, grid_out: Int8Grid
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {sorted(KERNELS)}")
    int_kernel, float_fn = KERNELS[kernel]
    q = grid_in.codes()
    x = grid_in.dequantize(q)
    exact = float_fn(x)
    out = int_kernel(q, grid_in, grid_out)
    best = grid_out.quantize(exact)
    return x, grid_out.dequantize(out) - exact, (out != best)


def int8_error_curve(kernel: str, grid_in: Int8Grid, grid_out: Int8Grid) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, error_lsb)`` for every input code: the kernel's output minus the float value, in output steps."""
    x, err, _ = _errors(kernel, grid_in, grid_out)
    return x, err / grid_out.scale


def int8_error(kernel: str, grid_in: Int8Grid, grid_out: Int8Grid) -> Int8Error:
    """Measure one of :data:`KERNELS` over every code of ``grid_in``; see :class:`Int8Error`."""
    _, err, off = _errors(kernel, grid_in, grid_out)
    lsb = err / grid_out.scale
    return Int8Error(
        kernel=kernel,
        input_scale=grid_in.scale,
        output_scale=grid_out.scale,
        max_abs_error=float(err.abs().max()),
        max_error_lsb=float(lsb.abs().max()),
        rms_error_lsb=float(lsb.pow(2).mean().sqrt()),
        off_codes=int(off.sum()),
        codes=grid_in.levels,
    )


#: The grid the book uses: steps of 6/128 = 3/64, so -3, +3 and 6 are whole numbers of steps
#: (64 and 128), and the h-swish rescale s**2 / (6 s) = 1/128 is an exact power of two.
ROUND_GRID = Int8Grid(scale=6.0 / 128)
#: A max-calibrated grid for the same range: 6 maps to code 127, so 3 is 63.5 steps (off the grid).
CALIBRATED_GRID = Int8Grid.symmetric(6.0)


def int8_study(
    grids: dict[str, Int8Grid] | None = None,
    kernels: tuple[str, ...] = ("swish_lut", "swish_plan", "h_swish"),
) -> dict[tuple[str, str], Int8Error]:
    """Every kernel on every grid (input and output on the same grid), keyed ``(grid name, kernel)``.

    ``grids`` defaults to ``{"round": ROUND_GRID, "calibrated": CALIBRATED_GRID}``.
    """
    grids = {"round": ROUND_GRID, "calibrated": CALIBRATED_GRID} if grids is None else grids
    if not grids:
        raise ValueError("grids must name at least one Int8Grid")
    for kernel in kernels:
        if kernel not in KERNELS:
            raise ValueError(f"unknown kernel {kernel!r}; choose from {sorted(KERNELS)}")
    return {(name, k): int8_error(k, g, g) for name, g in grids.items() for k in kernels}
