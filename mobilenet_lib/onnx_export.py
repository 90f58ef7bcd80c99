"""Export a network of the book to ONNX, and run the export with ONNX Runtime.

ONNX is the exchange format the CPU runtimes people deploy with read: ONNX Runtime, OpenVINO
(which also reads PyTorch directly) and ONNX Runtime Web in a browser. :func:`export_onnx` writes
an eval-mode copy of any ``nn.Module`` of the library with ``torch.onnx.export`` (the caller's
model is never touched), a dynamic batch axis by default, and named input and output
(``image`` -> ``logits``) so that every consumer addresses them the same way.

Two exporters ship with PyTorch. The TorchScript-based one (``dynamo=False``) traces the model in
about two seconds; the ``torch.export``-based one (``dynamo=True``, PyTorch's default) takes
about ten times longer on two cores and gives the same graph for these convolutional networks.
The library defaults to the fast one and the tests check both give PyTorch's numbers.

:func:`onnx_session` opens an ONNX Runtime session whose thread pool does not spin between calls
(ONNX Runtime's workers otherwise busy-wait after each run and take the cores from whatever runs
next), and :func:`run_onnx` runs it on a tensor.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mobilenet_lib.validation import flag, integer, positive_int

__all__ = ["INPUT_NAME", "OUTPUT_NAME", "export_onnx", "onnx_session", "run_onnx", "operator_counts"]

INPUT_NAME = "image"
OUTPUT_NAME = "logits"


def _check_model(model: Any) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str] | None = None,
    *,
    image_size: int = 224,
    in_channels: int = 3,
    batch: int = 1,
    dynamic_batch: bool = True,
    opset: int = 18,
    dynamo: bool = False,
) -> bytes:
    """Export an eval-mode copy of ``model`` to ONNX; return the serialized model (and write it to
    ``path`` when given).

    ``image_size`` and ``in_channels`` shape the example input the exporter traces with
    (``batch`` images); with ``dynamic_batch`` the batch axis of input and output is symbolic, so
    the file serves any batch size. ``dynamo`` picks PyTorch's ``torch.export``-based exporter
    instead of the TorchScript-based one (see the module docstring).
    """
    _check_model(model)
    image_size = positive_int("image_size", image_size)
    in_channels = positive_int("in_channels", in_channels)
    batch = positive_int("batch", batch)
    opset = integer("opset", opset, low=13, high=23)
    dynamic_batch = flag("dynamic_batch", dynamic_batch)
    dynamo = flag("dynamo", dynamo)
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")

    frozen = copy.deepcopy(model).eval()
    example = torch.randn(batch, in_channels, image_size, image_size)
    kwargs: dict[str, Any] = dict(
        input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=opset, dynamo=dynamo
    )
    if dynamic_batch:
        if dynamo:
            kwargs["dynamic_shapes"] = ({0: torch.export.Dim("batch")},)
        else:
            kwargs["dynamic_axes"] = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}
    buffer = io.BytesIO()
    # Both exporters print progress and deprecation notes; a notebook cell should show neither.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
        warnings.simplefilter("ignore")
        if dynamo:
            program = torch.onnx.export(frozen, (example,), **kwargs)
            program.save(buffer)
        else:
            torch.onnx.export(frozen, (example,), buffer, **kwargs)
    data = buffer.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def onnx_session(model: bytes | str | os.PathLike[str], *, threads: int = 1, spin: bool = False) -> Any:
    """An ONNX Runtime CPU session for a serialized model or a file, with ``threads`` intra-op
    threads that sleep between calls unless ``spin``."""
    import onnxruntime as ort

    if not isinstance(model, (bytes, str, os.PathLike)):
        raise TypeError(f"model must be ONNX bytes or a path, got {type(model).__name__}")
    threads = positive_int("threads", threads)
    spin = flag("spin", spin)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else os.fspath(model)
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])


def run_onnx(session: Any, images: torch.Tensor) -> torch.Tensor:
    """Run an ONNX Runtime session on a float batch; return the logits as a tensor."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.dtype != torch.float32:
        raise ValueError(f"images must be float32, got {images.dtype}")
    (output,) = session.run([OUTPUT_NAME], {INPUT_NAME: images.detach().contiguous().numpy()})
    return torch.from_numpy(output)


def operator_counts(model: bytes | str | os.PathLike[str]) -> Counter[str]:
    """How many nodes of each operator type an ONNX graph has (e.g. ``Conv``, ``Relu``, ``Add``)."""
    import onnx

    if not isinstance(model, (bytes, str, os.PathLike)):
        raise TypeError(f"model must be ONNX bytes or a path, got {type(model).__name__}")
    proto = onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(os.fspath(model))
    return Counter(node.op_type for node in proto.graph.node)
