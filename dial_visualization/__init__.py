"""dial-visualization: see why a trained convolutional network decides what it decides.

::

    import dial_visualization as dv
    model = dv.load_model("model.keras")
    image = dv.load_image("cat.png", model)
    result = dv.explain(model, image, "grad-cam")
    result.plot()
"""

from .core.tf_environment import configure as _configure_tensorflow

_configure_tensorflow()  # before anything imports TensorFlow

from .api import available_methods, demo_paths, explain, load_image, load_labels, load_model  # noqa: E402
from .core.context import Target  # noqa: E402
from .core.registry import Algorithm, HandlerConfiguration, NodeType, Parameter  # noqa: E402
from .core.result import Result  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Algorithm", "HandlerConfiguration", "NodeType", "Parameter", "Result", "Target",
    "available_methods", "demo_paths", "explain", "load_image", "load_labels", "load_model",
    "load_plugin", "unload_plugin",
]


def load_plugin():
    """Dial-App plugin entry: register the Convolutional Visualization node."""
    from .hosts.dial import load_plugin as load

    return load()


def unload_plugin():
    """Dial-App plugin exit: remove the node again."""
    from .hosts.dial import unload_plugin as unload

    return unload()
