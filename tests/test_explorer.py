"""mobilenet_lib.explorer, scripts/export-explorer and the files they committed for book/explorer.md.

The page itself is tested in Chromium by tests/browser/test_explorer_page.py; here: the shared
generator, the manifold-collapse reference, the networks and their input, the ONNX export against
PyTorch (with ONNX Runtime in Python), a smoke run of the export script, and the committed models
and test digits against each other.
"""

from __future__ import annotations

import base64
import gzip
import importlib.machinery
import importlib.util
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mobilenet_lib import explorer as ex
from mobilenet_lib.blocks import InvertedResidual
from mobilenet_lib.costs import count_macs, layer_table
from mobilenet_lib.data import load_digits
from mobilenet_lib.experiments import manifold_collapse as mc
from mobilenet_lib.experiments.mobilenet_v1 import DIGITS_LAYERS, DIGITS_RECIPE
from mobilenet_lib.onnx_export import onnx_session

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
EXPLORER = ROOT / "book" / "_extra" / "explorer"
ORT_DIR = ROOT / "book" / "_extra" / "vendor" / "onnxruntime-web"
SCRIPT = ROOT / "scripts" / "export-explorer"


def _script():
    loader = importlib.machinery.SourceFileLoader("export_explorer", str(SCRIPT))
    spec = importlib.util.spec_from_loader("export_explorer", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _js_data(path: Path) -> dict:
    return _script().read_js_data(path)


@pytest.fixture(scope="module")
def committed() -> tuple[dict, dict]:
    return _js_data(EXPLORER / "models.js"), _js_data(EXPLORER / "digits.js")


# --------------------------------------------------------------------------------------------
# The shared generator and the manifold-collapse reference
# --------------------------------------------------------------------------------------------


def test_mulberry32_gives_the_javascript_reference_values() -> None:
    # the first outputs of the usual JavaScript mulberry32 (Math.imul, >>> 0), run in node 2026-12-04
    expected = {
        0: [0.26642920868471265, 0.0003297457005828619, 0.2232720274478197],
        1: [0.6270739405881613, 0.002735721180215478, 0.5274470399599522],
        123456789: [0.2577907438389957, 0.9707721115555614, 0.7853280142880976],
        4294967295: [0.8964226141106337, 0.189478256739676, 0.7156526781618595],
    }
    for seed, values in expected.items():
        assert ex.mulberry32(seed, 3).tolist() == values


def test_normal_draws_are_box_muller_of_consecutive_pairs() -> None:
    u = ex.mulberry32(7, 4)
    r = math.sqrt(-2 * math.log(1 - u[0]))
    got = ex.normal_draws(7, 3)
    assert got[0] == pytest.approx(r * math.cos(2 * math.pi * u[1]), abs=1e-15)
    assert got[1] == pytest.approx(r * math.sin(2 * math.pi * u[1]), abs=1e-15)
    assert got[2] == ex.normal_draws(7, 4)[2]
    many = ex.normal_draws(3, 20000)
    assert abs(many.mean()) < 0.03 and abs(many.std() - 1) < 0.03


def test_embeddings_of_one_seed_are_nested() -> None:
    assert np.array_equal(ex.explorer_embedding(30, 5)[:4], ex.explorer_embedding(4, 5))
    assert not np.array_equal(ex.explorer_embedding(4, 5), ex.explorer_embedding(4, 6))


def test_collapse_reference_uses_the_chapters_measurements() -> None:
    r = ex.explorer_collapse(7, seed=2)
    x = mc._spiral(400, 2.0, mc.DEFAULT_RADIUS)
    T = torch.from_numpy(ex.explorer_embedding(7, 2))
    _, _, gain, err, zeroed, rec = mc._measure(x, T[None], "relu")
    assert (r["relative_error"], r["zeroed_fraction"], r["recoverable_fraction"], r["gain"]) == (
        float(err[0]), float(zeroed[0]), float(rec[0]), float(gain[0]))
    linear = ex.explorer_collapse(7, seed=2, activation="linear")
    assert linear["relative_error"] < 1e-20 and linear["zeroed_fraction"] == 0 and linear["recoverable_fraction"] == 1
    # the chapter's point, with this generator too: narrow embeddings lose the spiral, wide ones keep it
    narrow = np.mean([ex.explorer_collapse(2, seed=s)["relative_error"] for s in range(10)])
    wide = np.mean([ex.explorer_collapse(30, seed=s)["relative_error"] for s in range(10)])
    assert narrow > 0.35 and wide < 0.2  # the chapter's curve over 20 seeds: about 0.6 and 0.1
    assert ex.explorer_collapse(30, seed=0)["recoverable_fraction"] > ex.explorer_collapse(2, seed=0)["recoverable_fraction"]
    with_points = ex.explorer_collapse(points=True)
    assert len(with_points["aligned"]) == 400 and len(with_points["embedding"]) == ex.COLLAPSE_DEFAULTS["n"]


@pytest.mark.parametrize("call, error", [
    (lambda: ex.explorer_collapse(1), ValueError),
    (lambda: ex.explorer_collapse(31), ValueError),
    (lambda: ex.explorer_collapse(2.5), TypeError),
    (lambda: ex.explorer_collapse(3, seed=-1), ValueError),
    (lambda: ex.explorer_collapse(3, activation="tanh"), ValueError),
    (lambda: ex.explorer_collapse(3, activation=1), TypeError),
    (lambda: ex.mulberry32("0", 3), TypeError),
    (lambda: ex.normal_draws(0, -1), ValueError),
    (lambda: ex.build_explorer_model("v3"), ValueError),
    (lambda: ex.build_explorer_model(None), TypeError),
    (lambda: ex.test_digits(0), ValueError),
    (lambda: ex.export_explorer_model(nn.Linear(2, 2)), TypeError),
])
def test_arguments_are_checked(call, error) -> None:
    with pytest.raises(error):
        call()


# --------------------------------------------------------------------------------------------
# The networks and their input
# --------------------------------------------------------------------------------------------


def test_networks_reuse_the_chapters_tables() -> None:
    assert ex.V1_LAYERS == DIGITS_LAYERS[:6]
    v1 = ex.build_explorer_model("v1")
    assert v1.in_channels == 1 and v1.output_stride == 8
    torch.manual_seed(0)
    linear = ex.build_explorer_model("v2_linear")
    torch.manual_seed(0)
    relu = ex.build_explorer_model("v2_relu")
    # no parameter differs: seeded alike, the two bottlenecks start from the same weights
    assert all(torch.equal(a, b) for a, b in zip(linear.state_dict().values(), relu.state_dict().values()))
    blocks = [(a, b) for a, b in zip(linear.features, relu.features) if isinstance(a, InvertedResidual)]
    assert len(blocks) == 6
    for a, b in blocks:
        assert isinstance(b.conv[-1], nn.ReLU6) and isinstance(a.conv[-1], nn.BatchNorm2d)


def test_the_ablation_scripts_relu_bottleneck_is_the_same_change() -> None:
    spec = importlib.util.spec_from_file_location("ablation_v2", ROOT / "scripts" / "ablation_v2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert ex.V2_SETTINGS == module.DIGITS_SETTINGS[:3]
    theirs = module.build_variant(False, True, width_mult=ex.V2_WIDTH, settings=ex.V2_SETTINGS)
    ours = ex.build_explorer_model("v2_relu")
    shape = [[type(m).__name__ for m in b.conv] for b in theirs.features if isinstance(b, InvertedResidual)]
    assert shape == [[type(m).__name__ for m in b.conv] for b in ours.features if isinstance(b, InvertedResidual)]


def test_digits_input_does_what_load_digits_does() -> None:
    images, labels = ex.test_digits(2)
    data = load_digits(image_size=ex.EXPLORER_IMAGE_SIZE, channels=1, seed=0)
    prepare = ex.DigitsInput(data.mean, data.std)
    small = load_digits(image_size=8, channels=1, seed=0)
    raw = torch.round((small.x_test * small.std + small.mean) * 16)
    for image, label in zip(images, labels):
        (index,) = [i for i in range(len(raw)) if torch.equal(raw[i, 0], torch.from_numpy(image.astype(np.float32)))][:1]
        assert small.y_test[index] == label
        got = prepare(torch.from_numpy(image.astype(np.float32))[None, None])
        assert torch.allclose(got, data.x_test[index:index + 1], atol=1e-5)


def test_test_digits_are_raw_scikit_learn_digits() -> None:
    from sklearn.datasets import load_digits as sklearn_digits

    images, labels = ex.test_digits(3)
    assert images.shape == (30, 8, 8) and images.dtype == np.uint8 and images.max() <= 16
    assert np.bincount(labels, minlength=10).tolist() == [3] * 10
    raw = sklearn_digits()
    for image, label in zip(images, labels):
        matches = np.nonzero((raw.images == image).all(axis=(1, 2)))[0]
        assert len(matches) and label in raw.target[matches]


def test_explorer_net_returns_the_logits_and_every_blocks_maps() -> None:
    for kind in ex.MODEL_KINDS:
        torch.manual_seed(0)
        model = ex.build_explorer_model(kind).eval()
        net = ex.ExplorerNet(model, 0.3, 0.4, kind).eval()
        x = torch.rand(2, 1, 8, 8) * 16
        with torch.no_grad():
            out = net(x)
            expected = model(net.prepare(x))
        assert torch.allclose(out[0], expected, atol=1e-6)
        assert len(out) == 1 + 2 * len(net.block_indices) == 13
        for i, b in enumerate(_blocks(model)):
            dw, pw = out[1 + 2 * i], out[2 + 2 * i]
            assert dw.shape[1] == (b.expanded_channels if isinstance(b, InvertedResidual) else b.in_channels)
            assert pw.shape[1] == b.out_channels
            if kind == "v2_relu":
                assert (pw >= 0).all()
        if kind == "v2_linear":
            assert any((out[2 + 2 * i] < 0).any() for i in range(6))


def _blocks(model):
    return [m for _, m in ex._blocks(model)]


def test_block_costs_are_the_libraries_layer_table() -> None:
    for kind in ex.MODEL_KINDS:
        model = ex.build_explorer_model(kind)
        costs = ex.block_costs(model)
        table = layer_table(model, (1, 1, 32, 32))
        assert len(costs) == 6
        blocks_total = sum(c["macs"] for c in costs)
        rest = sum(r.macs for r in table.rows
                   if not any(r.name.startswith(f"features.{c['block']}.") for c in costs))
        assert blocks_total + rest == count_macs(model, (1, 1, 32, 32))
        for c in costs:
            _, h, w = c["pointwise"]["output_shape"]
            cin = c["expand"]["input_shape"][0] if "expand" in c else c["depthwise"]["input_shape"][0]
            cout = c["pointwise"]["output_shape"][0]
            assert c["full_conv_macs"] == 9 * cin * cout * h * w
            assert c["depthwise"]["macs"] == 9 * math.prod(c["depthwise"]["output_shape"])


# --------------------------------------------------------------------------------------------
# Training and export
# --------------------------------------------------------------------------------------------


def _check_onnx_against_pytorch(net: ex.ExplorerNet, data: bytes, images: np.ndarray, atol: float) -> None:
    session = onnx_session(data)
    names = [o.name for o in session.get_outputs()]
    assert names == ["logits"] + [f"{k}{i}" for i in range(6) for k in ("dw", "pw")]
    assert [i.name for i in session.get_inputs()] == ["image"]
    for image in images:
        x = image.astype(np.float32)[None, None]
        got = session.run(None, {"image": x})
        with torch.no_grad():
            expected = net(torch.from_numpy(x))
        for name, g, e in zip(names, got, expected):
            np.testing.assert_allclose(g, e.numpy(), atol=atol, rtol=0, err_msg=name)


def test_a_short_training_exports_an_onnx_model_that_agrees_with_pytorch() -> None:
    images, _ = ex.test_digits(1)
    for kind in ("v1", "v2_relu"):
        run = ex.train_explorer_model(kind, epochs=1, train_limit=48)
        again = ex.train_explorer_model(kind, epochs=1, train_limit=48)
        # seeded: the same call gives the same weights
        assert all(torch.equal(a, b) for a, b in zip(run.net.state_dict().values(), again.net.state_dict().values()))
        assert run.history.epochs == 1 and 0 <= run.test_accuracy <= 1
        assert run.macs == count_macs(run.net.model, (1, 1, 32, 32))
        data = ex.export_explorer_model(run.net)
        _check_onnx_against_pytorch(run.net, data, images, atol=1e-5)
        assert run.net.training is False


def test_export_script_smoke_run(tmp_path: Path) -> None:
    assert _script().main(["--epochs", "1", "--train-limit", "32", "--kinds", "v1", "--per-class", "1",
                           "--threads", "1", "--out", str(tmp_path)]) == 0
    models, digits = _js_data(tmp_path / "models.js"), _js_data(tmp_path / "digits.js")
    assert list(models["models"]) == ["v1"] and models["meta"]["recipe"]["epochs"] == 1
    assert len(digits["images"]) == len(digits["logits"]["v1"]) == 10
    data = base64.b64decode(models["models"]["v1"]["onnx"])
    session = onnx_session(data)
    for image, logits in zip(digits["images"], digits["logits"]["v1"]):
        got = session.run(["logits"], {"image": np.asarray(image, np.float32).reshape(1, 1, 8, 8)})[0][0]
        np.testing.assert_allclose(got, logits, atol=1e-4, rtol=0)


# --------------------------------------------------------------------------------------------
# The committed files
# --------------------------------------------------------------------------------------------


def test_committed_models_reproduce_their_pytorch_logits(committed) -> None:
    models, digits = committed
    assert list(models["models"]) == list(ex.MODEL_KINDS)
    images = np.asarray(digits["images"], np.float32).reshape(-1, 1, 1, 8, 8)
    for kind, meta in models["models"].items():
        session = onnx_session(base64.b64decode(meta["onnx"]))
        names = [o.name for o in session.get_outputs()]
        for image, logits in zip(images, digits["logits"][kind]):
            out = session.run(None, {"image": image})
            np.testing.assert_allclose(out[0][0], logits, atol=1e-4, rtol=0)
            assert int(np.argmax(out[0][0])) == int(np.argmax(logits))
            assert [list(o.shape[1:]) for o in out[1:]] == digits["shapes"][kind]
        assert names[0] == "logits"


def test_committed_models_were_trained_with_the_recipe_and_classify_digits(committed) -> None:
    models, digits = committed
    meta = models["meta"]
    assert meta["recipe"] == {**DIGITS_RECIPE, "train_limit": None} and meta["seed"] == 0
    for kind, m in models["models"].items():
        assert m["test_accuracy"] >= 0.9, f"{kind}: {m['test_accuracy']}"
        assert m["blocks"] == ex.block_costs(ex.build_explorer_model(kind))  # the architecture did not drift
        assert m["macs"] == count_macs(ex.build_explorer_model(kind), (1, 1, 32, 32))
        predicted = np.argmax(np.asarray(digits["logits"][kind]), axis=1)
        assert (predicted == np.asarray(digits["labels"])).mean() >= 0.8
    images, labels = ex.test_digits(3)
    assert digits["images"] == images.reshape(len(images), 64).tolist() and digits["labels"] == labels.tolist()


def test_committed_files_are_small(committed) -> None:
    models, _ = committed
    onnx_bytes = sum(m["onnx_bytes"] for m in models["models"].values())
    assert onnx_bytes < 800 * 1024
    assert (EXPLORER / "models.js").stat().st_size < 1100 * 1024
    assert (EXPLORER / "digits.js").stat().st_size < 100 * 1024


def test_vendored_onnxruntime_web_is_the_pinned_version_and_a_real_runtime() -> None:
    versions = (ROOT / "book" / "_extra" / "vendor" / "VERSIONS.txt").read_text().split()
    (pinned,) = [v for v in versions if v.startswith("onnxruntime-web@")]
    version = pinned.split("@")[1]
    assert re.search(r"ONNX Runtime Web v" + re.escape(version), (ORT_DIR / "ort.wasm.min.js").read_text()[:300])
    assert f'ORT_WEB={pinned}' in (ROOT / "scripts" / "vendor-js").read_text()
    assert sorted(p.name for p in ORT_DIR.iterdir()) == ["LICENSE", "ort-wasm-binary.js", "ort-wasm-glue.js", "ort.wasm.min.js"]
    text = (ORT_DIR / "ort-wasm-binary.js").read_text()
    wasm = gzip.decompress(base64.b64decode(re.search(r'= "([A-Za-z0-9+/=]+)"', text).group(1)))
    assert wasm[:4] == b"\0asm"
    glue = (ORT_DIR / "ort-wasm-glue.js").read_text()
    assert json.loads(glue[glue.index("= ") + 2:].rstrip().rstrip(";")).startswith(("var", "async", "//", "/*", "import", "\"use"))
