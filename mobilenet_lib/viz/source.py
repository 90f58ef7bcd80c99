"""The library's own code on the page: a chapter shows the lines of a block that matter.

``print(block)`` shows a module's children, not what it computes. :func:`show_source` puts the
source of a class, function or method of ``mobilenet_lib`` on the page as a highlighted code block,
read with ``inspect`` from the installed library, so the page can never drift from the code the
chapter runs (the tests re-execute the chapters and compare). ``start`` and ``stop`` cut an excerpt
(from the first line containing ``start`` to the first later line containing ``stop``), for the
twenty lines of a constructor that build the block without its argument checks.
"""

from __future__ import annotations

import inspect
import textwrap
from typing import Any

__all__ = ["source_text", "show_source"]


def _qualname(obj: Any) -> str:
    module = getattr(obj, "__module__", "") or ""
    return f"{module}.{getattr(obj, '__qualname__', getattr(obj, '__name__', repr(obj)))}"


def source_text(obj: Any, *, start: str | None = None, stop: str | None = None) -> str:
    """The dedented source of ``obj`` (a class, function or method), or the excerpt from the
    first line containing ``start`` through the first later line containing ``stop``."""
    if not (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismethod(obj)):
        raise TypeError(f"obj must be a class, function or method, got {type(obj).__name__}")
    for name, value in (("start", start), ("stop", stop)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a str or None, got {type(value).__name__}")
    lines = inspect.getsource(obj).splitlines()
    first, last = 0, len(lines) - 1
    if start is not None:
        first = next((i for i, line in enumerate(lines) if start in line), -1)
        if first < 0:
            raise ValueError(f"start={start!r} is not in the source of {_qualname(obj)}")
    if stop is not None:
        last = next((i for i in range(first, len(lines)) if stop in lines[i]), -1)
        if last < 0:
            raise ValueError(f"stop={stop!r} is not in the source of {_qualname(obj)} after start")
    return textwrap.dedent("\n".join(lines[first:last + 1]))


def show_source(obj: Any, *, start: str | None = None, stop: str | None = None) -> Any:
    """:func:`source_text` as a Markdown code block (an ``IPython.display.Markdown``), headed by
    where it comes from."""
    from IPython.display import Markdown

    text = source_text(obj, start=start, stop=stop)
    part = " (excerpt)" if start is not None or stop is not None else ""
    return Markdown(f"`{_qualname(obj)}`{part}, from the installed library:\n\n```python\n{text}\n```")
