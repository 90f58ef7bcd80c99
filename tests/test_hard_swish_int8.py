"""Tests for mobilenet_lib.experiments.hard_swish: grids, fixed-point rescale, the int8 kernels' errors."""

from __future__ import annotations

import math

import pytest
import torch

from mobilenet_lib import activations
from mobilenet_lib.experiments.hard_swish import (
    CALIBRATED_GRID,
    KERNELS,
    ROUND_GRID,
    Int8Grid,
    fake_quantize,
    fixed_point_multiplier,
    h_swish_int8,
    int8_error,
    int8_error_curve,
    int8_study,
    plan_sigmoid,
    rounding_right_shift,
    swish_int8,
)


def test_grid_round_trip_and_clamp():
    g = Int8Grid(scale=0.5, zero_point=3)
    codes = g.codes()
    assert codes.numel() == g.levels == 256
    assert torch.equal(g.quantize(g.dequantize(codes)), codes)
    # out-of-range values clamp to the end codes
    assert g.quantize(torch.tensor([1e6, -1e6])).tolist() == [127, -128]
    # ties round up
    assert g.quantize(torch.tensor([0.25])).item() == 4  # 0.25 / 0.5 = 0.5 -> 1, plus zero point 3


def test_symmetric_grid_and_representability():
    g = Int8Grid.symmetric(6.0)
    assert g.scale == pytest.approx(6.0 / 127)
    assert g.represents(6.0) and not g.represents(3.0)  # 3 is 63.5 steps
    assert ROUND_GRID.represents(3.0) and ROUND_GRID.represents(-3.0) and ROUND_GRID.represents(6.0)
    assert CALIBRATED_GRID == g


@pytest.mark.parametrize(
    "kwargs",
    [dict(scale=0.0), dict(scale=-1.0), dict(scale=math.inf), dict(scale=1.0, zero_point=200),
     dict(scale=1.0, qmin=5, qmax=5)],
)
def test_grid_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        Int8Grid(**kwargs)


def test_grid_rejects_a_fractional_zero_point():
    with pytest.raises(TypeError, match="zero_point must be an integer"):
        Int8Grid(scale=1.0, zero_point=1.5)


def test_fake_quantize_error_at_most_half_a_step():
    x = torch.linspace(-5.9, 5.9, 10001, dtype=torch.float64)
    err = (fake_quantize(x, ROUND_GRID) - x).abs().max().item()
    assert err <= ROUND_GRID.scale / 2 + 1e-12


@pytest.mark.parametrize("real", [1 / 128, 0.3, 1e-4, 0.0123456, 0.99999999999])
def test_fixed_point_multiplier_is_accurate(real):
    m0, shift = fixed_point_multiplier(real)
    assert 2**30 <= m0 < 2**31
    assert m0 / 2**shift == pytest.approx(real, rel=2**-30)


def test_fixed_point_multiplier_rejects_bad_values():
    for bad in (0.0, -1.0, math.nan, 2.0**40):
        with pytest.raises(ValueError):
            fixed_point_multiplier(bad)


def test_rounding_right_shift_rounds_half_up():
    x = torch.tensor([-3, -2, -1, 0, 1, 2, 3, 5, 6])
    # x / 4 = -0.75 -0.5 -0.25 0 0.25 0.5 0.75 1.25 1.5
    assert rounding_right_shift(x, 2).tolist() == [-1, 0, 0, 0, 0, 1, 1, 1, 2]
    with pytest.raises(ValueError):
        rounding_right_shift(x, 0)


def test_h_swish_kernel_on_round_grid_is_as_good_as_rounding():
    # steps of 3/64: +-3 are whole steps and the rescale is exactly 2**-7, so the integer kernel
    # must give the float value rounded to the nearest code (ties up) for every input code
    q = ROUND_GRID.codes()
    x = ROUND_GRID.dequantize(q)
    exact = activations.h_swish(x)
    best = torch.floor(exact / ROUND_GRID.scale + 0.5).to(torch.int64).clamp(-128, 127)
    assert torch.equal(h_swish_int8(q, ROUND_GRID, ROUND_GRID), best)
    e = int8_error("h_swish", ROUND_GRID, ROUND_GRID)
    assert e.off_codes == 0 and e.max_error_lsb <= 0.5 + 1e-9


def test_h_swish_kernel_off_grid_breakpoints_cost_accuracy():
    e = int8_error("h_swish", CALIBRATED_GRID, CALIBRATED_GRID)
    assert e.off_codes > 0
    assert 0.5 < e.max_error_lsb < 1.0  # the kink moved by half a step


def test_swish_table_is_exact_and_plan_is_not():
    lut = int8_error("swish_lut", ROUND_GRID, ROUND_GRID)
    plan = int8_error("swish_plan", ROUND_GRID, ROUND_GRID)
    assert lut.off_codes == 0 and lut.max_error_lsb <= 0.5
    assert plan.off_codes > 50 and plan.max_error_lsb > 1.0
    assert plan.rms_error_lsb > lut.rms_error_lsb


def test_plan_sigmoid_known_accuracy_and_symmetry():
    x = torch.linspace(-8, 8, 20001, dtype=torch.float64)
    err = (plan_sigmoid(x) - torch.sigmoid(x)).abs().max().item()
    assert 0.015 < err < 0.02  # PLAN's published maximum error is about 0.0189
    assert torch.allclose(plan_sigmoid(-x), 1 - plan_sigmoid(x))


def test_swish_int8_rejects_unknown_approximation_and_bad_codes():
    q = ROUND_GRID.codes()
    with pytest.raises(ValueError, match="sigmoid must be one of"):
        swish_int8(q, ROUND_GRID, ROUND_GRID, sigmoid="tanh")
    with pytest.raises(ValueError, match="integer tensor"):
        h_swish_int8(q.float(), ROUND_GRID, ROUND_GRID)
    with pytest.raises(ValueError, match="outside the grid"):
        h_swish_int8(torch.tensor([300]), ROUND_GRID, ROUND_GRID)


def test_study_covers_every_grid_and_kernel():
    study = int8_study()
    kernels = ("swish_lut", "swish_plan", "h_swish")
    assert set(study) == {(g, k) for g in ("round", "calibrated") for k in kernels}
    assert all(e.codes == 256 for e in study.values())
    with pytest.raises(ValueError, match="unknown kernel"):
        int8_study(kernels=("relu",))
    with pytest.raises(ValueError):
        int8_study(grids={})


def test_error_curve_matches_summary():
    for kernel in KERNELS:
        x, err = int8_error_curve(kernel, ROUND_GRID, ROUND_GRID)
        assert x.shape == err.shape == (256,)
        summary = int8_error(kernel, ROUND_GRID, ROUND_GRID)
        assert err.abs().max().item() == pytest.approx(summary.max_error_lsb)
