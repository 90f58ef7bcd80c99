"""Tests for mobilenet_lib.experiments.road_to_mobilenet: VGG stacks, receptive fields, ResNeXt and DenseNet-BC blocks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mobilenet_lib.blocks import Bottleneck
from mobilenet_lib.costs import count_macs, count_params, layer_table
from mobilenet_lib.experiments.road_to_mobilenet import (
    DenseBlock,
    DenseLayer,
    ResNeXtBlock,
    Transition,
    conv_stack,
    receptive_field,
)


def _conv_weights(model: nn.Module) -> int:
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize("c", [1, 16, 64])
def test_vgg_three_3x3_against_one_7x7(c: int) -> None:
    three, one = conv_stack(c, 3, 3), conv_stack(c, 7, 1)
    assert count_params(three) == 27 * c * c and count_params(one) == 49 * c * c
    assert count_macs(three, (1, c, 8, 8)) == 27 * c * c * 64
    assert count_params(conv_stack(c, 3, 3, bias=True)) == 27 * c * c + 3 * c
    x = torch.randn(1, c, 9, 9)
    assert three(x).shape == one(x).shape == x.shape


def test_receptive_field() -> None:
    assert receptive_field([3, 3, 3]) == 7 == receptive_field([7])
    assert receptive_field([3, 3]) == 5
    assert receptive_field([3, 3], strides=[2, 1]) == 7  # the second layer's taps are 2 apart
    # measured: perturb one input pixel, see how far the output changes
    stack = conv_stack(1, 3, 3)
    for p in stack.parameters():
        nn.init.constant_(p, 1.0)
    x = torch.zeros(1, 1, 15, 15)
    x[0, 0, 7, 7] = 1.0
    changed = stack(x)[0, 0] != 0
    assert changed.any(dim=0).sum() == 7 and changed.any(dim=1).sum() == 7
    with pytest.raises(ValueError, match="kernel_sizes"):
        receptive_field([])
    with pytest.raises(ValueError, match="strides"):
        receptive_field([3, 3], strides=[1])
    with pytest.raises(ValueError, match="odd"):
        conv_stack(4, 4)


def test_resnext_32x4d_matches_resnet_bottleneck_budget() -> None:
    resnext, resnet = ResNeXtBlock(256, 32, 4), Bottleneck(256, 64)
    assert _conv_weights(resnext) == 32 * (256 * 4 + 3 * 3 * 4 * 4 + 4 * 256) == 70_144
    assert _conv_weights(resnet) == 256 * 64 + 9 * 64 * 64 + 64 * 256 == 69_632
    table = layer_table(resnext, (1, 256, 14, 14))
    assert [r.kind for r in table] == ["pointwise", "group", "pointwise"]
    assert table[1].groups == 32 and table[1].output_shape == (1, 128, 14, 14)
    x = torch.randn(2, 256, 5, 5)
    assert resnext(x).shape == x.shape


def test_grouped_3x3_costs_groups_times_less() -> None:
    # the example in the chapter: 256 -> 256, 3x3, 8 groups
    full, grouped = nn.Conv2d(256, 256, 3, bias=False), nn.Conv2d(256, 256, 3, groups=8, bias=False)
    assert count_params(full) == 8 * count_params(grouped) == 589_824


def test_dense_block_grows_linearly_and_transition_compresses() -> None:
    block = DenseBlock(64, num_layers=6, growth=32)
    assert block.out_channels == 64 + 6 * 32 == 256
    assert [layer.in_channels for layer in block] == [64, 96, 128, 160, 192, 224]
    x = torch.randn(1, 64, 8, 8)
    y = block(x)
    assert y.shape == (1, 256, 8, 8)
    torch.testing.assert_close(y[:, :64], x)  # the input passes through, concatenated
    # each layer: 1x1 from its input to 4k, 3x3 from 4k to k
    k = 32
    assert _conv_weights(block) == sum(c * 4 * k + 9 * 4 * k * k for c in range(64, 256, 32))
    t = Transition(256, 0.5)
    assert t.out_channels == 128 and t(y).shape == (1, 128, 4, 4)
    layer = DenseLayer(10, growth=4, bn_size=2)
    assert layer(torch.randn(1, 10, 3, 3)).shape == (1, 14, 3, 3)


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: Transition(8, 0), "compression"),
        (lambda: Transition(1, 0.5), "leaves no channels"),
        (lambda: DenseBlock(8, 0), "num_layers"),
        (lambda: ResNeXtBlock(256, 0), "cardinality"),
        (lambda: conv_stack(0), "channels"),
    ],
)
def test_bad_arguments(build, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build()
