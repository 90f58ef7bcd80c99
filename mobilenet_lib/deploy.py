"""Preparing a trained network for fast inference on a CPU: fold BatchNorm, go channels-last, compile.

A network trained with BatchNorm spends part of its inference time on arithmetic that is known
in advance. In eval mode a BatchNorm layer is a fixed per-channel affine map,

    y = gamma * (z - mu) / sqrt(var + eps) + beta,

and when ``z`` is the output of a convolution ``z = W * x + b`` the two compose into one
convolution with

    W' = W * s,   b' = (b - mu) * s + beta,   where  s = gamma / sqrt(var + eps)  per output channel.

:func:`fold_batchnorm` finds every convolution whose output feeds only a BatchNorm and replaces
the pair by that single convolution (the weights come from PyTorch's own
``torch.nn.utils.fusion.fuse_conv_bn_weights``); the result computes the same function in eval
mode, up to float rounding, with one layer fewer per unit.

:func:`prepare_for_inference` chains the steps that pay on a CPU:

1. an eval-mode **copy** of the model (the caller's model is never touched), gradients off;
2. BatchNorm **folding** (above);
3. **channels-last** memory format (NHWC): oneDNN's convolution kernels, the depthwise ones in
   particular, run on NHWC data without reordering it first;
4. optionally **torch.compile** (the inductor backend, with *freezing*: weights become constants,
   so inductor can fold them, pre-pack them for its kernels and fuse the elementwise work into the
   convolutions). Compilation costs tens of seconds on two cores at the first call of every new
   input shape; it pays for a model that serves many requests, not for a notebook cell;
5. or, instead of 4, ``onednn_graph``: the model traced to TorchScript, frozen, and run with
   PyTorch's oneDNN Graph fuser (``torch.jit.enable_onednn_fusion``), which hands whole chains of
   convolutions, activations and additions to oneDNN as fused partitions that keep oneDNN's own
   blocked memory layout between their layers. It traces once per input shape (a fraction of a
   second) and was the fastest float32 path of PyTorch in ``benchmarks/deploy.py``; TorchScript is
   deprecated upstream, so this path lasts as long as PyTorch keeps it.

How convolution/BatchNorm pairs are found: by data flow, with ``torch.fx`` symbolic tracing
(a convolution qualifies when its output goes to the BatchNorm and nowhere else, and each module
is called once; the library's models and blocks all trace). A submodule that ``torch.fx`` cannot
trace (for example one that checks its input's type in Python) is searched through its own
children instead, so a pair is missed only when it is wired together inside untraceable code; a
missed pair is left as it was, which keeps the model exact, just not as fast.
:func:`find_conv_bn_pairs` lists what was found.

Where the time goes: :func:`profile_layers` times every convolution and linear layer of a model
with ``torch.profiler`` and sets each layer's share of the time beside its share of the
mult-adds (from :func:`mobilenet_lib.costs.layer_table`), summed per kind of layer.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.nn.utils.fusion import fuse_conv_bn_weights

from mobilenet_lib.training import eval_mode
from mobilenet_lib.validation import flag, integer, positive_int

__all__ = [
    "find_conv_bn_pairs",
    "fold_conv_bn",
    "fold_batchnorm",
    "InferenceModel",
    "prepare_for_inference",
    "max_relative_error",
    "LayerLatency",
    "KindLatency",
    "LatencyProfile",
    "profile_layers",
]


def _check_module(model: Any, name: str = "model") -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")
    return model


def _is_conv(module: nn.Module) -> bool:
    # Transposed convolutions fold differently (their weight's channel axes are swapped); they do
    # not occur in the book's classifiers, so they are left alone.
    return isinstance(module, _ConvNd) and not module.transposed


def _is_foldable_bn(module: nn.Module) -> bool:
    # A BatchNorm without running statistics normalises with batch statistics even in eval
    # mode: it is not a fixed affine map and cannot be folded.
    return isinstance(module, _BatchNorm) and module.running_mean is not None and module.running_var is not None


# --------------------------------------------------------------------------------------------
# Finding the pairs
# --------------------------------------------------------------------------------------------


def _pairs_in_graph(module: nn.Module, graph: torch.fx.Graph, prefix: str) -> list[tuple[str, str]]:
    calls = Counter(n.target for n in graph.nodes if n.op == "call_module")
    pairs = []
    for node in graph.nodes:
        if node.op != "call_module" or not _is_foldable_bn(module.get_submodule(node.target)):
            continue
        source = node.args[0] if node.args else None
        if not (isinstance(source, torch.fx.Node) and source.op == "call_module"):
            continue
        conv = module.get_submodule(source.target)
        if (
            _is_conv(conv)
            and conv.out_channels == module.get_submodule(node.target).num_features
            and len(source.users) == 1  # the convolution's output feeds the BatchNorm only
            and calls[source.target] == 1  # neither module is shared between call sites
            and calls[node.target] == 1
        ):
            pairs.append((prefix + source.target, prefix + node.target))
    return pairs


def _find_pairs(module: nn.Module, prefix: str) -> list[tuple[str, str]]:
    if not any(True for _ in module.children()):
        return []
    try:
        graph = torch.fx.Tracer().trace(module)
    except Exception:  # noqa: BLE001 -- any tracing failure means "look inside the children instead"
        pairs: list[tuple[str, str]] = []
        for name, child in module.named_children():
            pairs += _find_pairs(child, f"{prefix}{name}.")
        return pairs
    return _pairs_in_graph(module, graph, prefix)


def find_conv_bn_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """Qualified names ``(conv, batchnorm)`` of every convolution that :func:`fold_batchnorm` folds.

    A pair qualifies when the convolution (``nn.Conv1d/2d/3d``, not transposed) sends its output
    to the BatchNorm and nowhere else, the BatchNorm keeps running statistics, and each module is
    called exactly once. Found by data flow (``torch.fx``), in the order the forward pass meets
    them. The model is only read.

    Raises:
        ValueError: if ``model`` is not an ``nn.Module``.
    """
    return _find_pairs(_check_module(model), "")


# --------------------------------------------------------------------------------------------
# Folding
# --------------------------------------------------------------------------------------------


def fold_conv_bn(conv: nn.Module, bn: nn.Module) -> nn.Module:
    """One convolution computing ``bn(conv(x))`` of the eval-mode pair: a new module, inputs untouched.

    ``W' = W * s`` and ``b' = (b - running_mean) * s + beta`` with
    ``s = gamma / sqrt(running_var + eps)``, per output channel (PyTorch's
    ``torch.nn.utils.fusion.fuse_conv_bn_weights``); the BatchNorm's running statistics are used
    whatever its training flag. The result always has a bias.

    Raises:
        ValueError: if ``conv`` is not a (non-transposed) convolution, ``bn`` not a BatchNorm with
            running statistics, or their channel counts differ.
    """
    if not isinstance(conv, nn.Module) or not _is_conv(conv):
        raise ValueError(f"conv must be an nn.Conv1d/2d/3d (not transposed), got {type(conv).__name__}")
    if not isinstance(bn, nn.Module) or not _is_foldable_bn(bn):
        raise ValueError(
            f"bn must be a BatchNorm layer with running statistics (track_running_stats=True), "
            f"got {type(bn).__name__}"
        )
    if conv.out_channels != bn.num_features:
        raise ValueError(
            f"the convolution has {conv.out_channels} output channels but the BatchNorm normalises "
            f"{bn.num_features}: they cannot be folded"
        )
    fused = copy.deepcopy(conv)
    with torch.no_grad():
        fused.weight, fused.bias = fuse_conv_bn_weights(
            conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias
        )
    return fused


def _replace(root: nn.Module, qualified_name: str, new: nn.Module) -> None:
    parent_name, _, child_name = qualified_name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child_name, new)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every foldable BatchNorm merged into its convolution.

    Each pair listed by :func:`find_conv_bn_pairs` becomes one convolution (:func:`fold_conv_bn`)
    and the BatchNorm becomes ``nn.Identity``, so the module tree keeps its names and shape (a
    ``state_dict`` loses only the BatchNorm entries). The copy computes what ``model.eval()``
    computes, to float rounding. It is meant for inference: training it would train a network
    without BatchNorm. ``model`` itself is not modified.

    Raises:
        ValueError: if ``model`` is not an ``nn.Module``.
    """
    folded = copy.deepcopy(_check_module(model)).eval()
    for conv_name, bn_name in find_conv_bn_pairs(folded):
        _replace(folded, conv_name, fold_conv_bn(folded.get_submodule(conv_name), folded.get_submodule(bn_name)))
        _replace(folded, bn_name, nn.Identity())
    return folded


# --------------------------------------------------------------------------------------------
# The whole preparation
# --------------------------------------------------------------------------------------------


def _freezing(on: bool) -> contextlib.AbstractContextManager[object]:
    """Inductor's ``freezing`` switched on while a compiled model runs (and so compiles).

    Passing ``options={"freezing": True}`` to ``torch.compile`` is not enough: TorchDynamo reads
    the global ``torch._inductor.config.freezing`` when it traces, to decide whether the weights
    become constants (pytorch/pytorch#139272), and without that the weights stay graph inputs,
    are not pre-packed for oneDNN, and no activation is fused into its convolution. The patch
    lasts only for the call, so the caller's other compiled code is unaffected.
    """
    if not on:
        return contextlib.nullcontext()
    import torch._inductor.config as inductor_config  # imported late: inductor is heavy to import

    return inductor_config.patch(freezing=True)


@contextlib.contextmanager
def _onednn_fusion() -> Iterator[None]:
    """PyTorch's oneDNN Graph fuser on for the call, then back as it was (it is a global switch)."""
    before = torch.jit.onednn_fusion_enabled()
    torch.jit.enable_onednn_fusion(True)
    try:
        yield
    finally:
        torch.jit.enable_onednn_fusion(before)


class _OneDNNGraphRunner:
    """Runs a module through TorchScript with oneDNN Graph fusion, traced once per input shape.

    Tracing records one input shape, so each new (shape, dtype, memory layout) gets its own frozen
    trace; the profiling executor fuses on the runs after the first, so a new trace is run twice
    before it answers. Frozen weights are constants: as with inductor, later changes to the
    module's parameters are not seen.

    Where the fuser fails for a shape (in torch 2.13, with oneDNN's AVX-512 kernels, it cannot
    build a partition whose feature maps are 1 × 1, e.g. MobileNet V2 on 32 × 32 inputs: "could
    not create a primitive descriptor for the reorder primitive"; with its AVX2 kernels it can),
    that shape runs its trace without the fuser, with a warning; the result is the same function,
    just not fused. ``fused`` records, per shape, which it was.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.traces: dict[tuple[object, ...], torch.jit.ScriptModule] = {}
        self.fused: dict[tuple[object, ...], bool] = {}

    def _trace(self, x: torch.Tensor) -> torch.jit.ScriptModule:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript's deprecation and tracer notes
            return torch.jit.freeze(torch.jit.trace(self.model, x, check_trace=False).eval())

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"input must be a torch.Tensor, got {type(x).__name__}")
        key = (tuple(x.shape), x.dtype, x.is_contiguous(memory_format=torch.channels_last))
        if key not in self.traces:
            traced = self._trace(x)
            try:
                with _onednn_fusion():
                    traced(x)  # profiling run: the fuser rewrites the graph after it
                    out = traced(x)
            except RuntimeError as error:
                warnings.warn(f"oneDNN Graph could not fuse the model for input shape {tuple(x.shape)} "
                              f"({str(error).strip().splitlines()[-1][:120]}); running its TorchScript "
                              "trace unfused", RuntimeWarning, stacklevel=3)
                self.traces[key], self.fused[key] = self._trace(x), False
                return self.traces[key](x)
            self.traces[key], self.fused[key] = traced, True
            return out
        if not self.fused[key]:
            return self.traces[key](x)
        with _onednn_fusion():
            return self.traces[key](x)


class InferenceModel(nn.Module):
    """A prepared model: runs ``model`` without autograd, on channels-last input if asked.

    Built by :func:`prepare_for_inference`. ``model`` is the prepared (folded, channels-last)
    module; its ``state_dict`` is this module's. With ``compiled`` set, calls go through
    ``torch.compile(model)``, which treats the weights as constants (*freezing*):
    change them after the first call and the compiled code does not see it. Each new input shape
    compiles once more on first use.
    """

    def __init__(self, model: nn.Module, *, channels_last: bool, compiled: bool, onednn_graph: bool = False) -> None:
        super().__init__()
        self.model = _check_module(model)
        self.channels_last = flag("channels_last", channels_last)
        self.compiled = flag("compiled", compiled)
        self.onednn_graph = flag("onednn_graph", onednn_graph)
        if compiled and onednn_graph:
            raise ValueError("compiled and onednn_graph are two ways to run the model: set at most one")
        runner: Callable[[torch.Tensor], torch.Tensor] = model
        if compiled:
            runner = torch.compile(model, dynamic=False)
        elif onednn_graph:
            runner = _OneDNNGraphRunner(model)
        # A plain attribute, not a submodule: the compiled wrapper shares model's parameters and
        # would otherwise appear twice in state_dict() and modules().
        object.__setattr__(self, "_runner", runner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last and isinstance(x, torch.Tensor) and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        # Inductor freezes weights only when autograd is off; it also spares the bookkeeping.
        with torch.no_grad(), _freezing(self.compiled), warnings.catch_warnings():
            # inductor's int8 lowering copies a tensor with torch.tensor() while it compiles
            warnings.filterwarnings("ignore", message="To copy construct from a tensor", category=UserWarning)
            return self._runner(x)

    def extra_repr(self) -> str:
        return f"channels_last={self.channels_last}, compiled={self.compiled}, onednn_graph={self.onednn_graph}"


def prepare_for_inference(
    model: nn.Module,
    fold_bn: bool = True,
    channels_last: bool = True,
    compile: bool = False,  # noqa: A002 -- the name the book and the benchmark use
    onednn_graph: bool = False,
) -> InferenceModel:
    """A copy of ``model`` made fast for inference on a CPU; ``model`` itself is not modified.

    Steps (each can be switched off to measure what it buys): an eval-mode copy with gradients
    off; ``fold_bn``: :func:`fold_batchnorm`; ``channels_last``: weights and inputs in NHWC memory
    format; ``compile``: ``torch.compile`` with the inductor backend and weight freezing (slow to
    compile at the first call of each input shape; needs a C++ compiler); ``onednn_graph``:
    TorchScript tracing with oneDNN Graph fusion instead (traced at the first call of each input
    shape). The returned :class:`InferenceModel` gives the same outputs as ``model.eval()`` up to
    float rounding and runs its forward pass under ``torch.no_grad``.

    Raises:
        ValueError: if ``model`` is not an ``nn.Module``, a flag is not a bool, or both
            ``compile`` and ``onednn_graph`` are set.
    """
    _check_module(model)
    fold_bn = flag("fold_bn", fold_bn)
    channels_last = flag("channels_last", channels_last)
    compile = flag("compile", compile)
    onednn_graph = flag("onednn_graph", onednn_graph)
    if compile and onednn_graph:
        raise ValueError("compile and onednn_graph are two ways to run the model: set at most one")
    prepared = fold_batchnorm(model) if fold_bn else copy.deepcopy(model).eval()
    prepared.requires_grad_(False)
    if channels_last:
        prepared = prepared.to(memory_format=torch.channels_last)
    return InferenceModel(prepared, channels_last=channels_last, compiled=compile, onednn_graph=onednn_graph)


def max_relative_error(output: torch.Tensor, reference: torch.Tensor) -> float:
    """``max |output - reference| / max |reference|``: how far a prepared model's outputs drift.

    Relative to the largest reference value rather than elementwise, so that logits near zero do
    not blow the ratio up. Returns 0.0 when both are all zeros.

    Raises:
        TypeError: if the arguments are not tensors.
        ValueError: if they do not have the same, non-empty shape.
    """
    if not isinstance(output, torch.Tensor) or not isinstance(reference, torch.Tensor):
        raise TypeError(
            f"output and reference must both be tensors, got {type(output).__name__} and {type(reference).__name__}"
        )
    if output.shape != reference.shape or reference.numel() == 0:
        raise ValueError(
            f"need two non-empty tensors of one shape, got {tuple(output.shape)} and {tuple(reference.shape)}"
        )
    diff = (output.detach().double() - reference.detach().double()).abs().max().item()
    scale = reference.detach().double().abs().max().item()
    if scale == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return diff / scale


# --------------------------------------------------------------------------------------------
# Where the time goes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerLatency:
    """One ``Conv2d`` / ``Linear`` call: its kind (see ``mobilenet_lib.costs.LAYER_KINDS``), its
    mult-adds for the whole batch and its mean wall time per forward pass in milliseconds."""

    name: str
    kind: str
    macs: int
    ms: float

    @property
    def gflops(self) -> float:
        """What the layer reached: 2 * mult-adds / time, in GFLOP/s."""
        return 2 * self.macs / (self.ms * 1e-3) / 1e9 if self.ms > 0 else float("nan")


@dataclass(frozen=True)
class KindLatency:
    """The layers of one kind together: their time and mult-adds, and shares of the whole pass.

    ``kind`` is ``"other"`` for everything outside convolution and linear layers (activations
    and BatchNorm when they are separate layers, additions, pooling, memory copies); its
    ``macs`` are 0 because the mult-add count leaves that work out.
    """

    kind: str
    layers: int
    ms: float
    macs: int
    time_share: float
    macs_share: float

    @property
    def gflops(self) -> float:
        return 2 * self.macs / (self.ms * 1e-3) / 1e9 if self.ms > 0 else float("nan")


@dataclass(frozen=True)
class LatencyProfile:
    """Per-layer times of one model at one input size, from :func:`profile_layers`."""

    layers: tuple[LayerLatency, ...]
    total_ms: float
    input_size: tuple[int, ...]
    threads: int
    repeats: int

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.layers)

    def by_kind(self) -> list[KindLatency]:
        """Time and mult-adds per kind of layer, in ``LAYER_KINDS`` order, then ``"other"``."""
        from mobilenet_lib.costs import LAYER_KINDS

        total_macs = self.total_macs
        out = []
        for kind in LAYER_KINDS:
            rows = [r for r in self.layers if r.kind == kind]
            if rows:
                ms, macs = sum(r.ms for r in rows), sum(r.macs for r in rows)
                out.append(KindLatency(kind, len(rows), ms, macs, ms / self.total_ms, macs / total_macs))
        other = max(self.total_ms - sum(r.ms for r in self.layers), 0.0)
        out.append(KindLatency("other", 0, other, 0, other / self.total_ms, 0.0))
        return out

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per layer (name, kind, macs, ms, gflops)."""
        return [{**asdict(r), "gflops": r.gflops} for r in self.layers]


def profile_layers(
    model: nn.Module,
    input_size: Sequence[int] = (1, 3, 224, 224),
    *,
    repeats: int = 5,
    warmup: int = 2,
    threads: int | None = None,
    seed: int = 0,
) -> LatencyProfile:
    """Time every ``Conv2d`` / ``Linear`` call of ``model`` with ``torch.profiler``.

    Each such layer's forward is wrapped in a ``record_function`` range (with forward hooks), so
    a layer's time is everything its call runs: for a folded model, the convolution with its
    BatchNorm folded in. ``model`` may be an eager model (profiled as it is, in eval mode) or an
    uncompiled :class:`InferenceModel` (its prepared module is profiled, on channels-last input if
    it was prepared so). The input is a seeded standard normal batch of ``input_size``; times
    are means over ``repeats`` forward passes after ``warmup`` untimed ones, with ``threads``
    torch threads (``None``: the current setting). Mult-adds and kinds come from
    :func:`mobilenet_lib.costs.layer_table`. The profiler adds a few microseconds per operation,
    so very small layers look slower than they are.

    Raises:
        ValueError: for a compiled model (inductor fuses layers, so they have no separate times),
            a model that is not an ``nn.Module``, or bad counts.
    """
    from torch.autograd.profiler import record_function
    from torch.profiler import ProfilerActivity, profile

    from mobilenet_lib.benchmark import torch_threads
    from mobilenet_lib.costs import layer_table

    _check_module(model)
    repeats, warmup = positive_int("repeats", repeats), integer("warmup", warmup, low=0)
    channels_last = False
    if isinstance(model, InferenceModel):
        if model.compiled:
            raise ValueError("a compiled model has no per-layer times (inductor fuses layers); profile it uncompiled")
        model, channels_last = model.model, model.channels_last
    table = layer_table(model, input_size)
    x = torch.randn(table.input_size, generator=torch.Generator().manual_seed(seed))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)

    names = {m: n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    open_ranges: list[Any] = []
    calls: Counter[str] = Counter()  # calls of each layer in the current pass

    def enter(module: nn.Module, args: Any) -> None:
        # A module called twice in one pass gets two ranges, named as layer_table names its rows
        # (``name``, ``name#2``), so each call's time lands on its own row.
        name = names[module]
        calls[name] += 1
        rf = record_function(f"layer:{name}" if calls[name] == 1 else f"layer:{name}#{calls[name]}")
        rf.__enter__()
        open_ranges.append(rf)

    def leave(module: nn.Module, args: Any, output: Any) -> None:
        open_ranges.pop().__exit__(None, None, None)

    def run() -> None:
        calls.clear()
        model(x)

    handles = [m.register_forward_pre_hook(enter) for m in names] + [m.register_forward_hook(leave) for m in names]
    try:
        with eval_mode(model), torch_threads(threads) as in_force, torch.inference_mode():
            for _ in range(warmup):
                run()
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(repeats):
                    with record_function("forward"):
                        run()
    finally:
        for h in handles:
            h.remove()
    us = {e.key: e.cpu_time_total for e in prof.key_averages()}
    layers = tuple(
        LayerLatency(r.name, r.kind, r.macs, us.get(f"layer:{r.name}", 0.0) / repeats / 1e3) for r in table
    )
    return LatencyProfile(layers, us["forward"] / repeats / 1e3, table.input_size, in_force, repeats)
