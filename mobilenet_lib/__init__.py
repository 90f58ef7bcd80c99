"""mobilenet_lib: lightweight convolutional networks, their building blocks and their costs.

The library behind the interactive textbook. The package root holds the public core API (the
names below); everything else is imported from its module. Names are loaded on first use, so
``import mobilenet_lib`` costs almost nothing beyond ``import torch`` and never pulls in plotting
or widget code.

Package map (one concept per module):

The core
    ``validation``    the argument checks every module shares (TypeError / ValueError, named)
    ``activations``   h-sigmoid, h-swish and their smooth counterparts
    ``blocks``        the building blocks, all made of one conv-norm-activation unit: depthwise
                      separable, inverted residual, squeeze-and-excitation, channel shuffle,
                      ShuffleNet V1 and V2 units, ResNet blocks
    ``models/``       the networks, each built from a table by one builder (models as data);
                      ``models.base`` holds the one forward they share
    ``costs``         parameter / mult-add / memory-access formulas, counting, per-layer tables
    ``memory``        peak activation memory of a forward pass
    ``reference_ops`` NumPy reference convolutions (depthwise, im2col, 1x1 as a matrix product)
    ``data``          small real image data that ships with packages (no downloads)
    ``training``      the seeded training loop, evaluation, ``eval_mode``
    ``checkpoint``    loading and saving weights with clear errors
    ``deploy``        batch-norm folding, inference preparation, per-layer profiles
    ``quantize``      int8 post-training quantization
    ``benchmark``     timing, machine records, committed results files
    ``tables``        the one table renderer (Markdown, HTML, text)
    ``explorer``      the in-browser explorer's networks, their ONNX export, the generator the page
                      and Python share

Chapter studies: ``experiments/`` (one module per chapter, named after it)
    ``depthwise_separable``, ``mobilenet_v1``, ``manifold_collapse``, ``inverted_residuals``,
    ``squeeze_excitation``, ``hard_swish``, ``mobilenet_v3``, ``road_to_mobilenet``,
    ``shufflenet_latency``, ``shufflenet_networks``, ``accuracy_vs_cost``, ``deployment``,
    ``compression``

Figures and widgets: ``viz/`` (one module per chapter, same names, plus ``style`` and ``static_view``)

Classroom: ``classroom/`` (``checks``: feedback for students; ``grading``: building and grading
the assignments)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

# name -> submodule that defines it; imported lazily on first attribute access (PEP 562), which
# keeps ``import mobilenet_lib`` light.
_EXPORTS: dict[str, str] = {}


def _register(module: str, *names: str) -> None:
    for name in names:
        _EXPORTS[name] = module


_register("activations", "h_sigmoid", "h_swish", "HSigmoid", "HSwish", "swish", "Swish")
_register(
    "blocks",
    "make_divisible",
    "ConvNormAct",
    "DepthwiseSeparableConv",
    "InvertedResidual",
    "SqueezeExcitation",
    "channel_shuffle",
    "ChannelShuffle",
    "ShuffleV1Block",
    "ShuffleV2Block",
    "BasicBlock",
    "Bottleneck",
)
_register(
    "models",
    "create_model",
    "list_models",
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "shufflenet_v1",
    "shufflenet_v2",
    "resnet18",
    "resnet50",
)
_register(
    "costs",
    "Cost",
    "standard_conv_cost",
    "depthwise_conv_cost",
    "pointwise_conv_cost",
    "separable_conv_cost",
    "group_conv_cost",
    "separable_cost_ratio",
    "conv2d_cost",
    "linear_cost",
    "conv_output_size",
    "memory_access_cost_1x1",
    "memory_access_lower_bound",
    "count_params",
    "count_macs",
    "layer_table",
)
_register("memory", "activation_memory", "peak_activation_memory")
_register("reference_ops", "depthwise_conv2d_numpy", "im2col", "conv2d_as_matmul", "pointwise_as_matmul")
_register("data", "load_digits", "digits_loaders", "sample_image", "list_sample_images", "synthetic_shapes")
_register("training", "train", "evaluate", "History")
_register("checkpoint", "load_checkpoint", "save_checkpoint", "CheckpointError")
_register("deploy", "fold_batchnorm", "prepare_for_inference", "max_relative_error", "profile_layers")
_register("quantize", "quantize_int8")
_register("onnx_export", "export_onnx")
_register("benchmark", "time_model")

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mobilenet_lib' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
