"""mobilenet_lib.tables: the one renderer behind every table (Markdown, HTML, text)."""

from __future__ import annotations

import numpy as np
import pytest

from mobilenet_lib.tables import Table, format_value, markdown_table, records_markdown, records_table


def test_markdown_table_aligns_numeric_columns_right() -> None:
    text = markdown_table(["layer", "params", "note"], [["conv", 1.5, "a"], ["fc", 3, 4]])
    lines = text.splitlines()
    assert lines[0] == "| layer | params | note |"
    assert lines[1] == "|---|---:|---|"  # "note" mixes text and numbers: left
    assert lines[3] == "| fc | 3 | 4 |"
    assert markdown_table(["a"], [[1]], numeric="left").splitlines()[1] == "|---|"


@pytest.mark.parametrize(
    ("header", "rows", "kwargs", "message"),
    [([], [], {}, "at least one column"), (["a", "b"], [[1]], {}, "row 0 has 1 cells"),
     (["a"], [[1]], {"numeric": "up"}, "numeric must be one of")],
)
def test_markdown_table_rejects_bad_input(header, rows, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        markdown_table(header, rows, **kwargs)


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "–"), (True, "True"), (1234567, "1,234,567"), (np.int64(42), "42"), (1234.5, "1,234"),
     (0.012345, "0.0123"), (3.0, "3"), ((1, 3, 224, 224), "1×3×224×224"), ("x", "x")],
)
def test_format_value(value, text) -> None:
    assert format_value(value) == text


def test_records_table_renders_three_ways_from_one_table() -> None:
    rows = [{"a": "x", "b": 1234.5}, {"a": "y", "b": 0.01234}, {"a": "z", "b": None}]
    table = records_table(rows, [("a", "A"), ("b", "B")], caption="cap <1>")
    assert table.align == ["left", "right"]  # numbers (and gaps) right
    assert table.to_markdown().splitlines() == ["| A | B |", "|---|---:|", "| x | 1,234 |", "| y | 0.0123 |", "| z | – |"]
    html = table._repr_html_()
    assert "<caption>cap &lt;1&gt;</caption>" in html  # escaped
    assert html.count("<tr>") == 4 and 'style="text-align:right">1,234<' in html
    text = repr(table).splitlines()
    assert text[0] == "cap <1>" and text[1].split() == ["A", "B"] and text[2].endswith("1,234")
    assert records_markdown(rows, [("a", "A"), ("b", "B")]) == table.to_markdown()


def test_records_table_names_a_missing_column() -> None:
    with pytest.raises(ValueError, match=r"no value for the column\(s\) \['b'\]"):
        records_table([{"a": 1}], [("b", "B")])
    with pytest.raises(ValueError, match="at least one"):
        records_table([{"a": 1}], [])


def test_footer_rows_sit_below_a_rule() -> None:
    table = Table(["name", "n"], [["a", "1"]], ["left", "right"], footer=[["total", "1"]])
    assert table.to_markdown().splitlines()[-1] == "| total | 1 |"
    assert "<tfoot><tr style=\"border-top:2px solid\">" in table._repr_html_()
    assert set(repr(table).splitlines()[2]) == {"-"}
    with pytest.raises(ValueError, match="align must be one of"):
        Table(["a"], [], ["middle"])
    with pytest.raises(ValueError, match="align has 2 entries"):
        Table(["a"], [], ["left", "left"])
