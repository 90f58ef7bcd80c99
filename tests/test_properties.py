"""Property tests (hypothesis) over random valid configurations of the blocks and tables."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from mobilenet_lib.blocks import (
    ConvNormAct,
    DepthwiseSeparableConv,
    InvertedResidual,
    ShuffleV2Block,
    channel_shuffle,
    make_divisible,
)
from mobilenet_lib.costs import count_params
from mobilenet_lib.models import mobilenet_v1, mobilenet_v2

FAST = settings(max_examples=25, deadline=None)


pytestmark = pytest.mark.usefixtures("one_thread")


def out_size(size: int, stride: int) -> int:
    # With "same" padding (k - 1) // 2 and an odd kernel, a stride-s conv gives ceil(size / s).
    return -(-size // stride)


# ------------------------------------------------------------------------ make_divisible


@FAST
@given(st.floats(0.5, 5000, allow_nan=False), st.sampled_from([1, 2, 4, 8, 16]))
def test_make_divisible_rounds_to_a_multiple_within_ten_percent(v: float, divisor: int) -> None:
    r = make_divisible(v, divisor)
    assert r % divisor == 0
    assert r >= divisor
    assert r >= 0.9 * v  # never loses more than 10 %
    assert r <= max(divisor, v + divisor)  # and never adds more than one step beyond v


# ------------------------------------------------------------------------ blocks


@FAST
@given(
    groups=st.integers(1, 4),
    in_mult=st.integers(1, 4),
    out_mult=st.integers(1, 4),
    k=st.sampled_from([1, 3, 5]),
    stride=st.integers(1, 3),
    size=st.integers(1, 12),
    norm=st.booleans(),
)
def test_conv_norm_act_shape_and_params(groups, in_mult, out_mult, k, stride, size, norm) -> None:
    cin, cout = groups * in_mult, groups * out_mult
    unit = ConvNormAct(cin, cout, k, stride, groups=groups, norm_layer=nn.BatchNorm2d if norm else None).eval()
    y = unit(torch.randn(2, cin, size, size + 1))
    assert y.shape == (2, cout, out_size(size, stride), out_size(size + 1, stride))
    extra = 2 * cout if norm else cout  # BN scale and shift, or the conv's bias
    assert count_params(unit) == k * k * (cin // groups) * cout + extra


@FAST
@given(cin=st.integers(1, 24), cout=st.integers(1, 24), stride=st.sampled_from([1, 2]), size=st.integers(2, 10))
def test_depthwise_separable_shape_and_params(cin, cout, stride, size) -> None:
    block = DepthwiseSeparableConv(cin, cout, stride).eval()
    assert block(torch.randn(1, cin, size, size)).shape == (1, cout, out_size(size, stride), out_size(size, stride))
    assert count_params(block) == (9 * cin + 2 * cin) + (cin * cout + 2 * cout)


@FAST
@given(
    cin=st.integers(1, 24),
    cout=st.integers(1, 24),
    stride=st.sampled_from([1, 2]),
    expanded=st.integers(1, 64),
    k=st.sampled_from([3, 5]),
    use_se=st.booleans(),
    layout=st.sampled_from(["v2", "v3"]),
    size=st.integers(2, 9),
)
def test_inverted_residual_shape_shortcut_and_params(cin, cout, stride, expanded, k, use_se, layout, size) -> None:
    block = InvertedResidual(cin, cout, stride, expanded_ch=expanded, kernel_size=k, use_se=use_se, layout=layout).eval()
    y = block(torch.randn(2, cin, size, size))
    assert y.shape == (2, cout, out_size(size, stride), out_size(size, stride))
    assert block.use_res_connect == (stride == 1 and cin == cout)
    expand = 0 if expanded == cin else cin * expanded + 2 * expanded
    depthwise = k * k * expanded + 2 * expanded
    squeeze = make_divisible(expanded // 4, 8) if use_se else 0
    se = (expanded * squeeze + squeeze) + (squeeze * expanded + expanded) if use_se else 0
    project = expanded * cout + 2 * cout
    assert count_params(block) == expand + depthwise + se + project


@FAST
@given(cin=st.integers(1, 16), t=st.sampled_from([1, 2, 3, 4, 6, 0.5, 2.5]), cout=st.integers(1, 16), stride=st.sampled_from([1, 2]))
def test_inverted_residual_expand_ratio(cin, t, cout, stride) -> None:
    hidden = int(round(cin * t))
    if hidden < 1:
        return
    block = InvertedResidual(cin, cout, stride, expand_ratio=t)
    assert block.expanded_channels == hidden
    # The 1x1 expansion exists exactly when it changes the width.
    has_expand = block.conv[0][0].kernel_size == (1, 1)
    assert has_expand == (hidden != cin)


@FAST
@given(half=st.integers(1, 12), cin=st.integers(1, 24), stride=st.sampled_from([1, 2]), size=st.integers(2, 9))
def test_shuffle_unit_shape_and_params(half, cin, stride, size) -> None:
    cout = 2 * half
    if stride == 1:
        cin = cout
    block = ShuffleV2Block(cin, cout, stride).eval()
    assert block(torch.randn(1, cin, size, size)).shape == (1, cout, out_size(size, stride), out_size(size, stride))
    branch2_in = cin if stride == 2 else half
    branch2 = (branch2_in * half + 2 * half) + (9 * half + 2 * half) + (half * half + 2 * half)
    branch1 = (9 * cin + 2 * cin) + (cin * half + 2 * half) if stride == 2 else 0
    assert count_params(block) == branch1 + branch2


@FAST
@given(g=st.integers(1, 6), n=st.integers(1, 6), batch=st.integers(1, 3))
def test_channel_shuffle_permutes_and_inverts(g, n, batch) -> None:
    c = g * n
    x = torch.randn(batch, c, 2, 3)
    y = channel_shuffle(x, g)
    # A permutation of whole channels: each output channel is some input channel.
    assert sorted(y.sum((0, 2, 3)).tolist()) == pytest.approx(sorted(x.sum((0, 2, 3)).tolist()))
    # Output channel i is input channel (i % g) * n + i // g.
    idx = torch.tensor([(i % g) * n + i // g for i in range(c)])
    assert torch.equal(y, x[:, idx])
    assert torch.equal(channel_shuffle(y, n), x)


# ------------------------------------------------------------------------ tables


rows_v1 = st.lists(st.tuples(st.integers(1, 24), st.sampled_from([1, 2])), min_size=1, max_size=5)


@FAST
@given(layers=rows_v1, alpha=st.sampled_from([0.25, 0.5, 1.0]), classes=st.integers(1, 5))
def test_mobilenet_v1_from_any_table(layers, alpha, classes) -> None:
    layers = [(max(4, c), s) for c, s in layers]  # keep int(c * alpha) >= 1
    model = mobilenet_v1(width_mult=alpha, num_classes=classes, layers=layers).eval()
    stride = 2 * math.prod(s for _, s in layers)
    assert model.output_stride == stride
    assert model(torch.randn(2, 3, stride, stride + 3)).shape == (2, classes)
    # Params follow from the table: stem, separable blocks, classifier.
    cin, total = int(32 * alpha), 27 * int(32 * alpha) + 2 * int(32 * alpha)
    for c, _ in layers:
        c = int(c * alpha)
        total += 11 * cin + cin * c + 2 * c
        cin = c
    assert count_params(model) == total + cin * classes + classes


rows_v2 = st.lists(
    st.tuples(st.sampled_from([1, 2, 6]), st.integers(1, 40), st.integers(1, 3), st.sampled_from([1, 2])),
    min_size=1,
    max_size=4,
)


@FAST
@given(setting=rows_v2, alpha=st.sampled_from([0.5, 1.0, 1.3]))
def test_mobilenet_v2_from_any_table(setting, alpha) -> None:
    model = mobilenet_v2(width_mult=alpha, num_classes=3, inverted_residual_setting=setting).eval()
    blocks = [m for m in model.modules() if isinstance(m, InvertedResidual)]
    assert len(blocks) == sum(n for _, _, n, _ in setting)
    for block in blocks:
        assert block.out_channels % 8 == 0
        assert block.use_res_connect == (block.stride == 1 and block.in_channels == block.out_channels)
    assert model.num_features == make_divisible(1280 * max(1.0, alpha), 8)
    stride = model.output_stride
    assert stride == 2 * math.prod(s for *_, s in setting)
    assert model(torch.randn(1, 3, stride, stride)).shape == (1, 3)
