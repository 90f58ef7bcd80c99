"""ShuffleNet V1: the unit's wiring, the network's table, its exact counts against the paper.

Counts are pinned exactly (the library's own FlopCounterMode count on meta-device models, which
cost no arithmetic) and compared with the paper's printed complexities: Table 1's "Complexity" row
(143 / 140 / 137 / 133 / 137 M for g = 1, 2, 3, 4, 8 at 1x) is reproduced to its printed precision
for the convolutions alone, i.e. without the final fully connected layer.
"""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from mobilenet_lib import blocks
from mobilenet_lib.blocks import ShuffleV1Block, channel_shuffle
from mobilenet_lib.costs import count_macs, count_params, layer_table
from mobilenet_lib.models import (
    SHUFFLENET_V1_COMPLEXITY,
    SHUFFLENET_V1_GROUPS,
    SHUFFLENET_V1_STAGES,
    ShuffleNetV1,
    create_model,
    list_models,
    shufflenet_v1,
    shufflenet_v1_widths,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@functools.lru_cache(maxsize=None)
def meta(groups: int, width_mult: float = 1.0) -> ShuffleNetV1:
    with torch.device("meta"):
        return shufflenet_v1(groups, width_mult)


@functools.lru_cache(maxsize=None)
def macs(groups: int, width_mult: float = 1.0) -> int:
    return count_macs(meta(groups, width_mult))


@functools.lru_cache(maxsize=None)
def table(groups: int):
    return layer_table(meta(groups))


def fc_macs(groups: int) -> int:
    """The classifier's mult-adds: num_features x 1000 (checked against layer_table for g = 3, 8)."""
    return meta(groups).num_features * 1000


# ------------------------------------------------------------------------ exact counts

# (groups, width_mult, params, mult-adds at 224x224 with 1000 classes), counted by the library.
COUNTS = [
    (1, 1.0, 1_531_936, 143_078_976),
    (2, 1.0, 1_733_848, 140_836_512),
    (3, 1.0, 1_865_728, 137_460_672),
    (4, 1.0, 1_968_344, 134_339_776),
    (8, 1.0, 2_434_768, 138_365_952),
    (3, 0.5, 718_324, 37_589_856),
    (4, 0.5, 778_592, 37_943_936),
    (8, 0.5, 1_011_448, 40_469_760),
    (3, 0.25, 305_902, 11_009_808),
    (3, 2.0, 5_450_776, 524_045_184),
]


@pytest.mark.parametrize(("groups", "width_mult", "params", "expected"), COUNTS)
def test_exact_counts(groups: int, width_mult: float, params: int, expected: int) -> None:
    model = meta(groups, width_mult)
    assert count_params(model) == params
    assert macs(groups, width_mult) == expected
    if width_mult == 1.0 and groups in (3, 8):
        assert table(groups).total_macs == expected  # the per-layer formulas add up to the count
        assert sum(r.macs for r in table(groups) if r.kind == "linear") == fc_macs(groups)


@pytest.mark.parametrize("groups", SHUFFLENET_V1_GROUPS)
def test_table_1_complexity_row_is_the_convolutions(groups: int) -> None:
    conv_only = macs(groups) - fc_macs(groups)
    assert round(conv_only / 1e6) == SHUFFLENET_V1_COMPLEXITY[groups]
    assert abs(macs(groups) / 1e6 - SHUFFLENET_V1_COMPLEXITY[groups]) < 2  # about 140M for every g


def test_complexity_row_with_the_classifier_differs_for_three_group_counts() -> None:
    # Counted with the fully connected layer, g = 2, 4, 8 round to one more than Table 1 prints.
    off = [g for g in SHUFFLENET_V1_GROUPS if round(macs(g) / 1e6) != SHUFFLENET_V1_COMPLEXITY[g]]
    assert off == [2, 4, 8]


def test_the_paper_s_other_widths() -> None:
    # Table 2 / 5: 0.5x is about 38M for every g, 2x (g = 3) 524M; 0.25x is smaller than 13M here.
    for g in SHUFFLENET_V1_GROUPS:
        assert 37 < macs(g, 0.5) / 1e6 < 41
    assert 10 < macs(3, 0.25) / 1e6 < 13
    assert round(macs(3, 2.0) / 1e6) == 524
    assert round(macs(4, 0.5) / 1e6) == 38


def test_meta_count_equals_a_real_forward_pass() -> None:
    torch.manual_seed(0)
    real = shufflenet_v1(8, 0.5)
    assert count_macs(real, (1, 3, 96, 96)) == count_macs(meta(8, 0.5), (1, 3, 96, 96))


# ------------------------------------------------------------------------ the table

def test_stages_follow_table_1() -> None:
    for column, g in enumerate(SHUFFLENET_V1_GROUPS):
        model = meta(g)
        assert model.conv1[0].out_channels == 24
        for row in SHUFFLENET_V1_STAGES[1:]:
            stage = getattr(model, row.name)
            assert len(stage) == row.repeats
            assert [u.stride for u in stage] == [2] + [1] * (row.repeats - 1)
            assert all(u.out_channels == row.channels[column] for u in stage)
            assert all(u.mid_channels == row.channels[column] // 4 for u in stage)
            assert all(u.groups == g for u in stage)
    assert [r.repeats for r in SHUFFLENET_V1_STAGES[1:]] == [4, 8, 4]
    assert [r.channels[2] for r in SHUFFLENET_V1_STAGES[1:]] == [240, 480, 960]


def test_width_multiplier_rounding() -> None:
    assert shufflenet_v1_widths(3, 1.0) == {"conv1": 24, "stage2": 240, "stage3": 480, "stage4": 960}
    assert shufflenet_v1_widths(3, 0.5) == {"conv1": 12, "stage2": 120, "stage3": 240, "stage4": 480}
    assert shufflenet_v1_widths(8, 0.5) == {"conv1": 16, "stage2": 192, "stage3": 384, "stage4": 768}
    assert shufflenet_v1_widths(3, 2.0) == {"conv1": 48, "stage2": 480, "stage3": 960, "stage4": 1920}
    for g in SHUFFLENET_V1_GROUPS:
        for s in (0.25, 0.5, 0.75, 1.0, 1.5, 2.0):
            w = shufflenet_v1_widths(g, s)
            assert all(w[k] % (4 * g) == 0 for k in ("stage2", "stage3", "stage4"))
            assert w["conv1"] % g == 0 and w["stage2"] > w["conv1"]
    assert shufflenet_v1_widths(8, 0.01) == {"conv1": 8, "stage2": 32, "stage3": 32, "stage4": 32}


def test_first_pointwise_of_stage_2_is_dense_every_other_grouped() -> None:
    for g in SHUFFLENET_V1_GROUPS:
        model = meta(g)
        units = [u for u in model.modules() if isinstance(u, ShuffleV1Block)]
        assert len(units) == 16
        first = [u.branch.compress[0].groups for u in units]
        assert first == [1] + [g] * 15
        assert all(u.branch.expand[0].groups == g for u in units)
        assert all(u.branch.depthwise[0].groups == u.mid_channels for u in units)
        shuffles = [isinstance(u.branch.shuffle, blocks.ChannelShuffle) for u in units]
        assert shuffles == [g > 1] * 16


def test_stride_2_units_concatenate_and_stride_1_units_add() -> None:
    model = meta(3)
    widths = []
    for name in ("stage2", "stage3", "stage4"):
        first = getattr(model, name)[0]
        assert isinstance(first.shortcut, nn.AvgPool2d) and first.shortcut.kernel_size == 3
        assert first.branch.expand[0].out_channels == first.out_channels - first.in_channels
        widths.append((first.in_channels, first.branch_channels, first.out_channels))
        for unit in getattr(model, name)[1:]:
            assert isinstance(unit.shortcut, nn.Identity) and unit.branch_channels == unit.out_channels
    assert widths == [(24, 216, 240), (240, 240, 480), (480, 480, 960)]


def test_no_relu_after_the_depthwise_or_the_second_group_conv() -> None:
    unit = ShuffleV1Block(48, 48, 1, groups=4)
    assert isinstance(unit.branch.compress[-1], nn.ReLU)
    assert not any(isinstance(m, nn.ReLU) for m in unit.branch.depthwise)
    assert not any(isinstance(m, nn.ReLU) for m in unit.branch.expand)


# ------------------------------------------------------------------------ the forward pass

def _by_hand(unit: ShuffleV1Block, x: torch.Tensor) -> torch.Tensor:
    b = unit.branch
    y = b.compress(x)
    if unit.groups > 1:
        y = channel_shuffle(y, unit.groups)
    y = b.expand(b.depthwise(y))
    if unit.stride == 1:
        return torch.relu(y + x)
    return torch.relu(torch.cat((nn.functional.avg_pool2d(x, 3, 2, 1), y), 1))


@pytest.mark.parametrize(("in_ch", "out_ch", "stride", "groups"), [(48, 48, 1, 3), (24, 96, 2, 4), (32, 64, 2, 1)])
def test_unit_computes_the_paper_s_unit(in_ch: int, out_ch: int, stride: int, groups: int) -> None:
    torch.manual_seed(0)
    unit = ShuffleV1Block(in_ch, out_ch, stride, groups).eval()
    x = torch.rand(2, in_ch, 9, 9)
    out = unit(x)
    assert out.shape == (2, out_ch, 9 if stride == 1 else 5, 9 if stride == 1 else 5)
    torch.testing.assert_close(out, _by_hand(unit, x))
    if stride == 2:  # the pooled input is the first in_ch channels of the output
        torch.testing.assert_close(out[:, :in_ch], nn.functional.avg_pool2d(x, 3, 2, 1))


@pytest.mark.parametrize("groups", [1, 8])
def test_whole_network_shapes(groups: int) -> None:
    torch.manual_seed(0)
    model = shufflenet_v1(groups, 0.25, num_classes=7).eval()
    with torch.no_grad():
        for size in (32, 77, 224):
            assert model(torch.randn(2, 3, size, size)).shape == (2, 7)
        assert model.forward_features(torch.randn(1, 3, 224, 224)).shape == (1, model.num_features, 7, 7)
    assert model.output_stride == 32 and model.num_features == model.widths["stage4"]


def test_trace_with_torch_fx() -> None:
    torch.manual_seed(0)
    model = shufflenet_v1(3, 0.5, num_classes=4).eval()
    graph = torch.fx.symbolic_trace(model)
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(graph(x), model(x))


def test_registered_names() -> None:
    names = list_models()
    assert {f"shufflenet_v1_g{g}" for g in SHUFFLENET_V1_GROUPS} | {"shufflenet_v1"} <= set(names)
    with torch.device("meta"):
        for g in SHUFFLENET_V1_GROUPS:
            model = create_model(f"shufflenet_v1_g{g}")
            assert (model.groups, model.width_mult) == (g, 1.0)
        assert create_model("shufflenet_v1_g8", width_mult=0.5).widths["stage2"] == 192
        assert create_model("shufflenet_v1").groups == 3
    import mobilenet_lib

    assert mobilenet_lib.shufflenet_v1 is shufflenet_v1 and mobilenet_lib.ShuffleV1Block is ShuffleV1Block


# ------------------------------------------------------------------------ errors

@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: shufflenet_v1(5), ValueError, r"groups must be one of 1, 2, 3, 4, 8; got 5"),
        (lambda: shufflenet_v1(0), ValueError, r"groups must be a positive integer"),
        (lambda: shufflenet_v1(3.0), TypeError, r"groups must be a positive integer, got 3\.0"),
        (lambda: shufflenet_v1(True), TypeError, r"groups must be a positive integer"),
        (lambda: shufflenet_v1(3, 0), ValueError, r"width_mult must be a positive finite number"),
        (lambda: shufflenet_v1(3, "1x"), TypeError, r"width_mult must be a positive finite number"),
        (lambda: shufflenet_v1(3, num_classes=0), ValueError, r"num_classes must be a positive integer"),
        (lambda: shufflenet_v1(3, dropout=1.0), ValueError, r"dropout must be a number in \[0, 1\)"),
        (lambda: shufflenet_v1(3, norm_layer=None), TypeError, r"norm_layer must be a callable"),
        (lambda: create_model("shufflenet_v1_g5"), ValueError, r"unknown model 'shufflenet_v1_g5'"),
        (lambda: ShuffleV1Block(48, 96, 1, 3), ValueError, r"stride-1 ShuffleV1Block adds its input"),
        (lambda: ShuffleV1Block(96, 96, 2, 3), ValueError, r"out_ch must exceed in_ch"),
        (lambda: ShuffleV1Block(24, 96, 3, 3), ValueError, r"stride must be one of 1, 2"),
        (lambda: ShuffleV1Block(48, 48, 1, 5), ValueError, r"groups=5: in_ch \(48\) must be divisible by 5"),
        (lambda: ShuffleV1Block(40, 40, 1, 4), ValueError, r"groups=4: mid_ch \(10\) must be divisible by 4"),
        (lambda: ShuffleV1Block(30, 96, 2, 4, group_first=False), ValueError, r"branch's output .* \(66\)"),
        (lambda: ShuffleV1Block(48, 48, 1, 3, group_first=1), TypeError, r"group_first must be True or False"),
        (lambda: ShuffleV1Block(48, 48, 1, "3"), TypeError, r"groups must be a positive integer"),
    ],
)
def test_errors_name_the_argument(call, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_unit_checks_its_input() -> None:
    unit = ShuffleV1Block(24, 48, 2, 3, group_first=False)
    with pytest.raises(ValueError, match="expects 24 input channels"):
        unit(torch.randn(1, 12, 8, 8))
    with pytest.raises(TypeError, match="floating-point"):
        unit(torch.zeros(1, 24, 8, 8, dtype=torch.uint8))
