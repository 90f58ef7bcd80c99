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

import functools
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
LIVE_TIMEOUT_MS = 240_000  # running a chapter up to its widget, on a busy two-core machine

# pydata-sphinx-theme logs "Got invalid theme mode" as a console error on a reader's very first
# visit (nothing stored yet); a stored choice is what every later visit has.
FIRST_VISIT = "localStorage.setItem('mode', 'light'); localStorage.setItem('theme', 'light');"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Fixtures: the site, a static server, the browser
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("BOOK_SITE")
    if given:
        path = Path(given).resolve()
        assert (path / "index.html").is_file(), f"BOOK_SITE={given} holds no built book (index.html)"
        return path
    out = tmp_path_factory.mktemp("browser-book")
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run([str(jb if jb.exists() else "jupyter-book"), "build", "--all", "--path-output", str(out), str(ROOT)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"book build failed:\n{(proc.stdout + proc.stderr)[-3000:]}"
    return out / "_build" / "html"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def static_url(site: Path) -> Iterator[str]:
    """The site over HTTP (as a reader's web server would serve it), on a free local port."""
    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's browser with "
                    "`apt-get install -y chromium chromium-driver` (scripts/test does this when it can), "
                    "or set CHROMIUM=/path/to/chromium", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -r requirements.txt", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


def _browser_own(url: str) -> bool:
    # The browser itself asks every site for /favicon.ico; the book's pages never reference it.
    return url.split("?")[0].endswith("/favicon.ico")


class PageProblems:
    """Everything that went wrong while a page was open."""

    def __init__(self, page: object) -> None:
        self.items: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.items.append(f"uncaught exception: {err}"))
        page.on("requestfailed", lambda req: None if _browser_own(req.url)
                else self.items.append(f"request failed: {req.url} ({req.failure})"))
        page.on("response", lambda r: self.items.append(f"HTTP {r.status}: {r.url}")
                if r.status >= 400 and not _browser_own(r.url) else None)

    def _console(self, msg: object) -> None:
        if msg.type == "error":
            where = (msg.location or {}).get("url", "")
            if not _browser_own(where):
                self.items.append(f"console error: {msg.text} {where}".strip())


@pytest.fixture()
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(FIRST_VISIT)
    pg = context.new_page()
    pg.problems = PageProblems(pg)
    yield pg
    context.close()


def _pages(site: Path) -> list[str]:
    """Every HTML page of the site, relative (the theme's templates in _static excluded)."""
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                  if p.relative_to(site).parts[0] not in {"_static", "_sources", "_images"})


def _chapters(site: Path) -> list[str]:
    return sorted(f"book/{nb.stem}.html" for nb in (ROOT / "book").glob("*.ipynb") if (site / "book" / f"{nb.stem}.html").is_file())


def _open(page: object, url: str) -> None:
    # Generous timeouts: a page with many kernel-free frames can take a while on a loaded 2-core box.
    page.goto(url, wait_until="networkidle", timeout=120_000)
    _settle(page)


def _settle(page: object) -> None:
    """Wait until the page has finished what it does after loading.

    MathJax typesets after load (which gives it the chance to fail loudly), and only then asks for
    its web fonts; leaving the page before they arrive would abort those requests, which the
    problem log rightly counts as failures.
    """
    page.wait_for_load_state("networkidle", timeout=120_000)
    page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("() => document.fonts.ready.then(() => true)")


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
