#!/usr/bin/env python
"""Measured CPU latency of ShuffleNet V1 (every group count) and V2, beside every other network
of the book, for book/shufflenet_networks.ipynb and book/accuracy_vs_cost.ipynb.

Every network is built once (seeded), counted (parameters, mult-adds per image) and warmed up;
then the timing runs in **rounds**: each round times every network a few times, in an order that
rotates from round to round, so that a change in the machine's load during the run (other
processes starting or stopping) falls on all networks alike instead of on whichever ran then.
A network's repeats from all rounds are pooled; the headline is their median (eval mode,
``torch.inference_mode``, a fixed number of threads; ``mobilenet_lib.benchmark.time_model``).
Writes ``<name>.json`` (machine, load average before and after, configuration, every repeat, in
the format of ``benchmarks/latency.py``'s results) and ``<name>.md`` (a table naming the machine)
to ``--out-dir``.

Full run, from the repository root (about 4 minutes on the shared 2-core development machine
under a load average of 4-8; an idle machine needs about one)::

    .venv/bin/python benchmarks/shufflenet.py

Tiny run (seconds; what the tests do)::

    .venv/bin/python benchmarks/shufflenet.py --models shufflenet_v1_g3 shufflenet_v2_x0_5 \\
        --resolution 32 --rounds 2 --repeats 2 --warmup 1 --out-dir /tmp/shufflenet

Timings depend on the machine and on what else runs on it: check ``uptime`` first; the load
average is written into the results (before, after, and after every round).

**One thread by default.** On a machine whose cores other processes share, a two-thread forward
pass waits at every operator for the thread that was descheduled: in a trial on the development
machine under a load average of 5.8 on 2 cores, ShuffleNet V2 0.5x took a median of 578 ms per
image with two threads and 54 ms with one. One thread measures the network rather than the
scheduler; pass ``--threads 2`` on an idle machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

from mobilenet_lib.benchmark import ModelLatency, Timing, load_warning, machine_info, save_results, time_model
from mobilenet_lib.costs import count_macs, count_params
from mobilenet_lib.experiments import accuracy_vs_cost, shufflenet_networks
from mobilenet_lib.models import create_model
from mobilenet_lib.tables import records_markdown

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def all_networks() -> dict[str, tuple[str, dict[str, Any]]]:
    """name -> (create_model name, kwargs): the chapter's V1/V2 networks, then the rest of the book's."""
    nets = dict(shufflenet_networks.NETWORKS)
    for p in accuracy_vs_cost.PUBLISHED:
        nets.setdefault(p.name, (p.builder, dict(p.kwargs)))
    return nets


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list(all_networks()), help="names of the networks to time")
    p.add_argument("--batch-sizes", nargs="+", type=int, default=[1])
    p.add_argument("--resolution", type=int, default=224)
    p.add_argument("--rounds", type=int, default=10, help="rounds over all networks")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats per network and round")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls per network before the first round")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (see the module's docstring)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--name", default="shufflenet", help="file stem of the outputs")
    args = p.parse_args(argv)
    unknown = [m for m in args.models if m not in all_networks()]
    if unknown:
        p.error(f"unknown network(s) {unknown}; choose from {', '.join(all_networks())}")
    return args


def measure(args: argparse.Namespace) -> tuple[list[ModelLatency], list[list[float]]]:
    """Time every network in interleaved rounds; also return the load average after each round."""
    nets = all_networks()
    models, costs = {}, {}
    for name in args.models:
        builder, kwargs = nets[name]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(args.seed)
            model = create_model(builder, **kwargs).eval()
        models[name] = model
        costs[name] = (count_params(model), count_macs(model, (1, 3, args.resolution, args.resolution)))
    times: dict[tuple[str, int], list[float]] = {(n, b): [] for n in models for b in args.batch_sizes}
    for name, model in models.items():  # warm-up, once
        for b in args.batch_sizes:
            time_model(model, (b, 3, args.resolution, args.resolution), repeats=1, warmup=args.warmup,
                       threads=args.threads, seed=args.seed)
    loads = []
    names = list(models)
    for r in range(args.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            for b in args.batch_sizes:
                t = time_model(models[name], (b, 3, args.resolution, args.resolution), repeats=args.repeats,
                               warmup=0, threads=args.threads, seed=args.seed)
                times[(name, b)].extend(t.times_s)
        loads.append(machine_info()["load_average_1_5_15"])
    rows = []
    for name in names:
        timings = {b: Timing(tuple(times[(name, b)]), number=1, warmup=args.warmup, threads=args.threads,
                             label=f"{name} batch {b}") for b in args.batch_sizes}
        rows.append(ModelLatency(name, costs[name][0], costs[name][1], args.resolution, timings))
    return rows, loads


def render_markdown(payload: dict) -> str:
    """The results file's Markdown summary: machine, load, settings, one row per network."""
    m, c = payload["machine"], payload["config"]
    rows = []
    for r in payload["results"]["models"]:
        lat = ModelLatency.from_dict(r)
        row = {"name": r["name"], "params": r["params"], "macs": r["macs"] / 1e6}
        for b in c["batch_sizes"]:
            row[f"ms{b}"] = lat.ms_per_image(b)
            row[f"iqr{b}"] = lat.timings[b].iqr_ms / b
        rows.append(row)
    columns = [("name", "network"), ("params", "params"), ("macs", "mult-adds (M)")]
    for b in c["batch_sizes"]:
        columns += [(f"ms{b}", f"ms/image, batch {b} (median)"), (f"iqr{b}", "IQR (ms)")]
    warning = load_warning(m)
    return "\n".join([
        "# CPU latency: ShuffleNet V1 and V2 beside the book's other networks",
        "",
        f"Machine: {m['cpu_model']}, {m['logical_cpus']} logical CPUs, {m['threads']} torch threads; "
        f"torch {m['torch_version']}, Python {m['python_version']}; {m['date_utc']}; "
        f"load average before the run (1/5/15 min): {m['load_average_1_5_15']}, "
        f"after: {m.get('load_average_after_1_5_15')}.",
        "",
        *([f"**{warning}**", ""] if warning else []),
        f"Input {c['resolution']}×{c['resolution']}, eager PyTorch, eval mode; {c['rounds']} interleaved rounds of "
        f"{c['repeats']} timed runs per network (median of {c['rounds'] * c['repeats']}) after {c['warmup']} "
        "warm-up runs.",
        "",
        records_markdown(rows, columns),
        "",
        f"Produced by `benchmarks/shufflenet.py`; raw repeats in `{c['name']}.json`.",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info(threads=args.threads)  # the load before this run adds its own
    rows, loads = measure(args)
    machine["load_average_after_1_5_15"] = machine_info()["load_average_1_5_15"]
    machine["load_average_per_round"] = loads
    nets = all_networks()
    config = {
        "name": args.name,
        "models": args.models,
        "builders": {n: {"model": nets[n][0], **nets[n][1]} for n in args.models},
        "batch_sizes": args.batch_sizes,
        "resolution": args.resolution,
        "rounds": args.rounds,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "threads": args.threads,
        "seed": args.seed,
        "mode": "eager, eval, torch.inference_mode, float32; interleaved rounds",
    }
    results = {"models": [r.to_dict() for r in rows]}
    path = save_results(args.out_dir / f"{args.name}.json", results, machine=machine, config=config)
    payload = {"machine": machine, "config": config, "results": results}
    (args.out_dir / f"{args.name}.md").write_text(render_markdown(payload), encoding="utf-8")
    print(f"wrote {path} and {path.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
