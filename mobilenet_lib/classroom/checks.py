"""Immediate feedback for the classroom assignments: check a student's code against the library.

Every check takes the student's function or class, runs it on **random inputs** (drawn from
``seed``) and compares it with this library's reference implementation, so an answer hard-coded
for one input does not pass. The result is a :class:`CheckReport`: one line per *part* of the
task, each passed or failed with a message that points at the likely mistake (a wrong shape, the
shortcut applied at stride 2, a ReLU left after the linear projection, ...). In a notebook::

    from mobilenet_lib.classroom.checks import check_inverted_residual
    check_inverted_residual(InvertedResidualBlock)       # shows which parts pass

The hidden tests of the graded assignments call the same checks with other seeds and more cases,
and award points per part (``report.require("shortcut")`` raises ``AssertionError`` with the
part's message when it failed).

Module checks (``check_depthwise_separable``, ``check_inverted_residual``, ``check_se_block``,
``check_shuffle_unit``) compare *behaviour*, not source code: they run one forward pass of the
student's block and of the reference block with hooks, pair up their convolutions, batch norms
and linear layers in the order they run, copy the reference's (randomised) weights into the
student's layers, and compare outputs in eval mode. When the outputs differ they are compared with
the outputs of known mistakes computed from the same layers, which names the mistake.
"""

from __future__ import annotations

import math
import signal
import threading
import time
import traceback
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "PartResult",
    "CheckReport",
    "check_separable_cost",
    "check_cost_ratio",
    "check_depthwise_separable",
    "check_embed_and_recover",
    "check_relative_error",
    "check_collapse_experiment",
    "check_inverted_residual",
    "check_inverted_residual_macs",
    "check_h_sigmoid",
    "check_h_swish",
    "check_se_block",
    "check_channel_shuffle",
    "check_shuffle_unit",
    "fresh_inputs",
]


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartResult:
    """One part of a check: its name, whether it passed, and what is wrong if not."""

    part: str
    passed: bool
    message: str = ""


class CheckReport:
    """The parts of one check, in order. ``str(report)`` (and the notebook display) lists them."""

    def __init__(self, title: str, parts: Sequence[PartResult]) -> None:
        self.title = title
        self.parts = list(parts)

    @property
    def passed(self) -> bool:
        """True when every part passed."""
        return all(p.passed for p in self.parts)

    @property
    def names(self) -> list[str]:
        return [p.part for p in self.parts]

    def __getitem__(self, part: str) -> PartResult:
        for p in self.parts:
            if p.part == part:
                return p
        raise KeyError(f"{self.title} has no part {part!r}; its parts are {self.names}")

    def require(self, *parts: str) -> None:
        """Raise ``AssertionError`` with the messages of the named parts (all parts if none) that failed.

        Raises:
            ValueError: if a name is not one of this check's parts.
        """
        unknown = [p for p in parts if p not in self.names]
        if unknown:
            raise ValueError(f"unknown part(s) {unknown} of {self.title}; the parts are {self.names}")
        wanted = parts or tuple(self.names)
        failed = [self[p] for p in wanted if not self[p].passed]
        if failed:
            raise AssertionError("\n".join(f"{p.part}: {p.message}" for p in failed))

    def __str__(self) -> str:
        done = sum(p.passed for p in self.parts)
        lines = [f"{self.title}: {done}/{len(self.parts)} parts pass"]
        for p in self.parts:
            lines.append(f"  {'PASS' if p.passed else 'FAIL'}  {p.part}" + ("" if p.passed else f": {p.message}"))
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><td>{'&#9989;' if p.passed else '&#10060;'}</td><td>{html.escape(p.part)}</td>"
            f"<td>{html.escape(p.message)}</td></tr>"
            for p in self.parts
        )
        done = sum(p.passed for p in self.parts)
        return (
            f"<p><b>{html.escape(self.title)}</b>: {done}/{len(self.parts)} parts pass</p>"
            f"<table>{rows}</table>"
        )


class _Fail(Exception):
    """A part failed; the message says why."""


# Frames in these folders are torch's or the checker's, not the student's.
_NOT_STUDENT = (str(Path(torch.__file__).resolve().parent), str(Path(__file__).resolve()))


def _describe_error(exc: BaseException) -> str:
    # Point at the student's own line: the innermost frame that is neither torch's nor the checker's
    # (a shape error raised deep inside F.conv2d is caused by the student's call to it).
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if not str(Path(f.filename).resolve()).startswith(_NOT_STUDENT)]
    where = ""
    if own or frames:
        last = (own or frames)[-1]
        where = f" (at line {last.lineno}: {last.line.strip()!r})" if last.line else f" (at line {last.lineno})"
    return f"raised {type(exc).__name__}: {exc}{where}"


#: Seconds one part of a check may run before it counts as failed (an endless loop in the
#: student's code then fails that part instead of hanging the notebook).
PART_TIME_LIMIT_S = 60.0


class _PartTimeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_PartTimeout` in the block after ``seconds`` (main thread only; elsewhere, or
    when an outer timer, such as the grader's, fires sooner, the outer limit applies)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    if 0 < outer_left <= seconds:
        yield
        return

    def fire(signum: int, frame: Any) -> None:
        raise _PartTimeout

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left > 0:  # re-arm the outer timer with what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - started), 1e-3))


class _Parts:
    """Runs the parts of a check in order; a part whose prerequisite failed is not run."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.results: list[PartResult] = []

    def ok(self, name: str) -> bool:
        return any(r.part == name and r.passed for r in self.results)

    def run(self, name: str, fn: Callable[[], None], needs: Iterable[str] = ()) -> None:
        blocked = [n for n in needs if not self.ok(n)]
        if blocked:
            self.results.append(PartResult(name, False, f"not checked until '{blocked[0]}' passes"))
            return
        try:
            with _time_limit(PART_TIME_LIMIT_S):
                fn()
        except _PartTimeout:
            self.results.append(PartResult(name, False, f"took longer than {PART_TIME_LIMIT_S:g} s (an endless loop?)"))
        except _Fail as e:
            self.results.append(PartResult(name, False, str(e)))
        except Exception as e:  # the student's code raised: report it as this part's failure
            self.results.append(PartResult(name, False, _describe_error(e)))
        else:
            self.results.append(PartResult(name, True))

    def report(self) -> CheckReport:
        return CheckReport(self.title, self.results)


# The grader sets a secret salt for its run (fresh_inputs), so the hidden tests' cases are drawn
# anew each time and cannot be known or precomputed by a notebook. 0: the seed as given.
_SALT = 0


@contextmanager
def fresh_inputs(salt: int) -> Iterator[None]:
    """Within this block every check draws its cases from ``seed`` mixed with ``salt``.

    Raises:
        ValueError: if ``salt`` is not an integer in [0, 2**62).
    """
    global _SALT
    if isinstance(salt, bool) or not isinstance(salt, int) or not 0 <= salt < 2**62:
        raise ValueError(f"salt must be an integer in [0, 2**62), got {salt!r}")
    before, _SALT = _SALT, salt
    try:
        yield
    finally:
        _SALT = before


def _rng(seed: int, trials: int = 1) -> torch.Generator:
    """The generator a check draws its cases from; also validates ``trials`` (zero cases would
    pass anything)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be a positive integer, got {trials!r}")
    return torch.Generator().manual_seed((seed ^ _SALT) % 2**63)


def _randint(g: torch.Generator, low: int, high: int) -> int:
    """A random integer in [low, high]."""
    return int(torch.randint(low, high + 1, (1,), generator=g))


def _choice(g: torch.Generator, options: Sequence[Any]) -> Any:
    return options[_randint(g, 0, len(options) - 1)]


def _check_callable(obj: Any, what: str) -> None:
    if not callable(obj):
        raise ValueError(f"pass the {what} itself (a callable), got {type(obj).__name__}: {obj!r}")


def _check_class(obj: Any, what: str) -> None:
    if not isinstance(obj, type):
        raise ValueError(
            f"pass the {what} class itself (e.g. MyBlock, not MyBlock(...)), got {type(obj).__name__}"
        )


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise _Fail(f"{what} should be a whole number, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise _Fail(f"{what} should be a whole number, got {value!r} ({type(value).__name__})")
    return int(value)


def _finite(t: torch.Tensor, what: str) -> torch.Tensor:
    """``t``, or a failed part when it holds NaN or infinity (allclose would only say 'differs')."""
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise _Fail(f"{what} holds {bad} NaN or infinite value(s); every output must be a finite number")
    return t


def _close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=tol, atol=tol)


# --------------------------------------------------------------------------------------------
# Costs (depthwise separable assignment)
# --------------------------------------------------------------------------------------------


def check_separable_cost(separable_cost: Callable[..., Any], *, seed: int = 0, trials: int = 25) -> CheckReport:
    """Check ``separable_cost(dk, m, n, df) -> (params, mult_adds)`` of a depthwise separable conv.

    The reference is :func:`mobilenet_lib.costs.separable_conv_cost` (no biases, ``df`` the output
    size). Parts: ``returns two numbers``, ``parameters``, ``mult-adds``.
    """
    from mobilenet_lib.costs import separable_conv_cost

    _check_callable(separable_cost, "separable_cost function")
    g = _rng(seed, trials)
    # D_K >= 3: with D_K = 1 a depthwise filter and a missing term look alike, and the hints would guess.
    cases = [(_choice(g, [3, 5, 7]), _randint(g, 2, 512), _randint(g, 2, 512), _randint(g, 2, 112)) for _ in range(trials)]
    parts = _Parts("separable_cost")
    answers: list[tuple[int, int]] = []

    def returns_pair() -> None:
        for dk, m, n, df in cases:
            out = separable_cost(dk, m, n, df)
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise _Fail(f"separable_cost({dk}, {m}, {n}, {df}) returned {out!r}; return a pair (params, mult_adds)")
            answers.append((_as_int(out[0], "params"), _as_int(out[1], "mult_adds")))

    def params() -> None:
        for (dk, m, n, df), (p, _) in zip(cases, answers):
            want = separable_conv_cost(dk, m, n, df).params
            if p == want:
                continue
            hint = {
                dk * dk * m * n: "that is a standard convolution's count, D_K·D_K·M·N",
                m * n: "the depthwise filters (D_K·D_K·M) are missing",
                dk * dk * m: "the pointwise filters (M·N) are missing",
                dk * dk * m + m * n + m + n: "no biases: every conv is followed by batch norm",
            }.get(p, "expected D_K·D_K·M + M·N")
            raise _Fail(f"for dk={dk}, m={m}, n={n}: got {p:,} parameters, expected {want:,} ({hint})")

    def macs() -> None:
        for (dk, m, n, df), (_, a) in zip(cases, answers):
            want = separable_conv_cost(dk, m, n, df).macs
            if a == want:
                continue
            hint = {
                dk * dk * m * n * df * df: "that is a standard convolution's cost",
                (dk * dk * m + m * n) * df: "each filter runs at D_F·D_F positions: multiply by D_F squared",
                m * n * df * df: "the depthwise term D_K·D_K·M·D_F·D_F is missing",
                dk * dk * m * df * df: "the pointwise term M·N·D_F·D_F is missing",
                dk * dk * m + m * n: "that is the parameter count; multiply each term by D_F·D_F",
            }.get(a, "expected D_K·D_K·M·D_F·D_F + M·N·D_F·D_F")
            raise _Fail(f"for dk={dk}, m={m}, n={n}, df={df}: got {a:,} mult-adds, expected {want:,} ({hint})")

    parts.run("returns two numbers", returns_pair)
    parts.run("parameters", params, needs=["returns two numbers"])
    parts.run("mult-adds", macs, needs=["returns two numbers"])
    return parts.report()


def check_cost_ratio(cost_ratio: Callable[..., Any], *, seed: int = 0, trials: int = 25) -> CheckReport:
    """Check ``cost_ratio(dk, n) -> float``: separable over standard mult-adds, ``1/N + 1/D_K²``.

    The reference is :func:`mobilenet_lib.costs.separable_cost_ratio`. Parts: ``returns a number``,
    ``value``.
    """
    from mobilenet_lib.costs import separable_cost_ratio

    _check_callable(cost_ratio, "cost_ratio function")
    g = _rng(seed, trials)
    cases = [(_choice(g, [3, 5, 7]), _randint(g, 2, 1024)) for _ in range(trials)]
    parts = _Parts("cost_ratio")
    answers: list[float] = []

    def number() -> None:
        for dk, n in cases:
            out = cost_ratio(dk, n)
            if isinstance(out, torch.Tensor) and out.numel() == 1:
                out = out.item()
            if isinstance(out, bool) or not isinstance(out, (int, float)) and not hasattr(out, "__float__"):
                raise _Fail(f"cost_ratio({dk}, {n}) returned {out!r}; return a number (a float)")
            answers.append(float(out))

    def value() -> None:
        for (dk, n), got in zip(cases, answers):
            want = float(separable_cost_ratio(dk, n))
            if math.isclose(got, want, rel_tol=1e-9):
                continue
            hint = "expected 1/N + 1/D_K²"
            if math.isclose(got, 1 / want, rel_tol=1e-9):
                hint = "that is standard over separable; the ratio asked for is separable over standard"
            elif math.isclose(got, 1 / n + 1 / dk, rel_tol=1e-9):
                hint = "the kernel term is 1/D_K², not 1/D_K"
            elif math.isclose(got, 1 / dk**2, rel_tol=1e-9) or math.isclose(got, 1 / n, rel_tol=1e-9):
                hint = "one of the two terms 1/N and 1/D_K² is missing"
            raise _Fail(f"cost_ratio({dk}, {n}) = {got:.6g}, expected {want:.6g} ({hint})")

    parts.run("returns a number", number)
    parts.run("value", value, needs=["returns a number"])
    return parts.report()


# --------------------------------------------------------------------------------------------
# Comparing a student's block with the reference block
# --------------------------------------------------------------------------------------------

_LAYER_TYPES = (nn.Conv2d, nn.BatchNorm2d, nn.Linear)


def _layer_calls(module: nn.Module, x: torch.Tensor) -> tuple[list[nn.Module], torch.Tensor]:
    """The convolutions, batch norms and linear layers a forward pass runs, in call order."""
    calls: list[nn.Module] = []
    hooks = [
        m.register_forward_hook(lambda mod, inp, out: calls.append(mod))
        for m in module.modules()
        if isinstance(m, _LAYER_TYPES)
    ]
    try:
        with torch.no_grad():
            out = module(x)
    finally:
        for h in hooks:
            h.remove()
    return calls, out


def _layer_name(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        k = m.kernel_size[0]
        kind = "depthwise " if m.groups == m.in_channels and m.groups > 1 else ""
        extra = f", stride {m.stride[0]}" if m.stride[0] != 1 else ""
        extra += f", groups {m.groups}" if m.groups not in (1, m.in_channels) else ""
        return f"{kind}{k}x{k} conv {m.in_channels}->{m.out_channels}{extra}"
    if isinstance(m, nn.BatchNorm2d):
        return f"BN({m.num_features})"
    if isinstance(m, nn.Linear):
        return f"Linear {m.in_features}->{m.out_features}"
    return type(m).__name__


def _is_fc(m: nn.Module) -> bool:
    return isinstance(m, nn.Linear) or (isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) and m.groups == 1)


def _fc_shape(m: nn.Module) -> tuple[int, int]:
    return (m.in_features, m.out_features) if isinstance(m, nn.Linear) else (m.in_channels, m.out_channels)


def _same_layer(s: nn.Module, r: nn.Module, fc_either: bool) -> bool:
    if fc_either and _is_fc(s) and _is_fc(r):
        return _fc_shape(s) == _fc_shape(r)
    if type(s) is not type(r):
        return False
    if isinstance(r, nn.Conv2d):
        return (s.in_channels, s.out_channels, s.kernel_size, s.stride, s.groups, s.padding) == (
            r.in_channels, r.out_channels, r.kernel_size, r.stride, r.groups, r.padding
        )
    if isinstance(r, nn.BatchNorm2d):
        return s.num_features == r.num_features
    return True


def _randomise(reference: nn.Module, g: torch.Generator) -> None:
    """Give the reference's batch norms non-trivial statistics (fresh ones are the identity)."""
    with torch.no_grad():
        for m in reference.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(0.5 * torch.randn(n, generator=g))
                m.running_mean.copy_(0.2 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
            elif isinstance(m, (nn.Conv2d, nn.Linear)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / m.weight[0].numel()) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))


def _transplant(
    student: nn.Module, reference: nn.Module, x: torch.Tensor, *, fc_either: bool = False, hint: str = ""
) -> None:
    """Pair the layers by call order and copy the reference's weights into the student's layers.

    Raises _Fail with both layer sequences when they do not pair up.
    """
    s_calls, _ = _layer_calls(student, x)
    r_calls, _ = _layer_calls(reference, x)
    if len(s_calls) != len(r_calls) or not all(_same_layer(s, r, fc_either) for s, r in zip(s_calls, r_calls)):
        mismatch = next(
            (i for i, (s, r) in enumerate(zip(s_calls, r_calls)) if not _same_layer(s, r, fc_either)),
            min(len(s_calls), len(r_calls)),
        )
        raise _Fail(
            f"the forward pass should run [{', '.join(map(_layer_name, r_calls))}], "
            f"yours ran [{', '.join(map(_layer_name, s_calls))}] "
            f"(first difference at layer {mismatch + 1}{hint})"
        )
    with torch.no_grad():
        for s, r in zip(s_calls, r_calls):
            s.weight.copy_(r.weight.reshape(s.weight.shape))
            if getattr(s, "bias", None) is not None:
                s.bias.copy_(r.bias if r.bias is not None else torch.zeros_like(s.bias))
            if isinstance(r, nn.BatchNorm2d):
                s.running_mean.copy_(r.running_mean)
                s.running_var.copy_(r.running_var)
                s.eps = r.eps


def _conv_bias_note(student: nn.Module) -> str:
    biased = [m for m in student.modules() if isinstance(m, nn.Conv2d) and m.bias is not None]
    return " (a conv followed by batch norm needs no bias: pass bias=False)" if biased else ""


def _match_variant(y: torch.Tensor, variants: Sequence[tuple[torch.Tensor, str]]) -> str | None:
    for out, message in variants:
        if _close(y, out, 1e-4):
            return message
    return None


def _call(name: str, args: tuple[Any, ...]) -> str:
    return f"{name}({', '.join(map(repr, args))})"


class _BlockCase:
    """One configuration of a block: the student's and the reference's module with shared weights."""

    def __init__(self, args: tuple[Any, ...], student: nn.Module, reference: nn.Module, x: torch.Tensor) -> None:
        self.args = args
        self.student = student
        self.reference = reference
        self.x = x


def _build_cases(
    parts: _Parts,
    cls: type,
    reference_fn: Callable[..., nn.Module],
    configs: Sequence[tuple[Any, ...]],
    input_shape: Callable[[tuple[Any, ...]], tuple[int, ...]],
    g: torch.Generator,
    name: str,
) -> list[_BlockCase]:
    cases: list[_BlockCase] = []

    def builds() -> None:
        for args in configs:
            try:
                block = cls(*args)
            except Exception as e:
                raise _Fail(f"{_call(name, args)} {_describe_error(e)}") from None
            if not isinstance(block, nn.Module):
                raise _Fail(f"{_call(name, args)} is a {type(block).__name__}, not a torch.nn.Module")
            reference = reference_fn(*args)
            _randomise(reference, g)
            x = torch.randn(input_shape(args), generator=g)
            cases.append(_BlockCase(args, block.eval(), reference.eval(), x))

    parts.run("builds", builds)
    return cases


def _shape_part(cases: list[_BlockCase], name: str, shape_hint: Callable[[_BlockCase, tuple[int, ...]], str]) -> Callable[[], None]:
    def run() -> None:
        for c in cases:
            with torch.no_grad():
                try:
                    y = c.student(c.x.clone())
                except Exception as e:
                    raise _Fail(f"{_call(name, c.args)} on an input of shape {tuple(c.x.shape)} {_describe_error(e)}") from None
                want = c.reference(c.x)
            if not isinstance(y, torch.Tensor):
                raise _Fail(f"{_call(name, c.args)}.forward returned a {type(y).__name__}, not a tensor")
            if y.shape != want.shape:
                raise _Fail(
                    f"{_call(name, c.args)} maps {tuple(c.x.shape)} to {tuple(y.shape)}, expected {tuple(want.shape)}"
                    f"{shape_hint(c, tuple(y.shape))}"
                )

    return run


def _spatial_hint(c: _BlockCase, got: tuple[int, ...], stride: int) -> str:
    h = c.x.shape[-1]
    if len(got) == 4 and got[-1] == h - 2:
        return " (a 3x3 conv needs padding=1 to keep the size)"
    if len(got) == 4 and stride == 2 and got[-1] == h:
        return " (stride 2 must halve the height and width: give the depthwise conv stride=2)"
    if len(got) == 4 and stride == 1 and got[-1] < h:
        return " (stride 1 keeps the height and width)"
    return ""


_CONV_HINT = "; the stride belongs to the 3x3 depthwise conv, and a conv followed by batch norm has no bias"


def _layers_part(cases: list[_BlockCase], fc_either: bool = False, hint: str = _CONV_HINT) -> Callable[[], None]:
    def run() -> None:
        for c in cases:
            _transplant(c.student, c.reference, c.x, fc_either=fc_either, hint=hint)

    return run


def _forward_part(
    cases: list[_BlockCase],
    name: str,
    variants: Callable[[_BlockCase], list[tuple[torch.Tensor, str]]],
    fallback: str,
) -> Callable[[], None]:
    def run() -> None:
        for c in cases:
            with torch.no_grad():
                y = c.student(c.x.clone())
                want = c.reference(c.x)
            if isinstance(y, torch.Tensor):
                _finite(y, f"the output of {_call(name, c.args)}")
            if _close(y, want):
                continue
            diff = (y.double() - want.double()).abs().max().item()
            known = _match_variant(y, variants(c))
            raise _Fail(
                f"{_call(name, c.args)}: output differs from the reference (max difference {diff:.3g}) although the "
                f"layers match: {known or fallback}"
            )

    return run


# --------------------------------------------------------------------------------------------
# Depthwise separable convolution (MobileNet V1)
# --------------------------------------------------------------------------------------------


def check_depthwise_separable(cls: type, *, seed: int = 0, trials: int = 4) -> CheckReport:
    """Check a class ``cls(in_ch, out_ch, stride)``: 3x3 depthwise conv-BN-ReLU, 1x1 conv-BN-ReLU.

    The reference is :class:`mobilenet_lib.blocks.DepthwiseSeparableConv`. Parts: ``builds``,
    ``output shape``, ``layers``, ``parameters``, ``forward``.
    """
    from mobilenet_lib.blocks import DepthwiseSeparableConv

    _check_class(cls, "depthwise separable block")
    g = _rng(seed, trials)
    configs = [(_randint(g, 2, 12), _randint(g, 2, 16), 1 + i % 2) for i in range(max(2, trials))]
    parts = _Parts("DepthwiseSeparable")

    def shape_of(args: tuple[Any, ...]) -> tuple[int, ...]:
        return (2, args[0], _randint(g, 5, 11), _randint(g, 5, 11))

    cases = _build_cases(parts, cls, lambda i, o, s: DepthwiseSeparableConv(i, o, s), configs, shape_of, g, "DepthwiseSeparable")

    def hint(c: _BlockCase, got: tuple[int, ...]) -> str:
        if len(got) == 4 and got[1] != c.args[1]:
            return f" (the output must have out_ch={c.args[1]} channels)"
        return _spatial_hint(c, got, c.args[2])

    def params() -> None:
        for c in cases:
            got = sum(p.numel() for p in c.student.parameters())
            want = sum(p.numel() for p in c.reference.parameters())
            if got != want:
                i, o = c.args[:2]
                full = 9 * i * o
                note = _conv_bias_note(c.student)
                if got - want >= 9 * i * (i - 1) > 0:  # the extra weights of a full 3x3 conv on in_ch channels
                    note += f" (about a full 3x3 conv's {full:,} weights: is the 3x3 conv depthwise, groups=in_ch?)"
                raise _Fail(f"{_call('DepthwiseSeparable', c.args)} has {got:,} parameters, expected {want:,}{note}")

    def variants(c: _BlockCase) -> list[tuple[torch.Tensor, str]]:
        dw, pw = c.reference.depthwise, c.reference.pointwise
        x = c.x
        with torch.no_grad():
            return [
                (pw[1](pw[0](F.relu(dw[1](dw[0](x))))), "the pointwise unit has no ReLU; put BN then ReLU after both convs"),
                (F.relu(pw[1](pw[0](dw[1](dw[0](x))))), "the depthwise unit has no ReLU; put BN then ReLU after both convs"),
                (pw[1](pw[0](dw[1](dw[0](x)))), "there is no ReLU at all; put BN then ReLU after both convs"),
                (F.relu6(pw[1](pw[0](F.relu6(dw[1](dw[0](x)))))), "use ReLU (MobileNet V1), not ReLU6"),
                (F.relu(pw[1](pw[0](dw[1](F.relu(dw[0](x)))))), "the order in each unit is conv, BN, ReLU (ReLU came before BN)"),
            ]

    parts.run("output shape", _shape_part(cases, "DepthwiseSeparable", hint), needs=["builds"])
    parts.run("layers", _layers_part(cases), needs=["output shape"])
    parts.run("parameters", params, needs=["builds"])
    parts.run(
        "forward",
        _forward_part(cases, "DepthwiseSeparable", variants, "check the order conv, BN, ReLU in each unit"),
        needs=["layers"],
    )
    return parts.report()


# --------------------------------------------------------------------------------------------
# Manifold collapse (MobileNet V2, Figure 1)
# --------------------------------------------------------------------------------------------


def _reference_recover(x: torch.Tensor, T: torch.Tensor, act: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    return act(x @ T.T) @ torch.linalg.pinv(T).T


def _as_tensor(out: Any, what: str) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return _finite(out.detach(), f"the tensor {what} returned")
    try:
        import numpy as np

        if isinstance(out, np.ndarray):
            return _finite(torch.from_numpy(out), f"the array {what} returned")
    except ImportError:  # pragma: no cover - numpy ships with torch
        pass
    raise _Fail(f"{what} returned a {type(out).__name__}; return a torch tensor")


def check_embed_and_recover(embed_and_recover: Callable[..., Any], *, seed: int = 0, trials: int = 6) -> CheckReport:
    """Check ``embed_and_recover(x, T, act) -> x_hat``: ``x_hat = pinv(T) act(T x)`` for every point.

    ``x`` is ``(N, 2)``, ``T`` is ``(n, 2)``, ``act`` a function on tensors; the result is ``(N, 2)``.
    Parts: ``shape``, ``identity activation``, ``ReLU``.
    """
    _check_callable(embed_and_recover, "embed_and_recover function")
    g = _rng(seed, trials)
    cases = []
    for _ in range(trials):
        n_points, n = _randint(g, 20, 60), _randint(g, 2, 30)
        cases.append((torch.randn(n_points, 2, generator=g, dtype=torch.float64), torch.randn(n, 2, generator=g, dtype=torch.float64)))
    parts = _Parts("embed_and_recover")

    def call(x: torch.Tensor, T: torch.Tensor, act: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        return _as_tensor(embed_and_recover(x.clone(), T.clone(), act), "embed_and_recover").double()

    def shape() -> None:
        for x, T in cases:
            y = call(x, T, F.relu)
            if y.shape != x.shape:
                hint = " (project back to the plane with pinv(T), which is 2 x n)" if y.shape[-1] == T.shape[0] else ""
                raise _Fail(f"with x {tuple(x.shape)} and T {tuple(T.shape)} got {tuple(y.shape)}, expected {tuple(x.shape)}{hint}")

    def identity() -> None:
        for x, T in cases:
            y = call(x, T, lambda z: z)
            if _close(y, x, 1e-6):
                continue
            if _close(y, x @ T.T @ T, 1e-6):
                raise _Fail("used T's transpose to map back; T's columns are not orthonormal, use torch.linalg.pinv(T)")
            raise _Fail("with the identity as activation the spiral must come back exactly (x_hat = pinv(T) T x = x)")

    def relu() -> None:
        for x, T in cases:
            y = call(x, T, F.relu)
            want = _reference_recover(x, T, F.relu)
            if _close(y, want, 1e-6):
                continue
            known = _match_variant(y, [
                (F.relu(x @ T.T) @ T, "used T's transpose to map back; use torch.linalg.pinv(T)"),
                (F.relu(x), "the activation must act in the n-dimensional space, on T x, before projecting back"),
                (F.relu(x @ T.T @ torch.linalg.pinv(T).T), "the activation must act in the n-dimensional space, before projecting back"),
                (x, "the activation was not applied"),
            ])
            raise _Fail(known or "expected act(x @ T.T) @ pinv(T).T")

    parts.run("shape", shape)
    parts.run("identity activation", identity, needs=["shape"])
    parts.run("ReLU", relu, needs=["shape"])
    return parts.report()


def _reference_relative_error(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    energy = (x_hat * x_hat).sum()
    gain = (x_hat * x).sum() / energy if energy > 0 else torch.zeros((), dtype=x.dtype)
    return float(((gain * x_hat - x) ** 2).sum() / (x * x).sum())


def check_relative_error(relative_error: Callable[..., Any], *, seed: int = 0, trials: int = 6) -> CheckReport:
    """Check ``relative_error(x, x_hat) -> float``: ``min_s ||s x_hat - x||² / ||x||²``.

    The definition of :mod:`mobilenet_lib.experiments.manifold_collapse` (the best single rescaling, 0 when ``x_hat``
    is all zero). Parts: ``returns a number``, ``exact copy``, ``rescaled copy``, ``all-zero
    reconstruction``, ``random reconstruction``.
    """
    _check_callable(relative_error, "relative_error function")
    g = _rng(seed, trials)
    xs = [torch.randn(_randint(g, 10, 50), 2, generator=g, dtype=torch.float64) for _ in range(trials)]
    parts = _Parts("relative_error")

    def call(x: torch.Tensor, x_hat: torch.Tensor) -> float:
        out = relative_error(x.clone(), x_hat.clone())
        if isinstance(out, torch.Tensor) and out.numel() == 1:
            out = out.item()
        if isinstance(out, bool) or not isinstance(out, (int, float)) and not hasattr(out, "__float__"):
            raise _Fail(f"returned {out!r}; return one number")
        return float(out)

    def number() -> None:
        call(xs[0], xs[0])

    def exact() -> None:
        for x in xs:
            if abs(call(x, x)) > 1e-9:
                raise _Fail("a perfect copy (x_hat == x) must give 0")

    def rescaled() -> None:
        for x in xs:
            s = 0.2 + float(torch.rand((), generator=g))
            got = call(x, s * x)
            if abs(got) > 1e-9:
                plain = float(((s * x - x) ** 2).sum() / (x * x).sum())
                hint = " (this is the error without the best rescaling s = <x_hat, x> / <x_hat, x_hat>)" if math.isclose(got, plain, rel_tol=1e-6) else ""
                raise _Fail(f"x_hat = {s:.2f} * x must give 0 (a shrunk copy has lost nothing), got {got:.4g}{hint}")

    def zero() -> None:
        got = call(xs[0], torch.zeros_like(xs[0]))
        if not math.isclose(got, 1.0, rel_tol=1e-9):
            raise _Fail(f"an all-zero x_hat must give 1 (nothing of x is left; use s = 0), got {got!r}")

    def random() -> None:
        for x in xs:
            x_hat = x + torch.randn(x.shape, generator=g, dtype=torch.float64)
            got, want = call(x, x_hat), _reference_relative_error(x, x_hat)
            if math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-12):
                continue
            gain = float((x_hat * x).sum() / (x_hat * x_hat).sum())
            residual = float(((gain * x_hat - x) ** 2).sum())
            hint = "expected min_s ||s x_hat - x||² / ||x||²"
            if math.isclose(got, residual, rel_tol=1e-6):
                hint = "divide by ||x||² (the error is relative)"
            elif math.isclose(got, math.sqrt(want), rel_tol=1e-6):
                hint = "use squared norms, not norms"
            raise _Fail(f"got {got:.6g}, expected {want:.6g} ({hint})")

    parts.run("returns a number", number)
    for name, fn in (("exact copy", exact), ("rescaled copy", rescaled), ("all-zero reconstruction", zero), ("random reconstruction", random)):
        parts.run(name, fn, needs=["returns a number"])
    return parts.report()


def check_collapse_experiment(collapse_experiment: Callable[..., Any], *, seed: int = 0, trials: int = 5) -> CheckReport:
    """Check ``collapse_experiment(n, seed, activation) -> float`` against :func:`manifold_collapse`.

    ``activation`` is ``"relu"`` or ``"linear"``; the result must equal
    ``manifold_collapse(n, seed=seed, activation=activation).relative_error``. Parts:
    ``returns a number``, ``linear is lossless``, ``ReLU``.
    """
    from mobilenet_lib.experiments.manifold_collapse import manifold_collapse

    _check_callable(collapse_experiment, "collapse_experiment function")
    g = _rng(seed, trials)
    cases = [(_randint(g, 2, 40), _randint(g, 0, 1000)) for _ in range(trials)]
    parts = _Parts("collapse_experiment")

    def call(n: int, s: int, activation: str) -> float:
        out = collapse_experiment(n, s, activation)
        if isinstance(out, torch.Tensor) and out.numel() == 1:
            out = out.item()
        if isinstance(out, bool) or not isinstance(out, (int, float)) and not hasattr(out, "__float__"):
            raise _Fail(f"collapse_experiment({n}, {s}, {activation!r}) returned {out!r}; return one number")
        return float(out)

    def number() -> None:
        call(*cases[0], "relu")

    def linear() -> None:
        for n, s in cases:
            got = call(n, s, "linear")
            if abs(got) > 1e-9:
                raise _Fail(f"collapse_experiment({n}, {s}, 'linear') = {got:.4g}: with no activation nothing is lost, expected 0")

    def relu() -> None:
        for n, s in cases:
            got = call(n, s, "relu")
            want = manifold_collapse(n, seed=s, activation="relu").relative_error
            if not math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
                raise _Fail(
                    f"collapse_experiment({n}, {s}, 'relu') = {got:.6g}, expected {want:.6g} (use spiral(), T as the first n "
                    f"rows of a 256 x 2 float64 torch.randn from torch.Generator().manual_seed(seed), and the relative error)"
                )

    parts.run("returns a number", number)
    parts.run("linear is lossless", linear, needs=["returns a number"])
    parts.run("ReLU", relu, needs=["returns a number"])
    return parts.report()


# --------------------------------------------------------------------------------------------
# Inverted residual (MobileNet V2)
# --------------------------------------------------------------------------------------------


def _ir_body(ref: nn.Module, x: torch.Tensor, project_act: Callable[[torch.Tensor], torch.Tensor] | None) -> torch.Tensor:
    """The reference block's residual branch, optionally with an activation after the projection."""
    out = ref.conv(x)
    return project_act(out) if project_act is not None else out


def check_inverted_residual(cls: type, *, seed: int = 0) -> CheckReport:
    """Check a class ``cls(in_ch, out_ch, stride, expand_ratio)``: MobileNet V2's inverted residual.

    1x1 expand-BN-ReLU6 (skipped when ``expand_ratio == 1``), 3x3 depthwise-BN-ReLU6 with the
    stride, linear 1x1 project-BN, and ``x +`` the result exactly when ``stride == 1`` and
    ``in_ch == out_ch``. The reference is :class:`mobilenet_lib.blocks.InvertedResidual`. Parts:
    ``builds``, ``output shape``, ``layers``, ``linear projection``, ``shortcut``, ``forward``.
    """
    from mobilenet_lib.blocks import InvertedResidual

    _check_class(cls, "inverted residual block")
    g = _rng(seed)
    c = _randint(g, 4, 12)
    configs = [
        (c, c, 1, _choice(g, [2, 4, 6])),             # the residual case
        (c, c, 2, _choice(g, [2, 4, 6])),             # same width, stride 2: no shortcut
        (c, _randint(g, c + 1, 20), 1, _choice(g, [3, 6])),  # widths differ: no shortcut
        (_randint(g, 4, 12), _randint(g, 4, 12), 2, 1),      # expand_ratio 1: no expansion conv
        (c, c, 1, 1),                                 # expand_ratio 1 with the shortcut
    ]
    parts = _Parts("InvertedResidualBlock")

    def shape_of(args: tuple[Any, ...]) -> tuple[int, ...]:
        return (2, args[0], _randint(g, 5, 9), _randint(g, 5, 9))

    cases = _build_cases(
        parts, cls, lambda i, o, s, t: InvertedResidual(i, o, s, t), configs, shape_of, g, "InvertedResidualBlock"
    )

    def shape() -> None:
        for case in cases:
            i, o, s, t = case.args
            with torch.no_grad():
                try:
                    case.student(case.x.clone())
                except RuntimeError as e:
                    if s == 2 and i == o and "size" in str(e):
                        raise _Fail(
                            f"{_call('InvertedResidualBlock', case.args)} raised at stride 2 ({e}): the shortcut is added only when "
                            f"stride == 1 and in_ch == out_ch"
                        ) from None
            _shape_part([case], "InvertedResidualBlock", lambda c, got: _spatial_hint(c, got, c.args[2]))()

    def layers() -> None:
        for case in cases:
            i, o, s, t = case.args
            s_calls, _ = _layer_calls(case.student, case.x)
            convs = [m for m in s_calls if isinstance(m, nn.Conv2d)]
            if t == 1 and len(convs) == 3:
                raise _Fail(
                    f"{_call('InvertedResidualBlock', case.args)}: with expand_ratio=1 there is nothing to expand; skip the 1x1 "
                    f"expansion conv (the block is depthwise, then projection)"
                )
            if t != 1 and len(convs) == 2:
                raise _Fail(f"{_call('InvertedResidualBlock', case.args)}: the 1x1 expansion conv to {i * t} channels is missing")
            _transplant(case.student, case.reference, case.x, hint=_CONV_HINT)

    def outputs(case: _BlockCase) -> tuple[torch.Tensor, dict[tuple[bool, bool], torch.Tensor]]:
        """The student's output and the four (linear?, shortcut?) variants of the reference."""
        with torch.no_grad():
            y = case.student(case.x.clone())
            out = {}
            for linear in (True, False):
                body = _ir_body(case.reference, case.x, None if linear else F.relu6)
                for shortcut in (True, False):
                    out[(linear, shortcut)] = body + case.x if shortcut and body.shape == case.x.shape else body
        return y, out

    def linear_projection() -> None:
        for case in cases:
            y, out = outputs(case)
            if any(_close(y, out[(False, sc)]) for sc in (True, False)) and not _close(out[(False, True)], out[(True, True)]):
                raise _Fail(
                    f"{_call('InvertedResidualBlock', case.args)}: a ReLU6 is left after the projection; the bottleneck must be "
                    f"linear (BN, no activation), or ReLU destroys information in the narrow output"
                )

    def shortcut() -> None:
        for case in cases:
            i, o, s, t = case.args
            y, out = outputs(case)
            residual = s == 1 and i == o
            if any(_close(y, out[(lin, not residual)]) for lin in (True, False)) and not any(
                _close(y, out[(lin, residual)]) for lin in (True, False)
            ):
                if residual:
                    raise _Fail(f"{_call('InvertedResidualBlock', case.args)}: the shortcut x + F(x) is missing (stride 1, in_ch == out_ch)")
                raise _Fail(f"{_call('InvertedResidualBlock', case.args)}: a shortcut was added although the shapes change")

    parts.run("output shape", shape, needs=["builds"])
    parts.run("layers", layers, needs=["output shape"])
    parts.run("linear projection", linear_projection, needs=["layers"])
    parts.run("shortcut", shortcut, needs=["layers"])

    def variants(case: _BlockCase) -> list[tuple[torch.Tensor, str]]:
        _, out = outputs(case)
        return [
            (out[(False, True)], "a ReLU6 is left after the projection"),
            (out[(True, False)], "the shortcut is missing"),
        ]

    parts.run(
        "forward",
        _forward_part(cases, "InvertedResidualBlock", variants, "check conv, BN, ReLU6 in the expansion and depthwise units"),
        needs=["layers"],
    )
    return parts.report()


def _inverted_residual_macs(in_ch: int, out_ch: int, stride: int, expand_ratio: int, size: int) -> int:
    """Mult-adds of the library's :class:`~mobilenet_lib.blocks.InvertedResidual`, read off its
    convolutions (built on the meta device) in order. Equals ``count_macs`` on the block (a test
    checks it) but takes microseconds instead of the flop counter's ~50 ms per block, which
    matters when a check counts dozens of blocks under a grading time limit."""
    from mobilenet_lib.blocks import InvertedResidual
    from mobilenet_lib.costs import conv2d_cost, conv_output_size

    with torch.device("meta"):
        block = InvertedResidual(in_ch, out_ch, stride, expand_ratio)
    total, side = 0, size
    for conv in (m for m in block.modules() if isinstance(m, nn.Conv2d)):  # they run in this order
        side = conv_output_size(side, conv.kernel_size[0], conv.stride[0], conv.padding[0])
        total += conv2d_cost(conv.in_channels, conv.out_channels, conv.kernel_size, side, side, conv.groups).macs
    return total


def check_inverted_residual_macs(block_macs: Callable[..., Any], *, seed: int = 0, trials: int = 12) -> CheckReport:
    """Check ``block_macs(in_ch, out_ch, stride, expand_ratio, size) -> int``: the inverted
    residual's mult-adds (convolutions only) on one ``size`` x ``size`` input.

    The reference counts the convolutions of :class:`mobilenet_lib.blocks.InvertedResidual`
    (the same total as :func:`mobilenet_lib.costs.count_macs`). Parts: ``returns a number``,
    ``stride 1``, ``stride 2``, ``expand_ratio 1``.
    """
    _check_callable(block_macs, "block_macs function")
    g = _rng(seed, trials)
    cases = []
    for k in range(trials):
        stride = 1 + k % 2
        t = 1 if k % 3 == 2 else _choice(g, [2, 3, 4, 6])
        cases.append((_randint(g, 4, 64), _randint(g, 4, 64), stride, t, _choice(g, [7, 8, 14, 15, 28, 56])))
    parts = _Parts("block_macs")

    reference = _inverted_residual_macs

    def call(args: tuple[int, ...]) -> int:
        return _as_int(block_macs(*args), _call('block_macs', args))

    def number() -> None:
        call(cases[0])

    def hint(i: int, o: int, s: int, t: int, size: int, got: int) -> str:
        hid = i * t
        out_size = (size + 1) // 2 if s == 2 else size
        expand = 0 if t == 1 else i * hid * size * size
        dw, proj = 9 * hid * out_size**2, hid * o * out_size**2
        if t == 1 and got == i * hid * size * size + dw + proj:
            return "with expand_ratio=1 there is no expansion conv"
        if s == 2 and got == expand + 9 * hid * size * size + hid * o * size * size:
            return "the depthwise conv has stride 2, so it and the projection run at the output size (size + 1) // 2"
        if s == 2 and got == expand + 9 * hid * size * size + proj:
            return "the depthwise conv's output, not its input, sets its cost: it runs at the output size"
        if got == expand + dw:
            return "the projection (hidden x out_ch x output size²) is missing"
        if got == expand + 9 * hid * hid * out_size**2 + proj:
            return "the 3x3 conv is depthwise: 9 x hidden per position, not 9 x hidden²"
        return "count expansion (in x hidden x size²), depthwise (9 x hidden x out²), projection (hidden x out_ch x out²)"

    def run_cases(select: Callable[[tuple[int, ...]], bool]) -> Callable[[], None]:
        def run() -> None:
            for args in filter(select, cases):
                got, want = call(args), reference(*args)
                if got != want:
                    raise _Fail(f"{_call('block_macs', args)} = {got:,}, expected {want:,} ({hint(*args, got)})")

        return run

    parts.run("returns a number", number)
    parts.run("stride 1", run_cases(lambda a: a[2] == 1 and a[3] != 1), needs=["returns a number"])
    parts.run("stride 2", run_cases(lambda a: a[2] == 2 and a[3] != 1), needs=["returns a number"])
    parts.run("expand_ratio 1", run_cases(lambda a: a[3] == 1), needs=["returns a number"])
    return parts.report()


# --------------------------------------------------------------------------------------------
# Hard activations and squeeze-and-excitation (MobileNet V3)
# --------------------------------------------------------------------------------------------


def _activation_inputs(g: torch.Generator) -> torch.Tensor:
    grid = torch.linspace(-8, 8, 321)
    return torch.cat([grid, torch.tensor([-3.0, 3.0, 0.0, 6.0]), 5 * torch.randn(200, generator=g)])


def _check_activation(
    fn: Callable[..., Any], name: str, reference: Callable[[torch.Tensor], torch.Tensor], mistakes: list[tuple[Callable[[torch.Tensor], torch.Tensor], str]], seed: int
) -> CheckReport:
    _check_callable(fn, f"{name} function")
    g = _rng(seed)
    x = _activation_inputs(g)
    parts = _Parts(name)
    got: list[torch.Tensor] = []

    def shape() -> None:
        for inp in (x, x.reshape(5, -1), torch.randn(2, 3, 4, 5, generator=g)):
            y = _as_tensor(fn(inp.clone()), name)
            if y.shape != inp.shape:
                raise _Fail(f"{name} of a {tuple(inp.shape)} tensor has shape {tuple(y.shape)}; an activation acts elementwise")
        got.append(_as_tensor(fn(x.clone()), name))

    def in_place() -> None:
        inp = x.clone()
        fn(inp)
        if not torch.equal(inp, x):
            raise _Fail(f"{name} changed its input tensor; compute a new tensor (no in-place ops such as add_ or clamp_)")

    def values() -> None:
        y = got[0]
        want = reference(x)
        if _close(y, want, 1e-5):
            return
        bad = (y.double() - want.double()).abs().argmax()
        known = _match_variant(y, [(m(x), msg) for m, msg in mistakes])
        raise _Fail(
            f"{name}({x[bad].item():.3g}) = {y[bad].item():.4g}, expected {want[bad].item():.4g}"
            + (f" ({known})" if known else "")
        )

    parts.run("shape", shape)
    parts.run("input unchanged", in_place, needs=["shape"])
    parts.run("values", values, needs=["shape"])
    return parts.report()


def check_h_sigmoid(h_sigmoid: Callable[..., Any], *, seed: int = 0) -> CheckReport:
    """Check ``h_sigmoid(x)``: ``relu6(x + 3) / 6`` elementwise (equals ``F.hardsigmoid``).

    Parts: ``shape``, ``input unchanged``, ``values``.
    """
    mistakes = [
        (torch.sigmoid, "that is the smooth sigmoid; the hard sigmoid is relu6(x + 3) / 6"),
        (lambda z: F.relu(z + 3) / 6, "use ReLU6: the hard sigmoid saturates at 1 for x >= 3"),
        (lambda z: F.relu6(z) / 6, "shift by 3 before the ReLU6: relu6(x + 3)"),
        (lambda z: F.relu6(z + 3), "divide by 6 so the gate lies in [0, 1]"),
        (lambda z: F.relu6(z + 3) / 3, "divide by 6, not 3"),
    ]
    return _check_activation(h_sigmoid, "h_sigmoid", F.hardsigmoid, mistakes, seed)


def check_h_swish(h_swish: Callable[..., Any], *, seed: int = 0) -> CheckReport:
    """Check ``h_swish(x)``: ``x * relu6(x + 3) / 6`` elementwise (equals ``F.hardswish``).

    Parts: ``shape``, ``input unchanged``, ``values``.
    """
    mistakes = [
        (lambda z: z * torch.sigmoid(z), "that is swish, x * sigmoid(x); h-swish uses relu6(x + 3) / 6"),
        (lambda z: z * F.relu(z + 3) / 6, "use ReLU6, not ReLU: above x = 3, h-swish(x) = x"),
        (lambda z: F.relu6(z + 3) / 6, "that is the hard sigmoid; multiply it by x"),
        (lambda z: z * F.relu6(z) / 6, "shift by 3 inside the ReLU6: relu6(x + 3)"),
        (lambda z: z * F.relu6(z + 3), "divide by 6"),
    ]
    return _check_activation(h_swish, "h_swish", F.hardswish, mistakes, seed)


def check_se_block(cls: type, *, seed: int = 0, trials: int = 3) -> CheckReport:
    """Check a class ``cls(channels, squeeze_channels)``: MobileNet V3's squeeze-and-excitation.

    Global average pool, fc1 (channels -> squeeze, 1x1 conv or Linear, with bias), ReLU, fc2 (back
    to channels), hard-sigmoid gate, then ``x * gate``. The reference is
    :class:`mobilenet_lib.blocks.SqueezeExcitation` with an ``nn.Hardsigmoid`` gate. Parts:
    ``builds``, ``output shape``, ``layers``, ``forward``.
    """
    from mobilenet_lib.blocks import SqueezeExcitation

    _check_class(cls, "squeeze-and-excitation block")
    g = _rng(seed, trials)
    configs = []
    for _ in range(trials):
        c = _randint(g, 8, 32)
        configs.append((c, _randint(g, 2, c // 2)))
    parts = _Parts("SEBlock")

    def shape_of(args: tuple[Any, ...]) -> tuple[int, ...]:
        return (3, args[0], _randint(g, 3, 7), _randint(g, 3, 7))

    cases = _build_cases(
        parts, cls, lambda c, s: SqueezeExcitation(c, s, nn.ReLU, nn.Hardsigmoid), configs, shape_of, g, "SEBlock"
    )

    def variants(case: _BlockCase) -> list[tuple[torch.Tensor, str]]:
        ref, x = case.reference, case.x
        with torch.no_grad():
            def gates(pool: Callable[[torch.Tensor], torch.Tensor], act: Callable[[torch.Tensor], torch.Tensor], gate: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
                return gate(ref.fc2(act(ref.fc1(pool(x)))))

            avg = lambda z: F.adaptive_avg_pool2d(z, 1)  # noqa: E731
            mx = lambda z: F.adaptive_max_pool2d(z, 1)  # noqa: E731
            ident = lambda z: z  # noqa: E731
            return [
                (x * gates(avg, F.relu, torch.sigmoid), "the gate is a sigmoid; MobileNet V3 uses the hard sigmoid relu6(z + 3) / 6"),
                (x * gates(avg, F.relu, F.hardswish), "the gate is h-swish; it must be the hard sigmoid (values in [0, 1])"),
                (x * gates(mx, F.relu, F.hardsigmoid), "squeeze with the global *average* (adaptive_avg_pool2d), not the maximum"),
                (gates(avg, F.relu, F.hardsigmoid).expand_as(x), "forward must return x * gate, not the gate"),
                (x * gates(avg, ident, F.hardsigmoid), "put a ReLU between fc1 and fc2"),
                (x + gates(avg, F.relu, F.hardsigmoid), "excite by multiplying: x * gate, not x + gate"),
            ]

    def hint(c: _BlockCase, got: tuple[int, ...]) -> str:
        if len(got) == 4 and got[-2:] == (1, 1):
            return " (forward must return x * gate, the input reweighted, not the gate)"
        return ""

    parts.run("output shape", _shape_part(cases, "SEBlock", hint), needs=["builds"])
    parts.run(
        "layers",
        _layers_part(cases, fc_either=True, hint="; fc1 maps channels to squeeze_channels and fc2 back, both with bias"),
        needs=["output shape"],
    )
    parts.run("forward", _forward_part(cases, "SEBlock", variants, "expected x * hard_sigmoid(fc2(relu(fc1(avgpool(x)))))"), needs=["layers"])
    return parts.report()


# --------------------------------------------------------------------------------------------
# Channel shuffle (ShuffleNet)
# --------------------------------------------------------------------------------------------


def check_channel_shuffle(channel_shuffle: Callable[..., Any], *, seed: int = 0, trials: int = 6) -> CheckReport:
    """Check ``channel_shuffle(x, groups)`` against :func:`mobilenet_lib.blocks.channel_shuffle`.

    Parts: ``shape``, ``a permutation of channels``, ``order``.
    """
    from mobilenet_lib.blocks import channel_shuffle as reference

    _check_callable(channel_shuffle, "channel_shuffle function")
    g = _rng(seed, trials)
    cases = []
    for _ in range(trials):
        groups, per = _randint(g, 2, 6), _randint(g, 2, 6)
        if groups == per:
            per += 1  # a square split makes a shuffle its own inverse; keep the cases telling
        cases.append((torch.randn(2, groups * per, _randint(g, 1, 4), _randint(g, 1, 4), generator=g), groups))
    parts = _Parts("channel_shuffle")

    def call(x: torch.Tensor, groups: int) -> torch.Tensor:
        return _as_tensor(channel_shuffle(x.clone(), groups), "channel_shuffle")

    def shape() -> None:
        for x, groups in cases:
            y = call(x, groups)
            if y.shape != x.shape:
                raise _Fail(f"channel_shuffle of {tuple(x.shape)} with groups={groups} has shape {tuple(y.shape)}; reshape back to (N, C, H, W)")

    def permutation() -> None:
        for x, groups in cases:
            y = call(x, groups)
            # Each output channel must be one input channel, whole: compare channel by channel.
            flat_x = x.transpose(0, 1).reshape(x.shape[1], -1)
            flat_y = y.transpose(0, 1).reshape(y.shape[1], -1)
            found = [any(torch.equal(row, other) for other in flat_x) for row in flat_y]
            if not all(found):
                raise _Fail("the output channels are not the input channels reordered: shuffle whole channels (dim 1), not pixels or batch items")

    def order() -> None:
        for x, groups in cases:
            y, want = call(x, groups), reference(x, groups)
            if torch.equal(y, want):
                continue
            c = x.shape[1]
            known = _match_variant(y, [
                (x, "the channels are unchanged: after reshaping to (N, g, C/g, H, W), swap axes 1 and 2 before flattening"),
                (reference(x, c // groups), "reshape to (N, groups, C // groups, H, W): the group axis comes first"),
            ])
            raise _Fail(f"with groups={groups} and {c} channels: {known or 'expected the channels of each group interleaved, [a0 b0 a1 b1 ...]'}")

    parts.run("shape", shape)
    parts.run("a permutation of channels", permutation, needs=["shape"])
    parts.run("order", order, needs=["shape"])
    return parts.report()


def check_shuffle_unit(cls: type, *, seed: int = 0, trials: int = 3) -> CheckReport:
    """Check a class ``cls(channels)``: ShuffleNet V2's stride-1 unit.

    Split the channels in two halves; the first passes through, the second goes through 1x1
    conv-BN-ReLU, 3x3 depthwise conv-BN (no ReLU), 1x1 conv-BN-ReLU; concatenate [first, branch]
    and shuffle with 2 groups. The reference is :class:`mobilenet_lib.blocks.ShuffleV2Block`.
    Parts: ``builds``, ``output shape``, ``layers``, ``forward``.
    """
    from mobilenet_lib.blocks import ShuffleV2Block, channel_shuffle

    _check_class(cls, "ShuffleNet V2 unit")
    g = _rng(seed, trials)
    configs = [(2 * _randint(g, 2, 8),) for _ in range(trials)]
    parts = _Parts("ShuffleUnit")

    def shape_of(args: tuple[Any, ...]) -> tuple[int, ...]:
        return (2, args[0], _randint(g, 4, 8), _randint(g, 4, 8))

    cases = _build_cases(parts, cls, lambda c: ShuffleV2Block(c, c, 1), configs, shape_of, g, "ShuffleUnit")

    def variants(case: _BlockCase) -> list[tuple[torch.Tensor, str]]:
        b, x = case.reference.branch2, case.x
        left, right = x.chunk(2, dim=1)
        with torch.no_grad():
            def branch(z: torch.Tensor, dw_relu: bool = False) -> torch.Tensor:
                h = b[2](b[1](b[0](z)))
                h = b[4](b[3](h))
                h = F.relu(h) if dw_relu else h
                return b[7](b[6](b[5](h)))

            return [
                (torch.cat([left, branch(right)], 1), "the channels are not shuffled: finish with channel_shuffle(out, 2)"),
                (channel_shuffle(torch.cat([branch(left), right], 1), 2), "the branch must process the second half; the first half passes through"),
                (channel_shuffle(torch.cat([branch(right), left], 1), 2), "concatenate [first half, branch output] in this order"),
                (channel_shuffle(torch.cat([left, branch(right, True)], 1), 2), "no ReLU after the depthwise conv (ShuffleNet V2 keeps it linear)"),
                (channel_shuffle(torch.cat([left, branch(right)], 1), x.shape[1] // 2), "shuffle with groups=2 (two branches), not C // 2"),
            ]

    parts.run("output shape", _shape_part(cases, "ShuffleUnit", lambda c, got: ""), needs=["builds"])
    parts.run("layers", _layers_part(cases), needs=["output shape"])
    parts.run("forward", _forward_part(cases, "ShuffleUnit", variants, "split, branch on the second half, concatenate, shuffle"), needs=["layers"])
    return parts.report()
