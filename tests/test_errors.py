"""Every bad input raises an error that names the argument: TypeError for a wrong type, ValueError
for a wrong value (a table of cases)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mobilenet_lib.benchmark import time_model
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
from mobilenet_lib.costs import layer_table
from mobilenet_lib.experiments.mobilenet_v3 import mnas_reward, random_search
from mobilenet_lib.experiments.shufflenet_latency import g1_variants, measure
from mobilenet_lib.experiments.squeeze_excitation import v3_se_blocks
from mobilenet_lib.models import (
    create_model,
    mobilenet_v1,
    mobilenet_v2,
    mobilenet_v3,
    mobilenet_v3_large,
    mobilenet_v3_small,
    shufflenet_v2,
)
from mobilenet_lib.training import train


def forward(builder: Callable[[], nn.Module], shape: tuple[int, ...]) -> Callable[[], object]:
    return lambda: builder().eval()(torch.zeros(shape))


# (id, call, the exception class, a regular expression the message must match). A wrong *type*
# is a TypeError, a wrong *value* a ValueError; both name the argument.
CASES: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    # width multiplier and other model arguments
    ("alpha-zero", lambda: mobilenet_v1(width_mult=0), ValueError, r"width_mult must be a positive finite number, got 0"),
    ("alpha-negative", lambda: mobilenet_v2(width_mult=-0.5), ValueError, r"width_mult must be a positive"),
    ("alpha-nan", lambda: mobilenet_v3_large(width_mult=float("nan")), ValueError, r"width_mult must be a positive finite"),
    ("alpha-too-small-for-v1", lambda: mobilenet_v1(width_mult=0.01), ValueError, r"leaves the stem with no channels"),
    ("alpha-string", lambda: mobilenet_v1(width_mult="1.0"), TypeError, r"width_mult must be a positive finite number, got '1.0' \(str\)"),
    ("zero-classes", lambda: mobilenet_v2(num_classes=0), ValueError, r"num_classes must be a positive integer"),
    ("classes-numpy-int", lambda: mobilenet_v2(num_classes=np.int64(0)), ValueError, r"num_classes must be a positive integer"),
    ("classes-float", lambda: mobilenet_v3_small(num_classes=10.0), TypeError, r"num_classes must be a positive integer, got 10.0 \(float\)"),
    ("dropout-out-of-range", lambda: mobilenet_v3_small(dropout=1.5), ValueError, r"dropout must be a number in \[0, 1\)"),
    ("dropout-resnet", lambda: create_model("resnet18", dropout=-0.1), ValueError, r"dropout must be a number in \[0, 1\)"),
    ("in-channels-zero", lambda: mobilenet_v1(in_channels=0), ValueError, r"in_channels must be a positive integer"),
    ("full-conv-not-bool", lambda: mobilenet_v1(full_conv="yes"), TypeError, r"full_conv must be True or False"),
    ("norm-layer-instance", lambda: mobilenet_v2(norm_layer=nn.BatchNorm2d(8)), TypeError, r"norm_layer must be a callable that builds a module"),
    # architecture tables
    ("v1-empty-table", lambda: mobilenet_v1(layers=[]), ValueError, r"layers must hold at least one"),
    ("v1-table-not-a-sequence", lambda: mobilenet_v1(layers=5), TypeError, r"layers must be a sequence"),
    ("v1-stride-3", lambda: mobilenet_v1(layers=[(64, 3)]), ValueError, r"layers\[0\]\.stride must be one of 1, 2"),
    ("v1-row-shape", lambda: mobilenet_v1(layers=[(64, 1, 1)]), ValueError, r"layers\[0\] must be an \(out_channels, stride\) pair"),
    ("v2-short-row", lambda: mobilenet_v2(inverted_residual_setting=[(6, 24, 2)]), ValueError, r"must be a \(t, c, n, s\) row"),
    ("v2-zero-repeats", lambda: mobilenet_v2(inverted_residual_setting=[(6, 24, 0, 2)]), ValueError, r"\.n must be a positive integer"),
    ("v3-bad-nonlinearity", lambda: mobilenet_v3_large(bneck=[(3, 16, 16, False, "XX", 1)]), ValueError, r"activation must be one of 'RE', 'HS'"),
    ("v3-se-not-bool", lambda: mobilenet_v3_small(bneck=[(3, 16, 16, 1, "RE", 1)]), TypeError, r"use_se must be True or False"),
    ("v3-even-kernel", lambda: mobilenet_v3_small(bneck=[(4, 16, 16, False, "RE", 1)]), ValueError, r"bneck\[0\]\.kernel must be odd"),
    ("v3-unknown-variant", lambda: mobilenet_v3("medium"), ValueError, r"variant must be one of 'large', 'small'"),
    # names
    ("unknown-model", lambda: create_model("mobilenet_v4"), ValueError, r"unknown model 'mobilenet_v4'; valid names are: .*mobilenet_v2"),
    ("model-name-not-str", lambda: create_model(None), TypeError, r"name must be a model name \(str\), got NoneType"),
    ("unknown-shufflenet-width", lambda: shufflenet_v2(width_mult="3x"), ValueError, r"unknown ShuffleNet V2 width '3x'; choose one of 0.5x, 1.0x"),
    ("shufflenet-width-bool", lambda: shufflenet_v2(width_mult=True), TypeError, r"width_mult must be a number or a string"),
    # forward-time checks
    ("image-too-small", forward(mobilenet_v2, (1, 3, 16, 16)), ValueError, r"total stride of 32.*at least 32x32; got 16x16"),
    ("image-too-short", forward(shufflenet_v2, (1, 3, 224, 31)), ValueError, r"at least 32x32; got 224x31"),
    ("grey-image-to-rgb-model", forward(mobilenet_v1, (1, 1, 64, 64)), ValueError, r"expects 3 input channels, got a tensor of shape \(1, 1, 64, 64\)"),
    ("rgb-image-to-grey-model", forward(lambda: create_model("resnet18", in_channels=1), (1, 3, 64, 64)), ValueError, r"expects 1 input channels"),
    ("no-batch-dimension", forward(mobilenet_v3_small, (3, 64, 64)), ValueError, r"expects a 4-D tensor \(batch, channels, height, width\), got shape \(3, 64, 64\)"),
    ("not-a-tensor", lambda: mobilenet_v1().eval()([[0.0]]), TypeError, r"MobileNetV1 expects a torch\.Tensor .* got list"),
    ("uint8-pixels", lambda: mobilenet_v2().eval()(torch.zeros(1, 3, 64, 64, dtype=torch.uint8)), TypeError, r"expects floating-point images, got dtype torch\.uint8; .*x\.float\(\) / 255"),
    ("float64-input", lambda: mobilenet_v2().eval()(torch.zeros(1, 3, 64, 64, dtype=torch.float64)), TypeError, r"weights are torch\.float32 but the input is torch\.float64"),
    # the conv-norm-activation unit
    ("groups-do-not-divide", lambda: ConvNormAct(6, 8, groups=4), ValueError, r"in_ch \(6\) and out_ch \(8\) must both be divisible by groups \(4\)"),
    ("channels-zero", lambda: ConvNormAct(0, 8), ValueError, r"in_ch must be a positive integer, got 0"),
    ("channels-float", lambda: ConvNormAct(3, 8.0), TypeError, r"out_ch must be a positive integer, got 8.0 \(float\)"),
    ("channels-numpy-int", lambda: ConvNormAct(np.int32(3), 8).in_channels == 3 or _fail(), None, ""),
    ("stride-zero", lambda: ConvNormAct(3, 8, stride=0), ValueError, r"stride must be a positive integer"),
    ("stride-bool", lambda: ConvNormAct(3, 8, stride=True), TypeError, r"stride must be a positive integer, got True \(bool\)"),
    ("kernel-fraction", lambda: ConvNormAct(3, 8, kernel_size=2.5), TypeError, r"kernel_size must be a positive integer"),
    ("kernel-even", lambda: ConvNormAct(3, 8, kernel_size=4), ValueError, r"kernel_size must be odd for 'same' padding"),
    ("activation-instance", lambda: ConvNormAct(3, 8, activation=nn.ReLU()), TypeError, r"activation must be a callable that builds a module.*pass ReLU, the class, not an instance"),
    ("activation-returns-non-module", lambda: ConvNormAct(3, 8, activation=lambda: 3), TypeError, r"activation\(\) must return an nn\.Module"),
    ("norm-returns-non-module", lambda: ConvNormAct(3, 8, norm_layer=lambda c: c), TypeError, r"norm_layer\(8\) must return an nn\.Module"),
    # other blocks
    ("separable-channels-zero", lambda: DepthwiseSeparableConv(0, 8), ValueError, r"in_ch must be a positive integer"),
    ("separable-even-kernel", lambda: DepthwiseSeparableConv(8, 8, kernel_size=2), ValueError, r"kernel_size must be odd"),
    ("inverted-residual-stride-3", lambda: InvertedResidual(8, 8, 3, expand_ratio=6), ValueError, r"stride must be one of 1, 2"),
    ("inverted-residual-even-kernel", lambda: InvertedResidual(8, 8, 1, 6, kernel_size=4), ValueError, r"kernel_size must be odd"),
    ("inverted-residual-no-expansion-given", lambda: InvertedResidual(8, 8, 1), ValueError, r"give exactly one of expand_ratio .* and expanded_ch"),
    ("inverted-residual-both-expansions", lambda: InvertedResidual(8, 8, 1, 6, expanded_ch=48), ValueError, r"give exactly one of"),
    ("inverted-residual-ratio-zero", lambda: InvertedResidual(8, 8, 1, 0), ValueError, r"expand_ratio must be a positive"),
    ("inverted-residual-layout", lambda: InvertedResidual(8, 8, 1, 6, layout="v4"), ValueError, r"layout must be one of 'v2', 'v3'"),
    ("se-squeeze-zero", lambda: SqueezeExcitation(16, 0), ValueError, r"squeeze_channels must be a positive integer"),
    ("se-no-gate", lambda: SqueezeExcitation(16, 4, gate=None), ValueError, r"needs both an activation and a gate"),
    ("shuffle-unit-stride-1-widths", lambda: ShuffleV2Block(8, 16, 1), ValueError, r"in_ch must equal out_ch; got in_ch=8, out_ch=16"),
    ("shuffle-unit-odd-width", lambda: ShuffleV2Block(8, 15, 2), ValueError, r"out_ch must be even"),
    ("shuffle-groups-do-not-divide", lambda: channel_shuffle(torch.zeros(1, 6, 2, 2), 4), ValueError, r"channels \(6\) must be divisible by groups \(4\)"),
    ("shuffle-needs-4d", lambda: channel_shuffle(torch.zeros(6, 2, 2), 2), ValueError, r"expects a 4-D tensor"),
    ("shuffle-not-a-tensor", lambda: channel_shuffle([1, 2], 2), TypeError, r"channel_shuffle expects a torch\.Tensor"),
    ("shuffle-groups-zero", lambda: channel_shuffle(torch.zeros(1, 6, 2, 2), 0), ValueError, r"groups must be a positive integer"),
    ("se-wrong-channels", lambda: SqueezeExcitation(16, 4).gates(torch.zeros(1, 8, 2, 2)), ValueError, r"expects 16 input channels"),
    ("basic-block-stride-3", lambda: BasicBlock(64, 64, stride=3), ValueError, r"stride must be one of 1, 2"),
    ("make-divisible-negative", lambda: make_divisible(-1), ValueError, r"v must be a number >= 0, got -1"),
    ("make-divisible-nan", lambda: make_divisible(float("nan")), ValueError, r"v must be a finite number, got nan"),
    ("make-divisible-divisor", lambda: make_divisible(10, divisor=0), ValueError, r"divisor must be a positive integer"),
    # checkpoints
    ("checkpoint-not-a-model", lambda: load_checkpoint("mobilenet_v2", Path("x.pth")), TypeError, r"model must be a torch\.nn\.Module, got str"),
    ("checkpoint-strict-not-bool", lambda: load_checkpoint(nn.Linear(1, 1), Path("x.pth"), strict="yes"), TypeError, r"strict must be True or False"),
    # measuring and searching: refused before any work is done
    ("measure-zero-repeats", lambda: measure(g1_variants(ratios=(1,), base=8, size=8, units=1), repeats=0), ValueError, r"repeats must be a positive integer, got 0"),
    ("time-model-zero-repeats", lambda: time_model(nn.Linear(2, 2), (1, 2), repeats=0), ValueError, r"repeats must be an integer >= 1, got 0"),
    ("search-zero-candidates", lambda: random_search(n=0), ValueError, r"n must be a positive integer, got 0"),
    ("mnas-reward-nan", lambda: mnas_reward(0.7, 10.0, 10.0, w=float("nan")), ValueError, r"w must be a finite number, got nan"),
    ("mnas-reward-positive-w", lambda: mnas_reward(0.7, 10.0, 10.0, w=0.1), ValueError, r"w must be a number <= 0"),
    ("v3-se-blocks-width-zero", lambda: v3_se_blocks(width_mult=0), ValueError, r"width_mult must be a positive finite number, got 0"),
    ("train-not-a-model", lambda: train("net", [], epochs=1, lr=0.1), TypeError, r"model must be a torch\.nn\.Module, got str"),
    ("layer-table-not-a-model", lambda: layer_table("net"), TypeError, r"model must be a torch\.nn\.Module, got str"),
]


def _fail() -> None:
    raise AssertionError("unreachable")


def test_the_table_is_large_and_ids_unique() -> None:
    assert len(CASES) >= 15
    assert len({case_id for case_id, *_ in CASES}) == len(CASES)
    kinds = {kind for _, _, kind, _ in CASES}
    assert {TypeError, ValueError} <= kinds, "both kinds of mistake are covered"


@pytest.mark.parametrize(("call", "kind", "message"), [(c, k, m) for _, c, k, m in CASES], ids=[i for i, *_ in CASES])
def test_bad_input_raises_a_clear_error(call: Callable[[], object], kind: type[Exception] | None, message: str) -> None:
    if kind is None:  # an accepted input (numpy integers are integers)
        call()
        return
    with pytest.raises(kind, match=message) as info:
        call()
    assert type(info.value) is kind, f"raised {type(info.value).__name__}, expected exactly {kind.__name__}"
