"""Sphinx extension: the student versions of the classroom assignments, built with the book.

The assignments' pages (book/assignments/) offer the student notebooks as downloads. Those
notebooks are generated (otter assign, via mobilenet_lib/classroom/grading.py) and not kept in git, so this
extension generates them when a build starts, into ``assignments/dist/book/<name>.ipynb``, which
the pages' ``{download}`` links point at. ``classroom.build`` refuses to finish when a line of a
solution survives in a student notebook, so a book whose downloads would leak a solution does not
build. The notebooks are written by atomic replace, so two builds at once cannot see half a file.

A checkout without the masters (a public repository whose masters live in a private one, see the
instructor page) builds from prebuilt student versions instead:
``assignments/dist/<name>/student/<name>.ipynb``, as ``scripts/assign-build`` writes them.

Wired in _config.yml (``sphinx.local_extensions``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ExtensionError
from sphinx.util import logging

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENTS = ROOT / "assignments"
OUT = ASSIGNMENTS / "dist" / "book"

logger = logging.getLogger(__name__)




def student_notebooks(work: Path, assignments: Path = ASSIGNMENTS) -> dict[str, Path]:
    """The student notebook of every assignment: built from the masters when this checkout has
    them, otherwise the prebuilt ``dist/<name>/student/<name>.ipynb``.

    Raises:
        ExtensionError: if there are neither masters nor prebuilt student versions.
    """
    masters = [p for p in sorted(assignments.glob("*/*.ipynb")) if p.stem == p.parent.name]
    if masters:
        from mobilenet_lib.classroom import grading as classroom

        return classroom.build(None, work)
    prebuilt = {
        p.stem: p for p in sorted(assignments.glob("dist/*/student/*.ipynb")) if p.stem == p.parent.parent.name
    }
    if not prebuilt:
        raise ExtensionError(
            f"no assignment masters ({assignments}/<name>/<name>.ipynb) and no prebuilt student versions "
            f"({assignments}/dist/<name>/student/<name>.ipynb); run scripts/assign-build where the masters are"
        )
    logger.info(f"[assignments] no masters in this checkout: using {len(prebuilt)} prebuilt student versions")
    return prebuilt


def build_student_versions(app: Sphinx, config: Config) -> None:
    """Write ``assignments/dist/book/<name>.ipynb`` for every assignment (student version)."""
    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="assign-book-"))
    try:
        students = student_notebooks(work)
        for name, student in students.items():
            staged = OUT / f".{name}.ipynb.tmp"
            shutil.copyfile(student, staged)
            os.replace(staged, OUT / f"{name}.ipynb")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info(f"[assignments] student versions of {len(students)} assignments in {OUT.relative_to(ROOT)}")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", build_student_versions)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
