"""dial-visualization: see why a trained convolutional network decides what it decides.

::

    import dial_visualization as dv
    model = dv.load_model("model.keras")
    image = dv.load_image("cat.png", model)
    result = dv.explain(model, image, "grad-cam")
    result.plot()

Importing the package is cheap: TensorFlow is imported on first use of the API.
"""

import importlib

from .core.tf_environment import configure as _configure_tensorflow

_configure_tensorflow()  # before anything imports TensorFlow

__version__ = "0.1.0"

_EXPORTS = {
    "available_methods": "api", "available_metrics": "api", "embed": "api", "evaluate": "api",
    "Evaluation": "core.metrics", "demo_paths": "core.demo", "explain": "api", "load_image": "api",
    "load_labels": "api", "load_model": "api", "PreprocessingWarning": "api",
    "Target": "core.context", "Result": "core.result",
    "Method": "core.registry", "HandlerConfiguration": "core.registry",
    "NodeType": "core.registry", "Parameter": "core.registry", "method": "core.registry",
}

__all__ = sorted(_EXPORTS) + ["load_plugin", "unload_plugin"]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_plugin():
    """Dial-App plugin entry: register the Convolutional Visualization node."""
    from .hosts.dial import load_plugin as load

    return load()


def unload_plugin():
    """Dial-App plugin exit: remove the node again."""
    from .hosts.dial import unload_plugin as unload

    return unload()
