"""The compression chapter's study: pruning, distillation, sizes, the committed results, the figures."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mobilenet_lib.costs import count_macs, count_params
from mobilenet_lib.experiments import compression as cx
from mobilenet_lib.experiments.mobilenet_v1 import DIGITS_LAYERS, v1_cost
from mobilenet_lib.models.mobilenet_v1 import mobilenet_v1
from mobilenet_lib.viz import compression as viz

SHAPE = (1, 3, cx.IMAGE_SIZE, cx.IMAGE_SIZE)


def _trained_like(alpha: float, seed: int = 0) -> nn.Module:
    """A V1 whose batch norms have statistics a trained network might have (fresh ones are
    identities, which would hide a channel that batch norm turns into a constant)."""
    model = cx.build_v1(alpha, seed).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=g) - 0.5)
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
                m.weight.copy_(0.5 + torch.rand(n, generator=g))
                m.bias.copy_(torch.rand(n, generator=g) - 0.5)
    return model


@pytest.fixture(scope="module")
def small() -> nn.Module:
    return _trained_like(0.25)


@pytest.fixture(scope="module")
def teacher_like() -> nn.Module:
    return _trained_like(cx.TEACHER_ALPHA)


# ------------------------------------------------------------------------------ bad arguments


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda m: cx.prune_unstructured(m, 1.0), ValueError, "amount"),
        (lambda m: cx.prune_unstructured(m, -0.1), ValueError, "amount"),
        (lambda m: cx.prune_unstructured(m, "0.5"), TypeError, "amount"),
        (lambda m: cx.prune_unstructured("model", 0.5), TypeError, "model"),
        (lambda m: cx.prune_channels(m, 1.5), ValueError, "fraction"),
        (lambda m: cx.prune_channels(m, 0.5, norm=3), ValueError, "norm"),
        (lambda m: cx.prune_channels(m, 0.5, norm=2.0), TypeError, "norm"),
        (lambda m: cx.prune_channels(nn.Linear(2, 2), 0.5), TypeError, "model"),
        (lambda m: cx.slim_model(nn.Conv2d(2, 2, 1)), TypeError, "model"),
        (lambda m: cx.v1_channels_cost([8, 16]), ValueError, "channels"),
        (lambda m: cx.v1_channels_cost([8] * 13 + [0]), ValueError, "channels"),
        (lambda m: cx.build_v1(0.0), ValueError, "alpha"),
        (lambda m: cx.state_dict_bytes(None), TypeError, "model"),
    ],
)
def test_bad_arguments_are_named(small, call, error, name) -> None:
    with pytest.raises(error, match=name):
        call(small)


def test_channel_pruning_needs_the_separable_network() -> None:
    with torch.device("meta"):
        full = mobilenet_v1(width_mult=0.25, num_classes=10, layers=DIGITS_LAYERS, full_conv=True)
    with pytest.raises(ValueError, match="full_conv=False"):
        cx.prune_channels(full, 0.5)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"temperature": 0.0}, ValueError, "temperature"),
        ({"weight": 1.5}, ValueError, "weight"),
        ({"weight": True}, TypeError, "weight"),
    ],
)
def test_kd_loss_rejects_bad_settings(kwargs, error, name) -> None:
    s, t, y = torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, dtype=torch.long)
    with pytest.raises(error, match=name):
        cx.kd_loss(s, t, y, **kwargs)


def test_kd_loss_rejects_mismatched_inputs() -> None:
    y = torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match="teacher_logits"):
        cx.kd_loss(torch.zeros(2, 3), torch.zeros(2, 4), y)
    with pytest.raises(ValueError, match="labels"):
        cx.kd_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="teacher_logits"):
        cx.kd_loss(torch.zeros(2, 3), [[0.0] * 3] * 2, y)


def test_train_student_and_run_study_check_before_training(small) -> None:
    data = cx.digits_data(train_limit=8)
    with pytest.raises(ValueError, match="epochs"):
        cx.train_student(small, data, epochs=0)
    with pytest.raises(TypeError, match="teacher"):
        cx.train_student(small, data, teacher="big")
    with pytest.raises(TypeError, match="data"):
        cx.train_student(small, (data.x_train, data.y_train))
    with pytest.raises(ValueError, match=r"sparsities\[1\]"):
        cx.run_study(sparsities=(0.5, 1.2))
    with pytest.raises(ValueError, match=r"norms\[0\]"):
        cx.run_study(norms=(3,))
    with pytest.raises(TypeError, match="kd_seeds"):
        cx.run_study(kd_seeds=())


# ------------------------------------------------------------------------------ unstructured


@pytest.mark.parametrize("amount", [0.3, 0.9])
def test_global_pruning_zeroes_exactly_the_fraction_asked(small, amount) -> None:
    before = [p.detach().clone() for p in small.parameters()]
    pruned = cx.prune_unstructured(small, amount)
    sp = cx.weight_sparsity(pruned)
    total = sum(m.weight.numel() for m, _ in cx.prunable_weights(small))
    assert sp.total == total
    assert sp.zeros == round(amount * total)
    masks = [m.weight_mask for m, _ in cx.prunable_weights(pruned)]
    assert sum(int((k == 0).sum()) for k in masks) == sp.zeros
    # the smallest magnitudes went: every surviving weight is at least as large as every pruned one
    w = torch.cat([m.weight_orig.detach().flatten() for m, _ in cx.prunable_weights(pruned)]).abs()
    k = torch.cat([k.flatten() for k in masks]).bool()
    assert w[k].min() >= w[~k].max()
    assert all(torch.equal(a, b) for a, b in zip(before, small.parameters()))  # the original is untouched
    baked = cx.bake(pruned)
    assert cx.weight_sparsity(baked).zeros == sp.zeros
    assert not any(hasattr(m, "weight_orig") for m in baked.modules())


def test_zeros_do_not_change_dense_mult_adds_or_the_file(small) -> None:
    pruned = cx.prune_unstructured(small, 0.9)
    assert count_macs(pruned, SHAPE) == count_macs(small, SHAPE)
    assert cx.state_dict_bytes(pruned) == cx.state_dict_bytes(small)  # the zeros are stored too
    assert cx.sparse_bytes(pruned) < cx.sparse_bytes(small) / 4
    dense_other = 4 * (count_params(small) - cx.weight_sparsity(small).total)
    sp = cx.weight_sparsity(pruned)
    bitmasks = sum(math.ceil(m.weight.numel() / 8) for m, _ in cx.prunable_weights(small))
    assert cx.sparse_bytes(pruned) == 4 * sp.nonzero + bitmasks + dense_other


# ------------------------------------------------------------------------------ channels


def test_half_the_channels_of_the_teacher_is_the_student(teacher_like) -> None:
    masked = cx.prune_channels(teacher_like, 0.5)
    student = cx.build_v1(cx.STUDENT_ALPHA)
    expected = (student.features[0].out_channels, *(b.out_channels for b in list(student.features)[1:]))
    assert cx.kept_channels(masked) == expected
    slim = cx.slim_model(masked)
    cost = cx.v1_channels_cost(cx.kept_channels(masked))
    assert (cost.params, cost.macs) == (count_params(slim), count_macs(slim, SHAPE))
    reference = v1_cost(cx.STUDENT_ALPHA, cx.IMAGE_SIZE, layers=DIGITS_LAYERS, num_classes=10)
    assert (cost.params, cost.macs) == (reference.params, reference.macs) == (count_params(student), cost.macs)


@pytest.mark.parametrize(("fraction", "norm"), [(0.375, 1), (0.75, 2)])
def test_slim_model_computes_what_the_masked_model_does(small, fraction, norm) -> None:
    masked = cx.prune_channels(small, fraction, norm)
    widths = [small.features[0].out_channels, *(b.out_channels for b in list(small.features)[1:])]
    assert cx.kept_channels(masked) == tuple(c - round(fraction * c) for c in widths)
    slim = cx.slim_model(masked).eval()
    assert count_params(slim) == cx.v1_channels_cost(cx.kept_channels(masked)).params
    x = torch.randn(6, *SHAPE[1:], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref, out = masked.eval()(x), slim(x)
        original = small(x)
    assert torch.allclose(out, ref, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(original, ref, rtol=1e-2, atol=1e-3)  # pruning did change the network


def test_pruning_only_the_convolution_would_leave_batch_norm_constants(small) -> None:
    # Why prune_channels masks batch norm and the depthwise filter too: a zeroed filter alone
    # still emits beta - gamma * mean / std after batch norm, which the slim network lacks.
    from torch.nn.utils import prune

    conv_only = cx._copy(small)
    for producer, _ in cx._units(conv_only):
        prune.ln_structured(producer[0], "weight", amount=0.5, n=2, dim=0)
    slim = cx.slim_model(conv_only).eval()
    x = torch.randn(2, *SHAPE[1:], generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert not torch.allclose(slim(x), conv_only.eval()(x), atol=1e-3)


def test_channel_masks_survive_fine_tuning(small) -> None:
    data = cx.digits_data(train_limit=32)
    masked = cx.prune_channels(small, 0.5)
    before = cx.kept_channels(masked)
    cx.train_student(masked, data, epochs=1, batch_size=16)
    conv = masked.features[3].pointwise[0]
    assert cx.kept_channels(masked) == before
    assert int((conv.weight.flatten(1).abs().sum(1) == 0).sum()) == conv.out_channels - before[3]


# ------------------------------------------------------------------------------ distillation


def test_kd_loss_equals_the_formula_by_hand() -> None:
    s = [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]
    t = [[3.0, 0.0, 1.0], [0.5, 0.5, 2.0]]
    y = [1, 2]
    temp, w = 2.0, 0.75

    def softmax(z, T):
        e = [math.exp(v / T) for v in z]
        return [v / sum(e) for v in e]

    kl = ce = 0.0
    for si, ti, yi in zip(s, t, y):
        ps, pt = softmax(si, temp), softmax(ti, temp)
        kl += sum(a * (math.log(a) - math.log(b)) for a, b in zip(pt, ps))
        ce += -math.log(softmax(si, 1.0)[yi])
    expected = w * temp**2 * kl / 2 + (1 - w) * ce / 2
    got = cx.kd_loss(torch.tensor(s), torch.tensor(t), torch.tensor(y), temperature=temp, weight=w)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    plain = cx.kd_loss(torch.tensor(s), torch.tensor(t), torch.tensor(y), weight=0.0)
    assert plain.item() == pytest.approx(F.cross_entropy(torch.tensor(s), torch.tensor(y)).item(), rel=1e-6)


def test_kd_loss_sends_no_gradient_to_the_teacher() -> None:
    s = torch.randn(4, 10, requires_grad=True)
    t = torch.randn(4, 10, requires_grad=True)
    cx.kd_loss(s, t, torch.arange(4)).backward()
    assert s.grad is not None and t.grad is None


def test_seeded_training_repeats_bit_for_bit(teacher_like) -> None:
    data = cx.digits_data(train_limit=48)
    runs = []
    for _ in range(2):
        student = cx.build_v1(0.25, seed=3)
        history = cx.train_student(student, data, teacher=teacher_like, epochs=1, batch_size=16, seed=3)
        runs.append((history, student.state_dict()))
    (h1, w1), (h2, w2) = runs
    assert h1.train_loss == h2.train_loss and h1.test_accuracy == h2.test_accuracy
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    labels_only = cx.build_v1(0.25, seed=3)
    h3 = cx.train_student(labels_only, data, epochs=1, batch_size=16, seed=3)
    assert h3.train_loss != h1.train_loss  # the teacher's logits did change the training


def test_build_v1_is_seeded_and_leaves_the_global_state_alone() -> None:
    state = torch.random.get_rng_state()
    a, b = cx.build_v1(0.25, seed=5), cx.build_v1(0.25, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.features[0][0].weight, cx.build_v1(0.25, seed=6).features[0][0].weight)


# ------------------------------------------------------------------------------ committed results


@pytest.fixture(scope="module")
def results() -> dict:
    return cx.load_compression_results()


def test_committed_results_record_the_machine_and_agree_with_the_counts(results) -> None:
    machine, config, r = results["machine"], results["config"], results["results"]
    assert machine["instruction_sets"]["aten_cpu_capability"] and machine["cpu_model"]
    assert config["image_size"] == cx.IMAGE_SIZE and config["teacher_alpha"] == cx.TEACHER_ALPHA
    teacher = cx.build_v1(cx.TEACHER_ALPHA)
    assert r["teacher"]["params"] == count_params(teacher)
    assert r["teacher"]["prunable_weights"] == cx.weight_sparsity(teacher).total
    assert r["teacher"]["bytes"] == cx.state_dict_bytes(teacher)  # the file size depends on shapes only
    for u in r["unstructured"]:
        assert u["zeroed"] == round(u["sparsity"] * u["prunable"])
        assert u["mult_adds"] == r["teacher"]["mult_adds"] and u["bytes"] == r["teacher"]["bytes"]
    for c in r["structured"]:
        cost = cx.v1_channels_cost(c["channels"], config["image_size"])
        assert (c["params"], c["mult_adds"]) == (cost.params, cost.macs)
    assert r["student"]["params"] == count_params(cx.build_v1(cx.STUDENT_ALPHA))
    assert len(r["student"]["runs"]) == len(config["kd_seeds"])
    for row in cx.summary_rows(results, sparsity=0.9, fraction=0.5):
        assert 0.0 <= row["accuracy"] <= 1.0 and row["params"] > 0
    with pytest.raises(ValueError, match="sparsity"):
        cx.summary_rows(results, sparsity=0.33, fraction=0.5)


def test_load_compression_results_rejects_other_files(tmp_path) -> None:
    with pytest.raises(ValueError, match="benchmarks/compression.py"):
        cx.load_compression_results(tmp_path / "missing.json")
    other = tmp_path / "other.json"
    other.write_text('{"machine": {}, "config": {}, "results": {"teacher": {}}}')
    with pytest.raises(ValueError, match="not a compression study"):
        cx.load_compression_results(other)


# ------------------------------------------------------------------------------ figures


def test_figures_are_drawn_from_the_results(results) -> None:
    fig = viz.plot_pruning(results)
    left, right = fig.axes
    assert right.get_xscale() == "log"
    assert fig.get_size_inches()[0] <= 6.7  # the text column
    n = len(results["results"]["unstructured"]) + 1
    assert len(left.lines[1].get_xdata()) == n
    t = results["results"]["teacher"]
    fig2 = viz.plot_temperature(t["example_logits"], (1, 4), label=t["example_label"])
    assert len(fig2.axes) == 2
    with pytest.raises(ValueError, match="norm"):
        viz.plot_pruning(results, norm=3)
    with pytest.raises(ValueError, match="logits"):
        viz.plot_temperature([1.0])
    with pytest.raises(ValueError, match="temperatures"):
        viz.plot_temperature([1.0, 2.0], (1.0, 0.0))
    with pytest.raises(ValueError, match="compression study"):
        viz.plot_pruning({"results": {}})
