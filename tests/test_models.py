"""Tests for mobilenet_lib.models: the reference numbers exactly, shapes, shortcuts, tables, init.

Parameter counts and mult-adds are pinned to the measured reference numbers in
shared/reference/numbers.md (torchvision 0.28 models and a standard MobileNet V1, counted with
``FlopCounterMode``). Mult-adds depend only on shapes, so they are counted on models built on
PyTorch's "meta" device (no memory, no arithmetic); one test checks that the meta count equals
the count of a real forward pass.
"""

from __future__ import annotations

import functools
import math

import pytest
import torch
from torch import nn

from mobilenet_lib import blocks, models
from mobilenet_lib.costs import count_macs, count_params
from mobilenet_lib.models import (
    MOBILENET_V1_LAYERS,
    MOBILENET_V2_SETTINGS,
    MOBILENET_V3_LARGE_BNECK,
    MOBILENET_V3_SMALL_BNECK,
    SHUFFLENET_V2_STAGES,
    create_model,
    list_models,
    mobilenet_v1,
    mobilenet_v2,
    mobilenet_v3_large,
    mobilenet_v3_small,
    shufflenet_v2,
)


@functools.lru_cache(maxsize=None)
def meta_model(name: str, **kwargs: object) -> nn.Module:
    with torch.device("meta"):
        return create_model(name, **kwargs)


def macs_m(name: str, resolution: int = 224, **kwargs: object) -> float:
    """Mult-adds in millions at the printed precision's raw value."""
    return count_macs(meta_model(name, **kwargs), (1, 3, resolution, resolution)) / 1e6


pytestmark = pytest.mark.usefixtures("one_thread")


# ------------------------------------------------------------------------ the reference numbers

# (model name, kwargs, params, MACs in millions, digits the reference prints)
REFERENCE = [
    ("mobilenet_v1", {}, 4_231_976, 568.7, 1),
    ("mobilenet_v1", {"width_mult": 0.75}, 2_585_560, 325.4, 1),
    ("mobilenet_v1", {"width_mult": 0.5}, 1_331_592, 149.5, 1),
    ("mobilenet_v1", {"width_mult": 0.25}, 470_072, 41.0, 1),
    ("mobilenet_v1", {"full_conv": True}, 29_294_088, 4867.29, 2),
    ("mobilenet_v2", {}, 3_504_872, 300.77, 2),
    ("mobilenet_v2", {"width_mult": 0.75}, 2_636_424, 209.07, 2),
    ("mobilenet_v2", {"width_mult": 0.5}, 1_968_680, 97.13, 2),
    ("mobilenet_v3_large", {}, 5_483_032, 216.59, 2),
    ("mobilenet_v3_small", {}, 2_542_856, 56.51, 2),
    ("shufflenet_v2_x0_5", {}, 1_366_792, 40.48, 2),
    ("shufflenet_v2_x1_0", {}, 2_278_604, 144.91, 2),
    ("shufflenet_v2_x1_5", {}, 3_503_624, 295.76, 2),
    ("shufflenet_v2_x2_0", {}, 7_393_996, 583.25, 2),
    ("resnet18", {}, 11_689_512, 1814.07, 2),
    ("resnet50", {}, 25_557_032, 4089.18, 2),
]


@pytest.mark.parametrize(
    ("name", "kwargs", "params", "macs", "digits"),
    REFERENCE,
    ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for n, kw, *_ in REFERENCE],
)
def test_reference_params_and_macs(name: str, kwargs: dict, params: int, macs: float, digits: int) -> None:
    model = meta_model(name, **kwargs)
    assert count_params(model) == params
    assert round(macs_m(name, **kwargs), digits) == macs


@pytest.mark.parametrize(("resolution", "macs"), [(192, 418.1), (160, 290.7), (128, 186.4)])
def test_mobilenet_v1_resolution_multiplier(resolution: int, macs: float) -> None:
    assert round(macs_m("mobilenet_v1", resolution), 1) == macs


@pytest.mark.parametrize(("resolution", "macs"), [(192, 221.32), (160, 154.08), (128, 99.07), (96, 56.29)])
def test_mobilenet_v2_resolutions(resolution: int, macs: float) -> None:
    assert round(macs_m("mobilenet_v2", resolution), 2) == macs


def test_parameters_without_batch_norm_match_tf_slim() -> None:
    def without_bn(model: nn.Module) -> int:
        bn = sum(p.numel() for m in model.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters())
        return count_params(model) - bn

    assert without_bn(meta_model("mobilenet_v2")) == 3_470_760
    assert without_bn(meta_model("mobilenet_v1")) == 4_210_088


def test_shallow_mobilenet_v1_of_table_5() -> None:
    # Table 5's shallower net: the five 14x14x512 blocks removed.
    shallow = [row for i, row in enumerate(MOBILENET_V1_LAYERS) if i not in range(6, 11)]
    with torch.device("meta"):
        model = mobilenet_v1(layers=shallow)
    assert count_params(model) == 2_887_976
    assert round(count_macs(model) / 1e6, 2) == 307.32


def test_meta_count_equals_a_real_forward_pass() -> None:
    torch.manual_seed(0)
    for name, res in [("mobilenet_v2", 224), ("mobilenet_v3_small", 160), ("shufflenet_v2_x0_5", 96)]:
        real = create_model(name)
        assert count_macs(real, (1, 3, res, res)) == count_macs(meta_model(name), (1, 3, res, res))


# ------------------------------------------------------------------------ shapes


@pytest.mark.parametrize("name", list_models())
def test_every_model_runs_on_small_inputs(name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name, num_classes=7).eval()
    for resolution in (32, 77):
        with torch.no_grad():
            out = model(torch.randn(2, 3, resolution, resolution))
        assert out.shape == (2, 7)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("builder", "kwargs"),
    [
        (mobilenet_v1, {"width_mult": 0.25}),
        (mobilenet_v1, {"width_mult": 0.5, "full_conv": True}),
        (mobilenet_v2, {"width_mult": 0.35}),
        (mobilenet_v2, {"width_mult": 1.4}),
        (mobilenet_v3_large, {"width_mult": 0.75}),
        (mobilenet_v3_small, {"width_mult": 0.5}),
        (shufflenet_v2, {"width_mult": 0.5}),
    ],
)
def test_widths_and_batch_sizes(builder, kwargs: dict) -> None:
    model = builder(num_classes=5, **kwargs).eval()
    for batch, size in [(1, 64), (3, 96)]:
        assert model(torch.randn(batch, 3, size, size + 16)).shape == (batch, 5)


def test_feature_map_sizes_follow_the_tables() -> None:
    model = mobilenet_v2().eval()
    x = torch.randn(1, 3, 224, 224)
    sizes = []
    for layer in model.features:
        x = layer(x)
        sizes.append((x.shape[1], x.shape[2]))
    assert sizes[0] == (32, 112)
    assert sizes[-2] == (320, 7) and sizes[-1] == (1280, 7)
    assert len(model.features) == 1 + sum(row.repeats for row in MOBILENET_V2_SETTINGS) + 1 == 19


def test_mobilenet_v1_has_28_layers_and_full_conv_has_no_depthwise() -> None:
    def weighted_layers(model: nn.Module) -> list[nn.Module]:
        return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]

    v1 = meta_model("mobilenet_v1")
    layers = weighted_layers(v1)
    assert len(layers) == 28
    assert sum(1 for m in layers if isinstance(m, nn.Conv2d) and m.groups > 1) == 13
    conv = weighted_layers(meta_model("mobilenet_v1", full_conv=True))
    assert len(conv) == 15 and all(m.groups == 1 for m in conv if isinstance(m, nn.Conv2d))


def test_mobilenet_v1_width_uses_int_truncation() -> None:
    model = meta_model("mobilenet_v1", width_mult=0.75)
    widths = [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    assert widths == [int(row.out_channels * 0.75) for row in MOBILENET_V1_LAYERS]


def test_adapted_v1_table_for_small_images() -> None:
    digits_table = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1)]
    model = mobilenet_v1(num_classes=10, layers=digits_table, in_channels=1).eval()
    assert model.output_stride == 8
    assert model(torch.randn(4, 1, 8, 8)).shape == (4, 10)
    assert model(torch.randn(4, 1, 32, 32)).shape == (4, 10)


def test_in_channels_for_grey_images() -> None:
    for name in ["mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x0_5", "resnet18"]:
        model = create_model(name, num_classes=3, in_channels=1).eval()
        assert model(torch.randn(1, 1, 32, 32)).shape == (1, 3)


# ------------------------------------------------------------------------ shortcuts


@pytest.mark.parametrize(
    ("name", "expected"),
    # Counted by hand from the tables: blocks with stride 1 whose input width equals the output.
    [("mobilenet_v2", 10), ("mobilenet_v3_large", 10), ("mobilenet_v3_small", 6)],
)
def test_shortcuts_exactly_where_the_rule_says(name: str, expected: int) -> None:
    model = meta_model(name)
    residual = [m for m in model.modules() if isinstance(m, blocks.InvertedResidual)]
    for block in residual:
        assert block.use_res_connect == (block.stride == 1 and block.in_channels == block.out_channels)
    assert sum(b.use_res_connect for b in residual) == expected


def test_v3_blocks_follow_their_table_rows() -> None:
    for name, table in [("mobilenet_v3_large", MOBILENET_V3_LARGE_BNECK), ("mobilenet_v3_small", MOBILENET_V3_SMALL_BNECK)]:
        residual = [m for m in meta_model(name).modules() if isinstance(m, blocks.InvertedResidual)]
        assert len(residual) == len(table)
        for block, row in zip(residual, table):
            assert (block.kernel_size, block.expanded_channels, block.out_channels, block.use_se, block.stride) == (
                row.kernel, row.expanded, row.out_channels, row.use_se, row.stride
            )
            act = block.block[-2][2] if not row.use_se else block.block[-3][2]
            assert isinstance(act, nn.Hardswish if row.activation == "HS" else nn.ReLU)
            assert block.block[-1][1].eps == 0.001 and block.block[-1][1].momentum == 0.01


def test_shufflenet_stages_follow_the_table() -> None:
    for column, width in enumerate(["0.5x", "1.0x", "1.5x", "2.0x"]):
        model = meta_model("shufflenet_v2", width_mult=width)
        for row in SHUFFLENET_V2_STAGES:
            layer = getattr(model, row.name)
            if row.name.startswith("stage"):
                assert len(layer) == row.repeats
                assert [u.stride for u in layer] == [2] + [1] * (row.repeats - 1)
                assert layer[-1].out_channels == row.channels[column]
            else:
                assert layer[0].out_channels == row.channels[column]


# ------------------------------------------------------------------------ registry and tables


def test_list_models_and_create_model() -> None:
    expected = {
        "mobilenet_v1", "mobilenet_v2", "mobilenet_v3", "mobilenet_v3_large", "mobilenet_v3_small", "shufflenet_v2",
        "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
        "shufflenet_v1", "shufflenet_v1_g1", "shufflenet_v1_g2", "shufflenet_v1_g3", "shufflenet_v1_g4", "shufflenet_v1_g8",
        "resnet18", "resnet50",
    }
    assert set(list_models()) == expected
    assert list_models() == sorted(list_models())
    assert count_params(meta_model("shufflenet_v2", width_mult="1.5x")) == count_params(meta_model("shufflenet_v2_x1_5"))
    with pytest.raises(ValueError, match="mobilenet_v2"):  # the message lists the valid names
        create_model("mobilenet_v4")


def test_tables_are_printable_named_rows() -> None:
    assert MOBILENET_V1_LAYERS[0]._fields == ("out_channels", "stride")
    assert MOBILENET_V2_SETTINGS[1]._asdict() == {"expand_ratio": 6, "out_channels": 24, "repeats": 2, "stride": 2}
    assert MOBILENET_V3_LARGE_BNECK[3]._fields == ("kernel", "expanded", "out_channels", "use_se", "activation", "stride")
    assert len(MOBILENET_V3_LARGE_BNECK) == 15 and len(MOBILENET_V3_SMALL_BNECK) == 11
    assert [r.name for r in SHUFFLENET_V2_STAGES] == ["conv1", "stage2", "stage3", "stage4", "conv5"]
    assert [r.repeats for r in SHUFFLENET_V2_STAGES[1:4]] == [4, 8, 4]
    # Sizes through the network: the product of the strides is 32 for every default model.
    assert 2 * math.prod(r.stride for r in MOBILENET_V1_LAYERS) == 32
    for name in list_models():
        assert meta_model(name).output_stride == 32


def test_models_package_names_are_registered_at_the_root() -> None:
    import mobilenet_lib

    for name in ["create_model", "list_models", "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large",
                 "mobilenet_v3_small", "shufflenet_v2", "resnet18", "resnet50"]:
        assert getattr(mobilenet_lib, name) is getattr(models, name)


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "shufflenet_v2_x0_5", "resnet18"])
def test_models_trace_with_torch_fx(name: str) -> None:
    # The input checks step aside for torch.fx (FX quantization and graph tools need a trace).
    torch.manual_seed(0)
    model = create_model(name, num_classes=4).eval()
    graph = torch.fx.symbolic_trace(model)
    x = torch.randn(2, 3, 40, 40)
    torch.testing.assert_close(graph(x), model(x))
    with pytest.raises(ValueError, match="expects 3 input channels"):
        model(torch.randn(1, 1, 40, 40))  # ...and still run on real tensors


def test_importing_the_models_stays_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, mobilenet_lib; mobilenet_lib.create_model; import mobilenet_lib.checkpoint; "
        "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'sklearn', 'torchvision') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------ initialization


def test_seeded_builds_are_identical_and_seeds_matter() -> None:
    def build(seed: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(seed)
        return mobilenet_v3_small(num_classes=10).state_dict()

    a, b, c = build(0), build(0), build(1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["features.0.0.weight"], c["features.0.0.weight"])


def test_reference_initialization() -> None:
    torch.manual_seed(0)
    model = mobilenet_v2()
    conv = model.features[18][0]  # 1x1, 320 -> 1280: fan_out = 1280
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / 1280), rel=0.05)
    fc = model.classifier[1]
    assert fc.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.equal(fc.bias, torch.zeros(1000))
    bn = model.features[18][1]
    assert torch.equal(bn.weight, torch.ones(1280)) and torch.equal(bn.bias, torch.zeros(1280))
    se = mobilenet_v3_large().features[4].block[2]
    assert torch.equal(se.fc1.bias, torch.zeros_like(se.fc1.bias))


def test_eval_mode_is_deterministic_and_train_mode_uses_dropout() -> None:
    torch.manual_seed(0)
    model = mobilenet_v2(num_classes=4, dropout=0.5)
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    assert torch.equal(model(x), model(x))
    assert model.classifier[0].p == 0.5
