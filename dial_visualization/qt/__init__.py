"""The Qt interface: :class:`ConvVisualizationWidget` and the standalone app (``qt.app``).

Qt is reached only through ``qtpy`` (PySide6 by default, PySide2 5.13 works too); every
computation goes to ``dial_visualization.core`` on a worker thread.
"""

from .widget import ConvVisualizationWidget

__all__ = ["ConvVisualizationWidget"]
