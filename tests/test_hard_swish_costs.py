"""Tests for mobilenet_lib.experiments.hard_swish: what is timed (not the speed) and activation counts."""

from __future__ import annotations

import pytest
import torch

from mobilenet_lib.experiments.hard_swish import (
    activation_implementations,
    time_activations,
)


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
    ("kwargs", "kind"),
    [(dict(n=0), ValueError), (dict(threads=0), ValueError), (dict(repeats=0), ValueError),
     (dict(dtype=torch.int32), ValueError), (dict(dtype="float32"), TypeError), (dict(n=1.5), TypeError)],
)
def test_time_activations_rejects_bad_arguments(kwargs, kind):
    with pytest.raises(kind):
        time_activations(**kwargs)



def test_activation_sites_on_a_small_network():
    from torch import nn

    from mobilenet_lib.activations import HSwish
    from mobilenet_lib.experiments.hard_swish import activation_sites

    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 1), HSwish())
    model.train()
    sites = activation_sites(model, (2, 3, 8, 8))
    assert [(s.name, s.kind, s.shape, s.values) for s in sites] == [
        ("1", "ReLU", (2, 4, 4, 4), 128),
        ("3", "h-swish", (2, 6, 4, 4), 192),
    ]
    assert model.training  # flags restored


def test_activation_sites_on_v3_large_split_by_depth():
    from mobilenet_lib.experiments.hard_swish import activation_sites
    from mobilenet_lib.models import mobilenet_v3_large

    sites = activation_sites(mobilenet_v3_large())
    kinds = [s.kind for s in sites if "fc" not in s.name and s.values > 1000]
    # the stem uses h-swish; then ReLU in the first half and h-swish in the second (the paper's table)
    assert kinds[0] == "h-swish"
    first_hs = kinds.index("h-swish", 1)
    assert set(kinds[1:first_hs]) == {"ReLU"} and set(kinds[first_hs:]) == {"h-swish"}
    # SE gates run on pooled 1x1 maps
    assert all(s.shape[2:] == (1, 1) for s in sites if s.kind == "h-sigmoid")


def test_activation_sites_rejects_bad_arguments():
    from torch import nn

    from mobilenet_lib.experiments.hard_swish import activation_sites

    with pytest.raises(TypeError):
        activation_sites("model")
    with pytest.raises(ValueError):
        activation_sites(nn.ReLU(), (1, 3, 8))
    with pytest.raises(ValueError):
        activation_sites(nn.ReLU(), (1, 3, 0, 8))


def test_activation_site_on_map():
    from mobilenet_lib.experiments.hard_swish import ActivationSite

    assert ActivationSite("a", "ReLU", (1, 8, 2, 2)).on_map
    assert not ActivationSite("se", "ReLU", (1, 8, 1, 1)).on_map
    assert not ActivationSite("fc", "h-swish", (1, 1280)).on_map


def test_activation_sites_on_the_meta_device_match_real_ones():
    import torch

    from mobilenet_lib.experiments.hard_swish import activation_sites
    from mobilenet_lib.models import mobilenet_v3_small

    with torch.device("meta"):
        meta = mobilenet_v3_small()
    real = activation_sites(mobilenet_v3_small(), (1, 3, 64, 64))
    assert activation_sites(meta, (1, 3, 64, 64)) == real
