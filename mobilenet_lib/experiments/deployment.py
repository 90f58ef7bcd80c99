"""The deployment chapter's study: what each inference step buys, read from the committed benchmark.

``benchmarks/deploy.py`` times MobileNet V2 in every form the library can prepare (eager, batch
norm folded, channels-last, compiled, int8) and in its two CPU peers, ONNX Runtime and OpenVINO
(float32 and each one's int8 path), and measures every int8 path's accuracy on the digits; it
writes ``benchmarks/results/deploy.json``. :func:`load_deploy_results` reads that file (cached, so
a widget can call it on every move), :func:`speed_rows` turns it into one row per (batch, form)
with images/s, speed-up over eager, GFLOP/s and the share of the machine's matmul peak,
:func:`accuracy_rows` gives the accuracy of each form, :func:`race` the best PyTorch form against
the best peer at each batch size and precision, :func:`graph_counts` the operators of each
runtime's fused graph and :func:`profile_rows` each runtime's time per kind of layer.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "FORM_LABELS",
    "METRICS",
    "DEFAULT_RESULTS",
    "load_deploy_results",
    "speed_rows",
    "accuracy_rows",
    "checked_payload",
    "batches",
    "PYTORCH_FORMS",
    "PEER_FORMS",
    "race",
    "graph_counts",
    "profile_rows",
]


#: How the chapter names each form of the model (the benchmark's keys, in its order).
FORM_LABELS: dict[str, str] = {
    "eager": "eager",
    "folded": "BN folded",
    "folded+channels_last": "folded +\nchannels-last",
    "compiled": "compiled\n(inductor)",
    "onednn_graph": "oneDNN\nGraph",
    "int8": "int8\n(FX)",
    "int8_inductor": "int8\n(inductor)",
    "onnxruntime": "ONNX\nRuntime",
    "openvino": "OpenVINO",
    "onnxruntime_int8": "ONNX Rt.\nint8",
    "openvino_int8": "OpenVINO\nint8",
}

#: The project's own forms and the peers', by precision.
PYTORCH_FORMS: dict[str, tuple[str, ...]] = {
    "float32": ("eager", "folded", "folded+channels_last", "compiled", "onednn_graph"),
    "int8": ("int8", "int8_inductor"),
}
PEER_FORMS: dict[str, tuple[str, ...]] = {
    "float32": ("onnxruntime", "openvino"),
    "int8": ("onnxruntime_int8", "openvino_int8"),
}


#: The metrics :func:`plot_speed` can show: menu label -> key of a :func:`speed_rows` row.
METRICS: dict[str, str] = {
    "images/s": "images_per_s",
    "× eager": "speedup",
    "GFLOP/s": "gflops",
    "% of matmul peak": "peak_pct",
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


def checked_payload(payload: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """``payload`` if it is a ``benchmarks/deploy.py`` result; ``None`` reads the committed file."""
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
    ``first_call_s`` (the compile time for the compiled form), ``max_relative_error`` (of the
    logits against eager's; ``None`` for eager) and ``cpu_ms_after_call`` (CPU milliseconds the
    process used in the 20 ms after a call, its threads spinning; ``None`` in older runs).

    Raises:
        ValueError: if ``payload`` is not a result of ``benchmarks/deploy.py``.
    """
    speed = checked_payload(payload)["results"]["speed"]
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
                "cpu_ms_after_call": r.get("cpu_ms_after_call"),
            })
    return rows


def accuracy_rows(payload: Mapping[str, Any] | None = None, *, peers: bool = False) -> list[dict[str, Any]]:
    """Test accuracy (%) on the digits of the float32 model, the prepared one and the int8 one,
    and with ``peers`` those of ONNX Runtime and OpenVINO (float32 and each one's int8 path).

    Each row: ``model``, ``accuracy_pct`` and ``agreement_pct`` (how many test images get the
    float32 eager model's prediction; ``None`` where the run did not record it).

    Raises:
        ValueError: if the payload holds no accuracy part (the run had ``--skip-accuracy``).
    """
    acc = checked_payload(payload)["results"].get("accuracy")
    if not acc:
        raise ValueError("these results have no accuracy part (benchmarks/deploy.py ran with --skip-accuracy)")
    names = {"int8_inductor": "int8 (PyTorch PT2E, inductor)",
             "onnxruntime": "float32 (ONNX Runtime)", "openvino": "float32 (OpenVINO)",
             "onnxruntime_int8": "int8 (ONNX Runtime)", "openvino_int8": "int8 (OpenVINO, NNCF)"}
    return [
        {"model": "float32 (eager)", "accuracy_pct": 100 * acc["fp32_accuracy"], "agreement_pct": 100.0},
        {"model": "float32 (prepared)", "accuracy_pct": 100 * acc["prepared_accuracy"], "agreement_pct": None},
        {"model": "int8 (PyTorch FX)", "accuracy_pct": 100 * acc["int8_accuracy"],
         "agreement_pct": 100 * acc["prediction_agreement"] if "prediction_agreement" in acc else None},
    ] + [
        {"model": names.get(form, form), "accuracy_pct": 100 * r["accuracy"], "agreement_pct": 100 * r["prediction_agreement"]}
        for form, r in (acc.get("peers", {}) if peers else {}).items()
    ]


def batches(payload: Mapping[str, Any]) -> list[int]:
    """The batch sizes the benchmark timed."""
    return [int(b) for b in payload["results"]["speed"]["batches"]]


def race(payload: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The fastest PyTorch form against the fastest peer, per batch size and precision.

    One row per (batch, precision) where both sides were timed: ``pytorch`` / ``peer`` (the
    winning form on each side), ``pytorch_ms`` / ``peer_ms`` (their medians) and ``ratio``
    (``peer_ms / pytorch_ms``: at least 1 when PyTorch is as fast as the best peer or faster).
    """
    rows = speed_rows(payload)
    out = []
    for b in sorted({r["batch"] for r in rows}):
        at = {r["form"]: r["ms"] for r in rows if r["batch"] == b}
        for precision in PYTORCH_FORMS:
            ours = [(at[f], f) for f in PYTORCH_FORMS[precision] if f in at]
            theirs = [(at[f], f) for f in PEER_FORMS[precision] if f in at]
            if ours and theirs:
                (t_ms, t_form), (p_ms, p_form) = min(ours), min(theirs)
                out.append({"batch": b, "precision": precision, "pytorch": t_form, "pytorch_ms": t_ms,
                            "peer": p_form, "peer_ms": p_ms, "ratio": p_ms / t_ms})
    return out


def graph_counts(payload: Mapping[str, Any] | None = None) -> dict[str, dict[str, int]]:
    """Operator counts the benchmark recorded: ``"<form>:exported"`` (the ONNX graph as exported)
    and ``"<form>:fused"`` (the graph the runtime runs after its fusions), for each peer form.

    Raises:
        ValueError: if the results hold no graph counts (an older run).
    """
    graphs = checked_payload(payload)["results"]["speed"].get("graphs")
    if not graphs:
        raise ValueError("these results have no operator counts (an older benchmarks/deploy.py run)")
    return graphs


def profile_rows(payload: Mapping[str, Any] | None = None, batch: int = 1,
                 precision: str = "float32") -> list[dict[str, Any]]:
    """Each profiled runtime's milliseconds per kind of layer at ``batch``, for the forms of
    ``precision`` (``"float32"`` or ``"int8"``, as in :data:`PYTORCH_FORMS` and :data:`PEER_FORMS`);
    one row per runtime: ``runtime``, ``total_ms``, ``kinds`` (kind -> ms), ``nodes`` (kind ->
    nodes per pass), ``blocks`` (block -> ms, where the runtime's profile names its nodes).

    Raises:
        ValueError: if ``precision`` is neither, or the results hold no profile for that batch size.
    """
    if precision not in PYTORCH_FORMS:
        raise ValueError(f"precision must be one of {sorted(PYTORCH_FORMS)}, got {precision!r}")
    profiles = checked_payload(payload)["results"]["speed"].get("profiles", {})
    if str(batch) not in profiles:
        raise ValueError(f"no per-kind profile at batch {batch!r} (profiled: {sorted(int(b) for b in profiles)})")
    forms = set(PYTORCH_FORMS[precision]) | set(PEER_FORMS[precision])
    return [{"runtime": form, "total_ms": p["total_ms"], "kinds": dict(p["kinds"]), "nodes": dict(p["nodes"]),
             "blocks": dict(p.get("blocks", {}))}
            for form, p in profiles[str(batch)].items() if form in forms]
