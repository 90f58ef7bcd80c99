"""Post-training int8 quantization with PyTorch's own tooling, and a map of what runs in int8.

:func:`quantize_int8` turns a trained float model into one whose convolutions, linear layers,
additions and activations compute on 8-bit integers (``torch.quint8`` activations, ``torch.qint8``
per-channel weights), calibrated on a few batches of real images. It uses the quantization flow
that ships with torch 2.13 itself, FX graph mode (``torch.ao.quantization.quantize_fx``) with the
``"x86"`` backend (fbgemm / oneDNN int8 kernels, which use the VNNI dot-product instructions where
the CPU has them):

1. ``prepare_fx`` traces the model with ``torch.fx``, folds each BatchNorm into its convolution,
   fuses conv + ReLU pairs and inserts observers that record the range of every activation;
2. calibration runs the observed model on the given images;
3. ``convert_fx`` swaps in the int8 modules, quantizes the weights per output channel and inserts
   one ``quantize_per_tensor`` at the input and a ``dequantize`` where a float op follows.

How MobileNet's activations are handled (the x86 backend's rules, visible in :func:`int8_ops`):

* **ReLU** after a convolution is fused into it (``QuantizedConvReLU2d``): the clamp at zero
  happens when the int32 accumulator is requantized, for free.
* **ReLU6** is not fused; it runs as a separate op on the int8 codes and *shares its input's*
  scale and zero point, so it is an exact clamp of the codes to the codes of 0 and 6: no
  rounding, no calibration of its own.
* **h-swish** (``nn.Hardswish``) has its own int8 kernel (``QuantizedHardswish``), which
  dequantizes, applies the formula and requantizes to an output scale observed in calibration.
* **h-sigmoid** (``nn.Hardsigmoid``) has *fixed* quantization parameters: its output always lies
  in [0, 1], so its scale is 1/256 with zero point 0 and needs no calibration.

The library's readable :class:`~mobilenet_lib.activations.HSwish` / ``HSigmoid`` modules compute the
same values as ``nn.Hardswish`` / ``nn.Hardsigmoid`` (bit for bit); :func:`quantize_int8` swaps
them for the built-ins so that the backend recognises them. Every model in the library traces
with ``torch.fx``; a model that does not (Python control flow on tensor values or types in its
forward pass) is rejected with a ``ValueError``.

The FX flow is deprecated in favour of the ``torchao`` package's PT2E flow (``prepare_pt2e`` with
``X86InductorQuantizer``), which torch 2.13 no longer contains; its deprecation warnings are
silenced inside :func:`quantize_int8`. :func:`quantize_int8_inductor` takes that flow:
``torch.export`` captures the model, ``X86InductorQuantizer`` marks every convolution, addition and
the classifier for int8 (the same per-channel weights and per-tensor activations), calibration runs
as above, and ``torch.compile`` (inductor, weights frozen) lowers each quantize / dequantize /
convolution / activation chain to one oneDNN int8 convolution with its post-ops, instead of FX's
module-by-module kernels with a Python call between each.
"""

from __future__ import annotations

import copy
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from mobilenet_lib.validation import positive_int

__all__ = ["Int8Op", "quantize_int8", "quantize_int8_inductor", "int8_ops", "calibration_batches"]

#: The quantized engine :func:`quantize_int8` targets: fbgemm / oneDNN kernels for x86 CPUs.
BACKEND = "x86"


@contextmanager
def _quiet_deprecations() -> Iterator[None]:
    # torch.ao.quantization warns on every call that it moves to torchao, and observers warn about
    # their reduce_range argument: true, known, and noise in a notebook.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization.*deprecated.*")
        warnings.filterwarnings("ignore", message=r".*reduce_range will be deprecated.*")
        warnings.filterwarnings("ignore", message=r".*quantized tensor creation functions.*")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"torch\.ao\.quantization")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao\.quantization")
        yield


def calibration_batches(data: Any, num_batches: int | None = None) -> list[torch.Tensor]:
    """The input tensors of ``data``: a tensor batch, or an iterable of tensors or (inputs, labels).

    At most ``num_batches`` batches are taken (``None``: all). A ``DataLoader`` over the training
    set, as built by :func:`mobilenet_lib.data.digits_loaders`, is the usual source.

    Raises:
        ValueError: if ``data`` yields something else, nothing at all, or ``num_batches`` < 1.
    """
    if num_batches is not None:
        num_batches = positive_int("num_batches", num_batches)
    if isinstance(data, torch.Tensor):
        data = [data]
    if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise TypeError(
            f"calibration data must be a tensor or an iterable of tensors or (inputs, labels) batches, "
            f"got {type(data).__name__}"
        )
    batches = []
    for item in data:
        if num_batches is not None and len(batches) >= num_batches:
            break
        x = item[0] if isinstance(item, (tuple, list)) and item else item
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"calibration batches must be float tensors (or (inputs, labels) pairs), got {type(x).__name__}")
        batches.append(x)
    if not batches:
        raise ValueError("calibration data yielded no batches: int8 ranges need at least one")
    return batches


def _use_builtin_activations(model: nn.Module) -> None:
    """Swap the library's HSwish / HSigmoid for nn.Hardswish / nn.Hardsigmoid (same values), in place."""
    from mobilenet_lib.activations import HSigmoid, HSwish

    builtins = {HSwish: nn.Hardswish, HSigmoid: nn.Hardsigmoid}
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if type(child) in builtins:
                setattr(parent, name, builtins[type(child)]())


def quantize_int8(model: nn.Module, calibration_data: Any, *, num_batches: int | None = None) -> torch.fx.GraphModule:
    """An int8 copy of ``model`` (post-training static quantization, x86 backend); ``model`` is untouched.

    ``calibration_data`` is a tensor batch or an iterable of batches (tensors or (inputs, labels)
    pairs, e.g. a training ``DataLoader``); the first ``num_batches`` (``None``: all) are run
    through the observed model to set every activation's int8 range. Calibrate on training
    images, never on the test set you report. The result is a ``torch.fx.GraphModule`` in eval
    mode that takes and returns float tensors; run it with ``torch.backends.quantized.engine``
    set to ``"x86"`` (the default on x86 machines). It no longer checks its input's shape.

    See the module docstring for what happens to each kind of layer, and :func:`int8_ops` for a
    table of what runs in int8.

    Raises:
        ValueError: if ``model`` is not an ``nn.Module``, the calibration data are unusable, the
            x86 engine is unavailable, or ``torch.fx`` cannot trace the model.
    """
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    batches = calibration_batches(calibration_data, num_batches)
    if BACKEND not in torch.backends.quantized.supported_engines:
        raise ValueError(
            f"the {BACKEND!r} quantized engine is not available in this torch build "
            f"(supported: {torch.backends.quantized.supported_engines})"
        )
    float_model = copy.deepcopy(model).eval()
    _use_builtin_activations(float_model)
    engine = torch.backends.quantized.engine
    torch.backends.quantized.engine = BACKEND  # weights are packed for the engine in force
    try:
        with _quiet_deprecations(), torch.no_grad():
            try:
                observed = prepare_fx(float_model, get_default_qconfig_mapping(BACKEND), example_inputs=(batches[0],))
            except Exception as err:  # noqa: BLE001 -- tracing errors come in many types
                raise ValueError(
                    f"torch.fx could not trace {type(model).__name__} for quantization "
                    f"({type(err).__name__}: {err}); FX graph mode needs a forward pass without "
                    "Python control flow on tensor values or types"
                ) from err
            for x in batches:
                observed(x)
            quantized = convert_fx(observed)
    finally:
        torch.backends.quantized.engine = engine
    return quantized.eval()


def quantize_int8_inductor(model: nn.Module, calibration_data: Any, *, num_batches: int | None = None) -> nn.Module:
    """An int8 copy of ``model`` compiled by inductor (PT2E post-training quantization); ``model``
    is untouched.

    The flow ``torchao`` documents for x86 CPUs: ``torch.export`` captures an eval-mode copy (with
    a free batch dimension), ``prepare_pt2e`` with ``X86InductorQuantizer``'s default configuration
    folds each BatchNorm into its convolution and inserts observers, the first ``num_batches``
    batches of ``calibration_data`` (as for :func:`quantize_int8`) set the activation ranges, and
    ``convert_pt2e`` leaves a float graph with explicit quantize / dequantize steps. That graph is
    returned as :func:`mobilenet_lib.deploy.prepare_for_inference` returns a compiled model: an
    :class:`~mobilenet_lib.deploy.InferenceModel` that feeds it channels-last input and runs it
    through ``torch.compile`` with frozen weights, where inductor fuses every quantize /
    dequantize pair into oneDNN's int8 convolutions. Each new input shape compiles on its first
    call (seconds).

    Raises:
        TypeError: if ``model`` is not an ``nn.Module`` or the calibration data are not tensors.
        ValueError: if there are no calibration batches or ``torch.export`` cannot capture the model.
    """
    from mobilenet_lib.deploy import InferenceModel
    from mobilenet_lib.runtimes import quiet_loggers

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    batches = calibration_batches(calibration_data, num_batches)
    # torchao logs, at import, that its CUDA (CUTLASS) kernels do not load on this CPU-only torch,
    # and torch that one of torchao's enum registrations is deprecated: both true, neither matters here.
    with quiet_loggers("torchao", "torch.utils._pytree"):
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
        from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as x86

    float_model = copy.deepcopy(model).eval()
    batch = torch.export.Dim("batch", min=1, max=1024)
    try:
        exported = torch.export.export(float_model, (batches[0],), dynamic_shapes=({0: batch},)).module()
    except Exception as err:  # noqa: BLE001 -- export errors come in many types
        raise ValueError(f"torch.export could not capture {type(model).__name__} "
                         f"({type(err).__name__}: {str(err).splitlines()[0][:200]})") from err
    quantizer = x86.X86InductorQuantizer().set_global(x86.get_default_x86_inductor_quantization_config())
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # export and the quantizer's notes on deprecated APIs
        observed = prepare_pt2e(exported, quantizer)
        for x in batches:
            observed(x)
        quantized = convert_pt2e(observed)
    return InferenceModel(quantized, channels_last=True, compiled=True)


@dataclass(frozen=True)
class Int8Op:
    """One kind of operation in a quantized graph: how often it runs and on which kind of data.

    ``op`` names a module class (``QuantizedConvReLU2d``, ``ReLU6``) or a function / method
    (``quantized.add``, ``dequantize``); ``int8`` says whether its output is an int8 tensor.
    """

    op: str
    count: int
    int8: bool


def _op_name(node: torch.fx.Node, modules: dict[str, nn.Module]) -> str:
    if node.op == "call_module":
        cls = type(modules[node.target])
        # The int8 modules reuse the float names (Conv2d, Linear, ...): say which is which.
        quantized = cls.__module__.startswith(("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized"))
        return f"quantized.{cls.__name__}" if quantized else cls.__name__
    if node.op == "call_method":
        return str(node.target)
    target = node.target
    if isinstance(target, torch._ops.OpOverloadPacket) or isinstance(target, torch._ops.OpOverload):
        return str(target).removeprefix("torch.ops.")
    return getattr(target, "__name__", str(target))


def int8_ops(quantized: torch.fx.GraphModule, example_input: torch.Tensor) -> list[Int8Op]:
    """What the graph of :func:`quantize_int8`'s result computes, and in which number format.

    Runs ``quantized`` once on ``example_input`` (node by node with ``torch.fx.Interpreter``) and
    records, for every operation, whether its output is an int8 (quantized) tensor. Returns one
    :class:`Int8Op` per (operation, format), in the order they first occur.

    Raises:
        ValueError: if ``quantized`` is not a ``torch.fx.GraphModule`` or the input not a tensor.
    """
    if not isinstance(quantized, torch.fx.GraphModule):
        raise TypeError(f"quantized must be a torch.fx.GraphModule (quantize_int8's result), got {type(quantized).__name__}")
    if not isinstance(example_input, torch.Tensor):
        raise TypeError(f"example_input must be a tensor, got {type(example_input).__name__}")
    modules = dict(quantized.named_modules())
    seen: Counter[tuple[str, bool]] = Counter()

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n: torch.fx.Node) -> Any:
            out = super().run_node(n)
            if n.op in ("call_module", "call_function", "call_method"):
                seen[(_op_name(n, modules), isinstance(out, torch.Tensor) and out.is_quantized)] += 1
            return out

    with _quiet_deprecations(), torch.no_grad():
        Recorder(quantized).run(example_input)
    return [Int8Op(op, count, int8) for (op, int8), count in seen.items()]
