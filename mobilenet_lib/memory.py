"""Peak activation memory of a forward pass, measured from the operations a model really runs.

Why a MobileNet V2 block keeps its *narrow* tensors between blocks is a claim about memory, and
this module makes it a measurement. The definition, precisely:

1. The model runs one forward pass in eval mode under ``torch.no_grad`` on a zero tensor of
   ``input_size``. A ``torch.overrides.TorchFunctionMode`` (a hook on every torch function call)
   records, in execution order, each call that returns a tensor: which tensors it read and which
   it produced. Forward pre-/post-hooks on every module record which module was running.
2. Tensors are identified by their storage, so a view (``flatten``) or an in-place operation
   (``ReLU6(inplace=True)``) shares the bytes of the tensor it came from. Parameters and buffers
   are weights, not activations, and are left out.
3. A tensor is *live* from the call that produces it (the input: from the start) to the last call
   that reads it (the model's output: to the end). This is the liveness an executor achieves that
   frees every tensor right after its last use; it does not depend on when Python happens to drop
   a reference.
4. At each call, the live memory is the total size of the live tensors, that call's inputs and
   outputs included (an operation needs both at once). The **peak activation memory** is the
   largest of these totals.

So a shortcut's input stays live through the whole block, until the addition reads it: where the
shortcut sits decides which tensors are held. Temporary buffers inside one operation (a
convolution's workspace) are not activations and are not seen. Bytes follow the tensors' dtype
(float32 here: 4 bytes per value; the V2 paper's Table 3 assumes 16-bit floats), so results also
report element counts, which do not depend on it.

Example::

    report = activation_memory(mobilenet_v2(), (1, 3, 224, 224))
    report.peak_bytes, report.peak.module, report.peak.live_shapes
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from mobilenet_lib.training import eval_mode
from mobilenet_lib.validation import shape

__all__ = [
    "MemoryStep",
    "ActivationMemory",
    "activation_memory",
    "peak_activation_memory",
]


@dataclass(frozen=True)
class MemoryStep:
    """One recorded call: its index, the torch function, the innermost module running it
    (``""`` for the model's own ``forward``), and what was live while it ran."""

    index: int
    op: str
    module: str
    live_bytes: int
    live_elements: int
    live_shapes: tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class ActivationMemory:
    """The result of :func:`activation_memory`; see the module docstring for the definition."""

    input_size: tuple[int, ...]
    steps: tuple[MemoryStep, ...]
    peak: MemoryStep
    input_bytes: int
    output_bytes: int

    @property
    def peak_bytes(self) -> int:
        """The peak activation memory in bytes."""
        return self.peak.live_bytes

    @property
    def peak_elements(self) -> int:
        """The peak activation memory in tensor elements (independent of the dtype)."""
        return self.peak.live_elements

    def by_module(self) -> dict[str, int]:
        """The largest live memory (bytes) seen while each module ran, in order of first appearance."""
        out: dict[str, int] = {}
        for step in self.steps:
            out[step.module] = max(out.get(step.module, 0), step.live_bytes)
        return out


def _check_input_size(input_size: Any) -> tuple[int, ...]:
    return shape("input_size", input_size, min_ndim=2)


def _key(tensor: torch.Tensor) -> tuple[int, int] | None:
    """Identity of a tensor's memory: (storage handle, storage bytes); None if it has none.

    The handle (``_cdata``, the address of the C++ storage object) is shared by views and
    in-place results, and unlike the data pointer it is also unique for tensors on the ``meta``
    device, which have no data: so a model built on ``meta`` is measured without computing
    anything (instant even at 224x224).
    """
    storage = tensor.untyped_storage()
    if storage.nbytes() == 0:
        return None
    return storage._cdata, storage.nbytes()


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in _tensors(item)]
    return []


class _Recorder(TorchFunctionMode):
    """Records (op, module, read keys, written keys) for each torch call that returns a tensor."""

    def __init__(self, module_stack: list[str]) -> None:
        super().__init__()
        self.module_stack = module_stack
        self.calls: list[tuple[str, str, list[tuple[int, int]], list[tuple[int, int]]]] = []
        self.shapes: dict[tuple[int, int], tuple[int, ...]] = {}
        self.itemsize: dict[tuple[int, int], int] = {}
        # Every tensor seen stays referenced until the analysis is done, so no storage address is
        # freed and reused by a later tensor during the pass (which would merge two tensors).
        self.keep: list[torch.Tensor] = []

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        result = func(*args, **(kwargs or {}))
        outputs = _tensors(result)
        if outputs:
            inputs = _tensors(args) + _tensors(kwargs or {})
            reads = [k for k in map(_key, inputs) if k is not None]
            writes = []
            for tensor in outputs:
                key = _key(tensor)
                if key is None:
                    continue
                writes.append(key)
                # The shape shown for a storage is that of its first (base) tensor.
                self.shapes.setdefault(key, tuple(tensor.shape))
                self.itemsize.setdefault(key, tensor.element_size())
            name = getattr(func, "__name__", None) or repr(func)
            self.calls.append((name, self.module_stack[-1], reads, writes))
            self.keep.extend(inputs + outputs)
        return result


def activation_memory(model: nn.Module, input_size: Sequence[int] = (1, 3, 224, 224)) -> ActivationMemory:
    """Measure the live activation memory at every step of one forward pass of ``model``.

    See the module docstring for the exact definition. The model runs in eval mode under
    ``torch.no_grad`` on zeros of ``input_size`` (batch included); each submodule's training
    flag is restored afterwards. The input lives on the device of the model's parameters; for a
    model on the ``meta`` device nothing is computed, only shapes, and the result is the same.

    Raises:
        TypeError: if ``model`` is not an ``nn.Module``.
        ValueError: if ``input_size`` is not a shape of positive integers, or the forward pass
            records no operation.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    size = _check_input_size(input_size)
    param = next(iter(model.parameters()), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.get_default_dtype()
    device = param.device if param is not None else torch.device("cpu")
    x = torch.zeros(size, dtype=dtype, device=device)

    weights = {k for t in list(model.parameters()) + list(model.buffers()) if (k := _key(t)) is not None}
    names = {module: name for name, module in model.named_modules()}
    stack = [""]

    def enter(module: nn.Module, args: Any) -> None:
        stack.append(names[module])

    def leave(module: nn.Module, args: Any, output: Any) -> None:
        stack.pop()  # a hook that returned a value would replace the module's output

    handles = []
    for module in model.modules():
        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave))
    recorder = _Recorder(stack)
    try:
        with eval_mode(model), torch.no_grad(), recorder:
            output = model(x)
    finally:
        for handle in handles:
            handle.remove()
    if not recorder.calls:
        raise ValueError("the forward pass ran no torch operation that returns a tensor; nothing to measure")

    input_key = _key(x)
    output_keys = {k for k in map(_key, _tensors(output)) if k is not None}
    last_step = len(recorder.calls) - 1
    # first[k] / last[k]: the steps between which storage k is live.
    first: dict[tuple[int, int], int] = {}
    last: dict[tuple[int, int], int] = {}
    if input_key is not None:
        first[input_key] = 0
    for i, (_, _, reads, writes) in enumerate(recorder.calls):
        for key in writes:
            if key not in weights:
                first.setdefault(key, i)
                last[key] = i
        for key in reads:
            if key in first:  # a tensor read before any call produced it is not an activation
                last[key] = i
    for key in output_keys:
        if key in first:
            last[key] = last_step
    # Live set per step, via start/stop events (a few hundred steps, a few hundred tensors).
    starts: dict[int, list[tuple[int, int]]] = {}
    for key, step in first.items():
        starts.setdefault(step, []).append(key)
    stops: dict[int, list[tuple[int, int]]] = {}
    for key in first:
        stops.setdefault(last.get(key, first[key]), []).append(key)
    live: dict[tuple[int, int], None] = {}
    steps = []
    for i, (op, module, _, _) in enumerate(recorder.calls):
        for key in starts.get(i, []):
            live[key] = None
        steps.append(
            MemoryStep(
                index=i,
                op=op,
                module=module,
                live_bytes=sum(k[1] for k in live),
                live_elements=sum(k[1] // recorder.itemsize.get(k, x.element_size()) for k in live),
                live_shapes=tuple(recorder.shapes.get(k, size) for k in live),
            )
        )
        for key in stops.get(i, []):
            live.pop(key, None)
    peak = max(steps, key=lambda s: s.live_bytes)  # the first step reaching the maximum
    return ActivationMemory(
        input_size=size,
        steps=tuple(steps),
        peak=peak,
        input_bytes=x.untyped_storage().nbytes(),
        output_bytes=sum(k[1] for k in output_keys),
    )


def peak_activation_memory(model: nn.Module, input_size: Sequence[int] = (1, 3, 224, 224)) -> int:
    """The peak activation memory of one forward pass, in bytes (see :func:`activation_memory`)."""
    return activation_memory(model, input_size).peak_bytes



