#!/usr/bin/env python
"""ShuffleNet V2's guideline experiments (G1-G4) timed on this machine's CPU.

Builds each guideline's networks with ``mobilenet_lib.experiments.shufflenet_latency`` (the paper's setup: 56×56
maps, 10 stacked units, batch 1, mult-adds held (nearly) fixed within an experiment), counts
their mult-adds and memory access cost, and times them with one and with two threads. Writes
``<name>.json`` (every repeat, machine, configuration) and ``<name>.md`` (one table per
guideline and width, beside the paper's relative speeds) to ``--out-dir``.

Full run, from the repository root (15 minutes on the busy shared 2-core development machine,
load average about 11, under `nice -n 10`; an idle machine needs far less)::

    .venv/bin/python benchmarks/guidelines.py

Tiny run (seconds; what the tests do)::

    .venv/bin/python benchmarks/guidelines.py --widths G1=8 G2=8 G3=8 G4=4 --size 8 --units 2 \\
        --repeats 2 --warmup 1 --threads 1 --out-dir /tmp/guidelines

Check ``uptime`` first; the load average is written into the results.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mobilenet_lib.benchmark import load_warning, machine_info, save_results
from mobilenet_lib.experiments.shufflenet_latency import (
    GUIDELINES,
    PAPER_TABLES,
    GuidelineResult,
    comparison_columns,
    comparison_rows,
    run_guideline,
)
from mobilenet_lib.tables import records_markdown

#: Widths per guideline: the paper's ARM "×1" and GPU "×1" settings (G4: the unit's inner width).
DEFAULT_WIDTHS = {"G1": (32, 128), "G2": (64, 128), "G3": (64, 128), "G4": (32, 64)}
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _widths(items: list[str]) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for item in items:
        key, _, values = item.partition("=")
        if key not in GUIDELINES or not values:
            raise SystemExit(f"--widths takes items like G1=32,128 (guidelines {sorted(GUIDELINES)}); got {item!r}")
        try:
            out[key] = tuple(int(v) for v in values.split(","))
        except ValueError:
            raise SystemExit(f"--widths: {values!r} is not a comma-separated list of integers") from None
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--widths",
        nargs="+",
        default=[f"{g}={','.join(map(str, w))}" for g, w in DEFAULT_WIDTHS.items()],
        help="guidelines to run and their widths, e.g. G1=32,128 G4=32",
    )
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2], help="torch intra-op thread counts")
    p.add_argument("--size", type=int, default=56, help="feature map size")
    p.add_argument("--units", type=int, default=10, help="stacked units per network")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--repeats", type=int, default=40, help="timed calls per variant, over all rounds")
    p.add_argument("--rounds", type=int, default=4, help="interleaved rounds over one guideline's variants")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--name", default="guidelines", help="file stem of the outputs")
    args = p.parse_args(argv)
    args.widths = _widths(args.widths)
    return args


def after_load(machine: dict) -> str:
    """", after: [...]" when the results file recorded the load average at the end of the run."""
    after = machine.get("load_average_after_1_5_15")
    return f", after: {after}" if after else ""


def render_markdown(payload: dict) -> str:
    """One table per guideline and width, measured speeds beside the paper's."""
    m, c = payload["machine"], payload["config"]
    lines = [
        "# ShuffleNet V2's guidelines on this CPU",
        "",
        f"Machine: {m['cpu_model']}, {m['logical_cpus']} logical CPUs; torch {m['torch_version']}, "
        f"Python {m['python_version']}; {m['date_utc']}; load average before the run (1/5/15 min): "
        f"{m.get('load_average_1_5_15')}{after_load(m)}.",
        "",
        *([f"**{warning}**", ""] if (warning := load_warning(m)) else []),
        f"{c['units']} stacked units on {c['size']}×{c['size']} maps, batch {c['batch']}, no batch norm "
        f"(folded, as in deployment); median of {c['repeats']} runs, timed in {c.get('rounds', 1)} "
        f"interleaved rounds over each guideline's variants, after {c['warmup']} warm-up runs. "
        "Relative speed = the first variant's time / this variant's time (above 1: faster). The paper's "
        "columns are its Tables 1-4 at its own '×1' widths (GPU: GTX 1080Ti, batch 8; ARM: Snapdragon 810, "
        "one thread).",
        "",
    ]
    for entry in payload["results"]:
        runs = {int(t): [GuidelineResult.from_dict(r) for r in rows] for t, rows in entry["runs"].items()}
        g = entry["guideline"]
        lines += [
            f"## {g}: {GUIDELINES[g]} (width {entry['width']}; paper Table {PAPER_TABLES[g].table})",
            "",
            records_markdown(comparison_rows(runs), comparison_columns(list(runs))),
            "",
        ]
    lines += ["Produced by `benchmarks/guidelines.py`; raw repeats in " f"`{c['name']}.json`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info()
    machine["threads"] = args.threads
    results = []
    for guideline, widths in args.widths.items():
        for width in widths:
            runs = {
                str(t): [
                    r.to_dict()
                    for r in run_guideline(
                        guideline,
                        width,
                        size=args.size,
                        batch=args.batch,
                        units=args.units,
                        repeats=args.repeats,
                        warmup=args.warmup,
                        threads=t,
                        seed=args.seed,
                        rounds=args.rounds,
                    )
                ]
                for t in args.threads
            }
            results.append({"guideline": guideline, "width": width, "runs": runs})
    config = {
        "name": args.name,
        "widths": {g: list(w) for g, w in args.widths.items()},
        "threads": args.threads,
        "size": args.size,
        "units": args.units,
        "batch": args.batch,
        "rounds": args.rounds,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "seed": args.seed,
        "mode": "eager, eval, torch.inference_mode, float32",
    }
    # other processes may start or stop during a long run: record the load at its end too
    machine["load_average_after_1_5_15"] = machine_info()["load_average_1_5_15"]
    path = save_results(args.out_dir / f"{args.name}.json", results, machine=machine, config=config)
    payload = {"machine": machine, "config": config, "results": results}
    path.with_suffix(".md").write_text(render_markdown(payload), encoding="utf-8")
    print(f"wrote {path} and {path.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
