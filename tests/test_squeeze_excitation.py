"""Tests for mobilenet_lib.experiments.squeeze_excitation: the hand-set SE demo and the SE cost accounting."""

from __future__ import annotations

import pytest
import torch

from mobilenet_lib.blocks import SqueezeExcitation, make_divisible
from mobilenet_lib.costs import count_macs, count_params
from mobilenet_lib.experiments.squeeze_excitation import (
    DEMO_CHANNELS,
    DEMO_IMAGES,
    NamedFilters,
    hand_set_se,
    random_se_gates,
    se_cost,
    se_demo,
    se_squeeze_channels,
    v3_se_blocks,
    with_se_reduction,
)
from mobilenet_lib.models import mobilenet_v3_large, mobilenet_v3_small
from mobilenet_lib.models.mobilenet_v3 import (
    MOBILENET_V3_LARGE_BNECK,
    MOBILENET_V3_SMALL_BNECK,
)

V, H, RED, BLUE = 0, 1, 4, 6


def test_named_filters_respond_to_the_right_orientation():
    x = torch.zeros(1, 3, 32, 32)
    x[..., :, 16:] = 1.0  # a vertical edge (left dark, right bright)
    f = NamedFilters()(x).mean((0, 2, 3))
    assert f[V] > 10 * f[H]
    assert torch.allclose(f[2], f[3])  # both diagonals see the vertical edge equally
    y = NamedFilters()(x.transpose(2, 3)).mean((0, 2, 3))  # a horizontal edge
    assert torch.allclose(y[H], f[V]) and torch.allclose(y[V], f[H], atol=1e-6)


def test_named_filters_colour_channels():
    red = torch.zeros(1, 3, 8, 8)
    red[:, 0] = 1.0
    f = NamedFilters()(red).mean((0, 2, 3))
    assert f[RED] == pytest.approx(1.0) and f[5] == 0 and f[BLUE] == 0
    assert f[7] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="RGB"):
        NamedFilters()(torch.zeros(1, 1, 8, 8))


def test_demo_gates_follow_the_rule_and_the_input():
    demo = se_demo("china", 0)
    z, g = demo.squeezed, demo.gates
    assert demo.before.shape == demo.after.shape == (8, *demo.image.shape[1:])
    assert torch.allclose(demo.after, demo.before * g[:, None, None])
    # the dominant orientation's gate opens, its rival's closes; untouched channels sit at 0.5
    assert (g[V] > 0.5) == (z[V] > z[H]) and (g[H] > 0.5) == (z[H] > z[V])
    assert (g[RED] > 0.5) == (z[RED] > z[BLUE])
    assert torch.allclose(g[[2, 3, 5, 7]], torch.full((4,), 0.5))
    assert torch.allclose(g[V], torch.sigmoid(4.0 * (z[V] - z[H])), atol=1e-6)
    # turning the photo by 90 degrees swaps the orientation gates exactly
    turned = se_demo("china", 1).gates
    assert torch.allclose(turned[V], g[H]) and torch.allclose(turned[H], g[V])
    assert torch.allclose(turned[RED], g[RED])


def test_demo_strength_zero_is_neutral_and_h_sigmoid_gate_works():
    assert torch.allclose(se_demo("flower", 0, strength=0.0).gates, torch.full((8,), 0.5))
    g = se_demo("flower", 0, strength=4.0, gate="h-sigmoid")
    z = g.squeezed
    expected = torch.clamp(4.0 * (z[RED] - z[BLUE]) + 3, 0, 6) / 6
    assert torch.allclose(g.gates[RED], expected, atol=1e-6)


def test_hand_set_se_is_the_library_block_with_r_2():
    se = hand_set_se()
    assert isinstance(se, SqueezeExcitation)
    assert (se.channels, se.squeeze_channels) == (len(DEMO_CHANNELS), 4)


@pytest.mark.parametrize(
    ("kwargs", "kind"),
    [(dict(image="lena"), ValueError), (dict(rotate=4), ValueError), (dict(rotate=True), TypeError),
     (dict(strength=-1.0), ValueError), (dict(gate="tanh"), ValueError)],
)
def test_demo_rejects_bad_arguments(kwargs, kind):
    with pytest.raises(kind):
        se_demo(**kwargs)


def test_random_gates_are_seeded_and_leave_global_rng_alone():
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    a = random_se_gates("china", seed=0)
    assert torch.equal(torch.rand(1), expected_next)
    assert torch.equal(a, random_se_gates("china", seed=0))
    assert not torch.equal(a, random_se_gates("china", seed=1))
    assert all(n in DEMO_IMAGES for n in ("china", "flower", "grace_hopper"))


def test_se_cost_formula_matches_the_module():
    for c, d in ((72, 24), (960, 240), (16, 8)):
        cost = se_cost(c, d, 7, 9)
        se = SqueezeExcitation(c, d)
        assert cost.fc.params == count_params(se)
        assert cost.fc.macs == count_macs(se, (1, c, 7, 9))
        assert cost.scale_mults == cost.pool_adds == 7 * 9 * c
    with pytest.raises(ValueError):
        se_cost(0, 4, 7, 7)


def test_squeeze_channels_v3_and_se_net_rules():
    assert se_squeeze_channels(72) == make_divisible(72 // 4, 8) == 24
    assert se_squeeze_channels(960) == 240
    assert se_squeeze_channels(256, reduction=16, divisor=1) == 16
    assert se_squeeze_channels(8, reduction=32, divisor=1) == 1  # never zero
    for bad in (dict(reduction=0.5), dict(divisor=0), dict(channels=0)):
        with pytest.raises(ValueError):
            se_squeeze_channels(**{"channels": 64, **bad})


@pytest.mark.parametrize(
    ("variant", "build", "table"),
    [
        ("large", mobilenet_v3_large, MOBILENET_V3_LARGE_BNECK),
        ("small", mobilenet_v3_small, MOBILENET_V3_SMALL_BNECK),
    ],
)
def test_v3_se_blocks_add_up_to_the_counted_difference(variant, build, table):
    with_se, without = build(), build(bneck=[r._replace(use_se=False) for r in table])
    blocks = v3_se_blocks(variant)
    assert len(blocks) == sum(r.use_se for r in table)
    assert sum(b.cost.fc.params for b in blocks) == count_params(with_se) - count_params(without)
    assert sum(b.cost.fc.macs for b in blocks) == count_macs(with_se) - count_macs(without)


def test_v3_se_blocks_map_sizes_and_widths():
    blocks = v3_se_blocks("large")
    first = [(b.index, b.expanded, b.cost.height) for b in blocks][:3]
    assert first == [(3, 72, 28), (4, 120, 28), (5, 120, 28)]
    assert blocks[-1].cost.height == 7 and blocks[-1].cost.squeeze == 240
    with pytest.raises(ValueError):
        v3_se_blocks("medium")


def test_with_se_reduction_matches_the_analytic_count():
    model = with_se_reduction(mobilenet_v3_small(), reduction=16, divisor=8)
    without = mobilenet_v3_small(bneck=[r._replace(use_se=False) for r in MOBILENET_V3_SMALL_BNECK])
    analytic = sum(b.cost.fc.params for b in v3_se_blocks("small", reduction=16))
    assert count_params(model) - count_params(without) == analytic
    ses = [m for m in model.modules() if isinstance(m, SqueezeExcitation)]
    assert all(isinstance(se.gate, torch.nn.Hardsigmoid) for se in ses)
    model(torch.zeros(1, 3, 64, 64))  # still runs
    with pytest.raises(TypeError):
        with_se_reduction("not a model")
