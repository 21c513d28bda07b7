"""Dial-App plugin: the "Visualization/Convolutional Visualization" node.

Dial (https://github.com/dial-app) loads a plugin by calling its ``load_plugin()`` and
``unload_plugin()``. Nothing here imports Dial (``dial_core``) before ``load_plugin()``:
the node class derives from ``dial_core.node_editor.Node``, so it is made then.

Dial's interface used (all of it, so that a change in Dial means a change here only):
``dial_core.node_editor.Node(title, inner_widget=...)`` with ``add_input_port(name,
port_type)``, ``inputs[name].set_processor_function(fn)`` and ``__getstate__`` /
``__setstate__`` for project saves; ``dial_core.node_editor.NodeRegistrySingleton()``
with ``register_node(name, factory)`` / ``unregister_node(name)``;
``dial_core.notebook.NodeCells`` (``_body_cells()``) and
``dial_core.notebook.NodeCellsRegistrySingleton()`` with ``register_transformer(node_class,
cells_class)`` / ``unregister_transformer(node_class)``; dependency-injector factories.
"""

from __future__ import annotations

import logging
from typing import Callable

from ..core.context import Target
from ..core.errors import DialVisualizationError
from ..core.labels import load_labels
from ..core.notebook import notebook_cells
from ..core.preprocessing import PRESETS
from ..core.session import Session

log = logging.getLogger(__name__)

NODE_NAME = "Visualization/Convolutional Visualization"
NODE_TITLE = "Convolutional Visualization"

#: The classes made for the ``dial_core`` in use: {"base": Node, "node": ..., "cells": ...}.
_classes: dict[str, type] = {}


def load_plugin() -> None:
    """Register the node and its notebook transformer in Dial's registries."""
    from dependency_injector import providers
    from dial_core.node_editor import NodeRegistrySingleton
    from dial_core.notebook import NodeCellsRegistrySingleton

    from ..qt.widget import ConvVisualizationWidget

    node_class, cells_class = _plugin_classes()
    factory = providers.Factory(node_class,
                                visualization_widget=providers.Factory(ConvVisualizationWidget))
    NodeRegistrySingleton().register_node(NODE_NAME, factory)
    NodeCellsRegistrySingleton().register_transformer(node_class, cells_class)


def unload_plugin() -> None:
    """Remove what :func:`load_plugin` registered."""
    from dial_core.node_editor import NodeRegistrySingleton
    from dial_core.notebook import NodeCellsRegistrySingleton

    NodeRegistrySingleton().unregister_node(NODE_NAME)
    if "node" in _classes:
        NodeCellsRegistrySingleton().unregister_transformer(_classes["node"])


def restore_node(session: Session):
    """Unpickling a saved project: a new node whose widget reloads ``session``'s canvas."""
    from dial_core.node_editor import NodeRegistrySingleton

    node = NodeRegistrySingleton().get_node(NODE_NAME)
    _restore_canvas(node.inner_widget, session)
    return node


def _restore_canvas(widget, session: Session) -> None:
    """Reload the files and queue every run again (the results themselves are not saved)."""
    try:
        if session.model_path and widget.load_model_file(session.model_path):
            widget.set_output_index(session.output_index)
        if session.preprocessing in PRESETS and session.preprocessing != widget.preprocessing.name:
            widget.set_preprocessing(session.preprocessing)  # a choice, not the detected one
        if session.image_path:
            widget.set_image(session.image_path)
        if session.labels_path:
            widget.set_labels(load_labels(session.labels_path), source=session.labels_path)
    except DialVisualizationError as error:  # a moved file must not break opening the project
        log.warning("Convolutional Visualization node not restored: %s", error)
        return
    if not session.model_path:  # the model comes through the "Model" port: nothing to redo
        return
    for run in session.runs:
        widget.run_algorithm(run.method, Target(run.node_type, run.layer, run.index),
                             dict(run.params))


def _plugin_classes() -> tuple[type, type]:
    """(node class, notebook cells class), made once per ``dial_core`` module."""
    import keras
    from dial_core.node_editor import Node
    from dial_core.notebook import NodeCells

    if _classes.get("base") is Node:
        return _classes["node"], _classes["cells"]

    class ConvVisualizationNode(Node):
        """Input ports "Model" and "Custom Preprocessor"; the widget as its inner widget."""

        def __init__(self, visualization_widget):
            super().__init__(title=NODE_TITLE, inner_widget=visualization_widget)
            self.add_input_port("Model", port_type=keras.Model)
            self.inputs["Model"].set_processor_function(self._receive_model)
            self.add_input_port("Custom Preprocessor", port_type=Callable)
            self.inputs["Custom Preprocessor"].set_processor_function(
                self._receive_preprocessor)

        # Bound methods of the node (not of the widget) so that ports pickle with it.
        def _receive_model(self, model):
            self.inner_widget.set_model(model)

        def _receive_preprocessor(self, preprocessor):
            self.inner_widget.set_preprocessing(preprocessor)

        def __reduce__(self):
            return restore_node, (self.inner_widget.session(),), self.__getstate__()

    class ConvVisualizationNodeCells(NodeCells):
        """The canvas as notebook cells: the notebook API calls that redo every tile."""

        def _body_cells(self):
            import nbformat

            try:
                cells = notebook_cells(self.node.inner_widget.session())
            except DialVisualizationError as error:
                return [nbformat.v4.new_markdown_cell(f"*Not exported:* {error}")]
            makers = {"markdown": nbformat.v4.new_markdown_cell,
                      "code": nbformat.v4.new_code_cell}
            return [makers[kind](source) for kind, source in cells]

    _classes.update(base=Node, node=ConvVisualizationNode, cells=ConvVisualizationNodeCells)
    return ConvVisualizationNode, ConvVisualizationNodeCells
