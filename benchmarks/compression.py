#!/usr/bin/env python
"""Compressing a trained MobileNet V1 on the digits: pruning, distillation and int8, measured.

Runs ``mobilenet_lib.experiments.compression.run_study`` (train the teacher, prune it globally
and by channels with and without a short fine-tuning, quantize it to int8, train a thinner
student with and without distillation) and writes the results with the machine they came from:
``benchmarks/results/compression.json`` (everything) and ``compression.md`` (a summary). The
chapter ``book/compression.ipynb`` reads the JSON file: accuracies after training depend on the
CPU's vector kernels (AVX-512, AVX2 and SSE round differently), so the page quotes this run and
says where it ran.

From the repository root (check ``uptime`` first: the load is recorded, and the wall time of
each part is in the results; the committed run took 48 minutes on a 2-core machine shared with
several other jobs)::

    .venv/bin/python benchmarks/compression.py

Tiny run (1 epoch on 128 images, a few settings; a smoke test of the script)::

    .venv/bin/python benchmarks/compression.py --tiny --out-dir /tmp/compression
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import torch

from mobilenet_lib.benchmark import machine_info, save_results
from mobilenet_lib.experiments import compression as study
from mobilenet_lib.tables import markdown_table

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=study.RECIPE["epochs"], help="epochs of the teacher and the students")
    p.add_argument("--finetune-epochs", type=int, default=study.FINETUNE["epochs"], help="epochs after pruning (0: none)")
    p.add_argument("--kd-seeds", type=int, nargs="+", default=list(study.KD_SEEDS), help="seeds of the student pairs")
    p.add_argument("--seed", type=int, default=0, help="seed of the teacher (and of pruning's fine-tuning)")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--train-limit", type=int, default=None, help="train on the first N training images only")
    p.add_argument("--tiny", action="store_true", help="1 epoch on 128 images, a few settings: a smoke test")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--name", default="compression", help="file stem of the results")
    return p.parse_args(argv)


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def markdown(payload: dict[str, Any]) -> str:
    m, config, r = payload["machine"], payload["config"], payload["results"]
    t, s = r["teacher"], r["student"]
    lines = [
        "# Compressing MobileNet V1 on the digits: pruning, distillation, int8",
        "",
        f"Machine: {m['cpu_model']}, {m['logical_cpus']} logical CPUs, {m['threads']} torch threads, "
        f"ATen kernels {m['instruction_sets']['aten_cpu_capability']}; torch {m['torch_version']}, "
        f"Python {m['python_version']}; {m['date_utc']}; load average before the run: {m['load_average_1_5_15']}. "
        f"Whole run: {r['wall_time_s']:.0f} s.",
        "",
        f"Digits at {config['image_size']}×{config['image_size']} ({r['train_images']} training, {r['test_images']} test "
        f"images). Teacher: MobileNet V1 α = {t['alpha']:g}, {config['recipe']['epochs']} epochs, seed {t['seed']}: "
        f"{t['params']:,} parameters, {t['mult_adds']:,} mult-adds per image, {_pct(t['accuracy'])} % test accuracy.",
        "",
        "## Unstructured pruning (global L1), then "
        f"{config['finetune']['epochs']} epoch(s) of fine-tuning",
        "",
        markdown_table(
            ("weights zeroed (%)", "nonzero params", "mult-adds (dense)", "file bytes", "sparse bytes", "accuracy (%)", "fine-tuned (%)"),
            [(100 * u["sparsity"], u["nonzero_params"], u["mult_adds"], u["bytes"], u["sparse_bytes"],
              _pct(u["accuracy"]), _pct(u["finetuned_accuracy"])) for u in r["unstructured"]],
        ),
        "",
        "## Channel pruning (ln_structured), then the same fine-tuning; the slim network built for real",
        "",
        markdown_table(
            ("norm", "channels removed (%)", "params", "mult-adds", "file bytes", "accuracy (%)", "fine-tuned (%)"),
            [(f"L{c['norm']}", 100 * c["fraction"], c["params"], c["mult_adds"], c["bytes"], _pct(c["accuracy"]),
              _pct(c["finetuned_accuracy"])) for c in r["structured"]],
        ),
        "",
        f"## int8 (post-training, {r['int8']['calibration_batches']} calibration batches)",
        "",
        f"{r['int8']['bytes']:,} bytes (float32: {t['bytes']:,}); accuracy {_pct(r['int8']['accuracy'])} %; "
        f"agrees with float32 on {_pct(r['int8']['prediction_agreement'])} % of the test images.",
        "",
        f"## Distillation: student α = {s['alpha']:g} ({s['params']:,} parameters, {s['mult_adds']:,} mult-adds), "
        f"T = {config['kd']['temperature']:g}, weight {config['kd']['weight']:g}",
        "",
        markdown_table(
            ("seed", "labels only (%)", "distilled (%)"),
            [(run["seed"], _pct(run["labels_accuracy"]), _pct(run["distilled_accuracy"])) for run in s["runs"]],
        ),
        "",
        "Produced by `benchmarks/compression.py`; everything else in `compression.json`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    machine = machine_info(threads=args.threads)  # before the run: the load it started under
    kwargs: dict[str, Any] = {
        "seed": args.seed, "epochs": args.epochs, "finetune_epochs": args.finetune_epochs,
        "kd_seeds": tuple(args.kd_seeds), "train_limit": args.train_limit,
    }
    if args.tiny:
        kwargs.update(epochs=1, train_limit=128, kd_seeds=(0,), sparsities=(0.5, 0.9), channel_fractions=(0.5,), norms=(2,))
    results = study.run_study(**kwargs)
    config = study.study_config(**kwargs)
    path = save_results(args.out_dir / f"{args.name}.json", results, machine=machine, config=config)
    payload = {"machine": machine, "config": config, "results": results}
    (args.out_dir / f"{args.name}.md").write_text(markdown(payload), encoding="utf-8")
    print(f"wrote {path} and {path.with_suffix('.md')} ({results['wall_time_s']:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
