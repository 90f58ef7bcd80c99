"""The page as a reader sees it, in Chromium at a phone's, a tablet's and a laptop's width.

- the navigation: the chapter menu and the page contents open (and close) at 390, 768 and
  1280 px, and a chapter link in the open menu leads to that chapter;
- figures are legible: an SVG figure's smallest text is at least 10 CSS px as displayed at
  1280 px, and no raster figure or kernel-free frame is squeezed below its natural size;
- every table fits the text column at 1280 px;
- the text matches the page: no passage says a widget "does nothing" or asks the reader to run the
  notebook to move sliders that move, and every chapter with a live widget has a kernel-free view;
- no button leads to the placeholder repository, and Live Code tells the reader within seconds
  that no kernel is available, instead of "Launching" forever;
- a reader's first visit logs no theme error, and the site has its favicon.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
import yaml

from book_site import ROOT, _chapters, _open

WIDTHS = (390, 768, 1280)
MIN_TEXT_PX = 9.95  # 10 CSS px, with room for float rounding
PLACEHOLDER = "your-org/mobilenet-book"


def _new_page(browser: object, width: int) -> object:
    context = browser.new_context(viewport={"width": width, "height": 900})
    return context.new_page()


def _visible(page: object, selector: str) -> bool:
    return page.evaluate(
        """(sel) => { const e = document.querySelector(sel); if (!e) return false;
           const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
           return r.width > 50 && r.height > 50 && r.right > 0 && r.left < innerWidth
                  && s.visibility !== 'hidden' && s.display !== 'none'; }""",
        selector,
    )


def _menu_link_visible(page: object) -> bool:
    """Is a chapter link of the site menu on screen (in the sidebar or in its dialog)?"""
    return page.evaluate(
        """() => [...document.querySelectorAll('#pst-primary-sidebar a.reference, #pst-primary-sidebar-modal a.reference')]
             .some(a => { const r = a.getBoundingClientRect();
                          return r.width > 0 && r.left >= 0 && r.right <= innerWidth && r.top >= 0 && r.top < innerHeight; })"""
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_menu_and_contents_open_close_and_lead_somewhere(browser: object, static_url: str, width: int) -> None:
    page = _new_page(browser, width)
    try:
        _open(page, f"{static_url}/book/mobilenet_v1.html")
        toggles = page.locator(".primary-toggle:visible")
        assert toggles.count() == 1, f"{width}px: {toggles.count()} visible menu buttons"
        wide = width >= 992
        assert _menu_link_visible(page) == wide, f"{width}px: the menu should start {'open' if wide else 'closed'}"
        toggles.first.click()
        page.wait_for_timeout(400)
        assert _menu_link_visible(page) != wide, f"{width}px: the menu button did not {'close' if wide else 'open'} the menu"
        if wide:
            toggles.first.click()
            page.wait_for_timeout(400)
            assert _menu_link_visible(page), f"{width}px: the menu did not open again"
        # a chapter link in the open menu leads to that chapter
        link = page.locator("#pst-primary-sidebar-modal a.reference:visible, #pst-primary-sidebar a.reference:visible").filter(
            has_text="Inverted residuals").first
        link.click()
        page.wait_for_load_state("load")
        assert page.url.endswith("book/inverted_residuals.html"), f"{width}px: the menu link led to {page.url}"

        # the page contents (right-hand sidebar): open in a dialog below 1200 px, on the page above
        _open(page, f"{static_url}/book/mobilenet_v1.html")
        contents = page.locator(".secondary-toggle:visible")
        if width < 1200:
            assert contents.count() == 1, f"{width}px: {contents.count()} visible contents buttons"
            contents.first.click()
            page.wait_for_timeout(400)
            opened = page.evaluate("() => { const d = document.querySelector('#pst-secondary-sidebar-modal'); return !!d && d.open; }")
            assert opened, f"{width}px: the contents button did not open the page contents"
            page.keyboard.press("Escape")
            page.wait_for_timeout(300)
            assert not page.evaluate("() => document.querySelector('#pst-secondary-sidebar-modal').open"), \
                f"{width}px: the page contents did not close"
        else:
            assert _visible(page, "#pst-secondary-sidebar"), f"{width}px: no page contents beside the text"
    finally:
        page.context.close()


_FIGURES_JS = """async () => {
  const out = [];
  for (const img of document.querySelectorAll('article .cell_output img, article img.msv-frame')) {
    await img.decode().catch(() => null);
    const rec = {src: img.currentSrc.slice(-60), shown: img.getBoundingClientRect().width, natural: img.naturalWidth, svg: false};
    if (/\\.svg(\\?|$)/.test(img.currentSrc)) {
      const text = await (await fetch(img.currentSrc)).text();
      const view = text.match(/viewBox="[\\d.]+ [\\d.]+ ([\\d.]+) /);
      const sizes = [...text.matchAll(/font(?:-size)?:\\s*(?:[a-z]+\\s+)*([\\d.]+)px/g)].map(m => parseFloat(m[1]));
      rec.svg = true;
      rec.min_font_px = sizes.length && view ? Math.min(...sizes) * rec.shown / parseFloat(view[1]) : null;
    }
    out.push(rec);
  }
  return out;
}"""


def test_figure_text_is_at_least_10px_at_1280(site: Path, static_url: str, browser: object) -> None:
    page = _new_page(browser, 1280)
    problems = []
    try:
        for rel in _chapters(site):
            _open(page, f"{static_url}/{rel}")
            for fig in page.evaluate(_FIGURES_JS):
                if fig["svg"]:
                    if fig["min_font_px"] is not None and fig["min_font_px"] < MIN_TEXT_PX:
                        problems.append(f"{rel}: {fig['src']}: smallest text {fig['min_font_px']:.1f} px")
                elif fig["natural"] and fig["shown"] < 0.9 * fig["natural"]:
                    problems.append(f"{rel}: {fig['src']}: a {fig['natural']} px image squeezed to {fig['shown']:.0f} px")
    finally:
        page.context.close()
    assert not problems, "figures too small to read at 1280 px:\n" + "\n".join(problems)


def test_line_and_bar_plots_are_svg(site: Path) -> None:
    """The chapters' figures that are drawn, not photographed, reach the page as vector images."""
    chapters = [p for p in (site / "book").glob("*.html") if (ROOT / "book" / f"{p.stem}.ipynb").is_file()]
    svgs = sum(len(re.findall(r'<img[^>]+src="[^"]+\.svg"', p.read_text(encoding="utf-8"))) for p in chapters)
    pngs = sum(len(re.findall(r'<img[^>]+src="[^"]+\.png"', p.read_text(encoding="utf-8"))) for p in chapters)
    assert svgs >= 20 and pngs == 0, f"{svgs} SVG and {pngs} PNG figures in the chapters"


def test_every_table_fits_the_column_at_1280(site: Path, static_url: str, browser: object) -> None:
    page = _new_page(browser, 1280)
    problems = []
    try:
        for rel in _chapters(site):
            _open(page, f"{static_url}/{rel}")
            problems += [f"{rel}: {t}" for t in page.evaluate(
                """() => { const col = document.querySelector('article.bd-article').getBoundingClientRect();
                   return [...document.querySelectorAll('article table')]
                     .filter(t => t.getBoundingClientRect().width > col.width + 1)
                     .map(t => `${Math.round(t.getBoundingClientRect().width)} px wide in a ${Math.round(col.width)} px column: `
                              + (t.querySelector('tr') || {innerText: ''}).innerText.replace(/\\s+/g, ' ').slice(0, 80)); }""")]
    finally:
        page.context.close()
    assert not problems, "tables wider than the text column at 1280 px:\n" + "\n".join(problems)


_CONTRADICTIONS = re.compile(
    r"(sliders|controls|it) do(?:es)? nothing|shows its default (?:values|window)|to move the sliders, run it yourself",
    re.IGNORECASE,
)


def test_the_text_says_what_the_page_does(site: Path) -> None:
    problems = []
    for rel in _chapters(site):
        html = (site / rel).read_text(encoding="utf-8")
        text = re.sub(r"<[^>]+>", " ", html)
        for m in _CONTRADICTIONS.finditer(text):
            problems.append(f"{rel}: says “{m.group(0)}”")
        if "ml-needs-kernel" in html and "ml-static-view" not in html:
            problems.append(f"{rel}: has a live widget but no kernel-free view")
    assert not problems, "\n".join(problems)


def test_no_button_leads_to_the_placeholder_repository(site: Path) -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert not config["launch_buttons"].get("binderhub_url") and not config["launch_buttons"].get("colab_url")
    for rel in _chapters(site):
        html = (site / rel).read_text(encoding="utf-8")
        hrefs = re.findall(r'href="([^"]+)"', html)
        bad = [h for h in hrefs if PLACEHOLDER in h or "mybinder.org" in h or "colab.research.google.com" in h]
        assert not bad, f"{rel}: links that lead nowhere: {bad}"
        assert "window.mobilenetBinder = null;" in html, f"{rel}: Live Code would try Binder"


def test_live_code_reports_no_kernel_within_seconds(static_url: str, browser: object) -> None:
    page = _new_page(browser, 1280)
    try:
        _open(page, f"{static_url}/book/depthwise_separable.html")
        page.locator(".dropdown-launch-buttons button").first.click()
        page.get_by_text("Live Code").first.click()
        box = page.locator(".ml-live-code-error")
        box.wait_for(state="visible", timeout=8_000)
        message = box.inner_text()
        assert "not available" in message and "scripts/serve-live" in message, message
        assert page.evaluate("() => document.documentElement.getAttribute('data-live-code')") == "failed"
    finally:
        page.context.close()


def test_first_visit_logs_no_theme_error_and_the_favicon_is_there(static_url: str, browser: object) -> None:
    page = _new_page(browser, 1280)  # a fresh profile: nothing stored, as on a reader's first visit
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        _open(page, f"{static_url}/book/mobilenet_v1.html")
        assert not [e for e in errors if "theme mode" in e], errors
        icon = page.evaluate("() => (document.querySelector('link[rel~=icon]') || {}).href || ''")
        assert icon, "no favicon link on the page"
        for url in (icon, f"{static_url}/favicon.ico"):
            with urllib.request.urlopen(url, timeout=10) as r:
                assert r.status == 200 and r.read(4) == b"\x00\x00\x01\x00", f"{url} is not an icon"
    finally:
        page.context.close()
