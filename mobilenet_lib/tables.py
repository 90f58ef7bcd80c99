"""Tables: the one renderer behind every table the library prints (Markdown, HTML and text).

A :class:`Table` is a header, rows of already formatted cells, an alignment per column, and
optionally a caption and footer rows (a total). It renders three ways: ``to_markdown()`` (what a
notebook wraps in ``IPython.display.Markdown``, and the book turns into a real table), HTML (a
notebook shows it directly) and plain text (``repr``, for a terminal). Two front doors build one:

- :func:`markdown_table` for a header and rows of values, rendered with ``str``;
- :func:`records_table` for dicts and ``(key, title)`` columns, numbers formatted by
  :func:`format_value` (thousands separators, three significant figures);
  :func:`records_markdown` is its Markdown.

Columns whose cells are all numbers are right-aligned.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from typing import Any

from mobilenet_lib.validation import one_of

__all__ = ["Table", "format_value", "is_number", "markdown_table", "records_table", "records_markdown"]


def is_number(value: Any) -> bool:
    """True for ints and floats (numpy's too), False for bools."""
    return isinstance(value, Real) and not isinstance(value, bool)


def format_value(value: Any) -> str:
    """A cell for a table of measurements: ``None`` as "–", integers with thousands separators,
    other numbers with three significant figures (whole numbers from 1,000 up), tuples as
    ``a×b×c`` (a shape), anything else with ``str``."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, Integral):
        return f"{int(value):,}"
    if isinstance(value, Real):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    if isinstance(value, tuple):
        return "×".join(map(str, value))
    return str(value)


class Table:
    """A rendered-on-demand table: ``header``, ``rows`` of cell strings, ``align`` per column
    (``"left"`` or ``"right"``), an optional ``caption`` and ``footer`` rows (shown below a rule)."""

    def __init__(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[str]],
        align: Sequence[str] | None = None,
        *,
        caption: str = "",
        footer: Sequence[Sequence[str]] = (),
    ) -> None:
        self.header = [str(h) for h in header]
        if not self.header:
            raise ValueError("header must name at least one column")
        self.rows = [[str(c) for c in row] for row in rows]
        self.footer = [[str(c) for c in row] for row in footer]
        for i, row in enumerate([*self.rows, *self.footer]):
            if len(row) != len(self.header):
                raise ValueError(f"row {i} has {len(row)} cells, the header has {len(self.header)}")
        self.align = ["left"] * len(self.header) if align is None else [one_of("align", a, ("left", "right")) for a in align]
        if len(self.align) != len(self.header):
            raise ValueError(f"align has {len(self.align)} entries, the header has {len(self.header)}")
        self.caption = caption

    def __len__(self) -> int:
        return len(self.rows)

    def to_markdown(self) -> str:
        """A GFM/MyST table (the caption is not part of Markdown's table syntax and is left out)."""
        rule = "|" + "|".join("---:" if a == "right" else "---" for a in self.align) + "|"
        lines = ["| " + " | ".join(self.header) + " |", rule]
        lines += ["| " + " | ".join(row) + " |" for row in [*self.rows, *self.footer]]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        def tr(row: Sequence[str], tag: str = "td", style: str = "") -> str:
            cells = "".join(f'<{tag} style="text-align:{a}">{html.escape(c)}</{tag}>' for c, a in zip(row, self.align))
            return f"<tr{style}>{cells}</tr>"

        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        head = tr(self.header, "th")
        body = "".join(tr(r) for r in self.rows)
        foot = "".join(tr(r, "th", ' style="border-top:2px solid"') for r in self.footer)
        return (f"<table>{cap}<thead>{head}</thead><tbody>{body}</tbody>"
                + (f"<tfoot>{foot}</tfoot>" if foot else "") + "</table>")

    def to_text(self) -> str:
        """Plain text with padded columns."""
        every = [self.header, *self.rows, *self.footer]
        widths = [max(len(r[j]) for r in every) for j in range(len(self.header))]

        def line(row: Sequence[str]) -> str:
            return "  ".join(c.rjust(w) if a == "right" else c.ljust(w)
                             for c, w, a in zip(row, widths, self.align)).rstrip()

        out = [line(self.header)] + [line(r) for r in self.rows]
        if self.footer:
            out += ["-" * len(out[0])] + [line(r) for r in self.footer]
        return (self.caption + "\n" if self.caption else "") + "\n".join(out)

    def __repr__(self) -> str:
        return self.to_text()


def _numeric_align(columns: Sequence[Sequence[Any]]) -> list[str]:
    return ["right" if col and all(is_number(v) for v in col) else "left" for col in columns]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], numeric: str = "right") -> str:
    """A Markdown table: ``header`` cells, then one line per row, cells written with ``str``.

    Columns whose cells are numbers in every row are aligned right (``numeric="right"``) or left.
    Wrap the result in ``IPython.display.Markdown`` to show it in a notebook.
    """
    numeric = one_of("numeric", numeric, ("right", "left"))
    body = [list(r) for r in rows]
    header = list(header)
    for i, row in enumerate(body):
        if len(row) != len(header):
            raise ValueError(f"row {i} has {len(row)} cells, the header has {len(header)}")
    align = _numeric_align([[r[j] for r in body] for j in range(len(header))]) if numeric == "right" else None
    return Table(header, body, align).to_markdown()


def records_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, str]],
    caption: str = "",
    fmt: Callable[[Any], str] = format_value,
) -> Table:
    """A :class:`Table` of ``rows`` (dicts) with ``columns`` as ``(key, title)`` pairs; every cell
    is ``fmt(value)`` (default :func:`format_value`); numeric columns (``None`` allowed) align right."""
    if not columns:
        raise ValueError("columns must name at least one (key, title) pair")
    for r in rows:
        missing = [k for k, _ in columns if k not in r]
        if missing:
            raise ValueError(f"row {dict(r)!r} has no value for the column(s) {missing}")
    align = ["right" if rows and all(is_number(r[k]) or r[k] is None for r in rows) else "left" for k, _ in columns]
    return Table([t for _, t in columns], [[fmt(r[k]) for k, _ in columns] for r in rows], align, caption=caption)


def records_markdown(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """:func:`records_table` as Markdown (what a notebook wraps in ``IPython.display.Markdown``)."""
    return records_table(rows, columns).to_markdown()
