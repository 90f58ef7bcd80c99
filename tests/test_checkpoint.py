"""Tests for mobilenet_lib.checkpoint and for torchvision compatibility of the models.

torchvision cannot run on this project's machines, so compatibility is checked against two
independent references written from torchvision 0.28's source:

* tests/data/torchvision_*_keys.tsv: the state_dict keys and shapes of torchvision's
  mobilenet_v2, mobilenet_v3_small, shufflenet_v2_x1_0 and resnet18, derived by
  tests/data/derive_torchvision_keys.py (plain Python following torchvision's constructors; it
  does not import mobilenet_lib). Their parameter totals equal torchvision's published
  ``num_params``.
* the ``ref_*`` functions below: torchvision's forward passes re-written with plain
  ``torch.nn.functional`` calls, reading weights by torchvision's key names.

A random checkpoint in torchvision's layout is loaded into our model; our forward must then equal
the reference forward on the same tensors.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mobilenet_lib.checkpoint import (
    CheckpointError,
    LoadResult,
    load_checkpoint,
    save_checkpoint,
)
from mobilenet_lib.models import create_model

DATA = Path(__file__).parent / "data"
TORCHVISION_NUM_PARAMS = {  # the "num_params" of torchvision's weight metadata
    "mobilenet_v2": 3_504_872,
    "mobilenet_v3_small": 2_542_856,
    "shufflenet_v2_x1_0": 2_278_604,
    "resnet18": 11_689_512,
}
SD = dict[str, torch.Tensor]


def torchvision_listing(name: str) -> list[tuple[str, tuple[int, ...]]]:
    rows = []
    for line in (DATA / f"torchvision_{name}_keys.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            key, shape = line.split("\t")
            rows.append((key, tuple(int(s) for s in shape.split(",") if s)))
    return rows


def random_torchvision_state(name: str, seed: int = 0) -> SD:
    """Random tensors for every key of torchvision's model, scaled to keep activations tame."""
    g = torch.Generator().manual_seed(seed)
    state: SD = {}
    for key, shape in torchvision_listing(name):
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=g) + 0.5
        elif len(shape) > 1:  # conv / linear weights
            state[key] = torch.randn(shape, generator=g) / math.sqrt(math.prod(shape[1:]))
        elif key.endswith(".weight"):  # BN scale
            state[key] = 1 + 0.1 * torch.randn(shape, generator=g)
        else:  # biases, BN shifts, running means
            state[key] = 0.1 * torch.randn(shape, generator=g)
    return state


@pytest.fixture
def v2_file(tmp_path: Path) -> tuple[Path, SD]:
    state = random_torchvision_state("mobilenet_v2")
    path = tmp_path / "mobilenet_v2.pth"
    torch.save(state, path)
    return path, state


# ------------------------------------------------------------------------ reference forwards


def bn(x: torch.Tensor, sd: SD, p: str, eps: float = 1e-5) -> torch.Tensor:
    return F.batch_norm(x, sd[f"{p}.running_mean"], sd[f"{p}.running_var"], sd[f"{p}.weight"], sd[f"{p}.bias"],
                        training=False, eps=eps)


def dw(x: torch.Tensor, w: torch.Tensor, stride: int) -> torch.Tensor:
    return F.conv2d(x, w, stride=stride, padding=(w.shape[-1] - 1) // 2, groups=w.shape[0])


def ref_v2_block(x: torch.Tensor, sd: SD, p: str, stride: int, expand: bool, residual: bool) -> torch.Tensor:
    # torchvision.models.mobilenetv2.InvertedResidual.forward
    h, j = x, 0
    if expand:
        h, j = F.relu6(bn(F.conv2d(h, sd[f"{p}.conv.0.0.weight"]), sd, f"{p}.conv.0.1")), 1
    h = F.relu6(bn(dw(h, sd[f"{p}.conv.{j}.0.weight"], stride), sd, f"{p}.conv.{j}.1"))
    h = bn(F.conv2d(h, sd[f"{p}.conv.{j + 1}.weight"]), sd, f"{p}.conv.{j + 2}")
    return x + h if residual else h


def ref_mobilenet_v2(x: torch.Tensor, sd: SD) -> torch.Tensor:
    # torchvision.models.mobilenetv2.MobileNetV2 with its default setting, written out.
    setting = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    h = F.relu6(bn(F.conv2d(x, sd["features.0.0.weight"], stride=2, padding=1), sd, "features.0.1"))
    i, cin = 1, 32
    for t, c, n, s in setting:
        for k in range(n):
            stride = s if k == 0 else 1
            h = ref_v2_block(h, sd, f"features.{i}", stride, expand=t != 1, residual=stride == 1 and cin == c)
            i, cin = i + 1, c
    h = F.relu6(bn(F.conv2d(h, sd[f"features.{i}.0.weight"]), sd, f"features.{i}.1"))
    h = torch.flatten(F.adaptive_avg_pool2d(h, (1, 1)), 1)
    return F.linear(h, sd["classifier.1.weight"], sd["classifier.1.bias"])  # dropout: identity in eval


def ref_v3_block(x: torch.Tensor, sd: SD, p: str, stride: int, act, expand: bool, se: bool, residual: bool) -> torch.Tensor:
    # torchvision.models.mobilenetv3.InvertedResidual with ops.misc.SqueezeExcitation (hardsigmoid)
    eps, h, j = 0.001, x, 0
    if expand:
        h, j = act(bn(F.conv2d(h, sd[f"{p}.block.0.0.weight"]), sd, f"{p}.block.0.1", eps)), 1
    h = act(bn(dw(h, sd[f"{p}.block.{j}.0.weight"], stride), sd, f"{p}.block.{j}.1", eps))
    j += 1
    if se:
        s = F.adaptive_avg_pool2d(h, 1)
        s = F.relu(F.conv2d(s, sd[f"{p}.block.{j}.fc1.weight"], sd[f"{p}.block.{j}.fc1.bias"]))
        s = F.conv2d(s, sd[f"{p}.block.{j}.fc2.weight"], sd[f"{p}.block.{j}.fc2.bias"])
        h, j = F.hardsigmoid(s) * h, j + 1
    h = bn(F.conv2d(h, sd[f"{p}.block.{j}.0.weight"]), sd, f"{p}.block.{j}.1", eps)
    return h + x if residual else h


def ref_shuffle_unit(x: torch.Tensor, sd: SD, p: str, stride: int) -> torch.Tensor:
    # torchvision.models.shufflenetv2.InvertedResidual.forward and channel_shuffle
    def branch2(z: torch.Tensor) -> torch.Tensor:
        z = F.relu(bn(F.conv2d(z, sd[f"{p}.branch2.0.weight"]), sd, f"{p}.branch2.1"))
        z = bn(dw(z, sd[f"{p}.branch2.3.weight"], stride), sd, f"{p}.branch2.4")
        return F.relu(bn(F.conv2d(z, sd[f"{p}.branch2.5.weight"]), sd, f"{p}.branch2.6"))

    if stride == 1:
        x1, x2 = x.chunk(2, dim=1)
        out = torch.cat((x1, branch2(x2)), dim=1)
    else:
        b1 = bn(dw(x, sd[f"{p}.branch1.0.weight"], stride), sd, f"{p}.branch1.1")
        b1 = F.relu(bn(F.conv2d(b1, sd[f"{p}.branch1.2.weight"]), sd, f"{p}.branch1.3"))
        out = torch.cat((b1, branch2(x)), dim=1)
    b, c, hh, ww = out.shape
    return out.view(b, 2, c // 2, hh, ww).transpose(1, 2).contiguous().view(b, -1, hh, ww)


def ref_basic_block(x: torch.Tensor, sd: SD, p: str, stride: int) -> torch.Tensor:
    # torchvision.models.resnet.BasicBlock.forward
    out = F.relu(bn(F.conv2d(x, sd[f"{p}.conv1.weight"], stride=stride, padding=1), sd, f"{p}.bn1"))
    out = bn(F.conv2d(out, sd[f"{p}.conv2.weight"], padding=1), sd, f"{p}.bn2")
    identity = x
    if f"{p}.downsample.0.weight" in sd:
        identity = bn(F.conv2d(x, sd[f"{p}.downsample.0.weight"], stride=stride), sd, f"{p}.downsample.1")
    return F.relu(out + identity)


def ref_resnet18(x: torch.Tensor, sd: SD) -> torch.Tensor:
    h = F.relu(bn(F.conv2d(x, sd["conv1.weight"], stride=2, padding=3), sd, "bn1"))
    h = F.max_pool2d(h, 3, 2, 1)
    for layer in range(1, 5):
        for b in range(2):
            h = ref_basic_block(h, sd, f"layer{layer}.{b}", 2 if (b == 0 and layer > 1) else 1)
    h = torch.flatten(F.adaptive_avg_pool2d(h, (1, 1)), 1)
    return F.linear(h, sd["fc.weight"], sd["fc.bias"])


pytestmark = pytest.mark.usefixtures("one_thread")


_LOADED: dict[str, tuple[nn.Module, SD]] = {}


def loaded(name: str, tmp_path: Path) -> tuple[nn.Module, SD]:
    """Our model with a random torchvision-layout checkpoint loaded (built once per name)."""
    if name not in _LOADED:
        state = random_torchvision_state(name)
        path = tmp_path / f"{name}.pth"
        torch.save(state, path)
        torch.manual_seed(0)
        model = create_model(name).eval()
        assert load_checkpoint(model, path) == LoadResult([], [])
        _LOADED[name] = model, state
    return _LOADED[name]


# ------------------------------------------------------------------------ torchvision layout


@pytest.mark.parametrize("name", sorted(TORCHVISION_NUM_PARAMS))
def test_listing_is_independent_and_complete(name: str) -> None:
    listing = torchvision_listing(name)
    learned = sum(math.prod(s) for k, s in listing if "running" not in k and "num_batches" not in k)
    assert learned == TORCHVISION_NUM_PARAMS[name]
    with torch.device("meta"):
        ours = create_model(name).state_dict()
    assert [(k, tuple(v.shape)) for k, v in ours.items()] == listing


@pytest.mark.parametrize("name", sorted(TORCHVISION_NUM_PARAMS))
def test_torchvision_layout_checkpoint_loads_strictly(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model(name).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
    state = random_torchvision_state(name)
    path = tmp_path / "tv.pth"
    torch.save(state, path)
    load_checkpoint(model, path)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    with torch.no_grad():
        assert not torch.allclose(model(x), before)


def test_mobilenet_v2_forward_equals_reference(tmp_path: Path) -> None:
    model, state = loaded("mobilenet_v2", tmp_path)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref_mobilenet_v2(x, state), rtol=1e-4, atol=1e-5)


def test_resnet18_forward_equals_reference(tmp_path: Path) -> None:
    model, state = loaded("resnet18", tmp_path)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref_resnet18(x, state), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("index", "stride", "act", "expand", "se", "residual", "in_ch"),
    [
        (1, 2, F.relu, False, True, False, 16),  # 16 -> 16, exp 16, SE, RE
        (2, 2, F.relu, True, False, False, 16),  # 16 -> 24, exp 72, RE
        (4, 2, F.hardswish, True, True, False, 24),  # 24 -> 40, k5, exp 96, SE, HS
        (5, 1, F.hardswish, True, True, True, 40),  # 40 -> 40, residual
    ],
)
def test_mobilenet_v3_blocks_equal_reference(tmp_path, index, stride, act, expand, se, residual, in_ch) -> None:
    model, state = loaded("mobilenet_v3_small", tmp_path)
    x = torch.randn(2, in_ch, 16, 16)
    with torch.no_grad():
        ours = model.features[index](x)
    torch.testing.assert_close(ours, ref_v3_block(x, state, f"features.{index}", stride, act, expand, se, residual))


def test_shufflenet_units_equal_reference(tmp_path: Path) -> None:
    model, state = loaded("shufflenet_v2_x1_0", tmp_path)
    x = torch.randn(2, 24, 16, 16)
    with torch.no_grad():
        y = model.stage2[0](x)
        torch.testing.assert_close(y, ref_shuffle_unit(x, state, "stage2.0", 2))
        torch.testing.assert_close(model.stage2[1](y), ref_shuffle_unit(y, state, "stage2.1", 1))


# ------------------------------------------------------------------------ save / load


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    a = create_model("mobilenet_v3_small", num_classes=10).eval()
    torch.manual_seed(1)
    b = create_model("mobilenet_v3_small", num_classes=10).eval()
    path = save_checkpoint(a, tmp_path / "sub" / "dir" / "a.pth")
    assert path.is_file()
    x = torch.randn(1, 3, 64, 64)
    assert not torch.equal(a(x), b(x))
    load_checkpoint(b, path)
    assert torch.equal(a(x), b(x))


@pytest.mark.parametrize("wrap", ["state_dict", "model", "module_prefix"])
def test_wrapped_checkpoints(wrap: str, tmp_path: Path, v2_file: tuple[Path, SD]) -> None:
    _, state = v2_file
    if wrap == "module_prefix":
        content: object = {f"module.{k}": v for k, v in state.items()}
    else:
        content = {wrap: state, "epoch": 3}
    path = tmp_path / "wrapped.pth"
    torch.save(content, path)
    model = create_model("mobilenet_v2")
    load_checkpoint(model, path)
    assert torch.equal(model.state_dict()["classifier.1.weight"], state["classifier.1.weight"])


def test_checkpoint_without_batch_counters_loads(v2_file: tuple[Path, SD], tmp_path: Path) -> None:
    _, state = v2_file
    path = tmp_path / "old.pth"
    torch.save({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, path)
    assert load_checkpoint(create_model("mobilenet_v2"), path) == LoadResult([], [])


# ------------------------------------------------------------------------ damaged checkpoints


def test_renamed_key_names_missing_and_unexpected(v2_file: tuple[Path, SD], tmp_path: Path) -> None:
    _, state = v2_file
    state = dict(state)
    state["features.3.conv.1.0.weights"] = state.pop("features.3.conv.1.0.weight")
    path = tmp_path / "renamed.pth"
    torch.save(state, path)
    model = create_model("mobilenet_v2")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(model, path)
    message = str(info.value)
    assert "1 missing keys" in message and "features.3.conv.1.0.weight" in message
    assert "1 unexpected keys" in message and "features.3.conv.1.0.weights" in message
    assert isinstance(info.value, ValueError)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # untouched


def test_wrong_shape_is_reported_with_both_shapes(v2_file: tuple[Path, SD], tmp_path: Path) -> None:
    _, state = v2_file
    state = dict(state, **{"classifier.1.weight": torch.zeros(10, 1280), "classifier.1.bias": torch.zeros(10)})
    path = tmp_path / "ten_classes.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"2 shape mismatches.*classifier\.1\.weight \(checkpoint \(10, 1280\), model \(1000, 1280\)\)"):
        load_checkpoint(create_model("mobilenet_v2"), path)
    # Not even strict=False loads a tensor of the wrong shape.
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_checkpoint(create_model("mobilenet_v2"), path, strict=False)
    # ...but a model built for 10 classes takes it.
    load_checkpoint(create_model("mobilenet_v2", num_classes=10), path)


def test_many_missing_keys_are_counted_and_truncated(tmp_path: Path) -> None:
    path = save_checkpoint(create_model("mobilenet_v3_small"), tmp_path / "small.pth")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(create_model("mobilenet_v2"), path)
    message = str(info.value)
    assert "missing keys" in message and "unexpected keys" in message and "more" in message
    assert len(message) < 2000


def test_non_strict_load_reports_what_was_left_out(v2_file: tuple[Path, SD], tmp_path: Path) -> None:
    _, state = v2_file
    partial = {k: v for k, v in state.items() if not k.startswith("classifier")}
    partial["extra.weight"] = torch.zeros(3)
    path = tmp_path / "backbone.pth"
    torch.save(partial, path)
    model = create_model("mobilenet_v2")
    result = load_checkpoint(model, path, strict=False)
    assert result.missing_keys == ["classifier.1.weight", "classifier.1.bias"]
    assert result.unexpected_keys == ["extra.weight"]
    assert torch.equal(model.state_dict()["features.0.0.weight"], state["features.0.0.weight"])


def test_truncated_file(v2_file: tuple[Path, SD], tmp_path: Path) -> None:
    path, _ = v2_file
    broken = tmp_path / "truncated.pth"
    broken.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="could not read"):
        load_checkpoint(create_model("mobilenet_v2"), broken)


def test_not_a_checkpoint(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="could not read"):
        load_checkpoint(create_model("mobilenet_v2"), text)
    tensor = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(CheckpointError, match="does not hold a state_dict"):
        load_checkpoint(create_model("mobilenet_v2"), tensor)


class _NotATensor:
    """A picklable object that torch.load(weights_only=True) must refuse."""


def test_a_refused_pickle_says_why_not_that_the_file_is_broken(tmp_path: Path) -> None:
    model = create_model("mobilenet_v3_small", num_classes=4)
    path = tmp_path / "with_object.pth"
    torch.save({"state_dict": model.state_dict(), "extra": _NotATensor()}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(model, path)
    message = str(info.value)
    assert "refused to unpickle" in message and "_NotATensor" in message, message
    assert "weights_only=False" in message  # the way out, for a trusted file
    assert "truncated" not in message  # the file is not broken
    assert isinstance(info.value.__cause__, pickle.UnpicklingError)  # the underlying reason is kept


def test_non_strict_load_that_matches_no_key_raises(tmp_path: Path) -> None:
    path = tmp_path / "other.pth"
    torch.save(nn.Linear(3, 2).state_dict(), path)  # keys 'weight', 'bias': none is the model's
    model = create_model("mobilenet_v2", num_classes=4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError, match="shares no key with MobileNetV2"):
        load_checkpoint(model, path, strict=False)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        load_checkpoint(create_model("mobilenet_v2"), tmp_path / "nowhere.pth")
