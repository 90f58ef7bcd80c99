"""Tests for mobilenet_lib.deploy: BatchNorm folding, channels-last, compiled inference."""

from __future__ import annotations

import contextlib
import copy

import pytest
import torch
from torch import nn

from mobilenet_lib.deploy import (
    InferenceModel,
    find_conv_bn_pairs,
    fold_batchnorm,
    fold_conv_bn,
    max_relative_error,
    prepare_for_inference,
)

TOL = 1e-4  # the brief's bound on the relative error of a prepared model's logits


def randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm non-trivial statistics and affine weights (fresh ones are an identity)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=g) * 2 - 1)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.25)
                if m.affine:
                    m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                    m.bias.copy_(torch.rand(n, generator=g) - 0.5)
    return model


def state_equal(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


class ConvBnAttrs(nn.Module):
    """Conv and BatchNorm held as attributes (not a Sequential): only data flow pairs them."""

    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(8)  # declared first on purpose: order of definition must not matter
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Residual(nn.Module):
    """The convolution's output also feeds the skip path: folding would change that path."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.bn(y) + y


class SharedBn(nn.Module):
    """One BatchNorm called after two convolutions: it cannot be folded into both."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(4, 4, 1)
        self.b = nn.Conv2d(4, 4, 1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.a(x)) + self.bn(self.b(x))


class Untraceable(nn.Module):
    """A Python type check in forward defeats torch.fx; its children are searched instead."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, groups=3, bias=False), nn.BatchNorm2d(6), nn.ReLU6())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError("a tensor, please")
        return self.head(self.body(x))


def small_net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU6(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),  # depthwise
        nn.BatchNorm2d(8),
        nn.Hardswish(),
        nn.Conv2d(8, 16, 1),  # pointwise, with a bias of its own
        nn.BatchNorm2d(16),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    )


# --------------------------------------------------------------------------------------------
# fold_conv_bn: the algebra
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv2d(3, 6, 3, padding=1, bias=False),
        nn.Conv2d(3, 6, 3, padding=1, bias=True),
        nn.Conv2d(6, 6, 3, stride=2, padding=1, groups=6, bias=False),
        nn.Conv2d(6, 4, 1, groups=2),
    ],
    ids=["plain", "bias", "depthwise", "group"],
)
def test_fold_conv_bn_matches_bn_of_conv(conv: nn.Conv2d) -> None:
    torch.manual_seed(0)
    bn = randomize_bn(nn.BatchNorm2d(conv.out_channels)).eval()
    x = torch.randn(2, conv.in_channels, 9, 9)
    folded = fold_conv_bn(conv, bn)
    assert isinstance(folded, nn.Conv2d) and folded.bias is not None
    with torch.no_grad():
        assert max_relative_error(folded(x), bn(conv(x))) < 1e-5


def test_fold_conv_bn_conv1d_and_inputs_untouched() -> None:
    torch.manual_seed(1)
    conv, bn = nn.Conv1d(2, 5, 3), randomize_bn(nn.BatchNorm1d(5))  # bn left in training mode
    before_conv, before_bn = copy.deepcopy(conv), copy.deepcopy(bn)
    folded = fold_conv_bn(conv, bn)
    assert bn.training and conv.training  # the caller's flags are kept
    assert state_equal(conv, before_conv) and state_equal(bn, before_bn)
    x = torch.randn(3, 2, 11)
    with torch.no_grad():
        assert max_relative_error(folded(x), bn.eval()(conv(x))) < 1e-5


def test_fold_conv_bn_by_hand() -> None:
    # The formula the chapter shows, written out, against the library.
    torch.manual_seed(2)
    conv, bn = nn.Conv2d(2, 3, 1, bias=True), randomize_bn(nn.BatchNorm2d(3)).eval()
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    folded = fold_conv_bn(conv, bn)
    torch.testing.assert_close(folded.weight, conv.weight * s[:, None, None, None])
    torch.testing.assert_close(folded.bias, (conv.bias - bn.running_mean) * s + bn.bias)


@pytest.mark.parametrize(
    ("conv", "bn", "match"),
    [
        (nn.Linear(3, 3), nn.BatchNorm2d(3), "conv must be"),
        (nn.ConvTranspose2d(3, 3, 2), nn.BatchNorm2d(3), "conv must be"),
        (nn.Conv2d(3, 4, 1), nn.LayerNorm(4), "bn must be"),
        (nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4, track_running_stats=False), "running statistics"),
        (nn.Conv2d(3, 4, 1), nn.BatchNorm2d(5), "output channels"),
    ],
)
def test_fold_conv_bn_rejects(conv: nn.Module, bn: nn.Module, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fold_conv_bn(conv, bn)


# --------------------------------------------------------------------------------------------
# find_conv_bn_pairs: data flow, not declaration order
# --------------------------------------------------------------------------------------------


def test_pairs_in_a_sequential() -> None:
    assert find_conv_bn_pairs(small_net()) == [("0", "1"), ("3", "4"), ("6", "7")]


def test_pairs_by_data_flow_not_attribute_order() -> None:
    assert find_conv_bn_pairs(ConvBnAttrs()) == [("conv", "bn")]


@pytest.mark.parametrize(
    "model",
    [
        Residual(),
        SharedBn(),
        nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 3, 1)),  # BatchNorm before the convolution
        nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReLU(), nn.BatchNorm2d(3)),  # something in between
        nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3, track_running_stats=False)),
        nn.Sequential(nn.ConvTranspose2d(3, 3, 2), nn.BatchNorm2d(3)),
    ],
    ids=["residual", "shared-bn", "bn-first", "act-between", "no-running-stats", "transposed"],
)
def test_no_pair_where_folding_would_change_the_function(model: nn.Module) -> None:
    assert find_conv_bn_pairs(model) == []


def test_untraceable_module_is_searched_through_its_children() -> None:
    assert find_conv_bn_pairs(Untraceable()) == [("body.0", "body.1")]


def test_find_rejects_non_modules() -> None:
    with pytest.raises(TypeError, match="torch.nn.Module"):
        find_conv_bn_pairs(lambda x: x)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# fold_batchnorm
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [small_net, ConvBnAttrs, Untraceable, Residual, SharedBn])
def test_fold_batchnorm_is_exact_and_leaves_the_caller_alone(make) -> None:
    torch.manual_seed(3)
    model = randomize_bn(make()).train()
    before = copy.deepcopy(model)
    folded = fold_batchnorm(model)
    assert model.training and state_equal(model, before)  # caller's model untouched
    assert not folded.training
    x = torch.randn(4, 4 if make in (Residual, SharedBn) else 3, 16, 16)
    with torch.no_grad():
        assert max_relative_error(folded(x), model.eval()(x)) < TOL


def test_fold_batchnorm_removes_every_foldable_bn() -> None:
    folded = fold_batchnorm(randomize_bn(small_net()))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert sum(isinstance(m, nn.Identity) for m in folded.modules()) == 3
    # the unfoldable one survives
    kept = fold_batchnorm(Residual())
    assert isinstance(kept.bn, nn.BatchNorm2d)


def test_fold_batchnorm_state_dict_loses_only_bn_entries() -> None:
    model = small_net()
    folded = fold_batchnorm(model)
    bn_keys = {k for k in model.state_dict() if k.split(".")[0] in {"1", "4", "7"}}
    conv_bias = {"0.bias", "3.bias"}  # the folded convolutions gain a bias
    assert set(folded.state_dict()) == (set(model.state_dict()) - bn_keys) | conv_bias


# --------------------------------------------------------------------------------------------
# prepare_for_inference
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fold_bn", [True, False])
@pytest.mark.parametrize("channels_last", [True, False])
def test_prepare_matches_eager(fold_bn: bool, channels_last: bool) -> None:
    torch.manual_seed(4)
    model = randomize_bn(small_net())
    before = copy.deepcopy(model)
    prepared = prepare_for_inference(model, fold_bn=fold_bn, channels_last=channels_last)
    assert isinstance(prepared, InferenceModel)
    assert model.training and state_equal(model, before)
    x = torch.randn(5, 3, 20, 20)
    out = prepared(x)
    assert not out.requires_grad
    with torch.no_grad():
        assert max_relative_error(out, model.eval()(x)) < TOL
    conv = prepared.model[0]
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) is channels_last
    assert (sum(isinstance(m, nn.BatchNorm2d) for m in prepared.modules()) == 0) is fold_bn
    assert all(not p.requires_grad for p in prepared.parameters())


def test_prepare_compiled_matches_eager() -> None:
    # One small compile: inductor needs a C++ compiler and several seconds on two cores.
    torch.manual_seed(5)
    model = randomize_bn(small_net()).eval()
    prepared = prepare_for_inference(model, compile=True)
    assert prepared.compiled
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert max_relative_error(prepared(x), model(x)) < TOL
    # state_dict is the prepared model's, without a second copy under the compiled wrapper
    assert set(prepared.state_dict()) == {f"model.{k}" for k in prepared.model.state_dict()}


def test_compiled_model_freezes_its_weights() -> None:
    # Freezing is what lets inductor pre-pack the weights and fuse activations into the
    # convolutions. Its visible sign: weights changed after the first call are not seen, because
    # they were compiled in as constants. (torch.compile(options={"freezing": True}) alone does not
    # freeze; see deploy._freezing.)
    import torch._inductor.config as inductor_config

    torch.manual_seed(6)
    prepared = prepare_for_inference(randomize_bn(small_net()).eval(), compile=True)
    x = torch.randn(2, 3, 16, 16)
    before = prepared(x)
    with torch.no_grad():
        prepared.model[0].weight.mul_(2.0)
    assert torch.equal(prepared(x), before)
    assert prepared.model[0].weight.abs().sum() > 0  # the change itself did happen
    assert inductor_config.freezing is False  # switched on only while the model ran


def test_onednn_graph_path_matches_eager_and_fuses() -> None:
    # The oneDNN Graph form: one frozen TorchScript trace per input shape, with the fuser's
    # partitions in the graph that runs, the same outputs as eval mode, and the global fuser
    # switch back off afterwards.
    torch.manual_seed(7)
    model = randomize_bn(small_net()).eval()
    prepared = prepare_for_inference(model, onednn_graph=True)
    assert prepared.onednn_graph and not prepared.compiled
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        for batch in (x, x[:1], x):
            assert max_relative_error(prepared(batch), model(batch)) < TOL
        graph = str(torch.jit.last_executed_optimized_graph())
    assert "prim::oneDNNFusionGroup" in graph
    assert len(prepared._runner.traces) == 2  # batch 2 and batch 1; the third call reused the first
    assert torch.jit.onednn_fusion_enabled() is False
    assert set(prepared.state_dict()) == {f"model.{k}" for k in prepared.model.state_dict()}


def test_onednn_graph_path_falls_back_unfused_where_the_fuser_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # Where the fuser fails for a shape (with oneDNN's AVX-512 kernels, MobileNet V2 on 32 x 32
    # inputs, whose last maps are 1 x 1; with its AVX2 kernels it fuses), that shape must still give
    # eval mode's outputs, unfused and said so, while a shape the fuser handles stays fused. The
    # failure is made here, so that the test does not depend on the CPU it runs on.
    import mobilenet_lib.deploy as deploy
    from mobilenet_lib.models import mobilenet_v2

    @contextlib.contextmanager
    def failing_fuser():
        raise RuntimeError("could not create a primitive descriptor for the reorder primitive")
        yield

    torch.manual_seed(8)
    model = mobilenet_v2(width_mult=0.25).eval()
    prepared = prepare_for_inference(model, onednn_graph=True)
    small, larger = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 48, 48)
    with torch.no_grad():
        monkeypatch.setattr(deploy, "_onednn_fusion", failing_fuser)
        with pytest.warns(RuntimeWarning, match="could not fuse"):
            out = prepared(small)
        assert max_relative_error(out, model(small)) < TOL
        assert max_relative_error(prepared(small), model(small)) < TOL  # the unfused trace, again
        monkeypatch.undo()
        assert max_relative_error(prepared(larger), model(larger)) < TOL
    assert sorted(prepared._runner.fused.values()) == [False, True]


def test_prepare_takes_one_way_to_run() -> None:
    with pytest.raises(ValueError, match="at most one"):
        prepare_for_inference(small_net(), compile=True, onednn_graph=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": "resnet"}, "torch.nn.Module"),
        ({"fold_bn": 1}, "fold_bn must be True or False"),
        ({"channels_last": "yes"}, "channels_last must be"),
        ({"compile": None}, "compile must be"),
        ({"onednn_graph": "on"}, "onednn_graph must be"),
    ],
)
def test_prepare_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    args = {"model": small_net(), **kwargs}
    with pytest.raises(TypeError, match=match):  # every case is a wrong type
        prepare_for_inference(**args)


# --------------------------------------------------------------------------------------------
# max_relative_error
# --------------------------------------------------------------------------------------------


def test_max_relative_error() -> None:
    ref = torch.tensor([1.0, -4.0, 2.0])
    assert max_relative_error(ref, ref) == 0.0
    assert max_relative_error(ref + torch.tensor([0.0, 0.0, 0.4]), ref) == pytest.approx(0.1)
    assert max_relative_error(torch.zeros(3), torch.zeros(3)) == 0.0
    assert max_relative_error(torch.ones(3), torch.zeros(3)) == float("inf")
    with pytest.raises(ValueError, match="one shape"):
        max_relative_error(torch.zeros(2), torch.zeros(3))
    with pytest.raises(TypeError, match="tensors, got list and Tensor"):
        max_relative_error([1.0], torch.zeros(1))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Every model in the library
# --------------------------------------------------------------------------------------------

from mobilenet_lib.models import create_model, list_models  # noqa: E402


@pytest.mark.parametrize("name", list_models())
def test_every_library_model_folds_and_prepares_exactly(name: str) -> None:
    torch.manual_seed(6)
    model = randomize_bn(create_model(name, num_classes=10), seed=6).eval()
    n_bn = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert len(find_conv_bn_pairs(model)) == n_bn  # every BatchNorm in the library follows a conv
    prepared = prepare_for_inference(model)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in prepared.modules())
    x = torch.randn(2, 3, 32, 32)  # the smallest input every model accepts: fast
    with torch.no_grad():
        assert max_relative_error(prepared(x), model(x)) < TOL
    with pytest.raises(ValueError, match="channels"):  # the model still checks its input
        model(torch.randn(1, 4, 32, 32))


# --------------------------------------------------------------------------------------------
# profile_layers: where the time goes
# --------------------------------------------------------------------------------------------

from mobilenet_lib.costs import LAYER_KINDS, layer_table  # noqa: E402
from mobilenet_lib.deploy import profile_layers  # noqa: E402


def tiny_v2() -> nn.Module:
    return create_model("mobilenet_v2", num_classes=10, width_mult=0.25)


@pytest.mark.parametrize("prepare", [False, True], ids=["eager", "prepared"])
def test_profile_layers_covers_every_layer_and_adds_up(prepare: bool) -> None:
    torch.manual_seed(7)
    model = tiny_v2().train()  # profiling must not leave it in eval mode
    subject = prepare_for_inference(model) if prepare else model
    prof = profile_layers(subject, (2, 3, 32, 32), repeats=2, warmup=1, threads=1)
    assert model.training
    table = layer_table(model, (2, 3, 32, 32))
    assert [(r.name, r.kind, r.macs) for r in prof.layers] == [(r.name, r.kind, r.macs) for r in table]
    assert prof.total_macs == table.total_macs and prof.threads == 1 and prof.input_size == (2, 3, 32, 32)
    assert all(r.ms > 0 for r in prof.layers)  # every layer was seen by the profiler
    assert sum(r.ms for r in prof.layers) <= prof.total_ms * 1.001  # layers lie inside the pass
    kinds = prof.by_kind()
    assert [k.kind for k in kinds] == [k for k in LAYER_KINDS if any(r.kind == k for r in table)] + ["other"]
    assert sum(k.time_share for k in kinds) == pytest.approx(1.0)
    assert sum(k.macs_share for k in kinds) == pytest.approx(1.0)
    by = {k.kind: k for k in kinds}
    assert by["depthwise"].layers == sum(r.kind == "depthwise" for r in table)
    assert by["pointwise"].macs_share > by["depthwise"].macs_share  # V2's compute is in the 1x1 layers
    rows = prof.to_rows()
    assert len(rows) == len(table) and rows[0]["gflops"] == pytest.approx(prof.layers[0].gflops)


def test_profile_layers_rejects_compiled_and_bad_counts() -> None:
    compiled = prepare_for_inference(small_net(), compile=True)  # compiles lazily: never run here
    with pytest.raises(ValueError, match="compiled"):
        profile_layers(compiled, (1, 3, 16, 16))
    for bad, kind in (({"repeats": 0}, ValueError), ({"repeats": 1.5}, TypeError), ({"warmup": -1}, ValueError),
                      ({"repeats": True}, TypeError)):
        with pytest.raises(kind, match="must be (a positive integer|an integer)"):
            profile_layers(small_net(), (1, 3, 16, 16), **bad)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        profile_layers("mobilenet_v2")  # type: ignore[arg-type]
