"""Sphinx extension: honest widgets on static pages, and live code from the book's own pages.

- A stored ipywidgets output cannot compute anything on a static page: myst-nb's embedded widget
  state would draw sliders that move and change nothing. This extension drops that state and
  the widget renderer from every page, and puts a note where each widget was, saying how to make
  it live. Chapters show the widget's default figure (and a kernel-free ``static_view``) beside it.
- Every page loads ``live/live-code.js`` (from book/_extra/live, copied to the site root by
  ``html_extra_path``): the rocket menu's "Live Code" button then runs the page's cells on a
  local Jupyter server (scripts/serve-live) or on Binder, with the vendored thebe.

Wired in _config.yml (``sphinx.local_extensions``).
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

WIDGET_VIEW = '<script type="application/vnd.jupyter.widget-view+json">'
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

NOTE = (
    '<div class="ml-needs-kernel admonition note" role="note">'
    '<p class="admonition-title">Live widget</p>'
    "<p>This widget computes its figure in Python, so it needs a running kernel and is not shown "
    "on this static page. To use it, press the rocket icon at the top of the page, then "
    "<em>Live Code</em>, and run this cell; or serve the book with live code on your own machine "
    "(<code>scripts/serve-live</code>); or open the notebook in Jupyter.</p></div>"
)


def replace_widget_views(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Put the note where myst-nb rendered a widget view (keeping the inert view script, which
    the live mode replaces anyway when the cell runs)."""
    for raw in list(doctree.findall(nodes.raw)):
        if "html" in raw.get("format", "").split() and raw.astext().lstrip().startswith(WIDGET_VIEW):
            raw.replace_self(nodes.raw("", NOTE + raw.astext(), format="html"))


def clean_page_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    """Remove the embedded widget state and the renderer scripts myst-nb added to this page, and
    inline scripts that appear twice."""
    # Sphinx stores a relative script path as "_static/<path>"
    keys = getattr(app.config, "nb_ipywidgets_js", {}) or {}
    renderer = {k for k in keys} | {posixpath.join("_static", k) for k in keys}
    files = context.get("script_files")
    if not isinstance(files, list):
        return
    kept, bodies = [], set()
    for js in files:
        attributes = getattr(js, "attributes", None) or {}
        if str(getattr(js, "filename", "")) in renderer or attributes.get("type") == WIDGET_STATE:
            continue
        # sphinx-thebe's inline "const THEBE_JS_URL = ..." reaches the page twice under Jupyter
        # Book (a SyntaxError in the console: "already been declared"); keep one of each body
        body = attributes.get("body") if not getattr(js, "filename", None) else None
        if body is not None:
            if body in bodies:
                continue
            bodies.add(body)
        kept.append(js)
    files[:] = kept


def binder_settings(app: Sphinx) -> None:
    """Tell live-code.js whether this build may use Binder: only when _config.yml names both a
    BinderHub and the repository it should build (otherwise Live Code says at once that no
    kernel is available, instead of launching a placeholder repository forever)."""
    options = app.config.html_theme_options or {}
    hub = str((options.get("launch_buttons") or {}).get("binderhub_url") or "").rstrip("/")
    repo = str(options.get("repository_url") or "").rstrip("/")
    binder = {"url": hub, "repository": repo, "branch": str(options.get("repository_branch") or "main")}
    app.add_js_file(None, body=f"window.mobilenetBinder = {json.dumps(binder) if hub and repo else 'null'};")


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", binder_settings)
    app.connect("doctree-resolved", replace_widget_views)
    # after myst-nb's own html-page-context handler (priority 500), which adds those scripts
    app.connect("html-page-context", clean_page_scripts, priority=900)
    # paths are relative to _static/; ../ reaches the site root, where html_extra_path copies live/
    app.add_js_file("../live/live-code.js", defer="defer")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
