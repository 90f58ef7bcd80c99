#!/usr/bin/env python
"""How heavy the in-browser explorer (book/explorer.md) is, and how soon it answers, in Chromium.

Opens the built page ``--rounds`` times, each in a fresh browser context (no cache), over HTTP from
a local static server and from ``file://``, and records from the page's own marks
(``window.mobilenetExplorer.api.timings``, milliseconds since the page's start): when its scripts
had loaded (runtime, WebAssembly binary, models), when the WebAssembly binary was unpacked, when
the first network's session was ready, and when the first classification was on the page; plus
the first ``session.run`` alone (``first_run_ms``) and the median of ten further runs. Page weight
is the bytes the page fetched (Resource Timing's body sizes, uncompressed: the static server does
not compress), the explorer's and a chapter's, for comparison. Writes ``explorer.json`` and
``explorer.md`` to ``--out-dir``.

The site comes from ``--site`` (a built ``_build/html``) or is built into a temporary folder.
Full run, from the repository root::

    .venv/bin/python benchmarks/explorer.py --site /tmp/explorer-build/_build/html

Check ``uptime`` first; the load average is written into the results.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import subprocess
import sys
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mobilenet_lib.benchmark import load_warning, machine_info, save_results

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
PAGE = "book/explorer.html"
CHAPTER = "book/depthwise_separable.html"
MARKS = ("scripts_loaded", "wasm_unpacked", "session_created", "first_inference")

_WEIGHT_JS = """() => {
  const entries = performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'));
  let total = 0; const files = {};
  for (const e of entries) { const b = e.decodedBodySize || 0; total += b; files[e.name] = b; }
  return {total: total, files: files};
}"""

_TIMINGS_JS = """async () => {
  const api = window.mobilenetExplorer.api, t = {};
  for (const [k, v] of Object.entries(api.timings)) t[k] = k.endsWith('_ms') ? v : v - api.start;
  const nav = performance.getEntriesByType('navigation')[0];
  t.dom_content_loaded = nav.domContentLoadedEventEnd; t.load_event = nav.loadEventEnd;
  const digit = Float32Array.from(window.mobilenetExplorer.digits.images[1]), runs = [];
  for (let i = 0; i < 10; i++) { runs.push((await api.classify(digit)).run_ms); }
  runs.sort((a, b) => a - b);
  t.later_run_median_ms = runs[5];
  return t;
}"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--site", type=Path, default=None, help="a built book (_build/html); default: build one")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--name", default="explorer")
    return p.parse_args(argv)


def _build() -> Path:
    out = Path(tempfile.mkdtemp(prefix="explorer-bench-"))
    jb = Path(sys.executable).with_name("jupyter-book")
    subprocess.run([str(jb), "build", "--all", "--path-output", str(out), str(ROOT)], check=True,
                   capture_output=True, cwd=ROOT)
    return out / "_build" / "html"


def _one(browser: Any, url: str) -> dict[str, Any]:
    context = browser.new_context()
    context.add_init_script("localStorage.setItem('mode', 'light'); localStorage.setItem('theme', 'light');")
    page = context.new_page()
    try:
        page.goto(url, wait_until="load", timeout=180_000)
        page.wait_for_function("() => window.mobilenetExplorer && window.mobilenetExplorer.api && "
                               "window.mobilenetExplorer.api.timings.first_inference", timeout=180_000)
        timings = page.evaluate(_TIMINGS_JS)
        weight = page.evaluate(_WEIGHT_JS)
        return {"timings_ms": {k: round(v, 1) for k, v in timings.items()}, "bytes": weight["total"]}
    finally:
        context.close()


def _chapter_weight(browser: Any, url: str) -> int:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(url, wait_until="networkidle", timeout=180_000)
        return int(page.evaluate(_WEIGHT_JS)["total"])
    finally:
        context.close()


def _summary(rounds: list[dict[str, Any]]) -> dict[str, float]:
    keys = rounds[0]["timings_ms"].keys()
    return {k: round(statistics.median(r["timings_ms"][k] for r in rounds), 1) for k in keys}


def _markdown(results: dict[str, Any], machine: dict[str, Any], command: str) -> str:
    lines = ["# The in-browser explorer: page weight and time to the first classification", "",
             f"Machine: {machine.get('cpu_model', '?')} ({machine.get('logical_cpus', '?')} logical CPUs), "
             f"Chromium {results['chromium']}, {machine.get('date_utc', '')}, load average before: "
             f"{results['load_before']}, after: {machine.get('load_average_1_5_15')}.", "",
             *([f"**{results['warning']}**", ""] if results.get("warning") else []),
             f"Median of {results['rounds']} cold loads (fresh browser context each), milliseconds from the page's "
             f"start. Command: `{command}`.", "",
             "| from | scripts loaded | wasm unpacked | first session | first classification shown | "
             "first run alone | later runs (median) | load event |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for where in ("http", "file"):
        s = results[where]["median_ms"]
        lines.append(f"| {where} | {s['scripts_loaded']:.0f} | {s['wasm_unpacked']:.0f} | {s['session_created']:.0f} | "
                     f"{s['first_inference']:.0f} | {s['first_run_ms']:.1f} | {s['later_run_median_ms']:.2f} | "
                     f"{s['load_event']:.0f} |")
    lines += ["", f"Page weight (bytes fetched, uncompressed): explorer {results['explorer_bytes'] / 2**20:.2f} MiB "
              f"(of which the WebAssembly runtime {results['runtime_bytes'] / 2**20:.2f} MiB and the three models "
              f"{results['models_bytes'] / 2**10:.0f} KiB); a chapter ({CHAPTER}) {results['chapter_bytes'] / 2**20:.2f} MiB.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from playwright.sync_api import sync_playwright

    before = machine_info(1)
    load_before = before.get("load_average_1_5_15")
    site = args.site.resolve() if args.site else _build()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    results: dict[str, Any] = {"rounds": args.rounds, "load_before": load_before, "warning": load_warning(before)}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_FLAGS)
            results["chromium"] = browser.version
            for where, url in (("http", f"{base}/{PAGE}"), ("file", (site / PAGE).as_uri())):
                rounds = [_one(browser, url) for _ in range(args.rounds)]
                results[where] = {"median_ms": _summary(rounds), "rounds": rounds}
            results["explorer_bytes"] = results["http"]["rounds"][0]["bytes"]
            results["chapter_bytes"] = _chapter_weight(browser, f"{base}/{CHAPTER}")
            browser.close()
    finally:
        server.shutdown()
    vendor = site / "vendor" / "onnxruntime-web"
    results["runtime_bytes"] = sum(f.stat().st_size for f in vendor.iterdir() if f.suffix == ".js")
    results["models_bytes"] = (site / "explorer" / "models.js").stat().st_size
    machine = machine_info(1)
    command = " ".join([".venv/bin/python", "benchmarks/explorer.py", *(argv if argv is not None else sys.argv[1:])])
    args.out_dir.mkdir(parents=True, exist_ok=True)
    save_results(args.out_dir / f"{args.name}.json", results, machine=machine, config={"command": command, **{
        k: str(v) for k, v in vars(args).items()}})
    (args.out_dir / f"{args.name}.md").write_text(_markdown(results, machine, command) + "\n")
    print(_markdown(results, machine, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
