"""Tests for mobilenet_lib.costs: the formulas against torch's own counter, and the papers' numbers."""

from __future__ import annotations

import dataclasses
import functools
import math
from fractions import Fraction

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mobilenet_lib import costs
from mobilenet_lib.costs import (
    Cost,
    conv2d_cost,
    count_macs,
    count_params,
    depthwise_conv_cost,
    group_conv_cost,
    layer_memory_access_cost,
    layer_table,
    linear_cost,
    memory_access_cost_1x1,
    memory_access_lower_bound,
    mobilenet_v1_table3,
    pointwise_conv_cost,
    scaled_layer_cost,
    separable_conv_cost,
    separable_cost_ratio,
    standard_conv_cost,
)

FAST = settings(max_examples=30, deadline=None)


def measured(module: nn.Module, x: torch.Tensor) -> int:
    """Mult-adds of module(x) counted independently of costs.count_macs."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    return flops // 2


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------------------------------
# Cost
# ------------------------------------------------------------------------------------------


def test_cost_arithmetic_and_repr():
    a, b = Cost(params=10, macs=1_000), Cost(params=5, macs=20)
    assert a + b == Cost(15, 1_020)
    assert 3 * a == a * 3 == Cost(30, 3_000)
    assert sum([a, b, b]) == Cost(20, 1_040)
    assert repr(Cost(2_359_296, 462_422_016)) == "Cost(params=2_359_296, macs=462_422_016)"
    assert eval(repr(a), {"Cost": Cost}) == a
    assert str(Cost(2_359_296, 462_422_016)) == "2.36M params, 462.42M mult-adds"
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.params = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        a * 1.5  # type: ignore[operator]
    with pytest.raises(TypeError):
        a + 1  # type: ignore[operator]


# ------------------------------------------------------------------------------------------
# Formulas == FlopCounterMode on single layers of every kind
# ------------------------------------------------------------------------------------------


@FAST
@given(
    dk=st.sampled_from([1, 3, 5]),
    m=st.integers(1, 24),
    n=st.integers(1, 24),
    df=st.integers(1, 12),
)
def test_standard_pointwise_and_depthwise_match_torch(dk, m, n, df):
    x = torch.zeros(1, m, df, df)
    conv = nn.Conv2d(m, n, dk, padding=dk // 2, bias=False)  # "same" padding keeps D_F
    cost = standard_conv_cost(dk, m, n, df)
    assert cost == Cost(n_params(conv), measured(conv, x))

    dw = nn.Conv2d(m, m, dk, padding=dk // 2, groups=m, bias=False)
    assert depthwise_conv_cost(dk, m, df) == Cost(n_params(dw), measured(dw, x))

    pw = nn.Conv2d(m, n, 1, bias=False)
    assert pointwise_conv_cost(m, n, df) == Cost(n_params(pw), measured(pw, x))

    sep = nn.Sequential(dw, pw)
    assert separable_conv_cost(dk, m, n, df) == Cost(n_params(sep), measured(sep, x))


@FAST
@given(
    groups=st.integers(1, 6),
    m_per=st.integers(1, 5),
    n_per=st.integers(1, 5),
    dk=st.sampled_from([1, 3]),
    df=st.integers(1, 10),
)
def test_group_conv_matches_torch(groups, m_per, n_per, dk, df):
    m, n = groups * m_per, groups * n_per
    conv = nn.Conv2d(m, n, dk, padding=dk // 2, groups=groups, bias=False)
    x = torch.zeros(1, m, df, df)
    cost = group_conv_cost(dk, m, n, df, groups)
    assert cost == Cost(n_params(conv), measured(conv, x))
    # g groups are g times cheaper than the full convolution
    assert cost.macs * groups == standard_conv_cost(dk, m, n, df).macs


@FAST
@given(
    groups=st.integers(1, 4),
    c_in_per=st.integers(1, 6),
    c_out_per=st.integers(1, 6),
    kernel=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    h=st.integers(9, 20),  # a 5-wide kernel at dilation 2 spans 9 pixels
    w=st.integers(9, 20),
    batch=st.integers(1, 3),
    bias=st.booleans(),
)
def test_conv2d_cost_matches_torch(groups, c_in_per, c_out_per, kernel, stride, padding, dilation, h, w, batch, bias):
    c_in, c_out = groups * c_in_per, groups * c_out_per
    conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation, groups=groups, bias=bias)
    x = torch.zeros(batch, c_in, h, w)
    h_out = costs.conv_output_size(h, kernel[0], stride, padding, dilation)
    w_out = costs.conv_output_size(w, kernel[1], stride, padding, dilation)
    with torch.no_grad():
        assert conv(x).shape == (batch, c_out, h_out, w_out)
    cost = conv2d_cost(c_in, c_out, kernel, h_out, w_out, groups=groups, bias=bias)
    assert cost.params == n_params(conv)
    assert cost.macs * batch == measured(conv, x)


@FAST
@given(i=st.integers(1, 64), o=st.integers(1, 64), rows=st.integers(1, 5), bias=st.booleans())
def test_linear_cost_matches_torch(i, o, rows, bias):
    fc = nn.Linear(i, o, bias=bias)
    cost = linear_cost(i, o, bias=bias)
    assert cost.params == n_params(fc)
    assert cost.macs * rows == measured(fc, torch.zeros(rows, i))


# ------------------------------------------------------------------------------------------
# MobileNet V1, Table 3, and the separable ratio
# ------------------------------------------------------------------------------------------


def test_table3_exact():
    rows = mobilenet_v1_table3()
    assert [(r.macs, r.params) for r in rows] == [
        (462_422_016, 2_359_296),
        (52_283_392, 266_752),
        (29_578_752, 150_912),
        (15_091_200, 150_912),
    ]
    assert [r.name for r in rows] == ["Convolution", "Depthwise Separable Conv", "α = 0.75", "ρ = 0.714"]


def test_table3_rows_match_real_layers():
    """The α and ρ rows are the layers one would really build: 384 channels on a 10x10 map."""
    x = torch.zeros(1, 384, 10, 10)
    layer = nn.Sequential(
        nn.Conv2d(384, 384, 3, padding=1, groups=384, bias=False), nn.Conv2d(384, 384, 1, bias=False)
    )
    last = mobilenet_v1_table3()[-1]
    assert (last.macs, last.params) == (measured(layer, x), n_params(layer))


def test_scaling_rounds_to_nearest():
    assert costs.scale_channels(512, 0.75) == 384
    assert costs.scale_resolution(14, 0.714) == 10  # 9.996, not truncated to 9
    assert costs.scale_resolution(14, 160 / 224) == 10
    assert costs.scale_channels(5, 0.5) == 3  # 2.5 rounds half up
    assert scaled_layer_cost(3, 512, 512, 14, alpha=1.0, rho=1.0) == separable_conv_cost(3, 512, 512, 14)
    assert scaled_layer_cost(3, 512, 512, 14, separable=False) == standard_conv_cost(3, 512, 512, 14)


@FAST
@given(dk=st.sampled_from([1, 3, 5, 7]), m=st.integers(1, 16), n=st.integers(1, 32), df=st.integers(1, 9))
def test_separable_ratio_formula_equals_measured_ratio(dk, m, n, df):
    x = torch.zeros(1, m, df, df)
    standard = nn.Conv2d(m, n, dk, padding=dk // 2, bias=False)
    separable = nn.Sequential(
        nn.Conv2d(m, m, dk, padding=dk // 2, groups=m, bias=False), nn.Conv2d(m, n, 1, bias=False)
    )
    ratio = Fraction(measured(separable, x), measured(standard, x))
    assert separable_cost_ratio(dk, n, exact=True) == ratio == Fraction(1, n) + Fraction(1, dk * dk)
    assert separable_cost_ratio(dk, n) == pytest.approx(float(ratio), rel=1e-15)
    assert isinstance(separable_cost_ratio(dk, n), float)


# ------------------------------------------------------------------------------------------
# Memory access cost (ShuffleNet V2)
# ------------------------------------------------------------------------------------------


@FAST
@given(h=st.integers(1, 16), w=st.integers(1, 16), c1=st.integers(1, 64), c2=st.integers(1, 64))
def test_memory_access_cost_1x1_and_g1_bound(h, w, c1, c2):
    mac = memory_access_cost_1x1(h, w, c1, c2)
    assert mac == h * w * (c1 + c2) + c1 * c2
    b = h * w * c1 * c2  # the layer's mult-adds
    assert b == pointwise_conv_cost(c1, c2, 1).macs * h * w
    bound = memory_access_lower_bound(h, w, b)
    if c1 == c2:
        assert math.isclose(mac, bound, rel_tol=1e-12)
    else:
        assert mac > bound * (1 + 1e-12)
    # The same number from a real layer, through the per-layer table
    conv = nn.Conv2d(c1, c2, 1, bias=False)
    (row,) = layer_table(conv, (1, c1, h, w)).rows
    assert row.memory_access_cost == mac


def test_group_memory_access_cost_matches_reference_form():
    # h·w·(c1+c2) + c1·c2/g == h·w·c1 + B·g/c1 + B/(h·w) with B = h·w·c1·c2/g, at c1 == c2
    h, w, c, g = 14, 14, 240, 3
    b = h * w * c * c // g
    assert memory_access_cost_1x1(h, w, c, c, groups=g) == h * w * c + b * g // c + b // (h * w)
    assert memory_access_cost_1x1(h, w, c, c, groups=g) < memory_access_cost_1x1(h, w, c, c)


def test_layer_memory_access_cost():
    assert layer_memory_access_cost((1, 8, 4, 4), (1, 16, 4, 4), 128) == 128 + 256 + 128


# ------------------------------------------------------------------------------------------
# count_params, count_macs, layer_table on hand-built modules
# ------------------------------------------------------------------------------------------


def tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),  # conv
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),  # depthwise
        nn.Conv2d(8, 16, 1, bias=False),  # pointwise
        nn.Conv2d(16, 16, 1, groups=4, bias=False),  # group
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),  # linear
    )


def test_count_params():
    net = tiny_net()
    expected = 3 * 8 * 9 + 2 * 8 + 8 * 9 + 8 * 16 + 16 * 4 + 16 * 10 + 10
    assert count_params(net) == expected
    net[0].weight.requires_grad_(False)
    assert count_params(net, trainable_only=True) == expected - 3 * 8 * 9
    assert count_params(net) == expected


def test_count_macs_restores_mode_and_counts_the_batch():
    net = tiny_net()
    net.train()
    net[1].eval()  # a mixed state must come back as it was
    one = count_macs(net, (1, 3, 16, 16))
    assert net.training and not net[1].training and net[0].training
    assert count_macs(net, (4, 3, 16, 16)) == 4 * one
    expected = (3 * 8 * 9 + 8 * 9 + 8 * 16 + 16 * 4) * 8 * 8 + 16 * 10
    assert one == expected


def test_layer_table_kinds_shapes_and_totals():
    net = tiny_net()
    table = layer_table(net, (2, 3, 16, 16))
    assert [r.kind for r in table] == ["conv", "depthwise", "pointwise", "group", "linear"]
    assert [r.name for r in table] == ["0", "3", "4", "5", "8"]
    assert table[0].input_shape == (2, 3, 16, 16) and table[0].output_shape == (2, 8, 8, 8)
    assert table[0].stride == (2, 2) and table[0].kernel == (3, 3)
    assert table[3].groups == 4 and table[4].kernel is None
    assert table.total.macs == count_macs(net, (2, 3, 16, 16))
    assert table.total_params == count_params(net)
    assert table.other_params == 16  # the batch norm's weight and bias
    shares = table.share_by_kind()
    assert set(shares) == set(costs.LAYER_KINDS)
    assert math.isclose(sum(s.macs for s in shares.values()), 1.0)
    assert math.isclose(sum(s.params for s in shares.values()), 1.0)
    assert shares["linear"].params == pytest.approx(170 / table.total.params)


def test_layer_table_rendering_and_grouping():
    net = nn.Sequential(
        nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.Conv2d(4, 4, 1, bias=False)),
        nn.Sequential(nn.Conv2d(4, 4, 1, bias=False)),
    )
    table = layer_table(net, (1, 3, 8, 8))
    groups = table.group_by(1)
    assert [(g.name, g.layers) for g in groups] == [("0", 2), ("1", 1)]
    assert sum(g.macs for g in groups) == table.total.macs
    md = table.to_markdown()
    assert md.count("\n") == 1 + 1 + 3  # header, rule, 3 rows, total
    assert "| total |" in md and "mult-adds" in md and "memory access" in md
    assert f"{table.total.macs:,}" in md
    assert "| 0 | 2 |" in table.to_markdown(depth=1)
    html = table._repr_html_()
    assert html.startswith("<table>") and html.count("<tr") == 1 + 3 + 1
    rows = table.to_rows()
    assert rows[0]["name"] == "0.0" and rows[0]["kind"] == "conv" and rows[0]["macs"] == table[0].macs


def test_layer_table_counts_a_reused_module_twice():
    conv = nn.Conv2d(4, 4, 1, bias=False)

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = conv

        def forward(self, x):
            return self.conv(self.conv(x))

    table = layer_table(Twice(), (1, 4, 5, 5))
    assert [r.name for r in table] == ["conv", "conv#2"]
    assert table.total.macs == count_macs(Twice(), (1, 4, 5, 5))


# ------------------------------------------------------------------------------------------
# Bad inputs
# ------------------------------------------------------------------------------------------

BAD_INPUTS = [
    (standard_conv_cost, (0, 3, 3, 3), "dk must be a positive integer"),
    (standard_conv_cost, (3, -1, 3, 3), "m must be a positive integer"),
    (standard_conv_cost, (3, 3, 3, 2.5), TypeError("df must be a positive integer, got 2.5 \\(float\\)")),
    (standard_conv_cost, (True, 3, 3, 3), TypeError("dk must be a positive integer, got True \\(bool\\)")),
    (depthwise_conv_cost, (3, 0, 7), "m must be"),
    (pointwise_conv_cost, (3, 3, 0), "df must be"),
    (group_conv_cost, (3, 6, 8, 7, 4), "groups=4 must divide"),
    (group_conv_cost, (3, 6, 6, 7, 0), "groups must be a positive integer"),
    (separable_cost_ratio, (3, 0), "n must be"),
    (conv2d_cost, (6, 9, 3, 4, 4, 2), "groups=2 must divide"),
    (conv2d_cost, (6, 8, (3, 3, 3), 4, 4), "kernel must be an integer or a pair"),
    (conv2d_cost, (6, 8, (3, 0), 4, 4), r"kernel\[1\] must be"),
    (conv2d_cost, (6, 8, 3, 0, 4), "h_out must be"),
    (linear_cost, (0, 10), "in_features must be"),
    (costs.conv_output_size, (2, 5), "does not fit"),
    (costs.conv_output_size, (8, 3, 1, -1), "padding must be"),
    (costs.scale_channels, (512, 0), "alpha must be a positive"),
    (costs.scale_channels, (512, float("nan")), "alpha must be a positive"),
    (costs.scale_channels, (4, 0.1), "leaves no channels"),
    (costs.scale_resolution, (14, -0.5), "rho must be a positive"),
    (memory_access_cost_1x1, (7, 7, 6, 8, 4), "groups=4 must divide"),
    (memory_access_cost_1x1, (0, 7, 6, 8), "h must be"),
    (memory_access_lower_bound, (7, 7, 0), "flops_b must be a positive"),
    (layer_memory_access_cost, ((1, 0, 2), (1, 2), 3), r"input_shape\[1\] must be"),
    (layer_memory_access_cost, ((1, 2), (1, 2), -3), "params must be"),
    (count_macs, (nn.Linear(2, 2), (1, 2)), "input_size must have 4 dimensions"),
    (count_macs, (nn.Conv2d(3, 3, 1), (1, 3, 0, 4)), r"input_size\[2\] must be"),
    (count_macs, ("not a model",), TypeError("model must be a torch.nn.Module")),
    (count_params, (None,), TypeError("model must be a torch.nn.Module")),
    (layer_table, (nn.Conv2d(3, 3, 1), (3, 224, 224)), "input_size must have 4 dimensions"),
    (layer_table, (nn.Conv1d(3, 3, 1), (1, 3, 4, 4)), "Conv1d"),
    (lambda: Cost(-1, 0), (), r"Cost.params must be an integer >= 0"),
    (lambda: Cost(1, 2.0), (), TypeError("Cost.macs must be an integer")),
    (lambda: Cost(1, 2) * -1, (), "non-negative integer"),
]


@pytest.mark.parametrize(
    "fn, args, message", BAD_INPUTS, ids=[f"{i}-{getattr(f, '__name__', 'fn')}" for i, (f, _, _) in enumerate(BAD_INPUTS)]
)
def test_bad_inputs_raise_a_clear_error(fn, args, message):
    # A bare string is a ValueError's message; TypeError("...") marks a wrong type.
    kind, pattern = (type(message), str(message)) if isinstance(message, Exception) else (ValueError, message)
    with pytest.raises(kind, match=pattern) as info:
        fn(*args)
    assert type(info.value) is kind


def test_group_by_rejects_bad_depth():
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        layer_table(tiny_net(), (1, 3, 8, 8)).group_by(0)


def test_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, mobilenet_lib.costs; "
        "bad = [m for m in ('sklearn', 'matplotlib', 'pandas', 'torch.utils.flop_counter') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------------
# Whole models: the table's total == FlopCounterMode, and the reference numbers
# ------------------------------------------------------------------------------------------

# (builder name, kwargs, params, mult-adds in millions as printed in
# /work/shared/reference/numbers.md: the test compares at the printed precision)
KNOWN_MODELS = [
    ("mobilenet_v1", {}, 4_231_976, "568.7"),
    ("mobilenet_v1", {"width_mult": 0.75}, 2_585_560, "325.4"),
    ("mobilenet_v1", {"width_mult": 0.5}, 1_331_592, "149.5"),
    ("mobilenet_v1", {"width_mult": 0.25}, 470_072, "41.0"),
    ("mobilenet_v1", {"full_conv": True}, 29_294_088, "4867.29"),
    ("mobilenet_v2", {}, 3_504_872, "300.77"),
    ("mobilenet_v2", {"width_mult": 0.75}, 2_636_424, "209.07"),
    ("mobilenet_v2", {"width_mult": 0.5}, 1_968_680, "97.13"),
    ("mobilenet_v3_large", {}, 5_483_032, "216.59"),
    ("mobilenet_v3_small", {}, 2_542_856, "56.51"),
    ("shufflenet_v2", {"width_mult": "0.5x"}, 1_366_792, "40.48"),
    ("shufflenet_v2", {"width_mult": "1.0x"}, 2_278_604, "144.91"),
    ("shufflenet_v2", {"width_mult": "1.5x"}, 3_503_624, "295.76"),
    ("shufflenet_v2", {"width_mult": "2.0x"}, 7_393_996, "583.25"),
    ("resnet18", {}, 11_689_512, "1814.07"),
    ("resnet50", {}, 25_557_032, "4089.18"),
]
# Other resolutions (builder, kwargs, side, mult-adds in millions).
KNOWN_RESOLUTIONS = [
    ("mobilenet_v1", {}, 192, "418.1"),
    ("mobilenet_v1", {}, 160, "290.7"),
    ("mobilenet_v1", {}, 128, "186.4"),
    ("mobilenet_v2", {}, 192, "221.32"),
    ("mobilenet_v2", {}, 160, "154.08"),
    ("mobilenet_v2", {}, 128, "99.07"),
    ("mobilenet_v2", {}, 96, "56.29"),
]


def model_id(builder, kwargs):
    return builder + "".join(f"-{k}={v}" for k, v in kwargs.items())


@functools.cache
def _model(builder: str, frozen_kwargs: tuple, device: str) -> nn.Module:
    models = pytest.importorskip("mobilenet_lib.models")
    torch.manual_seed(0)
    with torch.device(device):
        return models.create_model(builder, **dict(frozen_kwargs))


def model(builder: str, kwargs: dict, device: str = "meta") -> nn.Module:
    """A cached model, by default on the meta device: shapes without data, so counting is instant.

    FlopCounterMode and the layer table depend on shapes only;
    test_meta_device_counts_like_real_tensors checks that this changes nothing.
    """
    return _model(builder, tuple(sorted(kwargs.items())), device)


@pytest.mark.parametrize("builder", ["mobilenet_v1", "mobilenet_v3_small"])
def test_meta_device_counts_like_real_tensors(builder):
    real, meta = model(builder, {}, "cpu"), model(builder, {})
    assert next(real.parameters()).device.type == "cpu" and next(meta.parameters()).device.type == "meta"
    size = (1, 3, 64, 64)
    assert count_macs(real, size) == count_macs(meta, size)
    assert layer_table(real, size).to_rows() == layer_table(meta, size).to_rows()
    assert count_params(real) == count_params(meta)


def assert_millions(macs: int, printed: str) -> None:
    decimals = len(printed.split(".")[1])
    assert round(macs / 1e6, decimals) == pytest.approx(float(printed), abs=10 ** -(decimals + 3))


@pytest.mark.parametrize("builder, kwargs, params, macs_m", KNOWN_MODELS, ids=[model_id(b, k) for b, k, _, _ in KNOWN_MODELS])
def test_model_table_equals_torch_count_and_reference(builder, kwargs, params, macs_m):
    net = model(builder, kwargs)
    counted = count_macs(net)
    table = layer_table(net)
    assert table.total.macs == counted  # every formula row, summed, is exactly what torch counts
    assert_millions(counted, macs_m)
    assert count_params(net) == table.total_params == params
    assert table.other_params > 0  # batch norm, which the conv/linear rows leave out
    # The per-block view adds up to the same totals
    groups = table.group_by(2)
    assert sum(g.macs for g in groups) == counted
    assert sum(g.params for g in groups) == table.total.params


@pytest.mark.parametrize("builder, kwargs, side, macs_m", KNOWN_RESOLUTIONS, ids=[f"{b}-{s}" for b, _, s, _ in KNOWN_RESOLUTIONS])
def test_model_macs_at_other_resolutions(builder, kwargs, side, macs_m):
    net = model(builder, kwargs)
    counted = count_macs(net, (1, 3, side, side))
    assert layer_table(net, (1, 3, side, side)).total.macs == counted
    assert_millions(counted, macs_m)


# Every registered model (or, before the models exist, the names above: their tests then skip).
try:
    from mobilenet_lib.models import list_models
except ImportError:
    ALL_DEFAULT_MODELS = sorted({b for b, _, _, _ in KNOWN_MODELS})
else:
    ALL_DEFAULT_MODELS = list_models()


# Odd and small sides exercise the padding arithmetic of every stride-2 layer.

@pytest.mark.parametrize("side", [97, 160])
@pytest.mark.parametrize("builder", ALL_DEFAULT_MODELS)
def test_model_table_equals_torch_count_at_other_sizes(builder, side):
    net = model(builder, {})
    size = (2, 3, side, side + 32)  # a batch of two non-square images
    assert layer_table(net, size).total.macs == count_macs(net, size)


def test_where_mobilenet_v1_compute_goes():
    """The MobileNet paper's Table 2, reproduced from the per-layer formulas."""
    shares = layer_table(model("mobilenet_v1", {})).share_by_kind()
    percent = {kind: (round(100 * s.macs, 2), round(100 * s.params, 2)) for kind, s in shares.items()}
    assert percent["pointwise"][0] == 94.86
    assert percent["depthwise"][0] == 3.06
    assert percent["conv"][0] == 1.91
    assert percent["linear"][0] == 0.18
    assert percent["pointwise"][1] == 74.57
    assert percent["linear"][1] == 24.35
    assert set(shares) == {"conv", "depthwise", "pointwise", "linear"}
    assert shares["depthwise"].layers == 13 and shares["pointwise"].layers == 13


def test_shufflenet_1x1_rows_memory_access_cost_matches_formula():
    """ShuffleNet V2's 1x1 convs are bias-free: their rows are the paper's h·w·(c1+c2) + c1·c2."""
    table = layer_table(model("shufflenet_v2", {}))
    pointwise = [r for r in table if r.kind == "pointwise"]
    assert pointwise
    for r in pointwise:
        _, c1, h, w = r.input_shape
        assert r.memory_access_cost == memory_access_cost_1x1(h, w, c1, r.output_shape[1])


def test_mobilenet_v1_14x14_blocks_are_table3_layers():
    """Each of V1's five 14×14×512 separable blocks is exactly Table 3's depthwise separable row."""
    _, separable, _, _ = mobilenet_v1_table3()
    blocks = layer_table(model("mobilenet_v1", {})).group_by(2)
    matching = [g for g in blocks if (g.macs, g.params) == (separable.macs, separable.params)]
    assert len(matching) == 5 and all(g.layers == 2 for g in matching)


def test_layer_table_markdown_can_pick_its_columns() -> None:
    import mobilenet_lib as ml
    from mobilenet_lib.blocks import InvertedResidual

    table = ml.layer_table(InvertedResidual(16, 16, 1, 6), (1, 16, 8, 8))
    md = table.to_markdown(columns=("name", "kind", "macs"))
    assert md.splitlines()[0].replace(" ", "") == "|layer|kind|mult-adds|"
    assert "memory access" not in md and "| total |" in md
    with pytest.raises(ValueError, match="columns must be some of"):
        table.to_markdown(columns=("name", "colour"))
    with pytest.raises(TypeError, match="columns must be a sequence"):
        table.to_markdown(columns="name")
