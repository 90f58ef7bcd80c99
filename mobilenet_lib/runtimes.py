"""The two CPU runtimes a reader deploys an exported network with: ONNX Runtime and OpenVINO.

Both read the ONNX file :func:`mobilenet_lib.onnx_export.export_onnx` writes, rewrite its graph
for the machine (fusing each activation into its convolution, choosing blocked memory layouts,
pre-packing the weights) and run it on their own thread pools. This module wraps each in a
callable that takes and returns a float ``torch.Tensor``, so that a benchmark treats it like a
PyTorch model, and gives each runtime's int8 path:

* :class:`OnnxRuntimeModel`: an ONNX Runtime CPU session (every graph optimization on), with
  ``threads`` intra-op threads that sleep between calls (``session.intra_op.allow_spinning`` off:
  ONNX Runtime's workers otherwise busy-wait after every run and take the cores from whatever runs
  next). :func:`quantize_onnx_int8` is ONNX Runtime's static post-training quantization
  (``onnxruntime.quantization.quantize_static``: QDQ format, int8 weights per output channel,
  uint8 activations, ranges from calibration batches).
* :class:`OpenVINOModel`: an OpenVINO CPU compiled model, one per input shape (OpenVINO compiles a
  static shape faster than a dynamic one, and a deployment knows its batch size), with
  ``INFERENCE_NUM_THREADS`` threads, one stream, the latency hint, float32 inference precision and
  no pinning of threads to cores (the machine is shared). OpenVINO's pool is oneTBB's, whose
  workers spin only briefly after a task and then sleep. :func:`quantize_openvino_int8` is NNCF's
  post-training quantization (``nncf.quantize``) of the OpenVINO model.

What each runtime made of the graph: :func:`onnx_runtime_operator_counts` counts the nodes of the
graph ONNX Runtime actually runs (after its fusions), :func:`openvino_operator_counts` the layers
of OpenVINO's compiled graph. Where the time goes: :func:`profile_onnx_runtime`,
:func:`profile_openvino` and :func:`profile_torch` time every node and sum the times per kind of
layer (``depthwise``, ``pointwise``, ``conv``, ``group``, ``linear`` as in
:data:`mobilenet_lib.costs.LAYER_KINDS`, and ``other`` for everything else), as a
:class:`KindTimes`.

``onnxruntime``, ``openvino`` and ``nncf`` are imported inside the functions.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mobilenet_lib.onnx_export import INPUT_NAME, OUTPUT_NAME
from mobilenet_lib.validation import flag, positive_int

__all__ = [
    "KIND_ORDER",
    "conv_kind",
    "OnnxRuntimeModel",
    "OpenVINOModel",
    "quantize_onnx_int8",
    "quantize_openvino_int8",
    "onnx_runtime_operator_counts",
    "openvino_operator_counts",
    "KindTimes",
    "block_of",
    "block_order",
    "profile_onnx_runtime",
    "profile_openvino",
    "profile_torch",
    "profile_onednn_graph",
]

#: The kinds of layer a profile sums its times over, in the order the chapter shows them.
#: ``pointwise+depthwise`` is a oneDNN Graph partition that runs an expansion and the depthwise
#: convolution after it as one kernel (:func:`profile_onednn_graph`), so their times cannot be split.
KIND_ORDER = ("conv", "depthwise", "pointwise", "pointwise+depthwise", "group", "linear", "other")


def conv_kind(in_channels: int, weight_shape: Sequence[int]) -> str:
    """The kind of a 2-d convolution (as :func:`mobilenet_lib.costs.layer_table` names it) from its
    input channels and its weight's shape ``(out, in / groups, kh, kw)``."""
    if len(weight_shape) != 4:
        raise ValueError(f"weight_shape must be (out, in/groups, kh, kw), got {tuple(weight_shape)}")
    groups = in_channels // int(weight_shape[1])
    if groups == 1:
        return "pointwise" if tuple(weight_shape[2:]) == (1, 1) else "conv"
    return "depthwise" if groups == in_channels else "group"


def _onnx_bytes(model: Any) -> bytes:
    if isinstance(model, bytes):
        return model
    if isinstance(model, (str, os.PathLike)):
        return Path(model).read_bytes()
    raise TypeError(f"model must be ONNX bytes or a path, got {type(model).__name__}")


def _numpy_input(images: Any) -> np.ndarray:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dtype != torch.float32:
        raise ValueError(f"images must be float32, got {images.dtype}")
    return images.detach().contiguous().numpy()


@contextlib.contextmanager
def quiet_loggers(*names: str) -> Iterator[None]:
    """The named loggers at ``ERROR`` for the duration, then back at their own levels."""
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the runtimes' progress bars, deprecation notes and informational logging."""
    with (warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()),
          contextlib.redirect_stderr(io.StringIO()), quiet_loggers("nncf", "openvino", "onnxruntime", "root")):
        warnings.simplefilter("ignore")
        yield


# --------------------------------------------------------------------------------------------
# ONNX Runtime
# --------------------------------------------------------------------------------------------


def _ort_options(threads: int, spin: bool, optimize: bool = True) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: ORT warns when it saves a machine-specific graph
    return options


class OnnxRuntimeModel:
    """An ONNX model run by ONNX Runtime on the CPU, called like a model: ``logits = m(images)``.

    ``model`` is the serialized ONNX (bytes) or a file. ``threads`` intra-op threads, which sleep
    between calls unless ``spin``; every graph optimization is on (``ORT_ENABLE_ALL``: constant
    folding, activation fusion, and on x86 the NCHWc blocked layout).
    """

    def __init__(self, model: bytes | str | os.PathLike[str], *, threads: int = 1, spin: bool = False) -> None:
        import onnxruntime as ort

        self.onnx = _onnx_bytes(model)
        self.threads = positive_int("threads", threads)
        self.spin = flag("spin", spin)
        self.session = ort.InferenceSession(
            self.onnx, sess_options=_ort_options(self.threads, self.spin), providers=["CPUExecutionProvider"]
        )

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        (out,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: _numpy_input(images)})
        return torch.from_numpy(out)

    def __repr__(self) -> str:
        return f"OnnxRuntimeModel(threads={self.threads}, spin={self.spin})"


class _Reader:
    """ONNX Runtime's calibration-data protocol over a list of batches."""

    def __init__(self, batches: list[np.ndarray]) -> None:
        self._it = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        x = next(self._it, None)
        return None if x is None else {INPUT_NAME: x}

    def rewind(self) -> None:  # some ORT versions call it; a one-pass reader has nothing to do
        pass


def _calibration_arrays(calibration_data: Any, num_batches: int | None) -> list[np.ndarray]:
    from mobilenet_lib.quantize import calibration_batches

    return [b.detach().float().contiguous().numpy() for b in calibration_batches(calibration_data, num_batches)]


def _unshare_initializers(data: bytes) -> bytes:
    """One copy of each weight per node that reads it.

    PyTorch's exporter stores equal tensors once: two BatchNorm-folded biases that are both zero
    become one initializer read by two convolutions. The quantizer then cannot give that bias the
    int32 scale each convolution needs (its input scale times its weight scale), leaves both
    convolutions in float32, and ONNX Runtime runs them in float between a dequantize and a
    quantize.
    """
    import onnx

    proto = onnx.load_from_string(data)
    graph = proto.graph
    inits = {t.name: t for t in graph.initializer}
    seen: Counter[str] = Counter()
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in inits:
                seen[name] += 1
                if seen[name] > 1:
                    copy_ = onnx.TensorProto()
                    copy_.CopyFrom(inits[name])
                    copy_.name = f"{name}__use{seen[name]}"
                    graph.initializer.append(copy_)
                    node.input[i] = copy_.name
    return proto.SerializeToString()


def quantize_onnx_int8(
    model: bytes | str | os.PathLike[str], calibration_data: Any, *, num_batches: int | None = None
) -> bytes:
    """ONNX Runtime's static int8 quantization of an ONNX model; returns the quantized ONNX.

    QDQ format (``QuantizeLinear`` / ``DequantizeLinear`` pairs that ONNX Runtime fuses into int8
    kernels when it loads the model), int8 weights per output channel with ``reduce_range`` (7-bit
    weights: without the VNNI instructions, x86's 8-bit multiply-add pairs saturate 16-bit sums),
    uint8 activations whose ranges are the min / max seen on ``calibration_data`` (a tensor or an
    iterable of batches, as for :func:`mobilenet_lib.quantize.quantize_int8`; the first
    ``num_batches``). Calibrate on training images.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    data = _unshare_initializers(_onnx_bytes(model))
    arrays = _calibration_arrays(calibration_data, num_batches)
    with tempfile.TemporaryDirectory() as tmp, _quiet():
        src, dst = Path(tmp, "float.onnx"), Path(tmp, "int8.onnx")
        src.write_bytes(data)
        quantize_static(
            str(src),
            str(dst),
            _Reader(arrays),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
        return dst.read_bytes()


def onnx_runtime_operator_counts(model: bytes | str | os.PathLike[str], *, optimize: bool = True) -> Counter[str]:
    """How many nodes of each type the graph ONNX Runtime runs has, after its fusions
    (``optimize=False``: as loaded). Contributed operators are prefixed with their domain
    (``com.microsoft.nchwc.Conv`` is a convolution in the NCHWc blocked layout with its activation
    fused in, ``com.microsoft.QLinearConv`` an int8 one)."""
    import onnx
    import onnxruntime as ort

    data = _onnx_bytes(model)
    optimize = flag("optimize", optimize)
    with tempfile.TemporaryDirectory() as tmp:
        options = _ort_options(1, False, optimize)
        options.optimized_model_filepath = str(Path(tmp, "optimized.onnx"))
        ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
        proto = onnx.load(options.optimized_model_filepath)
    return Counter(f"{n.domain}.{n.op_type}" if n.domain not in ("", "ai.onnx") else n.op_type for n in proto.graph.node)


# --------------------------------------------------------------------------------------------
# OpenVINO
# --------------------------------------------------------------------------------------------


def _read_openvino(model: Any) -> Any:
    import openvino as ov

    if isinstance(model, ov.Model):
        return model
    data = _onnx_bytes(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "model.onnx")
        path.write_bytes(data)
        return ov.Core().read_model(str(path))  # reads everything in: the file can go


class OpenVINOModel:
    """An ONNX model (bytes or a file) or an ``openvino.Model`` compiled by OpenVINO for the CPU,
    called like a model: ``logits = m(images)``.

    Each new input shape is compiled once (a static-shape copy of the model), with
    ``INFERENCE_NUM_THREADS = threads``, ``NUM_STREAMS = 1``, the ``LATENCY`` performance hint,
    float32 inference precision (no silent bf16 on CPUs that have it) and ``ENABLE_CPU_PINNING``
    off. ``perf_count`` turns on OpenVINO's per-layer counters (see :func:`profile_openvino`).
    """

    def __init__(self, model: Any, *, threads: int = 1, perf_count: bool = False) -> None:
        self.model = _read_openvino(model)
        self.threads = positive_int("threads", threads)
        self.perf_count = flag("perf_count", perf_count)
        self._compiled: dict[tuple[int, ...], tuple[Any, Any]] = {}

    def config(self) -> dict[str, Any]:
        """The CPU plugin properties every compilation uses."""
        return {
            "INFERENCE_NUM_THREADS": self.threads,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32",
            "ENABLE_CPU_PINNING": False,
            "PERF_COUNT": self.perf_count,
        }

    def compiled(self, shape: Sequence[int]) -> Any:
        """The compiled model for inputs of ``shape`` (compiled on first use)."""
        import openvino as ov

        shape = tuple(int(s) for s in shape)
        if shape not in self._compiled:
            static = self.model.clone()
            static.reshape({0: ov.PartialShape(list(shape))})
            compiled = ov.Core().compile_model(static, "CPU", self.config())
            self._compiled[shape] = (compiled, compiled.create_infer_request())
        return self._compiled[shape][0]

    def request(self, shape: Sequence[int]) -> Any:
        """The infer request of the compiled model for ``shape``."""
        self.compiled(shape)
        return self._compiled[tuple(int(s) for s in shape)][1]

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = _numpy_input(images)
        request = self.request(x.shape)
        request.infer({0: x}, share_inputs=True)
        return torch.from_numpy(request.get_output_tensor(0).data.copy())

    def __repr__(self) -> str:
        return f"OpenVINOModel(threads={self.threads}, shapes={list(self._compiled)})"


def quantize_openvino_int8(model: Any, calibration_data: Any, *, num_batches: int | None = None) -> Any:
    """NNCF's post-training int8 quantization of an ONNX model (bytes or a file) or an
    ``openvino.Model``; returns the quantized ``openvino.Model``.

    NNCF's defaults for a CPU: the ``PERFORMANCE`` preset (symmetric int8 weights per output
    channel, activations from min / max statistics of ``calibration_data``, a tensor or an iterable
    of batches, the first ``num_batches``), and fast bias correction. Calibrate on training images.
    """
    import nncf

    ov_model = _read_openvino(model)
    arrays = _calibration_arrays(calibration_data, num_batches)
    with _quiet():
        nncf.set_log_level(logging.ERROR)
        return nncf.quantize(ov_model, nncf.Dataset(arrays), subset_size=sum(len(a) for a in arrays))


def openvino_operator_counts(model: Any, shape: Sequence[int] = (1, 3, 224, 224)) -> Counter[str]:
    """How many layers of each type OpenVINO's compiled graph for inputs of ``shape`` has
    (``Convolution`` with its activation and bias fused in, ``Reorder`` for a layout change, ...).
    ``model`` is an :class:`OpenVINOModel`, ONNX bytes or a file, or an ``openvino.Model``."""
    runner = model if isinstance(model, OpenVINOModel) else OpenVINOModel(model)
    ops = runner.compiled(shape).get_runtime_model().get_ops()
    counts = Counter(op.get_rt_info()["layerType"].astype(str) for op in ops)
    for kind in ("Input", "Output", "Const"):  # graph edges and weights, not work
        counts.pop(kind, None)
    return counts


# --------------------------------------------------------------------------------------------
# Where the time goes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KindTimes:
    """One runtime's time per forward pass, in milliseconds, summed per kind of layer.

    ``kinds`` maps each kind (:data:`KIND_ORDER`) to its milliseconds; ``nodes`` is how many timed
    nodes per pass fell under each; ``total_ms`` is the whole pass as the runtime timed it (``other`` is
    whatever the convolution and linear nodes leave of it). ``blocks`` maps each block of the
    network (``features.<i>``, ``classifier``; see :func:`block_of`) to the milliseconds of every
    timed node that belongs to it, where the runtime's profile names its nodes (empty otherwise).
    """

    runtime: str
    kinds: dict[str, float]
    nodes: dict[str, int]
    total_ms: float
    blocks: dict[str, float] = field(default_factory=dict)

    def share(self, kind: str) -> float:
        return self.kinds.get(kind, 0.0) / self.total_ms if self.total_ms > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "kinds": dict(self.kinds), "nodes": dict(self.nodes),
                "total_ms": self.total_ms, "blocks": dict(self.blocks)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> KindTimes:
        return cls(d["runtime"], dict(d["kinds"]), dict(d["nodes"]), float(d["total_ms"]), dict(d.get("blocks", {})))


_BLOCK = re.compile(r"(?:^|[/.])features[./](\d+)(?=[/._]|$)")
_CLASSIFIER = re.compile(r"(?:^|[/.])classifier(?=[/._]|$)")


def block_of(name: str) -> str | None:
    """The block of the library's MobileNets a node or weight name belongs to: ``features.<i>``
    or ``classifier``, found in ONNX node names (``/features/features.3/conv/...``), OpenVINO's
    layer names and TorchScript weight names (``self.features.3.conv.0.0.weight``); ``None``
    for a name outside the blocks (the input's conversion, the pooling)."""
    m = _BLOCK.search(name)
    if m:
        return f"features.{int(m.group(1))}"
    return "classifier" if _CLASSIFIER.search(name) else None


def block_order(name: str) -> tuple[int, int]:
    """Sort key for :func:`block_of`'s names: the features in order, then the classifier."""
    return (1, 0) if name == "classifier" else (0, int(name.rsplit(".", 1)[1]))


def _add_block(blocks: dict[str, float], name: str, ms: float, kind: str = "other") -> None:
    block = block_of(name) or ("classifier" if kind == "linear" else None)  # OpenVINO names it "logits"
    if block is not None:
        blocks[block] = blocks.get(block, 0.0) + ms


#: The profiler range around each timed pass: not "forward", which a TorchScript module's own
#: method also records (a traced model would count its passes twice).
_PASS = "mobilenet_lib: profiled pass"


def _kind_times(runtime: str, items: Iterable[tuple[str, float]], total_ms: float, repeats: int,
                blocks: dict[str, float] | None = None) -> KindTimes:
    kinds: dict[str, float] = {k: 0.0 for k in KIND_ORDER}
    nodes: Counter[str] = Counter()
    for kind, ms in items:
        if kind == "other":
            continue
        kinds[kind] = kinds.get(kind, 0.0) + ms  # a kind outside KIND_ORDER is kept, not dropped
        nodes[kind] += 1
    kinds["other"] = max(total_ms - sum(kinds.values()), 0.0)
    per_pass = {k: n // repeats for k, n in nodes.items()}
    ordered = {b: blocks[b] for b in sorted(blocks or {}, key=block_order)}
    return KindTimes(runtime, {k: v for k, v in kinds.items() if v > 0 or k == "other"}, per_pass, total_ms, ordered)


def profile_onnx_runtime(model: bytes | str | os.PathLike[str], images: torch.Tensor, *, threads: int = 1,
                         repeats: int = 5, warmup: int = 2) -> KindTimes:
    """Time every node ONNX Runtime runs (its own profiler), mean per pass over ``repeats`` passes.

    A convolution's kind comes from the shapes the profiler records (input channels and weight);
    the pass's total is the sum over the profiled passes' ``model_run`` events.
    """
    import onnxruntime as ort

    data = _onnx_bytes(model)
    repeats, warmup = positive_int("repeats", repeats), positive_int("warmup", warmup)
    x = _numpy_input(images)
    with tempfile.TemporaryDirectory() as tmp:
        options = _ort_options(positive_int("threads", threads), False)
        session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
        for _ in range(warmup):
            session.run(None, {INPUT_NAME: x})
        options = _ort_options(threads, False)
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp, "ort"))
        session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
        for _ in range(warmup + repeats):
            session.run(None, {INPUT_NAME: x})
        events = json.loads(Path(session.end_profiling()).read_text())
    runs = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"][warmup:]
    first = min(e["ts"] for e in runs)
    by_name = _onnx_conv_kinds(data)
    items, blocks = [], {}
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time") or e["ts"] < first:
            continue
        args = e.get("args", {})
        op = args.get("op_name", "")
        kind = "other"
        shapes = [next(iter(s.values())) for s in args.get("input_type_shape", [])]
        node = e["name"].removesuffix("_kernel_time")
        # A fused node keeps its convolution's name with a suffix ("..._token_4"); its kind is read
        # from the exported graph, since an int8 kernel's recorded shapes omit the packed weight.
        named = [k for k in by_name if node == k or node.startswith(k + "_")] if op.endswith("Conv") else []
        if named:
            kind = by_name[max(named, key=len)]
        elif op.endswith("Conv") and len(shapes) >= 2 and len(shapes[0]) == 4:
            weight = shapes[1] if op != "QLinearConv" else shapes[3]
            if len(weight) == 4:
                kind = conv_kind(int(shapes[0][1]), weight)
        elif op in ("Gemm", "MatMul", "QGemm", "QLinearMatMul"):
            kind = "linear"
        items.append((kind, e["dur"] / 1e3 / repeats))
        _add_block(blocks, node, e["dur"] / 1e3 / repeats, kind)
    total = sum(e["dur"] for e in runs) / 1e3 / repeats
    return _kind_times("ONNX Runtime", items, total, repeats, blocks)


def _onnx_conv_kinds(data: bytes) -> dict[str, str]:
    """Each ``Conv`` node of an ONNX graph by name -> its kind, from its weight's shape and group
    (the weight followed back through ``DequantizeLinear`` in a quantized graph)."""
    import onnx

    graph = onnx.load_from_string(data).graph
    shapes = {t.name: tuple(t.dims) for t in graph.initializer}
    producer = {out: n for n in graph.node for out in n.output}
    kinds = {}
    for n in graph.node:
        if n.op_type != "Conv" or len(n.input) < 2:
            continue
        name = n.input[1]
        while name not in shapes and name in producer and producer[name].input:
            name = producer[name].input[0]
        weight = shapes.get(name)
        if weight is not None and len(weight) == 4:
            group = next((a.i for a in n.attribute if a.name == "group"), 1)
            kinds[n.name] = conv_kind(group * int(weight[1]), weight)
    return kinds


def _openvino_kind(node_type: str, exec_type: str) -> str:
    if node_type == "GroupConvolution":
        return "depthwise" if "dw" in exec_type else "group"
    if node_type == "Convolution":
        return "pointwise" if "1x1" in exec_type else "conv"
    if node_type.startswith("FullyConnected"):  # FullyConnectedQuantizedLegacy in int8
        return "linear"
    return "other"


def profile_openvino(model: Any, images: torch.Tensor, *, threads: int = 1, repeats: int = 5,
                     warmup: int = 2) -> KindTimes:
    """Time every layer OpenVINO runs (its ``PERF_COUNT`` counters), mean per pass over ``repeats``.

    A convolution's kind comes from OpenVINO's layer type and the kernel it chose
    (``GroupConvolution`` run by a ``dw`` kernel is depthwise; a ``1x1`` kernel is pointwise).
    ``model`` is anything :class:`OpenVINOModel` takes.
    """
    import time

    repeats, warmup = positive_int("repeats", repeats), positive_int("warmup", warmup)
    runner = OpenVINOModel(model.model if isinstance(model, OpenVINOModel) else model, threads=threads, perf_count=True)
    x = _numpy_input(images)
    request = runner.request(x.shape)
    for _ in range(warmup):
        request.infer({0: x})
    layers: dict[str, tuple[str, float]] = {}  # layer name -> (kind, ms summed over the repeats)
    blocks: dict[str, float] = {}
    total = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        request.infer({0: x})
        total += time.perf_counter() - start
        for info in request.get_profiling_info():
            # Every convolution and the classifier run on every pass, but OpenVINO's counters now
            # and then report one of them NOT_RUN at 0 µs (seen on 32 × 32 inputs): a layer is
            # counted by its name, whatever its status, and its time averaged over the passes.
            kind = _openvino_kind(info.node_type, info.exec_type)
            _add_block(blocks, info.node_name, info.real_time.total_seconds() * 1e3 / repeats, kind)
            if kind != "other":
                ms = info.real_time.total_seconds() * 1e3
                layers[info.node_name] = (kind, layers.get(info.node_name, (kind, 0.0))[1] + ms)
    items = [(kind, ms / repeats) for kind, ms in layers.values()]
    return _kind_times("OpenVINO", items, 1e3 * total / repeats, 1, blocks)


def profile_torch(model: Any, images: torch.Tensor, *, threads: int | None = None, repeats: int = 5,
                  warmup: int = 2, runtime: str = "PyTorch") -> KindTimes:
    """Time every convolution and linear kernel a PyTorch model calls, compiled or not, float or
    int8 (inductor's oneDNN int8 kernels, as :func:`mobilenet_lib.quantize.quantize_int8_inductor`
    compiles them).

    Runs ``model`` (an ``nn.Module``, an :class:`~mobilenet_lib.deploy.InferenceModel`, compiled or
    not) under ``torch.profiler`` with shapes recorded; every ATen / oneDNN convolution event (the
    ones inductor's compiled code calls included) gets its kind from its input and weight shapes.
    Nested events are counted once (the outermost convolution event).
    """
    from torch.profiler import ProfilerActivity, profile

    from mobilenet_lib.benchmark import torch_threads

    repeats, warmup = positive_int("repeats", repeats), positive_int("warmup", warmup)
    if not callable(model):
        raise TypeError(f"model must be callable, got {type(model).__name__}")
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    conv_names = ("aten::convolution", "aten::mkldnn_convolution", "mkldnn::_convolution_pointwise",
                  "aten::_convolution", "aten::conv2d", "mkldnn::_convolution_pointwise_")
    # inductor's int8 kernels: (x, x_scale, x_zp, weight, ...), the weight fourth
    int8_conv_names = ("onednn::qconv_pointwise", "onednn::qconv2d_pointwise")
    linear_names = ("aten::linear", "aten::addmm", "aten::mm", "mkldnn::_linear_pointwise", "mkl::_mkl_linear",
                    "onednn::qlinear_pointwise")
    conv_names += int8_conv_names
    with torch_threads(threads), torch.inference_mode():
        for _ in range(warmup):
            model(images)
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            for _ in range(repeats):
                with torch.profiler.record_function(_PASS):
                    model(images)
    events = prof.events()
    forward = [e for e in events if e.name == _PASS]
    total_us = sum(e.time_range.elapsed_us() for e in forward)
    picked = [e for e in events if e.name.startswith(conv_names + linear_names)]
    items = []
    for e in picked:
        parent, nested = e.cpu_parent, False
        while parent is not None:
            if parent.name.startswith(conv_names + linear_names):
                nested = True
                break
            parent = parent.cpu_parent
        if nested:
            continue
        shapes = e.input_shapes or []
        kind = "other"
        if e.name.startswith(linear_names):
            kind = "linear"
        else:
            # (input, weight, bias, ...); oneDNN's fused-add variants also take the addend, first
            # when in place (``_convolution_pointwise_``), second otherwise: the weight is the
            # last 4-d tensor of the first three.
            four = [i for i, s in enumerate(shapes[:3]) if len(s) == 4]
            if e.name.startswith(int8_conv_names) and len(shapes) > 3 and len(shapes[3]) == 4:
                kind = conv_kind(int(shapes[0][1]), shapes[3])
            elif len(four) >= 2:
                x_at = 1 if e.name.endswith("_") and len(four) == 3 else 0
                kind = conv_kind(int(shapes[x_at][1]), shapes[four[-1]])
        items.append((kind, e.time_range.elapsed_us() / 1e3 / repeats))
    return _kind_times(runtime, items, total_us / 1e3 / repeats, repeats)


def _partition_weight(group: Any) -> str:
    """The TorchScript name of a oneDNN Graph partition's first weight (``self.features.3...``),
    which names the block the partition belongs to (:func:`block_of`)."""
    for node in group.g("Subgraph").nodes():
        if node.kind() in ("aten::_convolution", "aten::linear", "aten::addmm", "aten::matmul"):
            return node.inputsAt(1).debugName()
    return ""


def _partition_kind(group: Any) -> str:
    """The kind of one oneDNN Graph partition: its convolutions' kinds joined by ``+`` (in graph
    order), ``linear`` for the classifier, ``other`` for a partition with neither."""
    convs, linear = [], False
    for node in group.g("Subgraph").nodes():
        if node.kind() == "aten::_convolution":
            weight = node.inputsAt(1).toIValue()  # frozen: the weight is a constant of the graph
            groups = int(node.inputsAt(8).toIValue())
            convs.append(conv_kind(groups * int(weight.shape[1]), tuple(weight.shape)))
        elif node.kind() in ("aten::linear", "aten::addmm", "aten::matmul"):
            linear = True
    if convs:
        return "+".join(convs)
    return "linear" if linear else "other"


def _fusion_groups(block: Any) -> list[Any]:
    found = []
    for node in block.nodes():
        if node.kind() == "prim::oneDNNFusionGroup":
            found.append(node)
        for inner in node.blocks():  # each group sits in the fast branch of its guard's prim::If
            found.extend(_fusion_groups(inner))
    return found


def profile_onednn_graph(model: Any, images: torch.Tensor, *, threads: int | None = None, repeats: int = 5,
                         warmup: int = 2) -> KindTimes:
    """Time every partition a model prepared with ``onednn_graph=True`` runs, per kind of layer.

    oneDNN Graph runs each fused group of the TorchScript graph as one partition
    (``LlgaPartition_<n>`` in ``torch.profiler``, numbered in graph order); a partition's kind comes
    from the convolutions inside it (:func:`_partition_kind`). A partition that fuses an expansion
    with the depthwise convolution after it is ``pointwise+depthwise``: its two layers run as one
    kernel, so their times cannot be told apart. Whatever runs outside the partitions (the input's
    layout conversion, the pooling, the interpreter between partitions) is ``other``.

    Raises:
        TypeError: if ``model`` was not prepared with ``onednn_graph=True``, or ``images`` is no tensor.
        ValueError: if the shape ran unfused (see ``InferenceModel``), so there is nothing to split.
    """
    from torch.profiler import ProfilerActivity, profile

    from mobilenet_lib.benchmark import torch_threads
    from mobilenet_lib.deploy import InferenceModel, _onednn_fusion

    repeats, warmup = positive_int("repeats", repeats), positive_int("warmup", warmup)
    if not isinstance(model, InferenceModel) or not model.onednn_graph:
        raise TypeError(f"model must be prepare_for_inference(..., onednn_graph=True), got {type(model).__name__}")
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    with torch_threads(threads), torch.inference_mode():
        for _ in range(warmup + 1):
            model(images)
        with _onednn_fusion():
            groups = _fusion_groups(torch.jit.last_executed_optimized_graph())
        if not groups:
            raise ValueError(f"oneDNN Graph did not fuse the model at input shape {tuple(images.shape)}")
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            model(images)  # the first call under the profiler pays for its set-up: not counted
            for _ in range(repeats):
                with torch.profiler.record_function(_PASS):
                    model(images)
    events = prof.events()
    forward = [e for e in events if e.name == _PASS]
    start = min(e.time_range.start for e in forward)
    total_us = sum(e.time_range.elapsed_us() for e in forward)
    partitions = [e for e in events if e.name.startswith("LlgaPartition_") and e.time_range.start >= start]
    numbers = sorted({int(e.name.rsplit("_", 1)[1]) for e in partitions})
    if len(numbers) != len(groups):
        raise RuntimeError(f"the profile shows {len(numbers)} oneDNN partitions, the graph {len(groups)}")
    kind_of = {f"LlgaPartition_{n}": _partition_kind(g) for n, g in zip(numbers, groups)}
    weight_of = {f"LlgaPartition_{n}": _partition_weight(g) for n, g in zip(numbers, groups)}
    items, blocks = [], {}
    for e in partitions:
        ms = e.time_range.elapsed_us() / 1e3 / repeats
        items.append((kind_of[e.name], ms))
        _add_block(blocks, weight_of[e.name], ms)
    return _kind_times("PyTorch, oneDNN Graph", items, total_us / 1e3 / repeats, repeats, blocks)
