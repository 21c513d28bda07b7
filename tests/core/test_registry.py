"""The method registry: declaration, registration, parameters and entry-point plugins."""

import sys
import textwrap

import pytest

from dial_visualization.core.errors import ParameterError, RegistryError
from dial_visualization.core.registry import (
    ENTRY_POINT_GROUP, Method, HandlerConfiguration, NodeType, Parameter, method)


def _run(context, target, params, progress, should_stop):
    return params


def _method(method_id="demo-method", node_types=(NodeType.OUTPUT,), parameters=()):
    return Method(id=method_id, name="Demo", node_types=frozenset(node_types), run=_run,
                     parameters=tuple(parameters))


# --------------------------------------------------------------------------- declaration

def test_decorator_declares_an_method():
    @method(id="edge-map", name="Edge map", node_types={"output", NodeType.PREDICTION},
               description="edges", reference="Someone 2024",
               parameters=(Parameter("sigma", "float", 1.0, "blur", 0.0, 5.0),))
    def edge_map(context, target, params, progress, should_stop):
        return "ran"

    assert isinstance(edge_map, Method)
    assert edge_map.id == "edge-map" and edge_map.name == "Edge map"
    assert edge_map.node_types == frozenset({NodeType.OUTPUT, NodeType.PREDICTION})
    assert edge_map.description == "edges" and edge_map.reference == "Someone 2024"
    assert edge_map.run(None, None, {}, None, None) == "ran"

    registry = HandlerConfiguration()
    registry.register(edge_map)
    assert registry.get("edge-map") is edge_map


def test_builtin_decorated_methods_are_in_the_default_registry():
    registry = HandlerConfiguration.default()
    assert registry is HandlerConfiguration.default()
    ids = list(registry.all())
    assert {"weights", "activations", "predictions"} <= set(ids)
    assert ids[:3] == ["predictions", "weights", "activations"]
    assert registry.get("weights").node_types == frozenset({NodeType.KERNEL})


@pytest.mark.parametrize("bad_id", ["Demo", "demo_method", "demo method", "-demo", ""])
def test_ids_must_be_kebab_case(bad_id):
    with pytest.raises(RegistryError, match="kebab-case"):
        _method(bad_id)


def test_a_parameter_declared_twice_is_refused():
    with pytest.raises(RegistryError, match="twice"):
        _method(parameters=(Parameter("k", "int", 1), Parameter("k", "int", 2)))


def test_bad_parameter_declarations():
    with pytest.raises(RegistryError, match="unknown kind"):
        Parameter("k", "list", [])
    with pytest.raises(RegistryError, match="default not among its choices"):
        Parameter("mode", "choice", "c", choices=("a", "b"))


def test_unknown_node_type_is_refused():
    with pytest.raises(RegistryError, match="is not one of"):  # not a node type's name
        _method(node_types=("Layer node",))
    with pytest.raises(RegistryError, match="no handler for node type"):  # no handler for it
        HandlerConfiguration().register(_method(node_types=("layer",)))


# --------------------------------------------------------------------------- registering

def test_register_on_a_fresh_instance():
    registry = HandlerConfiguration()
    assert registry.all() == {}
    unregister = registry.register(_method())
    assert list(registry.all()) == ["demo-method"]
    assert "demo-method" not in HandlerConfiguration.default().all()
    unregister()
    assert registry.all() == {}
    with pytest.raises(RegistryError, match="unknown method 'demo-method'"):
        registry.get("demo-method")


def test_register_with_keywords():
    registry = HandlerConfiguration()
    registry.register(id="from-keywords", name="Keywords", node_types={"kernel"}, run=_run)
    assert registry.get("from-keywords").node_types == frozenset({NodeType.KERNEL})
    with pytest.raises(RegistryError, match="not both"):
        registry.register(_method(), name="Other")


def test_registries_are_built_explicitly_and_do_not_share_methods():
    default = HandlerConfiguration.default()
    assert HandlerConfiguration.default() is default  # the one the API and CLI share
    own = HandlerConfiguration.with_builtins(entry_points=False)
    assert own is not default and set(own.all()) <= set(default.all())
    unregister = own.register(_method("own-only"))
    try:
        assert "own-only" in own.all() and "own-only" not in default.all()
    finally:
        unregister()
    assert "own-only" not in own.all()
    own.unregister("own-only")  # removing twice is harmless
    with pytest.raises(TypeError):  # no hidden registry behind class-level calls
        HandlerConfiguration.register(_method("class-registered"))


def test_duplicate_ids_are_refused():
    registry = HandlerConfiguration()
    first = _method()
    registry.register(first)
    with pytest.raises(RegistryError, match="already registered"):
        registry.register(_method())
    assert registry.get("demo-method") is first
    with pytest.raises(RegistryError, match="already registered"):
        HandlerConfiguration.default().register(_method("weights"))


def test_for_node_type_filters_in_registration_order():
    registry = HandlerConfiguration()
    registry.register(_method("kernels-only", {NodeType.KERNEL}))
    registry.register(_method("outputs-and-classes", {NodeType.OUTPUT, NodeType.PREDICTION}))
    registry.register(_method("outputs-only", {NodeType.OUTPUT}))

    def ids(node_type):
        return [a.id for a in registry.for_node_type(node_type)]

    assert ids(NodeType.KERNEL) == ["kernels-only"]
    assert ids("output") == ["outputs-and-classes", "outputs-only"]
    assert ids(NodeType.PREDICTION) == ["outputs-and-classes"]
    default_kernel_ids = [a.id for a in HandlerConfiguration.default().for_node_type("kernel")]
    assert "weights" in default_kernel_ids and "activations" not in default_kernel_ids


# --------------------------------------------------------------------------- parameters

PARAMETERS = (
    Parameter("steps", "int", 10, "", 1, 100),
    Parameter("sigma", "float", 0.1, "", 0.0, 1.0),
    Parameter("smooth", "bool", False),
    Parameter("mode", "choice", "fast", choices=("fast", "exact")),
    Parameter("size", "choice", 8, choices=(4, 8, 16)),
    Parameter("note", "str", ""),
)


def test_defaults():
    assert _method(parameters=PARAMETERS).resolve_params() == {
        "steps": 10, "sigma": 0.1, "smooth": False, "mode": "fast", "size": 8, "note": ""}


def test_strings_are_coerced():
    resolved = _method(parameters=PARAMETERS).resolve_params(
        {"steps": "3", "sigma": "0.5", "smooth": "true", "mode": "exact", "size": "16",
         "note": 7})
    assert resolved == {"steps": 3, "sigma": 0.5, "smooth": True, "mode": "exact",
                        "size": 16, "note": "7"}
    assert type(resolved["steps"]) is int and type(resolved["size"]) is int


@pytest.mark.parametrize("text, value", [
    ("1", True), ("yes", True), ("On", True), ("TRUE", True),
    ("0", False), ("no", False), ("off", False), ("False", False),
])
def test_bool_words(text, value):
    assert Parameter("flag", "bool", False).coerce(text) is value


def test_int_accepts_whole_floats_only():
    steps = Parameter("steps", "int", 10)
    assert steps.coerce(4.0) == 4
    with pytest.raises(ParameterError, match="expected int"):
        steps.coerce(4.5)
    with pytest.raises(ParameterError, match="expected int"):
        steps.coerce("4.5")


@pytest.mark.parametrize("name, value, message", [
    ("steps", "0", "below the minimum"),
    ("steps", 101, "above the maximum"),
    ("sigma", "-0.1", "below the minimum"),
    ("sigma", 1.5, "above the maximum"),
    ("steps", "many", "expected int"),
    ("sigma", "wide", "expected float"),
    ("smooth", "maybe", "expected bool"),
    ("mode", "slow", "'slow' is not one of fast, exact"),
    ("size", "5", "is not one of 4, 8, 16"),
])
def test_out_of_range_and_wrong_values(name, value, message):
    with pytest.raises(ParameterError, match=message) as error:
        _method(parameters=PARAMETERS).resolve_params({name: value})
    assert str(error.value).startswith(f"{name}: ")


def test_range_bounds_are_inclusive():
    resolved = _method(parameters=PARAMETERS).resolve_params({"steps": 1, "sigma": 1.0})
    assert resolved["steps"] == 1 and resolved["sigma"] == 1.0


def test_unknown_parameters_are_refused():
    with pytest.raises(ParameterError, match=r"has no parameter colour \(it takes: steps"):
        _method(parameters=PARAMETERS).resolve_params({"colour": "red"})
    with pytest.raises(ParameterError, match=r"\(it takes: none\)"):
        _method().resolve_params({"steps": 3})


# --------------------------------------------------------------------------- entry points

PLUGIN = '''
from dial_visualization.core.registry import Method, NodeType


def _run(context, target, params, progress, should_stop):
    return "plugin ran"


PLUGIN_METHOD = Method(id="plugin-method", name="Plugin method",
                             node_types={NodeType.OUTPUT}, run=_run)


def more_methods():
    return [Method(id="plugin-second", name="Second", node_types={"kernel"}, run=_run),
            Method(id="plugin-third", name="Third", node_types={"prediction"}, run=_run)]


NOT_A_METHOD = 42
'''


def _install_distribution(root, name, package, source, entry_points):
    """A package and its ``.dist-info`` under ``root``, as pip would install them."""
    (root / package).mkdir()
    (root / package / "__init__.py").write_text(textwrap.dedent(source))
    dist_info = root / f"{name}-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = "\n".join(f"{key} = {value}" for key, value in entry_points.items())
    (dist_info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}\n")


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    HandlerConfiguration.default()  # built before the plugins exist: they stay out of it
    _install_distribution(tmp_path, "demo_plugin", "demo_plugin_pkg", PLUGIN, {
        "plugin-method": "demo_plugin_pkg:PLUGIN_METHOD",
        "plugin-more": "demo_plugin_pkg:more_methods",
        "plugin-not-method": "demo_plugin_pkg:NOT_A_METHOD",
        "plugin-duplicate": "demo_plugin_pkg:PLUGIN_METHOD",
    })
    _install_distribution(tmp_path, "broken_plugin", "broken_plugin_pkg",
                          "raise ImportError('needs a library that is not installed')\n",
                          {"broken": "broken_plugin_pkg:METHOD"})
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("demo_plugin_pkg", None)


def test_entry_points_are_loaded_and_broken_plugins_reported(plugin_path):
    registry = HandlerConfiguration()

    registry.load_entry_points()

    methods = registry.all()
    assert {"plugin-method", "plugin-second", "plugin-third"} <= set(methods)
    assert methods["plugin-method"].run(None, None, {}, None, None) == "plugin ran"
    assert methods["plugin-second"].node_types == frozenset({NodeType.KERNEL})
    assert set(registry.plugin_errors) == {"broken", "plugin-not-method", "plugin-duplicate"}
    assert registry.plugin_errors["broken"] == "ImportError: needs a library that is not installed"
    assert registry.plugin_errors["plugin-not-method"].startswith("TypeError")
    assert "already registered" in registry.plugin_errors["plugin-duplicate"]
    assert "plugin-method" not in HandlerConfiguration.default().all()


def test_load_entry_points_from_a_given_list(plugin_path):
    from importlib.metadata import entry_points

    chosen = [e for e in entry_points(group=ENTRY_POINT_GROUP) if e.name == "plugin-more"]
    registry = HandlerConfiguration()
    registry.load_entry_points(chosen)
    assert list(registry.all()) == ["plugin-second", "plugin-third"]
    assert registry.plugin_errors == {}


def test_a_float_parameter_refuses_nan():
    with pytest.raises(ParameterError, match="expected float"):
        Parameter("noise", "float", 0.1, minimum=0.0, maximum=1.0).coerce("nan")


@pytest.mark.parametrize("kind, value", [("int", True), ("int", 2.7), ("float", False),
                                         ("float", "inf"), ("float", float("-inf")),
                                         ("int", "1e308")])
def test_numbers_that_mean_something_else_are_refused(kind, value):
    with pytest.raises(ParameterError, match="expected"):
        Parameter("steps", kind, 1).coerce(value)
