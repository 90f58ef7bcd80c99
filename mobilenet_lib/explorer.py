"""The in-browser explorer (book/explorer.md): small digit MobileNets for ONNX Runtime Web, and the
manifold-collapse experiment with a random generator a web page can reproduce.

**Models.** Three networks are trained on scikit-learn's digits with the book's own code
(:func:`~mobilenet_lib.data.digits_loaders`, :func:`~mobilenet_lib.training.train` and the MobileNet V1
chapter's recipe :data:`~mobilenet_lib.experiments.mobilenet_v1.DIGITS_RECIPE`):

- ``"v1"``: MobileNet V1 at width 0.25 with the first six separable blocks of the chapter's
  :data:`~mobilenet_lib.experiments.mobilenet_v1.DIGITS_LAYERS` (32x32 -> 4x4 before pooling);
- ``"v2_linear"``: MobileNet V2 at width 0.5 with the first three stages of the V2 chapter's digits
  table (six inverted residuals, linear bottlenecks);
- ``"v2_relu"``: the same network with a ReLU6 after every projection (the "ReLU bottleneck" of
  ``scripts/ablation_v2.py``), seeded alike, so it starts from the same weights.

Each is wrapped in an :class:`ExplorerNet` that takes what a page can compute from a drawing:
**raw 8x8 digits on scikit-learn's 0-16 scale** (batch, 1, 8, 8), and does exactly what
:func:`~mobilenet_lib.data.load_digits` does before the network (divide by 16, bilinear upsampling to
32x32 with ``align_corners=False``, standardise with the training set's mean and standard
deviation). Besides the logits it returns, for every block, the output of the depthwise unit (one
map per channel: each channel filtered on its own) and of the pointwise unit (V1's 1x1 conv, V2's
linear 1x1 projection before the shortcut), so the page can show both side by side.
:func:`export_explorer_model` writes it with :func:`mobilenet_lib.onnx_export.export_onnx` and names the
extra outputs ``dw0, pw0, dw1, pw1, ...``.

**Shared generator.** A browser cannot reproduce NumPy's or torch's random streams, so the
explorer's manifold-collapse experiment draws its embedding from a generator simple enough to
write twice, here and in ``book/_extra/explorer/explorer.js``: :func:`mulberry32` (32-bit integer
state, one uniform in [0, 1) per step) and the Box-Muller transform (:func:`normal_draws`: two
uniforms ``u1, u2`` give ``sqrt(-2 ln(1 - u1)) cos(2 pi u2)`` and ``... sin(2 pi u2)``). The
embedding ``T`` (n x 2) is the first ``2 n`` normal draws, row by row, so for one seed a larger
``n`` only adds rows, as in the chapter. :func:`explorer_collapse` then measures with the
manifold-collapse chapter's own code (:mod:`mobilenet_lib.experiments.manifold_collapse`); the chapter
stays the reference, with torch's generator.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mobilenet_lib.blocks import DepthwiseSeparableConv, InvertedResidual
from mobilenet_lib.validation import flag, integer, one_of, positive_int

__all__ = [
    "MODEL_KINDS",
    "EXPLORER_IMAGE_SIZE",
    "V1_LAYERS",
    "V1_WIDTH",
    "V2_SETTINGS",
    "V2_WIDTH",
    "DigitsInput",
    "ExplorerNet",
    "ExplorerRun",
    "build_explorer_model",
    "train_explorer_model",
    "export_explorer_model",
    "test_digits",
    "block_costs",
    "mulberry32",
    "normal_draws",
    "explorer_embedding",
    "explorer_collapse",
    "COLLAPSE_DEFAULTS",
    "MIN_N",
    "MAX_N",
]

#: The networks the explorer ships, by name.
MODEL_KINDS = ("v1", "v2_linear", "v2_relu")

#: The side the networks see: the digits chapters' 32x32 (upsampled inside :class:`ExplorerNet`).
EXPLORER_IMAGE_SIZE = 32

#: MobileNet V1: the first six rows of the chapter's ``DIGITS_LAYERS`` (two stride-2 blocks).
V1_WIDTH = 0.25
V1_LAYERS: tuple[tuple[int, int], ...] = ((64, 1), (128, 2), (128, 1), (256, 1), (256, 1), (512, 2))

#: MobileNet V2: the first three stages of the V2 chapter's digits table (scripts/ablation_v2.py's
#: ``DIGITS_SETTINGS``), ``(t, c, n, s)``; with the stem's stride 32x32 -> 8x8.
V2_WIDTH = 0.5
V2_SETTINGS: tuple[tuple[int, int, int, int], ...] = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2))

_DIGITS_MAX = 16.0


def _kind(kind: Any) -> str:
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a str, got {type(kind).__name__}")
    return one_of("kind", kind, MODEL_KINDS)


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


class DigitsInput(nn.Module):
    """Raw 8x8 digits (0-16) -> what the networks trained on: ``/16``, bilinear upsampling to
    ``image_size`` (``align_corners=False``), ``(x - mean) / std``; the order of
    :func:`~mobilenet_lib.data.load_digits`."""

    def __init__(self, mean: float, std: float, image_size: int = EXPLORER_IMAGE_SIZE) -> None:
        super().__init__()
        self.mean, self.std = float(mean), float(std)
        self.image_size = positive_int("image_size", image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x / _DIGITS_MAX
        if self.image_size != x.shape[-1]:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        return (x - self.mean) / self.std


def _blocks(model: nn.Module) -> list[tuple[int, nn.Module]]:
    return [(i, m) for i, m in enumerate(model.features) if isinstance(m, (DepthwiseSeparableConv, InvertedResidual))]


def _depthwise_index(body: nn.Sequential) -> int:
    for i, unit in enumerate(body):
        conv = unit[0] if isinstance(unit, nn.Sequential) and len(unit) else None
        if isinstance(conv, nn.Conv2d) and conv.groups == conv.in_channels and conv.groups > 1:
            return i
    raise ValueError("the block has no depthwise unit")


class ExplorerNet(nn.Module):
    """A digits network behind :class:`DigitsInput`; ``forward`` returns ``(logits, dw0, pw0, dw1,
    pw1, ...)``: per block, the depthwise unit's output and the pointwise unit's output (V2: the
    projection, plus its ReLU6 in the ReLU-bottleneck variant, before the shortcut)."""

    def __init__(self, model: nn.Module, mean: float, std: float, kind: str) -> None:
        super().__init__()
        self.prepare = DigitsInput(mean, std)
        self.model = model
        self.kind = _kind(kind)

    @property
    def block_indices(self) -> list[int]:
        """Positions in ``model.features`` of the blocks whose maps are returned."""
        return [i for i, _ in _blocks(self.model)]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.prepare(x)
        maps: list[torch.Tensor] = []
        for layer in self.model.features:
            if isinstance(layer, DepthwiseSeparableConv):
                dw = layer.depthwise(x)
                x = layer.pointwise(dw)
                maps += [dw, x]
            elif isinstance(layer, InvertedResidual):
                body = layer.body
                k = _depthwise_index(body)
                out = x
                for unit in body[: k + 1]:
                    out = unit(out)
                dw = out
                for unit in body[k + 1:]:
                    out = unit(out)
                maps += [dw, out]
                x = out + x if layer.use_res_connect else out
            else:
                x = layer(x)
        return (self.model.forward_head(x), *maps)


def build_explorer_model(kind: str) -> nn.Module:
    """The untrained network of ``kind`` (one of :data:`MODEL_KINDS`), 1 input channel, 10 classes.

    ``"v2_relu"`` appends ``nn.ReLU6()`` to every inverted residual's body after the projection's
    batch norm, as ``scripts/ablation_v2.py``'s ``build_variant(linear_bottleneck=False, ...)``; no
    parameter changes, so the two V2 variants built after the same ``torch.manual_seed`` are equal.
    """
    from mobilenet_lib.models.mobilenet_v1 import mobilenet_v1
    from mobilenet_lib.models.mobilenet_v2 import mobilenet_v2

    kind = _kind(kind)
    if kind == "v1":
        return mobilenet_v1(width_mult=V1_WIDTH, num_classes=10, layers=V1_LAYERS, in_channels=1)
    model = mobilenet_v2(width_mult=V2_WIDTH, num_classes=10, dropout=0.0,
                         inverted_residual_setting=V2_SETTINGS, in_channels=1)
    if kind == "v2_relu":
        for block in model.features:
            if isinstance(block, InvertedResidual):
                block.conv.append(nn.ReLU6())
    return model


@dataclass(frozen=True)
class ExplorerRun:
    """One trained explorer network: the wrapped model, its training history, its costs."""

    kind: str
    net: ExplorerNet
    history: Any
    seed: int
    params: int
    macs: int

    @property
    def test_accuracy(self) -> float:
        return float(self.history.final_test_accuracy)


def train_explorer_model(
    kind: str,
    *,
    seed: int = 0,
    epochs: int | None = None,
    train_limit: int | None = None,
    progress: bool = False,
) -> ExplorerRun:
    """Train the network of ``kind`` on the digits with the MobileNet V1 chapter's recipe.

    The data come from :func:`~mobilenet_lib.data.digits_loaders` at 32x32, one channel, with the
    chapters' fixed split (``split_seed=0``); ``seed`` sets the initial weights and batch order.
    ``epochs`` defaults to the recipe's; ``train_limit`` keeps the first that many training
    images (quick tests). Seeded: the same arguments give the same weights on one CPU.
    """
    from torch.utils.data import DataLoader, Subset

    from mobilenet_lib.costs import count_macs, count_params
    from mobilenet_lib.data import digits_loaders, load_digits
    from mobilenet_lib.experiments.mobilenet_v1 import DIGITS_RECIPE
    from mobilenet_lib.training import train

    kind = _kind(kind)
    seed = integer("seed", seed, low=0)
    epochs = DIGITS_RECIPE["epochs"] if epochs is None else positive_int("epochs", epochs)
    batch_size = DIGITS_RECIPE["batch_size"]
    size = EXPLORER_IMAGE_SIZE
    train_loader, test_loader = digits_loaders(batch_size=batch_size, seed=seed, split_seed=0,
                                               image_size=size, channels=1, test_batch_size=256)
    if train_limit is not None:
        train_limit = positive_int("train_limit", train_limit)
        subset = Subset(train_loader.dataset, range(min(train_limit, len(train_loader.dataset))))
        train_loader = DataLoader(subset, batch_size=batch_size, shuffle=True,
                                  generator=torch.Generator().manual_seed(seed))
    data = load_digits(image_size=size, channels=1, seed=0)
    torch.manual_seed(seed)
    model = build_explorer_model(kind)
    history = train(model, train_loader, test_loader, epochs=epochs, lr=DIGITS_RECIPE["lr"], seed=seed,
                    optimizer=DIGITS_RECIPE["optimizer"], weight_decay=DIGITS_RECIPE["weight_decay"],
                    progress=progress, desc=kind)
    model.eval()
    net = ExplorerNet(model, data.mean, data.std, kind).eval()
    return ExplorerRun(kind, net, history, seed, count_params(model), count_macs(model, (1, 1, size, size)))


def block_costs(model: nn.Module) -> list[dict[str, Any]]:
    """For every block of ``model`` (a :func:`build_explorer_model` network): its position, the
    shapes and mult-adds of its depthwise and pointwise convolutions (and V2's expansion), per
    32x32 image, from :func:`mobilenet_lib.costs.layer_table`; ``full_conv_macs`` is what one full
    3x3 convolution with the block's input and output shapes would take
    (:func:`mobilenet_lib.costs.conv2d_cost`)."""
    from mobilenet_lib.costs import conv2d_cost, layer_table

    size = EXPLORER_IMAGE_SIZE
    in_ch = model.in_channels
    rows = {row.name: row for row in layer_table(model, (1, in_ch, size, size)).rows}
    out = []
    for index, block in _blocks(model):
        convs = [(name, m) for name, m in block.named_modules() if isinstance(m, nn.Conv2d)]
        entry: dict[str, Any] = {"block": index, "type": type(block).__name__}
        if isinstance(block, InvertedResidual):
            entry["expanded"] = block.expanded_channels
            entry["residual"] = bool(block.use_res_connect)
        parts = {}
        for name, conv in convs:
            row = rows[f"features.{index}.{name}"]
            role = "depthwise" if conv.groups > 1 else ("pointwise" if conv is convs[-1][1] else "expand")
            parts[role] = {"macs": row.macs, "params": row.params, "input_shape": list(row.input_shape[1:]),
                           "output_shape": list(row.output_shape[1:])}
        entry.update(parts)
        entry["macs"] = sum(p["macs"] for p in parts.values())
        # what one full 3x3 convolution from the block's input to its output would take
        _, h, w = parts["pointwise"]["output_shape"]
        entry["full_conv_macs"] = conv2d_cost(block.in_channels, block.out_channels, 3, h, w).macs
        out.append(entry)
    return out


def _output_names(net: ExplorerNet) -> list[str]:
    n = len(net.block_indices)
    return ["logits"] + [f"{kind}{i}" for i in range(n) for kind in ("dw", "pw")]


def export_explorer_model(net: ExplorerNet, *, opset: int = 18) -> bytes:
    """``net`` as ONNX (batch 1, input ``image`` (1, 1, 8, 8), outputs ``logits, dw0, pw0, ...``).

    Written by :func:`mobilenet_lib.onnx_export.export_onnx` (TorchScript exporter, fixed batch of
    one); the extra outputs get their names afterwards with ``onnx``.
    """
    import onnx

    from mobilenet_lib.onnx_export import export_onnx

    if not isinstance(net, ExplorerNet):
        raise TypeError(f"net must be an ExplorerNet, got {type(net).__name__}")
    data = export_onnx(net, image_size=8, in_channels=1, batch=1, dynamic_batch=False, opset=opset)
    proto = onnx.load_from_string(data)
    names = _output_names(net)
    graph = proto.graph
    if len(graph.output) != len(names):
        raise RuntimeError(f"expected {len(names)} outputs, the export has {len(graph.output)}")
    renames = {out.name: new for out, new in zip(graph.output, names)}
    for node in graph.node:
        node.output[:] = [renames.get(o, o) for o in node.output]
        node.input[:] = [renames.get(i, i) for i in node.input]
    for out in graph.output:
        out.name = renames[out.name]
    proto.producer_name = "mobilenet_lib.explorer"
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def test_digits(per_class: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` images of each class from the chapters' test split, raw (uint8 0-16, shape
    (10 * per_class, 8, 8)), and their labels: the digits the page offers and checks."""
    from mobilenet_lib.data import load_digits

    per_class = integer("per_class", per_class, low=1, high=30)
    data = load_digits(image_size=8, channels=1, seed=0)
    raw = torch.round((data.x_test * data.std + data.mean) * _DIGITS_MAX).clamp(0, 16).to(torch.uint8)
    picked: list[int] = []
    for c in range(10):
        picked += torch.nonzero(data.y_test == c).flatten()[:per_class].tolist()
    picked.sort()
    return raw[picked, 0].numpy(), data.y_test[picked].numpy()


test_digits.__test__ = False  # not a pytest test


def encode(data: bytes) -> str:
    """Base64 text of ``data`` (what the page's .js data files hold)."""
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------------------------
# The shared generator and the manifold-collapse reference
# --------------------------------------------------------------------------------------------

MIN_N, MAX_N = 2, 30
#: The page's defaults (n, seed, activation), the values the browser test checks against Python.
COLLAPSE_DEFAULTS: dict[str, Any] = {"n": 3, "seed": 0, "activation": "relu"}


def mulberry32(seed: int, count: int) -> np.ndarray:
    """``count`` uniforms in [0, 1) from mulberry32 seeded with ``seed`` (taken mod 2**32).

    Each step: ``state += 0x6D2B79F5``; ``t = (state ^ state >> 15) * (1 | state)``;
    ``t ^= t + (t ^ t >> 7) * (61 | t)``; output ``(t ^ t >> 14) / 2**32``, all arithmetic mod 2**32
    (JavaScript's ``Math.imul`` and ``>>> 0``).
    """
    seed = integer("seed", seed, low=0)
    count = integer("count", count, low=0)
    mask = 0xFFFFFFFF
    state = seed & mask
    out = np.empty(count, dtype=np.float64)
    for i in range(count):
        state = (state + 0x6D2B79F5) & mask
        t = ((state ^ (state >> 15)) * (1 | state)) & mask
        t = (t ^ ((t + (((t ^ (t >> 7)) * (61 | t)) & mask)) & mask)) & mask
        out[i] = ((t ^ (t >> 14)) & mask) / 4294967296.0
    return out


def normal_draws(seed: int, count: int) -> np.ndarray:
    """``count`` standard normal draws: Box-Muller on consecutive pairs of :func:`mulberry32`
    uniforms, ``r = sqrt(-2 ln(1 - u1))`` (``1 - u1`` is never 0), ``r cos(2 pi u2), r sin(2 pi u2)``."""
    count = integer("count", count, low=0)
    pairs = (count + 1) // 2
    u = mulberry32(seed, 2 * pairs).reshape(pairs, 2)
    r = np.sqrt(-2.0 * np.log(1.0 - u[:, 0]))
    angle = 2.0 * math.pi * u[:, 1]
    return np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1).reshape(-1)[:count]


def explorer_embedding(n: int, seed: int) -> np.ndarray:
    """The explorer's ``T`` (n x 2): the first ``2 n`` :func:`normal_draws` of ``seed``, row by row."""
    n = integer("n", n, low=MIN_N, high=MAX_N)
    return normal_draws(seed, 2 * n).reshape(n, 2)


def explorer_collapse(n: int = COLLAPSE_DEFAULTS["n"], *, seed: int = COLLAPSE_DEFAULTS["seed"],
                      activation: str = COLLAPSE_DEFAULTS["activation"], points: bool = False) -> dict[str, Any]:
    """The manifold-collapse run the page computes: the chapter's spiral and measurements
    (``_measure`` of :mod:`mobilenet_lib.experiments.manifold_collapse`) with ``T`` from
    :func:`explorer_embedding`. Returns ``relative_error``, ``zeroed_fraction``,
    ``recoverable_fraction``, ``gain`` (and, with ``points``, the ``embedding`` and the
    ``aligned`` reconstruction as lists)."""
    from mobilenet_lib.experiments import manifold_collapse as mc

    n = integer("n", n, low=MIN_N, high=MAX_N)
    seed = integer("seed", seed, low=0, high=2**32 - 1)
    if not isinstance(activation, str):
        raise TypeError(f"activation must be a str, got {type(activation).__name__}")
    activation = one_of("activation", activation, ("relu", "linear"))
    points = flag("points", points)
    x = mc._spiral(400, 2.0, mc.DEFAULT_RADIUS)
    T = torch.from_numpy(explorer_embedding(n, seed))
    _, recon, gain, err, zeroed, recoverable = mc._measure(x, T[None], activation)
    result: dict[str, Any] = {
        "n": n, "seed": seed, "activation": activation,
        "relative_error": float(err[0]), "zeroed_fraction": float(zeroed[0]),
        "recoverable_fraction": float(recoverable[0]), "gain": float(gain[0]),
    }
    if points:
        result["embedding"] = T.tolist()
        result["aligned"] = (gain[0] * recon[0]).tolist()
    return result
