"""A small, seeded training loop for the book's experiments.

One function trains any classifier on a pair of data loaders and returns a :class:`History`:
the per-epoch loss and accuracy on the training and test sets, the final test accuracy and the
wall time. It is deliberately plain (cross-entropy, one optimizer, a cosine learning-rate schedule)
so that a chapter can compare architectures, not training tricks.

Determinism: on the CPU, ``train`` with the same model weights, data and ``seed`` gives the same
history bit for bit. The seed drives everything random inside the loop (the data order of a
shuffling loader, dropout); the caller's global random state is saved and restored, so training
does not disturb the rest of a notebook. Seed the model's *initialisation* yourself
(``torch.manual_seed`` before building it).

Example::

    torch.manual_seed(0)
    model = mobilenet_v1(num_classes=10, ...)
    history = train(model, train_loader, test_loader, epochs=10, lr=0.01, seed=0)
    history.final_test_accuracy
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Sized
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from mobilenet_lib.validation import integer, number, one_of, positive_int

__all__ = ["Evaluation", "History", "eval_mode", "evaluate", "train", "OPTIMIZERS", "SCHEDULES"]

#: Optimizers ``train`` accepts, by name.
OPTIMIZERS = ("sgd", "adam", "adamw")
#: Learning-rate schedules ``train`` accepts: ``"cosine"`` anneals per step from ``lr`` to 0 over
#: the whole run; ``"constant"`` keeps ``lr``.
SCHEDULES = ("cosine", "constant")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run a block with ``model`` in eval mode, then give every submodule its own flag back.

    ``model.train(was_training)`` would not do: it sets *every* submodule to one mode, so a model
    whose batch norm was frozen on purpose (eval) inside a training model would come back training.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, flag in flags:
            module.training = flag


@dataclass(frozen=True)
class Evaluation:
    """The result of :func:`evaluate`: mean cross-entropy, accuracy in [0, 1], number of samples."""

    loss: float
    accuracy: float
    count: int


@dataclass(frozen=True)
class History:
    """What :func:`train` measured. Lists hold one value per epoch; accuracies are in [0, 1].

    ``test_loss`` / ``test_accuracy`` are empty when ``train`` ran without a test loader.
    ``wall_time_s`` covers the whole run: training and the per-epoch evaluations.
    """

    epochs: int
    seed: int
    lr: float
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    wall_time_s: float = 0.0

    @property
    def final_test_accuracy(self) -> float:
        """Test accuracy after the last epoch (``nan`` if there was no test loader)."""
        return self.test_accuracy[-1] if self.test_accuracy else math.nan

    @property
    def final_train_accuracy(self) -> float:
        """Training accuracy over the last epoch (measured while training, in train mode)."""
        return self.train_accuracy[-1] if self.train_accuracy else math.nan

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field plus ``final_test_accuracy``."""
        out = asdict(self)
        out["final_test_accuracy"] = self.final_test_accuracy
        return out


def _check_loader(loader: Any, name: str) -> None:
    if isinstance(loader, (torch.Tensor, str, bytes)) or not isinstance(loader, Iterable):
        raise TypeError(
            f"{name} must be an iterable of (inputs, labels) batches such as a "
            f"torch.utils.data.DataLoader, got {type(loader).__name__}"
        )
    if isinstance(loader, Sized) and len(loader) == 0:
        raise ValueError(f"{name} is empty: it must yield at least one (inputs, labels) batch")


def _unpack(batch: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise ValueError(
            f"{name} must yield (inputs, labels) pairs, got a {type(batch).__name__}"
            + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
        )
    inputs, labels = batch
    if not (isinstance(inputs, torch.Tensor) and isinstance(labels, torch.Tensor)):
        raise TypeError(f"{name} must yield tensors, got {type(inputs).__name__}, {type(labels).__name__}")
    if labels.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise ValueError(f"{name} labels must be integer class indices, got dtype {labels.dtype}")
    return inputs, labels.long()


def _resolve_device(model: nn.Module, device: str | torch.device | None) -> torch.device:
    if device is None:
        param = next(model.parameters(), None)
        return param.device if param is not None else torch.device("cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda', got {device!r}") from err


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    device: str | torch.device | None = None,
) -> Evaluation:
    """Mean cross-entropy and accuracy of ``model`` over every batch of ``loader``.

    The model is put in eval mode (BatchNorm uses its running statistics) and restored to the
    mode it was in afterwards. ``device`` defaults to the device of the model's parameters.

    Raises:
        ValueError: if ``model`` is not an ``nn.Module``, ``loader`` is not an iterable of
            (inputs, integer labels) batches, or it yields no samples.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_loader(loader, "loader")
    dev = _resolve_device(model, device)
    total_loss, correct, count = 0.0, 0, 0
    with eval_mode(model):
        for batch in loader:
            inputs, labels = _unpack(batch, "loader")
            inputs, labels = inputs.to(dev), labels.to(dev)
            logits = model(inputs)
            total_loss += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
            correct += (logits.argmax(dim=1) == labels).sum().item()
            count += labels.numel()
    if count == 0:
        raise ValueError("loader yielded no samples: nothing to evaluate")
    return Evaluation(loss=total_loss / count, accuracy=correct / count, count=count)


def _make_optimizer(
    name: str, params: Iterable[nn.Parameter], lr: float, momentum: float, weight_decay: float
) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=momentum > 0)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def train(
    model: nn.Module,
    train_loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    test_loader: Iterable[tuple[torch.Tensor, torch.Tensor]] | None = None,
    *,
    epochs: int,
    lr: float,
    seed: int = 0,
    optimizer: str = "adamw",
    schedule: str = "cosine",
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    label_smoothing: float = 0.0,
    device: str | torch.device | None = None,
    progress: bool = True,
    desc: str = "training",
) -> History:
    """Train ``model`` with cross-entropy for ``epochs`` epochs; return its :class:`History`.

    Args:
        model: any classifier mapping a batch of inputs to logits ``(batch, classes)``. Trained
            in place.
        train_loader: an iterable of ``(inputs, labels)`` batches (a ``DataLoader``). If it
            shuffles, the order is drawn from ``seed``.
        test_loader: optional; evaluated with :func:`evaluate` after every epoch.
        epochs: number of passes over ``train_loader`` (at least 1).
        lr: peak learning rate (> 0).
        seed: seeds every random choice made inside the loop (data order, dropout).
        optimizer: one of :data:`OPTIMIZERS`.
        schedule: one of :data:`SCHEDULES`.
        weight_decay: L2 / decoupled weight decay (>= 0).
        momentum: SGD momentum in [0, 1) (Nesterov when > 0); ignored by Adam(W).
        label_smoothing: cross-entropy label smoothing in [0, 1).
        device: where to train; defaults to the device of the model's parameters.
        progress: show a tqdm bar over epochs with the latest loss and accuracy.
        desc: the progress bar's label.

    Returns:
        A :class:`History`; ``history.final_test_accuracy`` is the test accuracy after training.

    Raises:
        ValueError: on any argument outside the ranges above, or batches that are not
            ``(inputs, integer labels)`` pairs.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("model has no trainable parameters: nothing to train")
    _check_loader(train_loader, "train_loader")
    if test_loader is not None:
        _check_loader(test_loader, "test_loader")
    epochs = positive_int("epochs", epochs)
    lr = number("lr", lr, low=0.0, low_open=True)
    seed = integer("seed", seed, low=0)
    optimizer = one_of("optimizer", optimizer, OPTIMIZERS)
    schedule = one_of("schedule", schedule, SCHEDULES)
    weight_decay = number("weight_decay", weight_decay, low=0.0)
    momentum = number("momentum", momentum, low=0.0, high=1.0, high_open=True)  # 1 never forgets a gradient
    label_smoothing = number("label_smoothing", label_smoothing, low=0.0, high=1.0, high_open=True)
    dev = _resolve_device(model, device)

    model.to(dev)
    opt = _make_optimizer(optimizer, [p for p in model.parameters() if p.requires_grad], lr, momentum, weight_decay)
    steps_per_epoch = len(train_loader) if isinstance(train_loader, Sized) else None
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
    if schedule == "cosine":
        if steps_per_epoch is None:
            raise ValueError("schedule='cosine' needs a train_loader with a len(); use schedule='constant'")
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)

    log: dict[str, list[float]] = {
        k: [] for k in ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "learning_rate")
    }
    bar = None
    if progress:
        from tqdm.auto import tqdm  # lazy: only a run that shows a bar pays for tqdm

        bar = tqdm(total=epochs, desc=desc, unit="epoch")
    start = time.perf_counter()
    # fork_rng: the seed governs this run only; the caller's random state comes back untouched.
    devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        try:
            for _ in range(epochs):
                model.train()
                total_loss, correct, count = 0.0, 0, 0
                log["learning_rate"].append(opt.param_groups[0]["lr"])
                for batch in train_loader:
                    inputs, labels = _unpack(batch, "train_loader")
                    inputs, labels = inputs.to(dev), labels.to(dev)
                    logits = model(inputs)
                    loss = loss_fn(logits, labels)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(
                            f"training diverged (loss {loss.item()}) at epoch {len(log['train_loss']) + 1}; "
                            f"try a smaller lr than {lr}"
                        )
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    if scheduler is not None:
                        scheduler.step()
                    total_loss += loss.item() * labels.numel()
                    correct += (logits.argmax(dim=1) == labels).sum().item()
                    count += labels.numel()
                if count == 0:
                    raise ValueError("train_loader yielded no samples: nothing to train on")
                log["train_loss"].append(total_loss / count)
                log["train_accuracy"].append(correct / count)
                postfix = {"loss": f"{total_loss / count:.3f}"}
                if test_loader is not None:
                    result = evaluate(model, test_loader, device=dev)
                    log["test_loss"].append(result.loss)
                    log["test_accuracy"].append(result.accuracy)
                    postfix["test acc"] = f"{result.accuracy:.3f}"
                if bar is not None:
                    bar.set_postfix(postfix)
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    wall_time_s = time.perf_counter() - start
    return History(epochs=epochs, seed=seed, lr=lr, wall_time_s=wall_time_s, **log)
