/* The in-browser explorer of book/explorer.md: a reader's digit through a real MobileNet, and the
 * manifold-collapse experiment, computed in the page with no server and no kernel.
 *
 * - Classifier: the three networks scripts/export-explorer trained with mobilenet_lib and
 *   exported to ONNX (explorer/models.js, base64) run in ONNX Runtime Web's WebAssembly backend
 *   (vendor/onnxruntime-web, loaded by this file and only on this page; one thread, so no
 *   cross-origin isolation is needed). Everything is read from <script> tags, never fetch(), so the
 *   page works from file:// as well as from a web server, and nothing comes from another host.
 * - Input: the drawing is cropped to its ink, scaled (aspect ratio kept) into a 32x32 box,
 *   thresholded at half coverage and counted in 4x4 cells: an 8x8 image on the 0-16 scale of
 *   scikit-learn's digits, which were made the same way from 32x32 bitmaps (toDigit8x8 below).
 * - Manifold collapse: plain JavaScript, with the generator mobilenet_lib/explorer.py shares
 *   (mulberry32 + Box-Muller); tests/browser/test_explorer_page.py checks it against Python.
 *
 * window.mobilenetExplorer.api is what the tests and the benchmark call.
 */
(function () {
  "use strict";

  var ns = (window.mobilenetExplorer = window.mobilenetExplorer || {});
  var script = document.currentScript;
  var siteRoot = new URL("../", script.src); // this file is <site root>/explorer/explorer.js
  var ORT_FILES = ["vendor/onnxruntime-web/ort.wasm.min.js", "vendor/onnxruntime-web/ort-wasm-glue.js",
                   "vendor/onnxruntime-web/ort-wasm-binary.js"];
  var DATA_FILES = ["explorer/models.js", "explorer/digits.js"];
  var t0 = performance.now();
  var timings = {};

  function mark(name) { timings[name] = performance.now(); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "cls") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }

  function loadScript(rel) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = new URL(rel, siteRoot).href;
      s.onload = resolve;
      s.onerror = function () { reject(new Error("could not load " + rel)); };
      document.head.appendChild(s);
    });
  }

  function base64Bytes(text) {
    var bin = atob(text), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function gunzip(bytes) {
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).arrayBuffer().then(function (b) { return new Uint8Array(b); });
  }

  // ------------------------------------------------------------------------------------------
  // Canvas drawing -> 8x8 digit on the 0-16 scale
  // ------------------------------------------------------------------------------------------

  /* ink: Float32Array (w*h) in [0, 1]. Returns a Float32Array(64) of integers 0..16. */
  function toDigit8x8(ink, w, h) {
    var x0 = w, y0 = h, x1 = -1, y1 = -1, x, y;
    for (y = 0; y < h; y++) for (x = 0; x < w; x++) if (ink[y * w + x] > 0) {
      if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
    }
    var out = new Float32Array(64);
    if (x1 < 0) return out;
    var bw = x1 - x0 + 1, bh = y1 - y0 + 1, side = Math.max(bw, bh);
    var ox = x0 - (side - bw) / 2, oy = y0 - (side - bh) / 2, cell = side / 32;
    var sum = new Float64Array(1024), count = new Float64Array(1024);
    for (y = Math.max(0, Math.floor(oy)); y < Math.min(h, Math.ceil(oy + side)); y++) {
      var i = Math.floor((y + 0.5 - oy) / cell);
      if (i < 0 || i > 31) continue;
      for (x = Math.max(0, Math.floor(ox)); x < Math.min(w, Math.ceil(ox + side)); x++) {
        var j = Math.floor((x + 0.5 - ox) / cell);
        if (j < 0 || j > 31) continue;
        sum[i * 32 + j] += ink[y * w + x];
        count[i * 32 + j] += 1;
      }
    }
    for (var k = 0; k < 1024; k++) {
      if (count[k] > 0 && sum[k] / count[k] >= 0.5) out[((k >> 7) << 3) + ((k & 31) >> 2)] += 1;
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // Manifold collapse: shared generator and the chapter's measurements
  // ------------------------------------------------------------------------------------------

  function mulberry32(seed) {
    var a = seed | 0;
    return function () {
      a = (a + 0x6D2B79F5) | 0;
      var t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function normalDraws(seed, count) {
    var next = mulberry32(seed), out = [];
    while (out.length < count) {
      var u1 = next(), u2 = next(), r = Math.sqrt(-2 * Math.log(1 - u1)), a = 2 * Math.PI * u2;
      out.push(r * Math.cos(a), r * Math.sin(a));
    }
    return out.slice(0, count);
  }

  function linspace(a, b, n) { // torch.linspace's arithmetic: from both ends towards the middle
    var step = (b - a) / (n - 1), half = Math.floor(n / 2), out = new Float64Array(n);
    for (var i = 0; i < n; i++) out[i] = i < half ? a + step * i : b - step * (n - 1 - i);
    return out;
  }

  function spiral(num, turns, radius) {
    var angle = linspace(0, 2 * Math.PI * turns, num), r = linspace(radius / num, radius, num), pts = [];
    for (var i = 0; i < num; i++) pts.push([r[i] * Math.cos(angle[i]), r[i] * Math.sin(angle[i])]);
    return pts;
  }

  function collapse(n, seed, activation) {
    var draws = normalDraws(seed, 2 * n), T = [];
    for (var i = 0; i < n; i++) T.push([draws[2 * i], draws[2 * i + 1]]);
    var x = spiral(400, 2, Math.sqrt(3));
    // pinv(T) = (T^T T)^-1 T^T for a full-rank n x 2 matrix
    var g00 = 0, g01 = 0, g11 = 0;
    T.forEach(function (t) { g00 += t[0] * t[0]; g01 += t[0] * t[1]; g11 += t[1] * t[1]; });
    var det = g00 * g11 - g01 * g01, i00 = g11 / det, i01 = -g01 / det, i11 = g00 / det;
    var P = T.map(function (t) { return [i00 * t[0] + i01 * t[1], i01 * t[0] + i11 * t[1]]; }); // pinv^T
    var spread0 = Math.sqrt(Math.pow((g00 - g11) / 2, 2) + g01 * g01), largest = (g00 + g11) / 2 + spread0;
    var recon = [], zeros = 0, recoverable = 0, inner = 0, energy = 0, norm = 0;
    x.forEach(function (p) {
      var r0 = 0, r1 = 0, a = 0, b = 0, d = 0;
      for (var k = 0; k < n; k++) {
        var z = T[k][0] * p[0] + T[k][1] * p[1];
        var h = activation === "relu" ? (z > 0 ? z : 0) : z;
        var slope = activation === "relu" ? (z > 0 ? 1 : 0) : 1;
        if (h === 0) zeros++;
        r0 += P[k][0] * h; r1 += P[k][1] * h;
        a += slope * T[k][0] * T[k][0]; b += slope * T[k][0] * T[k][1]; d += slope * T[k][1] * T[k][1];
      }
      var smallest = (a + d) / 2 - Math.sqrt(Math.pow((a - d) / 2, 2) + b * b);
      if (smallest > 1e-9 * largest) recoverable++;
      recon.push([r0, r1]);
      inner += r0 * p[0] + r1 * p[1]; energy += r0 * r0 + r1 * r1; norm += p[0] * p[0] + p[1] * p[1];
    });
    var gain = energy > 0 ? inner / energy : 0, residual = 0;
    recon.forEach(function (r, i) {
      residual += Math.pow(gain * r[0] - x[i][0], 2) + Math.pow(gain * r[1] - x[i][1], 2);
    });
    return {
      n: n, seed: seed, activation: activation, embedding: T, points: x, gain: gain,
      aligned: recon.map(function (r) { return [gain * r[0], gain * r[1]]; }),
      relative_error: residual / norm, zeroed_fraction: zeros / (400 * n), recoverable_fraction: recoverable / 400,
    };
  }

  // ------------------------------------------------------------------------------------------
  // Figures
  // ------------------------------------------------------------------------------------------

  function diverging(v) { // v in [-1, 1]: blue, white at 0, red
    var t = Math.max(-1, Math.min(1, v));
    if (t >= 0) return [255, Math.round(255 * (1 - 0.85 * t)), Math.round(255 * (1 - t))];
    return [Math.round(255 * (1 + t)), Math.round(255 * (1 + 0.6 * t)), 255];
  }

  /* tensor: {data: Float32Array, dims: [1, C, H, W]}; draws every channel in a grid. */
  function drawMaps(canvas, tensor) {
    var C = tensor.dims[1], H = tensor.dims[2], W = tensor.dims[3], data = tensor.data;
    var cols = C <= 4 ? C : C <= 16 ? 4 : C <= 64 ? 8 : 16, rows = Math.ceil(C / cols);
    var cell = Math.max(2, Math.floor(Math.min(300 / cols, 48) / W)), gap = 2;
    canvas.width = cols * (W * cell + gap) - gap;
    canvas.height = rows * (H * cell + gap) - gap;
    var ctx = canvas.getContext("2d"), maxAbs = 0, i;
    for (i = 0; i < data.length; i++) maxAbs = Math.max(maxAbs, Math.abs(data[i]));
    var img = ctx.createImageData(canvas.width, canvas.height);
    img.data.fill(221); // the grey between maps
    for (var c = 0; c < C; c++) {
      var gx = (c % cols) * (W * cell + gap), gy = Math.floor(c / cols) * (H * cell + gap);
      for (var y = 0; y < H * cell; y++) for (var x = 0; x < W * cell; x++) {
        var v = data[c * H * W + Math.floor(y / cell) * W + Math.floor(x / cell)];
        var rgb = diverging(maxAbs > 0 ? v / maxAbs : 0), o = ((gy + y) * canvas.width + gx + x) * 4;
        img.data[o] = rgb[0]; img.data[o + 1] = rgb[1]; img.data[o + 2] = rgb[2]; img.data[o + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
    return maxAbs;
  }

  function drawDigit(canvas, digit) {
    var ctx = canvas.getContext("2d"), s = canvas.width / 8;
    for (var i = 0; i < 64; i++) {
      var g = Math.round(255 * (1 - digit[i] / 16));
      ctx.fillStyle = "rgb(" + g + "," + g + "," + g + ")";
      ctx.fillRect((i % 8) * s, Math.floor(i / 8) * s, s, s);
    }
  }

  function drawSpiral(canvas, result) {
    var ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
    ctx.clearRect(0, 0, w, h);
    var half = w / 2, panels = [["input spiral x", result.points], ["reconstruction (rescaled)", result.aligned]];
    panels.forEach(function (panel, p) {
      var cx = half * p + half / 2, cy = h / 2 + 8, scale = half / 4.2;
      ctx.strokeStyle = "#ccc"; ctx.strokeRect(half * p + 4, 4, half - 8, h - 8);
      ctx.fillStyle = "#333"; ctx.font = "13px sans-serif"; ctx.fillText(panel[0], half * p + 12, 20);
      panel[1].forEach(function (q, i) {
        var t = i / (panel[1].length - 1);
        ctx.fillStyle = "hsl(" + Math.round(260 * t) + ",70%,45%)";
        ctx.fillRect(cx + q[0] * scale - 1.5, cy - q[1] * scale - 1.5, 3, 3);
      });
    });
  }

  // ------------------------------------------------------------------------------------------
  // The page
  // ------------------------------------------------------------------------------------------

  var state = { models: null, digits: null, sessions: {}, arch: "v2", bottleneck: "linear", layer: 0,
                input: new Float32Array(64), busy: false, dirty: false, runs: 0, last: null };

  function kind() { return state.arch === "v1" ? "v1" : "v2_" + state.bottleneck; }

  function softmax(logits) {
    var m = Math.max.apply(null, logits), e = logits.map(function (v) { return Math.exp(v - m); });
    var s = e.reduce(function (a, b) { return a + b; }, 0);
    return e.map(function (v) { return v / s; });
  }

  function session(k) { // created on first use, so the first classification waits for one model only
    if (!state.sessions[k]) {
      state.sessions[k] = ort.InferenceSession.create(base64Bytes(state.models.models[k].onnx), { executionProviders: ["wasm"] });
    }
    return state.sessions[k];
  }

  function run(k, digit) {
    var feeds, started, s;
    return session(k).then(function (sess) {
      s = sess;
      feeds = { image: new ort.Tensor("float32", Float32Array.from(digit), [1, 1, 8, 8]) };
      started = performance.now();
      return s.run(feeds);
    }).then(function (out) {
      var ms = performance.now() - started;
      if (!timings.first_run_ms) timings.first_run_ms = ms;
      var session = s;
      var logits = Array.from(out.logits.data), maps = {};
      session.outputNames.forEach(function (name) {
        if (name !== "logits") maps[name] = { data: out[name].data, dims: out[name].dims.slice() };
      });
      return { kind: k, logits: logits, probabilities: softmax(logits), maps: maps, run_ms: ms,
               predicted: logits.indexOf(Math.max.apply(null, logits)) };
    });
  }

  function fmt(n) { return n.toLocaleString("en-US"); }

  var ui = {};

  function buildClassifier(root) {
    root.textContent = "";
    ui.draw = el("canvas", { width: "224", height: "224", cls: "mx-draw", "aria-label": "drawing area" });
    ui.digit = el("canvas", { width: "96", height: "96", cls: "mx-digit" });
    ui.clear = el("button", { type: "button", text: "Clear" });
    ui.pick = el("select", { "aria-label": "test digit" });
    ui.pick.appendChild(el("option", { value: "", text: "or pick a test digit…" }));
    state.digits.labels.forEach(function (label, i) {
      ui.pick.appendChild(el("option", { value: String(i), text: "test digit " + (i + 1) + " (a " + label + ")" }));
    });
    ui.arch = el("select", { "aria-label": "network" }, [
      el("option", { value: "v2", text: "MobileNet V2" }), el("option", { value: "v1", text: "MobileNet V1" })]);
    ui.bottleneck = el("select", { "aria-label": "bottleneck" }, [
      el("option", { value: "linear", text: "linear bottleneck" }), el("option", { value: "relu", text: "ReLU6 bottleneck" })]);
    ui.layer = el("select", { "aria-label": "layer" });
    ui.predicted = el("div", { cls: "mx-predicted" });
    ui.bars = el("div", { cls: "mx-bars" });
    for (var d = 0; d < 10; d++) {
      ui.bars.appendChild(el("div", { cls: "mx-bar-row" }, [el("span", { cls: "mx-bar-label", text: String(d) }),
        el("span", { cls: "mx-bar" }, [el("span", { cls: "mx-bar-fill" })]), el("span", { cls: "mx-bar-value" })]));
    }
    ui.modelInfo = el("p", { cls: "mx-model-info" });
    ui.dw = el("canvas", { cls: "mx-maps", "data-role": "depthwise" });
    ui.pw = el("canvas", { cls: "mx-maps", "data-role": "pointwise" });
    ui.dwTitle = el("div", { cls: "mx-maps-title" });
    ui.pwTitle = el("div", { cls: "mx-maps-title" });
    ui.costs = el("p", { cls: "mx-costs" });
    var controls = el("div", { cls: "mx-controls" }, [ui.clear, ui.pick, ui.arch, ui.bottleneck, el("label", { text: "block " }, [ui.layer])]);
    root.appendChild(el("div", { cls: "mx-row" }, [
      el("div", { cls: "mx-col" }, [el("div", { cls: "mx-caption", text: "draw a digit here" }), ui.draw]),
      el("div", { cls: "mx-col" }, [el("div", { cls: "mx-caption", text: "what the network sees (8×8, 0–16)" }), ui.digit, ui.predicted]),
      el("div", { cls: "mx-col mx-grow" }, [el("div", { cls: "mx-caption", text: "class probabilities" }), ui.bars]),
    ]));
    root.appendChild(controls);
    root.appendChild(ui.modelInfo);
    root.appendChild(el("div", { cls: "mx-row" }, [
      el("div", { cls: "mx-col mx-half" }, [ui.dwTitle, ui.dw]), el("div", { cls: "mx-col mx-half" }, [ui.pwTitle, ui.pw])]));
    root.appendChild(ui.costs);

    var ctx = ui.draw.getContext("2d", { willReadFrequently: true }), drawing = false, last = null;
    ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.lineWidth = 16; ctx.strokeStyle = "#000";
    function pos(ev) { var r = ui.draw.getBoundingClientRect(); return [(ev.clientX - r.left) * 224 / r.width, (ev.clientY - r.top) * 224 / r.height]; }
    ui.draw.addEventListener("pointerdown", function (ev) {
      drawing = true; last = pos(ev); ui.pick.value = "";
      ctx.beginPath(); ctx.arc(last[0], last[1], 8, 0, 2 * Math.PI); ctx.fillStyle = "#000"; ctx.fill();
      ev.preventDefault();
    });
    ui.draw.addEventListener("pointermove", function (ev) {
      if (!drawing) return;
      var p = pos(ev);
      ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(p[0], p[1]); ctx.stroke();
      last = p; fromCanvas();
    });
    ["pointerup", "pointerleave"].forEach(function (type) {
      ui.draw.addEventListener(type, function () { if (drawing) { drawing = false; fromCanvas(); } });
    });
    ui.clear.addEventListener("click", function () { ctx.clearRect(0, 0, 224, 224); ui.pick.value = ""; fromCanvas(); });
    ui.pick.addEventListener("change", function () {
      if (ui.pick.value === "") return;
      ctx.clearRect(0, 0, 224, 224);
      setInput(Float32Array.from(state.digits.images[Number(ui.pick.value)]));
    });
    ui.arch.addEventListener("change", function () { state.arch = ui.arch.value; refreshControls(); schedule(); });
    ui.bottleneck.addEventListener("change", function () { state.bottleneck = ui.bottleneck.value; schedule(); });
    ui.layer.addEventListener("change", function () { state.layer = Number(ui.layer.value); schedule(); });
    refreshControls();
  }

  function refreshControls() {
    ui.arch.value = state.arch;
    ui.bottleneck.disabled = state.arch === "v1";
    var blocks = state.models.models[kind()].blocks;
    ui.layer.textContent = "";
    blocks.forEach(function (b, i) { ui.layer.appendChild(el("option", { value: String(i), text: String(i + 1) + " of " + blocks.length })); });
    state.layer = Math.min(state.layer, blocks.length - 1);
    ui.layer.value = String(state.layer);
  }

  function fromCanvas() {
    var ctx = ui.draw.getContext("2d"), data = ctx.getImageData(0, 0, 224, 224).data, ink = new Float32Array(224 * 224);
    for (var i = 0; i < ink.length; i++) ink[i] = data[4 * i + 3] / 255;
    setInput(toDigit8x8(ink, 224, 224));
  }

  function setInput(digit) { state.input = digit; drawDigit(ui.digit, digit); schedule(); }

  function schedule() {
    state.dirty = true;
    if (state.busy) return;
    state.busy = true;
    (function loop() {
      if (!state.dirty) { state.busy = false; return; }
      state.dirty = false;
      var k = kind(), digit = state.input;
      run(k, digit).then(function (result) { show(result); loop(); },
        function (err) { state.busy = false; fail(err); });
    })();
  }

  function show(result) {
    state.runs++;
    var meta = state.models.models[result.kind], block = meta.blocks[state.layer];
    var empty = state.input.every(function (v) { return v === 0; });
    ui.predicted.textContent = empty ? "(blank)" : "prediction: " + result.predicted;
    Array.prototype.forEach.call(ui.bars.children, function (row, d) {
      var p = result.probabilities[d];
      row.querySelector(".mx-bar-fill").style.width = (100 * p).toFixed(1) + "%";
      row.querySelector(".mx-bar-value").textContent = (100 * p).toFixed(1) + " %";
      row.classList.toggle("mx-top", d === result.predicted);
    });
    ui.modelInfo.textContent = meta.label + ": " + fmt(meta.params) + " parameters, " + fmt(meta.macs) +
      " mult-adds per image, " + (100 * meta.test_accuracy).toFixed(1) + " % test accuracy on the chapters' digits split.";
    var dw = result.maps["dw" + state.layer], pw = result.maps["pw" + state.layer];
    drawMaps(ui.dw, dw);
    drawMaps(ui.pw, pw);
    var zeros = 0;
    for (var i = 0; i < pw.data.length; i++) if (pw.data[i] === 0) zeros++;
    var v2 = result.kind !== "v1";
    ui.dwTitle.textContent = "depthwise 3×3 output: " + dw.dims[1] + " maps of " + dw.dims[2] + "×" + dw.dims[3] +
      " (each channel filtered on its own)";
    ui.pwTitle.textContent = (v2 ? "1×1 projection output" : "pointwise 1×1 output") + ": " + pw.dims[1] + " maps of " +
      pw.dims[2] + "×" + pw.dims[3] + " (every channel mixes all " + dw.dims[1] + "); " +
      (100 * zeros / pw.data.length).toFixed(0) + " % exact zeros";
    var parts = [];
    if (block.expand) parts.push("1×1 expansion " + fmt(block.expand.macs));
    parts.push("depthwise 3×3 " + fmt(block.depthwise.macs));
    parts.push((v2 ? "1×1 projection " : "pointwise 1×1 ") + fmt(block.pointwise.macs));
    ui.costs.textContent = "Mult-adds of block " + (state.layer + 1) + " per image (mobilenet_lib.costs.layer_table): " +
      parts.join(" + ") + " = " + fmt(block.macs) + ". One full 3×3 convolution with the block's input and " +
      "output shapes would take " + fmt(block.full_conv_macs) + ".";
    state.last = result;
    var done = state.onResult; state.onResult = null;
    if (done) done(result);
  }

  function fail(err) {
    var box = document.getElementById("mx-classifier");
    if (box) {
      box.textContent = "";
      box.appendChild(el("div", { cls: "admonition warning mx-message" }, [
        el("p", { cls: "admonition-title", text: "The network cannot run in this browser" }),
        el("p", { text: "This part of the page runs a MobileNet with WebAssembly (ONNX Runtime Web), and this " +
          "browser did not let it start (" + String(err && err.message || err) + "). WebAssembly may be " +
          "disabled or blocked by a policy or an extension. The rest of the page, the manifold-collapse " +
          "experiment below included, works without it; the chapters' notebooks show the same networks in Python." })]));
    }
    ns.api.error = String(err && err.message || err);
  }

  function startClassifier() {
    var box = document.getElementById("mx-classifier");
    if (!box) return Promise.resolve();
    if (typeof WebAssembly !== "object" || typeof DecompressionStream === "undefined") {
      var why = typeof WebAssembly !== "object" ? "WebAssembly is not available" : "DecompressionStream is not available";
      fail(new Error(why));
      return Promise.reject(new Error(why));
    }
    box.textContent = "Loading the networks and ONNX Runtime Web…";
    return ORT_FILES.concat(DATA_FILES).reduce(function (p, rel) { return p.then(function () { return loadScript(rel); }); },
      Promise.resolve()).then(function () {
      mark("scripts_loaded");
      state.models = ns.models; state.digits = ns.digits;
      return gunzip(base64Bytes(window.ortWasmBinaryGzipBase64));
    }).then(function (wasm) {
      mark("wasm_unpacked");
      ort.env.wasm.numThreads = 1;
      ort.env.wasm.proxy = false;
      ort.env.wasm.wasmBinary = wasm;
      // the glue module from a blob: URL (a module cannot be imported from file://); nothing is
      // fetched from a CDN, and the .wasm bytes are already here
      ort.env.wasm.wasmPaths = { mjs: URL.createObjectURL(new Blob([window.ortWasmGlue], { type: "text/javascript" })) };
      return session(kind());
    }).then(function () {
      mark("session_created");
      buildClassifier(box);
      var first = Float32Array.from(state.digits.images[0]);
      ui.pick.value = "0";
      return new Promise(function (resolve) { state.onResult = resolve; setInput(first); });
    }).then(function () {
      mark("first_inference");
      // the other networks load while the reader looks at the first result
      Object.keys(state.models.models).forEach(function (k) { session(k).catch(function () {}); });
    }, function (err) { fail(err); throw err; });
  }

  function startCollapse() {
    var box = document.getElementById("mx-collapse");
    if (!box) return;
    var defaults = { n: Number(box.getAttribute("data-n") || 3), seed: Number(box.getAttribute("data-seed") || 0) };
    box.textContent = "";
    var n = el("input", { type: "range", min: "2", max: "30", step: "1", value: String(defaults.n), "aria-label": "n" });
    var nOut = el("output", { text: String(defaults.n) });
    var seed = el("input", { type: "number", min: "0", max: "4294967295", step: "1", value: String(defaults.seed), "aria-label": "seed" });
    var act = el("select", { "aria-label": "activation" }, [el("option", { value: "relu", text: "ReLU" }), el("option", { value: "linear", text: "identity (linear)" })]);
    var canvas = el("canvas", { width: "640", height: "320", cls: "mx-spiral" });
    var numbers = el("p", { cls: "mx-numbers" });
    box.appendChild(el("div", { cls: "mx-controls" }, [el("label", { text: "n = " }, [nOut, n]),
      el("label", { text: "seed " }, [seed]), el("label", { text: "activation " }, [act])]));
    box.appendChild(canvas);
    box.appendChild(numbers);
    function update() {
      var nv = Number(n.value), sv = Math.max(0, Math.min(4294967295, Math.floor(Number(seed.value) || 0)));
      nOut.textContent = String(nv);
      var r = collapse(nv, sv, act.value);
      drawSpiral(canvas, r);
      numbers.textContent = "n = " + nv + ", seed " + sv + ": relative error after rescaling " + r.relative_error.toFixed(4) +
        ", hidden coordinates set to zero " + (100 * r.zeroed_fraction).toFixed(1) + " %, points where the map " +
        "is locally invertible " + (100 * r.recoverable_fraction).toFixed(1) + " %.";
      ns.api.lastCollapse = r;
    }
    [n, seed, act].forEach(function (c) { c.addEventListener("input", update); c.addEventListener("change", update); });
    update();
  }

  ns.api = { toDigit8x8: toDigit8x8, mulberry32: mulberry32, normalDraws: normalDraws, collapse: collapse,
             timings: timings, start: t0, state: state,
             classify: function (digit, k) { return run(k || kind(), digit); }, error: null };

  function init() {
    startCollapse();
    ns.api.ready = startClassifier();
    ns.api.ready.catch(function () { /* shown on the page */ });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
