"""Tests for mobilenet_lib.train: the seeded training loop and evaluation."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mobilenet_lib.training import Evaluation, History, evaluate, train


def _toy_loaders(n_train: int = 192, n_test: int = 64) -> tuple[DataLoader, DataLoader]:
    """A linearly separable 2-class problem: learnable in a few epochs, in milliseconds."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_train + n_test, 6, generator=g)
    y = (x[:, 0] - 0.5 * x[:, 1] > 0).long()
    train_set = TensorDataset(x[:n_train], y[:n_train])
    test_set = TensorDataset(x[n_train:], y[n_train:])
    return DataLoader(train_set, batch_size=32, shuffle=True), DataLoader(test_set, batch_size=50)


def _toy_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    # Dropout and BatchNorm make determinism and train/eval mode handling observable.
    return nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))


def test_train_learns_and_returns_history() -> None:
    train_loader, test_loader = _toy_loaders()
    history = train(_toy_model(), train_loader, test_loader, epochs=6, lr=0.05, seed=0, progress=False)
    assert isinstance(history, History)
    assert history.epochs == 6
    for series in (history.train_loss, history.train_accuracy, history.test_loss, history.test_accuracy):
        assert len(series) == 6
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.final_test_accuracy == history.test_accuracy[-1]
    assert history.final_test_accuracy >= 0.9
    assert history.wall_time_s > 0
    # Cosine schedule: starts at the peak lr and decreases epoch by epoch.
    assert history.learning_rate[0] == pytest.approx(0.05)
    assert all(a > b for a, b in zip(history.learning_rate, history.learning_rate[1:]))


def test_final_accuracy_matches_independent_evaluation() -> None:
    train_loader, test_loader = _toy_loaders()
    model = _toy_model()
    history = train(model, train_loader, test_loader, epochs=3, lr=0.05, seed=1, progress=False)
    result = evaluate(model, test_loader)
    assert result.accuracy == history.final_test_accuracy
    assert result.loss == pytest.approx(history.test_loss[-1])


def test_train_is_deterministic() -> None:
    train_loader, test_loader = _toy_loaders()
    runs = [
        train(_toy_model(), train_loader, test_loader, epochs=3, lr=0.05, seed=7, progress=False)
        for _ in range(2)
    ]
    a, b = (r.to_dict() for r in runs)
    a.pop("wall_time_s"), b.pop("wall_time_s")
    assert a == b


def test_seed_changes_the_run() -> None:
    train_loader, test_loader = _toy_loaders()
    h1 = train(_toy_model(), train_loader, test_loader, epochs=2, lr=0.05, seed=1, progress=False)
    h2 = train(_toy_model(), train_loader, test_loader, epochs=2, lr=0.05, seed=2, progress=False)
    assert h1.train_loss != h2.train_loss


def test_global_rng_state_is_restored() -> None:
    train_loader, test_loader = _toy_loaders()
    model = _toy_model()
    torch.manual_seed(99)
    expected = torch.rand(3)
    torch.manual_seed(99)
    train(model, train_loader, test_loader, epochs=1, lr=0.05, seed=5, progress=False)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_every_optimizer_trains(optimizer: str) -> None:
    train_loader, test_loader = _toy_loaders()
    lr = 0.1 if optimizer == "sgd" else 0.02
    h = train(
        _toy_model(), train_loader, test_loader, epochs=4, lr=lr, seed=0, optimizer=optimizer,
        schedule="constant", weight_decay=1e-4, progress=False,
    )
    assert h.learning_rate == [lr] * 4
    assert h.final_test_accuracy >= 0.85


def test_train_without_test_loader() -> None:
    train_loader, _ = _toy_loaders()
    h = train(_toy_model(), train_loader, epochs=2, lr=0.05, progress=False)
    assert h.test_accuracy == [] and math.isnan(h.final_test_accuracy)
    assert len(h.train_accuracy) == 2


def test_progress_bar_writes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    train_loader, test_loader = _toy_loaders()
    train(_toy_model(), train_loader, test_loader, epochs=2, lr=0.05, progress=True, desc="toy run")
    err = capsys.readouterr().err
    assert "toy run" in err and "2/2" in err
    train(_toy_model(), train_loader, test_loader, epochs=2, lr=0.05, progress=False, desc="silent")
    assert "silent" not in capsys.readouterr().err


def test_evaluate_restores_mode_and_counts() -> None:
    _, test_loader = _toy_loaders()
    model = _toy_model().train()
    result = evaluate(model, test_loader)
    assert isinstance(result, Evaluation)
    assert model.training
    assert result.count == 64
    assert 0.0 <= result.accuracy <= 1.0 and result.loss > 0


def test_evaluate_perfect_model() -> None:
    """A model that returns the one-hot label as logits is always right."""
    x = torch.arange(10) % 3
    loader = DataLoader(TensorDataset(x, x), batch_size=4)

    class Oracle(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.tensor(10.0))

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            return self.scale * nn.functional.one_hot(inputs, 3).float()

    result = evaluate(Oracle(), loader)
    assert result.accuracy == 1.0 and result.count == 10


@pytest.mark.parametrize(
    ("kwargs", "kind", "match"),
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 2.5}, TypeError, "epochs"),
        ({"epochs": True}, TypeError, "epochs"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": -1.0}, ValueError, "lr"),
        ({"lr": float("nan")}, ValueError, "lr"),
        ({"lr": "0.1"}, TypeError, "lr"),
        ({"seed": -1}, ValueError, "seed"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer"),
        ({"schedule": "step"}, ValueError, "schedule"),
        ({"weight_decay": -0.1}, ValueError, "weight_decay"),
        ({"momentum": 1.0}, ValueError, "momentum"),
        ({"label_smoothing": 1.0}, ValueError, "label_smoothing"),
        ({"device": "not-a-device"}, ValueError, "device"),
    ],
)
def test_train_rejects_bad_arguments(kwargs: dict, kind: type[Exception], match: str) -> None:
    train_loader, test_loader = _toy_loaders()
    args = {"epochs": 1, "lr": 0.01, "progress": False} | kwargs
    with pytest.raises(kind, match=match):
        train(_toy_model(), train_loader, test_loader, **args)


def test_train_rejects_bad_model_and_data() -> None:
    train_loader, test_loader = _toy_loaders()
    with pytest.raises(TypeError, match="model"):
        train("resnet", train_loader, epochs=1, lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="trainable"):
        train(nn.ReLU(), train_loader, epochs=1, lr=0.1)
    with pytest.raises(TypeError, match="train_loader"):
        train(_toy_model(), torch.zeros(4, 6), epochs=1, lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        train(_toy_model(), [], epochs=1, lr=0.1)
    with pytest.raises(TypeError, match="test_loader"):
        train(_toy_model(), train_loader, 42, epochs=1, lr=0.1)  # type: ignore[arg-type]
    bad_labels = [(torch.zeros(4, 6), torch.zeros(4))]  # float labels
    with pytest.raises(ValueError, match="integer"):
        train(_toy_model(), bad_labels, epochs=1, lr=0.1, progress=False)
    not_pairs = [(torch.zeros(4, 6),)]
    with pytest.raises(ValueError, match="pairs"):
        train(_toy_model(), not_pairs, epochs=1, lr=0.1, progress=False)


def test_evaluate_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="model"):
        evaluate(None, [])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        evaluate(_toy_model(), [])


def test_divergence_is_reported() -> None:
    x = torch.full((8, 6), 1e30)
    loader = DataLoader(TensorDataset(x, torch.zeros(8, dtype=torch.long)), batch_size=4)
    model = nn.Sequential(nn.Linear(6, 2))
    with pytest.raises(FloatingPointError, match="diverged"):
        train(model, loader, epochs=1, lr=1e10, progress=False, schedule="constant")


def test_package_train_is_callable_whatever_was_imported_first() -> None:
    """The training loop's module is ``training``, so ``mobilenet_lib.train`` is always the function,
    whatever was imported first (a module named ``train`` used to shadow it)."""
    import subprocess
    import sys

    code = (
        "import torch\n"
        "from mobilenet_lib.training import History\n"
        "from mobilenet_lib import train\n"
        "x = torch.randn(8, 3); y = torch.zeros(8, dtype=torch.long)\n"
        "h = train(torch.nn.Linear(3, 2), [(x, y)], epochs=1, lr=0.1, progress=False)\n"
        "assert isinstance(h, History), type(h)\n"
        "import mobilenet_lib, types\n"
        "assert not isinstance(mobilenet_lib.train, types.ModuleType)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
