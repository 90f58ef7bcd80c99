#!/usr/bin/env python
"""The timings of the MobileNet V3 chapters, measured in one run on a quiet machine.

Three measurements, the ones the h-swish and MobileNet V3 chapters make when they are built
(there on a machine that may be busy, so those cells' outputs are not checked):

1. **Activations** (h-swish chapter): median time per million float32 values of swish and
   h-swish, each as an eager composition, PyTorch's fused kernel and the library's function
   (``mobilenet_lib.experiments.hard_swish.time_activations``, one thread).
2. **Last stage** (MobileNet V3 chapter): batch-1 latency of V3-Large with the original and with
   the efficient last stage (``mobilenet_lib.experiments.mobilenet_v3``), timed in alternating rounds so that a
   burst of load hits both alike.
3. **Search** (MobileNet V3 chapter): ``mobilenet_lib.experiments.mobilenet_v3.random_search`` over V3-Small's
   expansion sizes under the latency of the paper's table, with the rank correlation of
   mult-adds and measured latency.

Writes ``<name>.json`` (every repeat, machine, configuration) and ``<name>.md`` (tables naming
the machine) to ``--out-dir``.

Full run, from the repository root (about two minutes on an idle 2-core machine)::

    .venv/bin/python benchmarks/v3_timings.py

Tiny run (seconds; what the tests do)::

    .venv/bin/python benchmarks/v3_timings.py --tiny --out-dir /tmp/v3_timings

Check ``uptime`` first: the load average is written into the results.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

from mobilenet_lib.benchmark import load_warning, machine_info, save_results, time_model
from mobilenet_lib.experiments.hard_swish import time_activations
from mobilenet_lib.experiments.mobilenet_v3 import (
    large_with_original_last_stage,
    random_search,
)
from mobilenet_lib.models import mobilenet_v3_large
from mobilenet_lib.tables import records_markdown

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--values", type=int, default=1_000_000, help="values per activation call")
    p.add_argument("--resolution", type=int, default=224, help="input size for the last-stage comparison")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds of the last-stage comparison")
    p.add_argument("--repeats", type=int, default=20, help="timed repeats per measurement (per round)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--candidates", type=int, default=12, help="random-search candidates")
    p.add_argument("--search-resolution", type=int, default=160)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the paper: one core)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tiny", action="store_true", help="a seconds-long run with tiny settings (for tests)")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--name", default="v3_timings", help="file stem of the outputs")
    args = p.parse_args(argv)
    for name in ("values", "resolution", "rounds", "repeats", "candidates", "search_resolution", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.warmup < 0:
        p.error(f"--warmup must be at least 0, got {args.warmup}")
    if args.tiny:
        args.values, args.resolution, args.rounds, args.repeats, args.warmup = 10_000, 32, 2, 2, 1
        args.candidates, args.search_resolution = 2, 32
    return args


def last_stage_latency(resolution: int, rounds: int, repeats: int, warmup: int, threads: int, seed: int) -> dict[str, Any]:
    """Median batch-1 latency of V3-Large with each last stage, over alternating rounds."""
    torch.manual_seed(seed)
    models = {"original": large_with_original_last_stage(), "efficient": mobilenet_v3_large()}
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(rounds):
        for name, model in models.items():
            t = time_model(model, (1, 3, resolution, resolution), repeats=repeats, warmup=warmup, threads=threads)
            times[name].extend(1e3 * s for s in t.times_s)
    return {name: {"median_ms": statistics.median(ms), "times_ms": ms} for name, ms in times.items()}


def render_markdown(payload: dict[str, Any]) -> str:
    """The Markdown summary: machine, then one table per measurement."""
    m, c, r = payload["machine"], payload["config"], payload["results"]
    act = [{"name": a["name"], "family": a["family"], "ms": a["ms_per_million"], "iqr": a["iqr_ms_per_million"]}
           for a in r["activations"]]
    stage = [{"stage": k, "ms": v["median_ms"], "n": len(v["times_ms"])} for k, v in r["last_stage"].items()]
    s = r["search"]
    cands = [{"who": "paper's table" if i == 0 else f"candidate {i}", "scales": " ".join(f"{x:g}" for x in cd["scales"]),
              "macs": cd["macs"] / 1e6, "ms": cd["latency_ms"], "best": "✓" if cd["best"] else ""}
             for i, cd in enumerate(s["candidates"])]
    load = m.get("load_average_1_5_15")
    return "\n".join([
        "# Timings of the MobileNet V3 chapters",
        "",
        f"Machine: {m['cpu_model']}, {m['logical_cpus']} logical CPUs, {c['threads']} torch thread(s); "
        f"torch {m['torch_version']}, Python {m['python_version']}; {m['date_utc']}; "
        f"load average before the run (1/5/15 min): {load}.",
        "",
        *([f"**{warning}**", ""] if (warning := load_warning(m)) else []),
        f"## Activations: ms per million float32 values ({c['values']:,} per call, median of {c['repeats']})",
        "",
        records_markdown(act, [("name", "implementation"), ("family", "family"), ("ms", "ms / 10⁶ values"),
                             ("iqr", "IQR")]),
        "",
        f"## V3-Large, batch 1 at {c['resolution']}²: original vs efficient last stage "
        f"({c['rounds']} alternating rounds of {c['repeats']} repeats)",
        "",
        records_markdown(stage, [("stage", "last stage"), ("ms", "median ms"), ("n", "repeats")]),
        "",
        f"## Random search over V3-Small's expansion sizes at {c['search_resolution']}² "
        f"(budget {s['budget_ms']:.3g} ms: the paper's table)",
        "",
        records_markdown(cands, [("who", "network"), ("scales", "exp-size scale per block"),
                               ("macs", "mult-adds (M)"), ("ms", "median ms"), ("best", "picked")]),
        "",
        f"Rank correlation of mult-adds and latency: {s['correlation']:.2f}.",
        "",
        f"Produced by `benchmarks/v3_timings.py`; raw repeats in `{c['name']}.json`.",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info(threads=args.threads)  # load average before this run adds its own
    activations = time_activations(n=args.values, threads=args.threads, repeats=args.repeats,
                                   warmup=args.warmup, seed=args.seed)
    stage = last_stage_latency(args.resolution, args.rounds, args.repeats, args.warmup, args.threads, args.seed)
    search = random_search(n=args.candidates, variant="small", input_size=args.search_resolution, seed=args.seed,
                           threads=args.threads, repeats=args.repeats, warmup=args.warmup)
    results = {
        "activations": [{"name": a.name, "family": a.family, "n": a.n, "ms_per_million": a.ms_per_million,
                         "iqr_ms_per_million": a.iqr_ms_per_million, "timing": a.timing.to_dict()}
                        for a in activations],
        "last_stage": stage,
        "search": {
            "budget_ms": search.budget_ms,
            "correlation": search.macs_latency_correlation,
            "candidates": [{"scales": list(cd.scales), "params": cd.params, "macs": cd.macs,
                            "latency_ms": cd.latency_ms, "best": cd is search.best}
                           for cd in (search.baseline, *search.candidates)],
        },
    }
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    path = save_results(args.out_dir / f"{args.name}.json", results, machine=machine, config=config)
    payload = {"machine": machine, "config": config, "results": results}
    (args.out_dir / f"{args.name}.md").write_text(render_markdown(payload), encoding="utf-8")
    print(f"wrote {path} and {path.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
