"""pytest set-up for the chapter notebooks (book/**/*.ipynb, run by nbval from scripts/test).

nbval compares every stored output of a cell with the new one, except images: it skips PNG and
JPEG, whose bytes depend on the machine's rendering. The book's figures are SVG
(``mobilenet_lib.viz.style.book_style``), which nbval would compare byte for byte; an SVG's
path coordinates carry the same machine-dependent digits as a PNG's pixels, so it is skipped in
the same way. What a figure shows is checked where it is exact: in the numbers its cell prints,
and in the tests of the ``viz`` module that draws it.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collectstart(collector: pytest.Collector) -> None:
    skip = getattr(collector, "skip_compare", None)
    if isinstance(skip, tuple) and "image/png" in skip and "image/svg+xml" not in skip:
        collector.skip_compare = skip + ("image/svg+xml",)
