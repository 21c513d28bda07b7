"""``dial_core.notebook``: nodes as Jupyter cells, one transformer class per node class."""

import nbformat
from dependency_injector import providers


class NodeCells:
    """A node's cells: a title, then what ``_body_cells()`` gives (subclasses override it)."""

    def __init__(self, node):
        self._node = node

    @property
    def node(self):
        return self._node

    def cells(self):
        return self._title_cells() + self._body_cells()

    def _title_cells(self):
        return [nbformat.v4.new_markdown_cell(
            source=f"## {self._node.title} ({type(self._node).__name__})")]

    def _body_cells(self):
        return []


class NodeCellsRegistry:
    """Node class -> factory of its NodeCells transformer."""

    def __init__(self):
        self.transformers = {}

    def register_transformer(self, node_type, transformer, *args, **kwargs):
        self.transformers[node_type] = providers.Factory(transformer, *args, **kwargs)

    def unregister_transformer(self, node_type):
        self.transformers.pop(node_type, None)

    def create_transformer_from(self, node, *args, **kwargs):
        return self.transformers[type(node)](node, *args, **kwargs)


NodeCellsRegistrySingleton = providers.Singleton(NodeCellsRegistry)
