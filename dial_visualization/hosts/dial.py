"""Dial-App plugin: the "Visualization/Convolutional Visualization" node.

Dial (https://github.com/dial-app; tested against dial-core 0.21a0, its last release) loads
a plugin by name: ``dial_core.plugin.Plugin.load()`` imports the module named like the
distribution (``dial_visualization``), calls its ``load_plugin()``, then reads the version
and summary from the distribution's ``PKG-INFO`` through ``pkg_resources``;
``unload()`` calls ``unload_plugin()``. Nothing here imports Dial (``dial_core``) before
``load_plugin()``: the node class derives from ``dial_core.node_editor.Node``, so it is
made then.

Dial's interface used (all of it, so that a change in Dial means a change here only):
``dial_core.node_editor.Node(title, inner_widget=...)`` with ``add_input_port(name,
port_type)``, ``inputs[name].set_processor_function(fn)`` and ``__getstate__`` /
``__setstate__`` for project saves (a ``.dial`` file is the pickled project); Dial's
``Scene.duplicate_nodes`` deep-copies nodes; ``dial_core.node_editor.NodeRegistrySingleton()``
with ``register_node(name, factory)`` / ``unregister_node(name)``;
``dial_core.notebook.NodeCells`` (``_body_cells()``, ``_instantiation_cells()``,
``_input_variables_cells()``) and ``dial_core.notebook.NodeCellsRegistrySingleton()`` with
``register_transformer(node_class, cells_class)`` / ``unregister_transformer(node_class)``;
dependency-injector factories (the ``[dial]`` extra; Dial depends on it too);
``pkg_resources`` as Dial reads plugin metadata with it.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable

from ..core.errors import DialVisualizationError
from ..core.labels import load_labels
from ..core.notebook import notebook_cells
from ..core.preprocessing import PRESETS
from ..core.session import Session

log = logging.getLogger(__name__)

NODE_NAME = "Visualization/Convolutional Visualization"
NODE_TITLE = "Convolutional Visualization"
#: The name a Dial user enables in Dial's plugins.json (Dial imports it as dial_visualization).
DISTRIBUTION = "dial-visualization"

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
    _let_dial_read_the_metadata()


def unload_plugin() -> None:
    """Remove what :func:`load_plugin` registered."""
    from dial_core.node_editor import NodeRegistrySingleton
    from dial_core.notebook import NodeCellsRegistrySingleton

    NodeRegistrySingleton().unregister_node(NODE_NAME)
    if "node" in _classes:
        NodeCellsRegistrySingleton().unregister_transformer(_classes["node"])


def restore_node(session: Session, parent=None):
    """Unpickling a saved project: a new node whose widget reloads ``session``'s canvas,
    in its scene (``parent``, as Dial's own ``Node.__reduce__`` keeps it)."""
    from dial_core.node_editor import NodeRegistrySingleton

    node = NodeRegistrySingleton().get_node(NODE_NAME)
    node.parent = parent
    _restore_canvas(node.inner_widget, session)
    return node


def _let_dial_read_the_metadata() -> None:
    """Let Dial's plugin manager read this distribution's version and summary.

    Right after ``load_plugin()``, Dial's ``Plugin._update_plugin_metadata`` reads
    ``pkg_resources.require("dial-visualization")[0].get_metadata_lines("PKG-INFO")``.
    Only an ``.egg-info`` has a ``PKG-INFO``; a wheel (or editable) install has a
    ``.dist-info`` whose same file is named ``METADATA``, so Dial logs a FileNotFoundError
    and shows the version and summary typed in plugins.json instead. The distribution
    ``pkg_resources`` knows is replaced by the same one whose ``PKG-INFO`` is its
    ``METADATA``. Only done where ``pkg_resources`` is already imported (Dial imports it),
    so that nothing else pays for importing it.
    """
    pkg_resources = sys.modules.get("pkg_resources")
    if pkg_resources is None:
        return
    working_set = pkg_resources.working_set
    dist = working_set.find(pkg_resources.Requirement.parse(DISTRIBUTION))
    if (not isinstance(dist, pkg_resources.DistInfoDistribution)
            or dist.has_metadata("PKG-INFO")):
        return  # not installed (a source tree), an .egg-info, or done already

    class DistInfoWithPkgInfo(pkg_resources.PathMetadata):
        """A ``.dist-info`` folder whose ``PKG-INFO`` is its ``METADATA``."""

        def has_metadata(self, name):
            return super().has_metadata("METADATA" if name == "PKG-INFO" else name)

        def get_metadata(self, name):
            return super().get_metadata("METADATA" if name == "PKG-INFO" else name)

    readable = pkg_resources.Distribution.from_location(
        dist.location, os.path.basename(dist.egg_info),
        metadata=DistInfoWithPkgInfo(dist.location, dist.egg_info))
    working_set.add(readable, dist.location, insert=False, replace=True)


def _restore_canvas(widget, session: Session) -> None:
    """Reload the files and queue every run again (the results themselves are not saved)."""
    try:
        if session.model_path and widget.load_model_file(session.model_path):
            widget.set_output_index(session.output_index)
        if session.preprocessing in PRESETS and session.preprocessing != widget.preprocessing.name:
            widget.set_preprocessing(session.preprocessing)  # a choice, not the detected one
        if session.fit != widget.workspace.fit:
            widget.set_fit(session.fit)
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
        widget.run_record(run, remembered=False)


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
            return (restore_node, (self.inner_widget.session(), self.parent),
                    self.__getstate__())

        def __deepcopy__(self, memo):
            """Dial's "duplicate" (``Scene.duplicate_nodes``): a new node from the factory
            whose canvas is restored as a saved project restores it (Dial's own
            ``Node.__deepcopy__`` would deep-copy the widget, which Qt cannot)."""
            duplicate = restore_node(self.inner_widget.session())
            memo[id(self)] = duplicate
            return duplicate

    class ConvVisualizationNodeCells(NodeCells):
        """The canvas as notebook cells: the notebook API calls that redo every tile.

        Dial's cells of a node are its title, an instantiation of the node, one variable per
        input port, then ``_body_cells()``. The two in between are left out: Dial writes
        ``NodeRegistrySingleton().get_factory_for(<qualified class name>)()`` without an
        import, which no notebook can run (and this class is made inside a function), and
        the body never reads the port variables, which name variables that the upstream
        node's cells may not define (a model from the port is not exported, see below).
        """

        def _instantiation_cells(self):
            return []

        def _input_variables_cells(self):
            return []

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
