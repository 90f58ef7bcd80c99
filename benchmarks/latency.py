#!/usr/bin/env python
"""Measured CPU latency of the model family against its mult-adds, and the CPU's matmul peak.

For every model: parameters, mult-adds per image (``mobilenet_lib.costs.count_macs``) and the
median forward time at each batch size (``mobilenet_lib.benchmark.time_model``: eval mode,
inference mode, warm-up, fixed threads, median of repeats), plus the GFLOP/s each model reaches
against what one large matrix product reaches on the same CPU. Writes ``<name>.json`` (all
repeats, machine, configuration) and ``<name>.md`` (a short table naming the machine) to
``--out-dir``.

Full run, from the repository root (23 minutes on the busy shared 2-core development machine,
load average about 11, under `nice -n 10`; an idle machine needs far less)::

    .venv/bin/python benchmarks/latency.py

Tiny run (seconds; what the tests do)::

    .venv/bin/python benchmarks/latency.py --models mobilenet_v3_small --resolution 32 \\
        --batch-sizes 1 2 --repeats 2 --warmup 1 --matmul-size 64 --out-dir /tmp/latency

Timings depend on the machine and on what else runs on it: check ``uptime`` first; the load
average is written into the results.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mobilenet_lib.benchmark import (
    load_warning,
    machine_info,
    matmul_gflops,
    measure_models,
    save_results,
)
from mobilenet_lib.tables import records_markdown

DEFAULT_MODELS = (
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0",
    "resnet18",
)
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), help="names for create_model")
    p.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 16])
    p.add_argument("--resolution", type=int, default=224)
    p.add_argument("--repeats", type=int, default=20, help="timed repeats per model and batch size")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--matmul-size", type=int, default=2048, help="n for the n×n matmul peak")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--name", default="latency", help="file stem of the outputs")
    return p.parse_args(argv)


def after_load(machine: dict) -> str:
    """", after: [...]" when the results file recorded the load average at the end of the run."""
    after = machine.get("load_average_after_1_5_15")
    return f", after: {after}" if after else ""


def render_markdown(payload: dict) -> str:
    """The results file's Markdown summary: machine, settings, one row per model."""
    m, c = payload["machine"], payload["config"]
    peak = payload["results"]["matmul"]
    batches = c["batch_sizes"]
    rows = []
    for r in payload["results"]["models"]:
        row = {"name": r["name"], "params": r["params"], "macs": r["macs"] / 1e6}
        for b in batches:
            t = r["timings"][str(b)]
            row[f"ms{b}"] = t["median_ms"] / b
            row[f"gf{b}"] = 2 * r["macs"] * b / (t["median_ms"] / 1e3) / 1e9
        rows.append(row)
    columns = [("name", "model"), ("params", "params"), ("macs", "mult-adds (M)")]
    for b in batches:
        columns += [(f"ms{b}", f"ms/image, batch {b}"), (f"gf{b}", f"GFLOP/s, batch {b}")]
    load = m.get("load_average_1_5_15")
    return "\n".join(
        [
            "# CPU latency of the model family",
            "",
            f"Machine: {m['cpu_model']}, {m['logical_cpus']} logical CPUs, {m['threads']} torch threads; "
            f"torch {m['torch_version']}, Python {m['python_version']}; {m['date_utc']}; "
            f"load average before the run (1/5/15 min): {load}"
            f"{after_load(m)}.",
            "",
            *([f"**{warning}**", ""] if (warning := load_warning(m)) else []),
            f"Input {c['resolution']}×{c['resolution']}, eager PyTorch, eval mode; median of {c['repeats']} "
            f"runs after {c['warmup']} warm-up runs. A {peak['n']}×{peak['n']} float32 matmul reached "
            f"{peak['gflops']:.3g} GFLOP/s on this machine.",
            "",
            records_markdown(rows, columns),
            "",
            f"Produced by `benchmarks/latency.py`; raw repeats in `{c['name']}.json`.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info(threads=args.threads)  # load average before this run adds its own
    peak = matmul_gflops(args.matmul_size, threads=args.threads, repeats=max(3, args.repeats // 4), warmup=1)
    rows = measure_models(
        args.models,
        batch_sizes=args.batch_sizes,
        resolution=args.resolution,
        repeats=args.repeats,
        warmup=args.warmup,
        threads=args.threads,
        seed=args.seed,
    )
    config = {
        "name": args.name,
        "models": args.models,
        "batch_sizes": args.batch_sizes,
        "resolution": args.resolution,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "threads": args.threads,
        "matmul_size": args.matmul_size,
        "seed": args.seed,
        "mode": "eager, eval, torch.inference_mode, float32",
    }
    results = {"matmul": peak.to_dict(), "models": [r.to_dict() for r in rows]}
    # other processes may start or stop during a long run: record the load at its end too
    machine["load_average_after_1_5_15"] = machine_info()["load_average_1_5_15"]
    path = save_results(args.out_dir / f"{args.name}.json", results, machine=machine, config=config)
    payload = {"machine": machine, "config": config, "results": results}
    (args.out_dir / f"{args.name}.md").write_text(render_markdown(payload), encoding="utf-8")
    print(f"wrote {path} and {path.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
