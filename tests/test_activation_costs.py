"""Tests for mobilenet_lib.activation_timing (correctness of what is timed, not the speed)."""

from __future__ import annotations

import pytest
import torch

from mobilenet_lib.activation_timing import activation_implementations, time_activations


def test_implementations_compute_their_family():
    x = torch.linspace(-8, 8, 1001)
    swish = x * torch.sigmoid(x)
    h_swish = x * torch.clamp(x + 3, 0, 6) / 6
    impls = activation_implementations()
    assert {family for family, _ in impls.values()} == {"swish", "h-swish"}
    for name, (family, fn) in impls.items():
        expected = swish if family == "swish" else h_swish
        assert torch.allclose(fn(x), expected, atol=1e-6), name


def test_time_activations_returns_one_positive_row_per_implementation():
    rows = time_activations(n=1000, threads=1, repeats=3, warmup=1)
    assert [r.name for r in rows] == list(activation_implementations())
    assert all(r.ms_per_million > 0 and r.n == 1000 and r.threads == 1 for r in rows)
    r = rows[0]
    assert r.ms_per_million == 1e3 * r.timing.median_ms  # 1000 values -> scale by 1000
    assert r.timing.repeats == 3


@pytest.mark.parametrize(
    "kwargs", [dict(n=0), dict(threads=0), dict(repeats=0), dict(dtype=torch.int32), dict(n=1.5)]
)
def test_time_activations_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        time_activations(**kwargs)

