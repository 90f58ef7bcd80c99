"""The compression chapter's studies: prune, distil and quantize a MobileNet V1 trained on the digits.

The MobileNet V1 paper builds a small network by design; the alternative it cites is to train a
big network and compress it. This module measures three such routes on one trained network (the
*teacher*: MobileNet V1 at :data:`TEACHER_ALPHA` on the digits at :data:`IMAGE_SIZE` pixels):

- **pruning** with ``torch.nn.utils.prune``: :func:`prune_unstructured` (global L1 magnitude
  pruning of every convolution and linear weight) and :func:`prune_channels` (L1 / L2 channel
  pruning with ``ln_structured``, applied consistently to the batch norm and the depthwise filter
  each channel feeds); :func:`slim_model` then removes the pruned channels for real, and
  :func:`v1_channels_cost` counts what the slimmer network costs with the library's formulas;
- **distillation** (Hinton et al., 2015): :func:`kd_loss` and :func:`train_student`, a student at
  :data:`STUDENT_ALPHA` trained on the teacher's softened logits or on the labels alone, with the
  same seeds, epochs and batch order;
- **int8** through :func:`mobilenet_lib.quantize.quantize_int8`, on the same teacher.

:func:`run_study` runs all of it (seeded; it records its own wall time, part by part) and returns
JSON-ready results; ``benchmarks/compression.py`` writes them, with the machine, to
``benchmarks/results/compression.json``, which the chapter reads (:func:`load_compression_results`):
accuracies after training depend on the CPU's vector kernels, so the page quotes a committed run.
Counts (parameters, mult-adds, zeros, bytes) do not, and the chapter recomputes some of them.
"""

from __future__ import annotations

import copy
import io
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune
from torch.utils.data import DataLoader, TensorDataset

from mobilenet_lib.benchmark import load_results
from mobilenet_lib.blocks import ConvNormAct, DepthwiseSeparableConv
from mobilenet_lib.costs import (
    Cost,
    conv_output_size,
    count_macs,
    count_params,
    linear_cost,
    separable_conv_cost,
    standard_conv_cost,
)
from mobilenet_lib.data import Digits, load_digits
from mobilenet_lib.experiments.mobilenet_v1 import DIGITS_LAYERS
from mobilenet_lib.models.mobilenet_v1 import MOBILENET_V1_STEM, MobileNetV1, mobilenet_v1
from mobilenet_lib.training import History, evaluate, train
from mobilenet_lib.validation import integer, number, one_of, positive_float, positive_int

__all__ = [
    "IMAGE_SIZE",
    "TEACHER_ALPHA",
    "STUDENT_ALPHA",
    "RECIPE",
    "SPARSITIES",
    "CHANNEL_FRACTIONS",
    "NORMS",
    "FINETUNE",
    "KD",
    "KD_SEEDS",
    "CALIBRATION_BATCHES",
    "DEFAULT_RESULTS",
    "build_v1",
    "digits_data",
    "prunable_weights",
    "prune_unstructured",
    "Sparsity",
    "weight_sparsity",
    "sparsity_by_kind",
    "prune_channels",
    "kept_channels",
    "slim_model",
    "v1_channels_cost",
    "bake",
    "state_dict_bytes",
    "sparse_bytes",
    "kd_loss",
    "train_student",
    "run_study",
    "load_compression_results",
    "summary_rows",
]

#: The digits are upsampled to 16x16: MobileNet V1's digits table (:data:`DIGITS_LAYERS`, total
#: stride 8) leaves a 2x2 map before pooling, and every run stays small.
IMAGE_SIZE = 16
#: The network to compress, and the student of the distillation (the width the structured
#: pruning of half the channels also arrives at: every channel count of the 0.5 network is even).
TEACHER_ALPHA = 0.5
STUDENT_ALPHA = 0.25
#: Training recipe (AdamW, cosine schedule) for the teacher and both students.
RECIPE: dict[str, Any] = {"epochs": 6, "lr": 0.01, "batch_size": 64, "weight_decay": 0.0}
#: Fractions of all convolution and linear weights that global magnitude pruning zeroes.
SPARSITIES: tuple[float, ...] = (0.25, 0.5, 0.7, 0.8, 0.9, 0.95)
#: Fractions of the channels of every layer that channel pruning removes.
CHANNEL_FRACTIONS: tuple[float, ...] = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75)
#: The norms ``ln_structured`` ranks channels by (L1 and L2).
NORMS: tuple[int, ...] = (1, 2)
#: Short fine-tuning after pruning (the masks stay in place, so pruned weights stay zero).
FINETUNE: dict[str, Any] = {"epochs": 1, "lr": 0.002}
#: Distillation: temperature T and the weight of the soft-target term (1 - weight on the labels).
KD: dict[str, float] = {"temperature": 4.0, "weight": 0.9}
#: Seeds of the two students (same seed: same initial weights and batch order in both).
KD_SEEDS: tuple[int, ...] = (0, 1, 2)
#: Training batches that calibrate the int8 model.
CALIBRATION_BATCHES = 8

DEFAULT_RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "compression.json"


# --------------------------------------------------------------------------------------------
# Models and data
# --------------------------------------------------------------------------------------------


def build_v1(alpha: float, seed: int = 0) -> MobileNetV1:
    """MobileNet V1 with the digits table, width ``alpha``, ten classes, initialised from ``seed``.

    The global random state is left as it was.
    """
    alpha = positive_float("alpha", alpha)
    seed = integer("seed", seed, low=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return mobilenet_v1(width_mult=alpha, num_classes=10, layers=DIGITS_LAYERS)


def digits_data(image_size: int = IMAGE_SIZE, train_limit: int | None = None) -> Digits:
    """The digits at ``image_size`` (the fixed split of the V1 chapter, ``seed=0``), 3 channels.

    ``train_limit`` keeps only the first that many training images (for quick tests).
    """
    data = load_digits(image_size=positive_int("image_size", image_size), channels=3, seed=0)
    if train_limit is not None:
        n = positive_int("train_limit", train_limit)
        data = Digits(data.x_train[:n], data.y_train[:n], data.x_test, data.y_test, data.mean, data.std)
    return data


def _loader(tensors: Sequence[torch.Tensor], batch_size: int, seed: int) -> DataLoader:
    # A generator of its own: the batch order depends on the seed only, and two loaders with the
    # same seed over the same number of images draw the same order.
    return DataLoader(
        TensorDataset(*tensors), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )


def _test_loader(data: Digits) -> DataLoader:
    return DataLoader(TensorDataset(data.x_test, data.y_test), batch_size=512, shuffle=False)


def _pruning_hooks(module: nn.Module) -> list[prune.BasePruningMethod]:
    return [h for h in module._forward_pre_hooks.values() if isinstance(h, prune.BasePruningMethod)]


def _copy(model: nn.Module) -> nn.Module:
    """``copy.deepcopy`` that also works on a pruned model: the masked ``weight`` a pruning hook
    computed with gradients on is not a leaf tensor, which deepcopy refuses; recompute it first
    (the same values, without a graph)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    with torch.no_grad():
        for m in model.modules():
            for hook in _pruning_hooks(m):
                setattr(m, hook._tensor_name, hook.apply_mask(m))
    return copy.deepcopy(model)


def _check_v1(model: Any) -> MobileNetV1:
    if not isinstance(model, MobileNetV1):
        raise TypeError(f"model must be a MobileNetV1 (mobilenet_v1(...)), got {type(model).__name__}")
    blocks = list(model.features)[1:]
    if not all(isinstance(b, DepthwiseSeparableConv) for b in blocks) or not isinstance(model.features[0], ConvNormAct):
        raise ValueError("channel pruning needs the separable MobileNet V1 (full_conv=False)")
    units = [model.features[0], *(b.pointwise for b in blocks), *(b.depthwise for b in blocks)]
    if not all(len(u) >= 2 and isinstance(u[1], nn.BatchNorm2d) for u in units):
        raise ValueError("channel pruning needs a batch norm after every convolution (norm_layer=nn.BatchNorm2d)")
    return model


# --------------------------------------------------------------------------------------------
# Unstructured pruning
# --------------------------------------------------------------------------------------------


def prunable_weights(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """``(module, "weight")`` for every convolution and linear layer: what global pruning ranks."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _amount(name: str, value: Any) -> float:
    return number(name, value, low=0.0, high=1.0, high_open=True)


def prune_unstructured(model: nn.Module, amount: float) -> nn.Module:
    """A copy of ``model`` with the ``amount`` smallest-magnitude weights of all its convolution
    and linear layers zeroed, ranked together (``prune.global_unstructured`` with L1Unstructured).

    Exactly ``round(amount * n)`` of the ``n`` weights are masked. The copy keeps PyTorch's
    pruning masks (``weight = weight_orig * weight_mask``), so training it leaves them zero;
    :func:`bake` makes the zeros permanent. ``model`` is not changed.
    """
    amount = _amount("amount", amount)
    params = prunable_weights(model)  # checks the model
    if not params:
        raise ValueError("model has no convolution or linear layer to prune")
    pruned = _copy(model)
    prune.global_unstructured(prunable_weights(pruned), pruning_method=prune.L1Unstructured, amount=amount)
    return pruned


@dataclass(frozen=True)
class Sparsity:
    """Zeros among the convolution and linear weights of a model."""

    zeros: int
    total: int

    @property
    def fraction(self) -> float:
        return self.zeros / self.total if self.total else 0.0

    @property
    def nonzero(self) -> int:
        return self.total - self.zeros


def weight_sparsity(model: nn.Module) -> Sparsity:
    """How many convolution and linear weights are exactly zero (masked ones included)."""
    weights = [getattr(m, name) for m, name in prunable_weights(model)]
    return Sparsity(zeros=sum(int((w == 0).sum()) for w in weights), total=sum(w.numel() for w in weights))


def _kind(module: nn.Module) -> str:
    if isinstance(module, nn.Linear):
        return "linear"
    return "depthwise" if module.groups > 1 and module.groups == module.in_channels else "full"


def sparsity_by_kind(model: nn.Module) -> dict[str, Sparsity]:
    """:func:`weight_sparsity` per kind of layer: ``"full"`` convolutions (the stem and the
    pointwise layers), ``"depthwise"`` ones, and the ``"linear"`` classifier."""
    zeros: dict[str, int] = {}
    total: dict[str, int] = {}
    for m, name in prunable_weights(model):
        w, kind = getattr(m, name), _kind(m)
        zeros[kind] = zeros.get(kind, 0) + int((w == 0).sum())
        total[kind] = total.get(kind, 0) + w.numel()
    return {k: Sparsity(zeros[k], total[k]) for k in total}


# --------------------------------------------------------------------------------------------
# Structured (channel) pruning
# --------------------------------------------------------------------------------------------


def _units(model: MobileNetV1) -> list[tuple[nn.Sequential, nn.Sequential | None]]:
    """(producer, follower) per prunable channel set: the stem and every block's pointwise layer
    produce channels; the next block's depthwise layer filters each of them on its own."""
    blocks = list(model.features)[1:]
    producers = [model.features[0], *(b.pointwise for b in blocks)]
    followers = [b.depthwise for b in blocks] + [None]
    return list(zip(producers, followers))


def prune_channels(model: nn.Module, fraction: float, norm: int = 2) -> MobileNetV1:
    """A copy of a MobileNet V1 with ``fraction`` of the output channels of every full
    convolution (the stem and each pointwise layer) pruned: the channels whose filters have the
    smallest L``norm`` norm (``prune.ln_structured`` along dim 0).

    A pruned channel must vanish from the whole network, not only from its convolution: batch
    norm would otherwise turn its zeros into a constant ``beta - gamma * mean / std``. So the same
    mask is put (``prune.custom_from_mask``) on the batch norm's scale and shift and on the
    depthwise filter (and its batch norm) that the channel feeds. Every pruned channel is then
    exactly zero, and :func:`slim_model` can remove it without changing the outputs. Each layer
    keeps ``C - round(fraction * C)`` of its ``C`` channels. ``model`` is not changed.
    """
    _check_v1(model)
    fraction = _amount("fraction", fraction)
    norm = one_of("norm", integer("norm", norm), (1, 2))
    pruned = _copy(model)
    for producer, follower in _units(pruned):
        conv, bn = producer[0], producer[1]
        prune.ln_structured(conv, "weight", amount=fraction, n=norm, dim=0)
        keep = (conv.weight_mask.flatten(1).sum(1) > 0).to(conv.weight.dtype)
        prune.custom_from_mask(bn, "weight", keep)
        prune.custom_from_mask(bn, "bias", keep)
        if follower is not None:
            dconv, dbn = follower[0], follower[1]
            prune.custom_from_mask(dconv, "weight", keep[:, None, None, None].expand_as(dconv.weight))
            prune.custom_from_mask(dbn, "weight", keep)
            prune.custom_from_mask(dbn, "bias", keep)
    return pruned


def _keep_index(conv: nn.Conv2d) -> torch.Tensor:
    mask = getattr(conv, "weight_mask", None)
    if mask is None:
        return torch.arange(conv.out_channels)
    return torch.nonzero(mask.flatten(1).sum(1) > 0).flatten()


def kept_channels(model: nn.Module) -> tuple[int, ...]:
    """The channels each unit (stem, then the 13 pointwise layers) keeps after :func:`prune_channels`."""
    _check_v1(model)
    return tuple(int(_keep_index(p[0]).numel()) for p, _ in _units(model))


def bake(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every pruning mask made permanent (``prune.remove``): plain
    weights with zeros in them, no ``weight_orig`` / ``weight_mask``, no hooks."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    baked = _copy(model)
    for m in baked.modules():
        for name in [h._tensor_name for h in _pruning_hooks(m)]:
            prune.remove(m, name)
    return baked


def _slice_conv(conv: nn.Conv2d, out_idx: torch.Tensor, in_idx: torch.Tensor | None) -> nn.Conv2d:
    depthwise = conv.groups == conv.in_channels and conv.groups > 1
    weight = conv.weight.detach()[out_idx]
    if depthwise:
        c_in, groups = len(out_idx), len(out_idx)
    else:
        if conv.groups != 1:
            raise ValueError("only full and depthwise convolutions can be slimmed")
        if in_idx is not None:
            weight = weight[:, in_idx]
        c_in, groups = weight.shape[1], 1
    new = nn.Conv2d(
        c_in, len(out_idx), conv.kernel_size, conv.stride, conv.padding, conv.dilation, groups=groups,
        bias=conv.bias is not None,
    )
    with torch.no_grad():
        new.weight.copy_(weight)
        if conv.bias is not None:
            new.bias.copy_(conv.bias.detach()[out_idx])
    return new


def _slice_bn(bn: nn.BatchNorm2d, idx: torch.Tensor) -> nn.BatchNorm2d:
    new = nn.BatchNorm2d(len(idx), eps=bn.eps, momentum=bn.momentum)
    with torch.no_grad():
        new.weight.copy_(bn.weight.detach()[idx])
        new.bias.copy_(bn.bias.detach()[idx])
        new.running_mean.copy_(bn.running_mean[idx])
        new.running_var.copy_(bn.running_var[idx])
        new.num_batches_tracked.copy_(bn.num_batches_tracked)
    return new


def slim_model(model: nn.Module) -> MobileNetV1:
    """The network :func:`prune_channels` describes, built for real: every pruned channel removed
    from its convolution, its batch norm, the depthwise filter it feeds and the input of the next
    pointwise layer (or the classifier). Same outputs as the masked model (up to float rounding),
    fewer parameters and mult-adds; a model without masks comes back whole. ``model`` is not changed.
    """
    _check_v1(model)
    keeps = [_keep_index(p[0]) for p, _ in _units(model)]
    slim = bake(model)
    previous = None  # the channels that reach the current producer
    for (producer, follower), keep in zip(_units(slim), keeps):
        producer[0] = _slice_conv(producer[0], keep, previous)
        producer[1] = _slice_bn(producer[1], keep)
        producer.in_channels, producer.out_channels = producer[0].in_channels, len(keep)
        if follower is not None:
            follower[0] = _slice_conv(follower[0], keep, None)
            follower[1] = _slice_bn(follower[1], keep)
            follower.in_channels = follower.out_channels = len(keep)
        previous = keep
    for block in list(slim.features)[1:]:
        block.in_channels, block.out_channels = block.depthwise.out_channels, block.pointwise.out_channels
    old = slim.classifier[-1]
    fc = nn.Linear(len(previous), old.out_features, bias=old.bias is not None)
    with torch.no_grad():
        fc.weight.copy_(old.weight.detach()[:, previous])
        if old.bias is not None:
            fc.bias.copy_(old.bias.detach())
    slim.classifier[-1] = fc
    slim.num_features = len(previous)
    return slim


def v1_channels_cost(
    channels: Sequence[int],
    resolution: int = IMAGE_SIZE,
    *,
    layers: Sequence[tuple[int, int]] = DIGITS_LAYERS,
    num_classes: int = 10,
    in_channels: int = 3,
) -> Cost:
    """Parameters and mult-adds of a MobileNet V1 with any channel count per layer, by formula.

    ``channels`` holds the stem's output channels and then each separable block's (what
    :func:`kept_channels` returns); strides come from ``layers``. Batch norm's two parameters per
    channel count, as :func:`~mobilenet_lib.costs.count_params` counts them.
    """
    channels = [positive_int(f"channels[{i}]", c) for i, c in enumerate(channels)]
    if len(channels) != len(layers) + 1:
        raise ValueError(f"channels must hold {len(layers) + 1} counts (the stem and {len(layers)} blocks), got {len(channels)}")
    resolution = positive_int("resolution", resolution)
    size = conv_output_size(resolution, 3, MOBILENET_V1_STEM.stride, 1)
    total = standard_conv_cost(3, in_channels, channels[0], size) + Cost(2 * channels[0], 0)
    for (_, stride), c_in, c_out in zip(layers, channels, channels[1:]):
        size = conv_output_size(size, 3, stride, 1)
        total += separable_conv_cost(3, c_in, c_out, size) + Cost(2 * (c_in + c_out), 0)
    return total + linear_cost(channels[-1], num_classes)


# --------------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------------


def state_dict_bytes(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())``: the file a deployment ships (masks baked in
    first, so a pruned model is saved as its dense weights, zeros included)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    buffer = io.BytesIO()
    torch.save(bake(model).state_dict(), buffer)
    return buffer.getbuffer().nbytes


def sparse_bytes(model: nn.Module) -> int:
    """Bytes of the parameters in a simple sparse format: each convolution and linear weight
    tensor as its nonzero float32 values plus one bit per position (a bitmask), every other
    parameter (batch norm, biases) as dense float32. Buffers are not counted."""
    baked = bake(model)
    weights = {id(getattr(m, n)) for m, n in prunable_weights(baked)}
    total = 0
    for p in baked.parameters():
        if id(p) in weights:
            total += 4 * int((p != 0).sum()) + math.ceil(p.numel() / 8)
        else:
            total += 4 * p.numel()
    return total


# --------------------------------------------------------------------------------------------
# Distillation
# --------------------------------------------------------------------------------------------


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    temperature: float = KD["temperature"],
    weight: float = KD["weight"],
) -> torch.Tensor:
    """Hinton et al.'s distillation loss, averaged over the batch:

    ``weight * T² * KL(softmax(t / T) || softmax(s / T)) + (1 - weight) * CE(s, labels)``.

    The ``T²`` keeps the soft term's gradients the same size whatever the temperature (they shrink
    as ``1 / T²``). ``weight = 0`` is plain cross-entropy on the labels.
    """
    for name, t in (("student_logits", student_logits), ("teacher_logits", teacher_logits), ("labels", labels)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a tensor, got {type(t).__name__}")
    if student_logits.ndim != 2 or student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student_logits and teacher_logits must both be (batch, classes), got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    if labels.shape != student_logits.shape[:1]:
        raise ValueError(f"labels must be (batch,) = ({student_logits.shape[0]},), got {tuple(labels.shape)}")
    temperature = positive_float("temperature", temperature)
    weight = number("weight", weight, low=0.0, high=1.0)
    hard = F.cross_entropy(student_logits, labels)
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=1),
        F.log_softmax(teacher_logits.detach() / temperature, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    return weight * temperature**2 * soft + (1 - weight) * hard


@torch.no_grad()
def _logits(model: nn.Module, x: torch.Tensor, batch: int = 512) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i : i + batch]) for i in range(0, len(x), batch)])


def train_student(
    student: nn.Module,
    data: Digits,
    *,
    teacher: nn.Module | None = None,
    temperature: float = KD["temperature"],
    weight: float = KD["weight"],
    epochs: int = RECIPE["epochs"],
    lr: float = RECIPE["lr"],
    batch_size: int = RECIPE["batch_size"],
    seed: int = 0,
) -> History:
    """Train ``student`` on ``data`` (in place) with :func:`kd_loss` against ``teacher``'s logits,
    or with cross-entropy on the labels alone when ``teacher`` is ``None``; return its History.

    Both variants run the same loop: AdamW, a cosine schedule over all steps, the batch order
    drawn from ``seed`` (the same order with and without a teacher), the test set evaluated
    after every epoch. The teacher's logits are computed once, in eval mode, for every training
    image. The caller's random state is left as it was.
    """
    if not isinstance(student, nn.Module):
        raise TypeError(f"student must be a torch.nn.Module, got {type(student).__name__}")
    if teacher is not None and not isinstance(teacher, nn.Module):
        raise TypeError(f"teacher must be a torch.nn.Module or None, got {type(teacher).__name__}")
    if not isinstance(data, Digits):
        raise TypeError(f"data must be a Digits split (digits_data()), got {type(data).__name__}")
    temperature = positive_float("temperature", temperature)
    weight = number("weight", weight, low=0.0, high=1.0)
    epochs, batch_size = positive_int("epochs", epochs), positive_int("batch_size", batch_size)
    lr = number("lr", lr, low=0.0, low_open=True)
    seed = integer("seed", seed, low=0)

    soft = _logits(teacher, data.x_train) if teacher is not None else torch.zeros(len(data.y_train), data.num_classes)
    loader = _loader((data.x_train, data.y_train, soft), batch_size, seed)
    test_loader = _test_loader(data)
    opt = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=RECIPE["weight_decay"])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(loader))
    log: dict[str, list[float]] = {k: [] for k in ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "learning_rate")}
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for _ in range(epochs):
            student.train()
            log["learning_rate"].append(opt.param_groups[0]["lr"])
            total, correct, count = 0.0, 0, 0
            for x, y, t in loader:
                logits = student(x)
                loss = kd_loss(logits, t, y, temperature, weight) if teacher is not None else F.cross_entropy(logits, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                schedule.step()
                total += loss.item() * len(y)
                correct += int((logits.argmax(1) == y).sum())
                count += len(y)
            log["train_loss"].append(total / count)
            log["train_accuracy"].append(correct / count)
            result = evaluate(student, test_loader)
            log["test_loss"].append(result.loss)
            log["test_accuracy"].append(result.accuracy)
    return History(epochs=epochs, seed=seed, lr=lr, wall_time_s=time.perf_counter() - start, **log)


# --------------------------------------------------------------------------------------------
# The whole study
# --------------------------------------------------------------------------------------------


def _fractions(name: str, values: Any) -> tuple[float, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of fractions in [0, 1), got {type(values).__name__}")
    return tuple(_amount(f"{name}[{i}]", v) for i, v in enumerate(values))


def _finetune(model: nn.Module, data: Digits, epochs: int, lr: float, batch_size: int, seed: int) -> float:
    if epochs == 0:
        return math.nan
    train(model, _loader((data.x_train, data.y_train), batch_size, seed), epochs=epochs, lr=lr, seed=seed, progress=False)
    return evaluate(model, _test_loader(data)).accuracy


def run_study(
    *,
    seed: int = 0,
    image_size: int = IMAGE_SIZE,
    epochs: int = RECIPE["epochs"],
    sparsities: Sequence[float] = SPARSITIES,
    channel_fractions: Sequence[float] = CHANNEL_FRACTIONS,
    norms: Sequence[int] = NORMS,
    finetune_epochs: int = FINETUNE["epochs"],
    kd_seeds: Sequence[int] = KD_SEEDS,
    train_limit: int | None = None,
) -> dict[str, Any]:
    """Train the teacher, then prune it (both ways, with and without fine-tuning), quantize it to
    int8, and train the student with and without distillation; return JSON-ready results.

    Every accuracy is on the same 450 test images. ``train_limit`` trains on the first images
    only (tests). The same arguments give the same results on the same CPU, bit for bit.
    """
    from mobilenet_lib.quantize import quantize_int8  # torch.ao is heavy: only when quantizing

    seed = integer("seed", seed, low=0)
    epochs = positive_int("epochs", epochs)
    finetune_epochs = integer("finetune_epochs", finetune_epochs, low=0)
    sparsities, channel_fractions = _fractions("sparsities", sparsities), _fractions("channel_fractions", channel_fractions)
    if isinstance(norms, (str, bytes)) or not isinstance(norms, Sequence):
        raise TypeError(f"norms must be a sequence of 1 and/or 2, got {type(norms).__name__}")
    norms = tuple(one_of(f"norms[{i}]", integer(f"norms[{i}]", n), (1, 2)) for i, n in enumerate(norms))
    if isinstance(kd_seeds, (str, bytes)) or not isinstance(kd_seeds, Sequence) or not kd_seeds:
        raise TypeError(f"kd_seeds must be a non-empty sequence of seeds, got {kd_seeds!r}")
    kd_seeds = tuple(integer(f"kd_seeds[{i}]", s, low=0) for i, s in enumerate(kd_seeds))
    data = digits_data(image_size, train_limit)
    test_loader = _test_loader(data)
    shape = (1, 3, image_size, image_size)
    start = time.perf_counter()

    def accuracy(model: nn.Module) -> float:
        return evaluate(model, test_loader).accuracy

    teacher = build_v1(TEACHER_ALPHA, seed)
    history = train(
        teacher, _loader((data.x_train, data.y_train), RECIPE["batch_size"], seed), test_loader,
        epochs=epochs, lr=RECIPE["lr"], seed=seed, weight_decay=RECIPE["weight_decay"], progress=False,
    )
    teacher.eval()
    teacher_macs = count_macs(teacher, shape)
    times = {"teacher_s": round(time.perf_counter() - start, 2)}
    example = _logits(teacher, data.x_test[:1])[0]

    t0 = time.perf_counter()
    unstructured = []
    for amount in sparsities:
        pruned = prune_unstructured(teacher, amount)
        sp = weight_sparsity(pruned)
        row = {
            "sparsity": amount, "zeroed": sp.zeros, "prunable": sp.total,
            "nonzero_params": count_params(teacher) - sp.zeros,
            # zeros are multiplied like any other weight by dense kernels: the count does not move
            # (the chapter and the tests count it on the pruned model itself)
            "mult_adds": teacher_macs,
            "bytes": state_dict_bytes(pruned), "sparse_bytes": sparse_bytes(pruned), "accuracy": accuracy(pruned),
        }
        row["finetuned_accuracy"] = _finetune(pruned, data, finetune_epochs, FINETUNE["lr"], RECIPE["batch_size"], seed)
        assert weight_sparsity(pruned).zeros == sp.zeros  # the masks held through fine-tuning
        unstructured.append(row)
    times["unstructured_s"] = round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    structured = []
    for norm in norms:
        for fraction in channel_fractions:
            masked = prune_channels(teacher, fraction, norm)
            row = {"norm": norm, "fraction": fraction, "channels": list(kept_channels(masked)), "accuracy": accuracy(masked)}
            row["finetuned_accuracy"] = _finetune(masked, data, finetune_epochs, FINETUNE["lr"], RECIPE["batch_size"], seed)
            slim = slim_model(masked).eval()
            cost = v1_channels_cost(row["channels"], image_size)
            assert cost.params == count_params(slim)  # the formula and the built network agree
            row.update(params=cost.params, mult_adds=cost.macs, bytes=state_dict_bytes(slim))
            row["slim_accuracy"] = accuracy(slim)  # the fine-tuned masked model, channels removed
            structured.append(row)
    times["structured_s"] = round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    calibration = _loader((data.x_train, data.y_train), RECIPE["batch_size"], seed)
    int8 = quantize_int8(teacher, calibration, num_batches=CALIBRATION_BATCHES)
    with torch.no_grad():
        agree = (_logits(teacher, data.x_test).argmax(1) == int8(data.x_test).argmax(1)).float().mean().item()
    int8_row = {
        "accuracy": accuracy(int8), "bytes": state_dict_bytes(int8), "prediction_agreement": agree,
        "calibration_batches": CALIBRATION_BATCHES, "mult_adds": teacher_macs,
    }
    times["int8_s"] = round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    students = []
    for s in kd_seeds:
        row: dict[str, Any] = {"seed": s}
        for name, t in (("labels", None), ("distilled", teacher)):
            student = build_v1(STUDENT_ALPHA, s)
            h = train_student(student, data, teacher=t, epochs=epochs, seed=s)
            row[f"{name}_accuracy"] = h.final_test_accuracy
            row[f"{name}_accuracy_per_epoch"] = h.test_accuracy
        students.append(row)
    student = build_v1(STUDENT_ALPHA, 0).eval()
    times["distillation_s"] = round(time.perf_counter() - t0, 2)

    return {
        "teacher": {
            "alpha": TEACHER_ALPHA, "seed": seed, "params": count_params(teacher), "mult_adds": teacher_macs,
            "bytes": state_dict_bytes(teacher), "sparse_bytes": sparse_bytes(teacher),
            "prunable_weights": weight_sparsity(teacher).total,
            "accuracy": history.final_test_accuracy,
            "accuracy_per_epoch": history.test_accuracy,
            "example_logits": [round(float(v), 6) for v in example], "example_label": int(data.y_test[0]),
        },
        "unstructured": unstructured,
        "structured": structured,
        "int8": int8_row,
        "student": {
            "alpha": STUDENT_ALPHA, "params": count_params(student), "mult_adds": count_macs(student, shape),
            "bytes": state_dict_bytes(student), "runs": students,
        },
        "test_images": len(data.y_test),
        "train_images": len(data.y_train),
        "times": times,
        "wall_time_s": round(time.perf_counter() - start, 2),
    }


def study_config(**overrides: Any) -> dict[str, Any]:
    """The settings :func:`run_study` uses (with any of its keyword arguments overridden)."""
    config = {
        "image_size": IMAGE_SIZE, "teacher_alpha": TEACHER_ALPHA, "student_alpha": STUDENT_ALPHA,
        "recipe": dict(RECIPE), "sparsities": list(SPARSITIES), "channel_fractions": list(CHANNEL_FRACTIONS),
        "norms": list(NORMS), "finetune": dict(FINETUNE), "kd": dict(KD), "kd_seeds": list(KD_SEEDS),
        "calibration_batches": CALIBRATION_BATCHES, "seed": 0, "train_limit": None,
    }
    for key, value in overrides.items():
        if key == "epochs":
            config["recipe"]["epochs"] = value
        elif key == "finetune_epochs":
            config["finetune"]["epochs"] = value
        else:
            config[key] = list(value) if isinstance(value, tuple) else value
    return config


def load_compression_results(path: str | Path = DEFAULT_RESULTS) -> dict[str, Any]:
    """Read ``benchmarks/results/compression.json`` (or ``path``) and check its shape."""
    data = load_results(path, made_by="benchmarks/compression.py")
    missing = [k for k in ("teacher", "unstructured", "structured", "int8", "student") if k not in data["results"]]
    if missing:
        raise ValueError(f"{path} is not a compression study: results lack {missing}")
    return data


def summary_rows(results: Mapping[str, Any], sparsity: float, fraction: float, norm: int = 2) -> list[dict[str, Any]]:
    """One row per route for the chapter's table: the teacher, unstructured pruning at
    ``sparsity`` and channel pruning at ``fraction`` (both fine-tuned), int8, and the student
    (seed 0) with and without distillation. Keys: route, params (nonzero), mult_adds, bytes,
    accuracy (in [0, 1])."""
    r = results["results"] if "results" in results else results
    t, s = r["teacher"], r["student"]
    try:
        u = next(x for x in r["unstructured"] if math.isclose(x["sparsity"], sparsity))
        c = next(x for x in r["structured"] if math.isclose(x["fraction"], fraction) and x["norm"] == norm)
    except StopIteration:
        raise ValueError(f"no result at sparsity={sparsity!r} / fraction={fraction!r}, norm={norm!r}") from None
    run0 = s["runs"][0]
    return [
        {"route": f"teacher (α = {t['alpha']:g}), float32", "params": t["params"], "mult_adds": t["mult_adds"], "bytes": t["bytes"], "accuracy": t["accuracy"]},
        {"route": f"unstructured pruning, {100 * sparsity:g} % of weights, fine-tuned", "params": u["nonzero_params"], "mult_adds": u["mult_adds"], "bytes": u["bytes"], "accuracy": u["finetuned_accuracy"]},
        {"route": f"channel pruning (L{norm}), {100 * fraction:g} % of channels, fine-tuned", "params": c["params"], "mult_adds": c["mult_adds"], "bytes": c["bytes"], "accuracy": c["finetuned_accuracy"]},
        {"route": "int8 (post-training)", "params": t["params"], "mult_adds": r["int8"]["mult_adds"], "bytes": r["int8"]["bytes"], "accuracy": r["int8"]["accuracy"]},
        {"route": f"student (α = {s['alpha']:g}), labels only", "params": s["params"], "mult_adds": s["mult_adds"], "bytes": s["bytes"], "accuracy": run0["labels_accuracy"]},
        {"route": f"student (α = {s['alpha']:g}), distilled", "params": s["params"], "mult_adds": s["mult_adds"], "bytes": s["bytes"], "accuracy": run0["distilled_accuracy"]},
    ]
