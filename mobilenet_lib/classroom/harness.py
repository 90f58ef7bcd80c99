"""What runs *inside* the sandbox: execute a notebook's cells, then answer the grader's calls.

``python -I -m mobilenet_lib.classroom.harness`` reads one job line on stdin (the code cells and
the names the tests need), runs the cells, and then serves requests, one JSON line each way:
call a student's function on given inputs, build a student's module, run its forward pass with
given weights. It returns outputs only (:mod:`mobilenet_lib.classroom.wire`); the grader, outside,
computes the references and decides. Nothing here is trusted: the student's code runs in this
process and may change any of it, which can only spoil its own answers.

It also reports, for the instructor, where each graded object comes from (the notebook or a
library) and which library or torch ready-made answers the student's code calls while graded.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import types
from typing import Any

_LIB = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../mobilenet_lib
_ALLOWED = {("mobilenet_lib.experiments.manifold_collapse", "spiral")}  # handed out by the assignment
_READY_MADE = {"hardswish", "hardswish_", "hardsigmoid", "hardsigmoid_", "channel_shuffle", "native_channel_shuffle"}


class TimeLimit(BaseException):
    """The alarm of a cell or call that ran too long (a BaseException: ``except Exception`` misses it)."""


class _Capped:
    """stdout/stderr: keeps the first ``limit`` characters, counts the rest."""

    def __init__(self, stream: Any, limit: int) -> None:
        self.stream, self.limit, self.kept, self.dropped = stream, limit, 0, 0

    def write(self, text: str) -> int:
        data = str(text)
        room = max(0, self.limit - self.kept)
        if room:
            self.stream.write(data[:room])
        self.kept += min(room, len(data))
        self.dropped += max(0, len(data) - room)
        return len(data)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False


def _alarm(seconds: float, what: str) -> None:
    def fire(signum: int, frame: Any) -> None:
        raise TimeLimit(f"{what} ran longer than {seconds:g} s")

    signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _short_error(exc: BaseException, with_type: bool = True) -> str:
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<cell")]
    where = f" ({frames[-1].filename[1:-1]}, line {frames[-1].lineno})" if frames else ""
    text = str(exc).strip()
    kind = f"{type(exc).__name__}: " if with_type else ""
    return f"{kind}{text[:600]}{' ...' if len(text) > 600 else ''}{where}"


def _origin(name: str, obj: Any) -> str | None:
    """Why ``obj`` does not look written in the notebook, or None when it does."""
    import torch

    if isinstance(obj, types.FunctionType):
        module, filename = getattr(obj, "__module__", None), obj.__code__.co_filename
        if module == "__main__" and filename.startswith("<cell"):
            return None
        return f"{name} is {module}.{obj.__qualname__} (from {os.path.basename(filename)}), not written in the notebook"
    if isinstance(obj, type):
        if obj.__module__ != "__main__":
            return f"{name} is the class {obj.__module__}.{obj.__qualname__}, not written in the notebook"
        for base in obj.__mro__[1:]:
            if base.__module__.startswith("mobilenet_lib") or base in (torch.nn.Hardswish, torch.nn.Hardsigmoid, torch.nn.ChannelShuffle):
                return f"{name} subclasses {base.__module__}.{base.__qualname__}"
        return None
    if callable(obj):
        return f"{name} is a {type(obj).__module__}.{type(obj).__qualname__}, not a function written in the notebook"
    return None


class _Tracer:
    """A profile hook while the student's code is graded: notes library functions and torch's
    ready-made activations/shuffles it calls (by what runs, not by how the code spells it)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.tampered = False
        self._allowed: Any = None

    def __call__(self, frame: Any, event: str, arg: Any) -> None:
        if self._allowed is not None:  # inside an allowed library function: its helpers are its own business
            if event == "return" and frame is self._allowed:
                self._allowed = None
            return
        if event == "call":
            code = frame.f_code
            if code.co_filename.startswith(_LIB + os.sep) and code.co_name != "<module>":
                module = frame.f_globals.get("__name__", "?")
                ours = code.co_filename.startswith(os.path.join(_LIB, "classroom") + os.sep)  # checks, this harness
                if (module, code.co_name) in _ALLOWED:
                    self._allowed = frame
                elif not ours:
                    self.seen.add(f"{module}.{code.co_name}")
            elif code.co_name in _READY_MADE and code.co_filename.endswith(os.path.join("torch", "nn", "functional.py")):
                self.seen.add(f"torch.nn.functional.{code.co_name}")
        elif event == "c_call" and getattr(arg, "__name__", "") in _READY_MADE:
            self.seen.add(f"torch.{arg.__name__}")

    def run(self, fn: Any, *args: Any) -> Any:
        sys.setprofile(self)
        try:
            return fn(*args)
        finally:
            if sys.getprofile() is not self:
                self.tampered = True
            sys.setprofile(None)


_LAYERS = ("Conv2d", "BatchNorm2d", "Linear")


def _layers(module: Any) -> list[Any]:
    import torch.nn as nn

    return [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear))]


def _describe(m: Any) -> dict[str, Any]:
    import torch.nn as nn

    if isinstance(m, nn.Conv2d):
        return {"type": "Conv2d", "in": m.in_channels, "out": m.out_channels, "kernel": list(m.kernel_size),
                "stride": list(m.stride), "padding": m.padding if isinstance(m.padding, str) else list(m.padding),
                "dilation": list(m.dilation), "groups": m.groups, "bias": m.bias is not None}
    if isinstance(m, nn.BatchNorm2d):
        return {"type": "BatchNorm2d", "features": m.num_features, "eps": float(m.eps), "affine": bool(m.affine),
                "track": bool(m.track_running_stats)}
    return {"type": "Linear", "in": m.in_features, "out": m.out_features, "bias": m.bias is not None}


def _load(m: Any, state: dict[str, Any]) -> None:
    for key in ("weight", "bias", "running_mean", "running_var"):
        target = getattr(m, key, None)
        if key in state and target is not None:
            target.data.copy_(state[key].reshape(target.shape))
    if "eps" in state:
        m.eps = float(state["eps"])


def _callable_arg(arg: Any) -> Any:
    import torch.nn.functional as F

    if isinstance(arg, dict) and set(arg) == {"callable"}:
        return {"relu": F.relu, "identity": (lambda z: z), "relu6": F.relu6}[arg["callable"]]
    from mobilenet_lib.classroom import wire

    return wire.decode(arg)


def main() -> int:
    rpc_in = os.fdopen(os.dup(0), "rb")
    rpc_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)  # the notebook's prints go to the log, never onto the answer channel
    sys.dont_write_bytecode = True

    from mobilenet_lib.classroom import wire

    def reply(message: dict[str, Any]) -> None:
        rpc_out.write(wire.dumps(message))
        rpc_out.flush()

    job = wire.loads(rpc_in.readline())
    cell_s, call_s, keep = float(job["cell_s"]), float(job["call_s"]), int(job["output_bytes"])

    import torch
    from IPython.core.inputtransformer2 import TransformerManager

    torch.set_num_threads(1)
    sys.modules["otter"] = types.SimpleNamespace(Notebook=lambda *a, **k: types.SimpleNamespace(  # type: ignore[assignment]
        check=lambda *a, **k: None, check_all=lambda *a, **k: None, export=lambda *a, **k: None))
    out, err = _Capped(sys.stdout, keep), _Capped(sys.stderr, keep)
    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
    namespace: dict[str, Any] = {"__name__": "__main__", "display": lambda *a, **k: None}
    transformer = TransformerManager()
    cell_errors = []
    started = time.monotonic()
    for i, source in enumerate(job["cells"], start=1):
        try:
            code = compile(transformer.transform_cell(str(source)), f"<cell {i}>", "exec")
            _alarm(cell_s, f"code cell {i}")
            exec(code, namespace)
        except BaseException as e:  # the cell failed: note it and go on, as a notebook run would
            cell_errors.append(f"code cell {i}: {_short_error(e)}")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    objects = {}
    flags = []
    for name in job["names"]:
        obj = namespace.get(name)
        kind = "missing" if obj is None else "class" if isinstance(obj, type) else "function" if callable(obj) else "value"
        objects[name] = kind
        why = _origin(name, obj) if obj is not None else None
        if why:
            flags.append(why)
    reply({"ready": True, "cell_errors": cell_errors[:50], "objects": objects, "flags": flags,
           "cell_seconds": round(time.monotonic() - started, 2)})

    tracer = _Tracer()
    instances: list[Any] = []
    for line in rpc_in:
        request = wire.loads(line)
        rid, op = request.get("id"), request.get("op")
        if op == "finish":
            if tracer.tampered:
                flags = ["the notebook switched off the grader's call tracing"]
            else:
                flags = [f"calls {what} while graded" for what in sorted(tracer.seen)]
            reply({"id": rid, "flags": flags, "output_dropped": out.dropped + err.dropped})
            return 0
        answer: dict[str, Any] = {"id": rid}
        try:
            _alarm(call_s, f"grading {request.get('name', 'a call')}")
            if op == "call":
                fn = namespace[request["name"]]
                args = [_callable_arg(a) for a in request["args"]]
                value = tracer.run(fn, *args)
                answer["value"] = wire.encode(value)
                answer["args_after"] = [wire.encode(a) if isinstance(a, torch.Tensor) else None for a in args]
            elif op == "new":
                cls = namespace[request["name"]]
                args = [wire.decode(a) for a in request["args"]]
                obj = tracer.run(cls, *args)
                answer["type_name"] = type(obj).__name__
                if isinstance(obj, torch.nn.Module):
                    instances.append(obj)
                    answer["handle"] = len(instances) - 1
                    answer["layers"] = [_describe(m) for m in _layers(obj)]
                    answer["params"] = sum(p.numel() for p in obj.parameters())
            elif op == "forward":
                module = instances[int(request["handle"])]
                layers = _layers(module)
                states = [wire.decode(s) for s in request["state"]]
                if len(states) != len(layers):
                    raise RuntimeError("the block's layers changed since it was built")
                with torch.no_grad():
                    for m, s in zip(layers, states):
                        _load(m, s)
                module.train(bool(request["training"]))
                calls: list[int] = []
                index = {id(m): i for i, m in enumerate(layers)}
                hooks = [m.register_forward_hook(lambda mod, inp, res: calls.append(index[id(mod)])) for m in layers]
                try:
                    with torch.no_grad():
                        value = tracer.run(module, wire.decode(request["x"]))
                finally:
                    for h in hooks:
                        h.remove()
                answer["value"] = wire.encode(value)
                answer["calls"] = calls[:10_000]
            else:
                raise ValueError(f"unknown request {op!r}")
        except BaseException as e:  # the student's code failed on this input: that is the answer
            answer = {"id": rid, "error": {"type": type(e).__name__, "message": _short_error(e, with_type=False)}}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        reply(answer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
