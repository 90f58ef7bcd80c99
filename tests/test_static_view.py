"""static_view: a plotting function pre-rendered over a grid into a kernel-free HTML view.

The JavaScript that swaps frames is exercised in a real browser by tests/browser/; here we check
what Python produces: the frames (one per grid point, identical ones stored once), the lookup
table, the controls, the defaults, the page weight guard and every error message.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest
from PIL import Image

from mobilenet_lib.viz.static_view import StaticView, figure_png, static_view

COLORS = {"red": (255, 0, 0), "green": (0, 128, 0), "blue": (0, 0, 255)}


def swatch(color: str = "red", level: int = 2, unused: int = 0):
    """A tiny figure: one colour filling the left part, a bar whose height is ``level``."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(1.0, 0.6))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.add_patch(Rectangle((0, 0), 0.5, 1, color=[c / 255 for c in COLORS[color]]))
    ax.bar([0.75], [level / 4], width=0.2, color="black")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    return fig


def pixel(png: bytes, x: float, y: float) -> tuple[int, int, int]:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return image.getpixel((int(x * image.width), int(y * image.height)))


def view_data(view: StaticView) -> dict:
    match = re.search(r'<script type="application/json" class="msv-data">(.*?)</script>', view.to_html(), re.S)
    assert match
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def view() -> StaticView:
    return static_view(swatch, {"color": ["red", "green", "blue"], "level": [1, 2, 3], "unused": [0, 1]}, dpi=40)


def test_one_frame_per_distinct_figure_and_a_lookup_for_every_grid_point(view: StaticView) -> None:
    assert len(view.index) == 3 * 3 * 2
    # "unused" changes nothing, so its two values share frames: 9 distinct figures
    assert len(view.frames) == 9
    assert view.frame(color="green", level=1, unused=0) == view.frame(color="green", level=1, unused=1)
    assert view.frame(color="green", level=1, unused=0) != view.frame(color="green", level=3, unused=0)
    # row-major over the grid, like itertools.product
    assert view.flat_index(color="red", level=1, unused=1) == 1
    assert view.flat_index(color="green", level=1, unused=0) == 6


def test_each_frame_is_the_figure_of_its_grid_point(view: StaticView) -> None:
    for color, rgb in COLORS.items():
        png = view.frame(color=color, level=2, unused=0)
        assert png.startswith(b"\x89PNG")
        got = pixel(png, 0.2, 0.5)
        assert max(abs(a - b) for a, b in zip(got, rgb)) < 10, (color, got)
    # the bar's height: black near the top only at the highest level
    assert pixel(view.frame(color="red", level=3, unused=0), 0.75, 0.3) == (0, 0, 0)
    assert pixel(view.frame(color="red", level=1, unused=0), 0.75, 0.3) == (255, 255, 255)


def test_html_is_self_contained_with_one_control_per_parameter(view: StaticView) -> None:
    page = view.to_html()
    assert not re.search(r"https?://|//cdn", page), "the view must not make the page fetch anything"
    assert re.findall(r'src="([^"]+)"', page) and all(s.startswith("data:image/png;base64,") for s in re.findall(r'src="([^"]+)"', page))
    # numbers get a range slider over grid positions, words a menu
    assert len(re.findall(r'<input type="range"[^>]*data-msv-param="level"', page)) == 1
    assert len(re.findall(r'<select[^>]*data-msv-param="color"', page)) == 1
    assert 'max="1"' in page and 'max="2"' in page
    data = view_data(view)
    assert data["sizes"] == [3, 3, 2]
    assert len(data["index"]) == 18 and len(data["frames"]) == 9
    assert "<script>" in page and view.element_id in page
    assert view.nbytes == len(page.encode())


def test_starts_at_the_plot_functions_defaults_or_the_given_ones(view: StaticView) -> None:
    assert view.start == (0, 1, 0)  # color="red", level=2, unused=0: swatch's own defaults
    page = view.to_html()
    first = re.search(r'<img class="msv-frame"[^>]* src="data:image/png;base64,([^"]+)"', page).group(1)
    assert first == view_data(view)["frames"][view.index[view.flat_index(color="red", level=2, unused=0)]]
    other = static_view(swatch, {"color": ["green", "blue"], "level": [1, 3]}, default={"level": 3}, dpi=30)
    assert other.start == (0, 1)  # green: the default is not on the grid, so the first value


def test_labels_names_captions_and_html_escaping() -> None:
    view = static_view(
        swatch,
        {"color": {"Red one": "red", "Blue one": "blue"}, "level": [1, 2]},
        names={"level": "bar height"},
        caption=lambda color, level: f"<b>{color}</b></script>{level}",
        dpi=30,
    )
    page = view.to_html()
    assert ">Red one</option>" in page and ">bar height<" in page
    data = view_data(view)  # parsing succeeded, so "</script>" in a caption did not end the payload
    assert len(data["captions"]) == 4 and data["captions"][data["caption_index"][0]] == "<b>red</b></script>1"
    assert repr(view).startswith("StaticView(swatch: color (2) × level (2) = 4 grid points")


def test_same_inputs_same_html() -> None:
    a = static_view(swatch, {"level": [1, 2]}, dpi=30)
    b = static_view(swatch, {"level": [1, 2]}, dpi=30)
    assert a.to_html() == b.to_html()


def test_palette_png_is_small_and_keeps_colours() -> None:
    fig = swatch("blue")
    png = figure_png(fig, dpi=60, colors=16)
    assert Image.open(io.BytesIO(png)).mode == "P"
    raw = io.BytesIO()
    fig.savefig(raw, format="png", dpi=60)
    assert len(png) < len(raw.getvalue())
    assert pixel(png, 0.2, 0.5) == (0, 0, 255)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grid": {}}, "non-empty mapping"),
        ({"grid": {"colour": ["red", "blue"]}}, "no parameter 'colour'"),
        ({"grid": {"level": [1]}}, "at least 2"),
        ({"grid": {"level": 3}}, "list of values"),
        ({"grid": {"level": [1, 1]}}, "repeated values"),
        ({"grid": {"level": [1, 2]}, "fixed": {"level": 1}}, "both on the grid and fixed"),
        ({"grid": {"level": [1, 2]}, "default": {"level": 5}}, "not on the grid"),
        ({"grid": {"level": [1, 2]}, "default": {"color": "red"}}, "not grid parameters"),
        ({"grid": {"level": [1, 2]}, "names": {"hue": "Hue"}}, "not grid parameters"),
        ({"grid": {"level": [1, 2, 3], "unused": [0, 1]}, "max_points": 5}, "= 6 points, more than max_points=5"),
        ({"grid": {"level": [1, 2]}, "max_bytes": 1000}, "more than max_bytes"),
        ({"grid": {"level": [1, 2]}, "dpi": 5}, "dpi must be"),
        ({"grid": {"level": [1, 2]}, "colors": 1000}, "colors must be"),
    ],
)
def test_bad_input_is_a_clear_value_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        static_view(swatch, **kwargs)


def test_plot_must_return_a_figure() -> None:
    with pytest.raises(ValueError, match="not a matplotlib Figure"):
        static_view(lambda level: "text", {"level": [1, 2]})
    with pytest.raises(ValueError, match="plot must be a function"):
        static_view("swatch", {"level": [1, 2]})  # type: ignore[arg-type]


def test_importing_it_pulls_in_neither_matplotlib_nor_pillow() -> None:
    code = ("import sys, mobilenet_lib.viz.static_view; "
            "print([m for m in ('matplotlib', 'PIL') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_photo_frames_are_jpeg_and_the_page_swaps_them_as_jpeg() -> None:
    from mobilenet_lib.viz.static_view import static_view
    from mobilenet_lib.viz.style import new_figure

    def plot(level=0.5):
        fig = new_figure(2, 1)
        ax = fig.subplots()
        ax.imshow([[level, 1 - level], [0.2, 0.9]], cmap="viridis")
        return fig

    view = static_view(plot, {"level": [0.1, 0.5, 0.9]}, photo=True)
    assert all(f[:3] == b"\xff\xd8\xff" for f in view.frames)  # the JPEG signature
    page = view.to_html()
    assert 'src="data:image/jpeg;base64,' in page and '"mime":"image/jpeg"' in page
    png = static_view(plot, {"level": [0.1, 0.5]})
    assert all(f[:8] == b"\x89PNG\r\n\x1a\n" for f in png.frames) and '"mime":"image/png"' in png.to_html()
    with pytest.raises(TypeError, match="photo"):
        static_view(plot, {"level": [0.1]}, photo="yes")


def test_frames_are_shown_at_96_px_per_inch_whatever_their_dpi() -> None:
    from mobilenet_lib.viz.static_view import static_view
    from mobilenet_lib.viz.style import new_figure

    def plot(level=1):
        fig = new_figure(2.5, 1)
        fig.subplots().plot([0, level])
        return fig

    for dpi in (48, 96, 144):
        view = static_view(plot, {"level": [1, 2]}, dpi=dpi)
        assert view.css_width == 240  # 2.5 in at 96 px per inch
        assert 'style="width:240px;max-width:100%"' in view.to_html()
