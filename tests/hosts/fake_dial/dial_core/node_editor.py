"""``dial_core.node_editor``: nodes, ports and the node registry."""

from dependency_injector import containers, providers


class Port:
    """A named, typed connection point; two ports connect when their types are equal."""

    def __init__(self, name, port_type, allows_multiple_connections=True):
        self.name = name
        self.port_type = port_type
        self.allows_multiple_connections = allows_multiple_connections
        self.connections = set()
        self.node = None

    def is_compatible_with(self, port):
        return self.port_type == port.port_type and self.node is not port.node

    def connect_to(self, port):
        if port is self or not self.is_compatible_with(port):
            raise ValueError(f"cannot connect {self.name!r} to {port.name!r}")
        if not self.allows_multiple_connections:
            self.clear_all_connections()
        self.connections.add(port)
        if self not in port.connections:
            port.connect_to(self)

    def disconnect_from(self, port):
        if port in self.connections:
            self.connections.discard(port)
            port.disconnect_from(self)

    def clear_all_connections(self):
        for port in list(self.connections):
            self.disconnect_from(port)


class InputPort(Port):
    """Receives values; ``process_input(value)`` hands them to the processor function."""

    def __init__(self, name, port_type):
        super().__init__(name, port_type, allows_multiple_connections=False)
        self._processor_function = None

    @property
    def port_connected_to(self):
        return next(iter(self.connections), None)

    def set_processor_function(self, processor_function):
        self._processor_function = processor_function

    def process_input(self, value):
        if self._processor_function is None:
            raise NotImplementedError(f"no processor function on {self.name!r}")
        self._processor_function(value)

    def receive(self):
        return self.port_connected_to.generate_output()


class OutputPort(Port):
    """Generates values; connecting and ``send()`` push them into the connected inputs."""

    def __init__(self, name, port_type):
        super().__init__(name, port_type, allows_multiple_connections=True)
        self._generator_function = None

    def set_generator_function(self, generator_function):
        self._generator_function = generator_function

    def generate_output(self):
        if self._generator_function is None:
            raise NotImplementedError(f"no generator function on {self.name!r}")
        return self._generator_function()

    def connect_to(self, port):
        super().connect_to(port)
        try:
            port.process_input(self.generate_output())
        except NotImplementedError:
            pass

    def send(self):
        value = self.generate_output()
        for port in self.connections:
            port.process_input(value)


class Node:
    """A titled node with an optional inner widget and dicts of input and output ports."""

    def __init__(self, title, inner_widget=None):
        self.title = title
        self.inner_widget = inner_widget
        self.inputs = {}
        self.outputs = {}

    def add_input_port(self, name, port_type):
        return self._add(self.inputs, InputPort(name, port_type))

    def add_output_port(self, name, port_type):
        return self._add(self.outputs, OutputPort(name, port_type))

    def _add(self, ports, port):
        ports[port.name] = port
        port.node = self
        return port

    def __getstate__(self):
        return {"inputs": self.inputs, "outputs": self.outputs}

    def __setstate__(self, state):
        self.inputs = state["inputs"]
        self.outputs = state["outputs"]

    def __reduce__(self):
        return Node, (self.title, self.inner_widget), self.__getstate__()


class NodeRegistry(containers.DynamicContainer):
    """Node factories by name, as shown in Dial's "add node" menu."""

    @property
    def nodes(self):
        return self.providers

    def register_node(self, identifier, value, *args, **kwargs):
        node_type = value.cls if isinstance(value, providers.Factory) else value
        if not issubclass(node_type, Node):
            raise TypeError("Registered nodes must inherit from `Node` class!!")
        self.providers[identifier] = providers.Factory(value, *args, **kwargs)

    def unregister_node(self, identifier):
        self.providers.pop(identifier, None)

    def get_node(self, identifier):
        return self.providers[identifier]()


NodeRegistrySingleton = providers.Singleton(NodeRegistry)
