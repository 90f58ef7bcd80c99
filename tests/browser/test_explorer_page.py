"""book/explorer.md in Chromium: a MobileNet in the page with ONNX Runtime Web, and the manifold
collapse in JavaScript.

- the page's logits for the committed test digits agree with PyTorch's to 1e-4, for every network,
  and the predicted classes match;
- strokes drawn with the mouse on the canvas change the 8x8 input, the prediction and the maps,
  and the 8x8 input is what toDigit8x8 makes of the canvas;
- the bottleneck toggle and the block choice change the maps (the ReLU6 bottleneck's projection
  has no negative value, the linear one has);
- the manifold collapse computed by the page equals mobilenet_lib.explorer.explorer_collapse for the
  default settings and for other n and seeds set through the controls;
- it works from file:// and over HTTP, fetches nothing from another host, reports no error;
- with WebAssembly blocked, the page says so and the manifold collapse still works;
- no other page of the book loads any of it.

Uses the fixtures of tests/browser/book_site.py (site, static_url, browser, page).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import book_site
from book_site import _open, _pages  # noqa: E402

from mobilenet_lib import explorer as ex

PAGE = "book/explorer.html"
# the init script the shared page fixture uses, for the contexts this module opens itself
FIRST_VISIT = getattr(book_site, "FIRST_VISIT", "")
READY_MS = 180_000


def _data(site: Path, name: str) -> dict:
    text = (site / "explorer" / f"{name}.js").read_text()
    return json.loads(text[text.index("] = ") + 4:].rstrip().rstrip(";"))


def _ready(page: object) -> None:
    page.wait_for_function("() => window.mobilenetExplorer && window.mobilenetExplorer.api && "
                           "window.mobilenetExplorer.api.ready", timeout=READY_MS)
    page.evaluate("() => window.mobilenetExplorer.api.ready")
    page.wait_for_function("() => window.mobilenetExplorer.api.state.runs > 0", timeout=READY_MS)


def _open_explorer(page: object, url: str) -> None:
    page.goto(url, wait_until="load", timeout=READY_MS)
    _ready(page)


_LOGITS_JS = """async ([images, kinds]) => {
  const api = window.mobilenetExplorer.api, out = {};
  for (const k of kinds) {
    out[k] = [];
    for (const image of images) out[k].push((await api.classify(Float32Array.from(image), k)).logits);
  }
  return out;
}"""

_STATE_JS = """() => {
  const api = window.mobilenetExplorer.api, s = api.state;
  const maps = Array.from(document.querySelectorAll('#mx-classifier canvas.mx-maps')).map(c => c.toDataURL());
  return {runs: s.runs, input: Array.from(s.input), predicted: s.last.predicted, kind: s.last.kind,
          probabilities: s.last.probabilities, maps: maps, text: document.querySelector('.mx-predicted').textContent};
}"""


def _check_logits(page: object, digits: dict) -> None:
    kinds = list(digits["logits"])
    got = page.evaluate(_LOGITS_JS, [digits["images"], kinds])
    for kind in kinds:
        page_logits, torch_logits = np.asarray(got[kind]), np.asarray(digits["logits"][kind])
        assert page_logits.shape == torch_logits.shape
        np.testing.assert_allclose(page_logits, torch_logits, atol=1e-4, rtol=0, err_msg=kind)
        assert (page_logits.argmax(1) == torch_logits.argmax(1)).all(), kind


def test_page_logits_agree_with_pytorch_over_http(site: Path, static_url: str, page: object) -> None:
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    _open_explorer(page, f"{static_url}/{PAGE}")
    _check_logits(page, _data(site, "digits"))
    page.wait_for_load_state("networkidle")
    others = [u for u in requests if not u.startswith((static_url, "blob:", "data:"))]
    assert not others, f"the explorer fetched from another host: {others}"
    assert any("onnxruntime-web/ort-wasm-binary.js" in u for u in requests)
    assert not page.problems.items, page.problems.items
    assert page.evaluate("() => window.mobilenetExplorer.api.error") is None


def test_page_works_from_file_urls(site: Path, browser: object) -> None:
    context = browser.new_context()
    context.add_init_script(FIRST_VISIT)
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: requests.append(r.url))
    try:
        _open_explorer(page, (site / PAGE).as_uri())
        digits = _data(site, "digits")
        _check_logits(page, {**digits, "images": digits["images"][:6],
                             "logits": {k: v[:6] for k, v in digits["logits"].items()}})
        others = [u for u in requests if not u.startswith(("file:", "blob:", "data:"))]
        assert not others, f"from file:// the explorer fetched {others}"
        assert not errors, errors
    finally:
        context.close()


def _stroke(page: object, canvas: object, points: list[tuple[float, float]]) -> None:
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + points[0][0] * box["width"], y0 + points[0][1] * box["height"])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x0 + x * box["width"], y0 + y * box["height"], steps=8)
    page.mouse.up()


def _settled(page: object, after_runs: int = 0) -> dict:
    """The explorer's state once it has classified more than ``after_runs`` times and is idle."""
    page.wait_for_function("(n) => { const s = window.mobilenetExplorer.api.state; return s.runs > n && !s.busy; }",
                           arg=after_runs, timeout=60_000)
    return page.evaluate(_STATE_JS)


def test_drawing_with_the_mouse_changes_the_input_prediction_and_maps(static_url: str, page: object) -> None:
    _open_explorer(page, f"{static_url}/{PAGE}")
    page.select_option("#mx-classifier select[aria-label='network']", "v1")
    # start from a test digit that is not a 1, then draw a 1
    labels = page.evaluate("() => window.mobilenetExplorer.digits.labels")
    first = next(i for i, label in enumerate(labels) if label == 0)
    page.select_option("#mx-classifier select[aria-label='test digit']", str(first))
    before = _settled(page)
    assert before["predicted"] == 0 and before["kind"] == "v1"
    page.click("#mx-classifier button:has-text('Clear')")
    blank = _settled(page, before["runs"])
    assert blank["input"] == [0.0] * 64 and blank["text"] == "(blank)"
    canvas = page.locator("#mx-classifier canvas.mx-draw")
    _stroke(page, canvas, [(0.5, 0.15), (0.5, 0.5), (0.5, 0.85)])
    after = _settled(page, blank["runs"])
    assert after["input"] != before["input"] and sum(after["input"]) > 0
    assert all(v == int(v) and 0 <= v <= 16 for v in after["input"])
    assert after["predicted"] == 1, after["probabilities"]
    assert after["maps"][0] != before["maps"][0] and after["maps"][1] != before["maps"][1]
    # the 8x8 input is toDigit8x8 of the canvas's ink, and a longer drawing changes it again
    recomputed = page.evaluate("""() => {
      const c = document.querySelector('#mx-classifier canvas.mx-draw'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const ink = new Float32Array(c.width * c.height);
      for (let i = 0; i < ink.length; i++) ink[i] = d[4 * i + 3] / 255;
      return Array.from(window.mobilenetExplorer.api.toDigit8x8(ink, c.width, c.height));
    }""")
    assert recomputed == after["input"]
    _stroke(page, canvas, [(0.3, 0.2), (0.7, 0.2), (0.4, 0.85)])
    seven = _settled(page, after["runs"])
    assert seven["input"] != after["input"] and seven["maps"] != after["maps"]
    assert seven["probabilities"] != after["probabilities"]
    assert not page.problems.items, page.problems.items


def test_bottleneck_toggle_and_block_choice_change_the_maps(static_url: str, page: object) -> None:
    _open_explorer(page, f"{static_url}/{PAGE}")
    page.select_option("#mx-classifier select[aria-label='network']", "v2")
    page.select_option("#mx-classifier select[aria-label='test digit']", "5")
    stats = """() => { const s = window.mobilenetExplorer.api.state, pw = s.last.maps['pw' + s.layer].data;
      let neg = 0; for (const v of pw) if (v < 0) neg++;
      return {kind: s.last.kind, negative: neg, layer: s.layer, cost: document.querySelector('.mx-costs').textContent}; }"""
    shown = {}
    runs = _settled(page)["runs"]
    for bottleneck in ("relu", "linear", "relu"):
        page.select_option("#mx-classifier select[aria-label='bottleneck']", bottleneck)
        state = _settled(page, runs)
        runs = state["runs"]
        shown[bottleneck] = (state, page.evaluate(stats))
    (linear, linear_stats), (relu, relu_stats) = shown["linear"], shown["relu"]
    assert linear_stats["kind"] == "v2_linear" and relu_stats["kind"] == "v2_relu"
    assert linear_stats["negative"] > 0 and relu_stats["negative"] == 0
    assert linear["maps"] != relu["maps"]
    page.select_option("#mx-classifier select[aria-label='layer']", "3")
    deeper = _settled(page, runs)
    deeper_stats = page.evaluate(stats)
    assert deeper_stats["layer"] == 3 and deeper["maps"] != relu["maps"]
    assert deeper_stats["cost"] != relu_stats["cost"] and "mult-adds" in deeper_stats["cost"].lower()
    blocks = page.evaluate("() => window.mobilenetExplorer.models.models.v2_relu.blocks")
    assert f"{blocks[3]['macs']:,}" in deeper_stats["cost"]
    assert not page.problems.items, page.problems.items


_COLLAPSE_JS = """() => { const r = window.mobilenetExplorer.api.lastCollapse;
  return {n: r.n, seed: r.seed, activation: r.activation, relative_error: r.relative_error,
          zeroed_fraction: r.zeroed_fraction, recoverable_fraction: r.recoverable_fraction, gain: r.gain,
          embedding: r.embedding, aligned: r.aligned}; }"""


def _compare_collapse(got: dict, n: int, seed: int, activation: str = "relu") -> None:
    expected = ex.explorer_collapse(n, seed=seed, activation=activation, points=True)
    assert (got["n"], got["seed"], got["activation"]) == (n, seed, activation)
    for key in ("relative_error", "zeroed_fraction", "recoverable_fraction", "gain"):
        assert got[key] == pytest.approx(expected[key], abs=1e-9), key
    np.testing.assert_allclose(got["embedding"], expected["embedding"], atol=1e-12, rtol=0)
    np.testing.assert_allclose(got["aligned"], expected["aligned"], atol=1e-9, rtol=0)


def test_manifold_collapse_in_the_page_equals_the_python_reference(static_url: str, page: object) -> None:
    page.goto(f"{static_url}/{PAGE}", wait_until="load", timeout=READY_MS)
    page.wait_for_function("() => window.mobilenetExplorer.api && window.mobilenetExplorer.api.lastCollapse", timeout=60_000)
    defaults = ex.COLLAPSE_DEFAULTS
    _compare_collapse(page.evaluate(_COLLAPSE_JS), defaults["n"], defaults["seed"], defaults["activation"])
    figure = page.locator("#mx-collapse canvas").screenshot()
    page.locator("#mx-collapse input[type=range]").fill("17")
    page.locator("#mx-collapse input[type=number]").fill("12345")
    page.locator("#mx-collapse input[type=number]").dispatch_event("change")
    _compare_collapse(page.evaluate(_COLLAPSE_JS), 17, 12345)
    assert page.locator("#mx-collapse canvas").screenshot() != figure
    for n in (2, 30):
        page.locator("#mx-collapse input[type=range]").fill(str(n))
        _compare_collapse(page.evaluate(_COLLAPSE_JS), n, 12345)
    page.select_option("#mx-collapse select", "linear")
    _compare_collapse(page.evaluate(_COLLAPSE_JS), 30, 12345, "linear")
    js = page.evaluate("() => { const g = window.mobilenetExplorer.api.mulberry32(4294967295); return [g(), g(), g()]; }")
    assert js == ex.mulberry32(4294967295, 3).tolist()
    assert page.evaluate("() => window.mobilenetExplorer.api.normalDraws(9, 5)") == ex.normal_draws(9, 5).tolist()


def test_without_webassembly_the_page_says_so_and_the_collapse_still_works(static_url: str, browser: object) -> None:
    context = browser.new_context()
    context.add_init_script(FIRST_VISIT + " delete window.WebAssembly;")
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(f"{static_url}/{PAGE}", wait_until="load", timeout=READY_MS)
        page.wait_for_function("() => window.mobilenetExplorer.api.error !== null", timeout=60_000)
        message = page.locator("#mx-classifier").inner_text()
        assert "cannot run in this browser" in message and "WebAssembly" in message
        _compare_collapse(page.evaluate(_COLLAPSE_JS), ex.COLLAPSE_DEFAULTS["n"], ex.COLLAPSE_DEFAULTS["seed"])
        assert not any("onnxruntime-web" in u for u in requests), "the runtime was loaded without WebAssembly"
    finally:
        context.close()


def test_only_the_explorer_page_loads_the_explorer(site: Path, static_url: str, page: object) -> None:
    referencing = []
    for rel in _pages(site):
        html = (site / rel).read_text(encoding="utf-8", errors="replace")
        if "vendor/onnxruntime-web" in html or "explorer/explorer.js" in html or "explorer/models.js" in html:
            referencing.append(rel)
    assert referencing == [PAGE]
    html = (site / PAGE).read_text()
    assert "vendor/onnxruntime-web" not in html  # explorer.js loads the runtime itself, after checking for WebAssembly
    scripts = [p.relative_to(site).as_posix() for p in site.rglob("*.js")
               if "vendor/onnxruntime-web" in p.read_text(encoding="utf-8", errors="replace")[:2_000_000]
               and "vendor/onnxruntime-web" not in p.relative_to(site).as_posix()]
    assert scripts == ["explorer/explorer.js"]
    for rel in ("index.html" if (site / "index.html").is_file() else _pages(site)[0], "book/depthwise_separable.html",
                "book/inverted_residuals.html"):
        requests: list[str] = []
        listener = lambda r: requests.append(r.url)  # noqa: E731
        page.on("request", listener)
        _open(page, f"{static_url}/{rel}")
        page.remove_listener("request", listener)
        assert not [u for u in requests if "onnxruntime-web" in u or "/explorer/" in u], rel
