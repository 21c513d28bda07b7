"""Algorithm declarations and the registry that dispatches them per node type.

One declaration per algorithm (id, name, node types, parameters, paper) feeds the GUI's
forms, the CLI's ``--param`` parsing and the notebook API's keyword checks.

Built-ins register with the :func:`algorithm` decorator; third parties either call
``HandlerConfiguration.register(...)`` at run time or ship a package with an entry point in
the group ``dial_visualization.algorithms`` whose object is an :class:`Algorithm` (or an
iterable of them, or a callable returning one).
"""

from __future__ import annotations

import enum
import functools
import math
import logging
import re
import threading
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Iterable, Mapping

from .errors import ParameterError, RegistryError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "dial_visualization.algorithms"
_ID_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
#: The kinds of parameter values.
KINDS = ("int", "float", "choice", "bool", "str", "layer")


class NodeType(str, enum.Enum):
    """What a tree node stands for: a layer's filters, its output, or a class score."""

    KERNEL = "kernel"
    OUTPUT = "output"
    PREDICTION = "prediction"


@dataclass(frozen=True)
class Parameter:
    """One parameter of an algorithm: type ``int``, ``float``, ``choice``, ``bool``, ``str``
    or ``layer``.

    A ``layer`` parameter holds a layer path ("" for the algorithm's automatic choice); it
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
class Algorithm:
    """A registered algorithm.

    ``run(context, target, params, progress, should_stop)`` returns a
    :class:`~dial_visualization.core.result.Result`; ``progress(fraction)`` reports work
    done and ``should_stop()`` is polled between batches. ``channel_reduction`` says, for
    a map over the input, how its per-channel values become one value per pixel (with the
    paper that defines it).

    An algorithm that declares a ``layer`` parameter (a class activation map's layer)
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
        if not _ID_PATTERN.match(self.id):
            raise RegistryError(f"algorithm id {self.id!r} is not kebab-case")
        object.__setattr__(self, "node_types", frozenset(NodeType(t) for t in self.node_types))
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise RegistryError(f"algorithm {self.id!r} declares a parameter twice")
        if self.layer_parameter() is not None and self.node_types != {NodeType.PREDICTION}:
            raise RegistryError(f"algorithm {self.id!r} declares a layer parameter, so it can "
                                "explain prediction nodes only (other nodes have their layer)")

    def layer_parameter(self) -> Parameter | None:
        """The ``layer`` parameter, if the algorithm declares one."""
        return next((p for p in self.parameters if p.kind == "layer"), None)

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


def _on_default_when_called_on_class(method):
    """Let ``HandlerConfiguration.register(...)`` act on the default registry instance."""

    class _Descriptor:
        def __get__(self, instance, owner):
            return functools.partial(method, instance if instance is not None else owner.default())

    return _Descriptor()


class HandlerConfiguration:
    """The registry of algorithms, keyed by id and filtered by node type."""

    _default: HandlerConfiguration | None = None
    _default_lock = threading.Lock()

    def __init__(self):
        self._algorithms: dict[str, Algorithm] = {}
        self._lock = threading.Lock()
        self.plugin_errors: dict[str, str] = {}

    @classmethod
    def default(cls) -> HandlerConfiguration:
        """The process-wide registry, with the built-ins and entry-point plugins loaded."""
        with cls._default_lock:
            if cls._default is None:
                registry = cls()
                from . import methods

                for algorithm in methods.builtin_algorithms():
                    registry.register(algorithm)
                registry.load_entry_points()
                cls._default = registry
        return cls._default

    @_on_default_when_called_on_class
    def register(self, algorithm: Algorithm | None = None, **declaration) -> Callable[[], None]:
        """Add an algorithm; returns a function that removes it again.

        Either pass an :class:`Algorithm`, or its fields as keywords (``id``, ``name``,
        ``node_types``, ``run``, ...).
        """
        if algorithm is None:
            algorithm = Algorithm(**declaration)
        elif declaration:
            raise RegistryError("pass an Algorithm or its fields, not both")
        with self._lock:
            if algorithm.id in self._algorithms:
                raise RegistryError(f"an algorithm with id {algorithm.id!r} is already registered")
            self._algorithms[algorithm.id] = algorithm
        return lambda: self.unregister(algorithm.id)

    @_on_default_when_called_on_class
    def unregister(self, algorithm_id: str) -> None:
        with self._lock:
            self._algorithms.pop(algorithm_id, None)

    @_on_default_when_called_on_class
    def get(self, algorithm_id: str) -> Algorithm:
        try:
            return self._algorithms[algorithm_id]
        except KeyError:
            known = ", ".join(sorted(self._algorithms))
            raise RegistryError(f"unknown method {algorithm_id!r} (known: {known})") from None

    @_on_default_when_called_on_class
    def all(self) -> dict[str, Algorithm]:
        """Every algorithm by id, in registration order."""
        return dict(self._algorithms)

    @_on_default_when_called_on_class
    def for_node_type(self, node_type: NodeType | str) -> list[Algorithm]:
        node_type = NodeType(node_type)
        return [a for a in self._algorithms.values() if node_type in a.node_types]

    def load_entry_points(self, entry_points: Iterable | None = None) -> None:
        """Register the algorithms that installed packages declare; report and skip failures."""
        if entry_points is None:
            entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
        for entry_point in entry_points:
            try:
                for algorithm in _as_algorithms(entry_point.load()):
                    self.register(algorithm)
            except Exception as error:  # a broken plugin must never take the app down
                message = f"{type(error).__name__}: {error}"
                self.plugin_errors[entry_point.name] = message
                log.warning("algorithm plugin %r skipped: %s", entry_point.name, message)


def _as_algorithms(loaded: Any) -> list[Algorithm]:
    if isinstance(loaded, Algorithm):
        return [loaded]
    if callable(loaded):
        return _as_algorithms(loaded())
    algorithms = list(loaded)
    if not all(isinstance(a, Algorithm) for a in algorithms):
        raise RegistryError("an entry point must give an Algorithm or a list of them")
    return algorithms


def algorithm(*, id: str, name: str, node_types: Iterable, description: str = "",
              reference: str = "", parameters: Iterable[Parameter] = (),
              channel_reduction: str = ""):
    """Decorator turning a run function into an :class:`Algorithm` (registered by ``methods``)."""

    def wrap(run: Callable) -> Algorithm:
        return Algorithm(id=id, name=name, node_types=frozenset(node_types), run=run,
                         description=description, reference=reference,
                         parameters=tuple(parameters), channel_reduction=channel_reduction)

    return wrap
