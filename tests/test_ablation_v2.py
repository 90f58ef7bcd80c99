"""Tests for scripts/ablation_v2.py (the V2 ablation) and its committed results."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from mobilenet_lib.blocks import InvertedResidual
from mobilenet_lib.costs import count_params
from mobilenet_lib.experiments.inverted_residuals import (
    load_ablation,
    summarize_ablation,
)

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "ablation_v2.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("ablation_v2", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ablation = _load_script()


def _blocks(model: nn.Module) -> list[InvertedResidual]:
    return [m for m in model.modules() if isinstance(m, InvertedResidual)]


def test_variants_share_parameters_and_initial_weights():
    models = []
    for _, linear, shortcuts in ablation.VARIANTS:
        torch.manual_seed(3)
        models.append(ablation.build_variant(linear, shortcuts, width_mult=0.25))
    reference = models[0].state_dict()
    for model in models[1:]:
        assert count_params(model) == count_params(models[0])
        state = model.state_dict()
        assert state.keys() == reference.keys()
        assert all(torch.equal(state[k], reference[k]) for k in reference)


def test_variant_switches_do_what_they_say():
    v2 = ablation.build_variant(True, True, width_mult=0.25)
    relu = ablation.build_variant(False, True, width_mult=0.25)
    plain = ablation.build_variant(True, False, width_mult=0.25)
    assert any(b.use_res_connect for b in _blocks(v2))
    assert not any(b.use_res_connect for b in _blocks(plain))
    assert all(not isinstance(b.conv[-1], nn.ReLU6) for b in _blocks(v2))
    assert all(isinstance(b.conv[-1], nn.ReLU6) for b in _blocks(relu))
    # A ReLU6 bottleneck's residual branch is clipped to [0, 6]; the linear one goes negative.
    block_relu, block_lin = _blocks(relu)[3], _blocks(v2)[3]
    x = torch.randn(2, block_lin.in_channels, 8, 8)
    with torch.no_grad():
        assert block_relu.eval().conv(x).min() >= 0
        assert block_lin.eval().conv(x).min() < 0
        # without shortcuts the block's output is its body's output
        block_plain = _blocks(plain)[3].eval()
        torch.testing.assert_close(block_plain(x), block_plain.conv(x))


def test_build_variant_rejects_bad_switches():
    with pytest.raises(ValueError):
        ablation.build_variant("yes", True)


def test_tiny_run_writes_a_complete_results_file(tmp_path):
    out = tmp_path / "ablation.json"
    assert ablation.main(["--tiny", "--threads", "1", "--out", str(out)]) == 0
    data = load_ablation(out)
    assert data["meta"]["config"]["epochs"] == 1 and data["meta"]["torch"] == torch.__version__
    assert {"date", "machine", "command", "load_average_at_start"} <= set(data["meta"])
    assert data["meta"]["complete"] is True
    points = summarize_ablation(data["runs"])
    assert [p.variant for p in points] == [v[0] for v in ablation.VARIANTS]
    assert len({p.params for p in points}) == 1 and len({p.macs for p in points}) == 1
    for run in data["runs"]:
        assert 0.0 <= run["test_accuracy"] <= 1.0
        assert len(run["test_accuracy_per_epoch"]) == 1


def test_defaults_are_the_v1_chapters_recipe():
    from mobilenet_lib.experiments.mobilenet_v1 import DIGITS_RECIPE

    args = ablation.parse_args([])
    assert (args.epochs, args.lr, args.batch_size, args.optimizer, args.weight_decay) == (
        DIGITS_RECIPE["epochs"], DIGITS_RECIPE["lr"], DIGITS_RECIPE["batch_size"],
        DIGITS_RECIPE["optimizer"], DIGITS_RECIPE["weight_decay"])


def test_bad_arguments_exit():
    with pytest.raises(SystemExit):
        ablation.parse_args(["--epochs", "0"])


def test_committed_results_match_the_script():
    path = ablation.DEFAULT_OUT
    if not path.exists():
        pytest.skip("no committed results yet")
    data = load_ablation(path)
    config = data["meta"]["config"]
    defaults = vars(ablation.parse_args([]))
    for key in ("epochs", "width", "image_size", "batch_size", "lr", "optimizer", "weight_decay", "seeds"):
        assert config[key] == defaults[key], key
    assert config["train_limit"] == 0 and not config["tiny"]
    assert data["meta"]["complete"] is True, "the committed file is from a run that was stopped"
    points = summarize_ablation(data["runs"])
    assert [p.variant for p in points] == [v[0] for v in ablation.VARIANTS]
    assert all(len(p.accuracies) == len(config["seeds"]) for p in points)
    assert data["meta"]["settings"] == [list(r) for r in ablation.DIGITS_SETTINGS]
    json.dumps(data)  # plain JSON
