"""Sphinx extension: the student versions of the classroom assignments, built with the book.

The assignments' pages (book/assignments/) offer the student notebooks as downloads. Those
notebooks are generated (otter assign, via mobilenet_lib/classroom/grading.py) and not kept in git, so this
extension generates them when a build starts, into ``assignments/dist/book/<name>.ipynb``, which
the pages' ``{download}`` links point at. ``classroom.build`` refuses to finish when a line of a
solution survives in a student notebook, so a book whose downloads would leak a solution does not
build. The notebooks are written by atomic replace, so two builds at once cannot see half a file.

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
from sphinx.util import logging

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "assignments" / "dist" / "book"

logger = logging.getLogger(__name__)




def build_student_versions(app: Sphinx, config: Config) -> None:
    """Write ``assignments/dist/book/<name>.ipynb`` for every assignment (student version)."""
    from mobilenet_lib.classroom import grading as classroom

    OUT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="assign-book-"))
    try:
        students = classroom.build(None, work)
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
