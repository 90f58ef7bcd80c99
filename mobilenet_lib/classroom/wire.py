"""The data that crosses the sandbox boundary: plain JSON values and tensors, nothing executable.

Both sides use :func:`encode` / :func:`decode`. A tensor travels as its dtype, shape and raw bytes
(base64), so values come back bit for bit. The grader decodes what a sandbox sends *defensively*:
bounded nesting, bounded sizes, a fixed set of dtypes; anything else raises :class:`WireError`,
which the grader counts as a wrong (missing) answer, never as a crash.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import torch

MAX_DEPTH = 12
MAX_ITEMS = 100_000  # list items or tensor elements in one value
MAX_STR = 10_000

_DTYPES = {
    "float64": torch.float64, "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
    "int64": torch.int64, "int32": torch.int32, "int16": torch.int16, "int8": torch.int8, "uint8": torch.uint8,
    "bool": torch.bool,
}
_NAMES = {v: k for k, v in _DTYPES.items()}


class WireError(ValueError):
    """A value that is not plain data of the expected form."""


def encode(value: Any, depth: int = 0) -> Any:
    """A JSON-able form of ``value`` (numbers, strings, lists, dicts with string keys, tensors)."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        if t.dtype not in _NAMES:
            t = t.real.double() if t.is_complex() else t.double()
        if t.numel() > MAX_ITEMS:
            raise WireError(f"tensor of {t.numel()} elements is too large")
        raw = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        return {"tensor": _NAMES[t.dtype], "shape": list(t.shape), "data": base64.b64encode(raw).decode()}
    if type(value).__module__ == "numpy" and hasattr(value, "dtype"):
        return encode(torch.as_tensor(value.copy() if hasattr(value, "copy") else value), depth)
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_ITEMS:
            raise WireError("list too long")
        return {"tuple" if isinstance(value, tuple) else "list": [encode(v, depth + 1) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: encode(v, depth + 1) for k, v in value.items()}}
    if hasattr(value, "__float__"):  # numpy scalars and the like
        return encode(float(value), depth)
    raise WireError(f"a {type(value).__name__} cannot be sent")


def decode(data: Any, depth: int = 0) -> Any:
    """The value :func:`encode` made; raises :class:`WireError` for anything else."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    if data is None or isinstance(data, (bool, int, float)):
        return data
    if isinstance(data, str):
        if len(data) > MAX_STR:
            raise WireError("string too long")
        return data
    if not isinstance(data, dict) or len(data) not in (1, 3):
        raise WireError(f"unexpected {type(data).__name__}")
    if "tensor" in data:
        dtype, shape, raw = data.get("tensor"), data.get("shape"), data.get("data")
        if dtype not in _DTYPES or not isinstance(shape, list) or not isinstance(raw, str) or len(shape) > 8:
            raise WireError("malformed tensor")
        if not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_ITEMS for s in shape):
            raise WireError("malformed tensor shape")
        numel = math.prod(shape)
        if numel > MAX_ITEMS:
            raise WireError("tensor too large")
        try:
            buf = base64.b64decode(raw, validate=True)
        except ValueError as e:
            raise WireError("malformed tensor data") from e
        itemsize = torch.empty((), dtype=_DTYPES[dtype]).element_size()
        if len(buf) != numel * itemsize:
            raise WireError("tensor data does not match its shape")
        if numel == 0:
            return torch.empty(shape, dtype=_DTYPES[dtype])
        return torch.frombuffer(bytearray(buf), dtype=_DTYPES[dtype]).reshape(shape).clone()
    (kind, inner), = data.items()
    if kind == "float" and inner in ("nan", "inf", "-inf"):
        return float(inner)
    if kind in ("list", "tuple") and isinstance(inner, list) and len(inner) <= MAX_ITEMS:
        items = [decode(v, depth + 1) for v in inner]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict" and isinstance(inner, dict) and len(inner) <= MAX_ITEMS:
        return {str(k)[:MAX_STR]: decode(v, depth + 1) for k, v in inner.items()}
    raise WireError(f"unexpected {kind!r}")


def dumps(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def loads(line: bytes) -> dict[str, Any]:
    """One message from a line; :class:`WireError` if it is not a JSON object."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as e:  # RecursionError: absurdly deep nesting
        raise WireError(f"not JSON ({type(e).__name__})") from None
    if not isinstance(message, dict):
        raise WireError("not a JSON object")
    return message
