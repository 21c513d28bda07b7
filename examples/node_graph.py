"""The visualization as a node in a NodeGraphQt graph, pre-wired on the demo model.

A "Model loader" node (a model file path) and a "Preprocessor" node (a preset) feed a
"Convolutional Visualization" node: double-click it to open the full widget; its face shows
the latest result. Edit the loader's path, or unplug and replug the wires, to hand the
widget another model or none. Needs NodeGraphQt: pip install "dial-visualization[graph]".

Run: python examples/node_graph.py   (or: dial-visualization graph)
"""

from dial_visualization.hosts.node_graph import main

if __name__ == "__main__":
    raise SystemExit(main())
