"""mobilenet_lib.validation: one rule per kind of argument, TypeError for types, ValueError for values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from torch import nn

from mobilenet_lib import validation as v


@pytest.mark.parametrize("value", [3, np.int64(3), np.int8(3), np.uint16(3)])
def test_numpy_integers_are_integers(value) -> None:
    assert v.positive_int("n", value) == 3 and type(v.positive_int("n", value)) is int
    assert v.integer("n", value, low=0, high=3) == 3


@pytest.mark.parametrize("value", [True, 3.0, "3", None, np.float64(3.0)])
def test_anything_else_is_a_type_error_naming_the_argument(value) -> None:
    with pytest.raises(TypeError, match=r"^channels must be a positive integer, got .* \(\w+\)$"):
        v.positive_int("channels", value)
    with pytest.raises(TypeError, match="^k must be an integer"):
        v.integer("k", value)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: v.positive_int("n", 0), "n must be a positive integer, got 0"),
    (lambda: v.integer("n", 5, low=0, high=4), r"n must be an integer in \[0, 4\], got 5"),
    (lambda: v.integer("n", -1, low=0), "n must be an integer >= 0, got -1"),
    (lambda: v.number("x", math.nan), "x must be a finite number, got nan"),
    (lambda: v.number("x", math.inf), "x must be a finite number"),
    (lambda: v.number("x", 0.0, low=0.0, low_open=True), r"x must be a number > 0, got 0.0"),
    (lambda: v.number("x", 1.0, low=0.0, high=1.0, high_open=True), r"in \[0, 1\), got 1.0"),
    (lambda: v.positive_float("alpha", -0.5), "alpha must be a positive finite number, got -0.5"),
    (lambda: v.probability("p", 1.0), r"p must be a number in \[0, 1\)"),
    (lambda: v.one_of("mode", "x", ("a", "b")), "mode must be one of 'a', 'b'; got 'x'"),
    (lambda: v.int_sequence("sizes", []), "sizes must hold at least 1"),
    (lambda: v.int_or_pair("kernel", (1, 2, 3)), "kernel must be an integer or a pair"),
    (lambda: v.shape("input_size", (1, 3, 8), ndim=4), "input_size must have 4 dimensions"),
    (lambda: v.odd_kernel("kernel_size", 2), "kernel_size must be odd"),
])
def test_bad_values_are_value_errors(call, message) -> None:
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert type(info.value) is ValueError


def test_numbers_accept_numpy_and_return_plain_floats() -> None:
    assert v.number("x", np.float32(0.5)) == 0.5 and type(v.number("x", np.float32(0.5))) is float
    assert v.number("x", math.inf, finite=False) == math.inf
    with pytest.raises(TypeError, match="x must be a number, got True"):
        v.number("x", True)


def test_flags_and_factories() -> None:
    assert v.flag("strict", False) is False
    with pytest.raises(TypeError, match="strict must be True or False, got 1 \\(int\\)"):
        v.flag("strict", 1)
    assert v.factory("activation", nn.ReLU) is nn.ReLU and v.factory("activation", None) is None
    with pytest.raises(TypeError, match="pass ReLU, the class, not an instance"):
        v.factory("activation", nn.ReLU())
    with pytest.raises(TypeError, match="activation must be a callable"):
        v.factory("activation", None, allow_none=False)


def test_one_of_with_unhashable_value() -> None:
    with pytest.raises(ValueError, match="variant must be one of"):
        v.one_of("variant", ["large"], {"large": 1})
