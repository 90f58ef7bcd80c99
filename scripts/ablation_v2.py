#!/usr/bin/env python
"""MobileNet V2's two design choices, ablated on the digits: linear vs ReLU6 bottlenecks, and
shortcuts vs none (the V2 paper's Figure 6, measured here on a small data set).

Four variants of the same network, identical in parameters and mult-adds:

- ``linear bottleneck + shortcuts``: MobileNet V2 as designed;
- ``ReLU6 bottleneck + shortcuts``: a ReLU6 after each block's projection (the narrow output);
- ``linear bottleneck, no shortcuts`` and ``ReLU6 bottleneck, no shortcuts``: the same with every
  residual connection removed.

Each variant is trained with every seed; a seed fixes the initial weights (identical across the
variants, which differ by no parameter) and the order of the training batches, so the variants are
compared in pairs. The train/test split is the same for every run, and the recipe (epochs,
learning rate, batch size, optimizer) is the MobileNet V1 chapter's (``DIGITS_RECIPE``). Results go
to a JSON file with the machine (and its load at the start and the end), the date, the command and
the configuration; the chapter ``book/inverted_residuals.ipynb`` reads it.

    nice -n 10 .venv/bin/python scripts/ablation_v2.py           # the chapter's configuration
    .venv/bin/python scripts/ablation_v2.py --tiny --out /tmp/x.json   # a seconds-long smoke run
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "book" / "data" / "ablation_v2.json"

#: MobileNet V2's Table 2 with strides for 32x32 digits: the stem and two stages halve the size
#: (32 -> 4x4 before pooling, 8x instead of 32x, so the last stages do not work on 1x1 maps).
#: Every block, width and expansion is the paper's.
DIGITS_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 1),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)

#: (name, linear_bottleneck, shortcuts)
VARIANTS: tuple[tuple[str, bool, bool], ...] = (
    ("linear bottleneck + shortcuts", True, True),
    ("ReLU6 bottleneck + shortcuts", False, True),
    ("linear bottleneck, no shortcuts", True, False),
    ("ReLU6 bottleneck, no shortcuts", False, False),
)


def build_variant(
    linear_bottleneck: bool,
    shortcuts: bool,
    *,
    width_mult: float = 0.5,
    settings: tuple[tuple[int, int, int, int], ...] = DIGITS_SETTINGS,
    num_classes: int = 10,
) -> nn.Module:
    """A MobileNet V2 for the digits, with or without linear bottlenecks and shortcuts.

    ``linear_bottleneck=False`` appends a ReLU6 to every inverted residual's body, after the
    projection's batch norm (so the narrow output goes through a non-linearity before the
    shortcut adds the input); ``shortcuts=False`` turns every residual connection off. Neither
    changes a parameter: seeded alike, all four variants start from the same weights.
    """
    from mobilenet_lib.blocks import InvertedResidual
    from mobilenet_lib.models.mobilenet_v2 import mobilenet_v2

    if not isinstance(linear_bottleneck, bool) or not isinstance(shortcuts, bool):
        raise ValueError("linear_bottleneck and shortcuts must be True or False")
    model = mobilenet_v2(width_mult=width_mult, num_classes=num_classes, dropout=0.0,
                         inverted_residual_setting=settings)
    for block in model.features:
        if isinstance(block, InvertedResidual):
            if not linear_bottleneck:
                block.conv.append(nn.ReLU6())
            if not shortcuts:
                block.use_res_connect = False  # read by InvertedResidual.forward
    return model


def _loaders(seed: int, args: argparse.Namespace) -> tuple[DataLoader, DataLoader]:
    from mobilenet_lib.data import digits_loaders

    train_loader, test_loader = digits_loaders(
        batch_size=args.batch_size, seed=seed, split_seed=0, image_size=args.image_size
    )
    if args.train_limit:
        subset = Subset(train_loader.dataset, range(min(args.train_limit, len(train_loader.dataset))))
        train_loader = DataLoader(subset, batch_size=args.batch_size, shuffle=True,
                                  generator=torch.Generator().manual_seed(seed))
    return train_loader, test_loader


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train every variant with every seed; rewrite ``args.out`` after each run.

    The file is complete (``meta["complete"]`` true) only at the end; until then it holds the runs
    done so far, so a long run that is stopped still leaves its finished seeds behind.
    """
    from mobilenet_lib.benchmark import machine_info
    from mobilenet_lib.costs import count_macs, count_params
    from mobilenet_lib.training import train

    torch.set_num_threads(args.threads)
    load_at_start = machine_info(args.threads)["load_average_1_5_15"]
    config = {k: v for k, v in vars(args).items() if k != "out"}
    runs: list[dict[str, Any]] = []
    start = time.perf_counter()

    def results(complete: bool) -> dict[str, Any]:
        return {
            "meta": {
                "script": "scripts/ablation_v2.py",
                "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
                "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                # CPU model, logical CPUs, torch threads, versions, load averages at the end
                "machine": machine_info(args.threads),
                "load_average_at_start": load_at_start,
                "torch": torch.__version__,
                "config": config,
                "settings": [list(row) for row in DIGITS_SETTINGS],
                "total_wall_time_s": round(time.perf_counter() - start, 1),
                "complete": complete,
            },
            "runs": runs,
        }

    args.out.parent.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        for name, linear, shortcuts in VARIANTS:
            torch.manual_seed(seed)
            model = build_variant(linear, shortcuts, width_mult=args.width)
            train_loader, test_loader = _loaders(seed, args)
            history = train(model, train_loader, test_loader, epochs=args.epochs, lr=args.lr, seed=seed,
                            optimizer=args.optimizer, weight_decay=args.weight_decay, progress=False)
            runs.append({
                "variant": name,
                "linear_bottleneck": linear,
                "shortcuts": shortcuts,
                "params": count_params(model),
                "macs": count_macs(model, (1, 3, args.image_size, args.image_size)),
                "seed": seed,
                "test_accuracy": history.final_test_accuracy,
                "train_accuracy": history.final_train_accuracy,
                "test_accuracy_per_epoch": history.test_accuracy,
                "train_loss_per_epoch": history.train_loss,
                "wall_time_s": round(history.wall_time_s, 1),
            })
            args.out.write_text(json.dumps(results(complete=False), indent=1) + "\n")
            print(f"seed {seed}  {name:34s} test accuracy {100 * runs[-1]['test_accuracy']:.2f} %"
                  f"  ({runs[-1]['wall_time_s']} s)", flush=True)
    final = results(complete=True)
    args.out.write_text(json.dumps(final, indent=1) + "\n")
    return final


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from mobilenet_lib.experiments.mobilenet_v1 import DIGITS_RECIPE

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=DIGITS_RECIPE["epochs"])
    parser.add_argument("--width", type=float, default=0.5, help="width multiplier")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=DIGITS_RECIPE["batch_size"])
    parser.add_argument("--lr", type=float, default=DIGITS_RECIPE["lr"])
    parser.add_argument("--optimizer", default=DIGITS_RECIPE["optimizer"])
    parser.add_argument("--weight-decay", type=float, default=DIGITS_RECIPE["weight_decay"])
    parser.add_argument("--train-limit", type=int, default=0, help="use only the first N training images (0: all)")
    # One thread: on the shared two-core machine a second one mostly waits for a core.
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--tiny", action="store_true",
                        help="smoke test: 1 seed, 1 epoch, 128 training images, 16x16, width 0.25")
    args = parser.parse_args(argv)
    if args.tiny:
        args.seeds, args.epochs, args.train_limit, args.image_size, args.width = [0], 1, 128, 16, 0.25
    if args.epochs < 1 or not args.seeds or args.threads < 1 or args.image_size < 8:
        parser.error("need --epochs >= 1, at least one seed, --threads >= 1 and --image-size >= 8")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    print(f"wrote {args.out} ({results['meta']['total_wall_time_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
