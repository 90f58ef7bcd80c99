"""Page weight of every page of the built book: what a reader's browser downloads to show it.

For each HTML page of the site: the page itself, its images (figures are files; kernel-free views
carry their frames inside the HTML), and every local script, style sheet and font it asks for,
counted once per page. Fonts and scripts that most pages share (the theme, MathJax) are reported
separately, because a browser caches them after the first page. Nothing is timed, so the numbers are the same on every
machine for the same build.

    .venv/bin/python benchmarks/page_weight.py [--site _build/html]

Writes benchmarks/results/page_weight.{json,md}; the README quotes the table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "img") and a.get("src"):
            self.urls.append(a["src"])
        elif tag == "link" and a.get("href") and (a.get("rel") or "") in ("stylesheet", "icon", "preload"):
            self.urls.append(a["href"])


def _local(site: Path, page: Path, url: str) -> Path | None:
    if url.startswith("data:") or urlparse(url).scheme in ("http", "https"):
        return None
    target = urljoin(page.relative_to(site).as_posix(), url.split("?")[0].split("#")[0])
    path = (site / target).resolve()
    return path if path.is_file() else None


def _css_assets(css: Path) -> list[Path]:
    """Files a style sheet loads (fonts, images) with url(...)."""
    out = []
    for url in re.findall(r"url\(['\"]?([^'\")]+)['\"]?\)", css.read_text(encoding="utf-8", errors="replace")):
        if url.startswith("data:"):
            continue
        path = (css.parent / url.split("?")[0].split("#")[0]).resolve()
        if path.is_file():
            out.append(path)
    return out


def page_weights(site: Path) -> dict:
    pages = sorted(p for p in site.rglob("*.html") if p.relative_to(site).parts[0] not in {"_static", "_sources", "_images"})
    per_page, shared_count = [], {}
    for page in pages:
        parser = _Assets()
        parser.feed(page.read_text(encoding="utf-8"))
        files = {p for u in parser.urls if (p := _local(site, page, u))}
        for css in [f for f in files if f.suffix == ".css"]:
            files.update(_css_assets(css))
        images = {f for f in files if f.suffix.lower() in {".png", ".svg", ".jpg", ".jpeg", ".gif"} and "_images" in f.parts}
        common = files - images
        for f in common:
            shared_count[f] = shared_count.get(f, 0) + 1
        per_page.append({"page": page.relative_to(site).as_posix(), "html_bytes": page.stat().st_size,
                         "image_bytes": sum(f.stat().st_size for f in images), "files": sorted(str(f) for f in common)})
    n = len(per_page)
    # the theme's files (and MathJax) that most pages load: a browser caches them after the first
    shared = {f for f, c in shared_count.items() if c >= 0.8 * n}
    for row in per_page:
        own = [Path(f) for f in row.pop("files") if Path(f) not in shared]
        row["own_asset_bytes"] = sum(f.stat().st_size for f in own)
        row["total_bytes"] = row["html_bytes"] + row["image_bytes"] + row["own_asset_bytes"]
    return {"pages": per_page, "shared_asset_bytes": sum(f.stat().st_size for f in shared),
            "shared_assets": len(shared)}


def _markdown(result: dict) -> str:
    kb = lambda b: f"{b / 1024:,.0f}"  # noqa: E731
    lines = ["| page | HTML (KiB) | figures (KiB) | other scripts and styles (KiB) | total (KiB) |",
             "|---|---:|---:|---:|---:|"]
    for r in result["pages"]:
        if r["page"].startswith("book/"):
            lines.append(f"| {r['page']} | {kb(r['html_bytes'])} | {kb(r['image_bytes'])} | {kb(r['own_asset_bytes'])} | {kb(r['total_bytes'])} |")
    lines.append("")
    lines.append(f"Pages also load {result['shared_assets']} files most pages share (theme, MathJax, fonts), "
                 f"{kb(result['shared_asset_bytes'])} KiB, cached by the browser after the first page. Files a "
                 "page's scripts load later are not counted: MathJax's fonts, and the explorer's runtime and "
                 "models (benchmarks/results/explorer.md weighs those).")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"no built book in {args.site}: run scripts/build-book first", file=sys.stderr)
        return 2
    result = page_weights(args.site)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "page_weight.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "page_weight.md").write_text(_markdown(result))
    print(_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
