"""The book's assignment downloads come from the masters, or, in a checkout without them (masters
kept in a private repository), from prebuilt student versions; never from nothing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _extension():
    spec = importlib.util.spec_from_file_location("book_assignments_ext", ROOT / "book" / "_ext" / "assignments.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_masters_the_prebuilt_student_versions_are_used(tmp_path: Path) -> None:
    ext = _extension()
    for name in ("channel_shuffle", "se_hswish"):
        student = tmp_path / "dist" / name / "student" / f"{name}.ipynb"
        student.parent.mkdir(parents=True)
        student.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    (tmp_path / "dist" / "book").mkdir()
    (tmp_path / "dist" / "book" / "stale.ipynb").write_text("{}")  # the extension's own output: ignored
    found = ext.student_notebooks(tmp_path / "work", assignments=tmp_path)
    assert found == {n: tmp_path / "dist" / n / "student" / f"{n}.ipynb" for n in ("channel_shuffle", "se_hswish")}


def test_neither_masters_nor_prebuilt_versions_stops_the_build(tmp_path: Path) -> None:
    ext = _extension()
    with pytest.raises(ext.ExtensionError, match="assign-build"):
        ext.student_notebooks(tmp_path / "work", assignments=tmp_path)
