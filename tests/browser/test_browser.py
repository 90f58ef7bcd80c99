"""The built book in a real browser (Debian's Chromium, driven by Playwright).

One module, so pytest-xdist runs it on one worker: the book is built once, one browser is started,
and pages are visited in sequence.

- every page loads with no console error, no uncaught exception, no failed request and no HTTP
  error, and every image on it is present and decoded (naturalWidth > 0);
- the navigation (sidebar, next/previous) and the search page work;
- on the static pages, every kernel-free view (``static_view``) is moved control by control and
  its figure is seen to change, and no dead ipywidget is drawn (each shows a note instead);
- in live mode (scripts/serve-live's local Jupyter server, with a token and allow_origin), every
  chapter with a widget runs up to its first widget cell, a control is moved and the widget's
  figure is seen to change;
- a full-page screenshot of every chapter goes to test-artifacts/screenshots/.

The browser is never downloaded: scripts/test installs Debian's chromium with apt-get when it is
missing. Set BOOK_SITE=/path/to/_build/html to test an already built book (no build).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from book_site import (  # noqa: E402  (fixtures and helpers every browser test shares)
    ARTIFACTS, LIVE_TIMEOUT_MS, ROOT, _chapters, _free_port,
    _open, _pages, _settle,
)


_IMAGES_JS = """async () => {
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(img => img.decode().catch(() => null)));
  return imgs.map(img => ({src: img.currentSrc.slice(0, 120), w: img.naturalWidth, visible: img.offsetParent !== null}));
}"""


# --------------------------------------------------------------------------------------------
# Static pages
# --------------------------------------------------------------------------------------------


def test_every_page_loads_cleanly_with_all_its_images(site: Path, static_url: str, page: object) -> None:
    pages = _pages(site)
    assert any(p.startswith("book/") for p in pages), f"no chapter pages in {site}"
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    chapters = set(_chapters(site))
    report = []
    for rel in pages:
        page.problems.items.clear()
        _open(page, f"{static_url}/{rel}")
        images = page.evaluate(_IMAGES_JS)
        broken = [i["src"] for i in images if i["w"] == 0]
        if broken:
            report.append(f"{rel}: images missing or empty: {broken}")
        report += [f"{rel}: {p}" for p in page.problems.items]
        if rel in chapters:
            page.screenshot(path=str(shots / (rel.replace("/", "_").removesuffix(".html") + ".png")), full_page=True)
    assert not report, "problems in the built pages:\n" + "\n".join(report)


def test_navigation_links_lead_through_the_book(site: Path, static_url: str, page: object) -> None:
    _open(page, f"{static_url}/index.html")
    chapters = _chapters(site)
    assert chapters
    # the sidebar lists every chapter; following its link opens the chapter
    for rel in chapters:
        link = page.locator(f"nav.bd-docs-nav a[href$='{rel.split('/')[-1]}']").first
        assert link.count() == 1, f"the sidebar has no link to {rel}"
    with page.expect_navigation(wait_until="networkidle", timeout=120_000):
        page.locator(f"nav.bd-docs-nav a[href$='{chapters[0].split('/')[-1]}']").first.click()
    _settle(page)
    assert page.url.endswith(chapters[0]), page.url
    # "next" buttons walk through the whole book, in toc order, and end
    _open(page, f"{static_url}/index.html")
    seen = [page.url]
    while page.locator("a.right-next").count():
        with page.expect_navigation(wait_until="networkidle", timeout=120_000):
            page.locator("a.right-next").first.click()
        _settle(page)
        assert page.url not in seen, f"'next' loops back to {page.url}"
        seen.append(page.url)
    visited = {u.split(static_url + "/")[1] for u in seen}
    assert set(chapters) <= visited, f"'next' never reaches {sorted(set(chapters) - visited)}"
    assert not page.problems.items, page.problems.items


def test_search_finds_a_chapter(site: Path, static_url: str, page: object) -> None:
    _open(page, f"{static_url}/search.html?q=depthwise")
    page.wait_for_selector("#search-results li a", timeout=30_000)
    hrefs = page.eval_on_selector_all("#search-results li a", "els => els.map(e => e.getAttribute('href'))")
    assert any("depthwise_separable" in h for h in hrefs), hrefs
    # and from a chapter, through the search box
    _open(page, f"{static_url}/{_chapters(site)[0]}")
    page.keyboard.press("Control+k")
    box = page.locator("input[name='q']:visible").first
    box.fill("separable")
    box.press("Enter")
    page.wait_for_url(re.compile(r"search\.html\?q=separable"))
    page.wait_for_selector("#search-results li a", timeout=30_000)
    assert not page.problems.items, page.problems.items


_VIEW_STATE_JS = """root => root.querySelector('img.msv-frame').getAttribute('src').length + ':' +
  root.querySelector('img.msv-frame').getAttribute('src').slice(-64)"""


def test_every_kernel_free_view_responds_to_every_control(site: Path, static_url: str, page: object) -> None:
    checked = 0
    for rel in _chapters(site):
        _open(page, f"{static_url}/{rel}")
        views = page.locator(".ml-static-view")
        for v in range(views.count()):
            view = views.nth(v)
            controls = view.locator("[data-msv-param]")
            assert controls.count() > 0, f"{rel}: view {v} has no controls"
            for c in range(controls.count()):
                control = controls.nth(c)
                name = control.get_attribute("data-msv-param")
                before = view.evaluate(_VIEW_STATE_JS)
                states = {before}
                if control.evaluate("el => el.tagName") == "SELECT":
                    n = control.locator("option").count()
                    for k in range(n):
                        control.select_option(index=k)
                        states.add(view.evaluate(_VIEW_STATE_JS))
                else:
                    n = int(control.get_attribute("max")) + 1
                    control.focus()
                    for key in ["Home"] + ["ArrowRight"] * (n - 1):
                        control.press(key)
                        states.add(view.evaluate(_VIEW_STATE_JS))
                assert len(states) > 1, f"{rel}: moving {name!r} across its {n} values never changed the figure"
                checked += 1
            image = view.evaluate("root => root.querySelector('img.msv-frame').naturalWidth")
            assert image > 0, f"{rel}: view {v} shows an empty image"
    assert not page.problems.items, page.problems.items
    chapters_with_views = [rel for rel in _chapters(site) if "ml-static-view" in (site / rel).read_text()]
    assert checked or not chapters_with_views


def test_static_pages_draw_no_dead_widgets(site: Path, static_url: str, page: object) -> None:
    for rel in _chapters(site):
        _open(page, f"{static_url}/{rel}")
        drawn = page.locator(".jupyter-widgets, .widget-slider, .widget-hslider, .widget-dropdown").count()
        assert drawn == 0, f"{rel}: {drawn} ipywidgets drawn on the static page; they would compute nothing"
        views = page.locator("script[type='application/vnd.jupyter.widget-view+json']").count()
        notes = page.locator(".ml-needs-kernel").count()
        assert notes == views, f"{rel}: {views} widget outputs but {notes} 'needs a kernel' notes"
        if notes:
            assert "Live Code" in page.locator(".ml-needs-kernel").first.inner_text()


# --------------------------------------------------------------------------------------------
# Live mode: a local Jupyter server behind the pages' Live Code button
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_url(site: Path) -> Iterator[str]:
    book_port, jupyter_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "_serve_live.py"), "--site", str(site),
         "--book-port", str(book_port), "--jupyter-port", str(jupyter_port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{book_port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/live-server.json", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"scripts/serve-live did not come up:\n{proc.communicate()[0][-3000:]}", pytrace=False)
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


# Index (among the cells thebe makes executable) of the first cell whose static output is a widget.
_WIDGET_CELL_JS = """() => {
  const cells = Array.from(document.querySelectorAll('.cell')).filter(c => c.querySelector('.cell_input pre'));
  return cells.findIndex(c => c.querySelector('.ml-needs-kernel'));
}"""

_RUN_UP_TO_JS = """async (index) => {
  const nb = window.thebe.notebook;
  const cell = nb.cells[index];
  const results = await nb.executeUpTo(cell.id, true);
  const failed = (results || []).filter(r => r && r.error);
  return failed.length ? String(failed[0].error || 'error') : '';
}"""

_OUTPUT_STATE_JS = """index => {
  // thebe 0.9 puts a cell's output area beside its .thebe-cell (editor and buttons), not inside
  const cell = document.querySelectorAll('.thebe-cell')[index];
  const area = cell && cell.parentElement;
  if (!area) return '';
  // the figure (a widget's <img>), not the slider's own read-out, must change: a PNG's bytes
  const imgs = Array.from(area.querySelectorAll('.thebe-output img, [data-output] img'));
  return imgs.map(i => i.src.length + ':' + i.src.slice(-64)).join('|');
}"""


def test_live_mode_runs_each_widget_on_a_local_server(site: Path, live_url: str, page: object) -> None:
    chapters = [rel for rel in _chapters(site) if "ml-needs-kernel" in (site / rel).read_text()]
    assert chapters, "no chapter has a widget; live mode would prove nothing"
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    for rel in chapters:
        page.problems.items.clear()
        _open(page, f"{live_url}/{rel}")
        index = page.evaluate(_WIDGET_CELL_JS)
        assert index >= 0
        # the rocket menu's Live Code button (hidden in a dropdown): call what it calls
        page.evaluate("() => window.initThebeSBT()")
        page.wait_for_function(
            "() => window.thebe && window.thebe.session && window.thebe.session.kernel"
            " && window.thebe.session.kernel.status === 'idle'", timeout=120_000)
        assert page.evaluate("() => document.documentElement.getAttribute('data-live-code')") == "local"
        error = page.evaluate(_RUN_UP_TO_JS, index)
        assert not error, f"{rel}: a cell failed in live mode: {error}"
        cell = page.locator(".thebe-cell").nth(index).locator("xpath=..")  # editor + its output area
        cell.locator(".widget-slider, .widget-dropdown, .widget-toggle-buttons").first.wait_for(timeout=LIVE_TIMEOUT_MS)
        page.wait_for_function(f"() => ({_OUTPUT_STATE_JS})({index}).length > 0", timeout=60_000)  # a figure
        before = page.evaluate(_OUTPUT_STATE_JS, index)
        handle = cell.locator(".noUi-handle").first
        if handle.count():
            handle.focus()
            # a slider that starts at its maximum (e.g. α = 1) can only move left
            at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
            for _ in range(3):
                handle.press("ArrowLeft" if at_max else "ArrowRight")
        else:
            dropdown = cell.locator(".widget-dropdown select").first
            options = dropdown.locator("option").count()
            dropdown.select_option(index=(dropdown.evaluate("el => el.selectedIndex") + 1) % options)
        page.wait_for_function(f"b => ({_OUTPUT_STATE_JS})({index}) !== b", arg=before, timeout=60_000)
        # the kernel has caught up with every key press before the screenshot
        page.wait_for_function("() => window.thebe.session.kernel.status === 'idle'", timeout=60_000)
        page.wait_for_timeout(500)
        cell.screenshot(path=str(shots / ("live_" + rel.replace("/", "_").removesuffix(".html") + ".png")))
        assert not page.problems.items, f"{rel} in live mode:\n" + "\n".join(page.problems.items)
        page.evaluate("() => window.thebe.session.shutdown()")  # one kernel at a time
        page.goto("about:blank")  # leaving aborts thebe's polling requests: not the next page's problem
