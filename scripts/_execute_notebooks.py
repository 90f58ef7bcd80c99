"""Execute notebooks in place in a fresh kernel (nbclient); called by scripts/execute-notebooks.

Each notebook runs in its own new kernel with its folder as the working directory (as nbval and
Jupyter do), its outputs and widget state are written back, and the wall time is printed. Cell
timing metadata is not recorded, so a re-run with unchanged results leaves a clean git diff.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"


def chapter_notebooks() -> list[Path]:
    """Every notebook under book/, skipping hidden and underscore folders (_build, _extra...)."""
    return sorted(
        p
        for p in BOOK.rglob("*.ipynb")
        if not any(part.startswith((".", "_")) for part in p.relative_to(BOOK).parts)
    )


def execute(path: Path, timeout: int = 600) -> float:
    """Execute ``path`` in place; return the wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        store_widget_state=True,
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str]) -> int:
    paths = [Path(a).resolve() for a in argv] if argv else chapter_notebooks()
    if not paths:
        print("execute-notebooks: no notebooks found under book/", file=sys.stderr)
        return 1
    for path in paths:
        if path.suffix != ".ipynb" or not path.is_file():
            print(f"execute-notebooks: {path} is not a notebook file (.ipynb)", file=sys.stderr)
            return 2
    failed = []
    for path in paths:
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        try:
            seconds = execute(path)
        except CellExecutionError as err:
            failed.append(name)
            print(f"FAILED  {name}\n{err}", file=sys.stderr)
            continue
        print(f"{seconds:7.1f} s  {name}", flush=True)
    if failed:
        print(f"execute-notebooks: {len(failed)} notebook(s) failed: {', '.join(map(str, failed))}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
