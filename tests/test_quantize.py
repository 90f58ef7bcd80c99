"""Tests for mobilenet_lib.quantize: int8 post-training quantization and the int8 op map."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mobilenet_lib.activations import HSigmoid, HSwish
from mobilenet_lib.blocks import ConvNormAct
from mobilenet_lib.deploy import max_relative_error
from mobilenet_lib.models import mobilenet_v2, mobilenet_v3_small
from mobilenet_lib.quantize import Int8Op, calibration_batches, int8_ops, quantize_int8


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model


class Gate(nn.Module):
    """x * h_sigmoid(x): the library's HSigmoid as a gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = HSigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class Head(nn.Module):
    """Pool, flatten, classify, as the library's models do (``torch.flatten``, which the x86
    backend runs on int8 data; the ``nn.Flatten`` module would be run in float)."""

    def __init__(self, channels: int, classes: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(x), 1))


def tiny_net() -> nn.Sequential:
    return nn.Sequential(
        ConvNormAct(3, 8, 3, 2, activation=nn.ReLU),
        ConvNormAct(8, 8, 3, 1, groups=8, activation=nn.ReLU6),
        ConvNormAct(8, 16, 1, activation=HSwish),
        Gate(),
        Head(16, 10),
    )


def record(quantized: torch.fx.GraphModule, x: torch.Tensor) -> dict[str, tuple[object, object]]:
    """(input, output) of every call_module node, by module class name."""
    modules = dict(quantized.named_modules())
    seen: dict[str, tuple[object, object]] = {}

    class Rec(torch.fx.Interpreter):
        def run_node(self, n: torch.fx.Node) -> object:
            out = super().run_node(n)
            if n.op == "call_module":
                seen.setdefault(type(modules[n.target]).__name__, (self.env[n.args[0]], out))
            return out

    Rec(quantized).run(x)
    return seen


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.randn(32, 3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def tiny(images: torch.Tensor) -> tuple[nn.Module, torch.fx.GraphModule]:
    torch.manual_seed(0)
    model = randomize_bn(tiny_net()).eval()
    return model, quantize_int8(model, images)


def test_quantized_model_is_close_and_the_float_model_untouched(images: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = randomize_bn(tiny_net()).train()
    before = copy.deepcopy(model.state_dict())
    q = quantize_int8(model, images)
    assert isinstance(q, torch.fx.GraphModule) and not q.training
    assert model.training and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert isinstance(model[2][2], HSwish)  # the swap happened on the copy only
    with torch.no_grad():
        err = max_relative_error(q(images), model.eval()(images))
    assert 0 < err < 0.1  # int8 rounding is visible, but small


def test_every_layer_of_the_tiny_net_runs_in_int8(tiny, images: torch.Tensor) -> None:
    _, q = tiny
    ops = {op.op: op for op in int8_ops(q, images)}
    # one quantize at the input, one dequantize at the output, int8 in between
    assert ops["quantize_per_tensor"].count == 1 and ops["dequantize"].count == 1
    assert [op for op in int8_ops(q, images) if not op.int8] == [Int8Op("dequantize", 1, False)]
    assert ops["quantized.ConvReLU2d"].count == 1  # ReLU fused into its convolution
    assert ops["quantized.Conv2d"].count == 2
    assert ops["ReLU6"].int8  # ReLU6 runs on the codes
    assert "quantized.Hardswish" in ops and "HSwish" not in ops  # the library module was swapped
    assert "Hardsigmoid" in ops and "HSigmoid" not in ops
    assert ops["quantized.Linear"].count == 1


def test_relu6_shares_its_input_grid_and_clamps_exactly(tiny, images: torch.Tensor) -> None:
    _, q = tiny
    x, y = record(q, images)["ReLU6"]
    assert x.is_quantized and y.is_quantized
    assert (x.q_scale(), x.q_zero_point()) == (y.q_scale(), y.q_zero_point())
    lo, hi = x.q_zero_point(), x.q_zero_point() + round(6 / x.q_scale())
    assert torch.equal(y.int_repr(), x.int_repr().clamp(lo, min(hi, 255)))


def test_hardsigmoid_has_fixed_quantization_parameters(tiny, images: torch.Tensor) -> None:
    _, q = tiny
    _, y = record(q, images)["Hardsigmoid"]
    assert y.is_quantized and y.q_scale() == pytest.approx(1 / 256) and y.q_zero_point() == 0


def test_mobilenet_v2_runs_entirely_in_int8() -> None:
    torch.manual_seed(1)
    model = randomize_bn(mobilenet_v2(width_mult=0.25, num_classes=10), seed=1).eval()
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    q = quantize_int8(model, [x[:4], x[4:]])
    ops = int8_ops(q, x)
    assert [op for op in ops if not op.int8] == [Int8Op("dequantize", 1, False)]
    n_conv = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    assert sum(op.count for op in ops if op.op.startswith("quantized.Conv")) == n_conv
    assert sum(op.count for op in ops if op.op == "quantized.add") == sum(
        getattr(m, "use_res_connect", False) for m in model.modules()
    )
    assert not any(isinstance(m, nn.BatchNorm2d) for m in q.modules())  # folded by prepare_fx
    with torch.no_grad():
        assert max_relative_error(q(x), model(x)) < 0.2


def test_mobilenet_v3_squeeze_excitation_and_hard_activations_run_in_int8() -> None:
    torch.manual_seed(2)
    model = mobilenet_v3_small(width_mult=0.5, num_classes=10).eval()
    x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    ops = int8_ops(quantize_int8(model, x), x)
    assert [op for op in ops if not op.int8] == [Int8Op("dequantize", 1, False)]
    counts = {op.op: op.count for op in ops}
    n_se = sum(type(m).__name__ == "SqueezeExcitation" for m in model.modules())
    assert n_se > 0 and counts["quantized.mul"] == n_se  # each SE gate multiplies in int8
    assert counts["Hardsigmoid"] == n_se
    assert counts["quantized.Hardswish"] == sum(isinstance(m, nn.Hardswish) for m in model.modules())


class Untraceable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):  # a Python check that a tracing proxy fails
            raise TypeError("tensor expected")
        return self.conv(x)


def test_untraceable_model_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="could not trace Untraceable"):
        quantize_int8(Untraceable(), torch.randn(2, 3, 8, 8))


def test_calibration_batches_accepts_loaders_tensors_and_limits() -> None:
    x = torch.randn(10, 3, 8, 8)
    loader = DataLoader(TensorDataset(x, torch.zeros(10, dtype=torch.long)), batch_size=4)
    got = calibration_batches(loader)
    assert [b.shape[0] for b in got] == [4, 4, 2] and torch.equal(torch.cat(got), x)
    assert len(calibration_batches(loader, num_batches=2)) == 2
    assert calibration_batches(x)[0] is x
    assert len(calibration_batches([x, x, x], 1)) == 1


@pytest.mark.parametrize(
    ("data", "kwargs", "kind", "match"),
    [
        ([], {}, ValueError, "no batches"),
        ("images", {}, TypeError, "iterable"),
        ([torch.zeros(2, dtype=torch.long)], {}, TypeError, "float tensors"),
        ([(1, 2)], {}, TypeError, "float tensors"),
        ([torch.zeros(1)], {"num_batches": 0}, ValueError, "num_batches"),
        ([torch.zeros(1)], {"num_batches": True}, TypeError, "num_batches"),
    ],
)
def test_calibration_batches_rejects(data: object, kwargs: dict, kind: type[Exception], match: str) -> None:
    with pytest.raises(kind, match=match):
        calibration_batches(data, **kwargs)


def test_quantize_and_int8_ops_reject_bad_arguments(tiny, images: torch.Tensor) -> None:
    with pytest.raises(TypeError, match="torch.nn.Module"):
        quantize_int8("model", images)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="GraphModule"):
        int8_ops(tiny_net(), images)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tensor"):
        int8_ops(tiny[1], [images])  # type: ignore[arg-type]


def test_inductor_int8_runs_every_layer_in_onednn_int8_kernels() -> None:
    from torch.profiler import profile

    from mobilenet_lib.quantize import quantize_int8_inductor

    model = randomize_bn(mobilenet_v2(width_mult=0.25, num_classes=10), seed=2).train()
    before = copy.deepcopy(model.state_dict())
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    q = quantize_int8_inductor(model, [x[:4], x[4:]])
    assert model.training and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    n_conv = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    n_linear = sum(isinstance(m, nn.Linear) for m in model.modules())
    # every weight is stored in int8 per output channel (and dequantized where it is used) ...
    targets = [str(n.target) for n in q.model.graph.nodes if n.op == "call_function"]
    assert targets.count("quantized_decomposed.dequantize_per_channel.default") == n_conv + n_linear
    with torch.no_grad():
        q(x)  # compiles
        with profile() as prof:
            out = q(x)
        err = max_relative_error(out, model.eval()(x))
    # ... and after compilation each of those layers is one oneDNN int8 kernel, its activation or
    # residual addition fused in (qconv2d_pointwise is the variant with the addition)
    calls = [e.name for e in prof.events()]
    qconv = sum(name in ("onednn::qconv_pointwise", "onednn::qconv2d_pointwise") for name in calls)
    assert (qconv, calls.count("onednn::qlinear_pointwise")) == (n_conv, n_linear), sorted(set(calls))
    assert not any(name.startswith("aten::conv") for name in calls)
    assert 0 < err < 0.2


class _DataDependent(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.sum() > 0 else -x  # a branch on a tensor's value: torch.export refuses it


def test_inductor_int8_rejects_bad_arguments(images: torch.Tensor) -> None:
    from mobilenet_lib.quantize import quantize_int8_inductor

    with pytest.raises(TypeError, match="torch.nn.Module"):
        quantize_int8_inductor("model", images)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="calibration"):
        quantize_int8_inductor(tiny_net(), "images")
    with pytest.raises(ValueError, match="torch.export could not capture _DataDependent"):
        quantize_int8_inductor(_DataDependent(), images)
