#!/usr/bin/env python
"""MobileNet V1's width and resolution multipliers on the digits: test accuracy against mult-adds.

Trains the chapter's small-image MobileNet V1 (``mobilenet_lib.viz.mobilenet_v1.DIGITS_LAYERS``)
on scikit-learn's digits, with the chapter's recipe, for every configuration of three series:

- width: every ``--alphas`` value at ``--base-resolution`` (the shape of the paper's Table 6);
- resolution: every ``--resolutions`` value at width ``--resolution-alpha`` (Table 7);
- full convolutions: width ``--full-conv-alpha`` at the base resolution with every separable
  block replaced by a full 3x3 convolution, beside its separable twin (Table 4).

A configuration shared by two series is trained once. Every configuration is trained once per
``--seeds`` value (the seed sets the initial weights and the batch order; the train/test split is
the same for all). The results file records every run, the configuration, the machine, the date
and how long the sweep took; the chapter book/mobilenet_v1.ipynb reads it.

Full run, from the repository root (writes book/data/v1_sweep.json)::

    .venv/bin/python scripts/sweep_v1.py --note "machine shared with other jobs"

Tiny run (seconds; what tests/test_sweep_v1.py does)::

    .venv/bin/python scripts/sweep_v1.py --alphas 0.25 --resolutions 16 --base-resolution 16 \\
        --resolution-alpha 0.25 --full-conv-alpha 0.25 --seeds 0 --epochs 1 --train-limit 64 \\
        --out /tmp/v1_sweep.json
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from mobilenet_lib.benchmark import machine_info, save_results, torch_threads
from mobilenet_lib.experiments.mobilenet_v1 import (
    DIGITS_LAYERS,
    DIGITS_RECIPE,
    train_digits_v1,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "book" / "data" / "v1_sweep.json"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--alphas", nargs="+", type=float, default=[1.0, 0.75, 0.5, 0.25], help="width series")
    p.add_argument("--base-resolution", type=int, default=32, help="input size of the width series")
    p.add_argument("--resolutions", nargs="+", type=int, default=[32, 24, 16], help="resolution series")
    p.add_argument("--resolution-alpha", type=float, default=1.0, help="width of the resolution series")
    p.add_argument("--full-conv-alpha", type=float, default=0.25, help="width of the full-conv comparison")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=DIGITS_RECIPE["epochs"])
    p.add_argument("--lr", type=float, default=DIGITS_RECIPE["lr"])
    p.add_argument("--batch-size", type=int, default=DIGITS_RECIPE["batch_size"])
    p.add_argument("--train-limit", type=int, default=None, help="use only this many training images")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--note", default="", help="free text stored with the results (e.g. the machine's load)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)
    for name in ("alphas", "resolutions", "seeds"):
        values = getattr(args, name)
        if len(set(values)) != len(values):
            p.error(f"--{name} has repeated values: {values}")
    if min(args.alphas) <= 0 or args.resolution_alpha <= 0 or args.full_conv_alpha <= 0:
        p.error("widths must be positive")
    if min(args.resolutions) < 8 or args.base_resolution < 8:
        p.error("input sizes must be at least 8 (the network downsamples 8x)")
    if args.epochs < 1 or args.batch_size < 1 or args.threads < 1 or min(args.seeds) < 0:
        p.error("--epochs, --batch-size and --threads must be positive, --seeds non-negative")
    if args.train_limit is not None and args.train_limit < 1:
        p.error("--train-limit must be positive")
    return args


def configurations(args: argparse.Namespace) -> list[tuple[float, int, bool]]:
    """Every (alpha, resolution, full_conv) to train, each once, in series order."""
    configs: list[tuple[float, int, bool]] = []
    wanted = [(a, args.base_resolution, False) for a in args.alphas]
    wanted += [(args.resolution_alpha, r, False) for r in args.resolutions]
    wanted += [(args.full_conv_alpha, args.base_resolution, True), (args.full_conv_alpha, args.base_resolution, False)]
    for config in wanted:
        if config not in configs:
            configs.append(config)
    return configs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configs = configurations(args)
    runs = []
    start = time.perf_counter()
    with torch_threads(args.threads):
        machine = machine_info(args.threads)  # load average at the start
        for alpha, resolution, full_conv in configs:
            for seed in args.seeds:
                run = train_digits_v1(
                    alpha, resolution, full_conv=full_conv, seed=seed, epochs=args.epochs, lr=args.lr,
                    batch_size=args.batch_size, train_limit=args.train_limit, progress=False,
                )
                runs.append(run.to_dict())
                conv = "full conv" if full_conv else "separable"
                print(
                    f"α={alpha:<5g} {resolution:3d}px {conv:9s} seed {seed}: "
                    f"{100 * run.history.final_test_accuracy:5.1f} % test accuracy, "
                    f"{run.macs / 1e6:7.2f}M mult-adds, {run.history.wall_time_s:6.1f} s",
                    flush=True,
                )
    wall = time.perf_counter() - start
    machine["load_average_at_end"] = machine_info(args.threads)["load_average_1_5_15"]
    config = {
        "command": "scripts/sweep_v1.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)),
        "alphas": args.alphas,
        "base_resolution": args.base_resolution,
        "resolutions": args.resolutions,
        "resolution_alpha": args.resolution_alpha,
        "full_conv_alpha": args.full_conv_alpha,
        "seeds": args.seeds,
        "epochs": args.epochs,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "optimizer": DIGITS_RECIPE["optimizer"],
        "weight_decay": DIGITS_RECIPE["weight_decay"],
        "train_limit": args.train_limit,
        "layers": [list(row) for row in DIGITS_LAYERS],
        "note": args.note,
    }
    results = {"runs": runs, "wall_time_s": round(wall, 1)}
    path = save_results(args.out, results, machine=machine, config=config)
    print(f"{len(runs)} runs in {wall:.0f} s -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
