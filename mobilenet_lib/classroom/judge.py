"""The judge: runs the hidden tests in the grader's own process, on the sandbox's answers.

The tests call the checks of :mod:`mobilenet_lib.classroom.checks` exactly as in a notebook, but
the student's function or class they receive is a *proxy*: calling it sends the inputs (drawn by
the check, from a secret salt of this grading run) into the sandbox and returns the student's
output as plain data; a student's module becomes a mirror whose layers live here (the check copies
the reference weights into them) and whose forward pass runs in the sandbox with those weights.
References, comparisons and points are all computed here, so nothing the notebook patches, forges
or exits can change a verdict: a missing or malformed answer is a failed test case.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from mobilenet_lib.classroom import wire
from mobilenet_lib.classroom.sandbox import Sandbox, SandboxStopped

__all__ = ["CaseResult", "QuestionResult", "Unanswered", "judge", "needed_names", "possible_points"]

# Errors from the student's code come back by name; these are re-raised as themselves (a check may
# look for one, e.g. the RuntimeError of a shape mismatch), any other as a StudentError.
_KNOWN_ERRORS = {n: getattr(builtins, n) for n in (
    "RuntimeError", "TypeError", "ValueError", "IndexError", "KeyError", "AttributeError", "NameError",
    "NotImplementedError", "ZeroDivisionError", "AssertionError", "OverflowError", "UnboundLocalError",
)}
_MAX_LAYERS = 256
_MAX_MIRROR_PARAMS = 20_000_000


@dataclass
class CaseResult:
    name: str
    points: float
    hidden: bool
    passed: bool
    message: str


@dataclass
class QuestionResult:
    question: str
    score: float
    possible: float
    cases: list[CaseResult] = field(default_factory=list)


class Unanswered(Exception):
    """The sandbox gave no usable answer (it stopped, or sent something malformed)."""


class StudentError(Exception):
    """An exception of the student's code of a type not in ``_KNOWN_ERRORS``."""


def _error(info: Any) -> Exception:
    if not isinstance(info, dict):
        return Unanswered("malformed error report")
    kind, message = str(info.get("type", "Error"))[:60], str(info.get("message", ""))[:1000]
    if kind in _KNOWN_ERRORS:
        return _KNOWN_ERRORS[kind](message)
    name = re.sub(r"\W", "_", kind) or "Error"
    return type(name, (StudentError,), {})(message)


class Remote:
    """Request/answer with one sandbox; every failure becomes :class:`Unanswered` or the student's error."""

    def __init__(self, box: Sandbox, call_s: float) -> None:
        self.box, self.call_s, self.next_id = box, call_s, 0

    def ask(self, op: str, **fields: Any) -> dict[str, Any]:
        self.next_id += 1
        try:
            self.box.send({"id": self.next_id, "op": op, **fields})
            message = self.box.receive(self.call_s + 5)
        except SandboxStopped as e:
            raise Unanswered(str(e)) from None
        if message.get("id") != self.next_id:
            self.box.stop("stopped: the notebook's process broke the grader's protocol")
            raise Unanswered(self.box.stopped)
        if "error" in message:
            raise _error(message["error"])
        return message


def _value(message: dict[str, Any]) -> Any:
    try:
        return wire.decode(message.get("value"))
    except wire.WireError as e:
        raise Unanswered(f"the answer could not be read: {e}") from None


_PROBE = torch.linspace(-4, 4, 17, dtype=torch.float64)


def _encode_arg(arg: Any) -> Any:
    """Tensors and numbers as data; the few functions the checks pass (activations) by name."""
    if callable(arg) and not isinstance(arg, torch.Tensor):
        named = {F.relu: "relu", torch.relu: "relu", F.relu6: "relu6"}
        if arg in named:
            return {"callable": named[arg]}
        y = arg(_PROBE.clone())
        for name, fn in (("identity", lambda z: z), ("relu", F.relu), ("relu6", F.relu6)):
            if torch.equal(y, fn(_PROBE)):
                return {"callable": name}
        raise TypeError(f"the grader cannot send the function {arg!r} into the sandbox")
    return wire.encode(arg)


class RemoteFunction:
    """Stands for the student's function: each call is answered by the sandbox."""

    def __init__(self, remote: Remote, name: str) -> None:
        self.remote, self.__name__ = remote, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            raise TypeError("the grader passes positional arguments only")
        message = self.remote.ask("call", name=self.__name__, args=[_encode_arg(a) for a in args])
        after = message.get("args_after")
        if isinstance(after, list) and len(after) == len(args):  # in-place changes show, as in a notebook
            for a, data in zip(args, after):
                if isinstance(a, torch.Tensor) and data is not None:
                    try:
                        new = wire.decode(data)
                    except wire.WireError:
                        continue
                    if isinstance(new, torch.Tensor) and new.shape == a.shape and new.dtype == a.dtype:
                        a.copy_(new)
        return _value(message)


def _int(v: Any, low: int, high: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise Unanswered(f"the block's layers could not be read (bad size {v!r})")
    return v


def _pair(v: Any, low: int, high: int) -> tuple[int, int]:
    if not isinstance(v, list) or len(v) != 2:
        raise Unanswered("the block's layers could not be read")
    return (_int(v[0], low, high), _int(v[1], low, high))


def _mirror(d: Any) -> nn.Module:
    """A layer here with the configuration the sandbox reported (validated, bounded)."""
    if not isinstance(d, dict):
        raise Unanswered("the block's layers could not be read")
    kind = d.get("type")
    if kind == "Conv2d":
        i, o, groups = _int(d.get("in"), 1, 4096), _int(d.get("out"), 1, 4096), _int(d.get("groups"), 1, 4096)
        padding = d.get("padding")
        pad: Any = padding if padding in ("same", "valid") else _pair(padding, 0, 32)
        if i % groups or o % groups:
            raise Unanswered("the block's layers could not be read (groups)")
        return nn.Conv2d(i, o, _pair(d.get("kernel"), 1, 15), _pair(d.get("stride"), 1, 8), pad,
                         _pair(d.get("dilation"), 1, 8), groups, bias=bool(d.get("bias")))
    if kind == "BatchNorm2d":
        eps = d.get("eps")
        if not isinstance(eps, float) or not 0 < eps < 1:
            raise Unanswered("the block's layers could not be read (eps)")
        return nn.BatchNorm2d(_int(d.get("features"), 1, 4096), eps=eps, affine=bool(d.get("affine")),
                              track_running_stats=bool(d.get("track")))
    if kind == "Linear":
        return nn.Linear(_int(d.get("in"), 1, 8192), _int(d.get("out"), 1, 8192), bias=bool(d.get("bias")))
    raise Unanswered("the block's layers could not be read (type)")


class RemoteModule(nn.Module):
    """Mirror of a student's module: its layers here, its forward pass in the sandbox."""

    def __init__(self, remote: Remote, message: dict[str, Any], type_name: str) -> None:
        super().__init__()
        layers = message.get("layers")
        if not isinstance(layers, list) or len(layers) > _MAX_LAYERS:
            raise Unanswered("the block's layers could not be read")
        self._remote, self._handle, self._type_name = remote, message.get("handle"), type_name
        self.mirrors = nn.ModuleList([_mirror(d) for d in layers])
        own = sum(p.numel() for p in self.mirrors.parameters())
        if own > _MAX_MIRROR_PARAMS:
            raise Unanswered("the block is too large to grade")
        params = message.get("params")
        extra = params - own if isinstance(params, int) and not isinstance(params, bool) else 0
        if 0 < extra <= _MAX_MIRROR_PARAMS:  # parameters outside conv/BN/linear layers still count
            self.other_parameters = nn.Parameter(torch.zeros(extra))

    @staticmethod
    def _state(m: nn.Module) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for key in ("weight", "bias", "running_mean", "running_var"):
            t = getattr(m, key, None)
            if isinstance(t, torch.Tensor):
                state[key] = t
        if isinstance(m, nn.BatchNorm2d):
            state["eps"] = float(m.eps)
        return state

    def forward(self, x: torch.Tensor) -> Any:
        states = [wire.encode(self._state(m)) for m in self.mirrors]
        message = self._remote.ask("forward", handle=self._handle, x=wire.encode(x), training=self.training, state=states)
        calls = message.get("calls")
        if not isinstance(calls, list) or not all(isinstance(i, int) and 0 <= i < len(self.mirrors) for i in calls):
            raise Unanswered("the block's forward pass could not be read")
        for i in calls:  # the checks' forward hooks see the layers run in the student's order
            m = self.mirrors[i]
            for hook in list(m._forward_hooks.values()):
                hook(m, (x,), None)
        return _value(message)


def _remote_class(remote: Remote, name: str) -> type:
    """A class standing for the student's class: instantiating it builds the student's object in the sandbox."""

    def new(cls: type, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            raise TypeError("the grader passes positional arguments only")
        message = remote.ask("new", name=name, args=[wire.encode(a) for a in args])
        type_name = re.sub(r"\W", "_", str(message.get("type_name", "object")))[:60] or "object"
        if "handle" not in message:
            return type(type_name, (), {})()  # not a module: the check says so
        return RemoteModule(remote, message, type_name)

    return type(name, (), {"__new__": new})


def _test_file(source: str, question: str) -> Any:
    from otter.test_files.exception_test import ExceptionTestFile

    return ExceptionTestFile.from_string(source, path=question)


def possible_points(tests: dict[str, str]) -> dict[str, tuple[float, list[tuple[str, float, bool]]]]:
    """Per question: its points and (name, points, hidden) of each test case, without running anything."""
    out = {}
    for q, src in tests.items():
        cases = [(tc.body.test_func.__name__, float(tc.points or 0), bool(tc.hidden)) for tc in _test_file(src, q).test_cases]
        out[q] = (float(sum(p for _, p, _ in cases)), cases)
    return out


def needed_names(tests: dict[str, str]) -> list[str]:
    """The notebook names the tests take (their parameters), e.g. ``channel_shuffle``."""
    names: set[str] = set()
    for q, src in tests.items():
        for tc in _test_file(src, q).test_cases:
            names.update(p for p in tc.body._get_func_params() if p != "env")
    return sorted(names)


def _message(e: BaseException) -> str:
    text = str(e).strip()
    if not isinstance(e, AssertionError):
        text = f"{type(e).__name__}: {text}"
    return text[:1500]


def judge(tests: dict[str, str], remote: Remote, objects: dict[str, Any]) -> list[QuestionResult]:
    """Run every test case here against proxies for the sandbox's ``objects`` ({name: kind})."""
    namespace: dict[str, Any] = {}
    for name in needed_names(tests):
        kind = objects.get(name) if isinstance(objects, dict) else None
        if kind == "function":
            namespace[name] = RemoteFunction(remote, name)
        elif kind == "class":
            namespace[name] = _remote_class(remote, name)
    results = []
    for q, src in tests.items():
        cases = []
        for tc in _test_file(src, q).test_cases:
            name, points = tc.body.test_func.__name__, max(0.0, float(tc.points or 0))
            try:
                tc.body.call_func(namespace)
                passed, message = True, ""
            except Exception as e:  # noqa: BLE001 - any failure of a test case fails it
                passed, message = False, _message(e)
            cases.append(CaseResult(name, points, bool(tc.hidden), passed, message))
        possible = sum(c.points for c in cases)
        score = min(possible, sum(c.points for c in cases if c.passed))
        results.append(QuestionResult(q, score, possible, cases))
    return results
