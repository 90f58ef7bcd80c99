/* Live code for the book's pages: the "Live Code" button (rocket menu) turns a chapter's code
 * cells into runnable ones, backed by a Jupyter kernel.
 *
 * - Served by scripts/serve-live (the page is on 127.0.0.1 or localhost and the site answers
 *   live-server.json), the kernel comes from the local Jupyter server that script started.
 * - Anywhere else, the kernel comes from Binder, built from the repository named in the page's
 *   thebe configuration, when the book was built with a Binder URL (_config.yml's
 *   launch_buttons.binderhub_url; book/_ext/live_pages.py sets window.mobilenetBinder).
 * - Otherwise, or when Binder cannot be reached or fails, the reader is told so on the page at
 *   once (within a few seconds), with the ways that do work, instead of a "Launching" message
 *   that never ends.
 *
 * Everything loaded here is vendored: thebe 0.9.3 (vendor/thebe, loaded only when the button is
 * pressed, so a page's weight does not change) and require.js (vendor/requirejs), which thebe
 * would otherwise fetch from cdnjs when a widget appears. sphinx-thebe's own page set-up
 * (configureThebe, modifyDOMForThebe) is reused; only the connection differs from its default.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  // this file is <site root>/live/live-code.js
  var siteRoot = new URL("../", script.src);
  var THEBE_JS = new URL("vendor/thebe/index.js", siteRoot).href;
  var THEBE_CSS = new URL("vendor/thebe/thebe.css", siteRoot).href;
  var REQUIRE_JS = new URL("vendor/requirejs/require.js", siteRoot).href;
  var CDN_REQUIRE_JS = "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js";
  var LOCAL_HOSTS = ["127.0.0.1", "localhost"];

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var el = document.createElement("script");
      el.src = src;
      el.onload = resolve;
      el.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(el);
    });
  }

  function loadStyle(href) {
    var el = document.createElement("link");
    el.rel = "stylesheet";
    el.href = href;
    document.head.appendChild(el);
  }

  // thebe fetches require.js from cdnjs for ipywidgets: hand it the vendored copy instead.
  function redirectRequireJs() {
    var original = window.fetch.bind(window);
    window.fetch = function (input, init) {
      var url = typeof input === "string" ? input : input && input.url;
      return original(url === CDN_REQUIRE_JS ? REQUIRE_JS : input, init);
    };
  }

  // {baseUrl, wsUrl, token} of the local server, or null when the page is not served by
  // scripts/serve-live (then only Binder can give a kernel).
  function localServer() {
    if (LOCAL_HOSTS.indexOf(window.location.hostname) < 0) return Promise.resolve(null);
    return fetch(new URL("live-server.json", siteRoot).href, { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .catch(function () { return null; });
  }

  function setStatus(text) {
    document.querySelectorAll(".thebe-launch-button").forEach(function (button) {
      var msg = button.querySelector(".launch_msg");
      if (msg) msg.textContent = text;
    });
  }

  // thebe 0.9 pairs the i-th executable cell with the i-th [data-output] element of the page, so
  // a cell that stored no output would shift every later cell's output into the next cell's
  // area. Give each such cell an empty output placeholder right after its code.
  function pairOutputs() {
    document.querySelectorAll("pre[data-executable]").forEach(function (pre) {
      var next = pre.nextElementSibling;
      if (next && next.hasAttribute("data-output")) return;
      var placeholder = document.createElement("div");
      placeholder.className = "cell_output docutils container";
      placeholder.setAttribute("data-output", "");
      pre.insertAdjacentElement("afterend", placeholder);
    });
  }

  var BINDER_PROBE_MS = 5000;

  // A visible, persistent message under the page title (and in the launch button's status line).
  function reportFailure(text) {
    setStatus("Live Code is not available:");
    var box = document.querySelector(".ml-live-code-error");
    if (!box) {
      box = document.createElement("div");
      box.className = "ml-live-code-error admonition warning";
      box.setAttribute("role", "alert");
      var title = document.querySelector("section h1") || document.querySelector("main h1");
      if (title) title.insertAdjacentElement("afterend", box);
      else document.body.insertAdjacentElement("afterbegin", box);
    }
    box.innerHTML = '<p class="admonition-title">Live Code is not available</p><p></p>';
    box.lastChild.textContent = text;
    document.documentElement.setAttribute("data-live-code", "failed");
  }

  var HOW_TO_RUN = "To run this chapter, serve the book with live code on your own machine " +
    "(scripts/serve-live in the book's repository), or download the notebook " +
    "(the download icon at the top of the page) and open it in Jupyter.";

  // Is the Binder service reachable at all? An offline reader learns it in seconds, not never.
  function probe(url) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, BINDER_PROBE_MS);
    return fetch(url, { mode: "no-cors", cache: "no-store", signal: controller.signal })
      .then(function () { clearTimeout(timer); return true; })
      .catch(function () { clearTimeout(timer); return false; });
  }

  var started = null;

  function startLiveCode() {
    if (started) return started;
    var binder = window.mobilenetBinder || null;
    started = localServer().then(function (server) {
      if (server) return server;
      if (!binder) {
        throw new Error("This copy of the book is not connected to a Jupyter kernel service " +
                        "(no Binder). " + HOW_TO_RUN);
      }
      setStatus("Contacting " + binder.url + ":");
      return probe(binder.url).then(function (ok) {
        if (!ok) throw new Error(binder.url + " cannot be reached from this browser (offline?). " + HOW_TO_RUN);
        return null;
      });
    }).then(function (server) {
      loadStyle(THEBE_CSS);
      // thebe's editors are a fixed 300px tall; a cell's editor fits its code instead
      var fit = document.createElement("style");
      fit.textContent = ".thebe-input .CodeMirror { height: auto; }";
      document.head.appendChild(fit);
      return loadScript(THEBE_JS).then(function () {
        redirectRequireJs();
        // sphinx-thebe's page set-up: marks the code cells executable, keeps their outputs
        if (typeof configureThebe === "function") configureThebe();
        if (typeof modifyDOMForThebe === "function") modifyDOMForThebe();
        pairOutputs();
        var options = {
          requestKernel: true,
          mathjaxUrl: "", // the page already has (vendored) MathJax
          kernelOptions: { kernelName: "python3" },
        };
        if (server) {
          options.useBinder = false;
          options.kernelOptions.path = "."; // the server's root is book/, the notebooks' folder
          options.serverSettings = {
            baseUrl: server.baseUrl,
            wsUrl: server.wsUrl,
            token: server.token,
            appendToken: true,
          };
        } else {
          options.useBinder = true;
        }
        document.documentElement.setAttribute("data-live-code", server ? "local" : "binder");
        var result = window.thebe.bootstrap(options);
        window.thebe.on("status", function (evt, data) {
          var status = data && data.status;
          if (status === "failed" || status === "dead") {
            reportFailure((server ? "The local Jupyter server" : "Binder") + " reported: " +
                          ((data && data.message) || status) + ". " + HOW_TO_RUN);
            return;
          }
          setStatus(server ? "Local Jupyter server:" : "Launching from " + binder.url + ":");
        });
        return result;
      });
    });
    started.catch(function (err) {
      console.warn("[live-code] could not start live code:", err);
      reportFailure(err && err.message ? err.message : String(err));
      started = null;
    });
    return started;
  }

  // The theme's Live Code button calls the global initThebe(); sphinx-thebe defines one that
  // loads thebe from a CDN and forces Binder. Ours replaces it, also if sphinx-thebe's script
  // runs after this one.
  function install() { window.initThebe = startLiveCode; }
  install();
  document.addEventListener("DOMContentLoaded", install);
  window.addEventListener("load", install);
  window.mobilenetLiveCode = { start: startLiveCode, localServer: localServer };
})();
