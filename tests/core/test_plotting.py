"""How a map is drawn (core.plotting, Qt-free): over a greyscale input, clipped at a
percentile of |value|, diverging and centred on zero when signed, its range in the caption;
one scale shared by several maps; a numerically zero map says "no signal"; grids page and
number their cells; a saved figure has tight margins."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

import dial_visualization as dv
from dial_visualization.core import plotting
from dial_visualization.core.context import Context, Target
from dial_visualization.core.explain import execute, request
from dial_visualization.core.registry import HandlerConfiguration, NodeType, method
from dial_visualization.core.result import (NO_SIGNAL_LEVEL, Result, is_constant_map,
                                            is_no_signal_map)


def colour_input(size=16):
    """Red left half, blue right half: distinct colours whose greys differ."""
    pixels = np.zeros((size, size, 3), np.uint8)
    pixels[:, : size // 2, 0] = 255
    pixels[:, size // 2:, 2] = 255
    return pixels


def signed_map(size=16, seed=0):
    """Mostly small values of both signs, one outlier of 100."""
    values = np.random.default_rng(seed).normal(0, 1, (size, size)).astype(np.float32)
    values[3, 4] = 100.0
    return values


def heatmap(data, **info):
    return Result(method="test", title="Test: class 1", kind="heatmap", data=data,
                  background=colour_input(data.shape[0]), info=info)


def drawn(result, **style):
    figure = Figure(figsize=(5, 4), layout="constrained")
    FigureCanvasAgg(figure)
    plotting.draw(result, figure, **style)
    figure.canvas.draw()
    return figure


def caption(figure):
    return figure._supxlabel.get_text() if figure._supxlabel else ""


def test_the_map_is_over_a_greyscale_copy_of_the_input_by_default_colour_on_request():
    result = heatmap(signed_map())
    background, overlay = drawn(result).axes[0].images
    grey = background.get_array()
    assert grey.shape == (16, 16)  # one channel: the map's colours are the only colours
    expected = colour_input() @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(grey, expected, rtol=1e-5)
    assert background.get_cmap().name == "gray"
    assert overlay.get_alpha() == pytest.approx(0.5)
    colour = drawn(result, background="colour").axes[0].images[0].get_array()
    np.testing.assert_array_equal(colour, colour_input())
    alone = drawn(result, background="none").axes[0].images
    assert len(alone) == 1 and alone[0].get_array().shape == (16, 16)


def test_a_signed_map_is_clipped_at_the_99th_percentile_diverging_and_centred_on_zero():
    data = signed_map()
    figure = drawn(heatmap(data))
    overlay = figure.axes[0].images[1]
    bound = float(np.percentile(np.abs(data), 99))
    assert bound < 10  # the outlier (100) does not set the scale
    assert overlay.get_clim() == pytest.approx((-bound, bound))
    assert overlay.get_cmap().name == "RdBu_r"
    text = caption(figure)
    assert f"values {data.min():.3g} .. {data.max():.3g}" in text
    assert f"99th percentile of |value| ({bound:.3g})" in text
    colour_bar = figure.axes[1]
    assert colour_bar.get_ylim() == pytest.approx((-bound, bound))
    full = drawn(heatmap(data), clip=100).axes[0].images[1]
    assert full.get_clim() == pytest.approx((-100.0, 100.0))


def test_an_unsigned_map_starts_at_zero_on_a_sequential_map():
    data = np.abs(signed_map()) + 0.5  # all positive: zero is still "no attribution"
    overlay = drawn(heatmap(data)).axes[0].images[1]
    low, high = overlay.get_clim()
    assert low == 0.0 and high == pytest.approx(np.percentile(data, 99))
    assert overlay.get_cmap().name == plotting.UNSIGNED_CMAP


def test_a_shared_scale_pools_the_maps_and_a_weak_map_stays_weak():
    strong, weak = signed_map(seed=1) * 10, signed_map(seed=2) * 0.01
    scale = plotting.shared_scale([heatmap(strong), heatmap(weak)])
    pooled = np.percentile(np.abs(np.concatenate([strong.ravel(), weak.ravel()])), 99)
    assert scale.shared == 2 and scale.bound == pytest.approx(pooled)
    figure = drawn(heatmap(weak), scale=scale)
    assert figure.axes[0].images[1].get_clim() == pytest.approx((-pooled, pooled))
    assert "of 2 maps" in caption(figure)
    own = drawn(heatmap(weak)).axes[0].images[1].get_clim()
    assert own[1] < pooled / 100  # on its own scale the weak map would fill the colours


def test_the_class_score_is_in_the_title():
    figure = drawn(heatmap(signed_map(), class_score=0.0123))
    assert figure._suptitle.get_text().startswith("Test: class 1, score 0.0123")
    assert "score" not in drawn(heatmap(signed_map()))._suptitle.get_text()


def test_explained_classes_know_their_score(demo_model, demo_image):
    result = dv.explain(demo_model, demo_image, "saliency", target=2)
    probabilities = demo_model.predict(demo_image.batch(), verbose=0)[0]
    assert result.info["class_score"] == pytest.approx(float(probabilities[2]), rel=1e-4)


@pytest.fixture(scope="module")
def demo_model():
    return dv.load_model(dv.demo_paths()["model"])


@pytest.fixture(scope="module")
def demo_image(demo_model):
    return dv.load_image(dv.demo_paths()["images"][0], demo_model)


@pytest.mark.parametrize("level", [1e-14, 3e-13])
def test_a_numerically_zero_map_says_no_signal_instead_of_amplified_noise(level):
    noise = np.random.default_rng(0).normal(0, level / 3, (16, 16)).astype(np.float32)
    noise[0, 0] = level
    assert is_no_signal_map(noise) and is_constant_map(noise)

    @method(id="tiny", name="Tiny", node_types={NodeType.PREDICTION})
    def tiny(context, target, params, progress, should_stop):
        return Result(kind="heatmap", data=noise, background=colour_input())

    registry = HandlerConfiguration()
    registry.register(tiny)
    from builders import sequential_model

    model = sequential_model()
    result = execute(request("tiny", model, Target(NodeType.PREDICTION, None, 1),
                             registry=registry), Context(model=model))
    bound = float(np.abs(noise).max())
    assert result.warnings and result.warnings[0].startswith(
        f"Tiny map: no signal (max |value| {bound:.2g})")
    figure = drawn(result)
    assert figure.axes == []  # no image, no colour bar: the message instead
    assert any(f"no signal (max |value| {bound:.2g})" in t.get_text() for t in figure.texts)


def test_a_small_map_with_a_pattern_is_drawn():
    small = signed_map() * 1e-6  # a saturated model's gradient: small but far above rounding
    assert not is_no_signal_map(small) and np.abs(small).max() > 1e3 * NO_SIGNAL_LEVEL
    assert not heatmap(small).is_constant
    assert len(drawn(heatmap(small)).axes[0].images) == 2


def grid(count, **info):
    maps = np.arange(count, dtype=np.float32)[:, None, None] * np.ones((1, 4, 4), np.float32)
    return Result(title="Activations: conv", kind="grid", data=maps, info=info)


def test_a_large_grid_pages_through_every_channel_with_numbered_cells():
    result = grid(150)
    assert plotting.page_count(result) == 3
    seen = []
    for page in range(3):
        figure = drawn(result, page=page)
        cells = [a for a in figure.axes if (a.get_gid() or "").startswith("cell ")]
        numbers = [int(a.get_title()) for a in cells]
        assert numbers == [int(a.get_gid().split()[1]) for a in cells]
        for axes, number in zip(cells, numbers):  # each cell shows its own channel
            assert axes.images[0].get_array()[0, 0] == number
        seen += numbers
        assert f"of 150 (page {page + 1} of 3)" in caption(figure)
    assert seen == list(range(150))


def test_the_grid_caption_does_not_cover_the_last_row():
    figure = drawn(grid(70), page=0)
    renderer = figure.canvas.get_renderer()
    caption_box = figure._supxlabel.get_window_extent(renderer)
    for axes in figure.axes:
        box = axes.get_tightbbox(renderer)  # the cell with its number
        assert not box.overlaps(caption_box), axes.get_title()


def test_kernel_grids_number_filter_and_input_channel_and_page_by_whole_rows():
    result = grid(40 * 3, grid_columns=3)  # 40 filters, 3 input channels each
    assert plotting.cell_label(result, 7) == "2:1"
    first, second = (drawn(result, page=page).axes for page in (0, 1))
    assert len(first) == 63 and first[-1].get_title() == "20:2"  # 21 whole filters per page
    assert len(second) == 57 and second[0].get_title() == "21:0"
    channels = Result(title="t", kind="grid", data=np.ones((2, 4, 4)), info={"channels": [5, 9]})
    assert [plotting.cell_label(channels, i) for i in range(2)] == ["5", "9"]


def content_box(path):
    """(left, top, right, bottom) of what is not white, and the picture's size."""
    with Image.open(path) as picture:
        pixels = np.asarray(picture.convert("L"))
    rows = np.flatnonzero((pixels < 250).any(axis=1))
    columns = np.flatnonzero((pixels < 250).any(axis=0))
    return (columns[0], rows[0], columns[-1], rows[-1]), pixels.shape[::-1]


def test_a_saved_map_has_tight_margins(tmp_path):
    path = heatmap(signed_map(size=32)).save_png(tmp_path / "map.png")
    (left, top, right, bottom), (width, height) = content_box(path)
    assert max(left, top, width - 1 - right, height - 1 - bottom) <= 8  # pixels, at 100 dpi
