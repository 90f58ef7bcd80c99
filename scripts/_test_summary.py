"""Print scripts/test's final summary line and decide its exit status.

Usage: _test_summary.py JUNIT_XML PYTEST_EXIT_CODE SECONDS [--require-all-notebooks]

Reads pytest's JUnit report and prints one line: PASSED or FAILED, how many unit tests and how
many notebook cells (per notebook) ran, and the wall time. Exits with pytest's status when that is
non-zero (5 = nothing ran is a failure too), and with 1 when pytest passed but the run was not
what a full run must be: no tests at all, or (with --require-all-notebooks) a chapter notebook
that nbval did not execute.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"


def chapter_notebooks() -> list[str]:
    """Every notebook under book/ as a repository-relative path, skipping _ and . folders."""
    return sorted(
        p.relative_to(ROOT).as_posix()
        for p in BOOK.rglob("*.ipynb")
        if not any(part.startswith((".", "_")) for part in p.relative_to(BOOK).parts)
    )


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    junit, rc, seconds = Path(argv[0]), int(argv[1]), int(argv[2])
    require_all = argv[3:] == ["--require-all-notebooks"]
    minutes = f"{seconds // 60}m {seconds % 60:02d}s"

    counts: Counter[str] = Counter()
    cells: Counter[str] = Counter()
    if junit.is_file():
        for case in ET.parse(junit).getroot().iter("testcase"):
            outcome = "passed"
            for child in case:
                if child.tag in {"failure", "error", "skipped"}:
                    outcome = {"failure": "failed", "error": "errors", "skipped": "skipped"}[child.tag]
            counts[outcome] += 1
            # pytest names a notebook cell's class "book.chapter.ipynb" (path, "/" -> ".")
            classname = case.get("classname", "")
            if classname.endswith(".ipynb"):
                cells[classname] += 1

    notebooks = chapter_notebooks()
    untested = [nb for nb in notebooks if cells[nb.replace("/", ".")] == 0]
    n_cells = sum(cells.values())
    n_unit = sum(counts.values()) - n_cells
    detail = (
        f"{n_unit} unit/book tests, {n_cells} notebook cells in {len(cells)} notebook(s), "
        f"{counts['failed']} failed, {counts['errors']} errors, {counts['skipped']} skipped"
    )

    status = rc
    reason = f"pytest exit code {rc}" if rc else ""
    if rc == 5:
        reason = "pytest exit code 5: no tests ran"
    elif rc == 0 and sum(counts.values()) == 0:
        status, reason = 1, "no tests ran"
    elif rc == 0 and require_all and untested:
        status, reason = 1, f"nbval did not run: {', '.join(untested)}"

    if status == 0:
        print(f"\n==> ALL TESTS PASSED: {detail}; strict book build included; {minutes}")
    else:
        print(f"\n==> TESTS FAILED ({reason}): {detail}; {minutes}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
