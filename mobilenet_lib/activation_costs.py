"""What activations cost: time per value on this CPU, and how many values a network activates.

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
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mobilenet_lib import activations
from mobilenet_lib.benchmark import Timing, time_callable

__all__ = ["ActivationTiming", "activation_implementations", "time_activations", "ActivationSite", "activation_sites"]


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
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
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
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(input_size, (str, bytes)) or not isinstance(input_size, Sequence) or len(input_size) != 4:
        raise ValueError(f"input_size must be (batch, channels, height, width), got {input_size!r}")
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in input_size):
        raise ValueError(f"input_size must hold positive ints, got {input_size!r}")
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
