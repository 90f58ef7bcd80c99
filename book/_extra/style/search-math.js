/* Search results on the book's search page: formulas as a reader would read them.
 *
 * Sphinx's search shows a snippet of each page's text, and its text of a formula is the TeX
 * source ("\(1 \times 1\)"). Before the snippet is cut, each formula's TeX is turned into plain
 * text ("1 × 1"): delimiters and braces dropped, common macros replaced by their symbols.
 * Loaded on search.html only (book/_ext/reader_page.py).
 */
(function () {
  "use strict";
  var SYMBOLS = {
    "\\times": "×", "\\cdot": "·", "\\alpha": "α", "\\rho": "ρ", "\\sigma": "σ", "\\delta": "δ",
    "\\le": "≤", "\\leq": "≤", "\\ge": "≥", "\\geq": "≥", "\\approx": "≈", "\\to": "→",
    "\\ldots": "…", "\\dots": "…", "\\sqrt": "√", "\\infty": "∞", "\\pm": "±", "\\in": "∈",
  };
  function plain(tex) {
    return tex
      .replace(/^\s*(\\\(|\\\[|\$\$?)/, "").replace(/(\\\)|\\\]|\$\$?)\s*$/, "")
      .replace(/\\(?:frac|tfrac|dfrac)\{([^{}]*)\}\{([^{}]*)\}/g, "$1/$2")
      .replace(/\\(?:mathrm|operatorname|text|mathbf|boldsymbol)\{([^{}]*)\}/g, "$1")
      .replace(/\\[a-zA-Z]+/g, function (m) { return SYMBOLS[m] !== undefined ? SYMBOLS[m] : m.slice(1); })
      .replace(/\\[,;!: ]/g, " ")
      .replace(/[{}]/g, "")
      .replace(/\s+/g, " ")
      .trim();
  }
  function install() {
    if (typeof Search === "undefined" || !Search.htmlToText || Search.mobilenetPlainMath) return;
    var original = Search.htmlToText;
    Search.htmlToText = function (htmlString, anchor) {
      var doc = new DOMParser().parseFromString(htmlString, "text/html");
      doc.querySelectorAll(".math").forEach(function (el) { el.textContent = plain(el.textContent); });
      return original(doc.documentElement.outerHTML, anchor);
    };
    Search.mobilenetPlainMath = true;
  }
  install();
  document.addEventListener("DOMContentLoaded", install);
  window.mobilenetPlainMath = plain;
})();
