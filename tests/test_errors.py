"""Every bad input raises a ValueError whose message says what was wrong (a table of cases)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from mobilenet_lib.blocks import (
    BasicBlock,
    ConvNormAct,
    DepthwiseSeparableConv,
    InvertedResidual,
    ShuffleV2Block,
    SqueezeExcitation,
    channel_shuffle,
    make_divisible,
)
from mobilenet_lib.checkpoint import load_checkpoint
from mobilenet_lib.models import (
    create_model,
    mobilenet_v1,
    mobilenet_v2,
    mobilenet_v3_large,
    mobilenet_v3_small,
    shufflenet_v2,
)


def forward(builder: Callable[[], nn.Module], shape: tuple[int, ...]) -> Callable[[], object]:
    return lambda: builder().eval()(torch.zeros(shape))


# (id, call, a regular expression the message must match)
CASES: list[tuple[str, Callable[[], object], str]] = [
    # width multiplier and other model arguments
    ("alpha-zero", lambda: mobilenet_v1(width_mult=0), r"width_mult must be a positive finite number, got 0"),
    ("alpha-negative", lambda: mobilenet_v2(width_mult=-0.5), r"width_mult must be a positive"),
    ("alpha-nan", lambda: mobilenet_v3_large(width_mult=float("nan")), r"width_mult must be a positive finite"),
    ("alpha-too-small-for-v1", lambda: mobilenet_v1(width_mult=0.01), r"leaves the stem with no channels"),
    ("alpha-string", lambda: mobilenet_v1(width_mult="1.0"), r"width_mult must be a positive"),
    ("zero-classes", lambda: mobilenet_v2(num_classes=0), r"num_classes must be a positive integer"),
    ("dropout-out-of-range", lambda: mobilenet_v3_small(dropout=1.5), r"dropout must be a probability in \[0, 1\)"),
    ("in-channels-zero", lambda: mobilenet_v1(in_channels=0), r"in_channels must be a positive integer"),
    ("full-conv-not-bool", lambda: mobilenet_v1(full_conv="yes"), r"full_conv must be True or False"),
    # architecture tables
    ("v1-empty-table", lambda: mobilenet_v1(layers=[]), r"layers must be a non-empty sequence"),
    ("v1-stride-3", lambda: mobilenet_v1(layers=[(64, 3)]), r"layers\[0\]\.stride must be 1 or 2"),
    ("v1-row-shape", lambda: mobilenet_v1(layers=[(64, 1, 1)]), r"layers\[0\] must be an \(out_channels, stride\) pair"),
    ("v2-short-row", lambda: mobilenet_v2(inverted_residual_setting=[(6, 24, 2)]), r"must be a \(t, c, n, s\) row"),
    ("v2-zero-repeats", lambda: mobilenet_v2(inverted_residual_setting=[(6, 24, 0, 2)]), r"\.n must be a positive integer"),
    ("v3-bad-nonlinearity", lambda: mobilenet_v3_large(bneck=[(3, 16, 16, False, "XX", 1)]), r"activation must be one of \['HS', 'RE'\]"),
    ("v3-se-not-bool", lambda: mobilenet_v3_small(bneck=[(3, 16, 16, 1, "RE", 1)]), r"use_se must be True or False"),
    # names
    ("unknown-model", lambda: create_model("mobilenet_v4"), r"unknown model 'mobilenet_v4'; valid names are: .*mobilenet_v2"),
    ("model-name-not-str", lambda: create_model(None), r"unknown model None"),
    ("unknown-shufflenet-width", lambda: shufflenet_v2(width="3x"), r"unknown ShuffleNet V2 width '3x'; choose one of 0.5x, 1.0x"),
    ("shufflenet-width-bool", lambda: shufflenet_v2(width=True), r"unknown ShuffleNet V2 width True"),
    # forward-time checks
    ("image-too-small", forward(mobilenet_v2, (1, 3, 16, 16)), r"total stride of 32.*at least 32x32; got 16x16"),
    ("image-too-short", forward(shufflenet_v2, (1, 3, 224, 31)), r"at least 32x32; got 224x31"),
    ("grey-image-to-rgb-model", forward(mobilenet_v1, (1, 1, 64, 64)), r"built for 3-channel images, got 1 channels"),
    ("rgb-image-to-grey-model", forward(lambda: create_model("resnet18", in_channels=1), (1, 3, 64, 64)), r"built for 1-channel images, got 3"),
    ("no-batch-dimension", forward(mobilenet_v3_small, (3, 64, 64)), r"expects a 4-D image batch \(N, C, H, W\), got shape \(3, 64, 64\)"),
    ("not-a-tensor", lambda: mobilenet_v1().eval()([[0.0]]), r"expects a 4-D image batch .* got list"),
    # the conv-norm-activation unit
    ("groups-do-not-divide", lambda: ConvNormAct(6, 8, groups=4), r"in_ch \(6\) and out_ch \(8\) must both be divisible by groups \(4\)"),
    ("channels-zero", lambda: ConvNormAct(0, 8), r"in_ch must be a positive integer, got 0"),
    ("channels-float", lambda: ConvNormAct(3, 8.0), r"out_ch must be a positive integer, got 8.0"),
    ("stride-zero", lambda: ConvNormAct(3, 8, stride=0), r"stride must be a positive integer"),
    ("stride-bool", lambda: ConvNormAct(3, 8, stride=True), r"stride must be a positive integer, got True"),
    ("kernel-fraction", lambda: ConvNormAct(3, 8, kernel_size=2.5), r"kernel_size must be a positive integer"),
    ("activation-instance", lambda: ConvNormAct(3, 8, activation=nn.ReLU()), r"callable that builds a module \(e\.g\. nn\.ReLU, not nn\.ReLU\(\)\)"),
    ("activation-returns-non-module", lambda: ConvNormAct(3, 8, activation=lambda: 3), r"activation\(\) must return an nn\.Module"),
    ("bn-eps-zero", lambda: ConvNormAct(3, 8, bn_eps=0), r"bn_eps must be a positive number"),
    ("bn-momentum-above-one", lambda: ConvNormAct(3, 8, bn_momentum=2), r"bn_momentum must be a number in \[0, 1\]"),
    # other blocks
    ("separable-channels-zero", lambda: DepthwiseSeparableConv(0, 8), r"in_ch must be a positive integer"),
    ("inverted-residual-stride-3", lambda: InvertedResidual(8, 8, 3, expand_ratio=6), r"stride must be 1 or 2"),
    ("inverted-residual-no-expansion-given", lambda: InvertedResidual(8, 8, 1), r"give exactly one of expand_ratio .* and expanded_ch"),
    ("inverted-residual-both-expansions", lambda: InvertedResidual(8, 8, 1, 6, expanded_ch=48), r"give exactly one of"),
    ("inverted-residual-ratio-zero", lambda: InvertedResidual(8, 8, 1, 0), r"expand_ratio must be a positive number"),
    ("inverted-residual-layout", lambda: InvertedResidual(8, 8, 1, 6, layout="v4"), r"layout must be 'v2' or 'v3'"),
    ("se-squeeze-zero", lambda: SqueezeExcitation(16, 0), r"squeeze_channels must be a positive integer"),
    ("se-no-gate", lambda: SqueezeExcitation(16, 4, gate=None), r"needs both an activation and a gate"),
    ("shuffle-unit-stride-1-widths", lambda: ShuffleV2Block(8, 16, 1), r"in_ch must equal out_ch; got in_ch=8, out_ch=16"),
    ("shuffle-unit-odd-width", lambda: ShuffleV2Block(8, 15, 2), r"out_ch must be even"),
    ("shuffle-groups-do-not-divide", lambda: channel_shuffle(torch.zeros(1, 6, 2, 2), 4), r"channels \(6\) must be divisible by groups \(4\)"),
    ("shuffle-needs-4d", lambda: channel_shuffle(torch.zeros(6, 2, 2), 2), r"expects a 4-D tensor"),
    ("shuffle-groups-zero", lambda: channel_shuffle(torch.zeros(1, 6, 2, 2), 0), r"groups must be a positive integer"),
    ("se-wrong-channels", lambda: SqueezeExcitation(16, 4).gates(torch.zeros(1, 8, 2, 2)), r"expects 16 input channels"),
    ("basic-block-stride-3", lambda: BasicBlock(64, 64, stride=3), r"stride must be 1 or 2"),
    ("make-divisible-negative", lambda: make_divisible(-1), r"v must be a non-negative number, got -1"),
    ("make-divisible-nan", lambda: make_divisible(float("nan")), r"v must be a non-negative number, got nan"),
    ("make-divisible-divisor", lambda: make_divisible(10, divisor=0), r"divisor must be a positive integer"),
    # checkpoints
    ("checkpoint-not-a-model", lambda: load_checkpoint("mobilenet_v2", Path("x.pth")), r"model must be a torch\.nn\.Module, got str"),
    ("checkpoint-strict-not-bool", lambda: load_checkpoint(nn.Linear(1, 1), Path("x.pth"), strict="yes"), r"strict must be True or False"),
]


def test_the_table_is_large_and_ids_unique() -> None:
    assert len(CASES) >= 15
    assert len({case_id for case_id, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("call", "message"), [(c, m) for _, c, m in CASES], ids=[i for i, _, _ in CASES])
def test_bad_input_raises_a_clear_value_error(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
