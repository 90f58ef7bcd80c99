"""mobilenet_lib.viz.source: the library's code as the chapters show it."""

from __future__ import annotations

import pytest

from mobilenet_lib.activations import h_swish
from mobilenet_lib.blocks import InvertedResidual
from mobilenet_lib.viz.source import show_source, source_text


def test_whole_function_is_its_source() -> None:
    text = source_text(h_swish)
    assert text.startswith("def h_swish(") and "relu6(x + 3) / 6" in text


def test_excerpt_runs_from_start_through_stop_dedented() -> None:
    text = source_text(InvertedResidual.__init__, start="layers: list", stop="use_res_connect =")
    lines = text.splitlines()
    assert lines[0].startswith("layers: list") and "use_res_connect =" in lines[-1]
    assert "def __init__" not in text  # the signature is cut off


def test_markdown_block_names_the_object() -> None:
    md = show_source(InvertedResidual.forward).data
    assert md.startswith("`mobilenet_lib.blocks.InvertedResidual.forward`")
    assert "```python\ndef forward(self, x" in md and md.endswith("```")


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"start": "no such line"}, ValueError, "start='no such line'"),
    ({"start": "def forward", "stop": "no such line"}, ValueError, "stop="),
    ({"start": 3}, TypeError, "start must be a str"),
])
def test_bad_excerpts_are_named(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        source_text(InvertedResidual.forward, **kwargs)


def test_non_code_objects_are_rejected() -> None:
    with pytest.raises(TypeError, match="obj must be a class, function or method"):
        source_text(42)
