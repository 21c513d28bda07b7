"""Applications that host the visualization widget as a node: Dial-App (``dial``) and
NodeGraphQt (``node_graph``). Each module imports its host only when it is used."""
