"""ONNX export of every model family, checked against PyTorch in ONNX Runtime and OpenVINO, and
the runtimes' int8 paths, fused graphs and per-kind profiles (mobilenet_lib.onnx_export,
mobilenet_lib.runtimes).

Small inputs and widths keep the whole module well under a minute on two cores; every export uses
the fast TorchScript-based exporter except one check of the ``torch.export``-based one.
"""

from __future__ import annotations

import onnx
import pytest
import torch
from torch import nn

from mobilenet_lib import runtimes as rt
from mobilenet_lib.deploy import max_relative_error
from mobilenet_lib.models import create_model
from mobilenet_lib.onnx_export import export_onnx, onnx_session, operator_counts, run_onnx

TOL = 1e-4  # the bound on the relative error of the exported logits

# One network per family, small enough to export in a second or two. (name, kwargs, image size)
FAMILIES = [
    ("mobilenet_v1", {"width_mult": 0.25}, 64),
    ("mobilenet_v2", {"width_mult": 0.35}, 64),
    ("mobilenet_v3_large", {"width_mult": 0.35}, 64),
    ("mobilenet_v3_small", {"width_mult": 0.5}, 64),
    ("shufflenet_v1_g3", {"width_mult": 0.5}, 64),
    ("shufflenet_v2_x0_5", {}, 64),
    ("resnet18", {}, 32),
]


def trained_like(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm statistics (fresh ones are identities, which would hide folding errors)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=g) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)
    return model.eval()


def build(name: str, kwargs: dict, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return trained_like(create_model(name, num_classes=10, **kwargs), seed)


@pytest.fixture(scope="module")
def v2() -> tuple[nn.Module, bytes]:
    model = build("mobilenet_v2", {"width_mult": 0.35})
    return model, export_onnx(model, image_size=64)


@pytest.mark.parametrize(("name", "kwargs", "size"), FAMILIES, ids=[f[0] for f in FAMILIES])
def test_every_family_exports_and_matches_pytorch_in_onnx_runtime(name: str, kwargs: dict, size: int) -> None:
    model = build(name, kwargs)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = export_onnx(model, image_size=size)  # traced at batch 1 ...
    x = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(1))  # ... run at batch 3
    with torch.no_grad():
        reference = model(x)
    out = rt.OnnxRuntimeModel(data, threads=1)(x)
    assert out.shape == reference.shape == (3, 10)
    assert max_relative_error(out, reference) < TOL
    assert max_relative_error(run_onnx(onnx_session(data), x), reference) < TOL  # the plain session too
    assert model.training is False and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert "BatchNormalization" not in operator_counts(data)  # eval-mode export folds BatchNorm


def test_openvino_runs_the_export_like_pytorch(v2: tuple[nn.Module, bytes]) -> None:
    model, data = v2
    runner = rt.OpenVINOModel(data, threads=1)
    for batch in (1, 4):  # one compiled model per shape
        x = torch.randn(batch, 3, 64, 64, generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            assert max_relative_error(runner(x), model(x)) < TOL
    assert sorted(runner._compiled) == [(1, 3, 64, 64), (4, 3, 64, 64)]
    assert runner.config()["INFERENCE_NUM_THREADS"] == 1 and runner.config()["ENABLE_CPU_PINNING"] is False


def test_dynamo_exporter_gives_the_same_numbers(v2: tuple[nn.Module, bytes]) -> None:
    model, _ = v2
    data = export_onnx(model, image_size=64, dynamo=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert max_relative_error(rt.OnnxRuntimeModel(data)(x), model(x)) < TOL


def test_export_writes_the_file(tmp_path, v2) -> None:
    model, _ = v2
    path = tmp_path / "v2.onnx"
    data = export_onnx(model, path, image_size=32, dynamic_batch=False)
    assert path.read_bytes() == data
    proto = onnx.load(str(path))
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1  # static batch


def test_fused_graphs(v2: tuple[nn.Module, bytes]) -> None:
    _, data = v2
    exported = operator_counts(data)
    assert exported["Conv"] == 52 and exported["Clip"] == 35 and exported["Add"] == 10  # MobileNet V2
    assert rt.onnx_runtime_operator_counts(data, optimize=False)["Clip"] == 35
    fused = rt.onnx_runtime_operator_counts(data)
    # every convolution in NCHWc layout with its ReLU6 and residual addition fused in
    assert fused["com.microsoft.nchwc.Conv"] == 52
    assert fused["Clip"] == fused["Add"] == fused["Conv"] == 0
    ov = rt.openvino_operator_counts(data, (1, 3, 64, 64))
    assert ov["Convolution"] == 52 and "Clamp" not in ov and "Eltwise" not in ov
    assert "Const" not in ov and "Input" not in ov


def test_onnx_runtime_int8_quantizes_every_convolution(v2: tuple[nn.Module, bytes]) -> None:
    _, data = v2
    calibration = torch.randn(8, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    q = rt.quantize_onnx_int8(data, [calibration[:4], calibration[4:]])
    fused = rt.onnx_runtime_operator_counts(q)
    # The fresh-BatchNorm twins of this network share zero biases in the export; without
    # un-sharing them some convolutions would stay float32 between a dequantize and a quantize.
    assert fused["com.microsoft.QLinearConv"] == 52 and fused["Conv"] == 0
    assert fused["com.microsoft.QLinearAdd"] == 10
    out = rt.OnnxRuntimeModel(q)(calibration[:2])
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_zero_biases_shared_in_the_export_are_unshared() -> None:
    torch.manual_seed(0)
    model = create_model("mobilenet_v2", width_mult=0.35, num_classes=10).eval()  # fresh BN: zero biases
    data = export_onnx(model, image_size=32)
    proto = onnx.load_from_string(rt._unshare_initializers(data))
    inits = {t.name for t in proto.graph.initializer}
    uses = [name for node in proto.graph.node for name in node.input if name in inits]
    assert len(uses) == len(set(uses))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert max_relative_error(rt.OnnxRuntimeModel(proto.SerializeToString())(x), model(x)) < TOL


def test_openvino_int8_runs_its_convolutions_in_int8(v2: tuple[nn.Module, bytes]) -> None:
    model, data = v2
    calibration = torch.randn(8, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    q = rt.quantize_openvino_int8(data, calibration)
    assert sum(op.get_type_name() == "FakeQuantize" for op in q.get_ops()) > 0
    runner = rt.OpenVINOModel(q)
    out = runner(calibration[:2])
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    convs = [op for op in runner.compiled((2, 3, 64, 64)).get_runtime_model().get_ops()
             if op.get_rt_info()["layerType"].astype(str) == "Convolution"]
    precision = {op.get_friendly_name(): op.get_rt_info()["runtimePrecision"].astype(str) for op in convs}
    depthwise = {op.get_friendly_name() for op in q.get_ops() if op.get_type_name() == "GroupConvolution"}
    assert len(convs) == 52 and len(depthwise) == 17
    # Every full and pointwise convolution runs in int8. (On this AVX2 machine OpenVINO keeps the
    # 17 depthwise ones in float32, between a dequantize and a quantize; the chapter reports it.)
    assert all(p in ("u8", "i8") for name, p in precision.items() if name not in depthwise), precision


def test_profiles_add_up(v2: tuple[nn.Module, bytes]) -> None:
    model, data = v2
    x = torch.randn(1, 3, 64, 64)
    for p in (rt.profile_onnx_runtime(data, x, repeats=2, warmup=1),
              rt.profile_openvino(data, x, repeats=2, warmup=1),
              rt.profile_torch(model, x, repeats=2, warmup=1)):
        # MobileNet V2: 1 full convolution, 17 depthwise, 34 pointwise, 1 classifier
        assert p.nodes == {"conv": 1, "depthwise": 17, "pointwise": 34, "linear": 1}, (p.runtime, p.nodes)
        assert set(p.kinds) <= set(rt.KIND_ORDER) and p.total_ms > 0
        assert sum(p.kinds.values()) == pytest.approx(max(p.total_ms, sum(v for k, v in p.kinds.items() if k != "other")))
        assert rt.KindTimes.from_dict(p.to_dict()) == p


def test_int8_profiles_name_every_layer(v2: tuple[nn.Module, bytes]) -> None:
    from mobilenet_lib.quantize import quantize_int8_inductor

    model, data = v2
    x = torch.randn(2, 3, 64, 64)
    for p in (rt.profile_torch(quantize_int8_inductor(model, x), x, repeats=2, warmup=1),
              rt.profile_onnx_runtime(rt.quantize_onnx_int8(data, x), x, repeats=2, warmup=1),
              rt.profile_openvino(rt.quantize_openvino_int8(data, x), x, repeats=2, warmup=1)):
        assert p.nodes == {"conv": 1, "depthwise": 17, "pointwise": 34, "linear": 1}, (p.runtime, p.nodes)


def test_onednn_graph_profile_names_every_layer(v2: tuple[nn.Module, bytes]) -> None:
    from mobilenet_lib.deploy import prepare_for_inference

    model, _ = v2
    x = torch.randn(1, 3, 64, 64)
    p = rt.profile_onednn_graph(prepare_for_inference(model, onednn_graph=True), x, repeats=2, warmup=1)
    # How oneDNN groups the layers into partitions depends on the CPU; which layers there are does
    # not: 1 full convolution, 17 depthwise, 34 pointwise (a fused pair counts for one of each).
    n = p.nodes
    pairs = n.get("pointwise+depthwise", 0)
    assert set(n) <= {"conv", "depthwise", "pointwise", "pointwise+depthwise", "linear"}, n
    assert (n["conv"], n["linear"], n.get("depthwise", 0) + pairs, n["pointwise"] + pairs) == (1, 1, 17, 34), n
    assert sum(p.kinds.values()) == pytest.approx(p.total_ms) and p.kinds["other"] > 0
    with pytest.raises(TypeError, match="onednn_graph"):
        rt.profile_onednn_graph(prepare_for_inference(model), x)
    with pytest.raises(TypeError, match="images"):
        rt.profile_onednn_graph(prepare_for_inference(model, onednn_graph=True), [1.0])


def test_profiles_split_the_network_by_block(v2: tuple[nn.Module, bytes]) -> None:
    from mobilenet_lib.deploy import prepare_for_inference

    model, data = v2
    x = torch.randn(1, 3, 64, 64)
    blocks = [f"features.{i}" for i in range(19)] + ["classifier"]
    for p in (rt.profile_onnx_runtime(data, x, repeats=2, warmup=1),
              rt.profile_openvino(data, x, repeats=2, warmup=1),
              rt.profile_onednn_graph(prepare_for_inference(model, onednn_graph=True), x, repeats=2, warmup=1)):
        assert list(p.blocks) == blocks and all(ms >= 0 for ms in p.blocks.values()), p.runtime
        # the convolutions' and the classifier's times all land in some block
        layer_ms = sum(v for k, v in p.kinds.items() if k != "other")
        assert sum(p.blocks.values()) >= layer_ms * (1 - 1e-9), p.runtime
    assert rt.profile_torch(model, x, repeats=1, warmup=1).blocks == {}  # eager: no node names to go by


def test_block_of() -> None:
    assert rt.block_of("/features/features.3/conv/conv.0/conv.0.0/Conv") == "features.3"
    assert rt.block_of("self.features.17.conv.1.weight") == "features.17"
    assert rt.block_of("/features/features.1/conv/conv.1/Conv_token_4") == "features.1"
    assert rt.block_of("/classifier/classifier.1/Gemm") == "classifier"
    assert rt.block_of("image_abcd_acdb_/features/features.0/features.0.0/Conv/WithoutBiases") == "features.0"
    assert rt.block_of("/avgpool/GlobalAveragePool") is None and rt.block_of("features") is None
    assert sorted(["classifier", "features.10", "features.2"], key=rt.block_order) == ["features.2", "features.10", "classifier"]


def test_conv_kind() -> None:
    assert rt.conv_kind(32, (32, 1, 3, 3)) == "depthwise"
    assert rt.conv_kind(32, (64, 32, 1, 1)) == "pointwise"
    assert rt.conv_kind(3, (32, 3, 3, 3)) == "conv"
    assert rt.conv_kind(24, (24, 8, 1, 1)) == "group"
    with pytest.raises(ValueError, match="weight_shape"):
        rt.conv_kind(3, (32, 3))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda d: export_onnx("model"), TypeError, "model"),
        (lambda d: export_onnx(nn.Conv2d(3, 3, 1), image_size=0), ValueError, "image_size"),
        (lambda d: export_onnx(nn.Conv2d(3, 3, 1), opset=7), ValueError, "opset"),
        (lambda d: export_onnx(nn.Conv2d(3, 3, 1), path=3), TypeError, "path"),
        (lambda d: rt.OnnxRuntimeModel(3), TypeError, "model"),
        (lambda d: rt.OnnxRuntimeModel(d, threads=0), ValueError, "threads"),
        (lambda d: rt.OnnxRuntimeModel(d)([1.0]), TypeError, "images"),
        (lambda d: rt.OnnxRuntimeModel(d)(torch.zeros(1, 3, 8, 8, dtype=torch.float64)), ValueError, "float32"),
        (lambda d: rt.OpenVINOModel(d, threads="2"), TypeError, "threads"),
        (lambda d: rt.quantize_onnx_int8(d, "images"), TypeError, "calibration"),
        (lambda d: rt.quantize_onnx_int8(d, torch.zeros(1, 3, 8, 8), num_batches=0), ValueError, "num_batches"),
        (lambda d: rt.profile_onnx_runtime(d, torch.zeros(1, 3, 8, 8), repeats=0), ValueError, "repeats"),
    ],
)
def test_bad_arguments(call, error, match) -> None:
    data = export_onnx(nn.Sequential(nn.Conv2d(3, 4, 1), nn.Flatten()), image_size=8)
    with pytest.raises(error, match=match):
        call(data)
