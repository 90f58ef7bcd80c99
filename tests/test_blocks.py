"""Tests for mobilenet_lib.blocks: structure, key layout, shortcut rule, shuffle, SE gates."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

from mobilenet_lib.blocks import (
    BasicBlock,
    Bottleneck,
    ChannelShuffle,
    ConvNormAct,
    DepthwiseSeparableConv,
    InvertedResidual,
    ShuffleV2Block,
    SqueezeExcitation,
    channel_shuffle,
    make_divisible,
    mobilenet_v3_se,
)


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def keys(m: nn.Module) -> list[str]:
    return list(m.state_dict())


BN_SUFFIXES = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]


# -------------------------------------------------------------------------------- make_divisible


@pytest.mark.parametrize(
    ("v", "divisor", "expected"),
    [
        (32, 8, 32),
        (11.2, 8, 16),  # 32 * 0.35: nearest multiple 8 would lose 29 %, so one more step
        (12, 8, 16),  # ties round up (int(12 + 4) // 8 * 8)
        (8.4, 8, 8),  # 24 * 0.35: 8 keeps 95 %
        (3, 8, 8),  # never below the divisor
        (0, 8, 8),  # as the reference: an SE on < 4 channels still squeezes to 8
        (1792, 8, 1792),  # 1280 * 1.4
        (24 * 0.75, 8, 24),  # 18 -> 16 would keep 89 %, so 24
        (100, 1, 100),
    ],
)
def test_make_divisible_reference_values(v: float, divisor: int, expected: int) -> None:
    assert make_divisible(v, divisor) == expected


def test_make_divisible_min_value() -> None:
    assert make_divisible(3, 8, min_value=16) == 16


# -------------------------------------------------------------------------------- ConvNormAct


def test_conv_norm_act_keys_match_torchvision_conv2d_norm_activation() -> None:
    unit = ConvNormAct(3, 16, 3, 2)
    assert isinstance(unit, nn.Sequential)
    assert keys(unit) == ["0.weight"] + [f"1.{s}" for s in BN_SUFFIXES]
    assert [type(m) for m in unit] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    conv = unit[0]
    assert conv.bias is None and conv.padding == (1, 1) and conv.stride == (2, 2)


def test_conv_norm_act_without_norm_has_bias_and_no_bn() -> None:
    unit = ConvNormAct(4, 8, 1, norm_layer=None, activation=None)
    assert keys(unit) == ["0.weight", "0.bias"]
    assert len(unit) == 1


@pytest.mark.parametrize(("k", "dilation", "padding"), [(1, 1, 0), (3, 1, 1), (5, 1, 2), (3, 2, 2), (5, 3, 6)])
def test_conv_norm_act_padding_keeps_size(k: int, dilation: int, padding: int) -> None:
    unit = ConvNormAct(2, 2, k, dilation=dilation)
    assert unit[0].padding == (padding, padding)
    assert unit(torch.randn(1, 2, 13, 13)).shape == (1, 2, 13, 13)


def test_conv_norm_act_bn_settings_and_activation() -> None:
    unit = ConvNormAct(4, 4, groups=4, activation=nn.Hardswish, norm_layer=partial(nn.BatchNorm2d, eps=1e-3, momentum=0.01))
    bn = unit[1]
    assert (bn.eps, bn.momentum) == (1e-3, 0.01)
    assert isinstance(unit[2], nn.Hardswish)
    assert unit[0].groups == 4 and unit[0].weight.shape == (4, 1, 3, 3)


# -------------------------------------------------------------------------------- V1 block


def test_depthwise_separable_structure_and_params() -> None:
    block = DepthwiseSeparableConv(32, 64, stride=2)
    dw, pw = block.depthwise[0], block.pointwise[0]
    assert dw.groups == 32 and dw.kernel_size == (3, 3) and dw.stride == (2, 2)
    assert pw.groups == 1 and pw.kernel_size == (1, 1) and pw.stride == (1, 1)
    # 3*3*32 depthwise + 32*64 pointwise + two BNs (2 * 32 + 2 * 64)
    assert n_params(block) == 9 * 32 + 32 * 64 + 2 * 32 + 2 * 64
    assert block(torch.randn(2, 32, 16, 16)).shape == (2, 64, 8, 8)


# -------------------------------------------------------------------------------- inverted residual


def test_inverted_residual_v2_layout_matches_torchvision_keys() -> None:
    block = InvertedResidual(24, 24, 1, expand_ratio=6)
    expected = (
        ["conv.0.0.weight"] + [f"conv.0.1.{s}" for s in BN_SUFFIXES]
        + ["conv.1.0.weight"] + [f"conv.1.1.{s}" for s in BN_SUFFIXES]
        + ["conv.2.weight"] + [f"conv.3.{s}" for s in BN_SUFFIXES]
    )
    assert keys(block) == expected
    assert block.conv[0][0].weight.shape == (144, 24, 1, 1)
    assert block.conv[1][0].weight.shape == (144, 1, 3, 3)
    assert block.conv[2].weight.shape == (24, 144, 1, 1)
    assert isinstance(block.conv[0][2], nn.ReLU6) and isinstance(block.conv[1][2], nn.ReLU6)
    assert block.use_res_connect


def test_inverted_residual_v2_without_expansion() -> None:
    block = InvertedResidual(32, 16, 1, expand_ratio=1)
    assert keys(block)[0] == "conv.0.0.weight"
    assert block.conv[0][0].groups == 32  # the first layer is already the depthwise conv
    assert len(block.conv) == 3
    assert not block.use_res_connect


def test_inverted_residual_v3_layout_with_se() -> None:
    block = InvertedResidual(
        40, 40, 1, expanded_ch=120, kernel_size=5, use_se=True, activation=nn.Hardswish, layout="v3",
        norm_layer=partial(nn.BatchNorm2d, eps=0.001, momentum=0.01),
    )
    assert [type(m) for m in block.block] == [ConvNormAct, ConvNormAct, SqueezeExcitation, ConvNormAct]
    assert "block.2.fc1.weight" in keys(block) and "block.2.fc2.bias" in keys(block)
    assert block.block[2].fc1.weight.shape == (32, 120, 1, 1)  # make_divisible(120 // 4, 8)
    assert block.block[1][0].kernel_size == (5, 5)
    assert len(block.block[3]) == 2  # projection: conv + BN, no activation
    assert isinstance(block.block[0][2], nn.Hardswish)
    assert block.block[3][1].eps == 0.001


def test_v3_expansion_skipped_when_expanded_equals_input() -> None:
    block = InvertedResidual(16, 16, 2, expanded_ch=16, use_se=True, layout="v3")
    assert block.block[0][0].groups == 16  # depthwise first
    assert not block.use_res_connect  # stride 2


@pytest.mark.parametrize("layout", ["v2", "v3"])
def test_residual_is_added_exactly_when_the_rule_says(layout: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 8, 10, 10)
    with_res = InvertedResidual(8, 8, 1, expand_ratio=4, layout=layout).eval()
    assert with_res.use_res_connect
    torch.testing.assert_close(with_res(x), with_res.body(x) + x)
    for args in [(8, 16, 1), (8, 8, 2)]:
        block = InvertedResidual(*args, expand_ratio=4, layout=layout).eval()
        assert not block.use_res_connect
        torch.testing.assert_close(block(x), block.body(x))


def test_v2_and_v3_layouts_compute_the_same_function() -> None:
    torch.manual_seed(1)
    v2 = InvertedResidual(8, 8, 1, expand_ratio=3, layout="v2").eval()
    v3 = InvertedResidual(8, 8, 1, expand_ratio=3, layout="v3").eval()
    # Same tensors in the same order, different names.
    v3.load_state_dict(dict(zip(v3.state_dict(), v2.state_dict().values())))
    x = torch.randn(2, 8, 7, 7)
    torch.testing.assert_close(v2(x), v3(x))


# -------------------------------------------------------------------------------- SE


def test_se_gates_are_per_channel_in_unit_interval() -> None:
    torch.manual_seed(0)
    se = SqueezeExcitation(16, 4)
    x = torch.randn(3, 16, 5, 5)
    g = se.gates(x)
    assert g.shape == (3, 16, 1, 1)
    assert ((g > 0) & (g < 1)).all()
    torch.testing.assert_close(se(x), x * g)


def test_se_gate_depends_on_global_average_only() -> None:
    torch.manual_seed(0)
    se = SqueezeExcitation(4, 2)
    x = torch.randn(1, 4, 6, 6)
    # Permuting pixels keeps every channel's mean, so the gates do not change.
    shuffled = x.flatten(2)[:, :, torch.randperm(36)].reshape(1, 4, 6, 6)
    torch.testing.assert_close(se.gates(x), se.gates(shuffled))


def test_mobilenet_v3_se_uses_hard_sigmoid() -> None:
    se = mobilenet_v3_se(72)
    assert isinstance(se.gate, nn.Hardsigmoid) and isinstance(se.activation, nn.ReLU)
    assert se.squeeze_channels == 24  # make_divisible(18, 8)
    # A hard gate saturates exactly (at fc2 outputs beyond +-3); a sigmoid gate never does.
    x = torch.randn(1, 72, 4, 4)
    with torch.no_grad():
        se.fc2.weight.zero_()
        se.fc2.bias.fill_(4.0)
    assert torch.equal(se.gates(x), torch.ones(1, 72, 1, 1))
    soft = SqueezeExcitation(72, 24)
    soft.load_state_dict(se.state_dict())
    assert (soft.gates(x) < 1).all()


# -------------------------------------------------------------------------------- channel shuffle


def test_channel_shuffle_interleaves_groups() -> None:
    x = torch.arange(6.0).reshape(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]
    assert torch.equal(ChannelShuffle(2)(x), channel_shuffle(x, 2))


@pytest.mark.parametrize(("c", "g"), [(12, 3), (12, 4), (8, 2), (24, 8)])
def test_channel_shuffle_is_a_group_mixing_permutation_with_inverse(c: int, g: int) -> None:
    x = torch.arange(float(c)).reshape(1, c, 1, 1).expand(2, c, 3, 3)
    y = channel_shuffle(x, g)
    order = y[0, :, 0, 0].long()
    assert sorted(order.tolist()) == list(range(c))  # a permutation
    # Every run of g consecutive output channels holds one channel from each input group.
    group_of = order // (c // g)
    for start in range(0, c, g):
        assert sorted(group_of[start : start + g].tolist()) == list(range(g))
    assert torch.equal(channel_shuffle(y, c // g), x)  # the inverse shuffle


def test_channel_shuffle_with_one_group_is_identity() -> None:
    x = torch.randn(2, 5, 3, 3)
    assert torch.equal(channel_shuffle(x, 1), x)


# -------------------------------------------------------------------------------- ShuffleNet V2 unit


def test_shuffle_v2_stride_1_passes_half_the_channels_through() -> None:
    torch.manual_seed(0)
    block = ShuffleV2Block(8, 8, 1).eval()
    assert len(block.branch1) == 0
    x = torch.randn(2, 8, 6, 6)
    y = block(x)
    unshuffled = channel_shuffle(y, 4)  # inverse of the 2-group shuffle for 8 channels
    assert torch.equal(unshuffled[:, :4], x[:, :4])  # the left half, untouched
    torch.testing.assert_close(unshuffled[:, 4:], block.branch2(x[:, 4:]))


def test_shuffle_v2_stride_2_uses_both_branches() -> None:
    block = ShuffleV2Block(24, 116, 2).eval()
    x = torch.randn(1, 24, 8, 8)
    y = block(x)
    assert y.shape == (1, 116, 4, 4)
    unshuffled = channel_shuffle(y, 58)
    torch.testing.assert_close(unshuffled[:, :58], block.branch1(x))
    torch.testing.assert_close(unshuffled[:, 58:], block.branch2(x))
    assert [k for k in keys(block) if k.endswith("weight") and "running" not in k] == [
        "branch1.0.weight", "branch1.1.weight", "branch1.2.weight", "branch1.3.weight",
        "branch2.0.weight", "branch2.1.weight", "branch2.3.weight", "branch2.4.weight",
        "branch2.5.weight", "branch2.6.weight",
    ]
    assert block.branch1[0].groups == 24 and block.branch2[3].groups == 58


# -------------------------------------------------------------------------------- ResNet blocks


def test_basic_block_keys_and_shortcut() -> None:
    same = BasicBlock(64, 64)
    assert same.downsample is None
    assert [k for k in keys(same) if "running" not in k and "num_batches" not in k] == [
        "conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias"
    ]
    down = BasicBlock(64, 128, 2)
    assert "downsample.0.weight" in keys(down) and "downsample.1.running_var" in keys(down)
    assert down(torch.randn(1, 64, 8, 8)).shape == (1, 128, 4, 4)


def test_bottleneck_expands_by_four_with_stride_on_the_3x3() -> None:
    block = Bottleneck(64, 64)
    assert block.out_channels == 256 and block.downsample is not None
    strided = Bottleneck(256, 128, 2)
    assert strided.conv1.stride == (1, 1) and strided.conv2.stride == (2, 2)
    assert strided(torch.randn(1, 256, 8, 8)).shape == (1, 512, 4, 4)
    assert Bottleneck(256, 64).downsample is None
