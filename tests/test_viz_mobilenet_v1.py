"""Tests for mobilenet_lib.viz.mobilenet_v1: cost grid, widget, architecture table, sweep figures."""

from __future__ import annotations

import io
import json

import pytest
import torch

from mobilenet_lib.costs import count_macs, count_params, layer_table
from mobilenet_lib.experiments import mobilenet_v1 as v1x
from mobilenet_lib.models.mobilenet_v1 import MOBILENET_V1_LAYERS, mobilenet_v1
from mobilenet_lib.training import History
from mobilenet_lib.viz import mobilenet_v1 as v1
from mobilenet_lib.viz.widget_driver import WorkCounter


def _meta_model(alpha: float, **kwargs: object) -> torch.nn.Module:
    with torch.device("meta"):  # shapes only: counting is instant and allocates nothing
        return mobilenet_v1(width_mult=alpha, **kwargs)


# ---------------------------------------------------------------------------------- small images


def test_digits_layers_keep_channels_and_downsample_8x() -> None:
    assert [c for c, _ in v1x.DIGITS_LAYERS] == [c for c, _ in MOBILENET_V1_LAYERS]
    model = _meta_model(0.25, num_classes=10, layers=v1x.DIGITS_LAYERS)
    assert model.output_stride == 8
    table = layer_table(model, (1, 3, v1x.DIGITS_IMAGE_SIZE, v1x.DIGITS_IMAGE_SIZE))
    assert table[-2].output_shape[-2:] == (4, 4)  # 32x32 -> 4x4 before pooling


# ---------------------------------------------------------------------------------- cost formulas


@pytest.mark.parametrize(
    ("alpha", "resolution", "full_conv", "layers", "classes"),
    [
        (1.0, 224, False, None, 1000),
        (0.75, 192, False, None, 1000),
        (0.35, 144, True, None, 1000),
        (0.6, 208, False, None, 1000),
        (0.5, 32, False, v1x.DIGITS_LAYERS, 10),
        (0.3, 28, True, v1x.DIGITS_LAYERS, 10),
        (1.0, 20, False, v1x.DIGITS_LAYERS, 10),  # odd sizes: stride-2 layers round up
    ],
)
def test_v1_cost_equals_counting_the_model(alpha, resolution, full_conv, layers, classes) -> None:
    model = _meta_model(alpha, num_classes=classes, layers=layers, full_conv=full_conv)
    kwargs = {"full_conv": full_conv, "num_classes": classes}
    if layers is not None:
        kwargs["layers"] = layers
    cost = v1x.v1_cost(alpha, resolution, **kwargs)
    assert cost.params == count_params(model)
    assert cost.macs == count_macs(model, (1, 3, resolution, resolution))


def test_v1_cost_reproduces_reference_numbers() -> None:
    """The measured counts in /work/shared/reference/numbers.md (torchvision-style MobileNet V1)."""
    assert v1x.v1_cost(1.0, 224).params == 4_231_976
    assert round(v1x.v1_cost(1.0, 224).macs / 1e6, 1) == 568.7
    assert [v1x.v1_cost(a, 224).params for a in (0.75, 0.5, 0.25)] == [2_585_560, 1_331_592, 470_072]
    assert [round(v1x.v1_cost(a, 224).macs / 1e6, 1) for a in (0.75, 0.5, 0.25)] == [325.4, 149.5, 41.0]
    assert [round(v1x.v1_cost(1.0, r).macs / 1e6, 1) for r in (192, 160, 128)] == [418.1, 290.7, 186.4]
    full = v1x.v1_cost(1.0, 224, full_conv=True)
    assert full.params == 29_294_088 and round(full.macs / 1e6, 2) == 4867.29


def test_v1_cost_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="resolution"):
        v1x.v1_cost(1.0, 0)
    with pytest.raises(ValueError, match="alpha"):
        v1x.v1_cost(-0.5, 224)
    with pytest.raises(ValueError, match="none"):
        v1x.v1_cost(0.01, 224)


def test_grid_matches_v1_cost_and_tolerates_float_slider_values() -> None:
    grid = v1.default_cost_grid()
    assert grid.alphas[0] == 0.25 and grid.alphas[-1] == 1.0 and len(grid.alphas) == 16
    assert grid.resolutions == (128, 144, 160, 176, 192, 208, 224)
    assert grid.cost(0.7000000000000001, 176) == v1x.v1_cost(0.7, 176)
    assert grid.cost(1.0, 224) == v1x.v1_cost(1.0, 224)
    with pytest.raises(ValueError, match="not on the grid"):
        grid.cost(0.33, 224)
    with pytest.raises(ValueError, match="not on the grid"):
        grid.cost(0.5, 225)


def test_grid_is_counted_by_formulas_not_forward_passes() -> None:
    # The widget's look-up table: 112 networks from the cost formulas, no module built or run.
    with WorkCounter() as counter:
        v1x.v1_cost_grid()
    work = counter.work
    assert work.module_calls == 0 and work.tensor_elements == 0 and work.figures_created == 0


def test_cost_scales_like_alpha_squared_rho_squared() -> None:
    grid = v1.default_cost_grid()
    base = grid.cost(1.0, 224)
    for a in (0.5, 0.75):
        # Slightly above alpha^2: the depthwise, stem and FC terms scale with alpha, not alpha^2.
        ratio = grid.cost(a, 224).macs / base.macs
        assert a**2 < ratio < a**2 * 1.1
    for r in (128, 160, 192):
        # Within 1 % of rho^2; the FC layer does not shrink with the input.
        ratio = grid.cost(1.0, r).macs / base.macs
        assert ratio == pytest.approx((r / 224) ** 2, rel=0.01)
        assert grid.cost(1.0, r).params == base.params


def test_cost_summary_names_published_numbers_only_for_published_pairs() -> None:
    text = v1.cost_summary(0.75, 224)
    assert "325.4M mult-adds" in text and "68.4 % ImageNet top-1" in text and "α²ρ² = 0.562" in text
    text = v1.cost_summary(1.0, 160)
    assert "67.2 %" in text and "ρ = 0.714" in text
    assert "Published" not in v1.cost_summary(0.7, 176)


# ---------------------------------------------------------------------------------- cost figure & widget


def _render(fig) -> None:
    fig.savefig(io.BytesIO(), format="png")


def test_plot_cost_marks_the_chosen_point() -> None:
    fig = v1.plot_cost(0.5, 160)
    ax_macs, ax_params = fig.axes
    cost = v1x.v1_cost(0.5, 160)
    red = [line for line in ax_macs.lines if line.get_color() == "tab:red"]
    assert len(red) == 1
    assert tuple(red[0].get_xydata()[0]) == pytest.approx((0.5, cost.macs / 1e6))
    red = [line for line in ax_params.lines if line.get_color() == "tab:red"]
    assert tuple(red[0].get_xydata()[0]) == pytest.approx((0.5, cost.params / 1e6))
    assert "149.5" not in ax_macs.get_title() and f"{cost.macs / 1e6:,.1f}M" in ax_macs.get_title()
    with pytest.raises(ValueError, match="not on the grid"):
        v1.plot_cost(0.5, 100)


def test_renderer_draws_the_same_pixels_as_plot_cost() -> None:
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = v1.CostFigureRenderer()
    for alpha, resolution in [(0.25, 128), (0.7000000000000001, 176), (1.0, 224)]:
        canvas = FigureCanvasAgg(v1.plot_cost(alpha, resolution))
        canvas.draw()
        assert np.array_equal(renderer.rgba(alpha, resolution), np.asarray(canvas.buffer_rgba()))
    assert renderer.png(0.5, 160).startswith(b"\x89PNG")


def test_cost_widget_follows_the_sliders() -> None:
    widget = v1.cost_widget()
    alpha, resolution = widget.children[0].children
    summary, image = widget.children[1], widget.children[2]
    assert "α = 1.00, 224×224" in summary.value and "70.6 %" in summary.value
    first = image.value
    resolution.value = 160
    assert "α = 1.00, 160×160" in summary.value and "67.2 %" in summary.value
    alpha.value = 0.5
    assert "α = 0.50, 160×160" in summary.value and "Published" not in summary.value
    assert image.value != first and image.value == v1.CostFigureRenderer().png(0.5, 160)


# ---------------------------------------------------------------------------------- architecture table


def test_architecture_rows_follow_table_1() -> None:
    table = layer_table(_meta_model(1.0))
    rows = v1x.architecture_rows(table)
    assert len(rows) == 28
    assert [r["type"] for r in rows] == ["Conv"] + ["Conv dw", "Conv 1×1"] * 13 + ["FC"]
    assert rows[0]["filter"] == "3×3×3×32" and rows[0]["output"] == "112×112×32" and rows[0]["stride"] == "2"
    assert rows[1]["filter"] == "3×3×32 dw" and rows[2]["filter"] == "1×1×32×64"
    assert rows[-2]["output"] == "7×7×1024" and rows[-1]["filter"] == "1024×1000" and rows[-1]["stride"] == "–"
    dw_strides = [r["stride"] for r in rows if r["type"] == "Conv dw"]
    assert dw_strides == [str(s) for _, s in MOBILENET_V1_LAYERS]
    assert sum(r["share"] for r in rows) == pytest.approx(100.0)
    assert sum(r["mult_adds"] for r in rows) == table.total_macs


def test_architecture_html_totals() -> None:
    table = layer_table(_meta_model(1.0))
    text = v1.architecture_html(table)
    assert text.count("<tr") == 30  # header, 28 layers, total
    assert "568,740,352" in text and "4,210,088" in text and "4,231,976" in text
    with pytest.raises(ValueError, match="CostTable"):
        v1.architecture_html("not a table")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- sweep


def _fake_sweep() -> dict:
    runs = []
    configs = [(1.0, 32, "separable", 0.97), (0.5, 32, "separable", 0.95), (0.25, 32, "separable", 0.9),
               (1.0, 16, "separable", 0.93), (0.25, 32, "full", 0.92)]
    for alpha, res, conv, acc in configs:
        cost = v1x.v1_cost(alpha, res, layers=v1x.DIGITS_LAYERS, num_classes=10, full_conv=conv == "full")
        for seed in (0, 1):
            runs.append({"alpha": alpha, "resolution": res, "conv": conv, "seed": seed, "mult_adds": cost.macs,
                         "params": cost.params, "test_accuracy": acc + 0.01 * seed})
    config = {"base_resolution": 32, "resolution_alpha": 1.0, "full_conv_alpha": 0.25}
    return {"machine": {}, "config": config, "results": {"runs": runs, "wall_time_s": 1.0}}


def test_summarize_and_series() -> None:
    sweep = _fake_sweep()
    points = v1x.summarize_sweep(sweep["results"]["runs"])
    assert len(points) == 5
    assert points[0].accuracies == (0.97, 0.98) and points[0].mean == pytest.approx(0.975)
    assert points[0].low == 0.97 and points[0].high == 0.98
    series = v1x.sweep_series(sweep)
    assert [p.alpha for p in series["width"]] == [0.25, 0.5, 1.0]  # sorted by mult-adds
    assert [p.resolution for p in series["resolution"]] == [16, 32]
    assert [p.conv for p in series["full"]] == ["full"]
    assert series["full_twin"][0].alpha == 0.25 and series["full_twin"][0].conv == "separable"


def test_summarize_rejects_inconsistent_runs() -> None:
    runs = _fake_sweep()["results"]["runs"]
    with pytest.raises(ValueError, match="lacks"):
        v1x.summarize_sweep([{"alpha": 1.0}])
    bad = [dict(runs[0]), dict(runs[1], mult_adds=1)]
    with pytest.raises(ValueError, match="disagree"):
        v1x.summarize_sweep(bad)


def test_plot_sweep_draws_both_panels() -> None:
    fig = v1.plot_sweep(_fake_sweep())
    assert len(fig.axes) == 2
    assert "ImageNet" in fig.axes[0].get_ylabel() and "digits" in fig.axes[1].get_ylabel()
    assert len(v1.plot_sweep(_fake_sweep(), show_paper=False).axes) == 1
    _render(fig)


def test_load_sweep_checks_the_file(tmp_path) -> None:
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps(_fake_sweep()))
    assert v1x.load_sweep(path)["config"]["base_resolution"] == 32
    with pytest.raises(ValueError):
        v1x.load_sweep(tmp_path / "missing.json")
    bad = _fake_sweep()
    del bad["config"]["full_conv_alpha"]
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="full_conv_alpha"):
        v1x.load_sweep(path)


# ---------------------------------------------------------------------------------- training


def test_plot_history() -> None:
    history = History(epochs=2, seed=0, lr=0.1, train_loss=[1.0, 0.5], train_accuracy=[0.5, 0.8],
                      test_loss=[0.9, 0.6], test_accuracy=[0.6, 0.7], learning_rate=[0.1, 0.05])
    fig = v1.plot_history(history, title="toy")
    assert len(fig.axes) == 2
    assert list(fig.axes[1].lines[1].get_ydata()) == pytest.approx([60.0, 70.0])
    with pytest.raises(ValueError, match="History"):
        v1.plot_history({"train_loss": []})


def test_chapter_digits_run_reaches_95_percent() -> None:
    """The chapter's live run, exactly as the notebook makes it (α = 0.25, 32 px, seed 0).

    No shorter run reaches 95 % (4 or 5 epochs stop at 92-95 %, 16 px inputs below 90 %), so this
    trains the chapter's recipe: 8 epochs over 1,347 images, about 20 s of CPU time on one thread
    (the committed sweep ran this configuration on one thread and got the same 97.3 %).
    """
    from mobilenet_lib.benchmark import torch_threads

    with torch_threads(1):  # one per test worker; spare threads would only spin
        run = v1x.train_digits_v1(alpha=0.25, resolution=v1x.DIGITS_IMAGE_SIZE, seed=0, progress=False)
    assert run.history.epochs == v1x.DIGITS_RECIPE["epochs"] == len(run.history.test_accuracy)
    assert run.history.final_test_accuracy >= 0.95, run.history.test_accuracy
    cost = v1x.v1_cost(0.25, v1x.DIGITS_IMAGE_SIZE, layers=v1x.DIGITS_LAYERS, num_classes=10)
    assert (run.macs, run.params) == (cost.macs, cost.params)


def test_train_digits_v1_rejects_a_bad_train_limit() -> None:
    with pytest.raises(ValueError, match="train_limit"):
        v1x.train_digits_v1(train_limit=0, progress=False)
