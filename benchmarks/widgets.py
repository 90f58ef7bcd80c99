#!/usr/bin/env python
"""How long each of the book's widgets takes to answer a control move, on this machine.

Every widget builder in ``mobilenet_lib.viz`` (the registry the tests use) is built with its
defaults and every control is moved across its range, as in
``tests/test_widget_responsiveness.py``; figures a callback displays are rendered to PNG, as the
notebook's inline backend would, so drawing is part of the time. Each move is timed (wall clock
and this process's CPU time, garbage collection held off as ``timeit`` does) over ``--rounds``
rounds after one untimed warm-up round, and its work is counted once (draws, pixels, points,
torch calls: what the test suite bounds, since no load can change it). Writes ``<name>.json``
and ``<name>.md`` to ``--out-dir``.

Full run, from the repository root (about two minutes on two idle cores)::

    .venv/bin/python benchmarks/widgets.py

Check ``uptime`` first; the load average is written into the results.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from mobilenet_lib.benchmark import load_warning, machine_info, save_results
from mobilenet_lib.tables import records_markdown
from mobilenet_lib.viz import widget_driver

RESULTS_DIR = Path(__file__).resolve().parent / "results"
BUDGET_MS = 500.0  # the book promises an answer well under a second; half a second is the line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--widgets", nargs="+", help="registry names (module.function); default: all")
    p.add_argument("--rounds", type=int, default=3, help="timed passes over every move")
    p.add_argument("--positions", type=int, default=5, help="positions per control, ends included")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--name", default="widgets", help="file stem of the outputs")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.positions < 2:
        p.error("--rounds must be at least 1 and --positions at least 2")
    return args


def _timer(cpu: list[float]):
    def timed(move) -> float:
        gc.collect()
        gc.disable()
        try:
            start, start_cpu = time.perf_counter(), time.process_time()
            move()
            wall = time.perf_counter() - start
            cpu.append(time.process_time() - start_cpu)
        finally:
            gc.enable()
        return wall

    return timed


def measure(name: str, builder: Any, rounds: int, positions: int) -> dict[str, Any]:
    """Time and count every move of one widget."""
    screen = widget_driver.Screen()
    with screen.shown():
        box = builder()
        counted = list(widget_driver.drive(box, screen, positions))  # also the warm-up round
        wall, cpu = [], []
        for _ in range(rounds):
            wall += [m.seconds for m in widget_driver.drive(box, screen, positions, timer=_timer(cpu))]
    return {
        "widget": name,
        "moves": len(counted),
        "median_ms": round(1e3 * statistics.median(wall), 1),
        "p90_ms": round(1e3 * statistics.quantiles(wall, n=10, method="inclusive")[-1], 1) if len(wall) > 1 else round(1e3 * wall[0], 1),
        "worst_ms": round(1e3 * max(wall), 1),
        "median_cpu_ms": round(1e3 * statistics.median(cpu), 1),
        "max_work_per_move": widget_driver.max_work(counted),
    }


def render_markdown(payload: dict[str, Any]) -> str:
    m = payload["machine"]
    isa = m["instruction_sets"]
    lines = [
        "# Widget response times",
        "",
        f"Machine: {m['cpu_model']} ({m['logical_cpus']} logical CPUs; {', '.join(isa['cpu_flags'])}; "
        f"ATen kernels {isa['aten_cpu_capability']}), torch {m['torch_version']}, Python {m['python_version']}, "
        f"{m['date_utc']}, load average before: {m['load_average_1_5_15']}, after: {m['load_average_after_1_5_15']}.",
        "",
        f"Every control moved across its range ({payload['config']['positions']} positions, then back), "
        f"{payload['config']['rounds']} timed rounds after a warm-up round; figures rendered to PNG as the "
        f"notebook does. Budget: {BUDGET_MS:g} ms per move. Command: `.venv/bin/python benchmarks/widgets.py`.",
        "",
    ]
    warning = load_warning(m)
    if warning:
        lines += [f"**{warning}**", ""]
    columns = [("widget", "widget"), ("moves", "moves"), ("median_ms", "median ms"), ("p90_ms", "p90 ms"),
               ("worst_ms", "worst ms"), ("median_cpu_ms", "median CPU ms")]
    lines.append(records_markdown(payload["results"], columns))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    args = parse_args(argv)
    builders = dict(widget_driver.widget_builders())
    names = args.widgets or sorted(builders)
    unknown = sorted(set(names) - set(builders))
    if unknown:
        raise SystemExit(f"unknown widgets {unknown}; the registry holds {sorted(builders)}")
    machine = machine_info()
    results = []
    for name in names:
        results.append(measure(name, builders[name], args.rounds, args.positions))
        print(f"{name}: median {results[-1]['median_ms']} ms over {results[-1]['moves']} moves", file=sys.stderr)
    machine["load_average_after_1_5_15"] = machine_info()["load_average_1_5_15"]
    config = {"name": args.name, "rounds": args.rounds, "positions": args.positions, "budget_ms": BUDGET_MS}
    path = save_results(args.out_dir / f"{args.name}.json", results, machine=machine, config=config)
    payload = {"machine": machine, "config": config, "results": results}
    path.with_suffix(".md").write_text(render_markdown(payload), encoding="utf-8")
    print(f"wrote {path} and {path.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
