"""mobilenet_lib: lightweight convolutional networks, their building blocks and their costs.

The library behind the interactive textbook. Everything a chapter needs is importable from the
package root; submodules are loaded on first use, so ``import mobilenet_lib`` costs almost nothing
beyond ``import torch`` and never pulls in plotting or widget code.

Module map (one concept per module):

- ``activations``  h-sigmoid, h-swish and their smooth counterparts
- ``blocks``       the building blocks: conv-norm-activation, depthwise separable, inverted
                   residual, squeeze-and-excitation, channel shuffle, ShuffleNet V2 unit, ResNet blocks
- ``models``       the networks, each built from a table (models as data)
- ``checkpoint``   loading and saving weights with clear errors
- ``costs``        analytic parameter / mult-add / memory-access formulas and per-layer tables
- ``data``         small real image data that ships with packages (no downloads)
- ``viz``          plotting and widget builders for the chapters (matplotlib / ipywidgets, lazy)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> submodule that defines it. Each module registers its public names here; they are
# imported lazily on first attribute access (PEP 562), which keeps ``import mobilenet_lib`` light.
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
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "shufflenet_v2",
    "resnet18",
    "resnet50",
)
_register("checkpoint", "load_checkpoint", "save_checkpoint", "CheckpointError")
_register("reference_ops", "depthwise_conv2d_numpy", "im2col", "conv2d_as_matmul", "pointwise_as_matmul")
_register("train", "train", "evaluate", "History", "Evaluation")
_register("manifold", "manifold_collapse", "collapse_curve", "spiral", "CollapseResult", "CollapseCurve")
_register(
    "memory",
    "activation_memory",
    "peak_activation_memory",
    "ActivationMemory",
    "MemoryStep",
    "residual_stack",
    "WideResidual",
    "ChunkedInvertedResidual",
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
    "scaled_layer_cost",
    "mobilenet_v1_table3",
    "memory_access_cost_1x1",
    "memory_access_lower_bound",
    "layer_memory_access_cost",
    "count_params",
    "count_macs",
    "layer_table",
    "CostTable",
)
_register(
    "data",
    "load_digits",
    "digits_loaders",
    "sample_image",
    "list_sample_images",
    "synthetic_shapes",
)
_register(
    "benchmark",
    "Timing",
    "keep_freed_memory",
    "time_callable",
    "time_model",
    "matmul_gflops",
    "achieved_gflops",
    "machine_info",
    "load_warning",
    "ModelLatency",
    "measure_models",
)
_register("guidelines", "GUIDELINES", "PAPER_TABLES", "run_guideline", "relative_speeds")
_register("ancestors", "conv_stack", "receptive_field", "ResNeXtBlock", "DenseLayer", "DenseBlock", "Transition")
_register("int8_activations", "Int8Grid", "Int8Error", "h_swish_int8", "swish_int8", "int8_error", "int8_study")
_register("activation_costs", "ActivationTiming", "time_activations", "ActivationSite", "activation_sites")
_register("se_study", "hand_set_se", "se_demo", "se_cost", "SECost", "v3_se_blocks", "with_se_reduction")
_register("v3_redesign", "original_last_stage", "efficient_last_stage", "large_with_original_last_stage")
_register("search", "random_search", "SearchResult", "Candidate", "mnas_reward")
_register(
    "deploy",
    "fold_batchnorm",
    "fold_conv_bn",
    "find_conv_bn_pairs",
    "prepare_for_inference",
    "InferenceModel",
    "max_relative_error",
    "profile_layers",
    "LatencyProfile",
)
_register("quantize", "quantize_int8", "int8_ops", "Int8Op")
_register("viz.static_view", "static_view", "StaticView")
_register("checks", "CheckReport", "PartResult")

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
