"""Custom methods from code, from an installed entry point and from a user's .py file."""

import runpy
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import dial_visualization as dv
from builders import random_pixels, residual_model
from dial_visualization.core.errors import RegistryError
from dial_visualization.core.images import load_image
from dial_visualization.core.registry import ENTRY_POINT_GROUP, NodeType, method
from dial_visualization.core.user_methods import load_methods_file, unload_methods

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_FILE = EXAMPLES / "custom_method.py"


@pytest.fixture
def example_methods():
    """The example file's methods, registered in the process-wide registry for one test."""
    methods = load_methods_file(EXAMPLE_FILE, dv.HandlerConfiguration.default())
    yield methods
    unload_methods(methods, dv.HandlerConfiguration.default())


def write(tmp_path, name, source):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def test_example_file_registers_pixel_contrast_equal_to_a_numpy_reference(example_methods):
    assert [a.id for a in example_methods] == ["pixel-contrast"]
    model = residual_model()
    pixels = random_pixels()
    x = load_image(pixels, model, "unit").array
    reference = 2.0 * np.abs(x - x.mean(axis=(0, 1))).sum(axis=-1)

    result = dv.explain(model, pixels, "pixel-contrast", target=1, preprocessing="unit",
                        scale=2.0)

    assert result.kind == "heatmap" and result.target.index == 1
    assert np.abs(reference).max() > 0
    np.testing.assert_allclose(result.data, reference, rtol=1e-5,
                               atol=1e-6 * np.abs(reference).max())


def test_example_runs_end_to_end_on_the_demo_model(qapp, monkeypatch, capsys):
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda: None)  # the example ends by showing its figure
    try:
        runpy.run_path(str(EXAMPLE_FILE), run_name="__main__")
    finally:
        plt.close("all")
        dv.HandlerConfiguration.default().unregister("pixel-contrast")
    assert capsys.readouterr().out.startswith("Pixel contrast: class ")


def test_unloading_removes_the_file_methods():
    methods = load_methods_file(EXAMPLE_FILE, dv.HandlerConfiguration.default())
    assert "pixel-contrast" in dv.available_methods()
    unload_methods(methods, dv.HandlerConfiguration.default())
    assert "pixel-contrast" not in dv.available_methods()
    with pytest.raises(RegistryError, match="unknown method 'pixel-contrast'"):
        dv.explain(residual_model(), random_pixels(), "pixel-contrast")


def test_registering_from_code_then_unregistering():
    @method(id="mean-pixel", name="Mean pixel", node_types={NodeType.PREDICTION})
    def mean_pixel(context, target, params, progress, should_stop):
        progress(1.0)
        return dv.Result("mean-pixel", "Mean pixel", "scores",
                         context.image.array.mean(axis=(0, 1)))

    unregister = dv.HandlerConfiguration.default().register(mean_pixel)
    try:
        model = residual_model()
        pixels = random_pixels()
        result = dv.explain(model, pixels, "mean-pixel", preprocessing="unit")
        np.testing.assert_allclose(result.data, pixels.mean(axis=(0, 1)) / 255.0, rtol=1e-5)
    finally:
        unregister()
    assert "mean-pixel" not in dv.available_methods()


def test_entry_point_of_an_installed_package_is_registered(tmp_path, monkeypatch):
    dist_info = tmp_path / "gradient_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: gradient-plugin\n"
                                        "Version: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\ncontrast = custom_method:pixel_contrast\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.delitem(sys.modules, "custom_method", raising=False)
    registry = dv.HandlerConfiguration()

    registry.load_entry_points(
        [e for e in metadata.entry_points(group=ENTRY_POINT_GROUP) if e.name == "contrast"])

    assert registry.plugin_errors == {}
    assert registry.get("pixel-contrast").name == "Pixel contrast"
    sys.modules.pop("custom_method", None)


def test_an_method_failing_at_run_time_is_isolated(tmp_path):
    path = write(tmp_path, "broken.py", """
        from dial_visualization.core.registry import NodeType, method

        @method(id="always-broken", name="Broken", node_types={NodeType.PREDICTION})
        def always_broken(context, target, params, progress, should_stop):
            raise RuntimeError("the broken method failed")
        """)
    methods = load_methods_file(path, dv.HandlerConfiguration.default())
    try:
        model, pixels = residual_model(), random_pixels()
        with pytest.raises(RuntimeError, match="the broken method failed"):
            dv.explain(model, pixels, "always-broken")
        assert dv.explain(model, pixels, "saliency").data.shape == (16, 16)
    finally:
        unload_methods(methods, dv.HandlerConfiguration.default())


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(RegistryError, match="no such methods file"):
        load_methods_file(tmp_path / "absent.py", dv.HandlerConfiguration.default())


def test_file_raising_on_import_reports_the_exception(tmp_path):
    path = write(tmp_path, "raises.py", "raise ValueError('bad configuration value')\n")
    with pytest.raises(RegistryError, match="raises.py raised ValueError.*bad configuration value"):
        load_methods_file(path, dv.HandlerConfiguration.default())
    assert not [m for m in sys.modules if m.endswith("_raises")]


def test_file_with_a_syntax_error_is_reported(tmp_path):
    path = write(tmp_path, "typo.py", "def run(:\n")
    with pytest.raises(RegistryError, match="typo.py raised SyntaxError"):
        load_methods_file(path, dv.HandlerConfiguration.default())


def test_file_without_methods_is_refused(tmp_path):
    path = write(tmp_path, "empty.py", "VALUE = 1\n")
    with pytest.raises(RegistryError, match="empty.py defines no method"):
        load_methods_file(path, dv.HandlerConfiguration())


def test_taken_id_registers_none_of_the_file(tmp_path):
    path = write(tmp_path, "clash.py", """
        from dial_visualization.core.registry import NodeType, method

        @method(id="a-new-method", name="New", node_types={NodeType.PREDICTION})
        def new(context, target, params, progress, should_stop):
            pass

        @method(id="saliency", name="Another saliency", node_types={NodeType.PREDICTION})
        def another_saliency(context, target, params, progress, should_stop):
            pass
        """)
    before = dv.available_methods()
    with pytest.raises(RegistryError, match="'saliency' is already registered"):
        load_methods_file(path, dv.HandlerConfiguration.default())
    assert dv.available_methods() == before


def test_same_id_twice_in_one_file_is_refused(tmp_path):
    path = write(tmp_path, "twice.py", """
        from dial_visualization.core.registry import Method

        first = Method(id="twin", name="First", node_types={"prediction"}, run=print)
        second = Method(id="twin", name="Second", node_types={"prediction"}, run=print)
        """)
    registry = dv.HandlerConfiguration()
    with pytest.raises(RegistryError, match="twin more than once"):
        load_methods_file(path, registry)
    assert registry.all() == {}


def test_imported_builtins_are_not_registered_again(tmp_path):
    path = write(tmp_path, "wrapper.py", """
        from dial_visualization.core.methods.saliency import saliency
        from dial_visualization.core.registry import Method

        doubled = Method(id="doubled-saliency", name="Doubled", node_types={"prediction"},
                            run=lambda *args: saliency.run(*args))
        """)
    methods = load_methods_file(path, dv.HandlerConfiguration.default())
    try:
        assert [a.id for a in methods] == ["doubled-saliency"]
    finally:
        unload_methods(methods, dv.HandlerConfiguration.default())
