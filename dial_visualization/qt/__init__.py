"""The Qt interface: :class:`ConvVisualizationWidget` and the standalone app (``qt.app``).

Qt is reached only through ``qtpy`` (PySide6 by default, PySide2 5.13 works too); every
computation goes to ``dial_visualization.core`` on a worker thread. The widget is imported
on first use, so that ``qt.app``'s ``--help`` answers without TensorFlow.
"""

__all__ = ["ConvVisualizationWidget"]


def __getattr__(name):
    if name == "ConvVisualizationWidget":
        from .widget import ConvVisualizationWidget

        return ConvVisualizationWidget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
