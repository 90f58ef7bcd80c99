"""Tests for mobilenet_lib.memory: peak activation memory from a traced forward pass."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mobilenet_lib.blocks import InvertedResidual
from mobilenet_lib.costs import count_macs, count_params
from mobilenet_lib.experiments.inverted_residuals import (
    ChunkedInvertedResidual,
    WideResidual,
    residual_stack,
)
from mobilenet_lib.memory import activation_memory, peak_activation_memory

F32 = 4  # bytes per float32 value


class _Residual(nn.Module):
    """x + b(relu(a(x))) with a: c -> w, b: w -> c (1x1 convs): liveness is easy to work out."""

    def __init__(self, c: int, w: int) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(c, w, 1), nn.Conv2d(w, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(torch.relu(self.a(x)))


def test_chain_peak_is_largest_input_plus_output():
    # conv 3->8 (input 3 + out 8), then 8->2: the peak is at the first conv: (3 + 8) * hw.
    model = nn.Sequential(nn.Conv2d(3, 8, 1), nn.Conv2d(8, 2, 1))
    report = activation_memory(model, (1, 3, 5, 5))
    assert [s.op for s in report.steps] == ["conv2d", "conv2d"]
    assert [s.module for s in report.steps] == ["0", "1"]
    assert [s.live_elements for s in report.steps] == [(3 + 8) * 25, (8 + 2) * 25]
    assert report.peak_bytes == (3 + 8) * 25 * F32
    assert report.peak.index == 0
    assert report.input_bytes == 3 * 25 * F32 and report.output_bytes == 2 * 25 * F32


def test_shortcut_input_stays_live_until_the_addition():
    report = activation_memory(nn.Sequential(_Residual(4, 16), _Residual(4, 16)), (1, 4, 5, 5))
    hw = 25
    ops = [s.op for s in report.steps]
    assert ops == ["conv2d", "relu", "conv2d", "add"] * 2
    # a: x + a(x); relu: x + a(x) + relu(..); b: x + relu(..) + b(..); add: x + b(..) + sum.
    expected = [(4 + 16) * hw, (4 + 16 + 16) * hw, (4 + 16 + 4) * hw, (4 + 4 + 4) * hw]
    assert [s.live_elements for s in report.steps] == expected * 2
    assert report.peak_elements == 36 * hw
    assert report.peak.module == "0"  # torch.relu is called by the block's own forward


def test_in_place_and_views_share_memory():
    inplace = activation_memory(nn.Sequential(nn.Conv2d(2, 6, 1), nn.ReLU(inplace=True), nn.Flatten()), (1, 2, 4, 4))
    copy = activation_memory(nn.Sequential(nn.Conv2d(2, 6, 1), nn.ReLU(), nn.Flatten()), (1, 2, 4, 4))
    # In place, ReLU writes into the conv's output: 6 channels live, not 12.
    assert max(s.live_elements for s in inplace.steps[1:]) == 6 * 16
    assert max(s.live_elements for s in copy.steps[1:]) == 12 * 16
    # Flatten is a view of the ReLU output: it adds nothing.
    assert inplace.steps[-1].live_elements == 6 * 16


def test_parameters_are_not_activations():
    small = activation_memory(nn.Conv2d(4, 4, 1), (1, 4, 3, 3))
    big = activation_memory(nn.Conv2d(4, 4, 1, bias=True).requires_grad_(False), (1, 4, 3, 3))
    assert small.peak_elements == big.peak_elements == 2 * 4 * 9
    wide = nn.Linear(3, 3)
    wide.weight = nn.Parameter(torch.zeros(3, 3))
    assert activation_memory(wide, (2, 3)).peak_elements == 2 * 3 + 2 * 3


def test_batch_scales_memory_and_training_flags_are_restored():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
    model[1].train(False)
    one = peak_activation_memory(model, (1, 3, 8, 8))
    four = peak_activation_memory(model, (4, 3, 8, 8))
    assert four == 4 * one
    assert model.training is True and model[1].training is False and model[0].training is True


def test_by_module_reports_max_per_module():
    report = activation_memory(nn.Sequential(nn.Conv2d(3, 8, 1), nn.Conv2d(8, 2, 1)), (1, 3, 2, 2))
    assert report.by_module() == {"0": (3 + 8) * 4 * F32, "1": (8 + 2) * 4 * F32}


@pytest.mark.parametrize(("bad", "kind"), [((), ValueError), ((3,), ValueError), ("1x3x8x8", TypeError),
                                           ((1, 0, 8, 8), ValueError), ((1, 3.0, 8, 8), TypeError)])
def test_bad_input_size_raises(bad, kind):
    with pytest.raises(kind, match="input_size"):
        activation_memory(nn.Conv2d(3, 3, 1), bad)


def test_bad_model_raises():
    with pytest.raises(TypeError, match="nn.Module"):
        activation_memory(lambda x: x, (1, 3, 8, 8))
    with pytest.raises(ValueError, match="no torch operation"):
        activation_memory(nn.Identity(), (1, 3, 8, 8))


# ---- the V2 paper's comparison -------------------------------------------------------------


def test_stacks_have_identical_costs_and_layers():
    inverted = residual_stack(8, 6, 3, inverted=True)
    classic = residual_stack(8, 6, 3, inverted=False)
    size = (1, 8, 14, 14)
    assert count_params(inverted) == count_params(classic)
    assert count_macs(inverted, size) == count_macs(classic, size)
    convs = lambda m: [(c.in_channels, c.out_channels, c.groups) for c in m.modules() if isinstance(c, nn.Conv2d)]
    assert convs(inverted) == convs(classic)
    assert sum(isinstance(m, WideResidual) for m in classic.modules()) == 2
    assert all(b.use_res_connect for b in inverted)


def test_inverted_stack_holds_narrow_tensors_classic_holds_wide():
    c, t, hw = 8, 6, 14 * 14
    inv = activation_memory(residual_stack(c, t, 3, inverted=True), (1, c, 14, 14))
    cls = activation_memory(residual_stack(c, t, 3, inverted=False), (1, c, 14, 14))
    # Inverted: narrow shortcut + two wide tensors (depthwise input and output).
    assert inv.peak_elements == (c + 2 * t * c) * hw
    # Classical: the wide shortcut + two more wide tensors.
    assert cls.peak_elements == 3 * t * c * hw
    assert cls.peak_bytes > inv.peak_bytes


@pytest.mark.parametrize("t, stride, in_ch, out_ch", [(6, 1, 8, 8), (6, 2, 8, 12), (1, 1, 16, 16), (4, 1, 8, 16)])
def test_chunked_block_equals_the_block(t, stride, in_ch, out_ch):
    torch.manual_seed(0)
    block = InvertedResidual(in_ch, out_ch, stride, t)
    for m in block.modules():  # non-trivial batch-norm statistics
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
            nn.init.normal_(m.weight)
            nn.init.normal_(m.bias)
    block.eval()
    x = torch.randn(2, in_ch, 9, 9)
    with torch.no_grad():
        expected = block(x)
        for chunks in (1, 3, block.expanded_channels):
            got = ChunkedInvertedResidual(block, chunks).eval()(x)
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_chunking_brings_peak_down_to_the_narrow_tensors():
    c, t, hw = 8, 6, 10 * 10
    block = InvertedResidual(c, c, 1, t).eval()
    plain = activation_memory(block, (1, c, 10, 10)).peak_elements
    peaks = [activation_memory(ChunkedInvertedResidual(block, k).eval(), (1, c, 10, 10)).peak_elements
             for k in (1, 2, 6, 48)]
    assert peaks[0] == plain == (c + 2 * t * c) * hw
    assert peaks == sorted(peaks, reverse=True) and peaks[1] < peaks[0]
    # One expanded channel at a time: input, accumulator, one projected slice, one channel.
    assert peaks[-1] == (3 * c + 1) * hw


def test_chunked_rejects_bad_use():
    block = InvertedResidual(8, 8, 1, 6)
    with pytest.raises(ValueError, match="chunks"):
        ChunkedInvertedResidual(block, 49)
    with pytest.raises(TypeError, match="InvertedResidual"):
        ChunkedInvertedResidual(nn.Conv2d(8, 8, 1), 2)
    with pytest.raises(ValueError, match="squeeze"):
        ChunkedInvertedResidual(InvertedResidual(8, 8, 1, 6, use_se=True, layout="v3"), 2)
    with pytest.raises(RuntimeError, match="eval"):
        ChunkedInvertedResidual(block, 2).train()(torch.zeros(1, 8, 4, 4))


def test_residual_stack_rejects_bad_arguments():
    for kwargs in ({"channels": 0}, {"channels": 8, "expansion": 1}, {"channels": 8, "num_blocks": 0}):
        with pytest.raises(ValueError):
            residual_stack(**kwargs)
    with pytest.raises(TypeError, match="inverted must be True or False"):
        residual_stack(8, inverted="yes")


def test_meta_device_gives_the_same_measurement():
    torch.manual_seed(0)
    cpu = residual_stack(8, 6, 2, inverted=False)
    with torch.device("meta"):
        meta = residual_stack(8, 6, 2, inverted=False)
    a, b = activation_memory(cpu, (1, 8, 12, 12)), activation_memory(meta, (1, 8, 12, 12))
    assert [s.live_bytes for s in a.steps] == [s.live_bytes for s in b.steps]
    assert [s.op for s in a.steps] == [s.op for s in b.steps]
    assert a.peak == b.peak
