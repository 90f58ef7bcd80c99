"""Sphinx extension: what a reader sees. The code on the page is the code a reader would write,
and tables and figures fit the text column (book/_extra/style/reader.css); search snippets show
formulas as text (book/_extra/style/search-math.js).

The chapter notebooks carry plumbing for the tests and the prose: ``# NBVAL_CHECK_OUTPUT`` /
``# NBVAL_IGNORE_OUTPUT`` markers (nbval's instructions) and ``glue(..., display=False)`` calls
(myst-nb's way of handing a computed number to a sentence). On the page they were 15-39 % of
the visible code. This extension keeps the notebooks as they are (the checks still run) and, in
the HTML only:

- drops the marker comments, every top-level ``glue(...)`` statement that displays nothing, and
  the ``from myst_nb import glue`` import;
- removes a cell's code entirely when nothing else is left (its output, if any, stays);
- folds a cell whose remaining code only checks things (``assert`` statements) behind a
  "Show the checks" toggle, so a reader sees that the numbers are checked without reading the
  checks.

Statements are found with Python's ``ast`` (a ``glue`` call over several lines goes as a
whole); ``%magic`` lines are kept as they are, and a cell that still does not parse is only
stripped of its marker lines.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

MARKER = re.compile(r"^\s*#\s*NBVAL_[A-Z_]+\s*$")
CHECKS_PROMPT_SHOW = "Show the checks"
CHECKS_PROMPT_HIDE = "Hide the checks"


def _is_plumbing(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.ImportFrom) and stmt.module == "myst_nb":
        return all(alias.name == "glue" for alias in stmt.names)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name == "glue":
            display = next((k.value for k in stmt.value.keywords if k.arg == "display"), None)
            return isinstance(display, ast.Constant) and display.value is False
    return False


def _lines(stmt: ast.stmt) -> range:
    return range(stmt.lineno - 1, stmt.end_lineno or stmt.lineno)


def _strip(body: list[ast.stmt], drop: set[int]) -> list[ast.stmt]:
    """The statements of ``body`` a reader keeps; the lines of the others go into ``drop``.

    A ``glue`` call is plumbing at any depth; so is a ``for`` loop (without ``else``) whose body
    is nothing but plumbing, e.g. one that glues a row of numbers."""
    kept = []
    for stmt in body:
        if _is_plumbing(stmt):
            drop.update(_lines(stmt))
        elif isinstance(stmt, (ast.For, ast.If, ast.With)) and not getattr(stmt, "orelse", None):
            inner: set[int] = set()
            if _strip(stmt.body, inner):
                drop.update(inner)
                kept.append(stmt)
            else:  # nothing left inside: the whole statement was plumbing
                drop.update(_lines(stmt))
        else:
            kept.append(stmt)
    return kept


def reader_code(source: str) -> tuple[str, bool]:
    """``source`` without its plumbing, and whether what is left only checks (asserts)."""
    lines = source.splitlines()
    lines = ["" if MARKER.match(line) else line for line in lines]
    # IPython's %magic and !shell lines are not Python: parse them as placeholders
    parsable = ["pass" if line.lstrip().startswith(("%", "!")) else line for line in lines]
    try:
        tree = ast.parse("\n".join(parsable))
    except SyntaxError:  # other IPython syntax: markers only
        tree = None
    only_checks = False
    if tree is not None:
        drop: set[int] = set()
        kept = _strip(tree.body, drop)
        lines = [line for i, line in enumerate(lines) if i not in drop]
        only_checks = bool(kept) and all(isinstance(s, ast.Assert) for s in kept)
    # no leading, trailing or doubled blank lines (dropped statements leave gaps)
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    # a comment left alone above nothing says nothing
    if all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        text = ""
    return text, only_checks


class ReaderCode(SphinxPostTransform):
    """Runs before myst-nb's HideInputCells (priority 199), so a folded cell is wrapped by it."""

    default_priority = 190
    formats = ("html",)

    def run(self, **kwargs: Any) -> None:
        for cell in list(self.document.findall(nodes.container)):
            if cell.get("nb_element") != "cell_code" or not cell.children:
                continue
            source = cell.children[0]
            if source.get("nb_element") != "cell_code_source":
                continue
            blocks = list(source.findall(nodes.literal_block))
            if len(blocks) != 1:
                continue
            block = blocks[0]
            text, only_checks = reader_code(block.astext())
            if not text:
                cell.remove(source)
                if not cell.children:
                    cell.parent.remove(cell)
                continue
            if text != block.astext():
                new = nodes.literal_block(text, text, **{k: v for k, v in block.attributes.items() if k != "ids"})
                new["ids"] = block["ids"]
                block.replace_self(new)
            if only_checks and not cell.get("hide_mode"):
                cell["hide_mode"] = "input"
                cell["prompt_show"] = CHECKS_PROMPT_SHOW
                cell["prompt_hide"] = CHECKS_PROMPT_HIDE


def search_page_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Formulas in search snippets as plain text (book/_extra/style/search-math.js), on the search
    page only."""
    if pagename == "search":
        app.add_js_file("../style/search-math.js", defer="defer")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", search_page_scripts)
    app.add_post_transform(ReaderCode)
    # paths are relative to _static/; ../ reaches the site root, where html_extra_path copies style/
    app.add_css_file("../style/reader.css")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
