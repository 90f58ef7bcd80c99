"""Figures and the widget of the chapter "From FLOPs to milliseconds".

The numbers come from :mod:`mobilenet_lib.experiments.deployment` (the committed results of
``benchmarks/deploy.py``) and :func:`mobilenet_lib.deploy.profile_layers`; this module only draws:

- :func:`plot_speed`           one metric of every form at one batch size (a pure function of the
                               controls, so :func:`~mobilenet_lib.viz.static_view.static_view` can
                               pre-render it)
- :func:`speed_widget`         the chapter's widget: a batch-size and a metric menu around it
- :func:`plot_time_vs_macs`    each kind of layer's share of the mult-adds beside its share of the
                               measured time
- :func:`plot_runtime_profiles` PyTorch, ONNX Runtime and OpenVINO side by side: each one's
                               milliseconds per kind of layer at one batch size

matplotlib and ipywidgets are imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mobilenet_lib.experiments.deployment import (
    FORM_LABELS,
    METRICS,
    batches,
    checked_payload,
    profile_rows,
    speed_rows,
)
from mobilenet_lib.viz.style import KIND_COLORS, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mobilenet_lib.deploy import LatencyProfile

__all__ = [
    "plot_speed",
    "speed_widget",
    "plot_time_vs_macs",
    "plot_runtime_profiles",
    "plot_block_profiles",
]


_FORM_COLORS = {
    "eager": "#7f7f7f",
    "folded": "#9ecae1",
    "folded+channels_last": "#3182bd",
    "compiled": "#08519c",
    "onednn_graph": "#08306b",
    "int8": "#e6550d",
    "int8_inductor": "#a63603",
    "onnxruntime": "#31a354",
    "openvino": "#756bb1",
    "onnxruntime_int8": "#a1d99b",
    "openvino_int8": "#bcbddc",
}

#: How the profile figure names each profiled runtime.
_RUNTIME_LABELS = {
    "folded+channels_last": "PyTorch, folded +\nchannels-last",
    "compiled": "PyTorch,\ncompiled",
    "onednn_graph": "PyTorch,\noneDNN Graph",
    "onnxruntime": "ONNX Runtime",
    "openvino": "OpenVINO",
    "int8_inductor": "PyTorch int8,\ninductor",
    "onnxruntime_int8": "ONNX Runtime\nint8",
    "openvino_int8": "OpenVINO int8",
}


def plot_speed(payload: Mapping[str, Any] | None = None, batch: int = 16, metric: str = "images/s") -> Figure:
    """Bars: ``metric`` (a key of :data:`METRICS`) of every form of the model at batch size ``batch``.

    ``payload`` defaults to the committed results. For GFLOP/s the large-matmul GFLOP/s of the same
    run is drawn as a line: the most the machine's float32 arithmetic gave to a large matrix product.

    Raises:
        ValueError: for a metric not in :data:`METRICS` or a batch size the run did not time.
    """
    payload = checked_payload(payload)
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    timed = batches(payload)
    if batch not in timed:
        raise ValueError(f"batch must be one of the timed batch sizes {timed}, got {batch!r}")
    rows = [r for r in speed_rows(payload) if r["batch"] == batch]
    key = METRICS[metric]
    values = [r[key] if r[key] is not None else 0.0 for r in rows]

    fig = new_figure(6.9, 3.6)
    ax = fig.add_subplot()
    labels = [FORM_LABELS.get(r["form"], r["form"]) for r in rows]
    bars = ax.bar(labels, values, color=[_FORM_COLORS.get(r["form"], "#999999") for r in rows])
    fmt = "{:.2f}×" if key == "speedup" else "{:,.1f}" if max(values) < 100 else "{:,.0f}"
    ax.bar_label(bars, labels=[fmt.format(v) for v in values], padding=2, fontsize=8)
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
    ax.tick_params(axis="x", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def speed_widget(payload: Mapping[str, Any] | None = None, batch: int = 16, metric: str = "images/s") -> Any:
    """A batch-size toggle and a metric menu around :func:`plot_speed` (reads stored numbers: fast)."""
    import ipywidgets as widgets
    from IPython.display import display

    payload = checked_payload(payload)
    plot_speed(payload, batch, metric).clear()  # validates the starting values before any widget exists
    batch_w = widgets.ToggleButtons(options=batches(payload), value=batch, description="batch")
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


def plot_runtime_profiles(payload: Mapping[str, Any] | None = None, batch: int = 1,
                          precision: str = "float32") -> Figure:
    """Horizontal stacked bars: each profiled runtime's milliseconds per pass at ``batch``, split
    by kind of layer (full, depthwise and pointwise convolutions, the classifier, everything else),
    from the benchmark's per-kind profiles (each runtime timed by its own profiler), for the
    float32 or the int8 forms (``precision``).

    Raises:
        ValueError: if the results hold no profile at that batch size.
    """
    from mobilenet_lib.runtimes import KIND_ORDER

    payload = checked_payload(payload)
    rows = profile_rows(payload, batch, precision)[::-1]  # first runtime on top
    fig = new_figure(6.9, 0.55 * len(rows) + 1.5)
    ax = fig.add_subplot()
    left = [0.0] * len(rows)
    colors = {**KIND_COLORS, "other": "#d9d9d9"}
    for kind in KIND_ORDER:
        widths = [r["kinds"].get(kind, 0.0) for r in rows]
        if not any(widths):
            continue
        ax.barh(range(len(rows)), widths, left=left, color=colors.get(kind, "#bbbbbb"), label=kind, height=0.6)
        left = [a + w for a, w in zip(left, widths)]
    for i, r in enumerate(rows):
        total = r["total_ms"]
        ax.text(left[i], i, f" {total:,.0f} ms" if total >= 100 else f" {total:.1f} ms", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [_RUNTIME_LABELS.get(r["runtime"], r["runtime"]) for r in rows], fontsize=8)
    ax.set_xlim(0, 1.18 * max(left))
    ax.set_xlabel(f"ms per batch of {batch} (each runtime's own profiler)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=5, fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def plot_block_profiles(payload: Mapping[str, Any] | None = None, batch: int = 1,
                        runtimes: tuple[str, ...] = ("onednn_graph", "openvino", "onnxruntime")) -> Figure:
    """Each runtime's milliseconds per block of the network at ``batch`` (the stem
    ``features.0``, the inverted residual blocks, the last 1 × 1 convolution and the classifier),
    one line per runtime, from the benchmark's profiles: where along the network one runtime
    gains or loses against another.

    Raises:
        ValueError: if a runtime was not profiled at that batch size or its profile has no blocks.
    """
    from mobilenet_lib.runtimes import block_order

    payload = checked_payload(payload)
    rows = {r["runtime"]: r for p in ("float32", "int8") for r in profile_rows(payload, batch, p)}
    for runtime in runtimes:
        if not rows.get(runtime, {}).get("blocks"):
            raise ValueError(f"no per-block profile of {runtime!r} at batch {batch} (profiled: {sorted(rows)})")
    names = sorted({b for r in runtimes for b in rows[r]["blocks"]}, key=block_order)
    fig = new_figure(6.9, 3.0)
    ax = fig.add_subplot()
    x = range(len(names))
    for runtime in runtimes:
        blocks = rows[runtime]["blocks"]
        ax.plot(x, [blocks.get(b, 0.0) for b in names], marker="o", markersize=3.5, linewidth=1.4,
                color=_FORM_COLORS.get(runtime, "#555555"), label=_RUNTIME_LABELS.get(runtime, runtime).replace("\n", " "))
    ax.set_xticks(list(x), ["fc" if b == "classifier" else b.rsplit(".", 1)[1] for b in names], fontsize=8)
    ax.set_xlabel("block (features.i; fc: the classifier)")
    ax.set_ylabel(f"ms per batch of {batch}")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
