"""The shape every chapter notebook must have (no kernel needed; nbval does the executing).

- stored outputs come from one top-to-bottom run in a fresh kernel (execution counts 1, 2, 3...),
  with no errors: the book is built from these outputs, and nbval only compares cells that have
  stored outputs, so an unexecuted notebook would "pass" everything;
- a chapter that uses torch seeds it and fixes its thread count (deterministic outputs);
- a number glued into the prose comes from a cell nbval checks even under --nbval-lax
  (``# NBVAL_CHECK_OUTPUT`` or the ``nbval-check-output`` tag), never from an ignored cell;
- the notebook runs the standard ``python3`` kernel.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"

NOTEBOOKS = sorted(
    p for p in BOOK.rglob("*.ipynb") if not any(part.startswith((".", "_")) for part in p.relative_to(BOOK).parts)
)


def _code_cells(path: Path) -> list[nbformat.NotebookNode]:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def _marked(cell: nbformat.NotebookNode, marker: str) -> bool:
    """nbval's marker as a comment line (``# NBVAL_CHECK_OUTPUT``) or as a cell tag."""
    tag = marker.lower().replace("_", "-")
    in_source = re.search(rf"^\s*#\s*{marker}\b", cell.source, re.MULTILINE) is not None
    return in_source or tag in cell.get("metadata", {}).get("tags", [])


def _id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_executed_top_to_bottom_without_errors(path: Path) -> None:
    cells = _code_cells(path)
    counts = [c.execution_count for c in cells if c.source.strip()]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{_id(path)}: execution counts {counts} are not 1..{len(counts)}; "
        f"run scripts/execute-notebooks {_id(path)}"
    )
    errors = [i for i, c in enumerate(cells) if any(o.output_type == "error" for o in c.outputs)]
    assert not errors, f"{_id(path)}: code cells {errors} stored an error"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_seeded_and_thread_count_fixed(path: Path) -> None:
    source = "\n".join(c.source for c in _code_cells(path))
    if not re.search(r"\btorch\b|mobilenet_lib", source):
        pytest.skip("does not use torch")
    assert "torch.manual_seed(" in source, f"{_id(path)}: call torch.manual_seed(...) in the set-up cell"
    assert "torch.set_num_threads(" in source, f"{_id(path)}: call torch.set_num_threads(...) in the set-up cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_glued_numbers_come_from_checked_cells(path: Path) -> None:
    for i, cell in enumerate(_code_cells(path)):
        if not re.search(r"\bglue\(", cell.source):
            continue
        assert not _marked(cell, "NBVAL_IGNORE_OUTPUT"), f"{_id(path)} code cell {i}: glue() in an ignored cell"
        assert _marked(cell, "NBVAL_CHECK_OUTPUT"), f"{_id(path)} code cell {i}: glue() cell needs # NBVAL_CHECK_OUTPUT"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_standard_python3_kernel(path: Path) -> None:
    spec = nbformat.read(path, as_version=4).metadata.get("kernelspec", {})
    assert spec.get("name") == "python3", f"{_id(path)}: kernelspec {spec!r}, expected name 'python3'"
