"""The book as a whole: a strict build, a complete table of contents, and offline pages.

The build is run once for this module (Sphinx warnings are errors, nitpicky, all pages), into a
temporary folder so it never disturbs ``_build/`` from ``scripts/build-book``. The notebooks'
own outputs are checked by nbval (see scripts/test); the notebooks' hygiene by
tests/test_book_notebooks.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"


def book_pages() -> set[str]:
    """Every page source under book/ (.md, .ipynb), as toc names ('book/intro'), skipping
    hidden and underscore folders (_build, _extra, .ipynb_checkpoints)."""
    pages = set()
    for path in BOOK.rglob("*"):
        rel = path.relative_to(BOOK)
        if path.suffix not in {".md", ".ipynb"} or any(p.startswith((".", "_")) for p in rel.parts):
            continue
        pages.add(path.relative_to(ROOT).with_suffix("").as_posix())
    return pages


def toc_entries(node: object) -> list[str]:
    """The ``root`` and every ``file`` named anywhere in a parsed _toc.yml, in order."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"root", "file"} and isinstance(value, str):
                found.append(re.sub(r"\.(md|ipynb)$", "", value))
            else:
                found.extend(toc_entries(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(toc_entries(item))
    return found


def test_every_page_is_in_the_toc_and_every_toc_entry_exists() -> None:
    toc = toc_entries(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    assert len(toc) == len(set(toc)), f"_toc.yml lists a page twice: {toc}"
    pages = book_pages()
    missing = sorted(pages - set(toc))
    assert not missing, f"pages under book/ that _toc.yml does not list: {missing}"
    dangling = sorted(set(toc) - pages)
    assert not dangling, f"_toc.yml entries with no page under book/: {dangling}"


def test_book_has_chapter_notebooks() -> None:
    assert any(BOOK.glob("*.ipynb")), "no chapter notebook under book/"


def _jupyter_book() -> str:
    beside = Path(sys.executable).with_name("jupyter-book")
    found = str(beside) if beside.exists() else shutil.which("jupyter-book")
    assert found, "jupyter-book is not installed in this environment"
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the whole book strictly; return the HTML folder."""
    out = tmp_path_factory.mktemp("book")
    cmd = [_jupyter_book(), "build", "--all", "-W", "-n", "--keep-going", "--path-output", str(out), str(ROOT)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        problems = [line for line in (proc.stdout + proc.stderr).splitlines() if re.search(r"WARNING|ERROR|Error", line)]
        pytest.fail(
            f"strict book build failed (exit {proc.returncode}); warnings and errors:\n"
            + "\n".join(problems or (proc.stdout + proc.stderr).splitlines()[-40:])
        )
    html = out / "_build" / "html"
    assert (html / "index.html").is_file()
    return html


def test_book_builds_without_warnings(site: Path) -> None:
    for page in toc_entries(yaml.safe_load((ROOT / "_toc.yml").read_text())):
        assert (site / f"{page}.html").is_file(), f"{page} is in _toc.yml but was not built"


class _Assets(HTMLParser):
    """Collects what a page makes the browser fetch by itself (not the links a reader clicks)."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in {"script", "img", "iframe", "source", "audio", "video", "embed", "track"} and a.get("src"):
            self.fetched.append(a["src"] or "")
        if tag == "link" and a.get("href"):
            rel = set((a.get("rel") or "").lower().split())
            # hyperlink-like relations (canonical, next, prev, search, index) fetch nothing
            if rel & {"stylesheet", "preload", "modulepreload", "icon", "shortcut", "prefetch", "manifest"}:
                self.fetched.append(a["href"] or "")
        if tag == "object" and a.get("data"):
            self.fetched.append(a["data"] or "")
        # inline style="...url(http...)"
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", a.get("style") or ""):
            self.fetched.append(url)


def _html_pages(site: Path) -> list[Path]:
    """The site's pages (not the theme's Jinja macro files Sphinx copies into _static)."""
    return sorted(p for p in site.rglob("*.html") if p.relative_to(site).parts[0] not in {"_static", "_sources"})


def _remote(url: str) -> bool:
    return urlparse(url).scheme in {"http", "https"} or url.startswith("//")


def test_no_page_fetches_from_another_host(site: Path) -> None:
    offenders = []
    for page in _html_pages(site):
        parser = _Assets()
        parser.feed(page.read_text(encoding="utf-8"))
        offenders += [f"{page.relative_to(site)}: {u}" for u in parser.fetched if _remote(u)]
    for css in sorted(site.rglob("*.css")):
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", css.read_text(encoding="utf-8", errors="replace")):
            if _remote(url):
                offenders.append(f"{css.relative_to(site)}: {url}")
        for url in re.findall(r"@import\s+(?:url\()?['\"]?([^'\"); ]+)", css.read_text(encoding="utf-8", errors="replace")):
            if _remote(url):
                offenders.append(f"{css.relative_to(site)}: @import {url}")
    assert not offenders, "pages load resources from other hosts:\n" + "\n".join(offenders)


def _local_targets(site: Path, page: Path) -> list[Path]:
    parser = _Assets()
    parser.feed(page.read_text(encoding="utf-8"))
    base = page.relative_to(site).as_posix()
    targets = []
    for url in parser.fetched:
        if _remote(url) or url.startswith("data:"):
            continue
        resolved = urlparse(urljoin(base, url)).path
        targets.append(site / resolved)
    return targets


def test_every_local_asset_a_page_loads_exists(site: Path) -> None:
    missing = []
    for page in _html_pages(site):
        missing += [f"{page.relative_to(site)} -> {t.relative_to(site)}" for t in _local_targets(site, page) if not t.exists()]
    assert not missing, "pages reference missing files:\n" + "\n".join(missing)


def _chapter_pages(site: Path) -> list[Path]:
    """The built pages of the notebooks listed in _toc.yml."""
    toc = toc_entries(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    return [site / f"{page}.html" for page in toc if (ROOT / f"{page}.ipynb").is_file()]


def test_math_is_typeset_by_the_vendored_mathjax(site: Path) -> None:
    mathjax = site / "vendor" / "mathjax" / "es5" / "tex-chtml.js"
    assert mathjax.is_file()
    assert any((site / "vendor/mathjax/es5/output/chtml/fonts/woff-v2").glob("*.woff"))
    math_pages = [p for p in _html_pages(site) if 'class="math' in p.read_text(encoding="utf-8")]
    assert math_pages, "no page has math; the check below would prove nothing"
    for page in math_pages:
        assert mathjax in _local_targets(site, page), f"{page.relative_to(site)} does not load the vendored MathJax"


def test_widget_pages_load_the_vendored_widget_renderer(site: Path) -> None:
    for page in _html_pages(site):
        if "application/vnd.jupyter.widget-state+json" not in page.read_text(encoding="utf-8"):
            continue
        targets = _local_targets(site, page)
        for needed in ("vendor/requirejs/require.js", "vendor/html-manager/embed-amd.js"):
            assert site / needed in targets, f"{page.relative_to(site)} does not load {needed}"


def test_chapters_have_download_and_live_code_buttons(site: Path) -> None:
    # Binder and Colab buttons are off until the book has a home repository (README, "Publishing");
    # tests/browser/test_reader_page.py checks that no button leads to the placeholder.
    pages = _chapter_pages(site)
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        name = page.relative_to(site).with_suffix(".ipynb").as_posix()
        assert f"_sources/{name}" in text, f"{page.name}: no download button for the notebook"
        assert (site / "_sources" / name).is_file()
        assert "initThebeSBT()" in text, f"{page.name}: no Live Code button"


def test_the_reader_sees_no_test_plumbing(site: Path) -> None:
    """book/_ext/reader_page.py strips nbval markers and glue calls from the code on the page; the
    notebooks keep them (they are the checks)."""
    notebooks = [nb for nb in (ROOT / "book").glob("*.ipynb")]
    assert any("NBVAL_CHECK_OUTPUT" in nb.read_text(encoding="utf-8") for nb in notebooks)
    for page in _chapter_pages(site):
        code = " ".join(re.findall(r'<div class="highlight[^"]*"><pre>(.*?)</pre>', page.read_text(encoding="utf-8"), re.S))
        text = re.sub(r"<[^>]+>", "", code)
        assert "NBVAL_" not in text, f"{page.name}: nbval markers shown to the reader"
        assert not re.search(r"\bglue\(", text), f"{page.name}: glue() calls shown to the reader"


def test_bibliography_labels_are_author_year(site: Path) -> None:
    html = (site / "book" / "bibliography.html").read_text(encoding="utf-8")
    labels = re.findall(r'<span class="label"><span class="fn-bracket">\[</span>(.*?)<span class="fn-bracket">\]', html)
    assert labels, "no bibliography labels found"
    for label in labels:
        assert re.fullmatch(r"[^\d,]+(?: and [^\d,]+| et al\.)?, \d{4}[a-z]?", label), f"label {label!r} is not author-year"


def test_exercises_are_numbered_per_chapter(site: Path) -> None:
    numbers = re.findall(r"Exercise (\d+(?:\.\d+)?)", (site / "book" / "mobilenet_v1.html").read_text(encoding="utf-8"))
    assert numbers and all("." in n for n in numbers), f"exercise numbers {sorted(set(numbers))[:5]} are not per chapter"
