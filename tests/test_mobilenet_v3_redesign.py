"""Tests for mobilenet_lib.experiments.mobilenet_v3: the original/efficient last stage and the stem, counted."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mobilenet_lib.costs import count_macs, count_params
from mobilenet_lib.experiments.mobilenet_v3 import (
    efficient_last_stage,
    large_with_original_last_stage,
    original_last_stage,
    stem,
)
from mobilenet_lib.models import mobilenet_v3_large


def test_efficient_last_stage_is_v3_large_tail():
    v3 = mobilenet_v3_large()
    tail = nn.Sequential(v3.features[-1], v3.avgpool, nn.Flatten(1), v3.classifier)
    ours = efficient_last_stage()
    assert count_params(ours) == count_params(tail)
    assert count_macs(ours, (1, 160, 7, 7)) == count_macs(tail, (1, 160, 7, 7))
    # same computation: copy the weights over and compare outputs
    ours.load_state_dict(
        {k: v for k, v in zip(ours.state_dict(), tail.state_dict().values(), strict=True)}
    )
    tail.eval(), ours.eval()
    x = torch.randn(2, 160, 7, 7)
    assert torch.allclose(ours(x), tail(x), atol=1e-5)


def test_original_last_stage_costs_by_formula():
    hw = 7 * 7
    expected = hw * 160 * 960 + hw * 960 * 9 + hw * 960 * 320 + hw * 320 * 1280 + 1280 * 1000
    assert count_macs(original_last_stage(), (1, 160, 7, 7)) == expected
    five = count_macs(original_last_stage(kernel_size=5), (1, 160, 7, 7))
    assert five - expected == hw * 960 * (25 - 9)
    assert original_last_stage()(torch.zeros(1, 160, 7, 7)).shape == (1, 1000)


def test_whole_model_saving_equals_the_last_stage_saving():
    full, v3 = large_with_original_last_stage(), mobilenet_v3_large()
    saved = count_macs(original_last_stage(), (1, 160, 7, 7)) - count_macs(efficient_last_stage(), (1, 160, 7, 7))
    assert count_macs(full) - count_macs(v3) == saved
    assert full(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


def test_stem_16_vs_32():
    small, wide = stem(16), stem(32)
    assert small[1].use_res_connect and not wide[1].use_res_connect
    hw = 112 * 112
    assert count_macs(small) == hw * (27 * 16 + 9 * 16 + 16 * 16)
    assert count_macs(wide) == hw * (27 * 32 + 9 * 32 + 32 * 16)
    assert isinstance(small[0][2], nn.Hardswish)
    assert isinstance(stem(32, nn.ReLU)[0][2], nn.ReLU)


@pytest.mark.parametrize(
    ("fn", "kwargs", "kind"),
    [(original_last_stage, dict(in_ch=0), ValueError), (efficient_last_stage, dict(features=-1), ValueError),
     (stem, dict(filters=0), ValueError), (stem, dict(activation="relu"), TypeError),
     (original_last_stage, dict(kernel_size=True), TypeError), (original_last_stage, dict(kernel_size=2), ValueError)],
)
def test_bad_arguments(fn, kwargs, kind):
    with pytest.raises(kind):
        fn(**kwargs)
