"""Fixtures and helpers every browser test module shares (registered by conftest.py): the built
site, a static server, one Chromium, a page that records every problem it sees, and opening a page
until it has settled.

The site is built once per pytest worker into a temporary folder (or taken from
BOOK_SITE=/path/to/_build/html). The browser is never downloaded: it is Debian's Chromium
(or CHROMIUM=/path/to/chromium), which scripts/test installs when missing.
"""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import sys
import threading
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Fixtures: the site, a static server, the browser
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def static_url(site: Path) -> Iterator[str]:
    """The site over HTTP (as a reader's web server would serve it), on a free local port."""
    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
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


