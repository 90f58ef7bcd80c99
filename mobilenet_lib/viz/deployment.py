"""Figures, tables and the widget of the chapter "From FLOPs to milliseconds".

Reading the benchmark (``benchmarks/deploy.py`` writes ``benchmarks/results/deploy.json``):

- :func:`load_deploy_results`  the committed result file (or any other run's)
- :func:`speed_rows`           one row per (batch size, form): ms, images/s, GFLOP/s, share of the
                               matmul peak, speed-up over eager
- :func:`accuracy_rows`        float32, prepared and int8 accuracy on the digits
- :func:`plot_speed`           one metric of every form at one batch size (a pure function of the
                               controls, so :func:`~mobilenet_lib.viz.static_view.static_view` can
                               pre-render it)
- :func:`speed_widget`         the chapter's widget: a batch-size and a metric menu around it

Where the time goes:

- :func:`plot_time_vs_macs`    each kind of layer's share of the mult-adds beside its share of the
                               measured time (from :func:`mobilenet_lib.deploy.profile_layers`)

matplotlib and ipywidgets are imported inside the functions.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mobilenet_lib.viz.style import KIND_COLORS, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mobilenet_lib.deploy import LatencyProfile

__all__ = [
    "FORM_LABELS",
    "METRICS",
    "DEFAULT_RESULTS",
    "load_deploy_results",
    "speed_rows",
    "accuracy_rows",
    "plot_speed",
    "speed_widget",
    "plot_time_vs_macs",
]

#: How the chapter names each form of the model (the benchmark's keys, in its order).
FORM_LABELS: dict[str, str] = {
    "eager": "eager",
    "folded": "BN folded",
    "folded+channels_last": "folded +\nchannels-last",
    "compiled": "compiled\n(inductor)",
    "int8": "int8",
}

#: The metrics :func:`plot_speed` can show: menu label -> key of a :func:`speed_rows` row.
METRICS: dict[str, str] = {
    "images/s": "images_per_s",
    "× eager": "speedup",
    "GFLOP/s": "gflops",
    "% of matmul peak": "peak_pct",
}

_FORM_COLORS = {
    "eager": "#7f7f7f",
    "folded": "#9ecae1",
    "folded+channels_last": "#3182bd",
    "compiled": "#08519c",
    "int8": "#e6550d",
}

#: The committed result file of ``benchmarks/deploy.py`` (in the repository, beside the library).
DEFAULT_RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "deploy.json"


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_deploy_results(path: str | Path | None = None) -> dict[str, Any]:
    """The payload ``benchmarks/deploy.py`` wrote (``machine``, ``config``, ``results``).

    ``None`` reads :data:`DEFAULT_RESULTS`. Cached per file and modification time, so a widget
    can call it on every update. Treat the result as read-only.

    Raises:
        ValueError: if the file does not exist or is not a result of ``benchmarks/deploy.py``.
    """
    p = Path(DEFAULT_RESULTS if path is None else path)
    if not p.is_file():
        raise ValueError(f"no benchmark results at {p}; run `.venv/bin/python benchmarks/deploy.py` first")
    payload = _load(str(p), p.stat().st_mtime)
    if not isinstance(payload, dict) or "speed" not in payload.get("results", {}):
        raise ValueError(f"{p} is not a result of benchmarks/deploy.py (no results.speed)")
    return payload


def _payload(payload: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if payload is None:
        return load_deploy_results()
    if not isinstance(payload, Mapping) or "speed" not in payload.get("results", {}):
        raise ValueError("payload must be the dict benchmarks/deploy.py writes (see load_deploy_results)")
    return payload


def speed_rows(payload: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """One row per (batch size, form), in the benchmark's order.

    Keys: ``batch``, ``form``, ``ms`` (median per batch), ``iqr_ms``, ``images_per_s``, ``gflops``
    (2 × mult-adds / time), ``peak_pct`` (``gflops`` as a percentage of the large-matmul GFLOP/s of
    the same run), ``speedup`` (eager's ms / this form's; ``None`` without an eager row),
    ``first_call_s`` (the compile time for the compiled form) and ``max_relative_error`` (of the
    logits against eager's; ``None`` for eager).

    Raises:
        ValueError: if ``payload`` is not a result of ``benchmarks/deploy.py``.
    """
    speed = _payload(payload)["results"]["speed"]
    peak, macs = float(speed["matmul_gflops"]), int(speed["macs_per_image"])
    rows = []
    for b, forms in speed["batches"].items():
        base = forms["eager"]["timing"]["median_ms"] if "eager" in forms else None
        for form, r in forms.items():
            ms = float(r["timing"]["median_ms"])
            gflops = 2 * macs * int(b) / (ms / 1e3) / 1e9
            rows.append({
                "batch": int(b),
                "form": form,
                "ms": ms,
                "iqr_ms": float(r["timing"]["iqr_ms"]),
                "images_per_s": int(b) / (ms / 1e3),
                "gflops": gflops,
                "peak_pct": 100 * gflops / peak,
                "speedup": base / ms if base else None,
                "first_call_s": r.get("first_call_s"),
                "max_relative_error": r.get("max_relative_error") if form != "eager" else None,
            })
    return rows


def accuracy_rows(payload: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Test accuracy (%) on the digits of the float32 model, the prepared one and the int8 one.

    Raises:
        ValueError: if the payload holds no accuracy part (the run had ``--skip-accuracy``).
    """
    acc = _payload(payload)["results"].get("accuracy")
    if not acc:
        raise ValueError("these results have no accuracy part (benchmarks/deploy.py ran with --skip-accuracy)")
    return [
        {"model": "float32 (eager)", "accuracy_pct": 100 * acc["fp32_accuracy"]},
        {"model": "float32 (prepared)", "accuracy_pct": 100 * acc["prepared_accuracy"]},
        {"model": "int8", "accuracy_pct": 100 * acc["int8_accuracy"]},
    ]


def _batches(payload: Mapping[str, Any]) -> list[int]:
    return [int(b) for b in payload["results"]["speed"]["batches"]]


def plot_speed(payload: Mapping[str, Any] | None = None, batch: int = 16, metric: str = "images/s") -> Figure:
    """Bars: ``metric`` (a key of :data:`METRICS`) of every form of the model at batch size ``batch``.

    ``payload`` defaults to the committed results. For GFLOP/s the large-matmul GFLOP/s of the same
    run is drawn as a line: the most the machine's float32 arithmetic gave to a large matrix product.

    Raises:
        ValueError: for a metric not in :data:`METRICS` or a batch size the run did not time.
    """
    payload = _payload(payload)
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    batches = _batches(payload)
    if batch not in batches:
        raise ValueError(f"batch must be one of the timed batch sizes {batches}, got {batch!r}")
    rows = [r for r in speed_rows(payload) if r["batch"] == batch]
    key = METRICS[metric]
    values = [r[key] if r[key] is not None else 0.0 for r in rows]

    fig = new_figure(6.4, 3.4)
    ax = fig.add_subplot()
    labels = [FORM_LABELS.get(r["form"], r["form"]) for r in rows]
    bars = ax.bar(labels, values, color=[_FORM_COLORS.get(r["form"], "#999999") for r in rows])
    fmt = "{:.2f}×" if key == "speedup" else "{:,.1f}" if max(values) < 100 else "{:,.0f}"
    ax.bar_label(bars, labels=[fmt.format(v) for v in values], padding=2, fontsize=9)
    if key == "gflops":
        peak = float(payload["results"]["speed"]["matmul_gflops"])
        ax.axhline(peak, color="black", linestyle="--", linewidth=1)
        ax.text(len(rows) - 0.5, peak, f"large matmul: {peak:.0f} GFLOP/s", ha="right", va="bottom", fontsize=8)
        ax.set_ylim(0, 1.15 * max(peak, max(values)))
    elif key == "speedup":
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_ylim(0, 1.2 * max(values))
    else:
        ax.set_ylim(0, 1.2 * max(values))
    m = payload["machine"]
    ax.set_ylabel(metric)
    ax.set_title(f"MobileNet V2, batch {batch}, {m['threads']} threads ({m['cpu_model']})", fontsize=10)
    ax.tick_params(axis="x", labelsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def speed_widget(payload: Mapping[str, Any] | None = None, batch: int = 16, metric: str = "images/s") -> Any:
    """A batch-size toggle and a metric menu around :func:`plot_speed` (reads stored numbers: fast)."""
    import ipywidgets as widgets
    from IPython.display import display

    payload = _payload(payload)
    plot_speed(payload, batch, metric).clear()  # validates the starting values before any widget exists
    batch_w = widgets.ToggleButtons(options=_batches(payload), value=batch, description="batch")
    metric_w = widgets.Dropdown(options=list(METRICS), value=metric, description="show")
    out = widgets.Output()

    def redraw(*_: Any) -> None:
        with out:
            out.clear_output(wait=True)
            display(plot_speed(payload, batch_w.value, metric_w.value))

    batch_w.observe(redraw, names="value")
    metric_w.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([batch_w, metric_w]), out])


def plot_time_vs_macs(profiles: Mapping[str, LatencyProfile]) -> Figure:
    """For each profiled model (title -> :class:`~mobilenet_lib.deploy.LatencyProfile`), each kind of
    layer's share of the mult-adds beside its share of the measured time.

    "other" is the time outside convolution and linear layers (activations, separate BatchNorm
    layers, additions, pooling); it has no mult-adds.

    Raises:
        ValueError: if ``profiles`` is empty or holds something else.
    """
    from mobilenet_lib.deploy import LatencyProfile

    if not isinstance(profiles, Mapping) or not profiles:
        raise ValueError("profiles must be a non-empty dict of title -> LatencyProfile")
    for title, p in profiles.items():
        if not isinstance(p, LatencyProfile):
            raise ValueError(f"profiles[{title!r}] must be a LatencyProfile (from profile_layers), got {type(p).__name__}")

    fig = new_figure(3.9 * len(profiles) + 0.6, 3.6)
    axes = fig.subplots(1, len(profiles), sharey=True, squeeze=False)[0]
    for ax, (title, prof) in zip(axes, profiles.items()):
        kinds = prof.by_kind()
        x = range(len(kinds))
        colors = [KIND_COLORS.get(k.kind, "#bbbbbb") for k in kinds]
        ax.bar([i - 0.2 for i in x], [100 * k.macs_share for k in kinds], 0.4, color=colors, alpha=0.45,
               edgecolor=colors, hatch="//", label="share of mult-adds")
        bars = ax.bar([i + 0.2 for i in x], [100 * k.time_share for k in kinds], 0.4, color=colors,
                      label="share of time")
        ax.bar_label(bars, fmt="%.0f", padding=1, fontsize=8)
        ax.set_xticks(list(x), [k.kind for k in kinds], fontsize=8)
        ax.set_title(f"{title}\n{prof.total_ms:.1f} ms per pass", fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_ylabel("% of the whole pass")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    return fig
