"""How long smooth and hard activations take on this CPU, per million values.

The "hard" in h-swish is about cost: ``ReLU6(x + 3) / 6`` needs an add, a clamp and a multiply,
while the sigmoid needs an exponential and a division. This module times both families on the
machine it runs on, in two forms each: the eager composition of torch operations a reader would
write, and the fused PyTorch kernel, plus this library's own functions. It measures with
:func:`mobilenet_lib.benchmark.time_callable` (warm-up, median of repeats, fixed threads), like
every timing in the book; the numbers are one machine's, never universal constants.

Example::

    rows = time_activations(n=1_000_000, threads=2)
    [(r.name, r.ms_per_million) for r in rows]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mobilenet_lib import activations
from mobilenet_lib.benchmark import Timing, time_callable

__all__ = ["ActivationTiming", "activation_implementations", "time_activations"]


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
    gets an easy constant region. ``threads`` fixes torch's thread count while timing.
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
