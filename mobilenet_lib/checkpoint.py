"""Saving and loading weights, with errors that say exactly what does not fit.

``torch.nn.Module.load_state_dict`` reports a mismatch as one long message, and a wrong shape
only after the missing and unexpected keys. :func:`load_checkpoint` checks everything first and
raises :class:`CheckpointError` (a ``ValueError``) listing the first few missing keys, unexpected
keys and shape mismatches with their counts, before any weight is changed.

Files may hold a plain ``state_dict`` (what torchvision publishes and :func:`save_checkpoint`
writes) or a training checkpoint, a dict with the weights under ``"state_dict"`` or ``"model"``.
Files are read with ``torch.load(weights_only=True)``, which refuses pickled code.
"""

from __future__ import annotations

import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from mobilenet_lib.validation import flag

__all__ = ["CheckpointError", "LoadResult", "load_checkpoint", "save_checkpoint"]

PathLike = str | os.PathLike[str]

# How many keys of each kind an error message lists before "... and N more".
_SHOW = 5


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or whose weights do not fit the model."""


class LoadResult(NamedTuple):
    """What :func:`load_checkpoint` left out (both empty after a strict load)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _listing(title: str, items: list[str]) -> str:
    shown = ", ".join(items[:_SHOW])
    more = f", ... and {len(items) - _SHOW} more" if len(items) > _SHOW else ""
    return f"{len(items)} {title}: {shown}{more}"


def _extract_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(
            f"{path} does not hold a state_dict (a non-empty dict of tensors, possibly under "
            f"'state_dict' or 'model'); found {type(obj).__name__}"
        )
    bad = [str(k) for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path}: entries that are not tensors under string keys: " + ", ".join(bad[:_SHOW]))
    return dict(obj)


def _strip_module_prefix(state: dict[str, torch.Tensor], model_keys: set[str]) -> dict[str, torch.Tensor]:
    # Weights saved from nn.DataParallel / DistributedDataParallel carry a "module." prefix.
    prefix = "module."
    if all(k.startswith(prefix) for k in state) and not any(k.startswith(prefix) for k in model_keys):
        return {k[len(prefix):]: v for k, v in state.items()}
    return state


def load_checkpoint(
    model: nn.Module,
    path: PathLike,
    strict: bool = True,
    map_location: str | torch.device = "cpu",
) -> LoadResult:
    """Load weights from ``path`` into ``model`` (in place) and report what was left out.

    Args:
        model: the network to fill.
        path: a file written by ``torch.save`` holding a state_dict, or a dict with the state_dict
            under ``"state_dict"`` or ``"model"``. A ``"module."`` prefix on every key (weights
            saved from ``DataParallel``) is removed.
        strict: require the keys to match exactly. With ``strict=False`` missing and unexpected
            keys are allowed (and returned), but at least one key must match; a shape mismatch is
            an error either way.
        map_location: where to put the loaded tensors (default ``"cpu"``).

    Batch norm's ``num_batches_tracked`` counters are bookkeeping, not weights: a file without
    them (older PyTorch) loads, and the model keeps its own counters.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file cannot be read or does not fit the model; the message lists
            missing keys, unexpected keys and shape mismatches (the first few of each, with
            counts). The model is unchanged when this is raised.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    flag("strict", strict)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        # weights_only=True refuses any pickled object that is not tensors and plain containers,
        # because unpickling such an object can run arbitrary code. Say so: the file may be fine.
        refused = re.search(r"GLOBAL (\S+) was not an allowed global", str(err))
        if refused is None:
            raise CheckpointError(
                f"could not read {path} as a PyTorch checkpoint (truncated or not a torch.save file?): "
                f"{type(err).__name__}: {err}"
            ) from err
        raise CheckpointError(
            f"refused to unpickle {path}: it holds a Python object of type {refused.group(1)}, and "
            f"torch.load(weights_only=True) loads only tensors and plain containers, because "
            f"unpickling other objects can run code. If you trust the file, load it yourself with "
            f"torch.load(path, weights_only=False) and pass its state_dict to model.load_state_dict."
        ) from err
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise CheckpointError(
            f"could not read {path} as a PyTorch checkpoint (truncated or not a torch.save file?): "
            f"{type(err).__name__}: {err}"
        ) from err
    own = model.state_dict()
    state = _strip_module_prefix(_extract_state_dict(obj, path), set(own))

    def is_counter(key: str) -> bool:
        return key.endswith("num_batches_tracked")

    missing = [k for k in own if k not in state and not is_counter(k)]
    unexpected = [k for k in state if k not in own]
    mismatched = [
        f"{k} (checkpoint {tuple(v.shape)}, model {tuple(own[k].shape)})"
        for k, v in state.items()
        if k in own and v.shape != own[k].shape
    ]
    problems = []
    if mismatched:
        problems.append(_listing("shape mismatches", mismatched))
    if strict and missing:
        problems.append(_listing("missing keys (in the model, not in the checkpoint)", missing))
    if strict and unexpected:
        problems.append(_listing("unexpected keys (in the checkpoint, not in the model)", unexpected))
    if problems:
        raise CheckpointError(
            f"checkpoint {path} does not fit {type(model).__name__}:\n  " + "\n  ".join(problems)
        )
    fitting = {k: v for k, v in state.items() if k in own}
    if not fitting:
        raise CheckpointError(
            f"checkpoint {path} shares no key with {type(model).__name__}, so loading it would change "
            f"nothing: " + _listing("keys in the checkpoint", list(state)) + "; "
            + _listing("keys in the model", list(own))
        )
    model.load_state_dict(fitting, strict=False)
    return LoadResult(missing_keys=missing, unexpected_keys=unexpected)


def save_checkpoint(model: nn.Module, path: PathLike) -> Path:
    """Save ``model.state_dict()`` to ``path`` as a plain state_dict (torchvision's format).

    Parent directories are created. Returns the path written.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path
