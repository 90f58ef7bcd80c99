#!/usr/bin/env python
"""From FLOPs to milliseconds: a MobileNet prepared for CPU inference, timed side by side, and
what int8 costs in accuracy.

Two parts, one run, one result file:

1. **Speed.** The same model (MobileNet V2 at 224×224 by default, random weights: speed does not
   depend on their values) in each of these forms, timed at each batch size:

   ``eager``                  the model as built, eval mode (the baseline);
   ``folded``                 BatchNorm folded into the convolutions;
   ``folded+channels_last``   and NHWC memory format;
   ``compiled``               and ``torch.compile`` (inductor, weights frozen);
   ``onednn_graph``           folded + channels-last, traced to TorchScript and run by the oneDNN
                              Graph fuser instead of inductor;
   ``int8``                   int8 post-training quantization (FX graph mode, x86 kernels);
   ``int8_inductor``          int8 post-training quantization (PT2E with ``X86InductorQuantizer``,
                              from ``torchao``), compiled by inductor into oneDNN int8 kernels;

   and, from the model's ONNX export (``mobilenet_lib.onnx_export.export_onnx``, dynamic batch),
   its peers in deployment (``mobilenet_lib.runtimes``):

   ``onnxruntime``            ONNX Runtime's CPU session, every graph optimization on;
   ``openvino``               OpenVINO's CPU plugin, one static-shape compilation per batch size;
   ``onnxruntime_int8``       ONNX Runtime static quantization (QDQ, per-channel int8 weights);
   ``openvino_int8``          NNCF post-training quantization, run by OpenVINO.

   No thread pool spins between calls: ONNX Runtime's intra-op spinning is off, OpenVINO's oneTBB
   workers sleep after a short spin, and PyTorch's OpenMP threads run with
   ``OMP_WAIT_POLICY=PASSIVE`` (``--omp-wait-policy=libgomp-default`` keeps libgomp's own policy,
   which spins at every barrier first; on a machine shared with other work that costs PyTorch
   several times its time; ``--omp-wait-policy=spin-briefly`` lets them spin a bounded while
   first, as OpenVINO's workers do). Every configuration is written into the results (``runtimes``), and
   for every form the CPU time the process burns in the 20 ms after a call (its threads spinning
   before they sleep) is measured (``cpu_ms_after_call``).
   The graphs each peer runs after its fusions are counted (``graphs``), and with each runtime's
   own profiler the time per kind of layer is measured for the float forms (``profiles``).

   Every form runs under ``torch.inference_mode`` on a fixed number of threads. The forms are
   timed in interleaved rounds (each round times every form once, ``--repeats`` times), so that
   a burst of load from elsewhere on the machine hits all of them alike; a form's median is over
   all its repeats. The first call of each form at each batch size is timed on its own: for the
   compiled form it is the compilation. Each form's images/s, GFLOP/s (2 × mult-adds / time, the
   mult-adds from ``mobilenet_lib.costs.count_macs``) and share of the GFLOP/s of one large float32
   matrix product (measured in the same run, before and after the models) are reported, and each
   float form's outputs are checked against eager's. By default glibc is first told to keep freed
   memory for reuse (``--allocator keep-freed``): with its defaults, every eager call page-faults
   its multi-megabyte activations back in, which times the operating system, not the network
   (``--allocator default`` measures exactly that; the chapter shows both).

2. **Accuracy.** A MobileNet V2 trained on the digits with ``mobilenet_lib.train`` (the trained
   weights are cached under ``--cache-dir``, keyed by the training settings), evaluated on the
   test split in float32, prepared, and int8 (calibrated on ``--calib-batches`` training batches),
   and in ONNX Runtime and OpenVINO, float32 and each one's int8 path (same calibration batches).

Full run, from the repository root (about three minutes on an idle 2-core machine, most of it
the training, which is cached for later runs), and the default-allocator comparison the chapter
reads::

    .venv/bin/python benchmarks/deploy.py
    .venv/bin/python benchmarks/deploy.py --allocator default --skip-accuracy --name deploy_default_allocator

Tiny run (a minute; what the tests do)::

    .venv/bin/python benchmarks/deploy.py --tiny --out-dir /tmp/deploy

Check ``uptime`` first: the load average is written into the results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: ``--omp-wait-policy``: libgomp reads OMP_WAIT_POLICY once, when torch loads it, so the flag is
#: looked at here, before torch is imported (argparse only documents and validates it).
OMP_POLICIES = ("passive", "spin-briefly", "libgomp-default")
#: ``spin-briefly``: libgomp's spin count at a barrier before its thread sleeps (its own default is
#: 300,000). 20,000 spins cost one to three milliseconds of CPU after a call here, a few times
#: what OpenVINO's oneTBB workers spend (each run measures every form's cost: cpu_ms_after_call).
SPIN_BRIEFLY_COUNT = 20_000
_OMP_POLICY = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--omp-wait-policy=")), "passive")
if _OMP_POLICY == "passive":
    # PyTorch's OpenMP threads sleep at a barrier instead of spinning, as ONNX Runtime's do with
    # spinning off: on a machine shared with other work, a spinning thread holds a core that the
    # thread it waits for needs (see the deployment chapter).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
elif _OMP_POLICY == "spin-briefly":
    # Spin a bounded while, then sleep: a thread woken for the next layer is usually still awake,
    # and an idle process stops burning a core within about a millisecond.
    os.environ.pop("OMP_WAIT_POLICY", None)
    os.environ["GOMP_SPINCOUNT"] = str(SPIN_BRIEFLY_COUNT)

import torch  # noqa: E402 -- after OMP_WAIT_POLICY
from torch import nn  # noqa: E402

from mobilenet_lib import benchmark
from mobilenet_lib.benchmark import (
    Timing,
    keep_freed_memory,
    load_warning,
    machine_info,
    matmul_gflops,
    save_results,
    time_callable,
    torch_threads,
)
from mobilenet_lib.costs import count_macs
from mobilenet_lib.data import digits_loaders
from mobilenet_lib.deploy import max_relative_error, prepare_for_inference
from mobilenet_lib.models import create_model, mobilenet_v2
from mobilenet_lib.onnx_export import export_onnx
from mobilenet_lib.quantize import calibration_batches, int8_ops, quantize_int8, quantize_int8_inductor
from mobilenet_lib.runtimes import (
    KIND_ORDER,
    OnnxRuntimeModel,
    OpenVINOModel,
    onnx_runtime_operator_counts,
    openvino_operator_counts,
    profile_onednn_graph,
    profile_onnx_runtime,
    profile_openvino,
    profile_torch,
    quantize_onnx_int8,
    quantize_openvino_int8,
)
from mobilenet_lib.tables import records_markdown
from mobilenet_lib.training import evaluate, train
from mobilenet_lib.viz.deployment import speed_rows

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "benchmarks" / "results"
CACHE_DIR = ROOT / "_build" / "cache" / "deploy"  # ignored by git (_build/)

#: The forms of the model, in the order they are reported: the project's own, then its peers.
FORMS = (
    "eager",
    "folded",
    "folded+channels_last",
    "compiled",
    "onednn_graph",
    "int8",
    "int8_inductor",
    "onnxruntime",
    "openvino",
    "onnxruntime_int8",
    "openvino_int8",
)
#: The forms that run outside PyTorch (from the ONNX export).
PEER_FORMS = ("onnxruntime", "openvino", "onnxruntime_int8", "openvino_int8")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = p.add_argument_group("speed")
    g.add_argument("--model", default="mobilenet_v2", help="name for create_model")
    g.add_argument("--width", type=float, default=1.0, help="width multiplier (MobileNet V2 only)")
    g.add_argument("--resolution", type=int, default=224)
    g.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 16])
    g.add_argument("--forms", nargs="+", choices=FORMS, default=list(FORMS))
    g.add_argument("--rounds", type=int, default=5, help="interleaved rounds over the forms")
    g.add_argument("--repeats", type=int, default=4, help="timed calls per form and round")
    g.add_argument("--warmup", type=int, default=3, help="untimed calls per form before the rounds")
    g.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    g.add_argument("--matmul-size", type=int, default=2048, help="n for the n×n matmul peak")
    g.add_argument(
        "--allocator",
        choices=["keep-freed", "default"],
        default="keep-freed",
        help="keep-freed: glibc keeps freed memory for reuse (mobilenet_lib.keep_freed_memory), as a "
        "server's warm allocator does; default: glibc's defaults, which return large freed blocks "
        "to the OS, so eager runs page-fault their activations back in",
    )
    a = p.add_argument_group("accuracy (digits)")
    a.add_argument("--train-width", type=float, default=0.5, help="width multiplier of the digits model")
    a.add_argument("--image-size", type=int, default=32)
    a.add_argument("--epochs", type=int, default=30)
    a.add_argument("--lr", type=float, default=0.01)
    a.add_argument("--weight-decay", type=float, default=0.01)
    a.add_argument("--batch-size", type=int, default=64)
    a.add_argument("--train-limit", type=int, default=0, help="train on the first N training images (0: all)")
    a.add_argument("--calib-batches", type=int, default=8, help="training batches used to calibrate int8")
    a.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    a.add_argument("--no-cache", action="store_true", help="train even if cached weights exist")
    p.add_argument(
        "--omp-wait-policy",
        choices=OMP_POLICIES,
        default="passive",
        help="passive (default): PyTorch's OpenMP threads sleep at barriers, like ONNX Runtime's without "
        f"spinning; spin-briefly: they spin {SPIN_BRIEFLY_COUNT} times first (GOMP_SPINCOUNT), a bounded "
        "while as OpenVINO's workers do; libgomp-default: libgomp's own policy (spin for a long while, then "
        "sleep). Give it as --omp-wait-policy=VALUE: it is read before torch is imported",
    )
    p.add_argument("--skip-accuracy", action="store_true")
    p.add_argument("--skip-profile", action="store_true", help="no per-kind profile of each runtime")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--name", default="deploy", help="file stem of the outputs")
    p.add_argument(
        "--tiny",
        action="store_true",
        help="a quick smoke configuration: 32×32 inputs, no compiled forms timed, one epoch on 128 images",
    )
    args = p.parse_args(argv)
    if args.tiny:
        args.width, args.resolution, args.batch_sizes = 0.25, 32, [1, 2]
        args.forms = [f for f in args.forms if f not in ("compiled", "int8_inductor")]  # compiling takes long
        args.rounds, args.repeats, args.warmup, args.matmul_size = 1, 2, 1, 64
        args.train_width, args.epochs, args.train_limit, args.calib_batches = 0.25, 1, 128, 1
        args.batch_size = 32
    return args


# --------------------------------------------------------------------------------------------
# Speed
# --------------------------------------------------------------------------------------------


def build_model(args: argparse.Namespace) -> nn.Module:
    torch.manual_seed(args.seed)
    if args.model == "mobilenet_v2":
        return mobilenet_v2(width_mult=args.width).eval()
    if args.width != 1.0:
        raise SystemExit("--width applies to mobilenet_v2 only")
    return create_model(args.model).eval()


def build_forms(
    model: nn.Module, forms: list[str], calibration: torch.Tensor, args: argparse.Namespace
) -> dict[str, tuple[Any, float]]:
    """Each form of ``model`` with the seconds it took to build (folding, exporting, quantizing...).

    The peers run the ONNX export of ``model`` (exported once, dynamic batch, with the time it took
    added to each peer's build time); their int8 forms are calibrated on the same images as FX int8.
    """
    onnx: dict[str, Any] = {}

    def exported() -> bytes:
        if "bytes" not in onnx:
            start = time.perf_counter()
            onnx["bytes"] = export_onnx(model, image_size=args.resolution)
            onnx["export_s"] = time.perf_counter() - start
        return onnx["bytes"]

    builders: dict[str, Callable[[], Any]] = {
        "eager": lambda: model,
        "folded": lambda: prepare_for_inference(model, channels_last=False),
        "folded+channels_last": lambda: prepare_for_inference(model),
        "compiled": lambda: prepare_for_inference(model, compile=True),
        "onednn_graph": lambda: prepare_for_inference(model, onednn_graph=True),
        "int8": lambda: quantize_int8(model, calibration),
        "int8_inductor": lambda: quantize_int8_inductor(model, calibration),
        "onnxruntime": lambda: OnnxRuntimeModel(exported(), threads=args.threads),
        "openvino": lambda: OpenVINOModel(exported(), threads=args.threads),
        "onnxruntime_int8": lambda: OnnxRuntimeModel(quantize_onnx_int8(exported(), calibration), threads=args.threads),
        "openvino_int8": lambda: OpenVINOModel(quantize_openvino_int8(exported(), calibration), threads=args.threads),
    }
    out = {}
    for form in forms:
        start = time.perf_counter()
        built = builders[form]()
        out[form] = (built, time.perf_counter() - start)
    return out


def runtime_settings(args: argparse.Namespace) -> dict[str, Any]:
    """How each runtime's threads are set up (written into the results)."""
    import onnxruntime
    import openvino

    return {
        "pytorch": {
            "intra_op_threads": args.threads,
            "pool": "OpenMP (libgomp), torch.set_num_threads; OMP_WAIT_POLICY="
            + os.environ.get("OMP_WAIT_POLICY", "unset (libgomp spins at a barrier, then sleeps)")
            + (f", GOMP_SPINCOUNT={os.environ['GOMP_SPINCOUNT']}" if "GOMP_SPINCOUNT" in os.environ else ""),
        },
        "onnxruntime": {
            "version": onnxruntime.__version__,
            "intra_op_num_threads": args.threads,
            "inter_op_num_threads": 1,
            "session.intra_op.allow_spinning": "0",
            "graph_optimization_level": "ORT_ENABLE_ALL",
        },
        "openvino": {
            "version": openvino.__version__,
            **{k: v for k, v in OpenVINOModel(_tiny_onnx(), threads=args.threads).config().items() if k != "PERF_COUNT"},
            "pool": "oneTBB (workers spin briefly after a task, then sleep)",
            "shapes": "one static-shape compilation per batch size",
        },
    }


def _tiny_onnx() -> bytes:
    return export_onnx(nn.Sequential(nn.Conv2d(3, 4, 1), nn.Flatten()), image_size=4)


def cpu_after_call(call: Callable[[], Any], *, calls: int = 5, pause_s: float = 0.02) -> float:
    """Milliseconds of CPU the whole process uses in the ``pause_s`` after a call, median of ``calls``.

    The main thread sleeps through the pause, so what is counted is the runtime's worker threads
    spinning before they sleep: the time a thread pool takes from other work on the machine
    between requests.
    """
    after = []
    for _ in range(calls):
        call()
        start = time.process_time()
        time.sleep(pause_s)
        after.append(1e3 * (time.process_time() - start))
    return sorted(after)[len(after) // 2]


def time_forms(
    forms: dict[str, tuple[nn.Module, float]], x: torch.Tensor, args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """First-call time, interleaved timings and output check of every form on batch ``x``."""
    results: dict[str, dict[str, Any]] = {}
    with torch_threads(args.threads), torch.inference_mode():
        reference = forms["eager"][0](x) if "eager" in forms else None
        for form, (model, build_s) in forms.items():
            start = time.perf_counter()
            out = model(x)  # compiles the compiled form for this shape
            first_s = time.perf_counter() - start
            err = max_relative_error(out, reference) if reference is not None else None
            results[form] = {"build_s": build_s, "first_call_s": first_s, "max_relative_error": err, "times": []}
        for form, (model, _) in forms.items():  # warm up every form before any is timed
            for _ in range(args.warmup):
                model(x)
        for _ in range(args.rounds):
            for form, (model, _) in forms.items():
                t = time_callable(lambda m=model: m(x), repeats=args.repeats, warmup=0, threads=args.threads)
                results[form]["times"].extend(t.times_s)
        for form, (model, _) in forms.items():
            results[form]["cpu_ms_after_call"] = cpu_after_call(lambda m=model: m(x))
    for form, r in results.items():
        r["timing"] = Timing(tuple(r.pop("times")), number=1, warmup=args.warmup, threads=args.threads, label=form).to_dict()
    return results


def speed_part(args: argparse.Namespace) -> dict[str, Any]:
    peak_before = matmul_gflops(args.matmul_size, threads=args.threads, repeats=5, warmup=1)
    model = build_model(args)
    macs = count_macs(model, (1, 3, args.resolution, args.resolution))
    g = torch.Generator().manual_seed(args.seed)
    calibration = torch.randn(4, 3, args.resolution, args.resolution, generator=g)
    forms = build_forms(model, args.forms, calibration, args)
    per_batch, profiles = {}, {}
    for b in args.batch_sizes:
        x = torch.randn(b, 3, args.resolution, args.resolution, generator=g)
        per_batch[str(b)] = time_forms(forms, x, args)
        if not args.skip_profile:
            profiles[str(b)] = profile_part(forms, x, args)
    peak_after = matmul_gflops(args.matmul_size, threads=args.threads, repeats=5, warmup=1)
    out = {
        "macs_per_image": macs,
        "matmul": {"before": peak_before.to_dict(), "after": peak_after.to_dict()},
        "matmul_gflops": max(peak_before.gflops, peak_after.gflops),
        "batches": per_batch,
        "graphs": graph_part(forms, args),
    }
    if profiles:
        out["profiles"] = profiles
    return out


def graph_part(forms: dict[str, tuple[Any, float]], args: argparse.Namespace) -> dict[str, dict[str, int]]:
    """Operator counts of the exported graph and of the graph each runtime runs after its fusions."""
    from mobilenet_lib.onnx_export import operator_counts

    shape = (1, 3, args.resolution, args.resolution)
    graphs: dict[str, dict[str, int]] = {}
    for form in ("onnxruntime", "onnxruntime_int8"):
        if form in forms:
            data = forms[form][0].onnx
            graphs[f"{form}:exported"] = dict(operator_counts(data))
            graphs[f"{form}:fused"] = dict(onnx_runtime_operator_counts(data))
    for form in ("openvino", "openvino_int8"):
        if form in forms:
            graphs[f"{form}:fused"] = dict(openvino_operator_counts(forms[form][0], shape))
    return graphs


def profile_part(forms: dict[str, tuple[Any, float]], x: torch.Tensor, args: argparse.Namespace) -> dict[str, Any]:
    """Each runtime's time per kind of layer at this batch (each runtime's own profiler), float32
    and int8 (FX's int8 modules are not profiled: their kernels hide the weights' shapes)."""
    out = {}
    for form in ("folded+channels_last", "compiled", "int8_inductor"):
        if form in forms:
            out[form] = profile_torch(forms[form][0], x, threads=args.threads, repeats=args.repeats, runtime=form).to_dict()
    if "onednn_graph" in forms:
        try:
            out["onednn_graph"] = profile_onednn_graph(forms["onednn_graph"][0], x, threads=args.threads,
                                                       repeats=args.repeats).to_dict()
        except ValueError as error:  # this shape ran unfused (it warned when it was first called)
            print(f"[deploy] onednn_graph not profiled: {error}", file=sys.stderr)
    if "onnxruntime" in forms:
        out["onnxruntime"] = profile_onnx_runtime(forms["onnxruntime"][0].onnx, x, threads=args.threads,
                                                  repeats=args.repeats).to_dict()
    for form in ("openvino", "openvino_int8"):
        if form in forms:
            out[form] = profile_openvino(forms[form][0], x, threads=args.threads, repeats=args.repeats).to_dict()
    if "onnxruntime_int8" in forms:
        out["onnxruntime_int8"] = profile_onnx_runtime(forms["onnxruntime_int8"][0].onnx, x, threads=args.threads,
                                                       repeats=args.repeats).to_dict()
    return out


# --------------------------------------------------------------------------------------------
# Accuracy
# --------------------------------------------------------------------------------------------


def _limit(loader: torch.utils.data.DataLoader, n: int, batch_size: int, seed: int) -> torch.utils.data.DataLoader:
    if n <= 0:
        return loader
    subset = torch.utils.data.Subset(loader.dataset, range(min(n, len(loader.dataset))))
    return torch.utils.data.DataLoader(
        subset, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed)
    )


def accuracy_part(args: argparse.Namespace) -> dict[str, Any]:
    settings = {
        "model": "mobilenet_v2",
        "width_mult": args.train_width,
        "image_size": args.image_size,
        "epochs": args.epochs,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "batch_size": args.batch_size,
        "train_limit": args.train_limit,
        "seed": args.seed,
        "optimizer": "adamw",
        "schedule": "cosine",
    }
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    cache = args.cache_dir / f"mobilenet_v2_digits_{key}.pt"

    def loaders() -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader]:
        tr, te = digits_loaders(batch_size=args.batch_size, seed=args.seed, image_size=args.image_size)
        return _limit(tr, args.train_limit, args.batch_size, args.seed), te

    torch.manual_seed(args.seed)
    model = mobilenet_v2(width_mult=args.train_width, num_classes=10)
    history = None
    with torch_threads(args.threads):
        if cache.is_file() and not args.no_cache:
            blob = torch.load(cache, map_location="cpu", weights_only=True)
            model.load_state_dict(blob["state_dict"])
            history = blob["history"]
            trained_here = False
        else:
            train_loader, test_loader = loaders()
            h = train(
                model,
                train_loader,
                test_loader,
                epochs=args.epochs,
                lr=args.lr,
                weight_decay=args.weight_decay,
                seed=args.seed,
                progress=False,
            )
            history = h.to_dict()
            cache.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"state_dict": model.state_dict(), "history": history, "settings": settings}, cache)
            trained_here = True
        model.eval()
        train_loader, test_loader = loaders()
        fp32 = evaluate(model, test_loader)
        prepared = evaluate(prepare_for_inference(model), test_loader)
        start = time.perf_counter()
        q = quantize_int8(model, train_loader, num_batches=args.calib_batches)
        quantize_s = time.perf_counter() - start
        int8 = evaluate(q, test_loader)
        x_test = torch.cat([x for x, _ in test_loader])
        with torch.no_grad():
            agree = (model(x_test).argmax(1) == q(x_test).argmax(1)).float().mean().item()
        ops = int8_ops(q, x_test[:2])
        y_test = torch.cat([y for _, y in test_loader])
        with torch.no_grad():
            fp32_pred = model(x_test).argmax(1)
        onnx_model = export_onnx(model, image_size=args.image_size)
        calib = list(calibration_batches(train_loader, args.calib_batches))
        peers: dict[str, Any] = {}
        for form, build in (
            ("int8_inductor", lambda: quantize_int8_inductor(model, calib)),
            ("onnxruntime", lambda: OnnxRuntimeModel(onnx_model, threads=args.threads)),
            ("onnxruntime_int8", lambda: OnnxRuntimeModel(quantize_onnx_int8(onnx_model, calib), threads=args.threads)),
            ("openvino", lambda: OpenVINOModel(onnx_model, threads=args.threads)),
            ("openvino_int8", lambda: OpenVINOModel(quantize_openvino_int8(onnx_model, calib), threads=args.threads)),
        ):
            start = time.perf_counter()
            runner = build()
            build_s = time.perf_counter() - start
            pred = runner(x_test).argmax(1)
            peers[form] = {
                "accuracy": (pred == y_test).float().mean().item(),
                "prediction_agreement": (pred == fp32_pred).float().mean().item(),
                "build_s": build_s,
            }
    return {
        "settings": settings,
        "trained_in_this_run": trained_here,
        "train_wall_time_s": history.get("wall_time_s") if history else None,
        "train_test_accuracy": history.get("test_accuracy") if history else None,
        "test_images": fp32.count,
        "calibration_batches": args.calib_batches,
        "fp32_accuracy": fp32.accuracy,
        "prepared_accuracy": prepared.accuracy,
        "int8_accuracy": int8.accuracy,
        "int8_drop_points": 100 * (fp32.accuracy - int8.accuracy),
        "prediction_agreement": agree,
        "quantize_s": quantize_s,
        "int8_ops": [{"op": o.op, "count": o.count, "int8": o.int8} for o in ops],
        "peers": peers,
    }


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def render_markdown(payload: dict[str, Any]) -> str:
    m, c, res = payload["machine"], payload["config"], payload["results"]
    speed = res["speed"]
    lines = [
        "# Deploying MobileNet V2 on this CPU",
        "",
        f"Machine: {m['cpu_model']}, {m['logical_cpus']} logical CPUs, {m['threads']} torch threads; "
        f"torch {m['torch_version']}, Python {m['python_version']}; {m['date_utc']}; "
        f"load average before the run (1/5/15 min): {m['load_average_1_5_15']}, "
        f"after: {res['load_average_after']}. Instruction sets: "
        f"{', '.join(m.get('instruction_sets', {}).get('cpu_flags', [])) or 'not recorded'} "
        f"(ATen kernels: {m.get('instruction_sets', {}).get('aten_cpu_capability', '?')}). "
        f"PyTorch's OpenMP wait policy: {c.get('omp_wait_policy', 'libgomp-default')}.",
        "",
        *([f"**{load_warning(m)}**", ""] if load_warning(m) else []),
        f"`{c['model']}` (width {c['width']}) at {c['resolution']}×{c['resolution']}, "
        f"{speed['macs_per_image'] / 1e6:.1f} M mult-adds per image; median of {c['rounds']}×{c['repeats']} "
        f"interleaved runs after {c['warmup']} warm-up runs. A {c['matmul_size']}×{c['matmul_size']} float32 "
        f"matmul reached {speed['matmul_gflops']:.3g} GFLOP/s in the same run (the peak column's 100 %). "
        + ("Allocator: glibc keeps freed memory for reuse (`keep_freed_memory`), for every form."
           if c.get("allocator", "keep-freed") == "keep-freed"
           else "Allocator: glibc's defaults (large freed blocks go back to the OS and are page-faulted in again)."),
        "",
        records_markdown(
            speed_rows(payload),
            [
                ("batch", "batch"),
                ("form", "form"),
                ("ms", "ms per batch"),
                ("images_per_s", "images/s"),
                ("gflops", "GFLOP/s"),
                ("peak_pct", "% of matmul"),
                ("speedup", "× eager"),
                ("first_call_s", "first call (s)"),
                ("cpu_ms_after_call", "CPU ms in the 20 ms after a call"),
            ],
        ),
    ]
    acc = res.get("accuracy")
    if acc:
        s = acc["settings"]
        lines += [
            "",
            f"Digits ({acc['test_images']} test images, {s['image_size']}×{s['image_size']}): MobileNet V2 "
            f"width {s['width_mult']}, {s['epochs']} epochs. int8 calibrated on {acc['calibration_batches']} "
            f"training batches of {s['batch_size']}.",
            "",
            records_markdown(
                [
                    {"model": "float32 eager", "acc": 100 * acc["fp32_accuracy"], "agree": 100.0},
                    {"model": "float32 prepared", "acc": 100 * acc["prepared_accuracy"], "agree": None},
                    {"model": "int8 (FX)", "acc": 100 * acc["int8_accuracy"], "agree": 100 * acc["prediction_agreement"]},
                ]
                + [
                    {"model": form, "acc": 100 * r["accuracy"], "agree": 100 * r["prediction_agreement"]}
                    for form, r in acc.get("peers", {}).items()
                ],
                [("model", "model"), ("acc", "test accuracy (%)"), ("agree", "agrees with float32 (%)")],
            ),
            "",
            f"int8 loses {acc['int8_drop_points']:.2f} points; it agrees with float32 on "
            f"{100 * acc['prediction_agreement']:.1f} % of the test images.",
        ]
    settings = res.get("runtimes")
    if settings:
        lines += ["", "Thread pools:", ""]
        for name, cfg in settings.items():
            lines.append(f"- {name}: " + ", ".join(f"`{k}` = {v}" for k, v in cfg.items()))
    graphs = speed.get("graphs")
    if graphs:
        lines += ["", "Operators in the exported graph and in the graph each runtime runs after its fusions:", ""]
        for name, counts in graphs.items():
            lines.append(f"- {name}: " + ", ".join(f"{op} {n}" for op, n in sorted(counts.items(), key=lambda t: -t[1])))
    profiles = speed.get("profiles")
    if profiles:
        present = {k for per in profiles.values() for p in per.values() for k, ms in p["kinds"].items() if ms > 0}
        kinds = [k for k in KIND_ORDER if k in present or k == "other"]
        rows = [
            {"batch": int(b), "runtime": form, "total": p["total_ms"], **{k: p["kinds"].get(k, 0.0) for k in kinds}}
            for b, per in profiles.items()
            for form, p in per.items()
        ]
        lines += [
            "",
            "Where the time goes (ms per pass, each runtime's own profiler; profiling adds overhead):",
            "",
            records_markdown(rows, [("batch", "batch"), ("runtime", "runtime"), ("total", "total")]
                             + [(k, k) for k in kinds]),
        ]
    lines += ["", f"Produced by `benchmarks/deploy.py`; raw repeats in `{c['name']}.json`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.omp_wait_policy != _OMP_POLICY:
        raise SystemExit("give the wait policy as --omp-wait-policy=VALUE (it is read before torch is imported)")
    machine = machine_info(threads=args.threads)  # load before this run adds its own
    # every timing in mobilenet_lib.benchmark follows this switch, so it is set before the first one
    benchmark.KEEP_FREED_MEMORY = args.allocator == "keep-freed"
    if args.allocator == "keep-freed" and not keep_freed_memory():
        print("note: no glibc here; --allocator keep-freed changes nothing", file=sys.stderr)
    # The compiled form's first call is reported as its compile time: make it a cold compile, not
    # a hit in inductor's on-disk cache left by an earlier run.
    with torch.compiler.config.patch(force_disable_caches=True):
        results: dict[str, Any] = {"speed": speed_part(args)}
    if not args.skip_accuracy:
        results["accuracy"] = accuracy_part(args)
    results["runtimes"] = runtime_settings(args)
    results["load_average_after"] = machine_info(threads=args.threads)["load_average_1_5_15"]
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    path = save_results(args.out_dir / f"{args.name}.json", results, machine=machine, config=config)
    payload = {"machine": machine, "config": config, "results": results}
    path.with_suffix(".md").write_text(render_markdown(payload), encoding="utf-8")
    print(render_markdown(payload))
    print(f"wrote {path} and {path.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
