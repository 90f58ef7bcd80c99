"""Tests for mobilenet_lib.experiments.manifold_collapse: the V2 paper's Figure 1 experiment."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mobilenet_lib.experiments.manifold_collapse import (
    ACTIVATIONS,
    DEFAULT_RADIUS,
    MAX_DIM,
    CollapseCurve,
    collapse_curve,
    manifold_collapse,
    spiral,
)


def test_spiral_shape_and_geometry():
    pts = spiral(300, turns=2.0, radius=2.5)
    assert pts.shape == (300, 2) and pts.dtype == np.float64
    radii = np.linalg.norm(pts, axis=1)
    assert radii[-1] == pytest.approx(2.5)
    assert np.all(np.diff(radii) > 0)  # the radius grows along the spiral
    assert radii[0] > 0  # the origin itself is not a sample
    # The spiral surrounds the origin: points in all four quadrants.
    assert {(x > 0, y > 0) for x, y in pts} == {(True, True), (True, False), (False, True), (False, False)}


def test_reconstruction_matches_an_independent_computation():
    res = manifold_collapse(7, seed=3, activation="relu")
    x, T = res.points, res.embedding
    assert T.shape == (7, 2) and res.hidden.shape == (len(x), 7)
    h = np.maximum(x @ T.T, 0.0)
    np.testing.assert_allclose(res.hidden, h, atol=1e-12)
    x_hat = h @ np.linalg.pinv(T).T
    np.testing.assert_allclose(res.reconstruction, x_hat, atol=1e-10)
    s = np.sum(x_hat * x) / np.sum(x_hat**2)
    assert res.gain == pytest.approx(s, rel=1e-9)
    assert res.relative_error == pytest.approx(np.sum((s * x_hat - x) ** 2) / np.sum(x**2), rel=1e-9)
    assert res.zeroed_fraction == pytest.approx(np.mean(h == 0))
    np.testing.assert_allclose(res.aligned, s * x_hat)


def test_best_rescaling_is_optimal():
    res = manifold_collapse(5, seed=1)
    x, x_hat = res.points, res.reconstruction

    def err(s: float) -> float:
        return float(np.sum((s * x_hat - x) ** 2) / np.sum(x**2))

    for delta in (-0.05, 0.05):
        assert err(res.gain + delta) > res.relative_error
    assert 0.0 <= res.relative_error <= 1.0


@pytest.mark.parametrize("n", [2, 3, 30])
def test_linear_activation_is_lossless(n):
    res = manifold_collapse(n, seed=4, activation="linear")
    assert res.relative_error < 1e-20
    assert res.gain == pytest.approx(1.0)
    assert res.zeroed_fraction == 0.0
    assert res.recoverable_fraction == 1.0


def test_recoverable_fraction_counts_points_with_two_active_rows():
    # For ReLU a point is recoverable iff the rows of T active at it span the plane; with
    # Gaussian rows any two are independent, so "at least two active rows" is the same test.
    for n, seed in [(2, 0), (3, 5), (6, 2)]:
        res = manifold_collapse(n, seed=seed)
        active = (res.points @ res.embedding.T) > 0
        expected = np.mean(active.sum(axis=1) >= 2)
        assert res.recoverable_fraction == pytest.approx(expected)


def test_nested_embeddings_per_seed():
    small, large = manifold_collapse(4, seed=9), manifold_collapse(20, seed=9)
    np.testing.assert_array_equal(small.embedding, large.embedding[:4])
    assert not np.array_equal(manifold_collapse(4, seed=10).embedding, small.embedding)


def test_deterministic_and_does_not_touch_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = manifold_collapse(10, seed=2, activation="hswish")
    after = torch.rand(3)
    b = manifold_collapse(10, seed=2, activation="hswish")
    assert torch.equal(expected, after)
    np.testing.assert_array_equal(a.reconstruction, b.reconstruction)


def test_relu_is_scale_free_but_relu6_is_not():
    a = manifold_collapse(8, seed=0, activation="relu", radius=1.0)
    b = manifold_collapse(8, seed=0, activation="relu", radius=50.0)
    assert a.relative_error == pytest.approx(b.relative_error, rel=1e-9)
    c = manifold_collapse(8, seed=0, activation="relu6", radius=1.0)
    d = manifold_collapse(8, seed=0, activation="relu6", radius=50.0)
    assert c.relative_error == pytest.approx(a.relative_error, rel=1e-9)  # never reaches 6
    assert d.relative_error > c.relative_error + 0.05  # clipping at 6 loses more


def test_narrow_space_loses_much_more_than_wide():
    curve = collapse_curve([2, 30], seeds=range(30))
    assert curve.relative_error[0] > 3 * curve.relative_error[1]
    assert curve.recoverable_fraction[0] < 0.4 < 0.99 < curve.recoverable_fraction[1]
    # About half of the coordinates are zeroed at both widths: what changes is not how many
    # coordinates die, but whether enough survive at each point.
    np.testing.assert_allclose(curve.zeroed_fraction, 0.5, atol=0.05)


def test_error_falls_monotonically_on_average():
    curve = collapse_curve([2, 4, 8, 16, 32], seeds=range(40))
    assert np.all(np.diff(curve.relative_error) < 0), curve.relative_error
    full = collapse_curve(range(2, 51), seeds=range(40))
    rises = np.diff(full.relative_error) > 0
    assert rises.sum() <= 12, full.relative_error  # a falling trend with small wiggles
    # the second half of the range is clearly below the first half
    assert full.relative_error[24:].max() < full.relative_error[:8].min()
    assert np.all(np.diff(full.recoverable_fraction[:8]) > 0)


def test_curve_points_are_means_of_single_runs():
    curve = collapse_curve([3, 12], seeds=[0, 5, 7], activation="relu6")
    assert isinstance(curve, CollapseCurve)
    assert curve.per_seed.shape == (2, 3)
    for i, n in enumerate([3, 12]):
        runs = [manifold_collapse(n, seed=s, activation="relu6") for s in (0, 5, 7)]
        np.testing.assert_allclose(curve.per_seed[i], [r.relative_error for r in runs], rtol=1e-9)
        assert curve.relative_error[i] == pytest.approx(np.mean([r.relative_error for r in runs]))
        assert curve.recoverable_fraction[i] == pytest.approx(np.mean([r.recoverable_fraction for r in runs]))


def test_every_activation_runs():
    for activation in ACTIVATIONS:
        res = manifold_collapse(15, activation=activation)
        assert math.isfinite(res.relative_error)
        assert np.isfinite(res.aligned).all()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 1},
        {"n": MAX_DIM + 1},
        {"n": 3, "seed": -1},
        {"n": 3, "activation": "tanh"},
        {"n": 3, "num_points": 2},
        {"n": 3, "radius": 0.0},
        {"n": 3, "turns": float("nan")},
    ],
)
def test_bad_values_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        manifold_collapse(**kwargs)


@pytest.mark.parametrize("kwargs", [{"n": 2.5}, {"n": True}, {"n": 3, "radius": "big"}])
def test_bad_types_raise_type_error(kwargs):
    with pytest.raises(TypeError):
        manifold_collapse(**kwargs)


def test_numpy_integers_are_integers():
    assert manifold_collapse(n=np.int64(3), seed=np.int32(1)).n == 3


def test_bad_curve_arguments_raise_value_error():
    with pytest.raises(ValueError, match="dims"):
        collapse_curve([])
    with pytest.raises(ValueError, match="seeds"):
        collapse_curve([2], seeds=[])
    with pytest.raises(ValueError, match="activation"):
        collapse_curve([2], activation="sigmoid")


def test_default_radius_gives_unit_preactivation_scale():
    # Documented choice: mean square of the pre-activations t.x over the spiral is about 1.
    x = spiral()
    assert np.mean(np.sum(x**2, axis=1)) == pytest.approx(1.0, rel=0.02)
    assert DEFAULT_RADIUS == pytest.approx(math.sqrt(3))

