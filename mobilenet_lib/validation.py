"""Argument checks shared by the whole library: one rule per kind of argument, one message style.

A wrong *type* raises ``TypeError``, a wrong *value* ``ValueError``; both name the argument and
show what was given, so the message points at the caller's mistake rather than at a line deep in
PyTorch. The rules:

- an integer is any ``numbers.Integral`` (``int``, ``numpy.int64`` ...), never a ``bool``
  (``stride=True`` is a bug, not a stride of 1) and never a float, even a whole one;
- a number is any ``numbers.Real`` (``numpy.float32`` included), never a ``bool``; NaN and the
  infinities are rejected unless a check allows them;
- a flag is exactly ``True`` or ``False`` (``0``/``1`` and ``None`` are refused: they usually mean
  an argument landed in the wrong position).

Every function returns the checked value as a plain Python object (``int``, ``float``, ``bool``,
tuple of ints), so a caller can write ``channels = positive_int("channels", channels)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from numbers import Integral, Real
from typing import Any, TypeVar

__all__ = [
    "integer",
    "positive_int",
    "number",
    "positive_float",
    "probability",
    "flag",
    "one_of",
    "int_sequence",
    "int_or_pair",
    "shape",
    "odd_kernel",
    "factory",
]

T = TypeVar("T")


def _got(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _range_text(low: float | None, high: float | None, low_open: bool = False, high_open: bool = False) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


def integer(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int``; ``TypeError`` unless it is an integer, ``ValueError`` outside [low, high]."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {_got(value)}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer {_range_text(low, high)}, got {value}")
    return value


def positive_int(name: str, value: Any) -> int:
    """An integer >= 1 (a channel count, a stride, a number of repeats ...)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be a positive integer, got {_got(value)}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
) -> float:
    """``value`` as a ``float``; ``TypeError`` unless it is a real number, ``ValueError`` when it is
    NaN, infinite (with ``finite=True``) or outside the range (``low_open``/``high_open`` exclude
    the end points)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number, got {_got(value)}")
    value = float(value)
    if math.isnan(value) or (finite and math.isinf(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    below = low is not None and (value < low or (low_open and value == low))
    above = high is not None and (value > high or (high_open and value == high))
    if below or above:
        raise ValueError(f"{name} must be a number {_range_text(low, high, low_open, high_open)}, got {value!r}")
    return value


def positive_float(name: str, value: Any) -> float:
    """A finite number > 0 (a width multiplier, a learning rate ...)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a positive finite number, got {_got(value)}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def probability(name: str, value: Any) -> float:
    """A dropout probability: a number in [0, 1)."""
    return number(name, value, low=0.0, high=1.0, high_open=True)


def flag(name: str, value: Any) -> bool:
    """Exactly ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {_got(value)}")
    return value


def one_of(name: str, value: T, choices: Iterable[T]) -> T:
    """``value`` if it is one of ``choices`` (compared with ``==``), else ``ValueError`` listing them."""
    options = list(choices)
    try:
        ok = value in options
    except TypeError:  # unhashable against a dict's keys, say
        ok = False
    if not ok:
        shown = ", ".join(repr(c) for c in options)
        raise ValueError(f"{name} must be one of {shown}; got {value!r}")
    return value


def int_sequence(name: str, values: Any, *, low: int = 1, min_len: int = 1) -> tuple[int, ...]:
    """A sequence (list, tuple) of at least ``min_len`` integers >= ``low``."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of integers, got {_got(values)}")
    if len(values) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} integer(s), got {values!r}")
    return tuple(integer(f"{name}[{i}]", v, low=low) for i, v in enumerate(values))


def int_or_pair(name: str, value: Any) -> tuple[int, int]:
    """A positive integer or a (height, width) pair of them, returned as a pair."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an integer or a pair (height, width), got {value!r}")
        return positive_int(f"{name}[0]", value[0]), positive_int(f"{name}[1]", value[1])
    v = positive_int(name, value)
    return v, v


def shape(name: str, value: Any, *, ndim: int | None = None, min_ndim: int = 1, example: str = "(1, 3, 224, 224)") -> tuple[int, ...]:
    """A tensor shape: a sequence of positive integers, of exactly ``ndim`` (or at least ``min_ndim``) entries."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a shape such as {example}, got {_got(value)}")
    if (ndim is not None and len(value) != ndim) or len(value) < min_ndim:
        want = f"{ndim}" if ndim is not None else f"at least {min_ndim}"
        raise ValueError(f"{name} must have {want} dimensions, e.g. {example}; got {tuple(value)!r}")
    return tuple(positive_int(f"{name}[{i}]", v) for i, v in enumerate(value))


def odd_kernel(name: str, value: Any) -> int:
    """A kernel size for "same" padding: a positive odd integer (an even kernel cannot be centred,
    so ``(k - 1) // 2`` padding would shift the output by half a pixel and shrink it by one)."""
    k = positive_int(name, value)
    if k % 2 == 0:
        raise ValueError(f"{name} must be odd for 'same' padding ((k - 1) // 2 on each side), got {k}")
    return k


def factory(name: str, value: Any, *, allow_none: bool = True) -> Callable[..., Any] | None:
    """Something that builds a module when called, such as ``nn.ReLU`` (the class, not ``nn.ReLU()``)."""
    from torch import nn  # validation itself stays importable without torch

    if value is None and allow_none:
        return None
    if isinstance(value, nn.Module) or not callable(value):
        hint = f" (pass {type(value).__name__}, the class, not an instance)" if isinstance(value, nn.Module) else ""
        raise TypeError(f"{name} must be a callable that builds a module, e.g. nn.ReLU{hint}; got {_got(value)}")
    return value
