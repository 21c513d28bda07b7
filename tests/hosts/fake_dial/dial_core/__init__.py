"""A stand-in for Dial-App's ``dial_core`` plugin interface (Dial pins Python <= 3.8).

Only what a node plugin touches, with Dial's names and behaviour: nodes with typed input
and output ports, values pushed from an output port to the input ports connected to it,
a node registry of dependency-injector factories, and notebook cell transformers.
"""
