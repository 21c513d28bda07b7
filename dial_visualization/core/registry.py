"""Method declarations and the registry of node-type handlers and methods.

One declaration per method (id, name, node types, parameters, paper) feeds the GUI's
forms, the CLI's ``--param`` parsing and the notebook API's keyword checks.

Built-ins are declared with the :func:`method` decorator. A :class:`HandlerConfiguration`
is built explicitly by whoever composes the application (the app, the command line, each
host, each test); :meth:`HandlerConfiguration.default` is the one the notebook API and the
command line share. Third parties add methods to a registry with
``registry.register(...)``, or ship a package with an entry point in the group
``dial_visualization.methods`` whose object is a :class:`Method` (or an iterable of them,
or a callable returning one); a node type of their own comes with its
:class:`~.handlers.NodeHandler` (``registry.add_handler``).
"""

from __future__ import annotations

import math
import logging
import threading
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Iterable, Mapping

from .context import _KEBAB_CASE, NodeType, node_type_name, node_type_of
from .errors import MethodNotApplicableError, ParameterError, RegistryError
from .handlers import BUILTIN_HANDLERS, NodeHandler

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "dial_visualization.methods"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
#: The kinds of parameter values.
KINDS = ("int", "float", "choice", "bool", "str", "layer")
__all__ = ["ENTRY_POINT_GROUP", "HandlerConfiguration", "KINDS", "Method", "NodeType",
           "Parameter", "method"]


@dataclass(frozen=True)
class Parameter:
    """One parameter of a method: type ``int``, ``float``, ``choice``, ``bool``, ``str``
    or ``layer``.

    A ``layer`` parameter holds a layer path ("" for the method's automatic choice); it
    is always named ``layer``, the one name the API (``layer=``), the CLI (``--layer``) and
    the GUI give a layer, and ``spatial`` says that the layer's output must be a
    (batch, height, width, channels) map.
    """

    name: str
    kind: str
    default: Any
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    spatial: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise RegistryError(f"parameter {self.name!r}: unknown kind {self.kind!r}")
        if self.kind == "choice" and self.default not in self.choices:
            raise RegistryError(f"parameter {self.name!r}: default not among its choices")
        if (self.kind == "layer") != (self.name == "layer"):
            raise RegistryError(f"parameter {self.name!r}: a layer parameter is named 'layer', "
                                "and a parameter named 'layer' is of kind 'layer'")

    def coerce(self, value: Any) -> Any:
        """Return ``value`` as this parameter's type, or raise :class:`ParameterError`."""
        try:
            if self.kind == "bool":
                value = self._to_bool(value)
            elif self.kind == "int":
                if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
                    raise ValueError  # steps=True is no number of steps
                value = int(value)
            elif self.kind == "float":
                if isinstance(value, bool):
                    raise ValueError
                value = float(value)
                if not math.isfinite(value):
                    raise ValueError  # NaN and infinity are no parameter values
            elif self.kind == "str":
                value = str(value)
            elif self.kind == "layer":
                if value is not None and not isinstance(value, str):
                    raise TypeError
                value = (value or "").strip()
        except (TypeError, ValueError):
            raise ParameterError(f"{self.name}: expected {self.kind}, got {value!r}") from None
        if self.kind == "choice" and value not in self.choices:
            by_text = {str(choice): choice for choice in self.choices}  # "16" from a CLI is 16
            if str(value) not in by_text:
                options = ", ".join(by_text)
                raise ParameterError(f"{self.name}: {value!r} is not one of {options}")
            value = by_text[str(value)]
        if self.minimum is not None and value < self.minimum:
            raise ParameterError(f"{self.name}: {value} is below the minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise ParameterError(f"{self.name}: {value} is above the maximum {self.maximum}")
        return value

    @staticmethod
    def _to_bool(value: Any) -> bool:
        if isinstance(value, str):
            if value.lower() in _TRUE:
                return True
            if value.lower() in _FALSE:
                return False
            raise ValueError
        return bool(value)


@dataclass(frozen=True)
class Method:
    """A registered method.

    ``run(context, target, params, progress, should_stop)`` returns a
    :class:`~dial_visualization.core.result.Result`; ``progress(fraction)`` reports work
    done and ``should_stop()`` is polled between batches. ``channel_reduction`` says, for
    a map over the input, how its per-channel values become one value per pixel (with the
    paper that defines it).

    A method that declares a ``layer`` parameter (a class activation map's layer)
    explains classes only: for kernel and output nodes the layer is the node's own.
    """

    id: str
    name: str
    node_types: frozenset
    run: Callable = field(compare=False)
    description: str = ""
    reference: str = ""
    parameters: tuple[Parameter, ...] = ()
    channel_reduction: str = ""

    def __post_init__(self):
        if not _KEBAB_CASE.match(self.id):
            raise RegistryError(f"method id {self.id!r} is not kebab-case")
        try:
            node_types = frozenset(node_type_of(t) for t in self.node_types)
        except ParameterError as error:
            raise RegistryError(f"method {self.id!r}: {error}") from None
        object.__setattr__(self, "node_types", node_types)
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise RegistryError(f"method {self.id!r} declares a parameter twice")
        if self.layer_parameter() is not None and self.node_types != {NodeType.PREDICTION}:
            raise RegistryError(f"method {self.id!r} declares a layer parameter, so it can "
                                "explain prediction nodes only (other nodes have their layer)")

    def layer_parameter(self) -> Parameter | None:
        """The ``layer`` parameter, if the method declares one."""
        return next((p for p in self.parameters if p.kind == "layer"), None)

    def changed_params(self, params: Mapping[str, Any]) -> str:
        """``name=value`` for each value in ``params`` that differs from its default."""
        return ", ".join(f"{p.name}={params[p.name]}" for p in self.parameters
                         if p.name in params and params[p.name] != p.default)

    def resolve_params(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overridden by ``params``, each checked; unknown names are refused."""
        params = dict(params or {})
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ParameterError(
                f"{self.id} has no parameter {', '.join(unknown)}"
                f" (it takes: {', '.join(known) or 'none'})"
            )
        return {name: p.coerce(params.get(name, p.default)) for name, p in known.items()}


class HandlerConfiguration:
    """The registry: one :class:`~.handlers.NodeHandler` per node type, and the methods,
    keyed by id and filtered by node type."""

    _default: HandlerConfiguration | None = None
    _default_lock = threading.Lock()

    def __init__(self, handlers: Iterable[NodeHandler] = BUILTIN_HANDLERS.values()):
        self._handlers: dict[str, NodeHandler] = {}
        self._methods: dict[str, Method] = {}
        self._lock = threading.Lock()
        self.plugin_errors: dict[str, str] = {}
        for handler in handlers:
            self.add_handler(handler)

    @classmethod
    def with_builtins(cls, entry_points: bool = True) -> HandlerConfiguration:
        """A new registry with the built-in handlers and methods, and (``entry_points``)
        the methods of installed plugins."""
        registry = cls()
        from . import methods

        for method in methods.builtin_methods():
            registry.register(method)
        if entry_points:
            registry.load_entry_points()
        return registry

    @classmethod
    def default(cls) -> HandlerConfiguration:
        """The registry that the notebook API and the command line share (built on first
        use, see :meth:`with_builtins`); the app and each host build their own."""
        with cls._default_lock:
            if cls._default is None:
                cls._default = cls.with_builtins()
        return cls._default

    def add_handler(self, handler: NodeHandler) -> Callable[[], None]:
        """Add the handler of a node type; returns a function that removes it again."""
        name = node_type_name(node_type_of(handler.node_type))
        with self._lock:
            if name in self._handlers:
                raise RegistryError(f"node type {name!r} already has a handler")
            self._handlers[name] = handler
        return lambda: self._handlers.pop(name, None)

    def handler(self, node_type) -> NodeHandler:
        """The handler of ``node_type``; an unknown node type is refused."""
        name = node_type_name(node_type_of(node_type))
        try:
            return self._handlers[name]
        except KeyError:
            raise ParameterError(f"node_type: {name!r} is not one of "
                                 f"{', '.join(self._handlers)}") from None

    def handlers(self) -> dict[str, NodeHandler]:
        """Every node type's handler, by node type name."""
        return dict(self._handlers)

    def register(self, method: Method | None = None, **declaration) -> Callable[[], None]:
        """Add a method; returns a function that removes it again.

        Either pass a :class:`Method`, or its fields as keywords (``id``, ``name``,
        ``node_types``, ``run``, ...). Each of its node types needs a handler.
        """
        if method is None:
            method = Method(**declaration)
        elif declaration:
            raise RegistryError("pass a Method or its fields, not both")
        unknown = [node_type_name(t) for t in method.node_types
                   if node_type_name(t) not in self._handlers]
        if unknown:
            raise RegistryError(f"method {method.id!r}: no handler for node type(s) "
                                f"{', '.join(sorted(unknown))} (add_handler first)")
        with self._lock:
            if method.id in self._methods:
                raise RegistryError(f"a method with id {method.id!r} is already registered")
            self._methods[method.id] = method
        return lambda: self.unregister(method.id)

    def unregister(self, method_id: str) -> None:
        with self._lock:
            self._methods.pop(method_id, None)

    def get(self, method_id: str) -> Method:
        try:
            return self._methods[method_id]
        except KeyError:
            known = ", ".join(sorted(self._methods))
            raise RegistryError(f"unknown method {method_id!r} (known: {known})") from None

    def all(self) -> dict[str, Method]:
        """Every method by id, in registration order."""
        return dict(self._methods)

    def for_node_type(self, node_type) -> list[Method]:
        """The methods that explain nodes of ``node_type``, in registration order."""
        node_type = node_type_of(node_type)
        return [m for m in self._methods.values() if node_type in m.node_types]

    def default_method(self, node_type) -> Method:
        """The method a node of ``node_type`` runs when none is chosen: the first of its
        handler's ``preferred_methods`` that is registered, else the first one offered."""
        offered = self.for_node_type(node_type)
        if not offered:
            raise MethodNotApplicableError(
                f"no method handles {node_type_name(node_type_of(node_type))} nodes")
        by_id = {m.id: m for m in offered}
        preferred = self.handler(node_type).preferred_methods
        return next((by_id[i] for i in preferred if i in by_id), offered[0])

    def load_entry_points(self, entry_points: Iterable | None = None) -> None:
        """Register the methods that installed packages declare; report and skip failures."""
        if entry_points is None:
            entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
        for entry_point in entry_points:
            try:
                for method in _as_methods(entry_point.load()):
                    self.register(method)
            except Exception as error:  # a broken plugin must never take the app down
                message = f"{type(error).__name__}: {error}"
                self.plugin_errors[entry_point.name] = message
                log.warning("method plugin %r skipped: %s", entry_point.name, message)


def _as_methods(loaded: Any) -> list[Method]:
    if isinstance(loaded, Method):
        return [loaded]
    if callable(loaded):
        return _as_methods(loaded())
    methods = list(loaded)
    if not all(isinstance(a, Method) for a in methods):
        raise RegistryError("an entry point must give a Method or a list of them")
    return methods


def method(*, id: str, name: str, node_types: Iterable, description: str = "",
              reference: str = "", parameters: Iterable[Parameter] = (),
              channel_reduction: str = ""):
    """Decorator turning a run function into an :class:`Method` (registered by ``methods``)."""

    def wrap(run: Callable) -> Method:
        return Method(id=id, name=name, node_types=frozenset(node_types), run=run,
                         description=description, reference=reference,
                         parameters=tuple(parameters), channel_reduction=channel_reduction)

    return wrap
