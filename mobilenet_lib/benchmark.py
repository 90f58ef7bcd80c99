"""Timing on the machine at hand: warm-up, median of repeats, fixed threads, peak matmul GFLOP/s.

Wall-clock time is the one cost a reader cannot compute on paper, and it is easy to measure badly.
This module measures it the same way everywhere in the book (and in the deploy scripts):

* **warm-up** calls first, so one-off costs (allocations, oneDNN kernel selection, lazy
  initialisation) are not timed;
* **repeats**, each timing ``number`` back-to-back calls with the garbage collector off (Python's
  :mod:`timeit`), summarised by the **median** and the interquartile range, which shrug off the
  odd run that another process on a shared machine disturbed;
* a **fixed number of threads** (``torch.set_num_threads``) for the duration of the measurement,
  restored afterwards, because a time means little without it.

:func:`time_callable` times anything; :func:`time_model` times a model's forward pass in eval mode
under ``torch.inference_mode``; :func:`matmul_gflops` measures what the CPU reaches on one large
matrix product (a practical peak to compare models against) and :func:`achieved_gflops` turns a
model's mult-adds and time into the same unit. :func:`machine_info` records what a result file
must say about where it was measured (CPU model, threads, torch version, date, load average).

Example::

    >>> t = time_model(model, (1, 3, 224, 224), repeats=20, warmup=5, threads=2)
    >>> t.median_ms, t.iqr_ms
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import statistics
import timeit
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mobilenet_lib.training import eval_mode
from mobilenet_lib.validation import int_sequence, integer, number, positive_int
from mobilenet_lib.validation import shape as shape_

__all__ = [
    "Timing",
    "MatmulPeak",
    "torch_threads",
    "time_callable",
    "time_model",
    "matmul_gflops",
    "achieved_gflops",
    "cpu_model",
    "machine_info",
    "load_warning",
    "ModelLatency",
    "measure_models",
    "save_results",
    "load_results",
    "group_seeds",
]


# --------------------------------------------------------------------------------------------
# Argument checking
# --------------------------------------------------------------------------------------------


def _count(name: str, value: Any, minimum: int = 1) -> int:
    return integer(name, value, low=minimum)


def _threads(value: Any) -> int | None:
    return None if value is None else positive_int("threads", value)


# --------------------------------------------------------------------------------------------
# The result of a measurement
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Seconds per call, one value per repeat, with the settings that produced them.

    ``times_s[i]`` is the mean time of one call within repeat ``i`` (each repeat ran ``number``
    calls back to back). ``median_s`` is the headline number; ``iqr_s`` (interquartile range)
    says how much the repeats disagreed.
    """

    times_s: tuple[float, ...]
    number: int
    warmup: int
    threads: int
    label: str = ""

    def __post_init__(self) -> None:
        times = tuple(float(t) for t in self.times_s)
        if not times or any(not math.isfinite(t) or t < 0 for t in times):
            raise ValueError(f"times_s must be a non-empty sequence of times >= 0, got {self.times_s!r}")
        object.__setattr__(self, "times_s", times)
        _count("number", self.number)
        _count("warmup", self.warmup, minimum=0)
        _count("threads", self.threads)

    @property
    def repeats(self) -> int:
        return len(self.times_s)

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def min_s(self) -> float:
        return min(self.times_s)

    @property
    def mean_s(self) -> float:
        return statistics.fmean(self.times_s)

    @property
    def iqr_s(self) -> float:
        """Interquartile range of the repeats (0 with fewer than two repeats)."""
        if len(self.times_s) < 2:
            return 0.0
        q1, _, q3 = statistics.quantiles(self.times_s, n=4, method="inclusive")
        return q3 - q1

    @property
    def median_ms(self) -> float:
        return 1e3 * self.median_s

    @property
    def iqr_ms(self) -> float:
        return 1e3 * self.iqr_s

    def per_second(self, items: int = 1) -> float:
        """Throughput: ``items`` processed per call divided by the median time (items/s)."""
        items = _count("items", items)
        return items / self.median_s if self.median_s > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict, summary statistics included (see :meth:`from_dict`)."""
        return {
            "label": self.label,
            "median_ms": self.median_ms,
            "iqr_ms": self.iqr_ms,
            "min_ms": 1e3 * self.min_s,
            "repeats": self.repeats,
            "number": self.number,
            "warmup": self.warmup,
            "threads": self.threads,
            "times_ms": [1e3 * t for t in self.times_s],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Timing:
        """Inverse of :meth:`to_dict` (summary fields are recomputed, not trusted)."""
        try:
            return cls(
                times_s=tuple(t / 1e3 for t in d["times_ms"]),
                number=d["number"],
                warmup=d["warmup"],
                threads=d["threads"],
                label=d.get("label", ""),
            )
        except KeyError as err:
            raise ValueError(f"a Timing dict needs the key {err.args[0]!r}; got keys {sorted(d)}") from None

    def __str__(self) -> str:
        name = f"{self.label}: " if self.label else ""
        return (
            f"{name}{_ms(self.median_ms)} ms (median of {self.repeats}, IQR {_ms(self.iqr_ms)} ms, "
            f"{self.threads} thread{'s' if self.threads != 1 else ''})"
        )


def _ms(x: float) -> str:
    """Milliseconds with three significant figures, never in exponent notation (1234 -> '1,234')."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run the block with ``torch.set_num_threads(threads)``; restore the old value afterwards.

    ``None`` keeps the current setting. Yields the number of threads in force.
    """
    threads = _threads(threads)
    before = torch.get_num_threads()
    if threads is not None and threads != before:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


#: Whether :func:`time_callable` (and so every timing in this library) first calls
#: :func:`keep_freed_memory`. Set it to False before any timing to measure with glibc's defaults
#: (``benchmarks/deploy.py --allocator default`` does).
KEEP_FREED_MEMORY = True


def time_callable(
    fn: Callable[[], Any],
    *,
    repeats: int = 20,
    number: int = 1,
    warmup: int = 3,
    threads: int | None = None,
    synchronize: Callable[[], Any] | None = None,
    label: str = "",
) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` timings of ``number`` calls each.

    Uses :class:`timeit.Timer` (``time.perf_counter``, garbage collection off while timing).
    While :data:`KEEP_FREED_MEMORY` is true (the default) it first calls :func:`keep_freed_memory`,
    so that freed activations are reused rather than page-faulted in again on every call.
    ``threads`` fixes torch's intra-op thread count for the whole measurement (``None``: leave it).
    ``synchronize`` is called after every call inside the timed region, for asynchronous devices
    (pass ``torch.cuda.synchronize`` when timing CUDA work); CPU work needs none.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable with no arguments, got {type(fn).__name__}")
    if synchronize is not None and not callable(synchronize):
        raise TypeError(f"synchronize must be callable or None, got {type(synchronize).__name__}")
    repeats, number = _count("repeats", repeats), _count("number", number)
    warmup = _count("warmup", warmup, minimum=0)

    def call() -> None:
        fn()
        if synchronize is not None:
            synchronize()

    if KEEP_FREED_MEMORY:
        keep_freed_memory()  # time the work, not the page faults of re-fetched memory
    timer = timeit.Timer(call)
    with torch_threads(threads) as in_force:
        for _ in range(warmup):
            call()
        totals = timer.repeat(repeat=repeats, number=number)
    return Timing(tuple(t / number for t in totals), number=number, warmup=warmup, threads=in_force, label=label)


def keep_freed_memory() -> bool:
    """Ask glibc's allocator to keep freed multi-megabyte blocks instead of returning them to the OS.

    By default glibc gives a large freed block back to the operating system (``munmap``, or
    trimming the heap) and page-faults fresh memory in on the next allocation. Eager PyTorch frees
    every intermediate tensor as soon as it is used, so a timing can end up measuring page faults:
    ``x * relu6(x + 3) / 6`` on a million values took 4.5-6 ms in some processes and 0.7 ms in
    others, depending only on the allocator's history, and MobileNet V2 at batch 16 (whose
    expanded activations are tens of megabytes) ran 1.2 to 1.7 times slower in eager mode in our
    runs (``benchmarks/results/deploy_default_allocator.md`` holds the latest).
    Setting the mmap threshold to 32 MiB and the trim threshold to 1 GiB makes every
    process behave like a long-running one. The setting lasts for the rest of the process (as for
    a server, whose allocator is always warm; jemalloc or tcmalloc, which inference guides
    recommend, behave similarly). Returns False where there is no glibc (then nothing changes).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = getattr(libc, "mallopt", None)
    except OSError:
        mallopt = None
    if mallopt is None:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 1 << 30))


def time_model(
    model: nn.Module,
    inputs: Sequence[int] | torch.Tensor = (1, 3, 224, 224),
    *,
    repeats: int = 20,
    number: int = 1,
    warmup: int = 3,
    threads: int | None = None,
    seed: int = 0,
    label: str = "",
) -> Timing:
    """Time one forward pass of ``model`` in eval mode under ``torch.inference_mode``.

    ``inputs`` is either a ready tensor or a shape (batch first), for which a seeded standard
    normal tensor is made on the model's device with its dtype. Submodules' training flags are
    restored afterwards. CUDA models are synchronised after each call so that the time is the
    device's, not the launch's.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    if isinstance(inputs, torch.Tensor):
        x = inputs
    else:
        shape = shape_("inputs", inputs)
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(shape, generator=g, dtype=dtype).to(device)
    sync = torch.cuda.synchronize if x.device.type == "cuda" else None

    with eval_mode(model), torch.inference_mode():
        return time_callable(
            lambda: model(x),
            repeats=repeats,
            number=number,
            warmup=warmup,
            threads=threads,
            synchronize=sync,
            label=label,
        )


@dataclass(frozen=True)
class MatmulPeak:
    """What one ``n×n @ n×n`` matrix product reaches: 2·n³ FLOPs in ``timing.median_s``."""

    n: int
    dtype: str
    gflops: float
    timing: Timing = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "dtype": self.dtype, "gflops": self.gflops, "timing": self.timing.to_dict()}


def matmul_gflops(
    n: int = 2048,
    *,
    dtype: torch.dtype = torch.float32,
    repeats: int = 5,
    warmup: int = 1,
    threads: int | None = None,
    seed: int = 0,
) -> MatmulPeak:
    """GFLOP/s of a large dense matrix product on the CPU: a practical peak for this machine.

    A big square ``torch.mm`` is the friendliest workload there is (the BLAS keeps every core busy
    and the data in cache); a network's achieved GFLOP/s (:func:`achieved_gflops`) is measured
    against it. FLOPs are counted as 2·n³ (one multiply and one add per mult-add).
    """
    n = positive_int("n", n)
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype, got {dtype!r}")
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=g).to(dtype)
    b = torch.randn(n, n, generator=g).to(dtype)
    out = torch.empty(n, n, dtype=dtype)
    with torch.inference_mode():
        timing = time_callable(
            lambda: torch.mm(a, b, out=out),
            repeats=repeats,
            warmup=warmup,
            threads=threads,
            label=f"matmul {n}x{n}",
        )
    return MatmulPeak(n=n, dtype=str(dtype).removeprefix("torch."), gflops=2 * n**3 / timing.median_s / 1e9, timing=timing)


def achieved_gflops(macs: int | float, seconds: float) -> float:
    """GFLOP/s a workload of ``macs`` mult-adds reached in ``seconds``: 2·macs / seconds / 1e9."""
    macs = number("macs", macs, low=0.0)
    seconds = number("seconds", seconds, low=0.0, low_open=True)
    return 2.0 * float(macs) / float(seconds) / 1e9


# --------------------------------------------------------------------------------------------
# Whole models: costs and latency side by side
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelLatency:
    """A model's size, its mult-adds per image and its forward time at several batch sizes.

    ``macs`` are per image at ``resolution``; ``timings[b]`` times one forward pass of a batch of
    ``b`` images.
    """

    name: str
    params: int
    macs: int
    resolution: int
    timings: Mapping[int, Timing]

    def ms_per_image(self, batch: int) -> float:
        """Median milliseconds per image at batch size ``batch``."""
        return self._timing(batch).median_ms / batch

    def gflops(self, batch: int) -> float:
        """Achieved GFLOP/s at batch size ``batch``: 2 · macs · batch / median time."""
        return achieved_gflops(self.macs * batch, self._timing(batch).median_s)

    def _timing(self, batch: int) -> Timing:
        if batch not in self.timings:
            raise ValueError(f"{self.name} was timed at batch sizes {sorted(self.timings)}, not {batch!r}")
        return self.timings[batch]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": self.params,
            "macs": self.macs,
            "resolution": self.resolution,
            "timings": {str(b): t.to_dict() for b, t in sorted(self.timings.items())},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelLatency:
        try:
            return cls(
                name=d["name"],
                params=int(d["params"]),
                macs=int(d["macs"]),
                resolution=int(d["resolution"]),
                timings={int(b): Timing.from_dict(t) for b, t in d["timings"].items()},
            )
        except KeyError as err:
            raise ValueError(f"a ModelLatency dict needs the key {err.args[0]!r}") from None


def measure_models(
    models: Sequence[str] | Mapping[str, Callable[[], nn.Module]],
    *,
    batch_sizes: Sequence[int] = (1, 16),
    resolution: int = 224,
    in_channels: int = 3,
    repeats: int = 20,
    warmup: int = 3,
    threads: int | None = None,
    seed: int = 0,
) -> list[ModelLatency]:
    """Params, mult-adds and forward time of each model, one :class:`ModelLatency` per model.

    ``models`` is a list of names for :func:`mobilenet_lib.models.create_model` or a mapping
    name -> zero-argument builder. Each model is built with ``torch.manual_seed(seed)`` (without
    disturbing the caller's generator), counted once with
    :func:`mobilenet_lib.costs.count_macs` at ``resolution``, then timed at every batch size with
    :func:`time_model`.
    """
    from mobilenet_lib.costs import (  # costs imports nothing from here
        count_macs,
        count_params,
    )
    from mobilenet_lib.models import create_model

    if isinstance(models, Mapping):
        builders = dict(models)
    elif isinstance(models, Sequence) and not isinstance(models, (str, bytes)):
        builders = {name: (lambda name=name: create_model(name)) for name in models}
    else:
        raise TypeError(f"models must be a list of model names or a mapping name -> builder, got {models!r}")
    if not builders:
        raise ValueError("models must name at least one model")
    batches = list(int_sequence("batch_sizes", batch_sizes))
    resolution, in_channels = _count("resolution", resolution), _count("in_channels", in_channels)
    seed = _count("seed", seed, minimum=0)

    out = []
    for name, build in builders.items():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build()
        if not isinstance(model, nn.Module):
            raise TypeError(f"the builder for {name!r} returned {type(model).__name__}, not an nn.Module")
        macs = count_macs(model, (1, in_channels, resolution, resolution))
        timings = {
            b: time_model(
                model,
                (b, in_channels, resolution, resolution),
                repeats=repeats,
                warmup=warmup,
                threads=threads,
                seed=seed,
                label=f"{name} batch {b}",
            )
            for b in batches
        }
        out.append(ModelLatency(name, count_params(model), macs, resolution, timings))
    return out


# --------------------------------------------------------------------------------------------
# Where a result came from
# --------------------------------------------------------------------------------------------


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux, ``platform`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def instruction_sets() -> dict[str, Any]:
    """Which SIMD kernels this process gets: the CPU's vector extensions (from ``/proc/cpuinfo``),
    the ATen kernel level torch picked, and any override in ``ATEN_CPU_CAPABILITY`` /
    ``ONEDNN_MAX_CPU_ISA``. Training and timing results depend on these."""
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")
    return {
        "cpu_flags": [f for f in wanted if f in flags],
        "aten_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "ATEN_CPU_CAPABILITY": os.environ.get("ATEN_CPU_CAPABILITY"),
        "ONEDNN_MAX_CPU_ISA": os.environ.get("ONEDNN_MAX_CPU_ISA"),
    }


def machine_info(threads: int | None = None) -> dict[str, Any]:
    """What a benchmark result must record about its machine.

    CPU model, its instruction sets (:func:`instruction_sets`), logical CPUs, the torch threads the
    measurement used (``threads``, or the current setting), torch / Python / OS versions, the UTC
    date and time, and the 1/5/15-minute load
    averages (a loaded machine gives slower, noisier numbers; the load says how much to trust them).
    """
    threads = _threads(threads)
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):  # not available on every platform
        load = None
    return {
        "cpu_model": cpu_model(),
        "instruction_sets": instruction_sets(),
        "logical_cpus": os.cpu_count(),
        "threads": threads if threads is not None else torch.get_num_threads(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_average_1_5_15": load,
    }


def load_warning(machine: Mapping[str, Any], busy: float = 0.5) -> str:
    """A sentence warning that a result was timed on a busy machine, or ``""`` if it was not.

    ``machine`` is a :func:`machine_info` record. The machine counts as busy when the 1-minute load
    average before the run was at least ``busy`` times its logical CPUs (other processes then
    compete for the cores the benchmark's threads need). Without a recorded load the answer is a
    warning too: nothing says the numbers can be trusted.
    """
    busy = number("busy", busy, low=0.0, low_open=True)  # a fraction of the logical CPUs
    if not isinstance(machine, Mapping) or "logical_cpus" not in machine:
        raise ValueError(f"machine must be a machine_info() record with 'logical_cpus', got {machine!r}")
    load, cpus = machine.get("load_average_1_5_15"), machine["logical_cpus"] or 1
    if not load:
        return "The load average was not recorded: check these timings on an idle machine before quoting them."
    if load[0] < busy * cpus:
        return ""
    return (
        f"The machine was busy (1-minute load average {load[0]:g} on {cpus} logical CPUs): other processes "
        "competed for the cores, so these timings are slower and noisier than on an idle machine. "
        "Re-run the script on an idle machine before quoting them."
    )


# --------------------------------------------------------------------------------------------
# Result files
# --------------------------------------------------------------------------------------------

_RESULT_KEYS = ("machine", "config", "results")


def save_results(
    path: str | os.PathLike[str],
    results: Any,
    *,
    machine: Mapping[str, Any],
    config: Mapping[str, Any],
) -> Path:
    """Write ``{"machine": ..., "config": ..., "results": ...}`` as indented JSON; return the path."""
    path = Path(path)
    payload = {"machine": dict(machine), "config": dict(config), "results": results}
    text = json.dumps(payload, indent=1, sort_keys=False, allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def load_results(
    path: str | os.PathLike[str],
    *,
    sections: Sequence[str] = _RESULT_KEYS,
    made_by: str = "the benchmark script",
) -> dict[str, Any]:
    """Read a committed results file (JSON) and check that it has the expected top-level ``sections``
    (default: the ``machine``, ``config`` and ``results`` that :func:`save_results` writes).

    Raises:
        ValueError: if the file is missing (the message says to run ``made_by``), is not JSON, or
            lacks a section.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no results file at {path}; run {made_by} to create it")
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(payload, dict) or any(k not in payload for k in sections):
        raise ValueError(f"{path} is not a results file of {made_by}: it needs the keys {list(sections)}")
    return payload


def group_seeds(
    runs: Sequence[Mapping[str, Any]],
    key: Sequence[str],
    same: Sequence[str] = (),
    value: str = "test_accuracy",
) -> list[tuple[Mapping[str, Any], tuple[float, ...]]]:
    """Group the per-seed runs of a committed results file by configuration.

    Runs whose ``key`` fields are equal form one configuration (in order of first appearance);
    their ``same`` fields (a cost, say) must agree. Returns, per configuration, its first run and
    the runs' ``value`` in seed order.

    Raises:
        ValueError: if a run lacks one of the fields, or the runs of a configuration disagree on
            a ``same`` field.
    """
    needed = [*key, *same, "seed", value]
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for i, run in enumerate(runs):
        missing = [k for k in needed if k not in run]
        if missing:
            raise ValueError(f"run {i} lacks {missing}; every run needs {needed}")
        groups.setdefault(tuple(run[k] for k in key), []).append(run)
    out = []
    for config, group in groups.items():
        for field_name in same:
            seen = sorted({repr(r[field_name]) for r in group})
            if len(seen) != 1:
                shown = ", ".join(f"{k}={v!r}" for k, v in zip(key, config))
                raise ValueError(f"runs of {shown} disagree on {field_name}: {', '.join(seen)}")
        out.append((group[0], tuple(float(r[value]) for r in sorted(group, key=lambda r: r["seed"]))))
    return out
